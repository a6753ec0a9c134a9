-- json_spec.lua - JSON on lua-cjson (src/ljson.c): core.json_decode, core.json_encode, core.array.

local helper = require "core_helper"
local core = helper.core
local HAS_INTEGERS = helper.HAS_INTEGERS
local is_integer = helper.is_integer

describe("json", function()
  it("decodes integers as integers and drops nulls", function()
    local v = core.json_decode(
      '{"a":1,"b":2.5,"c":null,"d":[1,null,3],"e":1e3}')
    assert.is_true(is_integer(v.a))
    assert.equal(1, v.a)
    assert.equal(2.5, v.b)
    assert.is_nil(v.c)
    assert.equal(1, v.d[1])
    assert.is_nil(v.d[2])
    assert.equal(3, v.d[3])
    assert.equal(1000, v.e)
    if HAS_INTEGERS then
      assert.equal("integer", math.type(v.e))
      assert.equal("float", math.type(v.b))
      assert.equal("float", math.type(core.json_decode("1e16")))
    end
    local n, err = core.json_decode("null")
    assert.is_nil(n)
    assert.is_nil(err)
  end)
  it("returns nil, message for bad JSON", function()
    local v, msg = core.json_decode("{")
    assert.is_nil(v)
    assert.truthy(msg:find("invalid JSON", 1, true))
    assert.is_nil((core.json_decode("NaN")))
    assert.has_error(function() core.json_decode(nil) end)
  end)
  it("encodes marked empty arrays as []", function()
    assert.equal("[]", core.json_encode(core.array()))
    assert.equal('{"to":[]}', core.json_encode({ to = core.array({}) }))
    assert.equal("{}", core.json_encode({}))
    assert.equal("[1,2]", core.json_encode(core.array({ 1, 2 })))
    local t = {}
    assert.equal(t, core.array(t))
    assert.equal(core.array_mt, getmetatable(t))
  end)
  it("keeps full number precision", function()
    assert.equal("[123456789012345,0.30000000000000004,0.5]",
      core.json_encode({ 123456789012345, 0.1 + 0.2, 0.5 }))
  end)
  it("round-trips", function()
    local doc = { name = "x", list = core.array(), n = 42,
      nested = { f = 1.25, s = "a\"b" } }
    local back = core.json_decode(core.json_encode(doc))
    assert.same({ name = "x", list = {}, n = 42,
      nested = { f = 1.25, s = "a\"b" } }, back)
  end)
  it("returns nil, message for unencodable values", function()
    local v, msg = core.json_encode({ f = print })
    assert.is_nil(v)
    assert.is_string(msg)
    local cyc = {}
    cyc.me = cyc
    v, msg = core.json_encode(cyc)
    assert.is_nil(v)
    assert.is_string(msg)
  end)
end)
