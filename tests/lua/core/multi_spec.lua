-- core.multi (concurrent requests on a libcurl multi handle, src/lmulti.c) and the rule that a request
-- which is not idempotent is never sent twice (session and multi), over real HTTP to the sandbox.
local helper = require "helper"
local core = require "convai.core"
local cjson = require "cjson.safe"

local URL = helper.url
local VG_PATH = "/vonage/messaging/conversation"
local VB_PATH = "/voicebot/third-party/v1/whatsapp/agent-usage"
local VB_AUTH = { Authorization = "Bearer " .. helper.env("CONVAI_VOICEBOT_TOKEN") }
local REFUSED = "http://127.0.0.1:1/"

local function delay(ms)
  return { url = URL .. "/_sandbox/delay?ms=" .. ms }
end

-- Drive m until nothing is pending; returns {id -> result entry} and the entries in order.
local function drain(m, limit)
  local by_id, order = {}, {}
  local t0 = core.monotonic()
  while m:pending() > 0 do
    assert(core.monotonic() - t0 < (limit or 20), "multi did not finish")
    for _, d in ipairs(assert(m:perform(1))) do
      assert.is_nil(by_id[d.id], "id reported twice")
      by_id[d.id] = d
      order[#order + 1] = d
    end
  end
  return by_id, order
end

local add_fault, open_fds = helper.add_fault, helper.open_sockets

describe("core.multi", function()
  before_each(function() helper.reset() end)

  describe("options", function()
    it("checks them like core.session, plus the connection limits", function()
      local _
      local m, err = core.multi { timeout = 0 }
      assert.is_nil(m)
      assert.equal("invalid_argument", err.kind)
      assert.matches("timeout", err.message)
      m, err = core.multi { max_host_connections = 0 }
      assert.is_nil(m)
      assert.equal("option 'max_host_connections' must be an integer from 1 to 65536", err.message)
      _, err = core.multi { max_total_connections = 2.5 }
      assert.equal("option 'max_total_connections' must be an integer from 1 to 65536", err.message)
      _, err = core.multi { max_total_connections = "8" }
      assert.equal("invalid_argument", err.kind)
      _, err = core.multi { concurrency = 4 }
      assert.equal("unknown option 'concurrency' (known: timeout, connect_timeout, cafile, max_body, "
        .. "user_agent, max_host_connections, max_total_connections)", err.message)
      _, err = core.multi { cafile = "/nonexistent/ca.pem" }
      assert.equal("option 'cafile': cannot read '/nonexistent/ca.pem'", err.message)
      -- the session's message is unchanged
      _, err = core.session { concurrency = 4 }
      assert.equal("unknown option 'concurrency' (known: timeout, connect_timeout, cafile, max_body, "
        .. "user_agent)", err.message)
      assert.has_error(function() core.multi(5) end)
      m = assert(core.multi())
      assert.equal("convai.multi (open)", tostring(m))
      m:close()
      assert.equal("convai.multi (closed)", tostring(m))
    end)
  end)

  describe("add", function()
    it("checks the request now: a bad one is refused, nothing is sent, nothing is pending", function()
      local m = assert(core.multi())
      for _, req in ipairs {
        { url = "ftp://example.com/" },
        { url = URL .. "/a b" },
        { url = URL, method = "G ET" },
        { url = URL, headers = { ["Bad Name"] = "x" } },
        { url = URL, headers = { ["X-Token"] = "abc\r\nInjected: 1" } },
        { url = URL, timeout = 0 },
        { url = URL, connect_timeout = -1 },
        { url = URL, cafile = "/nonexistent/ca.pem" },
        { url = URL, cafile = "" },
      } do
        local id, err = m:add(req)
        assert.is_nil(id)
        assert.equal("invalid_argument", err.kind)
        assert.is_false(err.request_sent)
        assert.is_nil(err.message:find("abc", 1, true)) -- header values never shown
      end
      assert.equal(0, m:pending())
      assert.same({ requests = 0, connections = 0 }, m:stats())
      assert.same({}, m:perform(0))
      assert.equal(0, #helper.log())
      m:close()
    end)

    it("raises for wrong types, like session:request", function()
      local m = assert(core.multi())
      assert.has_error(function() m:add("http://x/") end)
      assert.has_error(function() m:add {} end) -- url is required
      assert.has_error(function() m:add { url = URL, method = 5 } end)
      assert.has_error(function() m:add { url = URL, headers = "x" } end)
      assert.has_error(function() m:add { url = URL, headers = { X = 1 } } end)
      assert.has_error(function() m:add { url = URL, timeout = "1" } end)
      assert.has_error(function() m:add { url = URL, cafile = 1 } end)
      assert.equal(0, m:pending())
      m:close()
    end)

    it("gives increasing positive integer ids; the transfer starts at perform", function()
      local m = assert(core.multi())
      local a = assert(m:add(delay(0)))
      local b = assert(m:add(delay(0)))
      assert.equal(1, a)
      assert.equal(2, b)
      if math.type then assert.equal("integer", math.type(a)) end
      assert.equal(2, m:pending())
      assert.equal(0, #helper.admin("GET", "/_sandbox/log").requests) -- the admin API is not logged
      local by_id = drain(m)
      assert.equal(200, by_id[a].response.status)
      assert.equal(200, by_id[b].response.status)
      assert.equal(3, assert(m:add(delay(0))))
      drain(m)
      m:close()
    end)
  end)

  describe("perform", function()
    it("returns at once with nothing pending, and validates wait", function()
      local m = assert(core.multi())
      local t0 = core.monotonic()
      assert.same({}, m:perform(5))
      assert.is_true(core.monotonic() - t0 < 0.5)
      assert.has_error(function() m:perform(-1) end)
      assert.has_error(function() m:perform(0 / 0) end)
      assert.has_error(function() m:perform("soon") end)
      m:close()
    end)

    it("blocks at most about wait seconds when nothing completes", function()
      local m = assert(core.multi())
      assert(m:add(delay(1500)))
      local t0 = core.monotonic()
      local done = assert(m:perform(0.2))
      local dt = core.monotonic() - t0
      assert.same({}, done)
      assert.is_true(dt < 1.2, "elapsed " .. dt)
      assert.equal(1, m:pending())
      drain(m)
      m:close()
    end)

    it("runs 16 requests of 0.5 s at once, well under the 8 s they take one by one", function()
      local m = assert(core.multi())
      local ids = {}
      for i = 1, 16 do ids[i] = assert(m:add(delay(500))) end
      local t0 = core.monotonic()
      local by_id, order = drain(m)
      local dt = core.monotonic() - t0
      assert.is_true(dt >= 0.45 and dt < 4, "elapsed " .. dt)
      assert.equal(16, #order)
      for _, id in ipairs(ids) do
        assert.equal(200, by_id[id].response.status)
        assert.same({ ok = true }, cjson.decode(by_id[id].response.body))
      end
      assert.same({ requests = 16, connections = 16 }, m:stats())
      m:close()
    end)

    it("reports in completion order", function()
      local m = assert(core.multi())
      local slow = assert(m:add(delay(600)))
      local fast = assert(m:add(delay(0)))
      local _, order = drain(m)
      assert.equal(fast, order[1].id)
      assert.equal(slow, order[2].id)
      m:close()
    end)

    it("keeps connections alive between requests (stats)", function()
      local m = assert(core.multi { max_host_connections = 4, max_total_connections = 4 })
      for _ = 1, 4 do assert(m:add(delay(200))) end
      drain(m)
      assert.same({ requests = 4, connections = 4 }, m:stats())
      for _ = 1, 3 do
        for _ = 1, 4 do assert(m:add(delay(0))) end
        drain(m)
      end
      assert.same({ requests = 16, connections = 4 }, m:stats())
      m:close()
    end)

    it("respects max_host_connections: requests beyond it wait for a connection", function()
      local m = assert(core.multi { max_host_connections = 2 })
      for _ = 1, 6 do assert(m:add(delay(300))) end
      local t0 = core.monotonic()
      local by_id = drain(m)
      local dt = core.monotonic() - t0
      -- three rounds of two: at least 0.9 s (16 at once would take 0.3 s)
      assert.is_true(dt >= 0.85, "elapsed " .. dt)
      for id = 1, 6 do assert.equal(200, by_id[id].response.status) end
      assert.equal(2, m:stats().connections)
      m:close()
    end)

    it("respects max_total_connections", function()
      local m = assert(core.multi { max_total_connections = 3 })
      for _ = 1, 6 do assert(m:add(delay(300))) end
      local t0 = core.monotonic()
      drain(m)
      local dt = core.monotonic() - t0
      assert.is_true(dt >= 0.55, "elapsed " .. dt) -- two rounds of three
      assert.equal(3, m:stats().connections)
      m:close()
    end)

    it("gives the same response as session:request", function()
      local m = assert(core.multi())
      local s = assert(core.session())
      local req = { url = URL .. VB_PATH, headers = VB_AUTH }
      local id = assert(m:add(req))
      local got = drain(m)[id].response
      local want = assert(s:request(req))
      assert.equal(want.status, got.status)
      assert.equal(want.body, got.body)
      want.headers.date, got.headers.date = nil, nil
      assert.same(want.headers, got.headers)
      -- and the request sent is the same (method, headers, body)
      local echo = { method = "PATCH", url = URL .. "/_sandbox/echo?x=1", body = "{\"a\":1}",
        headers = { ["Content-Type"] = "application/json", ["X-Empty"] = "" } }
      id = assert(m:add(echo))
      got = cjson.decode(drain(m)[id].response.body)
      want = cjson.decode(assert(s:request(echo)).body)
      assert.same(want, got)
      assert.equal("PATCH", got.method)
      assert.equal("{\"a\":1}", got.body)
      s:close()
      m:close()
    end)

    it("sets every request up afresh on a pooled handle: headers, method and body never carry over", function()
      local m = assert(core.multi())
      local h = { ["X-Test"] = "a" }
      local function echo(req)
        req.url = URL .. "/_sandbox/echo"
        local id = assert(m:add(req))
        return cjson.decode(assert(drain(m)[id].response).body)
      end
      assert.equal("a", echo({ headers = h }).headers["x-test"])
      h["X-Test"] = "a much longer value than before, for another allocation"
      local got = echo({ headers = h })
      assert.equal("GET", got.method)
      assert.equal(h["X-Test"], got.headers["x-test"])
      assert.equal("b", echo({ headers = { ["X-Test"] = "b" } }).headers["x-test"])
      h["X-Test"] = "bad\nX-Evil: 1"
      local id, err = m:add { url = URL .. "/_sandbox/echo", headers = h }
      assert.is_nil(id)
      assert.equal("invalid_argument", err.kind)
      h["X-Test"] = "c"
      got = echo({ method = "POST", headers = h, body = "xyz" })
      assert.equal("POST", got.method)
      assert.equal("xyz", got.body)
      got = echo({ headers = h })
      assert.equal("GET", got.method)
      assert.equal("c", got.headers["x-test"])
      assert.equal(cjson.null, got.body)
      got = echo({})
      assert.is_nil(got.headers["x-test"])
      m:close()
    end)

    it("copies request bodies: the request table may go away before perform", function()
      local m = assert(core.multi())
      local ids = {}
      for i = 1, 4 do
        ids[i] = assert(m:add { method = "POST", url = URL .. "/_sandbox/echo",
          headers = { ["Content-Type"] = "text/plain" }, body = string.rep(tostring(i), 1000 + i) })
      end
      collectgarbage()
      collectgarbage()
      local by_id = drain(m)
      for i = 1, 4 do
        assert.equal(string.rep(tostring(i), 1000 + i), cjson.decode(by_id[ids[i]].response.body).body)
      end
      m:close()
    end)

    it("maps failures to the same errors as session:request", function()
      local m = assert(core.multi { timeout = 5 })
      local s = assert(core.session { timeout = 5 })
      local cases = {
        { req = { url = REFUSED }, kind = "network", code = 7, sent = false },
        { req = { url = URL .. "/_sandbox/delay?ms=2000", timeout = 0.3 }, kind = "timeout", code = 28,
          sent = true },
        { req = { url = URL .. "/_sandbox/bytes?n=100000" }, kind = "too_large", sent = true,
          opts = { max_body = 1000 } },
      }
      for _, c in ipairs(cases) do
        local mm, ss = m, s
        if c.opts then
          mm, ss = assert(core.multi(c.opts)), assert(core.session(c.opts))
        end
        local id = assert(mm:add(c.req))
        local got = drain(mm)[id]
        assert.is_nil(got.response)
        local _, want = ss:request(c.req)
        local e = got.error
        assert.is_true(core.is_error(e))
        assert.equal(c.kind, e.kind)
        assert.equal(want.kind, e.kind)
        assert.equal(want.curl_code, e.curl_code)
        if c.code then assert.equal(c.code, e.curl_code) end
        assert.equal(c.sent, e.request_sent)
        assert.equal(want.request_sent, e.request_sent)
        assert.equal(want.message:gsub("%d+", "N"), (e.message:gsub("%d+", "N")))
        if c.opts then mm:close(); ss:close() end
      end
      -- a failure does not disturb the others in the same perform
      local ok1 = assert(m:add(delay(100)))
      local bad = assert(m:add { url = REFUSED })
      local ok2 = assert(m:add(delay(100)))
      local by_id = drain(m)
      assert.equal(200, by_id[ok1].response.status)
      assert.equal("network", by_id[bad].error.kind)
      assert.equal(200, by_id[ok2].response.status)
      s:close()
      m:close()
    end)

    it("gives each request its own timeout", function()
      local m = assert(core.multi { timeout = 5 })
      local short = assert(m:add { url = URL .. "/_sandbox/delay?ms=1500", timeout = 0.3 })
      local long = assert(m:add { url = URL .. "/_sandbox/delay?ms=600" })
      local t0 = core.monotonic()
      local _, order = drain(m)
      assert.is_true(core.monotonic() - t0 < 1.4)
      assert.equal(short, order[1].id)
      assert.equal("timeout", order[1].error.kind)
      assert.equal(long, order[2].id)
      assert.equal(200, order[2].response.status)
      m:close()
    end)
  end)

  describe("close", function()
    it("aborts the requests in flight, is idempotent, and leaks no descriptor", function()
      local before = open_fds()
      local m = assert(core.multi())
      for _ = 1, 8 do assert(m:add(delay(3000))) end
      assert.same({}, m:perform(0.2)) -- connected and sent, none complete
      assert.equal(8, m:pending())
      local t0 = core.monotonic()
      m:close()
      assert.is_true(core.monotonic() - t0 < 1)
      m:close()
      assert.equal(0, m:pending())
      assert.same({ requests = 8, connections = 0 }, m:stats())
      local id, err = m:add(delay(0))
      assert.is_nil(id)
      assert.equal("invalid_argument", err.kind)
      assert.equal("multi is closed", err.message)
      assert.is_false(err.request_sent)
      local done
      done, err = m:perform(0)
      assert.is_nil(done)
      assert.equal("multi is closed", err.message)
      assert.equal(before, open_fds())
    end)

    it("is done by the collector, with requests in flight", function()
      local before = open_fds()
      do
        local m = assert(core.multi())
        for _ = 1, 4 do assert(m:add(delay(3000))) end
        m:perform(0.2)
      end
      assert.equal(before, open_fds()) -- open_fds collects garbage first
    end)

    if _VERSION == "Lua 5.4" then
      it("is done by <close>", function()
        local f = assert(load [[
          local core = ...
          local m <close> = assert(core.multi())
          return m
        ]])
        local m = f(core)
        assert.equal("convai.multi (closed)", tostring(m))
      end)
    end
  end)
end)

-- libcurl 7.88 sends a request again on a new connection when a reused connection dies before any
-- response byte: for a POST that could message a person twice. Non-idempotent requests never reuse a
-- connection, so libcurl never retries them.
describe("a POST is never sent twice", function()
  before_each(function() helper.reset() end)
  after_each(function() helper.reset() end)

  local function posts()
    local n = 0
    for _, e in ipairs(helper.log()) do
      if e.method == "POST" and e.path == VG_PATH then n = n + 1 end
    end
    return n
  end

  local post = { method = "POST", url = URL .. VG_PATH, body = "{}",
    headers = { ["Content-Type"] = "application/json" } }

  it("session: after a GET warmed the connection, a reset POST is an error, sent once", function()
    local s = assert(core.session { timeout = 5 })
    assert.equal(200, assert(s:request { url = URL .. "/_sandbox/health" }).status) -- warm
    add_fault { path = VG_PATH, fault = "reset", count = 2 }
    local resp, err = s:request(post)
    assert.is_nil(resp)
    assert.equal("network", err.kind)
    assert.is_true(err.request_sent) -- reset after the request was written
    assert.equal(1, posts())
    assert.equal(1, #helper.admin("GET", "/_sandbox/faults").faults) -- one use left: no retry took it
    -- a GET on a reused connection is still retried by libcurl (idempotent): see faults_spec
    assert.equal(2, s:stats().connections) -- the POST had a connection of its own
    s:close()
  end)

  it("multi: after a GET warmed the connection, a reset POST is an error, sent once", function()
    local m = assert(core.multi { timeout = 5, max_host_connections = 1 })
    assert(m:add { url = URL .. "/_sandbox/health" })
    drain(m)
    add_fault { path = VG_PATH, fault = "reset", count = 2 }
    local id = assert(m:add(post))
    local got = drain(m)[id]
    assert.is_nil(got.response)
    assert.equal("network", got.error.kind)
    assert.is_true(got.error.request_sent)
    assert.equal(1, posts())
    assert.equal(1, #helper.admin("GET", "/_sandbox/faults").faults)
    m:close()
  end)

  it("PATCH and other non-idempotent methods get a fresh connection; GET, PUT, DELETE reuse", function()
    local s = assert(core.session())
    local function conns(method)
      local before = s:stats().connections
      assert(s:request { method = method, url = URL .. "/_sandbox/echo" })
      return s:stats().connections - before
    end
    conns("GET") -- warm
    assert.equal(0, conns("GET"))
    assert.equal(0, conns("PUT"))
    assert.equal(0, conns("DELETE"))
    assert.equal(1, conns("POST"))
    assert.equal(1, conns("PATCH"))
    assert.equal(1, conns("PURGE"))
    s:close()
  end)

  it("request_sent is false when the connection cannot be made", function()
    local s = assert(core.session())
    local _, err = s:request { method = "POST", url = REFUSED, body = "x" }
    assert.equal("network", err.kind)
    assert.is_false(err.request_sent)
    local m = assert(core.multi())
    local id = assert(m:add { method = "POST", url = REFUSED, body = "x" })
    err = drain(m)[id].error
    assert.equal("network", err.kind)
    assert.is_false(err.request_sent)
    s:close()
    m:close()
  end)
end)
