-- httpfields_spec.lua - the HTTP field parsers (src/lhttpfields.c): core.retry_after (Retry-After) and
-- core.check_header (request header fields).

local helper = require "core_helper"
local core = helper.core
local is_integer = helper.is_integer
local no_line_break = helper.no_line_break

describe("retry_after", function()
  local T = 784111777 -- Sun, 06 Nov 1994 08:49:37 GMT
  it("parses delay-seconds", function()
    assert.equal(120, core.retry_after("120"))
    assert.equal(0, core.retry_after("0"))
    assert.equal(2 ^ 31, core.retry_after("99999999999999999999"))
    assert.is_true(is_integer(core.retry_after("5")))
  end)
  it("parses the three HTTP-date formats", function()
    assert.equal(60, core.retry_after("Sun, 06 Nov 1994 08:49:37 GMT",
      T - 60))
    assert.equal(60, core.retry_after("Sunday, 06-Nov-94 08:49:37 GMT",
      T - 60))
    assert.equal(60, core.retry_after("Sun Nov  6 08:49:37 1994", T - 60))
  end)
  it("gives 0 for dates in the past", function()
    assert.equal(0, core.retry_after("Sun, 06 Nov 1994 08:49:37 GMT"))
    assert.equal(0, core.retry_after("Sun, 06 Nov 1994 08:49:37 GMT",
      T + 1))
  end)
  it("gives nil for anything else", function()
    for _, v in ipairs { "", "-1", "1.5", "soon", "12 s",
      "Sun, 31 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 25:00:00 GMT" } do
      assert.is_nil(core.retry_after(v))
    end
    assert.is_nil(core.retry_after(nil))
    assert.has_error(function() core.retry_after({}) end)
    assert.has_error(function() core.retry_after("1", "now") end)
  end)
end)

describe("check_header", function()
  it("accepts good headers", function()
    assert.is_true(core.check_header("Authorization", "Bearer abc"))
    assert.is_true(core.check_header("X-Empty", ""))
  end)
  it("rejects CR, LF, NUL without echoing the value", function()
    for _, v in ipairs { "Bearer SECRET\r\n", "SECRET\nX: y",
      "SECRET\rx", "SECRET\0x" } do
      local ok, msg = core.check_header("Authorization", v)
      assert.is_nil(ok)
      assert.equal("header 'Authorization' value contains CR, LF or NUL; "
        .. "remove line breaks from the value", msg)
      assert.falsy(msg:find("SECRET", 1, true))
    end
  end)
  it("rejects bad names", function()
    for _, n in ipairs { "", "Bad Name", "a:b", "x\ny", "é" } do
      local ok, msg = core.check_header(n, "v")
      assert.is_nil(ok)
      assert.is_string(msg)
      assert.is_true(no_line_break(msg))
    end
  end)
end)
