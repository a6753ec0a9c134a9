-- convai inside nginx (issue 5): real nginx + ngx_lua (LuaJIT, the LuaJIT flavour of the core) on a
-- free loopback port, with a test configuration in a temporary directory, its application in
-- tests/nginx/convai_test_app.lua, talking to the sandbox of CONVAI_TEST_SANDBOX. Requests to nginx are
-- made with the Lua 5.4 core (libcurl) or curl. §1 loading, §2 never blocking the worker, §3 limits
-- shared by the workers, §4 the status_url receiver, and the error kinds of the foundation through nginx.
local helper = require "helper"
local harness = require "nginx.harness"
local app = require "nginx.app_server"
local core = require "convai.core"
local status_store = require "convai.status"

local ROOT = helper.root

-- Error-log lines the tests provoke on purpose.
local EXPECTED_ERRORS = {
  "SSL_do_handshake() failed",    -- TLS to the plain port
  "recv() failed (104: Connection reset by peer)", -- the sandbox's reset fault
  "convai-test-expected",         -- a status function failing on purpose
}

local start, get, enc, eventually = app.start, app.get, app.enc, app.eventually

local function background_curl(url)
  return assert(io.popen("curl -s --max-time 30 " .. harness.quote(url)))
end

local function expect_clean_log(inst)
  local problems = harness.problems(inst.error_log(), EXPECTED_ERRORS)
  assert.are.same({}, problems)
end

local function sandbox_supports_callbacks()
  local _, code = helper.admin("GET", "/_sandbox/callbacks")
  return code == 200
end

local json_null = {} -- marks a field to leave out
local function trigger_fields(over)
  local t = { agent_id = "nginx-agent", namespace = "ns", template = "appointment_reminder", locale = "en_GB",
    to = "+44 7700 900123", status_url = "http://127.0.0.1:9/status" }
  for k, v in pairs(over or {}) do
    if v == json_null then t[k] = nil else t[k] = v end
  end
  return t
end

describe("OpenResty (nginx + ngx_lua)", function()
  if not app.available() then
    it("needs nginx, libnginx-mod-http-lua and the LuaJIT build of the core", function()
      pending("nginx, ngx_lua or build/luajit/convai/core.so missing")
    end)
    return
  end

  local one -- nginx with one worker
  lazy_setup(function()
    helper.reset()
    one = start(1)
  end)
  lazy_teardown(function()
    if one then one.stop() end
  end)
  before_each(function() helper.reset() end)

  describe("§1 loading", function()
    it("loads the LuaJIT core and the Lua layer, and picks the cosocket transport by itself", function()
      local resp, body = get(one, "/t/load")
      assert.are.equal(200, resp.status)
      assert.are.equal(core.version, body.core_version)
      assert.is_true(body.ngx_lua_version >= 10021)
      assert.is_string(body.jit)
      assert.is_true(body.in_nginx)
      assert.is_true(body.factory_is_cosocket)
      assert.are.equal("convai.http.cosocket (open)", body.session)
    end)

    it("makes requests in init_by_lua through the blocking core (the master serves nothing yet)", function()
      local _, body = get(one, "/t/load")
      assert.is_true(body.init.ok, helper and body.init.error and body.init.error.message)
      assert.are.equal(250, body.init.result.current_limit)
      assert.are.same({ requests = 1, connections = 1 }, body.init.stats)
    end)

    it("refuses a request where nginx has no cosockets (set_by_lua), sending nothing", function()
      local resp = get(one, "/set")
      assert.are.equal("invalid_argument:false", resp.body)
    end)

    it("keeps the connection alive across the worker's requests", function()
      local _, a = get(one, "/t/usage?shared=1")
      local _, b = get(one, "/t/usage?shared=1")
      assert.is_true(a.ok and b.ok)
      assert.are.equal(a.stats.requests + 1, b.stats.requests)
      assert.are.equal(a.stats.connections, b.stats.connections)
    end)

    it("sends again once on a new connection when a kept-alive one dies before answering", function()
      local _, a = get(one, "/t/usage?shared=1")
      helper.admin("POST", "/_sandbox/faults", { path = "/voicebot/third-party/v1/whatsapp/agent-usage",
        fault = "reset" })
      local _, b = get(one, "/t/usage?shared=1")
      assert.is_true(b.ok, b.error and b.error.message)
      assert.are.equal(a.stats.requests + 1, b.stats.requests)
      assert.are.equal(a.stats.connections + 1, b.stats.connections)
    end)

    it("reads chunked bodies and HEAD answers", function()
      local _, body = get(one, "/t/raw?url=" .. enc(one.url .. "/chunked"))
      assert.is_true(body.ok)
      assert.are.equal("part1;part2;part3;", body.result.body)
      assert.are.equal("chunked", body.result.headers["transfer-encoding"])
      _, body = get(one, "/t/raw?method=HEAD&url=" .. enc(one.url .. "/health"))
      assert.are.equal(200, body.result.status)
      assert.are.equal("", body.result.body)
    end)
  end)

  describe("§2 never blocks the worker", function()
    local function fast_ping()
      local t0 = core.monotonic()
      local resp = get(one, "/t/ping")
      local dt = core.monotonic() - t0
      assert.are.equal(200, resp.status)
      return dt
    end

    -- Request `path` in the background, ping the worker `settle` seconds later (it must answer in under
    -- 100 ms), and return the background request's decoded answer.
    local function ping_during(path, settle)
      local slow = background_curl(one.url .. path)
      harness.sleep(settle)
      local dt = fast_ping()
      local out = helper.decode(slow:read("a"))
      slow:close()
      assert.is_true(dt < 0.1, ("ping took %.3f s"):format(dt))
      return out
    end

    it("answers another request in under 100 ms while a handler waits 2 s on the sandbox", function()
      local slow = background_curl(one.url .. "/t/raw?path=" .. enc("/_sandbox/delay?ms=2000"))
      harness.sleep(0.4)
      local dt = fast_ping()
      local _, quick = get(one, "/t/usage?shared=1") -- and another call to the sandbox meanwhile
      local out = helper.decode(slow:read("a"))
      slow:close()
      assert.is_true(dt < 0.1, ("ping took %.3f s"):format(dt))
      assert.is_true(quick.ok)
      assert.is_true(out.ok)
      assert.are.equal(200, out.result.status)
      assert.is_true(out.elapsed >= 1.9, "the delayed request took " .. out.elapsed .. " s")
    end)

    it("does not block in an ngx.timer callback either", function()
      local id = tostring(os.time()) .. math.random(1000)
      local _, body = get(one, "/t/timer?id=" .. id .. "&path=" .. enc("/_sandbox/delay?ms=2000"))
      assert.is_true(body.scheduled)
      harness.sleep(0.4)
      local dt = fast_ping()
      assert.is_true(dt < 0.1, ("ping took %.3f s"):format(dt))
      local result = eventually(function()
        local _, r = get(one, "/t/result?id=" .. id)
        return not r.pending and r
      end, 15)
      assert.is_true(result.ok)
      assert.are.equal(200, result.result.status)
      assert.is_true(result.elapsed >= 1.9)
    end)

    it("client:batch runs its calls as light threads on cosockets: they overlap, the worker stays free",
      function()
      helper.config { latency_ms = 300 }
      local out = ping_during("/t/batch?n=8&c=4", 0.2)
      assert.is_true(out.ok, out.error and out.error.message)
      assert.are.same({ 250, 250, 250, 250, 250, 250, 250, 250 }, out.results)
      -- 8 calls of 300 ms, 4 at a time: two rounds (one by one: 2.4 s)
      assert.is_true(out.elapsed >= 0.55 and out.elapsed < 1.5, "batch took " .. out.elapsed .. " s")
      -- each call's own request, though they share the client and overlap: agents 1 to 8, once each
      local agents = {}
      for _, e in ipairs(helper.log()) do
        if e.path:find("agent-usage", 1, true) then agents[#agents + 1] = tonumber(e.query.agent_id) end
      end
      table.sort(agents)
      assert.are.same({ 1, 2, 3, 4, 5, 6, 7, 8 }, agents)
    end)

    it("refuses convai.batch's libcurl scheduler, which would block the worker", function()
      local _, body = get(one, "/t/scheduler")
      assert.is_false(body.made)
      assert.are.equal("invalid_argument", body.error.kind)
      assert.matches("would block nginx's event loop %(content phase%); inside nginx use client:batch",
        body.error.message)
    end)

    it("refuses a campaign (it drives libcurl) before sending or writing anything", function()
      local _, body = get(one, "/t/campaign")
      assert.is_false(body.ran)
      assert.are.equal("invalid_argument", body.error.kind)
      assert.matches("would block nginx's event loop", body.error.message)
      assert.is_false(body.journal_written)
      assert.are.same({}, helper.log())
    end)

    it("pauses with ngx.sleep (convai.http.sleep) without blocking", function()
      local out = ping_during("/t/sleep?s=1", 0.3)
      assert.is_true(out.slept >= 0.99)
    end)
  end)

  describe("§3 limits shared by the workers", function()
    local four
    lazy_setup(function() four = start(4) end)
    lazy_teardown(function() if four then four.stop() end end)

    it("4 workers x 20 sessions for one agent limited to 5/s: 80 accepted, no 429", function()
      helper.reset()
      local cfg = { vonage = { agents = { A = { rate = 5 } } } }
      if sandbox_supports_callbacks() then cfg.callbacks = { enabled = false } end
      helper.config(cfg)
      local t0 = core.monotonic()
      local result = app.burst(four, { n = 20, agent = "A", workers = 4, seconds = 90 })
      local elapsed = core.monotonic() - t0
      assert.are.same({ ["status:200"] = 80 }, result.outcomes)
      assert.are.same({ ["0"] = 20, ["1"] = 20, ["2"] = 20, ["3"] = 20 }, result.workers)
      -- what the sandbox saw: 80 accepted, none refused, never 6 in one second
      local times = {}
      for _, e in ipairs(helper.log()) do
        if e.path == "/vonage/messaging/conversation" then
          assert.are.equal(200, e.status)
          times[#times + 1] = e.time
        end
      end
      assert.are.equal(80, #times)
      table.sort(times)
      for i = 1, #times - 5 do
        assert.is_true(times[i + 5] - times[i] >= 1.0, "6 sessions within 1 s at #" .. i)
      end
      assert.is_true(elapsed >= 79 / 5, "80 sessions at 5/s cannot take less than 15.8 s")
      expect_clean_log(four)
    end)

    it("limiter API: options, slots spaced by (1 + margin) / rate, max_wait, penalize, invalid triggers", function()
      helper.config { vonage = { agents = { E = { rate = 2 } } } }
      local _, out = get(one, "/t/limiter")
      assert.are.equal("invalid_argument", out.no_dict.kind)
      assert.matches("lua_shared_dict nope", out.no_dict.message, 1, true)
      assert.are.equal("invalid_argument", out.bad_rate.kind)
      assert.is_true(out.three_at_2_per_s >= 1.099, "3 slots at 2/s took " .. out.three_at_2_per_s)
      assert.are.equal(2, out.rate)
      assert.is_true(math.abs(out.interval - 0.55) < 1e-9)
      assert.are.equal("rate_limited", out.within.kind)
      assert.is_true(out.within_wait >= 0.29 and out.within_wait <= 0.3 + 0.55 + 1e-6, "wait " .. out.within_wait)
      assert.is_true(math.abs(out.after_within - out.within_wait) < 0.05, "the refused slot was claimed")
      assert.are.equal("invalid_argument", out.bad_agent.kind)
      assert.are.equal("rate_limited", out.held.kind)
      assert.is_true(out.held.retry_after >= 4)
      assert.are.same({ 200, 200 }, out.calls)
      assert.is_true(out.two_calls >= 0.549, "2 paced calls at 2/s took " .. out.two_calls)
      assert.matches("^paced convai.vonage{", out.tostring)
      assert.is_nil(out.tostring:find("sandbox-vonage-key", 1, true))
      assert.are.equal("invalid_argument", out.invalid_trigger.kind)
      assert.is_false(out.claimed_for_invalid)
      assert.are.equal("process", out.default_store)
      assert.are.equal("process", out.bare_client_store)
      assert.are.equal("process", out.limiter_limits)
      assert.matches('^limits: unknown limit store "nowhere"', out.limiter_bad_limits.message)
    end)

    it("the host store works inside nginx too (its lock never blocks the worker)", function()
      local dir = os.tmpname()
      os.remove(dir)
      finally(function() os.execute("rm -rf '" .. dir .. "'") end)
      local _, out = get(one, "/t/host_store?dir=" .. dir .. "/limits")
      assert.is_nil(out.error, out.error and out.error.message)
      assert.are.equal("host", out.store)
      assert.is_true(out.delays[1] < 0.05 and math.abs(out.delays[2] - 10) < 0.05
        and math.abs(out.delays[3] - 20) < 0.05, table.concat(out.delays, ", "))
      assert.are.equal("rate_limited", out.refused.kind)
    end)

    it("a paced trigger that meets a 429 is sent again in a new slot, not retried by the client", function()
      helper.config { vonage = { agents = { F = { rate = 5 } } } }
      local _, status = helper.admin("POST", "/_sandbox/faults", { path = "/vonage/messaging/conversation",
        fault = "status", status = 429, count = 1 })
      assert.are.equal(201, status)
      local _, out = get(one, "/t/paced429")
      assert.are.equal(200, out.status)
      assert.is_true(out.elapsed >= 0.5, "the second attempt waited one interval: " .. out.elapsed)
      local posts = {}
      for _, e in ipairs(helper.log()) do
        if e.method == "POST" then posts[#posts + 1] = e end
      end
      assert.are.equal(2, #posts)
      assert.is_true(posts[2].time - posts[1].time >= 0.5)
    end)

    it("caches the WhatsApp capacity for every worker and reserves against it", function()
      helper.config { voicebot = { agents = { ["9"] = { limit = 10, usage = 7 } } } }
      get(four, "/t/capacity?agent=9&invalidate=1")
      for _ = 1, 8 do -- spread over the workers
        local _, c = get(four, "/t/capacity?agent=9")
        assert.is_true(c.ok)
        assert.are.equal(3, c.result.remaining)
      end
      local fetches = 0
      for _, e in ipairs(helper.log()) do
        if e.path:find("agent-usage", 1, true) and e.query.agent_id == "9" then fetches = fetches + 1 end
      end
      assert.are.equal(1, fetches)
      local _, r = get(four, "/t/capacity?agent=9&reserve=2")
      assert.is_true(r.reserved)
      assert.are.equal(1, r.usage.remaining)
      _, r = get(four, "/t/capacity?agent=9&reserve=2")
      assert.is_false(r.reserved)
      assert.are.equal(1, r.usage.remaining)
      _, r = get(four, "/t/capacity?agent=9&reserve=1")
      assert.is_true(r.reserved)
      local _, c = get(four, "/t/capacity?agent=9")
      assert.are.equal(0, c.result.remaining)
      assert.is_true(c.result.limit_exhausted)
    end)
  end)

  describe("§4 status_url receiver", function()
    local function post(path, body, headers)
      return get(one, path, { method = "POST", body = body,
        headers = headers or { ["Content-Type"] = "application/json" } })
    end
    local function statuses() -- the statuses recorded since the last call
      local _, b = get(one, "/t/statuses")
      return b.statuses
    end
    local function wait_statuses(n, seconds) -- at least n statuses, collected over several calls
      local all = {}
      eventually(function()
        for _, s in ipairs(statuses()) do all[#all + 1] = s end
        return #all >= n
      end, seconds or 10)
      return all
    end
    local function status(over)
      local s = { message_uuid = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee", to = "447700900123",
        from = "447700900000", timestamp = "2020-01-01T14:00:00.000Z", status = "delivered",
        channel = "whatsapp" }
      for k, v in pairs(over or {}) do s[k] = v end
      return s
    end
    before_each(function() statuses() end)

    it("receives the sandbox's callbacks: submitted, delivered, read", function()
      if not sandbox_supports_callbacks() then return pending("the sandbox sends no callbacks") end
      helper.config { callbacks = { enabled = true, delay_ms = 50 } }
      local _, r = post("/t/trigger", core.json_encode(trigger_fields { status_url = one.url .. "/status/plain" }))
      assert.is_true(r.ok, r.error and r.error.message)
      local got = wait_statuses(3)
      assert.are.equal(3, #got)
      local names = {}
      for i, s in ipairs(got) do
        names[i] = s.status
        assert.are.equal("447700900123", s.to)
        assert.are.equal("whatsapp", s.channel)
        assert.matches("^%d%d%d%d%-%d%d%-%d%dT", s.timestamp)
        assert.are.equal(got[1].message_uuid, s.message_uuid)
      end
      assert.are.same({ "submitted", "delivered", "read" }, names)
      if type(r.result.body) == "table" and r.result.body.message_uuid then
        assert.are.equal(r.result.body.message_uuid, got[1].message_uuid)
      end
    end)

    it("receives a rejected status with its error object", function()
      if not sandbox_supports_callbacks() then return pending("the sandbox sends no callbacks") end
      helper.config { callbacks = { enabled = true, delay_ms = 50, rejected = { "999" } } }
      local _, r = post("/t/trigger", core.json_encode(trigger_fields {
        to = "+44 7700 900999", status_url = one.url .. "/status/plain" }))
      assert.is_true(r.ok)
      local got = wait_statuses(1)
      assert.are.equal("rejected", got[1].status)
      assert.is_table(got[1].error)
      assert.is_string(got[1].error.title)
    end)

    it("takes one status or an array, answers 200 {received = N}", function()
      local resp, body = post("/status/plain", core.json_encode(status()))
      assert.are.equal(200, resp.status)
      assert.are.same({ received = 1 }, body)
      resp, body = post("/status/plain", core.json_encode(core.array {
        status { status = "submitted" }, status { status = "read", usage = { currency = "EUR", price = "0.01" } },
      }))
      assert.are.equal(200, resp.status)
      assert.are.same({ received = 2 }, body)
      local got = statuses()
      assert.are.equal(3, #got)
      assert.are.same({ "delivered", "submitted", "read" }, { got[1].status, got[2].status, got[3].status })
      assert.are.equal("EUR", got[3].usage.currency)
    end)

    it("answers 400 to malformed bodies without calling the function", function()
      local cases = {
        { "{not json", "not JSON" },
        { "[]", "empty" },
        { "42", "object" },
        { core.json_encode(status { status = "lost" }), "status must be one of" },
        { core.json_encode(status { message_uuid = "" }), "message_uuid" },
        { core.json_encode(status { timestamp = "yesterday" }), "timestamp" },
        { core.json_encode(status { error = "boom" }), "error must be a JSON object" },
        { core.json_encode(core.array { status(), status { to = 447700900123 } }), "statuses[2].to" },
      }
      for _, c in ipairs(cases) do
        local resp, body = post("/status/plain", c[1])
        assert.are.equal(400, resp.status, c[1])
        assert.are.equal("Bad Request", body.error)
        assert.matches(c[2], body.message, 1, true)
      end
      assert.are.same({}, statuses())
    end)

    it("answers 405 to other methods and 413 to bodies over max_body", function()
      local resp, body = get(one, "/status/plain")
      assert.are.equal(405, resp.status)
      assert.are.equal("POST", resp.headers.allow)
      assert.are.equal("Method Not Allowed", body.error)
      resp = post("/status/small", core.json_encode(status { padding = string.rep("x", 5000) }))
      assert.are.equal(413, resp.status)
      assert.are.same({}, statuses())
    end)

    it("reads a body that nginx buffered to a file", function()
      local resp = post("/status/small", core.json_encode(status { padding = string.rep("x", 3000) }))
      assert.are.equal(200, resp.status)
      local got = statuses()
      assert.are.equal(1, #got)
      assert.are.equal(3000, #got[1].padding)
    end)

    it("answers before a slow function has run", function()
      local t0 = core.monotonic()
      local resp = post("/status/slow", core.json_encode(status()))
      local dt = core.monotonic() - t0
      assert.are.equal(200, resp.status)
      assert.is_true(dt < 0.5, ("answered after %.3f s"):format(dt))
      assert.are.same({}, statuses())
      local got = wait_statuses(1, 5)
      assert.are.equal(1, #got)
    end)

    it("with ack = \"after\", answers 500 when the function fails", function()
      local resp = post("/status/after", core.json_encode(status { message_uuid = "fail-me" }))
      assert.are.equal(500, resp.status)
      resp = post("/status/after", core.json_encode(status()))
      assert.are.equal(200, resp.status)
      assert.are.equal(1, #statuses())
    end)

    it("logs a function that raises and still answers 200", function()
      local resp = post("/status/raises", core.json_encode(core.array { status { message_uuid = "fail-me" },
        status() }))
      assert.are.equal(200, resp.status)
      local got = wait_statuses(1, 5)
      assert.are.equal(1, #got)
      assert.matches("convai-test-expected", one.error_log(), 1, true)
    end)
  end)

  describe("errors of the foundation, through nginx", function()
    local USAGE = "/voicebot/third-party/v1/whatsapp/agent-usage"
    local function fault(spec)
      local _, code = helper.admin("POST", "/_sandbox/faults", spec)
      assert.are.equal(201, code)
    end
    local function call(path)
      local _, body = get(one, path)
      return body
    end

    it("auth (401) and not_found (404)", function()
      local r = call("/t/usage?agent=1&token=wrong-token")
      assert.are.equal("auth", r.error.kind)
      assert.are.equal(401, r.error.status)
      assert.is_nil(r.error.message:find("wrong-token", 1, true))
      r = call("/t/usage?agent=1001")
      assert.are.equal("not_found", r.error.kind)
      assert.are.equal(404, r.error.status)
    end)

    it("invalid_argument: checked before anything is sent", function()
      local _, r = get(one, "/t/trigger", { method = "POST", body = core.json_encode(trigger_fields {
        template = "Not A Template" }) })
      assert.are.equal("invalid_argument", r.error.kind)
      r = call("/t/raw?url=" .. enc("http://127.0.0.1:1/a b"))
      assert.are.equal("invalid_argument", r.error.kind)
      assert.is_false(r.error.request_sent)
      r = call("/t/raw?method=" .. enc("BAD METHOD"))
      assert.are.equal("invalid_argument", r.error.kind)
      assert.are.same({}, helper.log())
    end)

    it("timeout: the total timeout is a deadline, also while a body dribbles in", function()
      fault { path = USAGE, fault = "delay", delay_ms = 3000 }
      local r = call("/t/usage?agent=1&timeout=0.5")
      assert.are.equal("timeout", r.error.kind)
      assert.are.equal(28, r.error.curl_code)
      fault { path = USAGE, fault = "slow_body", chunk_size = 1, chunk_delay_ms = 100 }
      local t0 = core.monotonic()
      r = call("/t/usage?agent=1&timeout=1")
      assert.are.equal("timeout", r.error.kind)
      assert.is_true(core.monotonic() - t0 < 2.5)
    end)

    it("network: refused, reset, truncated; a name without a resolver", function()
      local r = call("/t/raw?url=" .. enc("http://127.0.0.1:1/"))
      assert.are.equal("network", r.error.kind)
      assert.are.equal(7, r.error.curl_code)
      assert.is_false(r.error.request_sent)
      fault { path = USAGE, fault = "reset", count = 2 } -- 2: a reused connection is retried once
      r = call("/t/usage?agent=1")
      assert.are.equal("network", r.error.kind)
      helper.admin("DELETE", "/_sandbox/faults")
      fault { path = USAGE, fault = "truncate", size = 1024, sent = 100 }
      r = call("/t/usage?agent=1")
      assert.are.equal("network", r.error.kind)
      assert.are.equal(18, r.error.curl_code)
      r = call("/t/raw?url=" .. enc("http://nosuch.invalid/"))
      assert.are.equal("network", r.error.kind)
      assert.are.equal(6, r.error.curl_code)
      assert.matches("resolver", r.error.message, 1, true)
    end)

    it("too_large: announced, and counted in a chunked body", function()
      local r = call("/t/raw?max_body=1000&path=" .. enc("/_sandbox/bytes?n=2000"))
      assert.are.equal("too_large", r.error.kind)
      assert.are.equal(63, r.error.curl_code)
      fault { path = USAGE, fault = "oversize", chunked = true }
      r = call("/t/usage?agent=1")
      assert.are.equal("too_large", r.error.kind)
      assert.are.equal(23, r.error.curl_code)
    end)

    it("rate_limited with Retry-After, server, decode", function()
      fault { path = USAGE, fault = "status", status = 429, retry_after = "7" }
      local r = call("/t/usage?agent=1")
      assert.are.equal("rate_limited", r.error.kind)
      assert.are.equal(7, r.error.retry_after)
      fault { path = USAGE, fault = "status", status = 503 }
      r = call("/t/usage?agent=1")
      assert.are.equal("server", r.error.kind)
      fault { path = USAGE, fault = "invalid_json" }
      r = call("/t/usage?agent=1")
      assert.are.equal("decode", r.error.kind)
    end)

    it("tls: verified against lua_ssl_trusted_certificate, host name checked", function()
      local r = call("/t/raw?url=" .. enc(("https://127.0.0.1:%d/x"):format(one.vars.port2)))
      assert.is_true(r.ok, r.error and r.error.message)
      assert.are.equal(3, helper.decode(r.result.body).data.business_initiated.current_usage)
      r = call("/t/raw?url=" .. enc(("https://127.0.0.1:%d/"):format(one.vars.port3)))
      assert.are.equal("tls", r.error.kind)
      assert.are.equal(60, r.error.curl_code)
      assert.is_false(r.error.request_sent)
      r = call("/t/raw?url=" .. enc(("https://127.0.0.1:%d/"):format(one.vars.port4)))
      assert.are.equal("tls", r.error.kind)
      r = call("/t/raw?url=" .. enc(("https://127.0.0.1:%d/"):format(one.port)))
      assert.are.equal("tls", r.error.kind)
      -- through a client: the hint names nginx's CA bundle, not the cafile option refused there
      r = call("/t/tls_usage?port=" .. one.vars.port3)
      assert.are.equal("tls", r.error.kind)
      assert.matches("lua_ssl_trusted_certificate", r.error.message)
      assert.is_nil(r.error.message:find("cafile", 1, true), r.error.message)
      assert.is_nil(r.error.message:find("CONVAI_CAFILE", 1, true), r.error.message)
    end)

    it("leaves no unexpected error in nginx's error log", function()
      expect_clean_log(one)
    end)
  end)

  describe("examples/openresty/nginx.conf", function()
    local ex
    lazy_setup(function()
      local text = assert(harness.read_file(ROOT .. "/examples/openresty/nginx.conf"))
      local n1, n2, n3
      text, n1 = text:gsub("\n(%s*)listen 8080;", "\n%1listen 127.0.0.1:${port};")
      text, n2 = text:gsub('lua_package_path "[^"]*";',
        ('lua_package_path "%s/lua/?.lua;%s/lua/?/init.lua;;";'):format(ROOT, ROOT))
      text, n3 = text:gsub('lua_package_cpath "[^"]*";', ('lua_package_cpath "%s/build/luajit/?.so;;";'):format(ROOT))
      local n4
      text, n4 = text:gsub("\nenv CONVAI_STATUS_STORE;", "\nenv CONVAI_STATUS_STORE=${dir}/statuses.jsonl;")
      assert(n1 == 1 and n2 == 1 and n3 == 1 and n4 == 1,
        "the example's listen, lua_package_* or env CONVAI_STATUS_STORE lines changed")
      helper.reset()
      ex = harness.start { conf = text, health = "/dashboard?agent_id=1" }
    end)
    lazy_teardown(function() if ex then ex.stop() end end)

    local function post(path, fields)
      return get(ex, path, { method = "POST", body = core.json_encode(fields),
        headers = { ["Content-Type"] = "application/json" } })
    end

    it("shows the WhatsApp capacity of an agent", function()
      helper.config { voicebot = { agents = { ["7"] = { limit = 30, usage = 10 } } } }
      local resp, body = get(ex, "/dashboard?agent_id=7")
      assert.are.equal(200, resp.status)
      assert.are.equal(30, body.current_limit)
      assert.are.equal(10, body.current_usage)
      assert.are.equal(20, body.remaining)
    end)

    it("triggers a session from the admin endpoint and receives its statuses", function()
      local resp, body = post("/admin/trigger", trigger_fields { agent_id = "ex-now", status_url = json_null })
      assert.are.equal(200, resp.status, resp.body)
      assert.are.equal(200, body.status)
      local sent = helper.log()[1]
      assert.are.equal(ex.url .. "/vonage/status", helper.decode(sent.body).status_url)
      if not sandbox_supports_callbacks() or type(body.body) ~= "table" or not body.body.message_uuid then
        return pending("the sandbox sends no callbacks")
      end
      local got = eventually(function()
        local _, r = get(ex, "/admin/status?message_uuid=" .. body.body.message_uuid)
        return #r.statuses >= 3 and r.statuses
      end, 10)
      assert.are.same({ "submitted", "delivered", "read" }, { got[1].status, got[2].status, got[3].status })
      -- also kept in the status store of CONVAI_STATUS_STORE, where `convai campaign report` reads them
      local kept = eventually(function()
        local list = assert(status_store.read(ex.dir .. "/statuses.jsonl"))
        local mine = {}
        for _, s in ipairs(list) do
          if s.message_uuid == body.body.message_uuid then mine[#mine + 1] = s.status end
        end
        return #mine >= 3 and mine
      end, 10)
      assert.are.same({ "submitted", "delivered", "read" }, kept)
    end)

    it("answers 404 for an unknown agent and 400 for a bad agent id (its kind -> status table)", function()
      local resp, body = get(ex, "/dashboard?agent_id=5000")
      assert.are.equal(404, resp.status, resp.body)
      assert.are.equal("not_found", body.error)
      resp, body = get(ex, "/dashboard?agent_id=x")
      assert.are.equal(400, resp.status, resp.body)
      assert.are.equal("invalid_argument", body.error)
    end)

    it("documents a stop command with the same -p and -c as its start command", function()
      local text = assert(harness.read_file(ROOT .. "/examples/openresty/nginx.conf"))
      local started = text:match("\n#%s+(nginx %-p %S+ %-c %S+)\n")
      assert.truthy(started, "no start command in the header")
      assert.truthy(text:find("\n#%s+" .. started:gsub("%p", "%%%0") .. " %-s stop\n"), "no stop command with "
        .. started)
    end)

    it("answers 400 to a trigger with missing fields, sending nothing", function()
      local resp, body = post("/admin/trigger", { agent_id = "ex-bad" })
      assert.are.equal(400, resp.status)
      assert.are.equal("invalid_argument", body.error)
      assert.are.same({}, helper.log())
    end)

    it("queues triggers that a background timer sends, paced at 1 per second per agent", function()
      local ids = {}
      for i = 1, 3 do
        local resp, body = post("/admin/queue", trigger_fields { agent_id = "ex-queue", to = "+4477009001" .. i,
          status_url = "http://127.0.0.1:9/status" })
        assert.are.equal(202, resp.status)
        ids[i] = body.id
      end
      for _, id in ipairs(ids) do
        local r = eventually(function()
          local _, b = get(ex, "/admin/queue?id=" .. id)
          return b.done and b
        end, 15)
        assert.are.equal(200, r.result.status)
      end
      local times = {}
      for _, e in ipairs(helper.log()) do
        assert.are.equal(200, e.status)
        times[#times + 1] = e.time
      end
      assert.are.equal(3, #times)
      table.sort(times)
      assert.is_true(times[3] - times[1] >= 2.0, "3 sessions at 1/s within " .. (times[3] - times[1]) .. " s")
    end)

    it("leaves no error in nginx's error log", function()
      expect_clean_log(ex)
    end)
  end)
end)
