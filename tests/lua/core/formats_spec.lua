-- formats_spec.lua - the vendors' data formats (src/lformats.c): Avaamo's dd/mm/yyyy dates
-- (core.parse_date, core.format_date) and Vonage's phone numbers (core.normalize_phone).

local helper = require "core_helper"
local core = helper.core
local is_integer = helper.is_integer

describe("dates", function()
  it("parses dd/mm/yyyy to days since 1970-01-01", function()
    assert.equal(0, core.parse_date("01/01/1970"))
    assert.equal(19782, core.parse_date("29/02/2024"))
    assert.is_true(is_integer(core.parse_date("29/02/2024")))
  end)
  it("rejects non-dates with a helpful message", function()
    local v, msg = core.parse_date("31/02/2024")
    assert.is_nil(v)
    assert.equal('"31/02/2024" is not a calendar date (expected '
      .. 'dd/mm/yyyy)', msg)
    v, msg = core.parse_date("29/02/2023")
    assert.is_nil(v)
    assert.truthy(msg:find("not a calendar date", 1, true))
    v, msg = core.parse_date("31/04/2024")
    assert.is_nil(v)
    assert.equal('"31/04/2024" is not a calendar date (expected '
      .. 'dd/mm/yyyy)', msg)
    v, msg = core.parse_date("1/2/2024")
    assert.is_nil(v)
    assert.truthy(msg:find("dd/mm/yyyy", 1, true))
    v, msg = core.parse_date("2024-02-01")
    assert.is_nil(v)
    assert.truthy(msg:find("dd/mm/yyyy", 1, true))
    assert.has_error(function() core.parse_date(nil) end)
  end)
  it("formats days back to dd/mm/yyyy", function()
    assert.equal("29/02/2024", core.format_date(19782))
    assert.equal("01/01/1970", core.format_date(0))
    local today = math.floor(os.time() / 86400)
    assert.equal(today, core.parse_date(core.format_date(today)))
    local v, msg = core.format_date(-1)
    assert.is_nil(v)
    assert.is_string(msg)
  end)
end)

describe("normalize_phone", function()
  it("accepts human input", function()
    for _, s in ipairs { "+44 7700 900123", "0044 7700 900123",
      "(44) 7700-900123", "447700900123", "+44.7700.900.123" } do
      assert.equal("447700900123", core.normalize_phone(s))
    end
  end)
  it("explains what is wrong", function()
    local v, msg = core.normalize_phone("12345")
    assert.is_nil(v)
    assert.equal("phone number must have 8 to 15 digits including the "
      .. "country code, got 5", msg)
    v, msg = core.normalize_phone("1234567890123456")
    assert.is_nil(v)
    assert.truthy(msg:find("got 16", 1, true))
    v, msg = core.normalize_phone("+44 7700 9001ab")
    assert.is_nil(v)
    assert.truthy(msg:find("letter", 1, true))
    v, msg = core.normalize_phone("44 7700 +900123")
    assert.is_nil(v)
    assert.truthy(msg:find("'+'", 1, true))
    v, msg = core.normalize_phone("44*7700*900123")
    assert.is_nil(v)
    assert.truthy(msg:find("'*'", 1, true))
  end)
end)
