-- convai.http: the shared transport's pure parts (escaping, query strings, errors from responses).
local http = require "convai.http"

local function resp(status, body, headers)
  return { status = status, body = body or "", headers = headers or {} }
end

describe("convai.http", function()
  it("percent-encodes everything but RFC 3986 unreserved characters", function()
    assert.equal("a-b_c.d~e", http.escape("a-b_c.d~e"))
    assert.equal("10%2F04%2F2020", http.escape("10/04/2020"))
    assert.equal("1%2F..%2F..%2Fx%20y%0D%0A", http.escape("1/../../x y\r\n"))
  end)

  it("builds query strings in order and skips nil values", function()
    assert.equal("", http.query {})
    assert.equal("?a=1&c=x%26y", http.query { { "a", 1 }, { "b", nil }, { "c", "x&y" } })
  end)

  it("checks base URLs and drops trailing slashes", function()
    assert.equal("https://x.example/v1", http.check_base_url("https://x.example/v1/", "base_url"))
    for _, bad in ipairs { "", "x.example", "http://", "http://a b", "http://x\r\n", 42 } do
      local ok, err = http.check_base_url(bad, "base_url")
      assert.is_nil(ok)
      assert.equal("invalid_argument", err.kind)
    end
  end)

  it("refuses credentials with spaces or control characters without echoing them", function()
    for _, bad in ipairs { "abc def", "abc\r\nX: y", "abc\0" } do
      local ok, err = http.check_secret(bad, "token", "CONVAI_X")
      assert.is_nil(ok)
      assert.equal("invalid_argument", err.kind)
      assert.is_nil(err.message:find("abc", 1, true))
    end
    assert.equal("tok", http.check_secret("tok", "token", "CONVAI_X"))
  end)

  describe("response_error", function()
    it("maps statuses to kinds", function()
      local cases = { [400] = "unprocessable", [401] = "auth", [403] = "auth", [404] = "not_found",
        [409] = "unprocessable", [418] = "http", [422] = "unprocessable", [429] = "rate_limited",
        [500] = "server", [503] = "server", [302] = "http" }
      for status, kind in pairs(cases) do
        local err = http.response_error(resp(status), "V")
        assert.equal(kind, err.kind, tostring(status))
        assert.equal(status, err.status)
      end
    end)

    it("keeps the vendor's words and the decoded body", function()
      local err = http.response_error(resp(422, '{"error":"To Date cannot be before From Date"}'), "Avaamo")
      assert.same({ error = "To Date cannot be before From Date" }, err.body)
      assert.equal("Avaamo: To Date cannot be before From Date", err.message)
      err = http.response_error(resp(401, '{"message":"Unauthenticated."}'), "voicebot.studio")
      assert.matches("Unauthenticated%.", err.message)
      err = http.response_error(resp(502, "<html>bad gateway</html>"), "V")
      assert.equal("<html>bad gateway</html>", err.body)
      assert.equal("V: HTTP 502", err.message)
    end)

    it("reads Retry-After as delta-seconds or an HTTP-date", function()
      local err = http.response_error(resp(429, "", { ["retry-after"] = "120" }), "V")
      assert.equal(120, err.retry_after)
      local date = os.date("!%a, %d %b %Y %H:%M:%S GMT", os.time() + 60)
      err = http.response_error(resp(503, "", { ["retry-after"] = date }), "V")
      assert.is_true(err.retry_after >= 55 and err.retry_after <= 61, tostring(err.retry_after))
      err = http.response_error(resp(429, "", { ["retry-after"] = "soon" }), "V")
      assert.is_nil(err.retry_after)
    end)

    it("prints as one line", function()
      local err = http.response_error(resp(500, '{"message":"line one\\nline two"}'), "V")
      assert.is_nil(tostring(err):find("\n"))
      assert.matches("^convai: server error %(HTTP 500%): V: line one line two", tostring(err))
    end)
  end)

  it("coerces counts and positive integers", function()
    assert.equal("integer", math.type(http.count(5.0)))
    assert.is_nil(http.count(5.5))
    assert.is_nil(http.count("5"))
    assert.equal(7, http.positive_integer("7"))
    assert.is_nil(http.positive_integer("07x"))
    assert.is_nil(http.positive_integer(0))
  end)
end)
