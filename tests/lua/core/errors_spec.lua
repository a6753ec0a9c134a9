-- errors_spec.lua - error objects (src/lerror.c) and the error table (src/errors.h) as core.errors:
-- its shape, its agreement with core.error and error_for_status, with what the core returns for real
-- failures (more of them, against a server, in session_nginx_spec.lua), and with the table printed in
-- docs/core.md (scripts/errors-doc).

local helper = require "core_helper"
local core = helper.core
local no_line_break = helper.no_line_break

local E = core.errors

describe("core.error", function()
  it("builds error objects with kind, message and fields", function()
    local e = core.error("rate_limited", "slow down",
      { status = 429, retry_after = 30, body = { x = 1 }, curl_code = 0 })
    assert.is_true(core.is_error(e))
    assert.equal(core.error_mt, getmetatable(e))
    assert.equal("rate_limited", e.kind)
    assert.equal("slow down", e.message)
    assert.equal(429, e.status)
    assert.equal(30, e.retry_after)
    assert.same({ x = 1 }, e.body)
    assert.equal(0, e.curl_code)
  end)

  it("accepts exactly the documented kinds", function()
    for _, k in ipairs { "invalid_argument", "auth", "not_found",
      "rate_limited", "unprocessable", "server", "http", "timeout",
      "network", "tls", "decode", "too_large" } do
      assert.equal(k, core.error(k, "m").kind)
    end
    assert.has_error(function() core.error("bogus", "m") end)
    assert.has_error(function() core.error("Auth", "m") end)
    assert.has_error(function() core.error(nil, "m") end)
    assert.has_error(function() core.error("auth") end)
    assert.has_error(function() core.error("auth", "m", 5) end)
  end)

  it("does not let fields override kind or message", function()
    local e = core.error("auth", "real", { kind = "server",
      message = "fake" })
    assert.equal("auth", e.kind)
    assert.equal("real", e.message)
  end)

  it("prints as one line", function()
    assert.equal("convai: auth error (HTTP 401): bad token",
      tostring(core.error("auth", "bad token", { status = 401 })))
    assert.equal("convai: network error: refused",
      tostring(core.error("network", "refused")))
    local s = tostring(core.error("server", "line1\r\nline2\nline3",
      { status = 503 }))
    assert.equal("convai: server error (HTTP 503): line1  line2 line3", s)
    assert.is_true(no_line_break(s))
  end)

  it("is_error is false for anything else", function()
    assert.is_false(core.is_error({ kind = "auth", message = "x" }))
    assert.is_false(core.is_error("convai: auth error"))
    assert.is_false(core.is_error(nil))
    assert.is_false(core.is_error(42))
    assert.is_false(core.is_error(setmetatable({}, {})))
  end)

  it("maps statuses to kinds", function()
    local want = { [401] = "auth", [403] = "auth", [404] = "not_found",
      [429] = "rate_limited", [400] = "unprocessable",
      [409] = "unprocessable", [422] = "unprocessable", [500] = "server",
      [502] = "server", [599] = "server", [405] = "http", [302] = "http",
      [418] = "http" }
    for status, kind in pairs(want) do
      assert.equal(kind, core.error_for_status(status))
    end
    assert.is_nil(core.error_for_status(200))
    assert.is_nil(core.error_for_status(204))
    assert.has_error(function() core.error_for_status("x") end)
  end)
end)

describe("core.errors", function()
  it("lists the kinds in the table's order, each with a one-line description", function()
    assert.same({ "invalid_argument", "auth", "not_found", "rate_limited", "unprocessable", "server", "http",
      "timeout", "network", "tls", "decode", "too_large", "journal", "store", "internal" }, E.kinds)
    local n = 0
    for kind, about in pairs(E.about) do
      n = n + 1
      assert.equal(kind, core.error(kind, "m").kind)
      assert.is_string(about)
      assert.is_true(#about > 0 and no_line_break(about), kind)
    end
    assert.equal(#E.kinds, n)
  end)

  it("names the libcurl codes the cosocket transport uses", function()
    local want = {
      UNSUPPORTED_PROTOCOL = 1, URL_MALFORMAT = 3, COULDNT_RESOLVE_HOST = 6, COULDNT_CONNECT = 7,
      WEIRD_SERVER_REPLY = 8, PARTIAL_FILE = 18, WRITE_ERROR = 23, OPERATION_TIMEDOUT = 28,
      GOT_NOTHING = 52, SEND_ERROR = 55, RECV_ERROR = 56, SSL_CONNECT_ERROR = 35,
      PEER_FAILED_VERIFICATION = 60, FILESIZE_EXCEEDED = 63,
    }
    for name, code in pairs(want) do
      assert.equal(code, E.curl[name], name)
      assert.is_true(helper.is_integer(E.curl[name]), name)
    end
  end)

  it("gives each code its kind, and any other failure curl_other", function()
    local want = {
      [1] = "invalid_argument", [3] = "invalid_argument", [28] = "timeout", [35] = "tls", [60] = "tls",
      [77] = "tls", [63] = "too_large", [6] = "network", [7] = "network", [8] = "network", [18] = "network",
      [23] = "network", [52] = "network", [55] = "network", [56] = "network",
    }
    for code, kind in pairs(want) do assert.equal(kind, E.curl_kind[code], code) end
    local kinds = {}
    for _, kind in ipairs(E.kinds) do kinds[kind] = true end
    local named = {}
    for name, code in pairs(E.curl) do
      assert.is_true(kinds[E.curl_kind[code]], name)
      named[code] = true
    end
    for code in pairs(E.curl_kind) do assert.is_true(named[code], code) end -- nothing but those codes
    assert.equal("network", E.curl_other)
    assert.equal("network", E.curl_kind[16]) -- CURLE_HTTP2, not named
    assert.equal("network", E.curl_kind[9999])
    assert.is_nil(E.curl_kind[0]) -- CURLE_OK
    assert.is_nil(E.curl_kind[-1])
    assert.is_nil(E.curl_kind["7"])
  end)

  it("maps statuses as status, status_range and status_other say, as error_for_status does", function()
    assert.equal(core.error_for_status, E.status_kind)
    assert.same({ [400] = "unprocessable", [401] = "auth", [403] = "auth", [404] = "not_found",
      [409] = "unprocessable", [422] = "unprocessable", [429] = "rate_limited" }, E.status)
    assert.same({ { 500, 599, "server" } }, E.status_range)
    assert.equal("http", E.status_other)
    local wrong = {}
    for status = -2, 1000 do
      local want
      if status < 200 or status > 299 then
        want = E.status[status]
        for _, r in ipairs(E.status_range) do
          if not want and status >= r[1] and status <= r[2] then want = r[3] end
        end
        want = want or E.status_other
      end
      if E.status_kind(status) ~= want then wrong[#wrong + 1] = status end
    end
    assert.same({}, wrong)
  end)

  it("agrees with what a session returns for a refused connection and a URL libcurl refuses", function()
    local s = assert(core.session())
    local _, err = s:request { url = helper.REFUSED }
    assert.equal(E.curl.COULDNT_CONNECT, err.curl_code)
    assert.equal(E.curl_kind[err.curl_code], err.kind)
    _, err = s:request { url = "http://[::1/" }
    assert.equal(E.curl.URL_MALFORMAT, err.curl_code)
    assert.equal(E.curl_kind[err.curl_code], err.kind)
    s:close()
  end)

  it("is the table of docs/core.md (scripts/errors-doc --write prints it there)", function()
    local markdown = assert(loadfile("scripts/errors-doc"))(E)
    local doc = assert(helper.read_file("docs/core.md"))
    local block = doc:match("<!%-%- errors%-doc %-%->\n(.-)<!%-%- /errors%-doc %-%->")
    assert.equal(markdown, block, "docs/core.md is out of date: run scripts/errors-doc --write")
  end)
end)
