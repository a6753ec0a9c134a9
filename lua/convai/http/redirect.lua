--- convai.http.redirect: the redirect policy of a transport: which 3xx answers are followed, where to.
--
-- By default a transport follows no redirect (a 3xx is an `http` error with `location`); with
-- `follow_redirects` it follows up to that many. A Location is resolved against the URL asked and must
-- be an http(s) URL without `user:password@`; a 301 or 302 is not followed for a method other than GET
-- and HEAD (it would become a GET), a 303 becomes a GET, 307 and 308 keep the method and body. The
-- transport sends its credentials only to the base URL's origin (`origin`): after a hop to another
-- scheme, host or port, none for the rest of the chain.
--
-- @module convai.http.redirect
local errors = require "convai.errors"
local check = require "convai.http.check"

local tostring, tonumber = tostring, tonumber
local format = string.format

local invalid = errors.invalid
local QUERY_METHODS = check.QUERY_METHODS

local _M = {}

--- The statuses that redirect.
_M.STATUS = { [301] = true, [302] = true, [303] = true, [307] = true, [308] = true }
--- Redirects followed with `follow_redirects = true`.
_M.DEFAULT = 5
--- The most redirects `follow_redirects` may ask for.
_M.MAX = 50

--- Check `follow_redirects`: false or nil (none), true (`DEFAULT`) or the most redirects to follow.
-- @param v what the user gave
-- @treturn integer|nil redirects to follow at most
-- @treturn[2] convai.error kind `invalid_argument`
function _M.check(v)
  if v == nil or v == false then return 0 end
  if v == true then return _M.DEFAULT end
  local n = check.count(v)
  if not n or n < 0 or n > _M.MAX then
    return invalid(format("follow_redirects must be false (the default), true (at most %d) or the "
      .. "most redirects to follow, an integer from 0 to %d; got %s", _M.DEFAULT, _M.MAX, tostring(v)))
  end
  return n
end

local URL_PARTS = "^(%a[%w+.-]*)://([^/?#]*)([^?#]*)(.*)$"

--- Scheme, host and port of a URL as one string (`"http://example.com:80"`), nil when it has none.
-- Two URLs are on the same host when their origins are equal.
-- @tparam string url
-- @treturn string|nil
function _M.origin(url)
  local scheme, authority = url:match("^(%a[%w+.-]*)://([^/?#]*)")
  if not scheme then return nil end
  scheme = scheme:lower()
  authority = authority:gsub("^.*@", "")
  local host, rest = authority:match("^(%b[])(.*)$")
  if not host then host, rest = authority:match("^([^:]*)(.*)$") end
  local port = rest:match("^:(%d+)$")
  if port then
    port = tonumber(port)
  elseif rest == "" or rest == ":" then
    port = scheme == "https" and 443 or 80
  else
    return nil
  end
  return format("%s://%s:%d", scheme, host:lower(), port)
end

--- Resolve a Location (absolute, scheme-relative, absolute-path or relative) against the URL asked.
-- @tparam string base the URL asked
-- @tparam string ref the Location
-- @treturn string|nil the http(s) URL to follow, or nil when the Location is not one (or has
--   `user:password@`, a backslash, a space or a control character)
function _M.resolve(base, ref)
  ref = ref:gsub("#.*$", "")
  local url
  if ref:match("^%a[%w+.-]*:") then
    url = ref
  else
    local scheme, authority, path, query = base:match(URL_PARTS)
    if ref:sub(1, 2) == "//" then
      url = scheme .. ":" .. ref
    elseif ref:sub(1, 1) == "/" then
      url = scheme .. "://" .. authority .. ref
    elseif ref == "" then
      url = scheme .. "://" .. authority .. path .. query
    elseif ref:sub(1, 1) == "?" then
      url = scheme .. "://" .. authority .. path .. ref
    else
      url = scheme .. "://" .. authority .. (path:match("^(.*/)") or "/") .. ref
    end
  end
  local scheme, authority, path, query = url:match(URL_PARTS)
  -- no space, control character or backslash (URL parsers disagree on it), no user:password@
  if not scheme or authority == "" or authority:find("@", 1, true) or url:find("[%s%c\\]") then
    return nil
  end
  scheme = scheme:lower()
  if scheme ~= "http" and scheme ~= "https" then return nil end
  -- libcurl removes "." and ".." segments from the path (RFC 3986 §5.2.4) itself
  return scheme .. "://" .. authority .. (path == "" and "/" or path) .. query
end
local resolve = _M.resolve

--- Decide whether to follow a redirect answer (`STATUS`).
-- @tparam string method the method of the request answered
-- @tparam string url the URL asked
-- @tparam integer status the answer's status
-- @tparam[opt] string location its `Location` header
-- @tparam integer hops redirects followed so far
-- @tparam integer max redirects that may be followed (the transport's `follow_redirects`)
-- @treturn[1] string the URL to ask next
-- @treturn[1] string the method to ask it with (a 303 turns any method but HEAD into GET)
-- @treturn[1] boolean true when the body is dropped (the method became a GET)
-- @treturn[2] nil
-- @treturn[2] string why it is not followed, for the error message
function _M.follow(method, url, status, location, hops, max)
  if max == 0 then return nil, "redirects are not followed (see the follow_redirects option)" end
  if not location then return nil, "no Location header" end
  if hops >= max then return nil, format("already followed %d (follow_redirects = %d)", hops, max) end
  if (status == 301 or status == 302) and not QUERY_METHODS[method] then
    return nil, format("a %d would turn the %s into a GET; not followed (the server must answer 307 or "
      .. "308 to keep a %s)", status, method, method)
  end
  local target = resolve(url, location)
  if not target then return nil, "Location is not an http:// or https:// URL (or has user:password@)" end
  if status == 303 and method ~= "HEAD" then return target, "GET", true end
  return target, method, false
end

return _M
