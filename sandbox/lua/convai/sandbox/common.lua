-- Helpers shared by the sandbox's nginx-side modules: JSON encoding (with a way to say "empty array",
-- which lua-cjson 2.1.0 cannot), small argument checks, UTF-8 length, the JSON-string test for tables,
-- and the checker of the sections of POST /_sandbox/config (`check_config`).
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

--- Check a section of POST /_sandbox/config against its rules, without applying it.
--
-- A rule is either a function of the value that returns nil when the value is right, else what is
-- wrong ("must be a positive number"), or a table for a JSON object:
--
--  - `{settings = {name = rule, ...}}`: the object's keys are setting names, each with its rule;
--  - `{key = function(k), each = rule, what = "an object keyed by ..."}`: the object maps ids (checked by
--    `key`, which returns nil or what is wrong) to JSON null (back to the defaults) or values checked
--    by `each`.
--
-- `what` (optional in both) says what the value must be when it is not an object (default
-- "an object").
-- @tparam string path the section's name as messages show it ("voicebot")
-- @param value the decoded JSON value
-- @tparam function|table rule
-- @treturn boolean|nil true when valid
-- @treturn string error message: "PATH must be ...", "PATH: unknown setting NAME",
--   "PATH: <what the key check says>, got KEY", with PATH the dotted path to the wrong value
function _M.check_config(path, value, rule)
  if type(rule) == "function" then
    local problem = rule(value)
    if problem then
      return nil, path .. " " .. problem
    end
    return true
  end
  if not _M.is_object(value) then
    return nil, path .. " must be " .. (rule.what or "an object")
  end
  for k, v in pairs(value) do
    local ok, err = true, nil
    if rule.each then
      local problem = rule.key and rule.key(k)
      if problem then
        return nil, path .. ": " .. problem .. ", got " .. tostring(k)
      end
      if v ~= _M.null then
        ok, err = _M.check_config(path .. "." .. k, v, rule.each)
      end
    elseif rule.settings[k] then
      ok, err = _M.check_config(path .. "." .. k, v, rule.settings[k])
    else
      return nil, path .. ": unknown setting " .. tostring(k)
    end
    if not ok then
      return nil, err
    end
  end
  return true
end

--- A copy of per-agent settings with the named fields only: the `agents` of the effective
-- configuration that GET /_sandbox/config shows.
-- @tparam table agents `{[id] = {field = value, ...}}`
-- @tparam table fields the field names to copy
-- @treturn table `{[id] = {field = value, ...}}`
function _M.agent_settings(agents, fields)
  local out = {}
  for id, s in pairs(agents) do
    local copy = {}
    for _, f in ipairs(fields) do
      copy[f] = s[f]
    end
    out[id] = copy
  end
  return out
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
