-- json_check.lua - the properties fuzz_json.c checks for each input (loaded once by the harness).
--
-- Called as `check(core, text)` where core holds convai.core's json_decode/json_encode (src/ljson.c) and
-- field_checker (src/lfieldcheck.c), and text is arbitrary bytes. A broken property raises an error,
-- which the harness turns into a crash.
--  1. json_decode (the core's own decoder, src/jsondec.c) agrees with plain cjson.safe (the reference):
--     it refuses exactly what cjson refuses, with "invalid JSON: ..."; otherwise its value is cjson's with
--     every null removed and every integral float within +-2^53 turned into an integer (nothing else
--     changes: strings, booleans, other numbers, keys). `null` alone decodes to nil and no message.
--     The one documented difference (docs/core.md, "JSON decoding"): a text with a raw NUL byte is
--     refused, where cjson reads the NUL as the end of the text.
--  2. json_encode of a decoded value fails exactly when the value cannot be JSON (an infinity from an
--     overflowing number like 1e400, or an array so sparse after removing nulls that cjson refuses it),
--     and otherwise decodes back to the same value (same types, integers stay integers).
--  4. core.json_decoder (when the module has it) with the Avaamo usage shape gives json_decode's result
--     (and the voicebot usage decoder, which picks data.business_initiated, that object's fields);
--     when it says the shape holds, its value differs only by success_rate fields made floats, and the
--     shape does hold (checked in Lua); when it says no, the value is json_decode's exactly.
--  3. core.field_checker (when the module has it), built from the types a decoded object's fields
--     have, accepts that object, and refuses it as soon as one field is declared with another type.
local core, cjson = ...
-- Also run by tests/lua/core/json_spec.lua under LuaJIT, where an integral number within +-2^53 is what
-- the core calls an integer (no subtype) and nothing is ever made a float.
local MAX_SAFE_ = 2 ^ 53
local mtype = math.type or function(v)
  if type(v) ~= "number" then return nil end
  return (v == math.floor(v) and v >= -MAX_SAFE_ and v <= MAX_SAFE_) and "integer" or "float"
end
local tointeger = math.tointeger or function(v) return v end
local HAS_FLOATS = math.type ~= nil -- integral floats exist (Lua 5.4)
local raw = cjson.new()
raw.decode_invalid_numbers(false)
local null = raw.null
local MAX_SAFE = 2 ^ 53

local function fail(fmt, ...)
  error(string.format(fmt, ...), 0)
end

-- Deep equality, numbers compared by value and subtype.
local function same(a, b, path)
  if type(a) ~= type(b) then fail("%s: %s vs %s", path, type(a), type(b)) end
  if type(a) == "number" then
    if mtype(a) ~= mtype(b) or a ~= b then
      fail("%s: %s %.17g vs %s %.17g", path, mtype(a), a, mtype(b), b)
    end
  elseif type(a) == "table" then
    for k, v in pairs(a) do same(v, b[k], path .. "." .. tostring(k)) end
    for k in pairs(b) do
      if a[k] == nil then fail("%s.%s: missing vs present", path, tostring(k)) end
    end
  elseif a ~= b then
    fail("%s: %q vs %q", path, tostring(a), tostring(b))
  end
end

-- What convai should make of cjson's value.
local function normalised(v)
  if v == null then return nil end
  if type(v) == "number" and mtype(v) == "float" and v >= -MAX_SAFE and v <= MAX_SAFE
    and v == math.floor(v) then
    return tointeger(v)
  end
  if type(v) ~= "table" then return v end
  local t = {}
  for k, x in pairs(v) do t[k] = normalised(x) end
  return t
end

-- Does v hold something JSON cannot express: an infinity, or an array cjson finds excessively sparse
-- (all keys positive integers, the largest over 10 and over twice their count)?
local function unencodable(v)
  if type(v) == "number" then return v == math.huge or v == -math.huge end
  if type(v) ~= "table" then return false end
  local n, max, array = 0, 0, true
  for k, x in pairs(v) do
    if unencodable(x) then return true end
    n = n + 1
    if mtype(k) == "integer" and k > 0 then
      if k > max then max = k end
    else
      array = false
    end
  end
  return array and max > 10 and max > 2 * n
end

local function kind_of(x)
  if mtype(x) == "integer" then return "integer" end
  if type(x) == "number" then return "number" end
  return type(x)
end
local other = { integer = "string", number = "string", string = "integer", boolean = "table",
  table = "boolean" }

local function check_fields(v)
  if not core.field_checker or type(v) ~= "table" then return end
  local fields = {}
  for k, x in pairs(v) do
    if type(k) == "string" and #fields < 20 then fields[#fields + 1] = { k, kind_of(x) } end
  end
  if not core.field_checker(fields)(v) then fail("field_checker refuses the types the fields have") end
  if core.field_checker(fields)("not a table") then fail("field_checker accepts a string") end
  for i, f in ipairs(fields) do
    local changed = {}
    for j, g in ipairs(fields) do changed[j] = g end
    changed[i] = { f[1], other[f[2]] }
    if core.field_checker(changed)(v) then fail("field %q declared %s passes", f[1], other[f[2]]) end
    if f[2] == "number" or f[2] == "integer" then
      changed[i] = { f[1], "number?" }
      if not core.field_checker(changed)(v) then fail("field %q refused as number?", f[1]) end
    end
  end
end

local STATS = { start_time = "number", end_time = "number", success_rate = "float?" }
local COUNTS = { "session_count", "messages_count", "unhandled_messages_count", "successful_responses_count",
  "ambiguous_messages_count", "interventions_count", "success_rate_count" }
for i = 1, #COUNTS do STATS[COUNTS[i]] = "integer" end
local decode_avaamo = core.json_decoder and core.json_decoder { aggregate_stats = STATS,
  previous_interval_stats = STATS, stats = { STATS, n = 9 } }

local function stats_ok(s)
  if type(s) ~= "table" then return false end
  for i = 1, #COUNTS do if mtype(s[COUNTS[i]]) ~= "integer" then return false end end
  return type(s.start_time) == "number" and type(s.end_time) == "number"
    and (s.success_rate == nil or type(s.success_rate) == "number"
      and (not HAS_FLOATS or mtype(s.success_rate) == "float"))
end

-- What every json_decoder gives where json_decode gave v, err: nil and the same message for bad JSON
-- (nil alone for null), json_decode's value exactly and false when the shape does not hold. Returns true
-- when the decoder's results w, typed were one of those (checked), false when it says the shape holds.
local function untyped_as_decode(name, w, typed, v, err)
  if v == nil then
    if w ~= nil or typed ~= err then fail("%s: %s, %s for nil, %s", name, tostring(w), tostring(typed),
      tostring(err)) end
    return true
  end
  if not typed then
    if typed ~= false then fail("%s: second result %s", name, tostring(typed)) end
    same(v, w, "$")
    return true
  end
  return false
end

local function check_decoder(text, v, err)
  if not decode_avaamo then return end
  local w, typed = decode_avaamo(text)
  if untyped_as_decode("json_decoder", w, typed, v, err) then return end
  local n = 0
  for k in pairs(w.stats) do n = n + 1; if not (mtype(k) == "integer" and k >= 1 and k <= 9) then n = -99 end end
  if n ~= 9 or not (stats_ok(w.aggregate_stats) and stats_ok(w.previous_interval_stats)) then
    fail("json_decoder says typed, but the shape does not hold")
  end
  for i = 1, 9 do if not stats_ok(w.stats[i]) then fail("json_decoder: stats[%d] not typed", i) end end
  -- json_decode's value with success_rate made floats is the typed value
  local function floats(s) if s.success_rate then s.success_rate = s.success_rate + 0.0 end end
  floats(v.aggregate_stats); floats(v.previous_interval_stats)
  for i = 1, 9 do floats(v.stats[i]) end
  same(v, w, "$")
end

-- The voicebot usage decoder, which picks data.business_initiated: when typed, exactly that object's
-- three fields of json_decode's value; else json_decode's whole value.
local BI = { current_usage = "integer", current_limit = "integer", limit_exhausted = "boolean" }
local decode_picked = core.json_decoder and core.json_decoder({ data = { business_initiated = BI } },
  { pick = { "data", "business_initiated" } })

local function check_pick(text, v, err)
  if not decode_picked then return end
  local w, typed = decode_picked(text)
  if untyped_as_decode("pick", w, typed, v, err) then return end
  local bi = type(v) == "table" and type(v.data) == "table" and v.data.business_initiated
  if type(bi) ~= "table" or mtype(bi.current_usage) ~= "integer" or mtype(bi.current_limit) ~= "integer"
    or type(bi.limit_exhausted) ~= "boolean" then
    fail("pick says typed, but the shape does not hold")
  end
  same({ current_usage = bi.current_usage, current_limit = bi.current_limit,
    limit_exhausted = bi.limit_exhausted }, w, "$")
end

return function(text)
  local v, err = core.json_decode(text)
  local ok_dec, why = pcall(check_decoder, text, v, err)
  if not ok_dec then fail("%s", why) end
  ok_dec, why = pcall(check_pick, text, v, err)
  if not ok_dec then fail("%s", why) end
  v, err = core.json_decode(text)
  local r, rerr = raw.decode(text)
  if r == nil or text:find("\0", 1, true) then
    if v ~= nil or type(err) ~= "string" or not err:find("^invalid JSON: ") then
      fail("cjson refuses, convai gives %s, %s", tostring(v), tostring(err))
    end
    if r == nil and not text:find("\0", 1, true) and err ~= "invalid JSON: " .. rerr then
      fail("cjson says %q, convai %q", rerr, err)
    end
    return
  end
  if err ~= nil then fail("valid JSON, but message %s", tostring(err)) end
  same(normalised(r), v, "$")
  if v == nil then return end
  check_fields(v)

  local text2, eerr = core.json_encode(v)
  local bad = unencodable(v)
  if text2 == nil then
    if not bad then fail("encode failed: %s", tostring(eerr)) end
    if not eerr:find("^cannot encode JSON: ") then fail("message %s", eerr) end
    return
  end
  if bad then fail("encoded an infinity or an excessively sparse array: %s", text2) end
  local v2, err2 = core.json_decode(text2)
  if err2 ~= nil then fail("re-decoding %s: %s", text2, err2) end
  same(v, v2, "$")
end
