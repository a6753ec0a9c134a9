-- The retry policy of the transport (lua/convai/http/retry.lua, docs/http.md "Retries"), seen through the real clients
-- against sandbox faults (POST /_sandbox/faults): which failures are retried for queries (GET) and for
-- triggers (POST), backoff with full jitter, Retry-After honoured and capped, the error saying why it
-- stopped, and the options (per client, per call) checked before anything is sent.
local helper = require "helper"
local core = require "convai.core"
local http = require "convai.http"
local runtime = require "convai.runtime"
local voicebot = require "convai.voicebot"
local avaamo = require "convai.avaamo"
local vonage = require "convai.vonage"

local VB_PATH = "/voicebot/third-party/v1/whatsapp/agent-usage"
local AV_PATH = "/avaamo/bots/analytics/20123/usage.json"
local VG_PATH = "/vonage/messaging/conversation"
local CLOSED = "http://127.0.0.1:1" -- nothing listens: the connection is refused
local AV_QUERY = { agent_id = 20123, from_date = "10/04/2020", to_date = "13/04/2020", utc_offset = -25200 }

-- A retry policy that records its pauses instead of sleeping, with a fixed "random" draw.
local function recorded(opts)
  local sleeps = {}
  local retry = { sleep = function(s) sleeps[#sleeps + 1] = s end, random = function() return 0.5 end }
  for k, v in pairs(opts or {}) do retry[k] = v end
  return retry, sleeps
end

local function vb_client(opts) return helper.client("voicebot", { timeout = 2 }, opts) end
-- A Vonage client without a limit of its own (as a campaign's): the transport's policy alone decides its
-- retries. A paced client's 429 is held and retried in a new slot: tests/lua/client/vonage_spec.lua.
local function vg_client(opts)
  return assert(helper.client("vonage", { timeout = 2 }, opts):with_limit(false))
end

local add, timed = helper.add_fault, helper.timed
local function trigger(client) return helper.trigger(client, "retry-agent-") end

-- Methods and faults of the requests the sandbox received.
local function received()
  local out = {}
  for _, e in ipairs(helper.log()) do
    out[#out + 1] = string.format("%s %s", e.method, e.fault or string.format("%d", e.status))
  end
  return out
end

describe("retry policy", function()
  before_each(function()
    helper.reset()
  end)

  describe("options", function()
    it("defaults to 3 attempts, base 0.5 s, cap 20 s, retry_after_cap 60 s, on every client", function()
      local clients = {
        vb_client(),
        assert(avaamo.new { base_url = helper.env("CONVAI_AVAAMO_URL"), access_token = "t" }),
        vg_client(),
      }
      for _, c in ipairs(clients) do
        local p = c.http.retry
        assert.equal(3, p.attempts)
        assert.equal(0.5, p.base)
        assert.equal(20, p.cap)
        assert.equal(60, p.retry_after_cap)
        assert.equal(0, c.http.follow_redirects)
        c:close()
      end
      local c = vb_client { retry = { attempts = 5, cap = 2 } }
      assert.same({ 5, 0.5, 2, 60 }, { c.http.retry.attempts, c.http.retry.base, c.http.retry.cap,
        c.http.retry.retry_after_cap })
      assert.is_false(vb_client({ retry = false }).http.retry)
      assert.equal(3, vb_client({ retry = true }).http.retry.attempts)
    end)

    it("refuses bad retry options with a message naming the option, on every client", function()
      local cases = {
        { "yes", "retry must be false" },
        { { attempts = 0 }, "retry.attempts must be an integer from 1 to 100" },
        { { attempts = 1.5 }, "retry.attempts must be an integer" },
        { { attempts = 101 }, "retry.attempts" },
        { { base = -1 }, "retry.base must be a positive number of seconds" },
        { { base = 0 }, "retry.base" },
        { { cap = 0 / 0 }, "retry.cap must be a positive number" },
        { { cap = math.huge }, "retry.cap" },
        { { retry_after_cap = -1 }, "retry.retry_after_cap must be a number of seconds >= 0" },
        { { retry_after_cap = "60" }, "retry.retry_after_cap" },
        { { random = 0.5 }, "retry.random must be a function" },
        { { sleep = "1" }, "retry.sleep must be a function" },
        { { tries = 3 }, "unknown retry option tries" },
        { { deadline = 0 }, "retry.deadline must be a positive number of seconds" },
        { { deadline = "5" }, "retry.deadline" },
      }
      local makers = {
        function(o) o.base_url = helper.env("CONVAI_VOICEBOT_URL"); o.token = "t"; return voicebot.new(o) end,
        function(o) o.access_token = "t"; return avaamo.new(o) end,
        function(o) o.region = "eu"; o.api_key = "k"; return vonage.new(o) end,
      }
      for _, make in ipairs(makers) do
        for _, case in ipairs(cases) do
          local c, err = make { retry = case[1] }
          assert.is_nil(c)
          assert.equal("invalid_argument", err.kind)
          assert.truthy(err.message:find(case[2], 1, true), err.message)
        end
      end
    end)

    it("checks per-call options before sending", function()
      local c = vb_client()
      local r, err = c.http:json("GET", "/whatsapp/agent-usage", nil, nil, { retry = { attempts = 0 } })
      assert.is_nil(r)
      assert.equal("invalid_argument", err.kind)
      r, err = c.http:with_retry { base = "fast" }
      assert.is_nil(r)
      assert.equal("invalid_argument", err.kind)
      r, err = c.http:send("GET", "/whatsapp/agent-usage", nil, nil, "no retry")
      assert.is_nil(r)
      assert.equal("invalid_argument", err.kind)
      assert.same({}, helper.log())
    end)
  end)

  describe("queries (GET)", function()
    it("503 twice then 200: success after 3 attempts, with real pauses", function()
      add { path = VB_PATH, fault = "status", status = 503, count = 2 }
      local c = vb_client()
      local u, err, dt = timed(c.whatsapp_usage, c)
      assert.is_table(u, err and tostring(err))
      assert.equal(250, u.current_limit)
      assert.same({ "GET status", "GET status", "GET 200" }, received())
      assert.is_true(dt < 1.5 + 1, "elapsed " .. dt) -- pauses of at most 0.5 s and 1 s
      c:close()
    end)

    it("deadline: no retry whose pause would end past it, and no attempt longer than what is left", function()
      local retry, sleeps = recorded { attempts = 5, base = 10, cap = 10, deadline = 4 }
      add { path = VB_PATH, fault = "status", status = 503, count = 5 }
      local c = vb_client { retry = retry }
      local u, err = c:whatsapp_usage()
      assert.is_nil(u)
      assert.equal("server", err.kind)
      assert.equal("deadline", err.retry)
      assert.equal(1, err.attempts)
      assert.matches("gave up after 1 attempt: another would start after the deadline %(4 s%)", err.message)
      assert.same({}, sleeps) -- the first pause (0.5 * 10 s) would end past the deadline
      c:close()
      helper.reset()
      add { path = VB_PATH, fault = "delay", delay_ms = 3000, count = 1 }
      c = vb_client { retry = { deadline = 0.5, attempts = 1 } }
      local dt
      u, err, dt = timed(c.whatsapp_usage, c)
      assert.is_nil(u)
      assert.equal("timeout", err.kind)
      assert.is_true(dt < 1.5, "elapsed " .. dt)
      c:close()
    end)

    it("waits with full jitter: random * min(cap, base * 2^n)", function()
      local retry, sleeps = recorded { attempts = 4, base = 10, cap = 15 }
      add { path = VB_PATH, fault = "status", status = 502, count = 4 }
      local c = vb_client { retry = retry }
      local u, err = c:whatsapp_usage()
      assert.is_nil(u)
      assert.same({ 5, 7.5, 7.5 }, sleeps) -- 0.5 * min(15, 10), min(15, 20), min(15, 40)
      assert.equal(4, err.attempts)
      local draws = { 0, 0.999 }
      retry, sleeps = recorded { random = function() return table.remove(draws, 1) end }
      add { path = VB_PATH, fault = "status", status = 504, count = 2 }
      c = vb_client { retry = retry }
      assert.is_table(c:whatsapp_usage())
      assert.same({ 0, 0.999 * 1 }, sleeps) -- min(20, 0.5 * 2^0) then 0.5 * 2^1
    end)

    it("retries 500, 502, 503, 504, 429, a timeout and a reset; the fault is gone on the next try", function()
      for _, spec in ipairs {
        { fault = "status", status = 500 }, { fault = "status", status = 502 },
        { fault = "status", status = 503 }, { fault = "status", status = 504 },
        { fault = "status", status = 429 }, { fault = "delay", delay_ms = 1500 },
        { fault = "reset" }, { fault = "reset", mode = "close" }, { fault = "truncate" },
      } do
        helper.reset()
        spec.path = VB_PATH
        add(spec)
        local retry, sleeps = recorded()
        local c = vb_client { retry = retry, timeout = 0.5 } -- a new connection: libcurl does not resend
        local u, err = c:whatsapp_usage()
        assert.is_table(u, spec.fault .. " " .. tostring(err))
        assert.equal(1, #sleeps, spec.fault)
        assert.equal(2, #helper.log(), spec.fault)
        c:close()
      end
    end)

    it("does not retry what will not go away: 400, 401, 404, 409, 422, 418, a bad body", function()
      for _, status in ipairs { 400, 401, 404, 409, 422, 418 } do
        helper.reset()
        add { path = VB_PATH, fault = "status", status = status }
        local retry, sleeps = recorded()
        local _, err = vb_client({ retry = retry }):whatsapp_usage()
        assert.equal(status, err.status)
        assert.equal(1, err.attempts)
        assert.is_nil(err.retry)
        assert.same({}, sleeps)
        assert.equal(1, #helper.log())
      end
      add { path = VB_PATH, fault = "invalid_json" }
      local retry, sleeps = recorded()
      local _, err = vb_client({ retry = retry }):whatsapp_usage()
      assert.equal("decode", err.kind)
      assert.same({}, sleeps)
    end)

    it("gives the last error with attempts = 3 when every attempt fails", function()
      add { path = VB_PATH, fault = "status", status = 503, count = 3, body = { message = "down" } }
      local retry, sleeps = recorded()
      local u, err = vb_client({ retry = retry }):whatsapp_usage()
      assert.is_nil(u)
      assert.equal("server", err.kind)
      assert.equal(503, err.status)
      assert.equal(3, err.attempts)
      assert.equal("exhausted", err.retry)
      assert.equal("voicebot.studio: down (gave up after 3 attempts)", err.message)
      assert.same({ 0.25, 0.5 }, sleeps)
      assert.equal(3, #helper.log())
    end)

    it("honours Retry-After: 1 (elapsed >= 1 s)", function()
      add { path = AV_PATH, fault = "status", status = 429, retry_after = 1 }
      local c = assert(avaamo.new { base_url = helper.env("CONVAI_AVAAMO_URL"),
        access_token = helper.env("CONVAI_AVAAMO_TOKEN") })
      local r, err, dt = timed(c.usage, c, AV_QUERY)
      assert.is_table(r, err and tostring(err))
      assert.equal(50138, r.aggregate_stats.messages_count)
      assert.is_true(dt >= 1 and dt < 1 + 1, "elapsed " .. dt)
      assert.same({ "GET status", "GET 200" }, received())
      c:close()
    end)

    it("honours Retry-After as an HTTP-date, on 503 too", function()
      local date = os.date("!%a, %d %b %Y %H:%M:%S GMT", os.time() + 30)
      add { path = VB_PATH, fault = "status", status = 503, retry_after = date }
      local retry, sleeps = recorded()
      assert.is_table(vb_client({ retry = retry }):whatsapp_usage())
      assert.equal(1, #sleeps)
      assert.is_true(sleeps[1] > 27 and sleeps[1] <= 30, tostring(sleeps[1]))
    end)

    it("gives up at once on a Retry-After over retry_after_cap, and says so", function()
      add { path = VB_PATH, fault = "status", status = 429, retry_after = 120 }
      local c = vb_client()
      local u, err, dt = timed(c.whatsapp_usage, c)
      assert.is_nil(u)
      assert.equal("rate_limited", err.kind)
      assert.equal(120, err.retry_after)
      assert.equal(1, err.attempts)
      assert.equal("retry_after_cap", err.retry)
      assert.truthy(err.message:find("not retried: Retry-After is 120 s, over retry_after_cap (60 s)", 1,
        true), err.message)
      assert.is_true(dt < 0.5, "elapsed " .. dt)
      assert.equal(1, #helper.log())
      -- a larger cap waits for it
      local retry, sleeps = recorded { retry_after_cap = 120 }
      add { path = VB_PATH, fault = "status", status = 429, retry_after = 120 }
      assert.is_table(vb_client({ retry = retry }):whatsapp_usage())
      assert.same({ 120 }, sleeps)
    end)

    it("retries a refused connection", function()
      local retry, sleeps = recorded()
      local c = assert(voicebot.new { base_url = CLOSED .. "/v1", token = "t", retry = retry })
      local _, err = c:whatsapp_usage()
      assert.equal("network", err.kind)
      assert.is_false(err.request_sent)
      assert.equal(3, err.attempts)
      assert.equal("exhausted", err.retry)
      assert.equal(2, #sleeps)
    end)

    it("pauses through convai.http.sleep by default (which a batch driver turns into a yield)", function()
      assert.equal(http.sleep, runtime.sleep)
      assert.equal(http.sleep, vb_client().http.retry.sleep)
      -- A driver attached to the coroutine (as convai.batch attaches its tasks') performs its requests
      -- and receives its pauses.
      local slept = {}
      local driver = {
        request = function(_, transport, req) return transport.session:request(req) end,
        sleep = function(_, s) slept[#slept + 1] = s end,
      }
      add { path = VB_PATH, fault = "status", status = 500, count = 2 }
      local c = vb_client({ retry = { random = function() return 0.5 end } })
      local co = coroutine.create(function() return c:whatsapp_usage() end)
      runtime.attach(co, driver)
      local ok, u = coroutine.resume(co)
      runtime.detach(co)
      assert.is_true(ok, tostring(u))
      assert.is_table(u)
      assert.same({ 0.25, 0.5 }, slept)
    end)

    it("inside client:batch a retry's pause yields: three 1 s Retry-After waits overlap", function()
      add { path = VB_PATH, fault = "status", status = 503, retry_after = 1, count = 3 }
      local c = vb_client()
      local t0 = core.monotonic()
      local out = assert(c:batch({ { "whatsapp_usage" }, { "whatsapp_usage" }, { "whatsapp_usage" } },
        { concurrency = 3 }))
      local dt = core.monotonic() - t0
      for i = 1, 3 do assert.is_table(out[i].value, tostring(out[i].err)) end
      assert.is_true(dt >= 1 and dt < 2.2, "elapsed " .. dt) -- one after the other would take 3 s
      assert.equal(6, #helper.log())
    end)

    it("can be turned off per client, per call and on a derived transport", function()
      add { path = VB_PATH, fault = "status", status = 503, count = 10 }
      local _, err = vb_client({ retry = false }):whatsapp_usage()
      assert.equal(1, err.attempts)
      assert.is_nil(err.retry)
      assert.equal("voicebot.studio: sandbox fault", err.message)
      assert.equal(1, #helper.log())
      local retry, sleeps = recorded()
      local c = vb_client { retry = retry }
      _, err = c.http:json("GET", "/whatsapp/agent-usage", nil, nil, { retry = false })
      assert.equal(1, err.attempts)
      _, err = c.http:json("GET", "/whatsapp/agent-usage", nil, nil, { retry = { attempts = 2 } })
      assert.equal(2, err.attempts)
      assert.equal(1, #sleeps) -- the client's recorded sleep is kept under the per-call options
      local plain = assert(c.http:with_retry(false))
      _, err = plain:json("GET", "/whatsapp/agent-usage")
      assert.equal(1, err.attempts)
      assert.equal(3, c.http.retry.attempts) -- the client's own policy is unchanged
      assert.equal(1 + 1 + 2 + 1, #helper.log())
      helper.admin("DELETE", "/_sandbox/faults")
      assert.is_table(plain:json("GET", "/whatsapp/agent-usage")) -- shares the connection
      assert.equal(1, c.http.session:stats().connections)
    end)
  end)

  describe("triggers (POST)", function()
    it("does not retry a 503: the sandbox saw one POST, and the error says why", function()
      add { path = VG_PATH, fault = "status", status = 503, count = 3 }
      local retry, sleeps = recorded()
      local r, err = trigger(vg_client { retry = retry })
      assert.is_nil(r)
      assert.equal("server", err.kind)
      assert.equal(1, err.attempts)
      assert.equal("unsafe", err.retry)
      assert.truthy(err.message:find("not retried: the request may have reached Vonage AI Studio, and a "
        .. "retry could message the person twice", 1, true), err.message)
      assert.same({}, sleeps)
      assert.same({ "POST status" }, received())
    end)

    it("does not retry 500, 502, 504, a timeout, a reset or a cut body: each may have been acted on", function()
      for _, spec in ipairs {
        { fault = "status", status = 500 }, { fault = "status", status = 502 },
        { fault = "status", status = 504 }, { fault = "delay", delay_ms = 1500 },
        { fault = "reset" }, { fault = "reset", mode = "close" }, { fault = "truncate" },
      } do
        helper.reset()
        spec.path = VG_PATH
        spec.count = 3
        add(spec)
        local retry, sleeps = recorded()
        local c = vg_client { retry = retry, timeout = 0.5 }
        local r, err = trigger(c)
        assert.is_nil(r, spec.fault)
        assert.equal("unsafe", err.retry, spec.fault)
        assert.equal(1, err.attempts)
        assert.same({}, sleeps)
        assert.equal(1, #helper.log(), spec.fault)
        if not err.status then assert.is_true(err.request_sent, spec.fault) end
        c:close()
      end
    end)

    it("a reset after the POST was sent is not retried (one POST in the sandbox log)", function()
      add { path = VG_PATH, fault = "reset", count = 3 }
      local retry, sleeps = recorded()
      local r, err = trigger(vg_client { retry = retry })
      assert.is_nil(r)
      assert.equal("network", err.kind)
      assert.is_true(err.request_sent)
      assert.equal("unsafe", err.retry)
      assert.same({}, sleeps)
      assert.same({ "POST reset" }, received())
    end)

    it("retries a 429 (the vendor refused it) after at least one second, and succeeds", function()
      -- Vonage's 429 has no Retry-After and its limit is per second: the jittered pause (0.25 here)
      -- is raised to one second, or the retry would meet the same limit
      add { path = VG_PATH, fault = "status", status = 429 }
      local retry, sleeps = recorded()
      local r, err = trigger(vg_client { retry = retry })
      assert.is_table(r, err and tostring(err))
      assert.equal(200, r.status)
      assert.same({ 1 }, sleeps)
      assert.same({ "POST status", "POST 200" }, received())
    end)

    it("a real 429 from the sandbox's per-second limit is retried once, a second later", function()
      helper.config { vonage = { agents = { ["retry-agent-burst"] = { rate = 1 } } } }
      local c = vg_client()
      local function burst()
        return c:trigger_whatsapp { agent_id = "retry-agent-burst", namespace = "ns_1",
          template = "appointment_reminder", locale = "en_GB", to = "+44 7700 900555",
          status_url = "https://example.com/s" }
      end
      assert(burst())
      local r, err, dt = timed(burst) -- the agent's session of this second is taken
      assert.is_table(r, err and tostring(err))
      assert.is_true(dt >= 0.9, "elapsed " .. dt)
      assert.same({ "POST 200", "POST 429", "POST 200" }, received())
    end)

    it("honours a 429's Retry-After: 1 (elapsed >= 1 s)", function()
      add { path = VG_PATH, fault = "status", status = 429, retry_after = 1 }
      local c = vg_client()
      local r, err, dt = timed(trigger, c)
      assert.is_table(r, err and tostring(err))
      assert.is_true(dt >= 1 and dt < 2, "elapsed " .. dt)
      assert.same({ "POST status", "POST 200" }, received())
    end)

    it("retries a refused connection: nothing reached the vendor", function()
      local retry, sleeps = recorded()
      local c = assert(assert(vonage.new { base_url = CLOSED, api_key = "k", retry = retry }):with_limit(false))
      local r, err = trigger(c)
      assert.is_nil(r)
      assert.equal("network", err.kind)
      assert.is_false(err.request_sent)
      assert.equal(3, err.attempts)
      assert.equal("exhausted", err.retry)
      assert.truthy(err.message:find("gave up after 3 attempts", 1, true), err.message)
      assert.same({ 0.25, 0.5 }, sleeps)
    end)

    it("a client with retry = false returns the 429 at once, for a caller that paces itself", function()
      add { path = VG_PATH, fault = "status", status = 429, retry_after = 2, count = 2 }
      local c = vg_client { retry = false }
      local r, err, dt = timed(trigger, c)
      assert.is_nil(r)
      assert.equal("rate_limited", err.kind)
      assert.equal(2, err.retry_after)
      assert.equal(1, err.attempts)
      assert.is_true(dt < 0.5, "elapsed " .. dt)
      -- or for one call only, on a client that otherwise retries
      local body = assert(core.json_encode(assert(vonage.whatsapp_body {
        agent_id = "A", namespace = "n", template = "t", locale = "en", to = "+447700900999",
        status_url = "https://example.com/s" })))
      r, err = vg_client().http:send("POST", "/messaging/conversation", nil, body, { retry = false })
      assert.is_nil(r)
      assert.equal(1, err.attempts)
      assert.equal(2, #helper.log())
    end)
  end)
end)
