-- convai.http.redirect's decisions on their own (the redirects over HTTP are in redirect_spec).
local redirect = require "convai.http.redirect"

describe("convai.http.redirect", function()
  it("reads follow_redirects as false (none), true (5) or a count up to 50", function()
    assert.equal(0, redirect.check(nil))
    assert.equal(0, redirect.check(false))
    assert.equal(5, redirect.check(true))
    assert.equal(7, redirect.check(7))
    for _, bad in ipairs { -1, 51, 1.5, "3" } do
      local n, err = redirect.check(bad)
      assert.is_nil(n)
      assert.equal("invalid_argument", err.kind)
    end
  end)

  it("names an origin by scheme, host and port, the default port made explicit", function()
    assert.equal("http://example.com:80", redirect.origin("http://Example.COM/x"))
    assert.equal("https://example.com:443", redirect.origin("HTTPS://example.com:443/"))
    assert.equal("http://[::1]:8080", redirect.origin("http://[::1]:8080/a"))
    assert.is_nil(redirect.origin("/relative"))
  end)

  it("resolves a Location against the URL asked, refusing what is not plain http(s)", function()
    local base = "http://h:1/a/b?q=1"
    assert.equal("http://h:1/a/c", redirect.resolve(base, "c"))
    assert.equal("http://h:1/c", redirect.resolve(base, "/c"))
    assert.equal("http://h:1/a/b?z", redirect.resolve(base, "?z"))
    assert.equal("http://o/", redirect.resolve(base, "//o"))
    assert.equal("https://o/x", redirect.resolve("https://h/a", "//o/x"))
    assert.is_nil(redirect.resolve(base, "ftp://o/x"))
    assert.is_nil(redirect.resolve(base, "http://u:p@o/x"))
    assert.is_nil(redirect.resolve(base, "/a b"))
  end)

  it("follows a 303 as a GET without the body, and refuses what would change a POST silently", function()
    assert.same({ "http://h/n", "GET", true }, { redirect.follow("POST", "http://h/o", 303, "/n", 0, 5) })
    assert.same({ "http://h/n", "HEAD", false }, { redirect.follow("HEAD", "http://h/o", 303, "/n", 0, 5) })
    assert.same({ "http://h/n", "POST", false }, { redirect.follow("POST", "http://h/o", 307, "/n", 0, 5) })
    assert.same({ "http://h/n", "GET", false }, { redirect.follow("GET", "http://h/o", 301, "/n", 0, 5) })
    local target, why = redirect.follow("POST", "http://h/o", 302, "/n", 0, 5)
    assert.is_nil(target)
    assert.matches("would turn the POST into a GET", why, 1, true)
    assert.matches("not followed", select(2, redirect.follow("GET", "http://h/o", 302, "/n", 0, 0)), 1, true)
    assert.matches("already followed 2", select(2, redirect.follow("GET", "http://h/o", 302, "/n", 2, 2)), 1, true)
    assert.equal("no Location header", select(2, redirect.follow("GET", "http://h/o", 302, nil, 0, 5)))
  end)
end)
