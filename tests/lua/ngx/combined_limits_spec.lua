-- Limits across processes and nginx on one Redis (issue 11 §5): three `convai campaign run` processes on
-- one agent with `--limits redis://…`, each with a HOME and XDG_STATE_HOME of its own (so that no host
-- store is shared: only Redis can coordinate them), and a 4-worker nginx whose paced triggers
-- (`convai.ngx.limiter{store = "redis://…"}` wrapping a Vonage client, tests/nginx/convai_test_app.lua)
-- go to the same agent at the same time, against the sandbox's strict per-agent window.
local helper = require "helper"
local ch = require "campaign_helper"
local app = require "nginx.app_server"
local redis_helper = require "redis_helper"

local shell_quote = ch.shell_quote

-- The CLI with `env`, its outputs to the files `out` and `err`, its exit status to the file `code`.
local function command(args, env, out, err, code)
  return ("(%s; echo $? >%s)"):format(ch.cli_command(args, env, out, err), code)
end

-- Recipients +44 7700 98KNNN (K the campaign) as CSV.
local function recipients(k, n) return ch.numbers_csv(n, nil, 80000 + k * 1000) end

describe("one agent's limit held on Redis by CLI campaigns and an nginx together", function()
  if not (app.available() and redis_helper.available()) then
    it("needs nginx with ngx_lua, the LuaJIT core and redis-server", function()
      pending("missing: nginx, ngx_lua, build/luajit/convai/core.so or redis-server")
    end)
    return
  end

  local redis, four
  local scratch = ch.scratch()
  local path, write, read = scratch.path, scratch.write, scratch.read
  lazy_setup(function()
    helper.reset()
    redis = redis_helper.start {}
    four = app.start(4, redis.url .. "/0")
  end)
  lazy_teardown(function()
    if four then four.stop() end
    if redis then redis.stop() end
    scratch.remove()
  end)
  before_each(helper.reset)

  it("3 campaigns (each its own HOME) and 4 nginx workers on one agent: no 429, all once, ≥ 0.95 of its rate",
    function()
      local agent, rate, n, per_worker = "T", 5, 8, 4
      helper.config { vonage = { agents = { [agent] = { rate = rate } } } }
      local jobs = {}
      for k = 1, 3 do
        local home = path("home" .. k)
        assert(os.execute("mkdir -p " .. shell_quote(home .. "/state")))
        local env = { HOME = home, XDG_STATE_HOME = home .. "/state", CONVAI_VONAGE_RATES = agent .. "=" .. rate }
        local args = { "campaign", "run", write("c" .. k .. ".csv", recipients(k, n)), "--journal",
          path("c" .. k .. ".journal"), "--agent-id", agent, "--namespace", "ns", "--template", "welcome",
          "--locale", "en_US", "--status-url", "https://example.com/status", "--format", "json",
          "--limits", redis.url }
        jobs[#jobs + 1] = command(args, env, path("c" .. k .. ".out"), path("c" .. k .. ".err"),
          path("c" .. k .. ".code")) .. " &"
      end
      -- the campaigns start in the background; the nginx burst at the same moment
      local campaigns = assert(io.popen(table.concat(jobs, " ") .. " wait"))
      local result = app.burst(four, { n = per_worker, agent = agent, workers = 4, store = "redis_campaign",
        seconds = 60 })
      campaigns:read("a")
      campaigns:close()

      assert.is_table(result, "the nginx burst did not finish")
      local throttled = 0
      for k = 1, 3 do
        assert.equal("0", (read(path("c" .. k .. ".code")) or ""):match("%d+"), read(path("c" .. k .. ".err")))
        local s = helper.decode(read(path("c" .. k .. ".out")))
        assert.equal(n, s.sent)
        throttled = throttled + s.throttled
      end
      local total = 3 * n + 4 * per_worker
      local log = helper.agent_log(agent, total)
      local per, first, last, statuses = {}, math.huge, -math.huge, {}
      for _, e in ipairs(log) do
        local to = helper.decode(e.body).to
        statuses[e.status] = (statuses[e.status] or 0) + 1
        if e.status == 200 then
          per[to] = (per[to] or 0) + 1
          first, last = math.min(first, e.time), math.max(last, e.time)
        end
      end
      local numbers = 0
      for to, c in pairs(per) do
        numbers = numbers + 1
        assert.equal(1, c, to .. " accepted once")
      end
      assert.equal(total, numbers, "every recipient accepted")
      -- the burst's outcomes: every worker's trigger accepted in the end
      assert.are.same({ ["status:200"] = 4 * per_worker }, result.outcomes)
      if helper.slow then return end -- under ASan or valgrind a process may stall between slot and request
      assert.equal(0, throttled, "429s seen by the campaigns")
      assert.are.same({ [200] = total }, statuses, "429s answered by the sandbox")
      local achieved = (total - 1) / (last - first)
      assert.is_true(achieved >= 0.95 * rate and achieved <= rate * 1.001,
        ("combined %.3f/s for an agent at %d/s"):format(achieved, rate))
      -- the processes' HOMEs hold no host store of the agent: only Redis held the slots
      for k = 1, 3 do
        local dir = path("home" .. k .. "/state/convai/limits")
        assert.is_falsy(os.execute("test -e " .. shell_quote(dir)), dir .. " exists")
      end
    end)
end)
