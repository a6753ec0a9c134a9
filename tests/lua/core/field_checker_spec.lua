-- field_checker_spec.lua - core.field_checker (src/lfieldcheck.c): the one-call check of the types of
-- a decoded object's fields that the clients' response-shape checks use.

local helper = require "core_helper"
local core = helper.core
local HAS_INTEGERS = helper.HAS_INTEGERS

describe("field_checker", function()
  local check = core.field_checker {
    { "n", "integer" }, { "x", "number" }, { "r", "number?" }, { "s", "string" }, { "b", "boolean" },
    { "t", "table" },
  }
  local function good() return { n = 1, x = 1.5, r = 2, s = "", b = false, t = {}, other = "x" } end

  it("says whether every field listed has its type", function()
    assert.is_true(check(good()))
    local t = good()
    t.r = nil
    assert.is_true(check(t))
    assert.is_true(check(core.json_decode('{"n":5,"x":1,"s":"a","b":true,"t":[]}')))
    for field, bad in pairs { n = 1.5, x = "1", r = "1", s = 1, b = 0, t = "t" } do
      t = good()
      t[field] = bad
      assert.is_false(check(t), field)
    end
    for _, field in ipairs { "n", "x", "s", "b", "t" } do
      t = good()
      t[field] = nil
      assert.is_false(check(t), field)
    end
    if HAS_INTEGERS then
      t = good()
      t.n = 1e17 -- an integral float is not an integer
      assert.is_false(check(t))
    end
    assert.is_false(check(nil))
    assert.is_false(check("x"))
    assert.is_true(core.field_checker {}({}))
  end)

  it("checks several tables in one call, stopping at the first that fails", function()
    assert.is_true(check(good(), good(), good()))
    local bad = good()
    bad.n = "1"
    assert.is_false(check(good(), bad, good()))
    assert.is_false(check(good(), nil))
    assert.is_false(check())
  end)

  it("float? takes a number or nil and makes an integer found there a float, in place", function()
    local f = core.field_checker { { "rate", "float?" }, { "n", "integer" } }
    local t = { rate = 100, n = 1 }
    assert.is_true(f(t))
    assert.equal(100, t.rate)
    if HAS_INTEGERS then assert.equal("float", math.type(t.rate)) end
    local u = { n = 2 }
    assert.is_true(f(u, { rate = 91.5, n = 3 }))
    assert.is_nil(u.rate)
    assert.is_false(f { rate = "100", n = 1 })
    assert.is_false(f { rate = 1.5, n = 1.5 })
    -- nothing is changed unless every table passes
    local a, b = { rate = 7, n = 1 }, { rate = 8, n = 1.5 }
    assert.is_false(f(a, b))
    if HAS_INTEGERS then assert.equal("integer", math.type(a.rate)) end
  end)

  it("raises for a bad list", function()
    assert.has_error(function() core.field_checker() end)
    assert.has_error(function() core.field_checker { "n" } end)
    assert.has_error(function() core.field_checker { { 1, "integer" } } end)
    assert.has_error(function() core.field_checker { { "n", "int" } } end)
    assert.has_error(function() core.field_checker { { "n" } } end)
  end)
end)
