-- One campaign, many workers (issue 11 §3, §4, §5): `convai campaign run CSV --store redis://...` run as
-- several CLI processes on a Redis server of the test's own (tests/redis_helper.lua), against the
-- sandbox's strict per-agent window. Each recipient is accepted at most once even when a worker is
-- SIGKILLed mid-send (its claims become unknown); Redis stopped for 5 s mid-campaign holds every send
-- and the campaign then finishes; a Redis that never comes back stops the run after --store-timeout with
-- the rest pending; a bad --store is refused before anything is sent.
local helper = require "helper"
local ch = require "campaign_helper"
local core = require "convai.core"
local redis_helper = require "redis_helper"

local scratch = ch.scratch()
local path, write, read = scratch.path, scratch.write, scratch.read

local PASSWORD = "St0re-convai-cli-secret-7d2e"

local shell_quote = ch.shell_quote
local command = ch.cli_command
local recipients = ch.campaign_csv

local function campaign_args(csv, store, agent, extra)
  return ch.campaign_args(csv, "--store", store, agent, extra)
end

-- Start a worker in the background: the pid of its CLI process (`env` execs it); its exit status goes
-- to NAME.code (none when it is killed).
local function start(name, args, env)
  local cmd = command(args, env, path(name .. ".out"), path(name .. ".err"))
  assert(os.execute(("sh -c %s >/dev/null 2>&1 &"):format(shell_quote(cmd .. " & echo $! >" .. path(name .. ".pid")
    .. "; wait $!; echo $? >" .. path(name .. ".code")))))
  local deadline = core.monotonic() + 5
  local pid
  repeat
    pid = tonumber((read(path(name .. ".pid")) or ""):match("%d+"))
    if not pid then core.sleep(0.01) end
  until pid or core.monotonic() > deadline
  return assert(pid, "worker " .. name .. " did not start")
end

local function wait_code(name, timeout)
  local deadline = core.monotonic() + timeout
  repeat
    local c = read(path(name .. ".code"))
    if c and c:match("%d+") then return tonumber(c:match("%d+")) end
    core.sleep(0.05)
  until core.monotonic() > deadline
  error("worker " .. name .. " did not finish in " .. timeout .. " s: " .. tostring(read(path(name .. ".err"))))
end

-- Per number: `{total = n, accepted = n}`, from the sandbox's log of the agent.
local function per_number(agent, n, timeout)
  return ch.triggers(helper.agent_log(agent, n, timeout))
end

local function hides(text, what)
  assert.is_nil(tostring(text):find(PASSWORD, 1, true), what .. " shows the password")
end

local run_id = tostring(os.time()) .. tostring(math.random(1000, 9999))

-- A campaign of `n` recipients (CSV NAME.csv) on a new agent at `rate` in the sandbox and in
-- CONVAI_VONAGE_RATES, its limit on Redis: the agent, the environment and the CSV's path.
local function new_campaign(name, k, n, rate, url)
  local agent = name .. "-" .. run_id
  helper.config { vonage = { agents = { [agent] = { rate = rate } } } }
  return agent, { CONVAI_VONAGE_RATES = agent .. "=" .. rate, CONVAI_LIMITS = url },
    write(name .. ".csv", recipients(k, n))
end

describe("convai campaign run --store redis://", function()
  if not redis_helper.available() then
    it("needs redis-server", function() pending("redis-server is not installed") end)
    return
  end

  local r
  lazy_setup(function() r = redis_helper.start { password = PASSWORD, appendonly = true } end)
  lazy_teardown(function()
    if r then r.stop() end
    scratch.remove()
  end)
  before_each(helper.reset)

  it("three workers, one SIGKILLed twice: nobody accepted twice, all 300 accounted", function()
    local rate, n = 20, 300
    local agent, env, csv = new_campaign("workers", 1, n, rate, r.url)
    local args = campaign_args(csv, r.url, agent)
    -- Kill a worker mid-send: once the agent has accepted `after` triggers in all, and only while it
    -- runs (a worker that had already ended would make this test prove nothing: say why it ended).
    local function kill_mid_send(name, pid, after)
      helper.agent_log(agent, after, 20)
      assert.is_nil(read(path(name .. ".code")), name .. " ended before it could be killed: "
        .. tostring(read(path(name .. ".err"))))
      os.execute("kill -KILL " .. pid)
    end
    start("w1", args, env)
    start("w2", args, env)
    kill_mid_send("w3", start("w3", args, env), 40)
    local w4 = start("w4", args, env) -- the killed worker started again
    kill_mid_send("w4", w4, 100)
    for _, name in ipairs { "w3", "w4" } do
      local deadline = core.monotonic() + 5
      while not read(path(name .. ".code")) and core.monotonic() < deadline do core.sleep(0.05) end
      assert.equal("137", (read(path(name .. ".code")) or ""):match("%d+"), name .. " was killed: "
        .. tostring(read(path(name .. ".err"))))
    end
    for _, name in ipairs { "w1", "w2" } do
      local code = wait_code(name, 90)
      assert.is_true(code == 0 or code == 1, name .. " exit " .. code .. ": " .. read(path(name .. ".err")))
      hides(read(path(name .. ".err")), name .. "'s stderr")
    end
    -- no number accepted twice
    local per = per_number(agent, n, 5)
    local accepted = 0
    for to, p in pairs(per) do
      assert.is_true(p.accepted <= 1, to .. " accepted " .. p.accepted .. " times")
      accepted = accepted + p.accepted
    end
    -- a later run of the same command resumes the campaign and reports all of it
    local code, out, err = helper.cli(campaign_args(csv, r.url, agent, { "--report", path("w.json") }), env)
    assert.is_true(code == 0 or code == 1, err)
    local s = helper.decode(out)
    assert.equal(n, s.recipients)
    assert.equal(n, s.sent + s.unknown, out)
    assert.equal(0, s.pending)
    assert.equal(0, s.sent_now, "nothing left to send")
    assert.is_true(s.unknown <= 2 * 4 * rate, "unknown: at most the killed workers' requests in flight")
    assert.is_true(s.sent >= accepted - s.unknown and s.sent <= accepted, ("sent %d accepted %d unknown %d")
      :format(s.sent, accepted, s.unknown))
    local rep = helper.decode(read(path("w.json")))
    local outcomes = {}
    for _, e in ipairs(rep.recipients) do outcomes[e.outcome] = (outcomes[e.outcome] or 0) + 1 end
    assert.equal(n, (outcomes.sent or 0) + (outcomes.unknown or 0))
  end)

  it("holds every send while Redis is down for 5 s, then finishes the campaign without duplicates",
    function()
      local n = 160
      local agent, env, csv = new_campaign("outage", 2, n, 20, r.url)
      local args = campaign_args(csv, r.url, agent)
      start("o1", args, env)
      start("o2", args, env)
      core.sleep(2)
      r.halt()
      local down = core.realtime()
      core.sleep(5)
      local up = core.realtime()
      r.restart() -- appendonly (appendfsync always): the campaign's state survives
      for _, name in ipairs { "o1", "o2" } do
        local code = wait_code(name, 90)
        local err = read(path(name .. ".err"))
        assert.equal(0, code, err .. read(path(name .. ".out")))
        hides(err, name .. "'s stderr")
      end
      local said = read(path("o1.err")) .. read(path("o2.err"))
      assert.matches("retrying in", said, 1, true)
      local log = helper.agent_log(agent, n, 5)
      local during = 0
      for _, e in ipairs(log) do
        -- a request claimed just before the stop may arrive a moment after it
        if e.time > down + 0.5 and e.time < up then during = during + 1 end
      end
      local numbers = 0
      for to, p in pairs(ch.triggers(log)) do
        numbers = numbers + 1
        assert.equal(1, p.accepted, to .. " accepted " .. p.accepted .. " times")
      end
      assert.equal(n, numbers)
      assert.equal(0, during, "requests sent while Redis was down")
    end)

  it("stops after --store-timeout when Redis never comes back, the rest pending", function()
    local n = 100
    local agent, env, csv = new_campaign("gone", 3, n, 20, r.url)
    start("g1", campaign_args(csv, r.url, agent, { "--store-timeout", "2" }), env)
    core.sleep(1.5)
    r.halt()
    local t0 = core.monotonic()
    local code = wait_code("g1", 30)
    local waited = core.monotonic() - t0
    r.restart()
    local err = read(path("g1.err"))
    assert.equal(1, code, err)
    assert.is_true(waited >= 2 and waited < 10, "stopped after " .. waited .. " s")
    assert.matches("retrying in", err, 1, true)
    assert.matches("giving up after 2 s", err, 1, true)
    hides(err, "stderr")
    local s = helper.decode(read(path("g1.out")))
    assert.equal("store_error", s.stopped)
    assert.is_true(s.pending > 0, "the rest pending")
    assert.is_true(s.sent < n)
  end)

  it("reports a --store campaign, found by its parameters; other parameters are refused", function()
    local agent, env, csv = new_campaign("rep", 5, 3, 20, r.url)
    local code, _, err = helper.cli(campaign_args(csv, r.url, agent), env)
    assert.equal(0, code, err)
    local function report(extra)
      local args = { "campaign", "report", "--store", r.url, "--agent-id", agent, "--namespace", "ns",
        "--locale", "en_US", "--statuses", path("none.jsonl"), "--format", "json" }
      for _, a in ipairs(extra) do args[#args + 1] = a end
      return helper.cli(args, env)
    end
    local out
    code, out, err = report { "--template", "welcome" }
    assert.equal(0, code, err)
    local rep = helper.decode(out)
    assert.equal(3, rep.summary.sent)
    assert.equal(3, #rep.recipients)
    assert.equal("447700950001", rep.recipients[1].to)
    assert.is_string(rep.recipients[1].vendor_id)
    assert.equal(3, rep.summary.no_status)
    code, out, err = report { "--template", "other" }
    assert.equal(2, code)
    assert.equal("", out)
    assert.matches("no campaign with these parameters in the redis:// store", err, 1, true)
    hides(err, "the error")
    code, _, err = report { "--template", "welcome", "--journal", path("x.journal") }
    assert.equal(2, code)
    assert.matches("exactly one of --journal FILE and --store URL", err, 1, true)
    code, _, err = helper.cli { "campaign", "reconcile", "--journal", r.url }
    assert.equal(2, code)
    assert.matches("reconcile writes a journal file", err, 1, true)
    hides(err, "the error")
  end)

  it("refuses a bad --store before sending anything: exit 2, the setting named, no password", function()
    local agent = "bad-" .. run_id
    local csv = write("b.csv", recipients(4, 3))
    local base = { CONVAI_LIMITS = "process" }
    local cases = {
      { ("redis://:%s@127.0.0.1:99999/0"):format(PASSWORD), "--store" },
      { ("memcached://:%s@127.0.0.1/0"):format(PASSWORD), "unknown journal store scheme memcached://" },
      { ("redis://:wrong-%s@127.0.0.1:%d/0"):format(PASSWORD, r.port), "--store" },
      { ("redis://:%s@127.0.0.1:1/0"):format(PASSWORD), "--store" },
      { "not a url", "--store must be a URL" },
    }
    for _, c in ipairs(cases) do
      local code, _, err = helper.cli(campaign_args(csv, c[1], agent), base)
      assert.equal(2, code, c[1]:gsub(PASSWORD, "***") .. ": " .. err)
      assert.matches(c[2], err, 1, true)
      hides(err, "the error")
    end
    local code, _, err = helper.cli(campaign_args(csv, r.url, agent, { "--journal", path("b.journal") }),
      base)
    assert.equal(2, code)
    assert.matches("exactly one of --journal FILE", err, 1, true)
    assert.equal(0, #helper.agent_log(agent, 1, 0.2), "nothing sent")
  end)
end)
