-- `convai campaign run` (issue 3): flags, exit status, resume, and crash safety under SIGKILL.
local helper = require "helper"
local ch = require "campaign_helper"
local core = require "convai.core"


local scratch = ch.scratch()
local path, write, read = scratch.path, scratch.write, scratch.read

local numbers_csv = ch.numbers_csv

local run_args = ch.run_args

local triggers = ch.triggers

-- Agent A's rate as the client is told (CONVAI_VONAGE_RATES): above every --rate here, so that --rate (which
-- may only lower it) sets the pace, as the sandbox's rate for A in each test does.
local RATES = "A=60"

-- Run the CLI with the rates above (and `env`).
local function cli(args, env)
  local e = { CONVAI_VONAGE_RATES = RATES }
  for k, v in pairs(env or {}) do e[k] = v end
  return helper.cli(args, e)
end

local shell_quote = ch.shell_quote

-- Start the CLI in the background; returns its pid.
local function spawn(args)
  local quoted = {}
  for i, a in ipairs(args) do quoted[i] = shell_quote(a) end
  local pidfile = path("pid")
  os.execute(("CONVAI_VONAGE_RATES=%s lua5.4 bin/convai %s >%s 2>&1 </dev/null & echo $! >%s"):format(RATES,
    table.concat(quoted, " "),
    path("bg.out"), pidfile))
  return assert(tonumber(read(pidfile)))
end

describe("convai campaign run", function()
  before_each(helper.reset)
  teardown(function() scratch.remove() end)

  it("runs a campaign, prints the summary and writes the report", function()
    helper.config { vonage = { agents = { A = { rate = 20 } } } }
    local csv = write("a.csv", numbers_csv(5))
    local code, out, err = cli(run_args(csv, path("a.journal"), { "--rate", "20", "--report",
      path("a.csv.report.json"), "--format", "json" }))
    assert.equal(0, code, err)
    local summary = helper.decode(out)
    assert.equal(5, summary.sent)
    assert.equal(0, summary.throttled)
    assert.equal("done", summary.stopped)
    assert.equal("", err) -- no progress line when stderr is not a terminal
    local report = helper.decode(read(path("a.csv.report.json")))
    assert.equal(5, #report.recipients)
    -- Same command again: resumes, sends nothing.
    code, out = cli(run_args(csv, path("a.journal"), { "--rate", "20" }))
    assert.equal(0, code)
    assert.matches("sent %(campaign%)%s+5", out)
    assert.equal(5, #helper.log())
  end)

  it("refuses a file with invalid rows (exit 2, each line on stderr) unless --skip-invalid", function()
    local csv = write("b.csv", "to,body.1\n+447700900001,ok\n123,bad\n+447700900002,\n")
    local code, out, err = cli(run_args(csv, path("b.journal"), { "--rate", "5" }))
    assert.equal(2, code)
    assert.equal("", out)
    assert.matches("recipients line 3: to: phone number must have 8 to 15 digits", err, 1, true)
    assert.matches("recipients line 4: body.1 is empty", err, 1, true)
    assert.matches("2 invalid rows in .*nothing was sent", err)
    assert.same({}, helper.log())
    assert.is_nil(read(path("b.journal")))
    code, out, err = cli(run_args(csv, path("b.journal"), { "--rate", "5", "--skip-invalid" }))
    assert.equal(1, code)
    assert.matches("recipients line 3: to: ", err)
    assert.matches("invalid%s+2", out)
    assert.equal(1, #helper.log())
  end)

  it("refuses bad flags and files with exit 2, sending and writing nothing", function()
    local csv = write("c.csv", numbers_csv(2))
    local j = path("c.journal")
    local cases = {
      { { "--rate", "0" }, "--rate must be a positive number" },
      { { "--rate", "fast" }, "--rate must be a positive number" },
      { { "--gate-voicebot-agent", "x" }, "--gate-voicebot-agent must be a positive integer" },
      { { "--report", path("r.txt") }, "--report must name a .csv or .json file" },
      { { "--channel", "fax" }, "must be one of 'whatsapp', 'sms', 'voice'" },
    }
    for _, c in ipairs(cases) do
      local code, _, err = cli(run_args(csv, j, c[1]))
      assert.equal(2, code, err)
      assert.matches(c[2], err, 1, true)
    end
    local code, _, err = helper.cli { "campaign", "run", csv, "--journal", j, "--channel", "sms",
      "--agent-id", "A" }
    assert.equal(2, code)
    assert.matches("--status-url is required for vonage sms campaigns", err, 1, true)
    code, _, err = cli(run_args(path("missing.csv"), j))
    assert.equal(2, code)
    assert.matches("cannot read the recipients file", err)
    code, _, err = cli(run_args(write("d.csv", "to,colour\n1,red\n"), j))
    assert.equal(2, code)
    assert.matches('line 1: unknown column "colour"', err)
    code, _, err = cli(run_args(csv, j, { "--template", "other" }), { CONVAI_VONAGE_KEY = false })
    assert.equal(2, code)
    assert.matches("CONVAI_VONAGE_KEY", err)
    assert.same({}, helper.log())
    assert.is_nil(read(j))
  end)

  it("draws a progress line on stderr when it is a terminal", function()
    helper.config { vonage = { agents = { A = { rate = 20 } } } }
    local csv = write("t.csv", numbers_csv(10))
    local quoted = {}
    for i, a in ipairs(run_args(csv, path("t.journal"), { "--rate", "20" })) do quoted[i] = shell_quote(a) end
    -- script(1) runs the command on a pseudo-terminal; stdout goes to a file so only stderr is the tty.
    local cmd = ("CONVAI_VONAGE_RATES=%s lua5.4 bin/convai %s >%s"):format(RATES, table.concat(quoted, " "),
      path("t.out"))
    os.execute(("script -qec %s %s >/dev/null 2>&1 </dev/null"):format(shell_quote(cmd), path("t.tty")))
    local tty = read(path("t.tty"))
    assert.matches("\r\27%[K%d+/10 done  sent %d+", tty)
    assert.matches("10/10 done  sent 10  failed 0", tty)
    assert.matches("sent %(campaign%)%s+10", read(path("t.out")))
  end)

  it("dry run sends and writes nothing", function()
    local csv = write("e.csv", numbers_csv(3))
    local code, out = cli(run_args(csv, path("e.journal"), { "--dry-run" }))
    assert.equal(0, code)
    assert.matches("would send%s+3", out)
    assert.same({}, helper.log())
    assert.is_nil(read(path("e.journal")))
  end)

  it("stops cleanly on SIGINT after in-flight requests, with a consistent journal", function()
    helper.config { latency_ms = 300, vonage = { agents = { A = { rate = 5 } } } }
    local csv = write("f.csv", numbers_csv(40))
    local j = path("f.journal")
    local pid = spawn(run_args(csv, j, { "--rate", "5" }))
    os.execute("sleep 1.5")
    os.execute("kill -INT " .. pid)
    local deadline = core.monotonic() + 10
    while os.execute("kill -0 " .. pid .. " 2>/dev/null") and core.monotonic() < deadline do
      os.execute("sleep 0.1")
    end
    local out = read(path("bg.out"))
    assert.matches("stopped%s+interrupted", out)
    local state = {}
    for line in read(j):gmatch("[^\n]+") do
      local rec = helper.decode(line)
      if rec.r then state[rec.to] = rec.r end
    end
    local sent = 0
    for _, r in pairs(state) do
      assert.are_not.equal("pending", r) -- every request that left has its outcome
      if r == "sent" then sent = sent + 1 end
    end
    assert.is_true(sent > 0 and sent < 40)
    assert.equal(sent, #helper.log())
  end)

  it("survives SIGKILL at 10 random moments: every recipient ends once, nobody is messaged twice", function()
    helper.config { latency_ms = 20, vonage = { agents = { A = { rate = 60 } } } }
    local n = 200
    local csv = write("g.csv", numbers_csv(n))
    local j = path("g.journal")
    math.randomseed(os.time())
    for _ = 1, 10 do
      local pid = spawn(run_args(csv, j, { "--rate", "60" }))
      os.execute(("sleep %.2f"):format(0.25 + math.random() * 0.6))
      os.execute("kill -KILL " .. pid .. " 2>/dev/null")
      os.execute("sleep 0.05")
    end
    local code, out, err = cli(run_args(csv, j, { "--rate", "60" }))
    assert.is_true(code == 0 or code == 1, err)
    -- The journal: per number, nothing after a final record, and a final record for everyone.
    local final = {}
    local text = read(j)
    for line in text:gmatch("[^\n]*\n?") do
      if line ~= "" then
        local rec = helper.decode(line)
        assert(rec, "a whole JSON record per line")
        if rec.r then
          assert.is_nil(final[rec.to], "a record after the final one for " .. tostring(rec.to))
          if rec.r == "sent" or rec.r == "failed" or rec.r == "unknown" then final[rec.to] = rec.r end

        end
      end
    end
    local per = triggers()
    local counts = { sent = 0, unknown = 0, failed = 0 }
    for i = 1, n do
      local to = ("4477009%05d"):format(i)
      local f = final[to]
      assert(f, "no outcome for " .. to)
      counts[f] = counts[f] + 1
      local p = per[to] or { total = 0, accepted = 0 }
      assert.is_true(p.total <= 1, to .. " was triggered " .. p.total .. " times")
      if f == "sent" then assert.equal(1, p.accepted) end
    end
    assert.equal(n, counts.sent + counts.unknown + counts.failed)
    assert.matches("sent %(campaign%)%s+" .. counts.sent, out)
  end)
end)
