-- redisurl_spec.lua - core.parse_redis_url (src/lredis.c on src/redisurl.c): the fields of a Redis URL,
-- what is refused, and messages that never show the password. The grammar's corner cases are in
-- tests/c/test_redisurl.c and tests/fuzz/fuzz_redisurl.c.

local helper = require "core_helper"
local core = helper.core

local SECRET = "Zq9-distinctive-PW"

describe("core.parse_redis_url", function()
  it("reads host, port and db, with the defaults 6379 and 0", function()
    local u = assert(core.parse_redis_url("redis://cache.internal"))
    assert.same({ scheme = "redis", host = "cache.internal", port = 6379, db = 0 }, u)
    assert.is_true(helper.is_integer(u.port) and helper.is_integer(u.db))
    u = assert(core.parse_redis_url("REDIS://10.0.0.5:6380/2"))
    assert.same({ scheme = "redis", host = "10.0.0.5", port = 6380, db = 2 }, u)
    assert.same(0, core.parse_redis_url("redis://h/").db)
  end)

  it("percent-decodes the user and the password; an empty one is absent", function()
    local u = assert(core.parse_redis_url("redis://con%76ai:p%40ss%2Fw%3Ard@h:1/15"))
    assert.same({ scheme = "redis", host = "h", port = 1, db = 15, user = "convai", password = "p@ss/w:rd" }, u)
    u = assert(core.parse_redis_url("redis://:" .. SECRET .. "@h"))
    assert.is_nil(u.user)
    assert.equal(SECRET, u.password)
    u = assert(core.parse_redis_url("redis://alice:@h"))
    assert.equal("alice", u.user)
    assert.is_nil(u.password)
  end)

  it("takes an IPv6 address in brackets and gives it back without them", function()
    assert.same({ scheme = "redis", host = "::1", port = 6390, db = 0 },
      core.parse_redis_url("redis://[::1]:6390"))
  end)

  it("refuses rediss:// saying why, and what to use instead", function()
    local u, msg = core.parse_redis_url("rediss://:" .. SECRET .. "@h:6380")
    assert.is_nil(u)
    assert.truthy(msg:find("rediss:// (TLS) is not supported: it needs hiredis >= 1.0 built with SSL, which Debian 12 "
      .. "does not ship", 1, true), msg)
    assert.truthy(msg:find("use redis:// on a private network or through an SSH or stunnel tunnel", 1, true))
    assert.falsy(msg:find(SECRET, 1, true))
  end)

  it("refuses what is not a Redis URL, naming what is wrong", function()
    local cases = {
      { "http://h", "not a Redis URL" },
      { "redis://", "the host is missing" },
      { "redis://h:0", "the port must be a number from 1 to 65535" },
      { "redis://h:65536", "the port must be" },
      { "redis://h/-1", "the database" },
      { "redis://h/0/x", "the database" },
      { "redis://h/0?timeout=1", "no query" },
      { "redis://h#x", "or fragment" },
      { "redis://u:p@ss@h", "must be percent-encoded" },
      { "redis://u:p%4x@h", "% not followed by two hex digits" },
    }
    for _, c in ipairs(cases) do
      local u, msg = core.parse_redis_url(c[1])
      assert.is_nil(u, c[1])
      assert.truthy(msg:find("invalid Redis URL '", 1, true), msg)
      assert.truthy(msg:find(c[2], 1, true), msg)
    end
  end)

  it("quotes the URL with its password replaced by ***, valid or not", function()
    local cases = {
      { "redis://:" .. SECRET .. "@h:0", "redis://:***@h:0" },
      { "redis://user:" .. SECRET .. "@h/x", "redis://user:***@h/x" },
      { "redis://u:" .. SECRET .. "@@h:99999", "redis://u:***@h:99999" },
      { "redis://user:" .. SECRET, "redis://user:***" },               -- the @host forgotten
      { "redis://h/0?password=" .. SECRET, "redis://h/0?***" },         -- a password as a query
      { "rediss://:" .. SECRET .. "@h", "rediss://:***@h" },
    }
    for _, c in ipairs(cases) do
      local u, msg = core.parse_redis_url(c[1])
      assert.is_nil(u)
      assert.truthy(msg:find("'" .. c[2] .. "'", 1, true), msg)
      assert.falsy(msg:find(SECRET, 1, true), msg)
      assert.falsy(msg:find("distinctive", 1, true), msg)
    end
  end)

  it("keeps its message on one line and short, whatever the URL", function()
    local u, msg = core.parse_redis_url("redis://h\r\n\0\255:1")
    assert.is_nil(u)
    assert.truthy(msg:find("'redis://h????:1'", 1, true), msg)
    u, msg = core.parse_redis_url("redis://:" .. SECRET .. "@h:1/" .. ("9"):rep(5000))
    assert.is_nil(u)
    assert.truthy(#msg < 400, #msg)
    assert.truthy(msg:find("^invalid Redis URL 'redis://:%*%*%*@h:1/999+%.%.%.': the database"), msg)
  end)

  it("raises for a URL that is not a string", function()
    assert.has_error(function() core.parse_redis_url() end)
    assert.has_error(function() core.parse_redis_url({}) end)
    assert.has_error(function() core.parse_redis_url(6379) end)
  end)
end)
