--- convai.http.check: the checks and encodings of what goes into a request.
--
-- Base URLs, credentials and timeouts given by the user are checked here before a transport is made
-- (a bad one is an `invalid_argument` error whose message names the option and never shows a
-- credential); query strings and path segments are percent-encoded here; and user values are shown in
-- messages through `quote`, so that a message is always one clean line. The vendor clients check their
-- own arguments with `count` and `positive_integer`. Nothing here sends anything.
--
-- @module convai.http.check
local errors = require "convai.errors"

local type, tostring, tonumber, pairs, ipairs = type, tostring, tonumber, pairs, ipairs
local concat, sort = table.concat, table.sort
local format, gsub, char = string.format, string.gsub, string.char
local floor, huge = math.floor, math.huge

local invalid = errors.invalid

local _M = {}

--- Query methods (RFC 9110 §9.2.1 safe methods): they only read, so the retry policy retries them
-- after any transient failure and a 301 or 302 may be followed with them.
_M.QUERY_METHODS = { GET = true, HEAD = true }

--- Show a value given by the user in a message, safely: a string is quoted, its first 40 bytes kept
-- and any byte that is not printable ASCII (CR, LF, NUL, ...) or a `"` shown as `?` (as the C core's
-- messages do), so that a message is always one clean line; other values as `tostring`, tables and
-- functions by their type.
-- @param v
-- @treturn string
function _M.quote(v)
  local t = type(v)
  if t == "string" then
    local shown = gsub(v:sub(1, 40), '[^\32-\126]', "?"):gsub('"', "?")
    return '"' .. shown .. (#v > 40 and '..."' or '"')
  elseif t == "table" or t == "function" or t == "userdata" or t == "thread" then
    return "a " .. t
  end
  return tostring(v)
end
local quote = _M.quote

--- Check a timeout option.
-- @param v value given by the user (seconds)
-- @tparam string name option name for the message
-- @tparam number default seconds used when `v` is nil
-- @treturn number|nil seconds
-- @treturn[2] convai.error kind `invalid_argument`
function _M.timeout(v, name, default)
  if v == nil then return default end
  if type(v) ~= "number" or v ~= v or v <= 0 or v == huge then
    return invalid(format("%s must be a positive number of seconds, got %s", name, quote(v)))
  end
  return v
end

--- Check a base URL: http(s), no whitespace or control characters, no `user:password@`, no query or
-- fragment; a trailing "/" is dropped.
-- @tparam string url
-- @tparam string name option name for the message
-- @treturn string|nil the normalised URL
-- @treturn[2] convai.error kind `invalid_argument`
function _M.base_url(url, name)
  if type(url) ~= "string" or url == "" then
    return invalid(format("%s is required (an http:// or https:// URL)", name))
  end
  local authority = url:match("^%a+://([^/?#]*)")
  if authority and authority:find("@", 1, true) then -- checked first: the URL is not shown
    return invalid(format("%s must not contain user:password@ (convai sends the credential in a "
      .. "header); remove that part", name))
  end
  if not url:match("^https?://[^/%s%c]+") or url:find("[%s%c]") then
    return invalid(format("%s must be an http:// or https:// URL without spaces, got %s", name, quote(url)))
  end
  if url:find("[?#]") then
    return invalid(format("%s must not contain a query (?) or a fragment (#): the API path is "
      .. "appended to it; got %s", name, quote(url)))
  end
  return (gsub(url, "/+$", ""))
end

--- Check a credential (token or key): a non-empty string that is safe in a header.
-- The message names the option and never shows the value.
-- @param value what the user gave
-- @tparam string name option name, e.g. "token"
-- @tparam string env environment variable that usually holds it
-- @treturn string|nil the credential
-- @treturn[2] convai.error kind `invalid_argument`
function _M.secret(value, name, env)
  if type(value) ~= "string" or value == "" then
    return invalid(format("%s is required: a non-empty string (set %s)", name, env))
  end
  if value:find("[%c ]") then
    return invalid(format("%s contains a space or a control character (CR, LF, NUL...); "
      .. "copy the credential again without line breaks", name))
  end
  return value
end

local ESCAPES = {} -- every byte that is not unreserved -> "%XX"
for b = 0, 255 do
  local c = char(b)
  if c:find("[^%w%-%._~]") then ESCAPES[c] = format("%%%02X", b) end
end

--- Percent-encode a string for a URL query or path segment (RFC 3986: unreserved characters kept).
-- @tparam string s
-- @treturn string
function _M.escape(s)
  return (gsub(s, "[^%w%-%._~]", ESCAPES))
end
local escape = _M.escape

--- Encode query parameters given as an ordered list of `{name, value}` pairs; nil values are skipped.
-- @tparam table params
-- @treturn string "" or "?a=1&b=2"
function _M.query(params)
  local parts = {}
  for _, kv in ipairs(params) do
    if kv[2] ~= nil then
      parts[#parts + 1] = escape(kv[1]) .. "=" .. escape(tostring(kv[2]))
    end
  end
  if #parts == 0 then return "" end
  return "?" .. concat(parts, "&")
end

local tointeger = math.tointeger -- nil on Lua 5.1 and LuaJIT

--- Coerce a number (a decoded JSON number, an option) to an integer count, or nil when it is not one.
-- @param v
-- @treturn integer|nil
function _M.count(v)
  if type(v) ~= "number" then return nil end
  if tointeger then return tointeger(v) end
  if v == floor(v) then return v end
  return nil
end
local count = _M.count

--- Check that `v` is a positive integer (a Lua integer, an integral float, or digits in a string).
-- @param v
-- @treturn integer|nil
function _M.positive_integer(v)
  if type(v) == "string" and v:match("^%d+$") then v = tonumber(v) end
  local n = count(v)
  if n and n >= 1 and n <= 9007199254740991 then return n end
  return nil
end

--- Sorted keys of a table (for deterministic output: parameters sent, headers printed).
-- @tparam table t
-- @treturn table the keys, sorted by their `tostring`
function _M.sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  return keys
end

return _M
