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

local type, tostring, tonumber, pairs, ipairs = type, tostring, tonumber, pairs, ipairs
local setmetatable = setmetatable
local concat, sort = table.concat, table.sort
local format, byte, gsub = string.format, string.byte, string.gsub
local floor = math.floor

local _M = { _VERSION = core.version }

local secrets = setmetatable({}, { __mode = "k" })

--- Drivers of coroutines: `coroutine -> driver`. A request made inside a registered coroutine goes
-- through `driver:request(transport, req)` and a pause through `driver:sleep(seconds)` (`convai.batch`
-- registers the coroutines it runs, so that their requests overlap on one libcurl multi handle).
-- Elsewhere a request uses the transport's own blocking session.
_M.drivers = setmetatable({}, { __mode = "k" })

--- The function that opens a transport's session (`core.session` by default; OpenResty replaces it).
_M.session_factory = core.session

local running = coroutine.running
local function driver_of()
  local co = running()
  return co and _M.drivers[co]
end

--- Perform one request of a transport: through the driver of the running coroutine if there is one,
-- else the transport's session.
-- @tparam table self transport
-- @tparam table req `core` request table
-- @treturn table|nil response, or nil and a `convai.error`
local function perform(self, req)
  local driver = driver_of()
  if driver then return driver:request(self, req) end
  return self.session:request(req)
end

--- Pause for `seconds`: yields to the driver of the running coroutine if there is one, else sleeps.
-- @tparam number seconds
function _M.sleep(seconds)
  if seconds <= 0 then return end
  local driver = driver_of()
  if driver then return driver:sleep(seconds) end
  return core.sleep(seconds)
end

local mt = {}
mt.__index = mt

--- Build an `invalid_argument` error value.
-- @tparam string message what is wrong and how to fix it
-- @treturn nil
-- @treturn convai.error
function _M.invalid(message)
  return nil, core.error("invalid_argument", message)
end

--- Check a timeout option.
-- @param v value given by the user (seconds)
-- @tparam string name option name for the message
-- @tparam number default seconds used when `v` is nil
-- @treturn number|nil seconds, or nil and an error
local function check_timeout(v, name, default)
  if v == nil then return default end
  if type(v) ~= "number" or v ~= v or v <= 0 or v == math.huge then
    return _M.invalid(format("%s must be a positive number of seconds, got %s", name, tostring(v)))
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
  if not url:match("^https?://[^/%s%c]+") or url:find("[%s%c]") then
    return _M.invalid(format("%s must be an http:// or https:// URL without spaces, got %q", name, url))
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
function _M.escape(s)
  return (gsub(s, "[^%w%-%._~]", function(c) return format("%%%02X", byte(c)) end))
end
local escape = _M.escape

--- Create a transport.
-- @tparam table opts
-- @tparam string opts.base_url vendor base URL (http or https)
-- @tparam string opts.base_url_name name of the option, for error messages
-- @tparam table opts.auth credential headers `{name = value}`, already checked; kept private
-- @tparam[opt=30] number opts.timeout total time per request, seconds
-- @tparam[opt=10] number opts.connect_timeout connection set-up time, seconds
-- @tparam[opt] string opts.cafile PEM CA bundle for TLS verification
-- @tparam string opts.vendor vendor name used in error messages
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
  local session
  session, err = _M.session_factory {
    timeout = timeout, connect_timeout = connect_timeout, cafile = opts.cafile,
  }
  if not session then return nil, err end
  local self = setmetatable({
    base_url = base_url,
    vendor = opts.vendor,
    timeout = timeout,
    connect_timeout = connect_timeout,
    cafile = opts.cafile,
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

--- Send a request and return the response, or an error for a transport failure or a non-2xx status.
-- @tparam string method "GET", "POST", ...
-- @tparam string path path below the base URL, already escaped, starting with "/"
-- @tparam[opt] string query from `convai.http.query`
-- @tparam[opt] string body request body (JSON)
-- @treturn table|nil `{status, headers, body}`, or nil and a `convai.error`
function mt:send(method, path, query, body)
  local headers = { ["Accept"] = "application/json" }
  for k, v in pairs(secrets[self]) do headers[k] = v end
  if body then headers["Content-Type"] = "application/json" end
  local resp, err = perform(self, {
    method = method,
    url = self.base_url .. path .. (query or ""),
    headers = headers,
    body = body,
  })
  if not resp then
    err.message = self.vendor .. ": " .. err.message
    return nil, err
  end
  if resp.status < 200 or resp.status > 299 then
    return nil, _M.response_error(resp, self.vendor)
  end
  return resp
end

--- Send a request and decode the JSON body of a 2xx answer.
-- @treturn any|nil decoded body (integers as integers, `null` as nil), or nil and a `convai.error`
-- @treturn table the raw response
function mt:json(method, path, query, body)
  local resp, err = self:send(method, path, query, body)
  if not resp then return nil, err end
  local value, derr = core.json_decode(resp.body)
  if value == nil then
    return nil, core.error("decode", format("%s: response is not JSON (%s)", self.vendor, tostring(derr)),
      { status = resp.status, body = resp.body })
  end
  return value, resp
end

--- Close the transport's connection. Idempotent.
function mt:close()
  self.session:close()
end

mt.__tostring = function(self)
  return format("convai.http{%s}", self.base_url)
end

--- Give a client metatable `close` (idempotent), `__close` and a `__tostring` that shows the base URL
-- and never the credential. Called once per client module, when it loads.
-- @tparam table client_mt the client's metatable (its methods)
-- @tparam table spec the client's spec (see `client`)
function _M.client_methods(client_mt, spec)
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
-- @tparam table opts the user's options (timeout, connect_timeout, cafile, the secret)
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
function _M.count(v)
  if type(v) ~= "number" then return nil end
  if math.tointeger then return math.tointeger(v) end
  if v == floor(v) then return v end
  return nil
end

--- Check that `v` is a positive integer (a Lua integer, an integral float, or digits in a string).
-- @param v
-- @treturn integer|nil
function _M.positive_integer(v)
  if type(v) == "string" and v:match("^%d+$") then v = tonumber(v) end
  local n = _M.count(v)
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
