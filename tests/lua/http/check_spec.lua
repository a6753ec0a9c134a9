-- convai.http.check: the checks and encodings of what goes into a request (escaping, query strings,
-- base URLs, credentials, counts).
local check = require "convai.http.check"

describe("convai.http.check", function()
  it("percent-encodes everything but RFC 3986 unreserved characters", function()
    assert.equal("a-b_c.d~e", check.escape("a-b_c.d~e"))
    assert.equal("10%2F04%2F2020", check.escape("10/04/2020"))
    assert.equal("1%2F..%2F..%2Fx%20y%0D%0A", check.escape("1/../../x y\r\n"))
  end)

  it("builds query strings in order and skips nil values", function()
    assert.equal("", check.query {})
    assert.equal("?a=1&c=x%26y", check.query { { "a", 1 }, { "b", nil }, { "c", "x&y" } })
  end)

  it("checks base URLs and drops trailing slashes", function()
    assert.equal("https://x.example/v1", check.base_url("https://x.example/v1/", "base_url"))
    for _, bad in ipairs { "", "x.example", "http://", "http://a b", "http://x\r\n", 42 } do
      local ok, err = check.base_url(bad, "base_url")
      assert.is_nil(ok)
      assert.equal("invalid_argument", err.kind)
    end
  end)

  it("refuses credentials with spaces or control characters without echoing them", function()
    for _, bad in ipairs { "abc def", "abc\r\nX: y", "abc\0" } do
      local ok, err = check.secret(bad, "token", "CONVAI_X")
      assert.is_nil(ok)
      assert.equal("invalid_argument", err.kind)
      assert.is_nil(err.message:find("abc", 1, true))
    end
    assert.equal("tok", check.secret("tok", "token", "CONVAI_X"))
  end)

  it("coerces counts and positive integers", function()
    assert.equal("integer", math.type(check.count(5.0)))
    assert.is_nil(check.count(5.5))
    assert.is_nil(check.count("5"))
    assert.equal(7, check.positive_integer("7"))
    assert.is_nil(check.positive_integer("07x"))
    assert.is_nil(check.positive_integer(0))
  end)
end)
