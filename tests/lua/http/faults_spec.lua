-- Fault injection in the sandbox (POST /_sandbox/faults, sandbox/lua/convai/sandbox/faults.lua), seen through
-- the real clients and `convai.core` sessions: the error kind of every fault, bounded waits, the
-- session still usable afterwards, no descriptor leak, no Lua error in the sandbox's error log.
-- The clients here make one attempt (`retry = false`); retries over these faults: retry_spec.lua.
local helper = require "helper"
local core = require "convai.core"
local cjson = require "cjson.safe"

local VB_PATH = "/voicebot/third-party/v1/whatsapp/agent-usage"
local AV_PATH = "/avaamo/bots/analytics/20123/usage.json"
local VG_PATH = "/vonage/messaging/conversation"
local MARGIN = 0.5 -- seconds allowed beyond a client's timeout
local PORT = tonumber(helper.url:match(":(%d+)$"))

-- One attempt each (`retry = false`), a 2 s timeout unless given.
local function vb_client(timeout) return helper.client("voicebot", { timeout = timeout or 2, retry = false }) end
local function av_client(timeout) return helper.client("avaamo", { timeout = timeout or 2, retry = false }) end
local function vg_client(timeout) return helper.client("vonage", { timeout = timeout or 2, retry = false }) end

local AV_QUERY = { agent_id = 20123, from_date = "10/04/2020", to_date = "13/04/2020", utc_offset = -25200 }

local add, pending, timed, open_fds = helper.add_fault, helper.pending_faults, helper.timed, helper.open_sockets
local function trigger(client) return helper.trigger(client, "fault-agent-") end

local function assert_usable_vb(client)
  local u, err = client:whatsapp_usage()
  assert.is_table(u, err and tostring(err))
  assert.equal(250, u.current_limit)
end

-- The sandbox's error log (scripts/test keeps the sandbox in $CONVAI_SANDBOX_DIR).
local error_log = os.getenv("CONVAI_SANDBOX_DIR") and os.getenv("CONVAI_SANDBOX_DIR") .. "/error.log"
local function error_log_size()
  local f = error_log and io.open(error_log, "rb")
  if not f then return nil end
  local n = f:seek("end")
  f:close()
  return n
end

describe("sandbox faults", function()
  local log_offset

  before_each(function()
    helper.reset()
    log_offset = error_log_size()
  end)

  after_each(function()
    -- a reset also aborts faulted requests still waiting in the sandbox
    helper.reset()
    if log_offset then
      local f = assert(io.open(error_log, "rb"))
      f:seek("set", log_offset)
      local text = f:read("a")
      f:close()
      for line in text:gmatch("[^\n]+") do
        assert.is_nil(line:match("%[(error)%]") or line:match("%[(crit)%]") or line:match("%[(alert)%]")
          or line:match("%[(emerg)%]") or line:find("lua", 1, true), "sandbox error log: " .. line)
      end
    end
  end)

  describe("admin API", function()
    it("adds, lists, consumes after count requests, and clears faults", function()
      local f = add { path = VB_PATH, fault = "status", status = 503, count = 2 }
      assert.same({ id = 1, path = VB_PATH, fault = "status", status = 503, count = 2, remaining = 2 }, f)
      local r = add { path = VG_PATH, fault = "redirect" }
      assert.equal(302, r.status)
      assert.equal("http://localhost:" .. PORT .. "/_sandbox/echo", r.location)
      assert.equal(2, #pending())

      local c = vb_client()
      for i = 1, 2 do
        local u, err = c:whatsapp_usage()
        assert.is_nil(u)
        assert.equal("server", err.kind)
        assert.equal(503, err.status)
        if i == 1 then assert.equal(1, pending()[1].remaining) end
      end
      assert_usable_vb(c) -- consumed after 2 requests
      local left = pending()
      assert.equal(1, #left)
      assert.equal(VG_PATH, left[1].path)

      local _, status = helper.admin("DELETE", "/_sandbox/faults")
      assert.equal(200, status)
      local empty = helper.admin("GET", "/_sandbox/faults")
      assert.same({}, empty.faults)
      add { path = VB_PATH, fault = "reset" }
      helper.reset() -- clears them too
      assert.equal(0, #pending())
      assert_usable_vb(c)
      c:close()
    end)

    it("rejects bad fault descriptions with 400 and adds nothing", function()
      for _, spec in ipairs {
        { path = VB_PATH, fault = "explode" },
        { fault = "reset" },
        { path = "voicebot", fault = "reset" },
        { path = VB_PATH .. "?agent_id=1", fault = "reset" },
        { path = "/_sandbox/log", fault = "reset" },
        { path = VB_PATH, fault = "status" },
        { path = VB_PATH, fault = "status", status = 99 },
        { path = VB_PATH, fault = "status", status = 503, delay_ms = 10 },
        { path = VB_PATH, fault = "delay" },
        { path = VB_PATH, fault = "delay", delay_ms = 600000 },
        { path = VB_PATH, fault = "reset", count = 0 },
        { path = VB_PATH, fault = "reset", count = 1.5 },
        { path = VB_PATH, fault = "reset", mode = "later" },
        { path = VB_PATH, fault = "truncate", size = 10, sent = 10 },
        { path = VB_PATH, fault = "redirect", status = 200 },
        { path = VB_PATH, fault = "slow_body", bytes_per_second = 10, chunk_size = 2 },
        { path = VB_PATH, fault = "invalid_json", body = { a = 1 } },
      } do
        local body, status = helper.admin("POST", "/_sandbox/faults", spec)
        assert.equal(400, status, cjson.encode(spec))
        assert.equal("Bad Request", body.error)
        assert.is_string(body.message)
      end
      local resp = assert(core.session():request { method = "POST", url = helper.url .. "/_sandbox/faults",
        body = "not json" })
      assert.equal(400, resp.status)
      assert.equal(0, #pending())
    end)

    it("applies per exact path, whatever the query, and queues the faults of one path", function()
      add { path = VB_PATH, fault = "status", status = 503 }
      add { path = VB_PATH, fault = "status", status = 429, retry_after = 3 }
      add { path = "/avaamo/bots/analytics/1/usage.json", fault = "status", status = 500 }
      local av = av_client()
      assert.is_table(av:usage(AV_QUERY)) -- agent 20123: another path
      local vb = vb_client()
      local _, err = vb:whatsapp_usage(7) -- ?agent_id=7: the same path
      assert.equal(503, err.status)
      _, err = vb:whatsapp_usage()
      assert.equal("rate_limited", err.kind)
      assert.equal(3, err.retry_after)
      assert_usable_vb(vb)
      local left = pending()
      assert.equal(1, #left)
      assert.equal("/avaamo/bots/analytics/1/usage.json", left[1].path)
      vb:close()
      av:close()
    end)

    it("logs faulted requests with the fault, and they never reach the emulation", function()
      add { path = VG_PATH, fault = "reset", mode = "close" }
      add { path = VG_PATH, fault = "status", status = 503 }
      local vg = vg_client()
      local _, err = trigger(vg) -- a new connection (a reused one would be retried: see below)
      assert.equal("network", err.kind)
      _, err = trigger(vg)
      assert.equal("server", err.kind)
      local vb = vb_client()
      assert.equal(0, assert(vb:whatsapp_usage(1)).current_usage) -- no conversation opened
      assert.equal(200, assert(trigger(vg)).status)
      assert.equal(1, assert(vb:whatsapp_usage(1)).current_usage)
      local log = helper.log()
      assert.equal(5, #log)
      assert.same({ "reset", "status", cjson.null, cjson.null, cjson.null },
        { log[1].fault or cjson.null, log[2].fault or cjson.null, log[3].fault or cjson.null,
          log[4].fault or cjson.null, log[5].fault or cjson.null })
      assert.equal(cjson.null, log[1].status) -- no response at all
      assert.equal("POST", log[1].method)
      assert.equal(VG_PATH, log[1].path)
      assert.is_string(log[1].body)
      assert.equal(503, log[2].status)
      assert.equal(200, log[4].status)
      vg:close()
      vb:close()
    end)
  end)

  describe("status", function()
    it("503 is a server error", function()
      add { path = VB_PATH, fault = "status", status = 503 }
      local c = vb_client()
      local u, err, dt = timed(c.whatsapp_usage, c)
      assert.is_nil(u)
      assert.equal("server", err.kind)
      assert.equal(503, err.status)
      assert.is_nil(err.retry_after)
      assert.equal("Service Unavailable", err.body.error)
      assert.is_true(dt < 2, "elapsed " .. dt)
      assert_usable_vb(c)
      c:close()
    end)

    it("429 with Retry-After delta-seconds is rate_limited with retry_after", function()
      add { path = VG_PATH, fault = "status", status = 429, retry_after = "7" }
      local c = vg_client()
      local r, err = trigger(c)
      assert.is_nil(r)
      assert.equal("rate_limited", err.kind)
      assert.equal(429, err.status)
      assert.equal(7, err.retry_after)
      assert.equal(200, assert(trigger(c)).status)
      c:close()
    end)

    it("429 with Retry-After as an HTTP-date gives the seconds until then", function()
      local date = os.date("!%a, %d %b %Y %H:%M:%S GMT", os.time() + 30)
      add { path = AV_PATH, fault = "status", status = 429, retry_after = date }
      local c = av_client()
      local r, err = c:usage(AV_QUERY)
      assert.is_nil(r)
      assert.equal("rate_limited", err.kind)
      assert.is_number(err.retry_after)
      assert.is_true(err.retry_after >= 25 and err.retry_after <= 31, "retry_after " .. err.retry_after)
      assert.equal(50138, assert(c:usage(AV_QUERY)).aggregate_stats.messages_count)
      -- the header itself, through a bare session
      add { path = AV_PATH, fault = "status", status = 429, retry_after = date }
      local resp = assert(core.session():request { url = helper.url .. AV_PATH })
      assert.equal(429, resp.status)
      assert.equal(date, resp.headers["retry-after"])
      c:close()
    end)

    it("401, 404, 422 and 418 map to auth, not_found, unprocessable and http", function()
      local c = vb_client()
      for _, case in ipairs {
        { 401, "auth", { message = "Unauthenticated." } },
        { 404, "not_found", { message = "Agent not found." } },
        { 422, "unprocessable", { message = "The agent id must be an integer.",
          errors = { agent_id = { "The agent id must be an integer." } } } },
        { 418, "http", nil },
      } do
        add { path = VB_PATH, fault = "status", status = case[1], body = case[3] }
        local u, err = c:whatsapp_usage()
        assert.is_nil(u)
        assert.equal(case[2], err.kind)
        assert.equal(case[1], err.status)
        if case[3] then
          assert.same(case[3], err.body)
          assert.truthy(err.message:find(case[3].message, 1, true), err.message)
        else
          assert.same({ error = "I'm a teapot", message = "sandbox fault" }, err.body)
        end
        assert_usable_vb(c)
      end
      c:close()
    end)
  end)

  describe("timeouts", function()
    it("delay beyond the client's timeout is a timeout, within timeout + margin", function()
      add { path = VB_PATH, fault = "delay", delay_ms = 3000 }
      local c = vb_client(0.5)
      local u, err, dt = timed(c.whatsapp_usage, c)
      assert.is_nil(u)
      assert.equal("timeout", err.kind)
      assert.is_nil(err.status)
      assert.is_true(dt >= 0.45 and dt < 0.5 + MARGIN, "elapsed " .. dt)
      local _, _, dt2 = timed(assert_usable_vb, c)
      assert.is_true(dt2 < 0.5, "next request took " .. dt2)
      c:close()
    end)

    it("delay within the timeout only delays the normal answer", function()
      add { path = VG_PATH, fault = "delay", delay_ms = 300 }
      local c = vg_client(2)
      local r, _, dt = timed(trigger, c)
      assert.equal(200, assert(r).status)
      assert.is_true(dt >= 0.29 and dt < 2, "elapsed " .. dt)
      local log = helper.log()
      assert.equal("delay", log[1].fault)
      assert.equal(200, log[1].status)
      -- it reached the emulation: a conversation was opened on the linked agent 1
      assert.equal(1, assert(vb_client():whatsapp_usage(1)).current_usage)
      c:close()
    end)

    it("a slow body beyond the timeout is a timeout, within timeout + margin", function()
      add { path = VB_PATH, fault = "slow_body", bytes_per_second = 20 } -- ~95 bytes: ~5 s
      local c = vb_client(0.5)
      local u, err, dt = timed(c.whatsapp_usage, c)
      assert.is_nil(u)
      assert.equal("timeout", err.kind)
      assert.is_true(dt >= 0.45 and dt < 0.5 + MARGIN, "elapsed " .. dt)
      assert_usable_vb(c)
      c:close()
    end)

    it("a slow body within the timeout arrives whole", function()
      add { path = VB_PATH, fault = "slow_body", chunk_size = 40, chunk_delay_ms = 100 }
      local s = assert(core.session { timeout = 2 })
      local resp, _, dt = timed(s.request, s, { url = helper.url .. VB_PATH,
        headers = { Authorization = "Bearer " .. helper.env("CONVAI_VOICEBOT_TOKEN") } })
      assert.equal(200, assert(resp).status)
      assert.equal(0, cjson.decode(resp.body).data.business_initiated.current_usage)
      assert.is_true(dt >= 0.25 and dt < 2, "elapsed " .. dt) -- 3 pieces, 100 ms apart
      s:close()
    end)

    it("a reset aborts faulted requests still waiting in the sandbox", function()
      add { path = VG_PATH, fault = "delay", delay_ms = 800 }
      local c = vg_client(0.2)
      local _, err = trigger(c)
      assert.equal("timeout", err.kind)
      helper.reset()
      os.execute("sleep 1")
      assert.equal(0, #helper.log()) -- the delayed request neither answered nor reached the emulation
      assert.equal(0, assert(vb_client():whatsapp_usage(1)).current_usage)
      c:close()
    end)
  end)

  describe("broken responses", function()
    it("a body cut short of its Content-Length is a network error", function()
      add { path = VB_PATH, fault = "truncate", size = 1000, sent = 300 }
      local c = vb_client()
      local u, err, dt = timed(c.whatsapp_usage, c)
      assert.is_nil(u)
      assert.equal("network", err.kind)
      assert.equal(18, err.curl_code) -- CURLE_PARTIAL_FILE
      assert.is_true(dt < 2, "elapsed " .. dt)
      assert_usable_vb(c)
      assert.equal(200, helper.log()[1].status)
      c:close()
    end)

    it("a connection reset (RST) is a network error", function()
      add { path = VB_PATH, fault = "reset" }
      local c = vb_client() -- new connection: libcurl does not retry it
      local u, err, dt = timed(c.whatsapp_usage, c)
      assert.is_nil(u)
      assert.equal("network", err.kind)
      assert.is_nil(err.status)
      assert.equal(56, err.curl_code) -- CURLE_RECV_ERROR: "Connection reset by peer"
      assert.is_true(dt < 2, "elapsed " .. dt)
      assert_usable_vb(c)
      local log = helper.log()
      assert.equal("reset", log[1].fault)
      assert.is_nil(log[1].reset) -- set to "close" when no RST could be sent
      c:close()
    end)

    it("a connection closed without a response is a network error", function()
      add { path = VB_PATH, fault = "reset", mode = "close" }
      local c = vb_client()
      local _, err = c:whatsapp_usage()
      assert.equal("network", err.kind)
      assert.equal(52, err.curl_code) -- CURLE_GOT_NOTHING
      assert_usable_vb(c)
      c:close()
    end)

    it("on a reused connection libcurl retries a reset once, on a new connection", function()
      local s = assert(core.session { timeout = 2 })
      local req = { url = helper.url .. VB_PATH,
        headers = { Authorization = "Bearer " .. helper.env("CONVAI_VOICEBOT_TOKEN") } }
      assert.equal(200, assert(s:request(req)).status) -- warm the connection
      add { path = VB_PATH, fault = "reset" }
      assert.equal(200, assert(s:request(req)).status) -- count 1 is absorbed by the retry
      add { path = VB_PATH, fault = "reset", count = 2 }
      local resp, err = s:request(req)
      assert.is_nil(resp)
      assert.equal("network", err.kind)
      assert.equal(200, assert(s:request(req)).status)
      local faults = {}
      for _, e in ipairs(helper.log()) do faults[#faults + 1] = e.fault or "-" end
      assert.same({ "-", "reset", "-", "reset", "reset", "-" }, faults)
      s:close()
    end)

    it("invalid JSON is a decode error", function()
      add { path = VB_PATH, fault = "invalid_json" }
      add { path = AV_PATH, fault = "invalid_json", body = "<html>oops</html>" }
      local c = vb_client()
      local u, err = c:whatsapp_usage()
      assert.is_nil(u)
      assert.equal("decode", err.kind)
      assert.equal(200, err.status)
      assert_usable_vb(c)
      local av = av_client()
      local r
      r, err = av:usage(AV_QUERY)
      assert.is_nil(r)
      assert.equal("decode", err.kind)
      assert.equal("<html>oops</html>", err.body)
      assert.is_table(av:usage(AV_QUERY))
      c:close()
      av:close()
    end)

    it("an Avaamo body of another shape is a decode error naming the field, with the body as sent", function()
      local s = assert(core.session())
      local good = assert(s:request { url = helper.env("CONVAI_AVAAMO_URL")
        .. "/bots/analytics/20123/usage.json?utc_offset=-25200&from_date=10%2F04%2F2020&to_date=13%2F04%2F2020",
        headers = { ["Access-Token"] = helper.env("CONVAI_AVAAMO_TOKEN") } }).body
      s:close()
      local av = av_client()
      local function with(change)
        local body = assert(cjson.decode(good))
        change(body)
        add { path = AV_PATH, fault = "invalid_json", body = assert(cjson.encode(body)) }
        return av:usage(AV_QUERY)
      end
      local cases = {
        { function(b) b.stats[4].messages_count = 1.5 end, "stats[4].messages_count is not an integer" },
        { function(b) b.stats[9].session_count = nil end, "stats[9].session_count is not an integer" },
        { function(b) b.previous_interval_stats.start_time = "x" end,
          "previous_interval_stats.start_time is not a number" },
        { function(b) b.aggregate_stats = 5 end, "aggregate_stats is not an object" },
        { function(b) b.stats[9] = nil end, "stats is not an array of 9 entries" },
        { function(b) b.stats[2] = "x" end, "stats[2] is not an object" },
        { function(b) b.stats[2].success_rate = "x" end, "stats[2].success_rate is neither a number nor null" },
      }
      for _, c in ipairs(cases) do
        local r, err = with(function(b)
          b.aggregate_stats.success_rate = 50 -- an integer: not yet made a float when the check fails
          c[1](b)
        end)
        assert.is_nil(r)
        assert.equal("decode", err.kind)
        assert.equal("Avaamo: unexpected response: " .. c[2], err.message)
        if type(err.body.aggregate_stats) == "table" then
          assert.equal("integer", math.type(err.body.aggregate_stats.success_rate))
        end
      end
      -- integral values: counts integers (also beyond 2^53, where JSON numbers stay floats), rates floats
      local r = assert(with(function(b)
        b.aggregate_stats.success_rate = 50
        b.stats[3].messages_count = 1e17
      end))
      assert.equal("float", math.type(r.aggregate_stats.success_rate))
      assert.equal(50, r.aggregate_stats.success_rate)
      assert.equal("integer", math.type(r.stats[3].messages_count))
      assert.equal(100000000000000000, r.stats[3].messages_count)
      assert.equal(9, #r.stats)
      av:close()
    end)

    it("a body over the client's 16 MiB cap is too_large", function()
      add { path = VB_PATH, fault = "oversize" } -- 17 MiB, with Content-Length
      local c = vb_client()
      local u, err, dt = timed(c.whatsapp_usage, c)
      assert.is_nil(u)
      assert.equal("too_large", err.kind)
      assert.equal(63, err.curl_code) -- CURLE_FILESIZE_EXCEEDED: refused on the header
      assert.truthy(err.message:find("16777216", 1, true), err.message)
      assert.is_true(dt < 2, "elapsed " .. dt)
      assert_usable_vb(c)
      c:close()
    end)

    it("a chunked body over max_body is too_large, and one under it is whole", function()
      local s = assert(core.session { timeout = 2, max_body = 1024 * 1024 })
      add { path = "/any/path", fault = "oversize", size = 2 * 1024 * 1024, chunked = true }
      local resp, err = s:request { url = helper.url .. "/any/path" }
      assert.is_nil(resp)
      assert.equal("too_large", err.kind)
      assert.equal(23, err.curl_code) -- counted while reading: no Content-Length
      add { path = "/any/path", fault = "oversize", size = 1000, chunked = true }
      resp = assert(s:request { url = helper.url .. "/any/path" })
      assert.equal("chunked", resp.headers["transfer-encoding"])
      assert.equal(1000, #resp.body)
      assert.equal(1000 - 10, #cjson.decode(resp.body).pad)
      resp = assert(s:request { url = helper.url .. "/any/path" }) -- the fault is gone: plain 404
      assert.equal(404, resp.status)
      s:close()
    end)

    it("a redirect to another host is not followed", function()
      local target = "http://localhost:" .. PORT .. VB_PATH .. "?redirected=1"
      add { path = VB_PATH, fault = "redirect", location = target }
      local c = vb_client()
      local u, err = c:whatsapp_usage()
      assert.is_nil(u)
      assert.equal("http", err.kind)
      assert.equal(302, err.status)
      assert.same({ location = target }, err.body)
      local log = helper.log()
      assert.equal(1, #log) -- nothing arrived at the target
      assert.equal("redirect", log[1].fault)
      assert.equal(302, log[1].status)
      add { path = VB_PATH, fault = "redirect", status = 307 }
      local resp = assert(core.session():request { url = helper.url .. VB_PATH })
      assert.equal(307, resp.status)
      assert.equal("http://localhost:" .. PORT .. "/_sandbox/echo", resp.headers.location)
      assert_usable_vb(c)
      c:close()
    end)
  end)

  it("every fault, twice on one client, leaves it usable with no descriptor leak", function()
    local specs = {
      { fault = "status", status = 500 }, { fault = "delay", delay_ms = 2000 },
      { fault = "slow_body", chunk_size = 1, chunk_delay_ms = 200 }, { fault = "truncate" },
      { fault = "reset" }, { fault = "reset", mode = "close" }, { fault = "invalid_json" },
      { fault = "oversize" }, { fault = "redirect" },
    }
    local kinds = { status = "server", delay = "timeout", slow_body = "timeout", truncate = "network",
      reset = "network", invalid_json = "decode", oversize = "too_large", redirect = "http" }
    local before = open_fds()
    local c = vb_client(0.4)
    for _ = 1, 2 do
      for _, spec in ipairs(specs) do
        spec.path = VB_PATH
        spec.count = spec.fault == "reset" and 2 or 1 -- the connection is reused: see the retry above
        add(spec)
        local u, err, dt = timed(c.whatsapp_usage, c)
        assert.is_nil(u)
        assert.equal(kinds[spec.fault], err.kind, spec.fault)
        assert.is_true(dt < 0.4 + MARGIN, spec.fault .. " took " .. dt)
        assert.equal(0, #pending(), spec.fault)
        assert_usable_vb(c)
      end
    end
    local stats = c.http.session:stats()
    assert.equal(4 * #specs, stats.requests)
    c:close()
    assert.equal(before, open_fds())
    assert.same({ ok = true }, helper.admin("GET", "/_sandbox/health"))
  end)
end)
