-- `convai campaign run` (issue 12 §4-§6): an amended CSV on the same journal, a parameter change refused
-- by name, the report path checked before the first send and kept current (a killed run leaves a valid
-- one), a dry run that writes nothing, a pace that listens to the vendor's 429s, the achieved rate.
-- Real CLI processes against the sandbox, real files.
local helper = require "helper"
local ch = require "campaign_helper"
local core = require "convai.core"
local redis_helper = require "redis_helper"

local scratch = ch.scratch()
local path, write, read = scratch.path, scratch.write, scratch.read
local triggers = ch.triggers
local shell_quote = ch.shell_quote

local run_args = ch.run_args

-- The CLI with agent A configured at `rates` (CONVAI_VONAGE_RATES; default 60: above every --rate here).
local function cli(args, rates)
  return helper.cli(args, { CONVAI_VONAGE_RATES = "A=" .. (rates or 60) })
end

-- Recipients +44 7700 90000N, N = 1..n, body "Hello N"; the rows in `bad` have an empty body.1.
local function csv_of(n, bad, extra)
  local lines = { "to,body.1" }
  for i = 1, n do
    lines[#lines + 1] = ("+44 7700 9%05d,%s"):format(i, (bad and bad[i]) and "" or ("Hello " .. i))
  end
  for _, l in ipairs(extra or {}) do lines[#lines + 1] = l end
  return table.concat(lines, "\n") .. "\n"
end

local function files()
  local p = io.popen("ls -A " .. shell_quote(scratch.dir))
  local list = {}
  for name in p:lines() do list[#list + 1] = name end
  p:close()
  table.sort(list)
  return list
end

teardown(function() scratch.remove() end)

describe("convai campaign run (issue 12)", function()
  before_each(function()
    helper.reset()
    helper.config { vonage = { agents = { A = { rate = 60 } } } }
  end)

  it("amends: the fixed and added rows are sent once, nobody twice, a row gone is removed", function()
    local j = path("amend.journal")
    local csv = write("amend.csv", csv_of(8, { [3] = true, [6] = true }))
    local code, out, err = cli(run_args(csv, j, { "--rate", "50", "--skip-invalid", "--format", "json" }))
    assert.equal(1, code, err)
    assert.equal(6, helper.decode(out).sent)
    -- Rows 3 and 6 fixed, row 8 gone, a ninth added, row 1 written another way.
    local fixed = csv_of(7, nil, { "+44 7700 900009,Hello 9" }):gsub("%+44 7700 900001,", "0044 7700 900001,")
    write("amend.csv", fixed)
    code, out, err = cli(run_args(csv, j, { "--rate", "50", "--format", "json" }))
    assert.equal(0, code, err)
    local s = helper.decode(out)
    assert.equal(8, s.recipients)
    assert.equal(8, s.sent)
    assert.equal(3, s.sent_now)
    assert.equal(1, s.removed)
    local per = triggers()
    for to, p in pairs(per) do assert.equal(1, p.total, to .. " triggered " .. p.total .. " times") end
    assert.equal(9, #helper.log()) -- 6, then 3: 900003, 900006 and 900009
    assert.equal(1, per["447700900009"].accepted)
    -- The table says which numbers are the campaign's and which this run's.
    code, out = cli(run_args(csv, j, { "--rate", "50" }))
    assert.equal(0, code)
    assert.matches("sent %(campaign%)%s+8", out)
    assert.matches("sent %(this run%)%s+0", out)
    assert.matches("removed%s+1", out)
  end)

  it("refuses another campaign's journal naming the parameter and both values (exit 2, nothing sent)", function()
    local j = path("param.journal")
    local csv = write("param.csv", csv_of(2))
    assert.equal(0, (cli(run_args(csv, j, { "--rate", "50" }))))
    helper.reset()
    local before = read(j)
    local args = run_args(csv, j, { "--rate", "50" })
    for i, a in ipairs(args) do if a == "welcome" then args[i] = "promo" end end
    for _, extra in ipairs { {}, { "--dry-run" } } do
      local a = {}
      for i, v in ipairs(args) do a[i] = v end
      for _, v in ipairs(extra) do a[#a + 1] = v end
      local code, out, err = cli(a)
      assert.equal(2, code, err)
      assert.equal("", out)
      assert.matches("convai: invalid_argument: --template is welcome in the journal but promo now; use the same --template, "
        .. "or another --journal for a new campaign", err, 1, true)
    end
    assert.same({}, helper.log())
    assert.equal(before, read(j))
  end)

  it("checks the report path before the first send: exit 2, nothing sent or written; a dry run the same",
    function()
    local csv = write("rp.csv", csv_of(3))
    write("plainfile", "x")
    for _, case in ipairs {
      { path("no/such/dir/r.json"), "directory " .. path("no/such/dir") .. " does not exist" },
      { path("plainfile/r.csv"), path("plainfile") .. " is not a directory" },
    } do
      for _, extra in ipairs { {}, { "--dry-run" } } do
        local a = { "--rate", "50", "--report", case[1] }
        for _, v in ipairs(extra) do a[#a + 1] = v end
        local code, out, err = cli(run_args(csv, path("rp.journal"), a))
        assert.equal(2, code, err)
        assert.equal("", out)
        assert.matches("cannot write the report " .. case[1] .. ": " .. case[2], err, 1, true)
      end
    end
    assert.same({}, helper.log())
    assert.is_nil(read(path("rp.journal")))
  end)

  it("keeps the report current: a run killed mid-way leaves a valid report of what it did", function()
    helper.config { vonage = { agents = { A = { rate = 5 } } } }
    local csv = write("kill.csv", csv_of(40))
    local cmd = ch.cli_command(run_args(csv, path("kill.journal"), { "--rate", "5", "--report", path("kill.json") }),
      { CONVAI_VONAGE_RATES = "A=5" }, "/dev/null", "/dev/null")
    os.execute(cmd .. " & echo $! >" .. path("pid"))
    local pid = assert(tonumber(read(path("pid"))))
    os.execute("sleep 3.5")
    os.execute("kill -KILL " .. pid)
    local deadline = core.monotonic() + 5
    while os.execute("kill -0 " .. pid .. " 2>/dev/null") and core.monotonic() < deadline do
      os.execute("sleep 0.1")
    end
    local report = helper.decode(assert(read(path("kill.json"))))
    assert(report, "the report is whole JSON")
    assert.equal("running", report.summary.stopped)
    assert.equal(40, #report.recipients)
    local sent = 0
    for _, e in ipairs(report.recipients) do if e.outcome == "sent" then sent = sent + 1 end end
    assert.equal(sent, report.summary.sent)
    -- written at least every 2 s: it holds what was sent up to then (5/s for ~3.5 s: at least 5)
    assert.is_true(sent >= 5 and sent <= #helper.log(), "sent in the report: " .. sent)
  end)

  it("a journal on a full disk (12 KiB): the run stops with journal_error, and a recipient whose request "
    .. "left is sent or unknown in its summary and report, never pending", function()
    local dir = path("full")
    os.execute("mkdir -p " .. dir)
    if not os.execute("mount -t tmpfs -o size=12k tmpfs " .. dir .. " 2>/dev/null") then
      pending("cannot mount a 12 KiB tmpfs here (needs root)")
      return
    end
    finally(function() os.execute("umount " .. dir) end)
    local csv = write("full.csv", csv_of(300))
    local code, out, err = cli(run_args(csv, dir .. "/c.journal", { "--rate", "50", "--format", "json",
      "--report", path("full.json") }))
    assert.equal(1, code, err)
    local s = helper.decode(out)
    assert.equal("journal_error", s.stopped)
    local rep = helper.decode(assert(read(path("full.json"))))
    local per, left, counts = triggers(), 0, {}
    for _, e in ipairs(rep.recipients) do
      counts[e.outcome] = (counts[e.outcome] or 0) + 1
      if per[e.to] then
        assert.is_true(e.outcome == "sent" or e.outcome == "unknown", e.to .. " was triggered but is " .. e.outcome)
        left = left + 1
      else
        assert.equal("pending", e.outcome)
      end
    end
    assert.is_true(left > 0 and left < 300, "triggered: " .. left)
    assert.equal(counts.unknown or 0, s.unknown)
    assert.equal(counts.pending or 0, s.pending)
  end)

  it("dry run writes nothing (no report, no journal), prints each body with --verbose, exits as the real "
    .. "run on a bad journal path", function()
    local csv = write("dry.csv", csv_of(2))
    local before = files()
    local code, out, err = cli(run_args(csv, path("dry.journal"), { "--dry-run", "--verbose", "--report",
      path("dry.json") }))
    assert.equal(0, code, err)
    assert.matches("would send%s+2", out)
    assert.same(before, files())
    assert.matches('convai: dry run: line 2 (447700900001) would send {', err, 1, true)
    assert.matches('"to":"447700900001"', err, 1, true)
    assert.matches('"template":"welcome"', err, 1, true)
    assert.is_nil(err:find(os.getenv("CONVAI_VONAGE_KEY") or "\0", 1, true))
    assert.same({}, helper.log())
    local bad = path("missing/dir/x.journal")
    local real_code, _, real_err = cli(run_args(csv, bad, {}))
    code, _, err = cli(run_args(csv, bad, { "--dry-run" }))
    assert.equal(2, real_code)
    assert.equal(real_code, code)
    assert.matches("missing/dir", err, 1, true)
    assert.matches("missing/dir", real_err, 1, true)
    assert.same({}, helper.log())
  end)

  it("a --rate above what the vendor accepts: the pace comes down (AIMD) with one warning", function()
    -- Configured at 5 (CONVAI_VONAGE_RATES), but the vendor (the sandbox) accepts 1 per second.
    helper.config { vonage = { agents = { A = { rate = 1 } } } }
    local n = 8
    local csv = write("pace.csv", csv_of(n))
    local code, out, err = cli(run_args(csv, path("pace.journal"), { "--rate", "5", "--format", "json" }), 5)
    assert.equal(0, code, err)
    local s = helper.decode(out)
    assert.equal(n, s.sent)
    local est, suggest = err:match("convai: agent A accepted about (%d+%.%d)/s; %-%-rate 5 is above its limit "
      .. "%(ask the vendor to raise it, or use %-%-rate ([%d.]+)%)")
    assert(est, err)
    assert.is_true(tonumber(est) >= 0.5 and tonumber(est) <= 1.5, est)
    assert.is_true(tonumber(suggest) >= 0.5 and tonumber(suggest) <= 1.5, suggest)
    local _, warnings = err:gsub("accepted about", "")
    assert.equal(1, warnings)
    assert.is_true(s.pace < 5, "pace " .. tostring(s.pace))
    -- Without listening, 8 recipients at 5/s on a 1/s vendor meet about 4 429s each; lowered, far fewer.
    assert.is_true(s.throttled < 2 * n, s.throttled .. " 429s")
    for to, p in pairs(triggers()) do assert.equal(1, p.accepted, to) end
  end)

  it("reports the achieved rate as (k - 1) / (t_last - t_first) over this run's accepted sends", function()
    helper.config { vonage = { agents = { A = { rate = 1 } } } }
    local csv = write("rate.csv", csv_of(3))
    local code, out, err = cli(run_args(csv, path("rate.journal"), { "--format", "json" }), 1)
    assert.equal(0, code, err)
    local s = helper.decode(out)
    -- 3 sends at 1/s (2 % margin): 2 intervals between the first and the last, about 0.98 per second (the
    -- sent / elapsed of before would say about 1.5 for this short run)
    assert.is_true(s.rate > 0.9 and s.rate <= 1.0, "rate " .. s.rate)
    -- One more recipient, resumed: this run's rate is of its own sends (one: 0), the totals the campaign's.
    write("rate.csv", csv_of(4))
    code, out = cli(run_args(csv, path("rate.journal"), {}), 1)
    assert.equal(0, code)
    assert.matches("sent %(campaign%)%s+4", out)
    assert.matches("sent %(this run%)%s+1", out)
    assert.matches("rate %(this run%)%s+0%.00 per second", out)
  end)
end)

describe("convai campaign run --store redis:// (issue 12 §4)", function()
  if not redis_helper.available() then
    it("needs redis-server", function() pending("redis-server is not installed") end)
    return
  end
  local r
  lazy_setup(function() r = redis_helper.start {} end)
  lazy_teardown(function() if r then r.stop() end end)

  it("amends a Redis campaign too (its key is the parameters' digest): the fixed row sent, a row gone removed",
    function()
    local agent = "amend-" .. os.time() .. "-" .. math.random(1000, 9999)
    helper.reset()
    helper.config { vonage = { agents = { [agent] = { rate = 50 } } } }
    local env = { CONVAI_VONAGE_RATES = agent .. "=50" }
    local csv = write("redis-amend.csv", csv_of(4, { [2] = true }))
    local code, out, err = helper.cli(ch.campaign_args(csv, "--store", r.url, agent, { "--skip-invalid" }), env)
    assert.equal(1, code, err)
    assert.equal(3, helper.decode(out).sent)
    write("redis-amend.csv", csv_of(3))
    code, out, err = helper.cli(ch.campaign_args(csv, "--store", r.url, agent), env)
    assert.equal(0, code, err)
    local s = helper.decode(out)
    assert.equal(3, s.sent)
    assert.equal(1, s.sent_now)
    assert.equal(1, s.removed)
    for to, p in pairs(ch.triggers(helper.agent_log(agent, 4, 5))) do assert.equal(1, p.total, to) end
  end)
end)
