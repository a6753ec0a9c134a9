-- Helpers shared by the sandbox's nginx-side modules: JSON encoding (with a way to say "empty array",
-- which lua-cjson 2.1.0 cannot), small argument checks, UTF-8 length, the JSON-string test for tables.
-- Plain Lua: no ngx API here, so the vendor modules built on it stay pure functions of a request.

local cjson = require("cjson.safe")

local _M = {}

--- Marker value: encodes as `[]` through `_M.encode` (a plain empty table would encode as `{}`).
_M.EMPTY_ARRAY = "\0convai-sandbox-empty-array\0"

-- The marker as cjson encodes it, escaped for use as a Lua pattern.
local EMPTY_ARRAY_PATTERN = assert(cjson.encode(_M.EMPTY_ARRAY)):gsub("%p", "%%%0")

--- Encode a Lua value as JSON with lua-cjson.
-- Every occurrence of `_M.EMPTY_ARRAY` becomes `[]`; `cjson.null` becomes `null`.
-- @param value any JSON-encodable Lua value
-- @treturn string|nil the JSON text
-- @treturn string error message when cjson refuses the value (e.g. a function or a sparse array)
function _M.encode(value)
  local text, err = cjson.encode(value)
  if not text then
    return nil, err
  end
  return (text:gsub(EMPTY_ARRAY_PATTERN, "[]"))
end

--- Decode JSON text with lua-cjson (safe flavour).
-- @tparam string text JSON text
-- @return the decoded value, or nil
-- @treturn string error message when the text is not JSON
function _M.decode(text)
  if type(text) ~= "string" or text == "" then
    return nil, "empty body"
  end
  local value, err = cjson.decode(text)
  if value == nil then
    return nil, err
  end
  return value
end

--- The JSON null value (`cjson.null`).
_M.null = cjson.null

--- Is the value a Lua table that decoded from a JSON array (keys exactly 1..n, or empty)?
-- An empty table is ambiguous after decoding and is accepted as an array.
-- @param t any value
-- @treturn boolean
function _M.is_array(t)
  if type(t) ~= "table" then
    return false
  end
  local n = 0
  for _ in pairs(t) do
    n = n + 1
  end
  for i = 1, n do
    if t[i] == nil then
      return false
    end
  end
  return true
end

--- Is the value a Lua table that decoded from a JSON object (string keys only, or empty)?
-- @param t any value
-- @treturn boolean
function _M.is_object(t)
  if type(t) ~= "table" then
    return false
  end
  for k in pairs(t) do
    if type(k) ~= "string" then
      return false
    end
  end
  return true
end

--- Number of UTF-8 characters in a string (bytes that are not continuation bytes).
-- @tparam string s
-- @treturn integer
function _M.utf8_len(s)
  local _, n = s:gsub("[^\128-\191]", "")
  return n
end

--- Parse a decimal integer given as a string of digits only (no sign, no spaces).
-- @tparam string s
-- @treturn number|nil the integer value, nil when `s` is not all digits or has more than 15 digits
function _M.parse_digits(s)
  if type(s) ~= "string" or not s:match("^%d+$") or #s > 15 then
    return nil
  end
  return tonumber(s)
end

--- Is the value an integral number (any sign) representable exactly?
-- @param v any value
-- @treturn boolean
function _M.is_integer(v)
  return type(v) == "number" and v == math.floor(v) and v > -2 ^ 53 and v < 2 ^ 53
end

--- Last value of a query argument as returned by `ngx.req.get_uri_args`.
-- Repeated arguments come as a list (the last one wins, as in Rails and Laravel); an argument without
-- "=" comes as `true` and is treated as the empty string.
-- @param v nil, string, boolean or list of those
-- @treturn string|nil
function _M.arg(v)
  if type(v) == "table" then
    v = v[#v]
  end
  if v == true then
    return ""
  end
  if type(v) == "string" then
    return v
  end
  return nil
end

return _M
