-- json_spec.lua - JSON: core.json_decode (the core's decoder, src/jsondec.c, checked against lua-cjson and
-- normalisation), core.json_encode (on lua-cjson, src/ljson.c), core.array.

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

  describe("decodes as lua-cjson does, normalised", function()
    -- The properties of the differential fuzz harness (tests/fuzz/json_check.lua): the same accept/refuse
    -- and message as cjson, the same value once cjson's is normalised, encode round trips, field checks,
    -- json_decoder with the Avaamo shape.
    local check = assert(loadfile("tests/fuzz/json_check.lua"))(core, require "cjson.safe")
    local function agrees(text) check(text) end
    local cases = {
      ["duplicate keys: the last wins, a null removes"] = '{"a":1,"a":null,"b":2,"b":3,"c":null}',
      ["escapes and surrogate pairs"] = '["\\"\\\\\\/\\b\\f\\n\\r\\t","\\u00e9\\ud83d\\ude00","a\\u0000b"]',
      ["bad surrogates"] = '["\\ud800"]',
      ["a low surrogate first"] = '["\\udc00\\ud800"]',
      ["invalid UTF-8 and raw control characters, copied"] = '["\255\254\1\31"]',
      ["numbers cjson accepts"] = "[1.,-.5,1.e3,0e5,-0,-0.0,1e-400,1.5e+3,1E-7]",
      ["huge numbers"] = "[1e400,-1e400,12345678901234567890,9007199254740993,-9007199254740993]",
      ["a leading zero"] = "[01]", ["hex"] = "[0x1]", ["NaN"] = "[NaN]", ["-Infinity"] = "[-Infinity]",
      ["a trailing comma"] = '{"a":1,}', ["no colon"] = '{"a" 1}', ["trailing text"] = "[1] x",
      ["an unterminated key"] = '{"abc', ["empty"] = "", ["a lone minus"] = "[-]",
      ["1000 levels"] = string.rep("[", 1000) .. string.rep("]", 1000),
      ["1001 levels"] = string.rep("[", 1001) .. string.rep("]", 1001),
    }
    for name, text in pairs(cases) do
      it(name, function() agrees(text) end)
    end
    it("an array and an object bigger than LuaJIT's stack", function()
      local parts = {}
      for i = 1, 70000 do parts[i] = tostring(i) end
      agrees("[" .. table.concat(parts, ",") .. "]")
      for i = 1, 70000 do parts[i] = string.format('"k%d":%d', i % 50000, i) end
      agrees("{" .. table.concat(parts, ",") .. "}")
    end)
    it("the Avaamo sample", function()
      local f = assert(io.open("tests/fixtures/avaamo-usage-sample.json"))
      local text = f:read("a")
      f:close()
      agrees(text)
      agrees(text) -- again, keys from the cache
    end)
  end)

  it("refuses a raw NUL byte, where cjson reads the end of the text", function()
    local v, err = core.json_decode("[1]\0x")
    assert.is_nil(v)
    assert.equal("invalid JSON: Expected the end but found T_END at character 4", err)
    assert.equal("a\0b", core.json_decode('"a\\u0000b"'))
  end)

  it("reads numbers the same under a locale whose decimal point is a comma", function()
    local old = os.setlocale(nil, "numeric")
    if not (os.setlocale("de_DE.UTF-8", "numeric") or os.setlocale("de_DE.utf8", "numeric")) then
      pending("no de_DE.UTF-8 locale (scripts/deps makes it)")
      return
    end
    local ok, a, b, c = pcall(function()
      return core.json_decode("1.5"), core.json_decode("[3.141592653589793238462643383279]"),
        core.json_decode("1.5e300")
    end)
    os.setlocale(old, "numeric")
    assert(ok, a)
    assert.equal(1.5, a)
    assert.equal(3.141592653589793, b[1])
    assert.equal(1.5e300, c)
  end)
end)
