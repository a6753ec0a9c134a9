-- Limits across processes (issue 11): `convai campaign run` and `convai trigger whatsapp` started at once on
-- one agent take their slots from the host store (the default), so that together they never exceed the
-- agent's rate at the sandbox's strict per-agent window; `--limits` and CONVAI_LIMITS choose the store,
-- CONVAI_VONAGE_RATES the agent's rate, and a campaign's --rate may only lower it.
local helper = require "helper"
local ch = require "campaign_helper"
local core = require "convai.core"
local config = require "convai.config"
local host = require "convai.limit.host"

local scratch = ch.scratch()
local path, write, read = scratch.path, scratch.write, scratch.read

local command = ch.cli_command

local function campaign_args(csv, journal, agent, extra)
  return ch.campaign_args(csv, "--journal", journal, agent, extra)
end

local function trigger_args(agent, to, extra)
  local args = { "trigger", "whatsapp", "--agent-id", agent, "--namespace", "ns", "--template", "welcome",
    "--locale", "en_US", "--to", to, "--status-url", "https://example.com/status" }
  for _, a in ipairs(extra or {}) do args[#args + 1] = a end
  return args
end

local function recipients(k, n) return ch.campaign_csv(k, n) end

local agent_log = helper.agent_log

local run_id = tostring(os.time()) .. tostring(math.random(1000, 9999))

describe("limits across processes", function()
  before_each(helper.reset)
  teardown(function() scratch.remove() end)

  it("three campaigns and a trigger started at once on one agent: no 429, every recipient sent once", function()
    local agent, rate, n = "lim3-" .. run_id, 5, 8
    helper.config { vonage = { agents = { [agent] = { rate = rate } } } }
    local env = { CONVAI_VONAGE_RATES = agent .. "=" .. rate }
    local jobs = {}
    for k = 1, 3 do
      local csv = write("c" .. k .. ".csv", recipients(k, n))
      jobs[#jobs + 1] = "(" .. command(campaign_args(csv, path("c" .. k .. ".journal"), agent), env,
        path("c" .. k .. ".out"), path("c" .. k .. ".err")) .. "; echo $? >" .. path("c" .. k .. ".code") .. ") &"
    end
    jobs[#jobs + 1] = "(sleep 1; " .. command(trigger_args(agent, "+44 7700 940001"), env, path("t.out"),
      path("t.err")) .. "; echo $? >" .. path("t.code") .. ") &"
    local t0 = core.monotonic()
    assert(os.execute(table.concat(jobs, " ") .. " wait"))
    local elapsed = core.monotonic() - t0
    local throttled = 0
    for k = 1, 3 do
      assert.equal("0", read(path("c" .. k .. ".code")):match("%d+"), read(path("c" .. k .. ".err")))
      local s = helper.decode(read(path("c" .. k .. ".out")))
      assert.equal(n, s.sent)
      throttled = throttled + s.throttled
    end
    assert.equal("0", read(path("t.code")):match("%d+"), read(path("t.err")))
    local total = 3 * n + 1
    local log = agent_log(agent, total)
    local per = {}
    for _, e in ipairs(log) do
      local to = helper.decode(e.body).to
      per[to] = per[to] or { total = 0, accepted = 0 }
      per[to].total = per[to].total + 1
      if e.status == 200 then per[to].accepted = per[to].accepted + 1 end
    end
    local numbers = 0
    for to, p in pairs(per) do
      numbers = numbers + 1
      assert.equal(1, p.accepted, to .. " accepted once")
    end
    assert.equal(total, numbers)
    if helper.slow then
      -- Under ASan or valgrind a process may stall between its slot and its request: a 429 may happen,
      -- and is retried; what must hold is that nobody got two.
      return
    end
    assert.equal(0, throttled, "429s seen by the campaigns")
    assert.equal(total, #log, "one request per recipient: no 429")
    -- together at the agent's rate: 25 slots a fifth of a second apart
    assert.is_true(elapsed >= (total - 1) / rate, "faster than the agent's rate: " .. elapsed)
    local first, last = math.huge, -math.huge
    for _, e in ipairs(log) do first, last = math.min(first, e.time), math.max(last, e.time) end
    local achieved = (total - 1) / (last - first)
    assert.is_true(achieved >= 0.85 * rate and achieved <= rate, ("achieved %.3f/s"):format(achieved))
  end)

  it("lowers a campaign's --rate above the agent's rate to it, saying so on stderr", function()
    local agent = "lowered-" .. run_id
    helper.config { vonage = { agents = { [agent] = { rate = 2 } } } }
    local csv = write("low.csv", recipients(5, 4))
    local code, out, err = helper.cli(campaign_args(csv, path("low.journal"), agent, { "--rate", "5" }),
      { CONVAI_VONAGE_RATES = "other=5, " .. agent .. " = 2" })
    assert.equal(0, code, err)
    assert.matches("convai: --rate 5 is above agent " .. agent .. "'s rate (2 per second: "
      .. "CONVAI_VONAGE_RATES, else 1); sending at 2 per second", err, 1, true)
    local s = helper.decode(out)
    assert.equal(4, s.sent)
    assert.equal(0, s.throttled)
    assert.is_true(s.elapsed >= 1.5, "4 sessions at 2/s: " .. s.elapsed)
    -- a --rate under it is used as it is, silently
    code, out, err = helper.cli(campaign_args(write("low2.csv", recipients(6, 2)), path("low2.journal"), agent,
      { "--rate", "1" }), { CONVAI_VONAGE_RATES = agent .. "=2" })
    assert.equal(0, code, err)
    assert.equal("", err)
    assert.is_true(helper.decode(out).elapsed >= 1, "2 sessions at 1/s")
  end)

  it("keeps the slots in the host store's files unless --limits or CONVAI_LIMITS says process", function()
    local dir = assert(config.limits_dir())
    local function file_of(agent) return read(dir .. "/" .. host.file_name(agent)) end
    local a, b, c = "store-a-" .. run_id, "store-b-" .. run_id, "store-c-" .. run_id
    local code, _, err = helper.cli(trigger_args(a, "+44 7700 950001"))
    assert.equal(0, code, err)
    assert.matches("^tat=%d+%.%d+ written=", file_of(a))
    code, _, err = helper.cli(trigger_args(b, "+44 7700 950002", { "--limits", "process" }))
    assert.equal(0, code, err)
    assert.is_nil(file_of(b))
    code, _, err = helper.cli(trigger_args(c, "+44 7700 950003"), { CONVAI_LIMITS = "process" })
    assert.equal(0, code, err)
    assert.is_nil(file_of(c))
    -- --limits wins over CONVAI_LIMITS
    code, _, err = helper.cli(trigger_args(c, "+44 7700 950004", { "--limits", "host" }), { CONVAI_LIMITS = "process" })
    assert.equal(0, code, err)
    assert.is_truthy(file_of(c))
    code, _, err = helper.cli(campaign_args(write("p.csv", recipients(7, 2)), path("p.journal"), b,
      { "--limits", "process" }))
    assert.equal(0, code, err)
    assert.is_nil(file_of(b))
  end)
end)
