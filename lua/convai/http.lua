--- convai.http: the transport shared by the vendor clients.
--
-- Wraps a `convai.core` HTTP session (libcurl, kept-alive connection) with what every vendor client
-- needs: base URL joining, query-string and path escaping, credential headers kept out of sight, JSON
-- decoding into typed Lua values, and turning non-2xx answers into `convai.error` values.
--
-- Credentials live in a weak table keyed by the transport, never in a field of it, so that printing a
-- client or a transport (`tostring`, `inspect`, a debugger's table dump) cannot show a token or key.
--
-- @module convai.http
local core = require "convai.core"
local errors = require "convai.errors"
local runtime = require "convai.runtime"
local batch = require "convai.batch"

local type, tostring, tonumber, pairs, ipairs = type, tostring, tonumber, pairs, ipairs
local setmetatable = setmetatable
local concat, sort = table.concat, table.sort
local format, gsub = string.format, string.gsub
local floor = math.floor

local _M = { _VERSION = core.version }

local secrets = setmetatable({}, { __mode = "k" })
-- The request header tables of each transport (they hold its credentials), built once: `{[1] = for a
-- request without a body, [2] = with a JSON body}`.
local header_tables = setmetatable({}, { __mode = "k" })

-- Sessions closed through a transport's `close` (weak keys): a request through a driver is refused
-- here, as the session itself would refuse it, since the driver's connections are not the session's.
local closed_sessions = setmetatable({}, { __mode = "k" })

-- A request made inside a coroutine that a scheduler drives (`convai.runtime.attach`, done by
-- `convai.batch`) goes through `driver:request(transport, req)`, so that requests overlap on one
-- libcurl multi handle; elsewhere it uses the transport's own session.
local driver_of = runtime.driver

--- Perform one request of a transport: through the driver of the running coroutine if there is one,
-- else the transport's session.
-- @tparam table self transport
-- @tparam table req `core` request table
-- @treturn table|nil response, or nil and a `convai.error`
local function perform_untraced(self, req)
  local driver = driver_of()
  local resp, err
  if driver then
    if closed_sessions[self.session] then
      resp, err = nil, core.error("invalid_argument", "session is closed", { request_sent = false })
    else
      resp, err = driver:request(self, req)
    end
  else
    resp, err = self.session:request(req)
  end
  if err and err.kind == "tls" and runtime.tls_hint then -- say how to fix it
    err.message = err.message .. (self.cafile
      and " (check cafile: it must hold the CA that signed the server's certificate)"
      or runtime.tls_hint)
  end
  return resp, err
end

--- Header names whose values are credentials, lower-cased: always shown as `<redacted>` by
-- `redact_headers`, as are the transport's own credential headers.
_M.CREDENTIAL_HEADERS = {
  ["authorization"] = true, ["proxy-authorization"] = true, ["access-token"] = true,
  ["x-vgai-key"] = true, ["cookie"] = true,
}

--- Copy request headers with every credential value replaced by `"<redacted>"`.
-- @tparam[opt] table headers `{name = value}`
-- @tparam[opt] table secret_headers more credential headers `{name = value}` (names in any case)
-- @treturn table the copy
function _M.redact_headers(headers, secret_headers)
  local hidden = {}
  for name in pairs(secret_headers or {}) do hidden[name:lower()] = true end
  local out = {}
  for name, value in pairs(headers or {}) do
    local lname = type(name) == "string" and name:lower() or name
    out[name] = (_M.CREDENTIAL_HEADERS[lname] or hidden[lname]) and "<redacted>" or value
  end
  return out
end

--- Perform one request, reporting it to the transport's `trace` function when it has one: a
-- `{phase = "request", method, url, headers (credentials redacted), body_bytes}` event before, and a
-- `{phase = "response", method, url, status (nil when no response came), elapsed_ms, error}` event after.
local function perform(self, req)
  local trace = self.trace
  if not trace then return perform_untraced(self, req) end
  local method = req.method or "GET"
  trace { phase = "request", method = method, url = req.url,
    headers = _M.redact_headers(req.headers, secrets[self]), body_bytes = req.body and #req.body or nil }
  local t0 = core.monotonic()
  local resp, err = perform_untraced(self, req)
  trace { phase = "response", method = method, url = req.url, status = resp and resp.status,
    elapsed_ms = floor((core.monotonic() - t0) * 1000 + 0.5), error = err }
  return resp, err
end

--- Pause for `seconds` (see `convai.runtime.sleep`): yields to the driver of the running coroutine if
-- there is one, `ngx.sleep` inside nginx, else a blocking sleep. The retry policy pauses through it.
-- @tparam number seconds
function _M.sleep(seconds)
  return runtime.sleep(seconds)
end

local mt = {}
mt.__index = mt

--- Refuse bad input (see `convai.errors.invalid`).
-- @function invalid
-- @tparam string message what is wrong and how to fix it
-- @treturn nil
-- @treturn convai.error kind `invalid_argument`
_M.invalid = errors.invalid

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

--- Check a timeout option.
-- @param v value given by the user (seconds)
-- @tparam string name option name for the message
-- @tparam number default seconds used when `v` is nil
-- @treturn number|nil seconds, or nil and an error
local function check_timeout(v, name, default)
  if v == nil then return default end
  if type(v) ~= "number" or v ~= v or v <= 0 or v == math.huge then
    return _M.invalid(format("%s must be a positive number of seconds, got %s", name, _M.quote(v)))
  end
  return v
end

--- Check a base URL: http(s), no whitespace or control characters; a trailing "/" is dropped.
-- @tparam string url
-- @tparam string name option name for the message
-- @treturn string|nil the normalised URL, or nil and an error
function _M.check_base_url(url, name)
  if type(url) ~= "string" or url == "" then
    return _M.invalid(format("%s is required (an http:// or https:// URL)", name))
  end
  local authority = url:match("^%a+://([^/?#]*)")
  if authority and authority:find("@", 1, true) then -- checked first: the URL is not shown
    return _M.invalid(format("%s must not contain user:password@ (convai sends the credential in a "
      .. "header); remove that part", name))
  end
  if not url:match("^https?://[^/%s%c]+") or url:find("[%s%c]") then
    return _M.invalid(format("%s must be an http:// or https:// URL without spaces, got %s", name,
      _M.quote(url)))
  end
  if url:find("[?#]") then
    return _M.invalid(format("%s must not contain a query (?) or a fragment (#): the API path is "
      .. "appended to it; got %s", name, _M.quote(url)))
  end
  return (gsub(url, "/+$", ""))
end

--- Check a credential (token or key): a non-empty string that is safe in a header.
-- The message names the option and never shows the value.
-- @param value what the user gave
-- @tparam string name option name, e.g. "token"
-- @tparam string env environment variable that usually holds it
-- @treturn string|nil the credential, or nil and an `invalid_argument` error
function _M.check_secret(value, name, env)
  if type(value) ~= "string" or value == "" then
    return _M.invalid(format("%s is required: a non-empty string (set %s)", name, env))
  end
  if value:find("[%c ]") then
    return _M.invalid(format("%s contains a space or a control character (CR, LF, NUL...); "
      .. "copy the credential again without line breaks", name))
  end
  return value
end

--- Percent-encode a string for a URL query or path segment (RFC 3986: unreserved characters kept).
-- @tparam string s
-- @treturn string
local ESCAPES = {} -- every byte that is not unreserved -> "%XX"
for b = 0, 255 do
  local c = string.char(b)
  if c:find("[^%w%-%._~]") then ESCAPES[c] = format("%%%02X", b) end
end
function _M.escape(s)
  return (gsub(s, "[^%w%-%._~]", ESCAPES))
end
local escape = _M.escape

-- ------------------------------------------------------------------------------------- retries

--- Default retry policy: 3 attempts in all, backoff base 0.5 s capped at 20 s, Retry-After up to 60 s.
local RETRY_DEFAULTS = { attempts = 3, base = 0.5, cap = 20, retry_after_cap = 60, random = math.random }
local RETRY_OPTIONS = "attempts, base, cap, retry_after_cap, random, sleep"
local MAX_ATTEMPTS = 100
--- Statuses that may go away on their own. For a trigger only 429 is retried (the vendor refused it).
local RETRY_STATUS = { [429] = true, [500] = true, [502] = true, [503] = true, [504] = true }
--- Query methods (RFC 9110 §9.2.1 safe): retried after any transient failure.
local QUERY_METHODS = { GET = true, HEAD = true }
--- libcurl codes of TLS failures that may go away: the handshake failed (35, CURLE_SSL_CONNECT_ERROR).
-- A certificate that does not verify does not get better on its own and is never retried.
local TLS_TRANSIENT = { [35] = true }

local function seconds(v, lo_ok)
  return type(v) == "number" and v == v and (v > 0 or (lo_ok and v == 0))
end

--- Check retry options and lay them over a policy.
-- @param v nil (keep `base`), false (no retries), true (the defaults) or a table of options
--   (`attempts`, `base`, `cap`, `retry_after_cap`, `random`, `sleep`; see `new`)
-- @tparam[opt] table|false base the policy the options override (default: the defaults)
-- @treturn table|false|nil the policy (false: no retries), or nil and an `invalid_argument` error
local function check_retry(v, base)
  local p = {}
  for k, d in pairs(base or RETRY_DEFAULTS) do p[k] = d end
  if v == nil then
    if base == false then return false end
    return p
  end
  if v == false then return false end
  if v == true then v = {} end
  if type(v) ~= "table" then
    return _M.invalid(format("retry must be false (no retries), true (the defaults) or a table of "
      .. "options (%s), got %s", RETRY_OPTIONS, type(v)))
  end
  for k, x in pairs(v) do
    local bad
    if k == "attempts" then
      local n = _M.count(x)
      if not n or n < 1 or n > MAX_ATTEMPTS then
        bad = format("an integer from 1 to %d (attempts in all, the first one included; 1 means "
          .. "no retries)", MAX_ATTEMPTS)
      end
    elseif k == "base" or k == "cap" then
      if not seconds(x) or x == math.huge then bad = "a positive number of seconds" end
    elseif k == "retry_after_cap" then
      if not seconds(x, true) then
        bad = "a number of seconds >= 0 (the longest Retry-After waited for; longer gives up)"
      end
    elseif k == "random" or k == "sleep" then
      if type(x) ~= "function" then
        bad = k == "random" and "a function returning a number in [0, 1) (default math.random)"
          or "a function(seconds) that pauses (default convai.http.sleep)"
      end
    else
      return _M.invalid(format("unknown retry option %s (the options are %s)", tostring(k), RETRY_OPTIONS))
    end
    if bad then
      return _M.invalid(format("retry.%s must be %s, got %s", k, bad, tostring(x)))
    end
    p[k] = x
  end
  return p
end

--- Whether an error may go away on its own: a retryable status, a network error, a timeout, a failed
-- TLS handshake.
local function transient(err)
  if err.status then return RETRY_STATUS[err.status] == true end
  local kind = err.kind
  return kind == "network" or kind == "timeout" or (kind == "tls" and TLS_TRANSIENT[err.curl_code] == true)
end

--- Decide what follows a failed attempt.
-- @tparam table policy
-- @tparam string method
-- @tparam convai.error err the attempt's error
-- @tparam integer attempt attempts made so far (1 after the first)
-- @tparam string vendor
-- @treturn number|nil seconds to wait before the next attempt, or nil to stop
-- @treturn[2] string why it stops (`"unsafe"`, `"exhausted"`, `"retry_after_cap"`), nil when the error
--   is not one that is retried
-- @treturn[2] string what to add to the error message, or nil
local function next_wait(policy, method, err, attempt, vendor, rate_window)
  if not transient(err) then return nil end
  if not QUERY_METHODS[method] and err.status ~= 429 and err.request_sent ~= false then
    return nil, "unsafe", format("not retried: the request may have reached %s, and a retry could "
      .. "message the person twice", vendor)
  end
  if attempt >= policy.attempts then
    return nil, "exhausted", attempt > 1 and format("gave up after %d attempts", attempt) or nil
  end
  local ra = err.retry_after
  if ra then
    if ra > policy.retry_after_cap then
      return nil, "retry_after_cap", format("not retried: Retry-After is %g s, over retry_after_cap "
        .. "(%g s)", ra, policy.retry_after_cap)
    end
    return ra
  end
  -- full jitter: a uniform pause in [0, min(cap, base * 2^n)), n = 0 before the first retry
  local r = tonumber(policy.random()) or 0
  if r < 0 or r ~= r then r = 0 elseif r > 1 then r = 1 end
  local wait = r * math.min(policy.cap, policy.base * 2 ^ (attempt - 1))
  -- A 429 without Retry-After from a vendor whose limit counts requests in a window (Vonage: sessions
  -- per second per agent): sooner than one window, the retry would meet the same limit.
  if err.status == 429 and rate_window and wait < rate_window then wait = rate_window end
  return wait
end

-- ------------------------------------------------------------------------------------- redirects

local REDIRECT_STATUS = { [301] = true, [302] = true, [303] = true, [307] = true, [308] = true }
local DEFAULT_REDIRECTS, MAX_REDIRECTS = 5, 50

--- Check `follow_redirects`: false/nil (0), true (5) or the most redirects to follow.
-- @treturn integer|nil redirects to follow at most, or nil and an `invalid_argument` error
local function check_redirects(v)
  if v == nil or v == false then return 0 end
  if v == true then return DEFAULT_REDIRECTS end
  local n = _M.count(v)
  if not n or n < 0 or n > MAX_REDIRECTS then
    return _M.invalid(format("follow_redirects must be false (the default), true (at most %d) or the "
      .. "most redirects to follow, an integer from 0 to %d; got %s", DEFAULT_REDIRECTS, MAX_REDIRECTS,
      tostring(v)))
  end
  return n
end

--- Create a transport.
-- @tparam table opts
-- @tparam string opts.base_url vendor base URL (http or https)
-- @tparam string opts.base_url_name name of the option, for error messages
-- @tparam table opts.auth credential headers `{name = value}`, already checked; kept private
-- @tparam[opt=30] number opts.timeout total time per request, seconds
-- @tparam[opt=10] number opts.connect_timeout connection set-up time, seconds
-- @tparam[opt] string opts.cafile PEM CA bundle for TLS verification
-- @tparam string opts.vendor vendor name used in error messages
-- @tparam[opt] function opts.trace called with an event table before and after each request (see
--   `perform`): credentials are redacted in it; for `--verbose` output and debugging
-- @param[opt] opts.retry retry policy: false (a single attempt), true or nil (the defaults), or a table
--   laid over the defaults: `attempts` (integer, attempts in all, default 3), `base` (seconds, default
--   0.5) and `cap` (seconds, default 20) of the backoff (before retry n, n = 1, 2, ..., a pause drawn
--   uniformly from [0, min(cap, base * 2^(n-1))): full jitter), `retry_after_cap` (seconds, default 60:
--   a `Retry-After` up to it is waited for exactly, a longer one ends the retries), `random` (function
--   returning a number in [0, 1), default `math.random`) and `sleep` (function(seconds), default
--   `convai.http.sleep`), the last two for tests. What is retried: see `send`
-- @param[opt] opts.follow_redirects false or nil (the default: a 3xx is an `http` error), true (follow
--   at most 5) or an integer (follow at most that many). Credential headers are never sent to another
--   scheme, host or port; a POST is not followed on 301 or 302 (it would become a GET), is followed as
--   a GET on 303 and as a POST on 307 and 308
-- @param[opt] opts.rate_window seconds: the vendor counts its rate limit in windows of this length and
--   answers 429 without `Retry-After`, so a retry after such a 429 pauses at least this long (the
--   clients set it from their vendor's document: 1 for Vonage's sessions per second)
-- @treturn table|nil transport, or nil and an `invalid_argument` error
function _M.new(opts)
  local base_url, err = _M.check_base_url(opts.base_url, opts.base_url_name or "base_url")
  if not base_url then return nil, err end
  local timeout, connect_timeout
  timeout, err = check_timeout(opts.timeout, "timeout", 30)
  if not timeout then return nil, err end
  connect_timeout, err = check_timeout(opts.connect_timeout, "connect_timeout", 10)
  if not connect_timeout then return nil, err end
  if opts.cafile ~= nil and type(opts.cafile) ~= "string" then
    return _M.invalid("cafile must be a path to a PEM file")
  end
  if opts.trace ~= nil and type(opts.trace) ~= "function" then
    return _M.invalid("trace must be a function (called with each request and response event)")
  end
  local retry, follow_redirects
  retry, err = check_retry(opts.retry)
  if retry == nil then return nil, err end
  follow_redirects, err = check_redirects(opts.follow_redirects)
  if not follow_redirects then return nil, err end
  local session
  session, err = runtime.session {
    timeout = timeout, connect_timeout = connect_timeout, cafile = opts.cafile,
  }
  if not session then return nil, err end
  local self = setmetatable({
    base_url = base_url,
    vendor = opts.vendor,
    timeout = timeout,
    connect_timeout = connect_timeout,
    cafile = opts.cafile,
    trace = opts.trace,
    retry = retry,
    follow_redirects = follow_redirects,
    rate_window = opts.rate_window,
    session = session,
  }, mt)
  secrets[self] = opts.auth
  return self
end

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

local function error_message(vendor, status, body)
  local detail
  if type(body) == "table" then
    detail = body.message or body.error
    if type(detail) == "table" then detail = detail.message end
  elseif type(body) == "string" and #body > 0 and #body <= 200 and not body:find("[%c<]") then
    detail = body
  end
  if type(detail) ~= "string" or detail == "" then detail = "HTTP " .. status end
  return format("%s: %s", vendor, detail)
end

--- Turn a response with a non-2xx status into an error value.
-- @tparam table resp `{status, headers, body}` from the core session
-- @tparam string vendor vendor name for the message
-- @treturn convai.error
function _M.response_error(resp, vendor)
  local body = resp.body
  if body ~= "" then
    local decoded = core.json_decode(body)
    if decoded ~= nil then body = decoded end
  else
    body = nil
  end
  local status = resp.status
  local kind = core.error_for_status(status)
  local retry_after
  local ra = resp.headers["retry-after"]
  if ra then retry_after = core.retry_after(ra) end
  local message = error_message(vendor, status, body)
  if kind == "auth" then
    message = message .. " (check the credentials)"
  end
  return core.error(kind, message, { status = status, body = body, retry_after = retry_after })
end

-- ------------------------------------------------------------------------ following redirects

local URL_PARTS = "^(%a[%w+.-]*)://([^/?#]*)([^?#]*)(.*)$"

--- Scheme, host and port of a URL as one string (`"http://example.com:80"`), nil when it has none.
-- Two URLs are on the same host when their origins are equal.
local function origin(url)
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
-- @treturn string|nil the http(s) URL to follow, or nil when the Location is not one (or has
--   `user:password@`, a backslash, a space or a control character)
local function resolve(base, ref)
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

--- One attempt: the request, and the redirects it is allowed to follow.
-- Credentials go only to the base URL's host: after a hop to another scheme, host or port none of the
-- transport's credential headers is sent again, for the rest of the chain.
-- @treturn table|nil the 2xx response, or nil and a `convai.error` (a 3xx not followed is kind `http`,
--   with `location`)
local function fetch(self, method, url, body)
  local max, hops, from, credentials = self.follow_redirects or 0, 0, nil, true
  local first = url
  while true do
    local headers
    if credentials then -- the same two header tables serve every request of the transport
      local cache = header_tables[self]
      if not cache then
        cache = {}
        header_tables[self] = cache
      end
      headers = cache[body and 2 or 1]
      if not headers then
        headers = { ["Accept"] = "application/json" }
        for k, v in pairs(secrets[self]) do headers[k] = v end
        if body then headers["Content-Type"] = "application/json" end
        cache[body and 2 or 1] = headers
      end
    else
      headers = { ["Accept"] = "application/json" }
      if body then headers["Content-Type"] = "application/json" end
    end
    local resp, err = perform(self, { method = method, url = url, headers = headers, body = body })
    if not resp then
      err.message = self.vendor .. ": " .. err.message
      if hops > 0 then err.redirects = hops end
      return nil, err
    end
    local status = resp.status
    if status >= 200 and status <= 299 then return resp end
    err = _M.response_error(resp, self.vendor)
    if hops > 0 then
      err.redirects = hops
      if not credentials then
        err.message = format("%s (after a redirect to another host, %s, which was not sent the "
          .. "credentials)", err.message, origin(url) or "?")
      end
    end
    if not REDIRECT_STATUS[status] then return nil, err end
    local location = resp.headers.location
    err.location = location
    local target, why
    if max == 0 then
      why = "redirects are not followed (see the follow_redirects option)"
    elseif not location then
      why = "no Location header"
    elseif hops >= max then
      why = format("already followed %d (follow_redirects = %d)", hops, max)
    elseif (status == 301 or status == 302) and not QUERY_METHODS[method] then
      why = format("a %d would turn the %s into a GET; not followed (the server must answer 307 or "
        .. "308 to keep a %s)", status, method, method)
    else
      target = resolve(url, location)
      if not target then why = "Location is not an http:// or https:// URL (or has user:password@)" end
    end
    if why then
      local shown = location and (#location > 200 and location:sub(1, 200) .. "..." or location)
      err.message = format("%s (redirect%s: %s)", err.message, shown and " to " .. shown or "", why)
      return nil, err
    end
    if status == 303 and method ~= "HEAD" then method, body = "GET", nil end
    if not from then from = origin(first) end -- only needed when a redirect is followed
    if origin(target) ~= from then credentials = false end
    hops, url = hops + 1, target
  end
end

--- Send a request and return the response, or an error for a transport failure or a non-2xx status.
-- Follows the transport's retry policy (see `new`): a query (GET, HEAD) is retried after a network
-- error, a timeout, a failed TLS handshake, 500, 502, 503, 504 or 429; any other method only after 429
-- or a connection that failed before any byte of the request was sent (`err.request_sent == false`).
-- Redirects are followed only when the transport has `follow_redirects`.
-- @tparam string method "GET", "POST", ...
-- @tparam string path path below the base URL, already escaped, starting with "/"
-- @tparam[opt] string query from `convai.http.query`
-- @tparam[opt] string body request body (JSON)
-- @tparam[opt] table opts `{retry = false | table}`: this call's retry options, laid over the
--   transport's (false: a single attempt)
-- @treturn table|nil `{status, headers, body}`, or nil and a `convai.error` with `attempts` (integer,
--   attempts made) and, when it stopped a retry, `retry`: `"exhausted"` (every attempt failed),
--   `"unsafe"` (not retried: the request may have reached the vendor) or `"retry_after_cap"` (the
--   vendor asked for a longer wait than `retry_after_cap`; `retry_after` says how long); the message
--   says the same
function mt:send(method, path, query, body, opts)
  local policy = self.retry
  if opts ~= nil then
    if type(opts) ~= "table" then return _M.invalid("send options must be a table {retry = ...}") end
    local err
    policy, err = check_retry(opts.retry, policy)
    if policy == nil then return nil, err end
  end
  local url = self.base_url .. path .. (query or "")
  local attempt = 0
  while true do
    attempt = attempt + 1
    local resp, err = fetch(self, method, url, body)
    if resp then return resp end
    local wait, why, note
    if policy then
      wait, why, note = next_wait(policy, method, err, attempt, self.vendor, self.rate_window)
    end
    if not wait then
      err.attempts, err.retry = attempt, why
      if note then err.message = format("%s (%s)", err.message, note) end
      return nil, err
    end
    if policy.sleep then policy.sleep(wait) else _M.sleep(wait) end
  end
end

--- Send a request and decode the JSON body of a 2xx answer.
-- Arguments as `send`.
-- @treturn any|nil decoded body (integers as integers, `null` as nil), or nil and a `convai.error`
-- @treturn table the raw response
function mt:json(method, path, query, body, opts)
  local resp, err = self:send(method, path, query, body, opts)
  if not resp then return nil, err end
  local value, derr = core.json_decode(resp.body)
  if value == nil then
    return nil, core.error("decode", format("%s: response is not JSON (%s)", self.vendor, tostring(derr)),
      { status = resp.status, body = resp.body })
  end
  return value, resp
end

--- A transport that shares this one's connection and credentials, with other retry options.
-- @param retry false (no retries), true (the defaults) or a table of options laid over this
--   transport's (see `new`)
-- @treturn table|nil the transport (closing either closes the shared connection), or nil and an
--   `invalid_argument` error
function mt:with_retry(retry)
  local policy, err = check_retry(retry, self.retry)
  if policy == nil then return nil, err end
  local t = {}
  for k, v in pairs(self) do t[k] = v end
  t.retry = policy
  secrets[t] = secrets[self]
  return setmetatable(t, mt)
end

--- Close the transport's connection. Idempotent.
function mt:close()
  self.session:close()
  closed_sessions[self.session] = true
end

mt.__tostring = function(self)
  return format("convai.http{%s}", self.base_url)
end

--- Run many calls of a client's methods concurrently: `client:batch(calls, opts)`, on every client
-- (`convai.voicebot`, `convai.avaamo`, `convai.vonage`). Each call is run as a task of a `convai.batch`
-- scheduler, so its requests overlap with the others' on one libcurl multi handle (at most
-- `opts.concurrency` in flight, over kept-alive connections), with the client's timeouts and `cafile`;
-- each call behaves as if made alone (same checks, same results and errors, retries and their waits
-- included), and a failing call does not affect the others. Inside nginx (request phases and timers)
-- the calls run as `ngx.thread` light threads, each request on the client's cosocket transport, so
-- nothing blocks the worker; only `concurrency` applies there.
-- @function client:batch
-- @tparam table calls an array of `{"method_name", arg1, ...}`: a request method of the client and its
--   arguments, e.g. `{"usage", {agent_id = 7, from_date = "01/04/2020", to_date = "07/04/2020"}}`
-- @tparam[opt] table opts `concurrency` (most requests in flight, default 16), `on_result` and the other
--   options of `convai.batch.new`. `on_result(i, value, err)`, a function: each call's outcome is handed
--   to it as the call finishes (in completion order, `i` its index in `calls`) and not kept, so a batch
--   of any size holds only the calls in flight; if it raises, no other call starts, and the error is
--   raised from `batch` once the calls in flight have finished
-- @treturn[1] table an array in the order of `calls`: for each `{value = the method's first return, err =
--   convai.error or nil}`. An entry that is not a table naming a request method of the client (`close`,
--   `batch` and names starting with `_` are not) gets `err` of kind `invalid_argument`, and is not run;
--   a call that raises (a wrong argument type) gets `err` of kind `invalid_argument` with the message.
--   With `on_result`: the number of calls handed to it
-- @treturn[2] nil
-- @treturn[2] convai.error kind `invalid_argument`: `calls` is not a table, or a bad option (nothing is
--   run)
-- @usage local out = client:batch({
--   { "usage", { agent_id = 7, from_date = "01/04/2020", to_date = "07/04/2020" } },
--   { "usage", { agent_id = 8, from_date = "01/04/2020", to_date = "07/04/2020" } },
-- }, { concurrency = 16 })
-- for i, r in ipairs(out) do print(i, r.value and r.value.aggregate_stats.session_count, r.err) end
local function client_batch(self, calls, opts)
  return batch.client_batch(self, calls, opts)
end

--- Give a client metatable `close` (idempotent), `__close`, `batch` (see `client:batch`) and a
-- `__tostring` that shows the base URL and never the credential. Called once per client module, when
-- it loads.
-- @tparam table client_mt the client's metatable (its methods)
-- @tparam table spec the client's spec (see `client`)
function _M.client_methods(client_mt, spec)
  client_mt.batch = client_batch
  client_mt.close = function(self) self.http:close() end
  client_mt.__close = client_mt.close
  client_mt.__tostring = function(self)
    return format("%s{base_url=%s, %s=<redacted>}", spec.name, self.http.base_url, spec.secret)
  end
end

--- Build a vendor client on a transport: check the credential, open the transport.
-- @tparam table client_mt the client's metatable (set up by `client_methods`)
-- @tparam table spec `{vendor, name (e.g. "convai.voicebot"), secret (option name), env (variable
--   that usually holds it), auth = function(secret) -> headers, base_url_name}`
-- @tparam table opts the user's options (timeout, connect_timeout, cafile, trace, retry,
--   follow_redirects, the secret)
-- @tparam string base_url the base URL to use (already defaulted by the caller)
-- @treturn table|nil the client `{http = transport}`, or nil and an `invalid_argument` error
function _M.client(client_mt, spec, opts, base_url)
  local secret, err = _M.check_secret(opts[spec.secret], spec.secret, spec.env)
  if not secret then return nil, err end
  local transport
  transport, err = _M.new {
    vendor = spec.vendor,
    base_url = base_url,
    base_url_name = spec.base_url_name,
    auth = spec.auth(secret),
    timeout = opts.timeout,
    connect_timeout = opts.connect_timeout,
    cafile = opts.cafile,
    trace = opts.trace,
    retry = opts.retry,
    follow_redirects = opts.follow_redirects,
    rate_window = spec.rate_window,
  }
  if not transport then return nil, err end
  return setmetatable({ http = transport }, client_mt)
end

--- Options from the environment (a `convai.config` reader) overridden by `opts`.
-- @tparam function read e.g. `config.voicebot`
-- @tparam[opt] table opts
-- @treturn table
function _M.env_options(read, opts)
  local o = read()
  for k, v in pairs(opts or {}) do o[k] = v end
  return o
end

--- A shape error for a 2xx answer that lacks what the vendor documents.
-- @tparam string vendor
-- @tparam string what description of the missing or mistyped field
-- @param body the decoded body
-- @treturn nil
-- @treturn convai.error kind `decode`
function _M.shape_error(vendor, what, body)
  return nil, core.error("decode", format("%s: unexpected response: %s", vendor, what), { body = body })
end

--- Coerce a decoded JSON number to an integer count, or nil when it is not one.
-- @param v
-- @treturn integer|nil
local tointeger = math.tointeger -- nil on Lua 5.1 and LuaJIT
local function count(v)
  if type(v) ~= "number" then return nil end
  if tointeger then return tointeger(v) end
  if v == floor(v) then return v end
  return nil
end
_M.count = count

--- Check that `v` is a positive integer (a Lua integer, an integral float, or digits in a string).
-- @param v
-- @treturn integer|nil
function _M.positive_integer(v)
  if type(v) == "string" and v:match("^%d+$") then v = tonumber(v) end
  local n = count(v)
  if n and n >= 1 and n <= 9007199254740991 then return n end
  return nil
end

--- Sorted keys of a table (for deterministic output).
function _M.sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  return keys
end

return _M
