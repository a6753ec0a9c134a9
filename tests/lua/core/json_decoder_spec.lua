-- json_decoder_spec.lua - core.json_decoder (src/ljsondecoder.c): a body decoded and checked against a
-- documented shape in one pass; the value is always json_decode's, but for the float? fields of a body
-- that has the shape.

local helper = require "core_helper"
local core = helper.core
local HAS_INTEGERS = helper.HAS_INTEGERS
local is_integer = helper.is_integer

local STATS = { session_count = "integer", start_time = "number", success_rate = "float?" }
local decode = core.json_decoder { aggregate = STATS, stats = { STATS, n = 2 }, ok = "boolean",
  extra = "table", rate = "number?" }

local function body(over)
  local t = {
    aggregate = '{"session_count":3,"start_time":1.5,"success_rate":88}',
    stats = '[{"session_count":1,"start_time":1,"success_rate":null},{"session_count":2,"start_time":2}]',
    ok = "true", extra = "[]",
  }
  for k, v in pairs(over or {}) do t[k] = v end
  local parts = {}
  for _, k in ipairs { "aggregate", "stats", "ok", "extra", "rate" } do
    if t[k] ~= false and t[k] ~= nil then parts[#parts + 1] = string.format('"%s":%s', k, t[k]) end
  end
  return "{" .. table.concat(parts, ",") .. ',"unknown":{"x":[1,2]}}'
end

local function same_as_decode(text)
  local v, typed = decode(text)
  assert.is_false(typed)
  assert.same(core.json_decode(text), v)
  return v
end

describe("json_decoder", function()
  it("types a body that has the shape in the same pass: float? integers become floats", function()
    local v, typed = decode(body())
    assert.is_true(typed)
    assert.equal(3, v.aggregate.session_count)
    assert.is_true(is_integer(v.aggregate.session_count))
    assert.equal(88, v.aggregate.success_rate)
    if HAS_INTEGERS then assert.equal("float", math.type(v.aggregate.success_rate)) end
    assert.is_nil(v.stats[1].success_rate)
    assert.equal(2, v.stats[2].session_count)
    assert.same({ x = { 1, 2 } }, v.unknown)
  end)

  it("says false, and gives json_decode's value unchanged, for a body without the shape", function()
    local cases = {
      { aggregate = '{"session_count":3.5,"start_time":1,"success_rate":88}' }, -- not an integer
      { aggregate = '{"start_time":1,"success_rate":88}' }, -- a required field absent
      { aggregate = '{"session_count":null,"start_time":1,"success_rate":88}' },
      { aggregate = '{"session_count":1,"start_time":"1","success_rate":88}' }, -- a string for a number
      { aggregate = '{"session_count":1,"start_time":1,"success_rate":"88"}' },
      { aggregate = "[1]" }, { aggregate = "null" }, { aggregate = "7" }, { aggregate = false },
      { stats = '[{"session_count":1,"start_time":1}]' }, -- 1 slice, not 2
      { stats = '[{"session_count":1,"start_time":1},null]' },
      { stats = '{"1":{"session_count":1,"start_time":1}}' },
      { ok = "1" }, { ok = false }, { extra = '"x"' }, { rate = '"x"' },
      { aggregate = '{"session_count":1,"session_count":null,"start_time":1}' }, -- the last key wins
    }
    for _, over in ipairs(cases) do
      local v = same_as_decode(body(over))
      if HAS_INTEGERS and type(v.aggregate) == "table" and v.aggregate.success_rate == 88 then
        assert.equal("integer", math.type(v.aggregate.success_rate)) -- not made a float
      end
    end
    same_as_decode("[]")
    same_as_decode('"text"')
  end)

  it("accepts absent optional fields, extra keys and a number? field", function()
    local v, typed = decode(body { rate = "1.25", aggregate = '{"session_count":1,"start_time":2,"x":0}' })
    assert.is_true(typed)
    assert.equal(1.25, v.rate)
    assert.is_nil(v.aggregate.success_rate)
  end)

  it("fails as json_decode does on bad JSON and null", function()
    for _, text in ipairs { "", "{", '{"aggregate":', "[1,]", "nul", "{}x" } do
      local v, err = decode(text)
      local v2, err2 = core.json_decode(text)
      assert.is_nil(v)
      assert.is_nil(v2)
      assert.equal(err2, err)
    end
    local v, err = decode("null")
    assert.is_nil(v)
    assert.is_nil(err)
  end)

  it("refuses a shape that is not one", function()
    assert.has_error(function() core.json_decoder("integer") end)
    assert.has_error(function() core.json_decoder { a = "int" } end)
    assert.has_error(function() core.json_decoder { a = 1 } end)
    assert.has_error(function() core.json_decoder { [2] = "integer" } end)
    local cyc = {}
    cyc.self = cyc
    assert.has_error(function() core.json_decoder(cyc) end)
  end)

  describe("pick", function()
    local SHAPE = { data = { item = { n = "integer", ok = "boolean", rate = "float?" } }, meta = "table" }
    local pick = core.json_decoder(SHAPE, { pick = { "data", "item" } })
    local keys = function(t)
      local k = {}
      for name in pairs(t) do k[#k + 1] = name end
      table.sort(k)
      return k
    end

    it("returns only the value at the path, with only the fields of its shape", function()
      local v, typed = pick('{"data":{"item":{"n":1,"ok":true,"rate":2,"extra":[1]},"x":1},"meta":{}}')
      assert.is_true(typed)
      assert.same({ "n", "ok", "rate" }, keys(v))
      assert.equal(1, v.n)
      assert.is_true(v.ok)
      if math.type then assert.equal("float", math.type(v.rate)) end
      v.more = 1 -- the table is the caller's
      assert.equal(1, v.more)
    end)

    it("keeps the last of duplicate keys on the path, as json_decode does", function()
      local v, typed = pick('{"data":{"item":{"n":1,"ok":true},"item":{"n":2,"ok":false}},"meta":[]}')
      assert.is_true(typed)
      assert.same({ n = 2, ok = false }, v)
      v = pick('{"data":{"item":{"n":1,"ok":true,"n":3}},"meta":[]}')
      assert.same({ n = 3, ok = true }, v)
    end)

    it("gives json_decode's whole value, and false, for a body without the shape", function()
      for _, text in ipairs {
        '{"data":{"item":{"n":"1","ok":true}},"meta":{}}', -- a wrong type
        '{"data":{"item":{"ok":true}},"meta":{}}', -- a missing field
        '{"data":{},"meta":{}}', -- no item
        '{"data":{"item":{"n":1,"ok":true}},"meta":1}', -- meta not a table
        '{"data":[1],"meta":{}}', '[1,2]', '"text"', '{}',
      } do
        local v, typed = pick(text)
        assert.is_false(typed, text)
        assert.same(core.json_decode(text), v, text)
      end
      assert.same({ nil, nil }, { decode("null") })
      local v, err = pick('{"data":{"item":')
      assert.is_nil(v)
      assert.equal(select(2, core.json_decode('{"data":{"item":')), err)
    end)

    it("picks from objects too big to wait on the stack", function()
      local many = {}
      for i = 1, 20000 do many[#many + 1] = ('"k%d":%d'):format(i, i) end
      many = table.concat(many, ",")
      for _, text in ipairs {
        '{"data":{' .. many .. ',"item":{"n":5,"ok":true}},"meta":{}}',
        '{"data":{"item":{"n":5,"ok":true},' .. many .. '},"meta":{}}',
        '{"meta":{},"data":{"item":{"n":5,"ok":true,' .. many .. '}}}',
      } do
        local v, typed = pick(text)
        assert.is_true(typed)
        assert.same({ n = 5, ok = true }, v)
      end
    end)

    it("refuses a path that is not one of the shape, naming the step", function()
      assert.has_error(function() core.json_decoder(SHAPE, { pick = { "data", "nope" } }) end,
        "json_decoder: pick[2] 'nope' is not a field of the shape there")
      assert.has_error(function() core.json_decoder(SHAPE, { pick = { "meta", "x" } }) end,
        "json_decoder: pick[2] is not a field of an object of the shape")
      assert.has_error(function() core.json_decoder(SHAPE, { pick = {} }) end)
      assert.has_error(function() core.json_decoder(SHAPE, { pick = "data" }) end)
      assert.has_error(function() core.json_decoder(SHAPE, "data") end)
    end)
  end)
end)
