-- session_nginx_spec.lua - core.session over real HTTP (src/lsession.c, src/transfer.c,
-- src/response.c), against a throwaway nginx (tests/core_nginx.lua) started in setup and stopped in
-- teardown; pending when nginx is not installed. The https tests also need the openssl command to make
-- a self-signed certificate.

local helper = require "core_helper"
local core = helper.core
local nginx = require "core_nginx"
local is_integer = helper.is_integer

local E = core.errors

local BIG = nginx.BIG -- served files bigger than MAX_BODY

-- "request target|Host" from the body of the test nginx's /target/ answer.
local function sent(body) return (body:match("^([^|]*|[^|]*)|")) end
local MAX_BODY = 1024 * 1024

describe("convai.core session (nginx)", function()
  if not nginx.NGINX then
    it("needs nginx", function() pending("nginx is not installed") end)
    return
  end

  local server
  lazy_setup(function() server = nginx.start() end)
  lazy_teardown(function() nginx.stop(server) end)

  local s
  before_each(function() s = assert(core.session { max_body = MAX_BODY }) end)
  after_each(function() s:close() end)

  it("gets a page", function()
    local resp = assert(s:request { url = server.base .. "/index.txt" })
    assert.equal(200, resp.status)
    assert.is_true(is_integer(resp.status))
    assert.equal("hello\n", resp.body)
    assert.equal("6", resp.headers["content-length"])
    assert.equal("text/plain", resp.headers["content-type"])
    assert.is_nil(resp.headers["Content-Type"])
  end)

  it("makes the headers table when it is first read, then the response is a plain table", function()
    local resp = assert(s:request { url = server.base .. "/index.txt" })
    assert.is_nil(rawget(resp, "headers"))
    assert.is_nil(resp.other)
    assert.is_table(getmetatable(resp))
    local h = resp.headers
    assert.equal("6", h["content-length"])
    assert.equal(h, rawget(resp, "headers"))
    assert.equal(h, resp.headers) -- the same table every time
    assert.is_nil(getmetatable(resp))
    local keys = {}
    for k in pairs(resp) do keys[#keys + 1] = k end
    table.sort(keys)
    assert.same({ "body", "headers", "status" }, keys)
    -- a response read after the next request on the same session still has its own headers
    local a = assert(s:request { url = server.base .. "/index.txt" })
    local b = assert(s:request { url = server.base .. "/headers" })
    assert.equal("text/plain", a.headers["content-type"])
    assert.is_nil(a.headers["x-multi"])
    assert.equal("one, two", b.headers["x-multi"])
  end)

  it("reuses one connection for many requests (keep-alive)", function()
    for i = 1, 10 do
      local resp = assert(s:request { url = server.base .. "/index.txt" })
      assert.equal(200, resp.status)
      assert.equal(i, s:stats().requests)
    end
    assert.same({ requests = 10, connections = 1 }, s:stats())
  end)

  it("lower-cases header names and joins repeated headers", function()
    local resp = assert(s:request { url = server.base .. "/headers" })
    assert.equal("one, two", resp.headers["x-multi"])
    assert.equal("Yes", resp.headers["x-mixed-case"])
    for name in pairs(resp.headers) do
      assert.equal(name:lower(), name)
    end
  end)

  it("sends method, headers and body, one round trip", function()
    local resp = assert(s:request { method = "POST",
      url = server.base .. "/echo", body = "abc",
      headers = { ["X-Test"] = "yes", ["Content-Type"] = "text/plain" } })
    -- no "Expect: 100-continue"; default user agent
    assert.equal("POST||3|yes|convai/0.1.0", resp.body)
    -- a GET after a POST is really a GET, without the old body/headers
    resp = assert(s:request { url = server.base .. "/echo" })
    assert.equal("GET||||convai/0.1.0", resp.body)
    -- libcurl would add "Expect: 100-continue" to bodies over 1 MiB
    local big = string.rep("b", 1100000)
    resp = assert(s:request { method = "POST", url = server.base .. "/echo",
      body = big })
    assert.equal("POST||1100000||convai/0.1.0", resp.body)
    resp = assert(s:request { method = "PUT", url = server.base .. "/echo",
      body = "12345" })
    assert.equal("PUT||5||convai/0.1.0", resp.body)
    resp = assert(s:request { method = "DELETE",
      url = server.base .. "/echo" })
    assert.equal("DELETE||||convai/0.1.0", resp.body)
    resp = assert(s:request { method = "POST", url = server.base .. "/echo" })
    assert.equal("POST||0||convai/0.1.0", resp.body)
    resp = assert(s:request { method = "HEAD",
      url = server.base .. "/index.txt" })
    assert.equal(200, resp.status)
    assert.equal("", resp.body)
    -- each POST on a connection of its own, closed after it (never
    -- re-sent by libcurl: see request), the others on one kept-alive
    -- connection: 3 POSTs, 4 connections
    assert.equal(4, s:stats().connections)
  end)

  it("sets every request up afresh: headers, method, body and timeouts never carry over", function()
    -- between two plain GETs only what differs is set again; the same header table (or an equal
    -- one) is not checked again, a changed one is
    local echo = server.base .. "/echo"
    local h = { ["X-Test"] = "a" }
    assert.equal("GET|||a|convai/0.1.0", assert(s:request { url = echo, headers = h }).body)
    h["X-Test"] = "a much longer value than before, for another allocation"
    local long = "GET|||a much longer value than before, for another allocation|convai/0.1.0"
    assert.equal(long, assert(s:request { url = echo, headers = h }).body)
    assert.equal(long, assert(s:request { url = echo, headers = h }).body)
    assert.equal("GET|||b|convai/0.1.0",
      assert(s:request { url = echo, headers = { ["X-Test"] = "b" } }).body)
    h["X-Test"] = "bad\r\nX-Evil: 1"
    local resp, err = s:request { url = echo, headers = h }
    assert.is_nil(resp)
    assert.equal("invalid_argument", err.kind)
    h["X-Test"] = "b"
    h[1] = "x"
    assert.has_error(function() s:request { url = echo, headers = h } end)
    h[1] = nil
    h["X-Test"] = ""
    assert.equal("GET||||convai/0.1.0", assert(s:request { url = echo, headers = h }).body)
    h["X-Test"] = "c"
    assert.equal("GET|||c|convai/0.1.0", assert(s:request { url = echo, headers = h }).body)
    assert.equal("GET||||convai/0.1.0", assert(s:request { url = echo, headers = {} }).body)
    assert.equal("GET|||c|convai/0.1.0", assert(s:request { url = echo, headers = h }).body)
    assert.equal("GET||||convai/0.1.0", assert(s:request { url = echo }).body)
    -- the same headers with a body, then without
    assert.equal("POST||3|c|convai/0.1.0",
      assert(s:request { method = "POST", url = echo, headers = h, body = "abc" }).body)
    assert.equal("GET|||c|convai/0.1.0", assert(s:request { url = echo, headers = h }).body)
    assert.equal("PUT||0|c|convai/0.1.0",
      assert(s:request { method = "PUT", url = echo, headers = h }).body)
    assert.equal("GET|||c|convai/0.1.0", assert(s:request { url = echo, headers = h }).body)
    -- HEAD, then a GET reads a body again; another method, then GET
    assert.equal("", assert(s:request { method = "HEAD", url = server.base .. "/index.txt" }).body)
    assert.equal("hello\n", assert(s:request { url = server.base .. "/index.txt" }).body)
    assert.equal("OPTIONS|||c|convai/0.1.0",
      assert(s:request { method = "OPTIONS", url = echo, headers = h }).body)
    assert.equal("GET|||c|convai/0.1.0", assert(s:request { url = echo, headers = h }).body)
    -- a timeout given after plain GETs with another one applies, and the default comes back
    assert(s:request { url = server.base .. "/index.txt", timeout = 60 })
    local t0 = core.monotonic()
    resp, err = s:request { url = server.base .. "/slow/file.bin", timeout = 0.3 }
    assert.is_nil(resp)
    assert.equal("timeout", err.kind)
    assert.is_true(core.monotonic() - t0 < 5)
    assert.equal("hello\n", assert(s:request { url = server.base .. "/index.txt" }).body)
  end)

  it("uses the user_agent option and per-request headers", function()
    local s2 = assert(core.session { user_agent = "test-agent/1" })
    local resp = assert(s2:request { url = server.base .. "/echo" })
    assert.equal("GET||||test-agent/1", resp.body)
    resp = assert(s2:request { url = server.base .. "/echo",
      headers = { ["User-Agent"] = "override" } })
    assert.equal("GET||||override", resp.body)
    -- back to no headers, then other headers: the session's agent again each time (the header list
    -- is kept between requests, the agent in it)
    resp = assert(s2:request { url = server.base .. "/echo" })
    assert.equal("GET||||test-agent/1", resp.body)
    resp = assert(s2:request { url = server.base .. "/echo", headers = { ["X-Test"] = "t" } })
    assert.equal("GET|||t|test-agent/1", resp.body)
    resp = assert(s2:request { url = server.base .. "/echo", headers = { ["user-agent"] = "lower" } })
    assert.equal("GET||||lower", resp.body)
    resp = assert(s2:request { url = server.base .. "/echo", headers = { ["X-Test"] = "t" } })
    assert.equal("GET|||t|test-agent/1", resp.body)
    s2:close()
  end)

  it("keeps only the final response's headers after 100 Continue", function()
    local resp = assert(s:request { method = "POST",
      url = server.base .. "/echo", body = "abc",
      headers = { Expect = "100-continue" } })
    assert.equal(200, resp.status)
    assert.equal("POST|100-continue|3||convai/0.1.0", resp.body)
    assert.equal("text/plain", resp.headers["content-type"])
  end)

  it("does not follow redirects", function()
    local resp = assert(s:request { url = server.base .. "/redirect" })
    assert.equal(302, resp.status)
    assert.truthy(resp.headers.location:find("/index.txt", 1, true))
  end)

  it("returns non-2xx responses as responses", function()
    local resp = assert(s:request { url = server.base .. "/teapot" })
    assert.equal(418, resp.status)
    assert.equal("short and stout", resp.body)
    resp = assert(s:request { url = server.base .. "/missing" })
    assert.equal(404, resp.status)
    assert.equal("not_found", core.error_for_status(resp.status))
  end)

  it("refuses bodies over max_body (Content-Length)", function()
    local resp, err = s:request { url = server.base .. "/big.bin" }
    assert.is_nil(resp)
    assert.equal("too_large", err.kind)
    assert.equal(63, err.curl_code) -- CURLE_FILESIZE_EXCEEDED
    assert.truthy(err.message:find(tostring(MAX_BODY), 1, true))
    -- still usable
    assert.equal(200, assert(s:request {
      url = server.base .. "/index.txt" }).status)
  end)

  it("refuses bodies over max_body (chunked, no length)", function()
    local resp, err = s:request { url = server.base .. "/chunked/big.html" }
    assert.is_nil(resp)
    assert.equal("too_large", err.kind)
    assert.equal(23, err.curl_code) -- CURLE_WRITE_ERROR from our cap
    assert.is_true(err.request_sent)
    local ok = assert(core.session { max_body = 4 * BIG })
    resp = assert(ok:request { url = server.base .. "/chunked/big.html" })
    assert.equal(200, resp.status)
    assert.is_nil(resp.headers["content-length"])
    assert.equal("chunked", resp.headers["transfer-encoding"])
    ok:close()
  end)

  it("times out", function()
    local t0 = os.time()
    local resp, err = s:request { url = server.base .. "/slow/file.bin",
      timeout = 0.5 }
    assert.is_nil(resp)
    assert.equal("timeout", err.kind)
    assert.equal(28, err.curl_code) -- CURLE_OPERATION_TIMEDOUT
    assert.is_true(err.request_sent)
    assert.is_true(os.time() - t0 <= 5)
    assert.equal(200, assert(s:request {
      url = server.base .. "/index.txt" }).status)
  end)

  it("fails with the codes and kinds of core.errors", function()
    local _
    local resp, err = s:request { url = server.base .. "/slow/file.bin", timeout = 0.3 }
    assert.is_nil(resp)
    assert.equal(E.curl.OPERATION_TIMEDOUT, err.curl_code)
    assert.equal(E.curl_kind[err.curl_code], err.kind)
    _, err = s:request { url = server.base .. "/big.bin" } -- Content-Length over max_body
    assert.equal(E.curl.FILESIZE_EXCEEDED, err.curl_code)
    assert.equal(E.curl_kind[err.curl_code], err.kind)
    -- a chunked body over max_body: refused by the core's callback, so WRITE_ERROR and too_large
    _, err = s:request { url = server.base .. "/chunked/big.html" }
    assert.equal(E.curl.WRITE_ERROR, err.curl_code)
    assert.equal("too_large", err.kind)
    resp = assert(s:request { url = server.base .. "/teapot" })
    assert.equal("http", E.status_kind(resp.status))
    resp = assert(s:request { url = server.base .. "/missing" })
    assert.equal("not_found", E.status_kind(resp.status))
    if server.tls_base then
      _, err = s:request { url = server.tls_base .. "/index.txt" } -- a certificate nobody trusts
      assert.equal(E.curl.PEER_FAILED_VERIFICATION, err.curl_code)
      assert.equal(E.curl_kind[err.curl_code], err.kind)
    end
  end)

  describe("decode", function()
    it("decodes a 2xx body in the same call: status, value, typed, and no response table", function()
      local status, value, typed = s:request({ url = server.base .. "/json" }, core.json_decode)
      assert.equal(200, status)
      assert.is_true(is_integer(status))
      assert.same({ data = { n = 7, ok = true }, list = { 1, nil, "x" } }, value)
      assert.is_true(is_integer(value.data.n))
      assert.is_nil(typed)
      assert.equal(3, select("#", s:request({ url = server.base .. "/json" }, core.json_decode)))
    end)

    it("hands over what a decoder made by json_decoder says of the shape", function()
      local good = core.json_decoder { data = { n = "integer", ok = "boolean" } }
      local bad = core.json_decoder { data = { n = "string" } }
      local picked = core.json_decoder({ data = { n = "integer" } }, { pick = { "data" } })
      local status, value, typed = s:request({ url = server.base .. "/json" }, good)
      assert.equal(200, status)
      assert.is_true(typed)
      assert.equal(7, value.data.n)
      status, value, typed = s:request({ url = server.base .. "/json" }, bad)
      assert.equal(200, status)
      assert.is_false(typed)
      assert.equal(7, value.data.n)
      status, value, typed = s:request({ url = server.base .. "/json" }, picked)
      assert.equal(200, status)
      assert.is_true(typed)
      assert.same({ n = 7 }, value)
      -- any other function gets the body as a string
      status, value, typed = s:request({ url = server.base .. "/json" }, function(body)
        return #body, "mine"
      end)
      assert.equal(200, status)
      assert.equal(#'{"data":{"n":7,"ok":true},"list":[1,null,"x"]}', value)
      assert.equal("mine", typed)
    end)

    it("returns the whole response when the body is not JSON or the status not 2xx", function()
      local calls = 0
      local function decode(body)
        calls = calls + 1
        return core.json_decode(body)
      end
      local resp, extra = s:request({ url = server.base .. "/index.txt" }, decode)
      assert.equal(1, calls)
      assert.is_nil(extra)
      assert.equal(200, resp.status)
      assert.equal("hello\n", resp.body)
      assert.equal("text/plain", resp.headers["content-type"])
      resp = assert(s:request({ url = server.base .. "/teapot" }, decode))
      assert.equal(1, calls) -- not called for a 418
      assert.equal(418, resp.status)
      assert.equal("short and stout", resp.body)
      resp = assert(s:request({ url = server.base .. "/redirect" }, decode))
      assert.equal(1, calls)
      assert.equal(302, resp.status)
      assert.matches("/index%.txt$", resp.headers.location)
      local r2, err = s:request({ url = "http://127.0.0.1:1/" }, decode)
      assert.is_nil(r2)
      assert.equal("network", err.kind)
      assert.equal(1, calls)
    end)

    it("lets an error raised by decode through and stays usable", function()
      assert.has_error(function()
        s:request({ url = server.base .. "/json" }, function() error("decoder broke") end)
      end, "decoder broke")
      local status, value = s:request({ url = server.base .. "/json" }, core.json_decode)
      assert.equal(200, status)
      assert.equal(7, value.data.n)
      assert.has_error(function() s:request({ url = server.base .. "/json" }, "json") end)
    end)
  end)

  describe("https", function()
    it("rejects an unknown certificate before sending", function()
      if not server.tls_base then return pending("openssl missing") end
      local resp, err = s:request { url = server.tls_base .. "/index.txt" }
      assert.is_nil(resp)
      assert.equal("tls", err.kind)
      assert.is_false(err.request_sent)
    end)

    it("trusts the cafile option", function()
      if not server.tls_base then return pending("openssl missing") end
      local t = assert(core.session { cafile = server.dir .. "/cert.pem" })
      local resp = assert(t:request { url = server.tls_base .. "/index.txt" })
      assert.equal(200, resp.status)
      assert.equal("hello\n", resp.body)
      -- the host name is verified too: the certificate names localhost only
      local url = server.tls_base:gsub("localhost", "127.0.0.1")
      local r2, err = t:request { url = url .. "/index.txt" }
      assert.is_nil(r2)
      assert.equal("tls", err.kind)
      assert.is_false(err.request_sent)
      t:close()
    end)
  end)

  -- libcurl is handed each URL parsed once, in a URL handle (src/transfer.c, set_url): the same URL
  -- again sets nothing, another query on the same resource sets only the query, anything else is parsed
  -- whole. Whatever the order, each request must reach the server exactly as a fresh session, which
  -- parses its URL whole, sends it.
  describe("each URL as given, whatever came before", function()

    -- "request target|Host" as the server received them, through `session` (a fresh one when nil).
    local function target(session, url)
      local fresh = session == nil
      session = session or assert(core.session())
      local resp, err = session:request { url = url }
      if fresh then session:close() end
      if not resp then return nil, err end
      assert.equal(200, resp.status)
      return sent(resp.body)
    end

    local function urls()
      local base, other = server.base, server.base:gsub("127%.0%.0%.1", "localhost")
      return {
        base .. "/target/a?x=1",
        base .. "/target/a?x=2", -- the query only
        base .. "/target/a?x=2", -- the same URL
        base .. "/target/a?x=%2F&y=a+b&z=%7e", -- kept as given, neither decoded nor encoded
        base .. "/target/a", -- no query
        base .. "/target/a?x=3",
        base .. "/target/a?", -- an empty query
        base .. "/target/a?x=4",
        base .. "/target/b?x=4", -- another path, same query
        base .. "/target/b?x=5#frag", -- a fragment is not sent
        base .. "/target/b?x=6",
        other .. "/target/b?x=6", -- another host, same path and query
        base .. "/target/./c/../b?x=7", -- dot segments, removed
        base .. "/target/./c/../b?x=8", -- then the query only, after such a path
        base .. "/target/B?x=8", -- the path's case matters
        base:upper():gsub("^HTTP", "http") .. "/target/b?x=9", -- the host's does not
      }
    end

    it("sends every URL of a sequence as a fresh session sends it", function()
      local list = urls()
      local want = {}
      for i, url in ipairs(list) do want[i] = assert(target(nil, url)) end
      assert.equal("/target/a?x=2|127.0.0.1", want[2])
      assert.equal("/target/b?x=5|127.0.0.1", want[10])
      assert.equal("/target/b?x=6|localhost", want[12])
      assert.equal("/target/b?x=7|127.0.0.1", want[13])
      assert.equal("/target/b?x=8|127.0.0.1", want[14])
      -- forwards, backwards, and every URL after every other one, on one session
      for i = 1, #list do assert.equal(want[i], target(s, list[i]), list[i]) end
      for i = #list, 1, -1 do assert.equal(want[i], target(s, list[i]), list[i]) end
      for i = 1, #list do
        for j = 1, #list do
          assert.equal(want[i], target(s, list[i]), list[i])
          assert.equal(want[j], target(s, list[j]), list[i] .. " then " .. list[j])
        end
      end
      assert.equal(2, s:stats().connections) -- one per host: the URL handle keeps keep-alive
    end)

    it("refuses a URL libcurl cannot parse and then sends the next as given", function()
      local good = server.base .. "/target/a?x=1"
      assert.equal("/target/a?x=1|127.0.0.1", target(s, good))
      for _, bad in ipairs { "http://[::1/target/a?x=1", server.base .. ":x/target/a?x=2" } do
        local resp, err = s:request { url = bad }
        assert.is_nil(resp, bad)
        assert.equal("invalid_argument", err.kind)
        assert.equal(E.curl.URL_MALFORMAT, err.curl_code)
        assert.matches("^URL rejected: ", err.message)
        assert.is_false(err.request_sent)
        -- the one before it, and one that differs from it only in the query, are sent as given
        assert.equal("/target/a?x=1|127.0.0.1", target(s, good))
        assert.equal("/target/a?x=3|127.0.0.1", target(s, server.base .. "/target/a?x=3"))
        assert.equal("/target/a?x=1|127.0.0.1", target(s, good))
      end
      assert.equal(7, s:stats().requests) -- a URL refused before libcurl ran is not counted
    end)

    it("sends the URL of each transfer of a multi as given", function()
      local m = assert(core.multi())
      local list = urls()
      local want = {}
      for i, url in ipairs(list) do want[i] = assert(target(nil, url)) end
      for _ = 1, 3 do -- the multi's handles are reused from one round to the next
        local ids = {}
        for i, url in ipairs(list) do ids[assert(m:add { url = url })] = i end
        local got = 0
        while m:pending() > 0 do
          for _, r in ipairs(assert(m:perform(1))) do
            local i = ids[r.id]
            assert.is_table(r.response, list[i])
            assert.equal(want[i], sent(r.response.body), list[i])
            got = got + 1
          end
        end
        assert.equal(#list, got)
      end
      local id, err = m:add { url = "http://[::1/target/a" }
      assert.is_nil(id)
      assert.equal(E.curl.URL_MALFORMAT, err.curl_code)
      assert.is_false(err.request_sent)
      m:close()
    end)
  end)

  -- The environment's proxy settings are read when a session is made and set on each request, as libcurl
  -- would read them itself (lib/url.c: detect_proxy): http_proxy for http://, https_proxy or HTTPS_PROXY
  -- for https://, else all_proxy or ALL_PROXY; no_proxy or NO_PROXY lists hosts reached directly; an empty
  -- variable counts as unset; HTTP_PROXY is never read. The throwaway nginx is the proxy: a request it
  -- serves for 127.0.0.1:1 (where nothing listens) went through it.
  describe("proxies from the environment", function()

    local VARS = { "http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY",
      "no_proxy", "NO_PROXY" }

    -- The outcome of one request to url in a fresh interpreter with only `set` of the proxy variables:
    -- "200 <request target>|<Host>" or "<kind> <curl_code>".
    local function through(url, set)
      local env = {}
      for _, name in ipairs(VARS) do env[name] = false end
      for name, value in pairs(set) do env[name] = value end
      local out = helper.run_script(([[
        local core = require "convai.core"
        local s = assert(core.session { timeout = 5 })
        local resp, err = s:request { url = %q }
        if resp then
          io.write(resp.status, " ", (resp.body:match("^([^|]*|[^|]*)|") or resp.body))
        else
          io.write(err.kind, " ", tostring(err.curl_code))
        end
      ]]):format(url), env)
      if not out then return pending("the interpreter running the specs is unknown") end
      return out
    end

    local URL = "http://127.0.0.1:1/target/p?q=1"

    it("goes direct without proxy variables", function()
      assert.equal("network " .. E.curl.COULDNT_CONNECT, through(URL, {}))
    end)

    it("uses http_proxy for http:// URLs", function()
      assert.equal("200 /target/p?q=1|127.0.0.1", through(URL, { http_proxy = server.base }))
    end)

    it("falls back to all_proxy, then ALL_PROXY, an empty variable counting as unset", function()
      assert.equal("200 /target/p?q=1|127.0.0.1", through(URL, { all_proxy = server.base }))
      assert.equal("200 /target/p?q=1|127.0.0.1", through(URL, { ALL_PROXY = server.base }))
      assert.equal("200 /target/p?q=1|127.0.0.1",
        through(URL, { http_proxy = "", all_proxy = server.base }))
    end)

    it("never reads HTTP_PROXY", function()
      assert.equal("network " .. E.curl.COULDNT_CONNECT, through(URL, { HTTP_PROXY = server.base }))
    end)

    it("reaches the hosts of no_proxy or NO_PROXY directly", function()
      assert.equal("network " .. E.curl.COULDNT_CONNECT,
        through(URL, { http_proxy = server.base, no_proxy = "127.0.0.1" }))
      assert.equal("network " .. E.curl.COULDNT_CONNECT,
        through(URL, { all_proxy = server.base, NO_PROXY = "example.com,127.0.0.1" }))
      assert.equal("200 /target/p?q=1|127.0.0.1",
        through(URL, { http_proxy = server.base, no_proxy = "example.com" }))
    end)

    it("uses https_proxy or HTTPS_PROXY, not http_proxy, for https:// URLs", function()
      -- nginx refuses the CONNECT that a proxied https:// request starts with: that refusal, not a
      -- refused connection, shows the request went to the proxy
      local https = "https://127.0.0.1:1/target/p"
      assert.equal("network " .. E.curl.COULDNT_CONNECT, through(https, { http_proxy = server.base }))
      for _, name in ipairs { "https_proxy", "HTTPS_PROXY", "all_proxy" } do
        local out = through(https, { [name] = server.base })
        assert.not_equal("network " .. E.curl.COULDNT_CONNECT, out, name)
        assert.matches("^%a+ %d+$", out, name)
      end
    end)
  end)
end)
