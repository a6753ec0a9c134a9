--- convai.http.transport: one vendor's HTTP transport: a session, a base URL, credentials, the retry and
-- redirect policies; `send` and `json` return answers or `convai.error` values.
--
-- A transport wraps an HTTP session handed out by `convai.runtime` (the libcurl core, or nginx
-- cosockets inside nginx) with what every vendor client needs: the base URL joined to each path,
-- credential headers kept out of sight, the retry policy (`convai.http.retry`), the redirect policy
-- (`convai.http.redirect`), a `trace` function told of each request and answer (credentials redacted),
-- JSON decoding, and non-2xx answers turned into `convai.error` values. A request made in a coroutine
-- that a scheduler drives (`convai.runtime.attach`, done by `convai.batch`) goes through the driver, so
-- that requests overlap; elsewhere through the transport's own session.
--
-- Credentials live in a weak table keyed by the transport, never in a field of it, so that printing a
-- client or a transport (`tostring`, `inspect`, a debugger's table dump) cannot show a token or key.
--
-- @module convai.http.transport
local core = require "convai.core"
local errors = require "convai.errors"
local runtime = require "convai.runtime"
local check = require "convai.http.check"
local retry = require "convai.http.retry"
local redirect = require "convai.http.redirect"

local type, tostring, pairs, setmetatable = type, tostring, pairs, setmetatable
local format = string.format
local floor, fmax = math.floor, math.max
local monotonic, json_decode, new_error = core.monotonic, core.json_decode, core.error

local invalid = errors.invalid
local check_retry, next_wait, follow = retry.check, retry.next_wait, redirect.follow
local origin, REDIRECT_STATUS = redirect.origin, redirect.STATUS

local _M = {}

-- transport -> its credential headers `{name = value}` (weak keys).
local secrets = setmetatable({}, { __mode = "k" })
-- The request header tables of each transport (they hold its credentials), built once: `{[1] = for a
-- request without a body, [2] = with a JSON body}`.
local header_tables = setmetatable({}, { __mode = "k" })

-- Sessions closed through a transport's `close` (weak keys): a request through a driver is refused
-- here, as the session itself would refuse it, since the driver's connections are not the session's.
local closed_sessions = setmetatable({}, { __mode = "k" })

local driver_of = runtime.driver

-- transport -> the request table its session's requests are made with, filled anew for each (weak
-- keys), where a session's request never yields (`runtime.session_blocks`: the libcurl core has read
-- the table when it returns, so one table serves every request).
local session_requests = setmetatable({}, { __mode = "k" })
local reuse_requests = runtime.session_blocks

-- Perform one request of a transport: through the driver of the running coroutine if there is one
-- (with a request table of its own: the driver keeps it until the request has run), else the
-- transport's session, which decodes a 2xx body with `decode` (nil: none) in the same call (see
-- `core.session:request`). Returns the response, or nil and a `convai.error`, or, for a 2xx body the
-- session decoded, its status, the value and what the decoder said of its shape.
local function perform_untraced(self, method, url, headers, body, timeout, decode)
  local driver = driver_of()
  local resp, err, typed
  if driver then
    if closed_sessions[self.session] then
      resp, err = nil, new_error("invalid_argument", "session is closed", { request_sent = false })
    else
      resp, err = driver:request(self, { method = method, url = url, headers = headers, body = body,
        timeout = timeout })
    end
  else
    local req = reuse_requests and session_requests[self]
    if req then
      req.method, req.url, req.headers, req.body, req.timeout = method, url, headers, body, timeout
    else
      req = { method = method, url = url, headers = headers, body = body, timeout = timeout }
      if reuse_requests then session_requests[self] = req end
    end
    resp, err, typed = self.session:request(req, decode)
  end
  if resp == nil and err.kind == "tls" and runtime.tls_hint then -- say how to fix it
    err.message = err.message .. (self.cafile
      and " (check cafile: it must hold the CA that signed the server's certificate)"
      or runtime.tls_hint)
  end
  return resp, err, typed
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

-- Perform one request, reporting it to the transport's `trace` function: a
-- `{phase = "request", method, url, headers (credentials redacted), body_bytes}` event before, and a
-- `{phase = "response", method, url, status (nil when no response came), elapsed_ms, error}` event after.
local function perform_traced(self, method, url, headers, body, timeout, decode)
  local trace = self.trace
  trace { phase = "request", method = method, url = url,
    headers = _M.redact_headers(headers, secrets[self]), body_bytes = body and #body or nil }
  local t0 = monotonic()
  local resp, err, typed = perform_untraced(self, method, url, headers, body, timeout, decode)
  local decoded = type(resp) == "number"
  trace { phase = "response", method = method, url = url, status = decoded and resp or resp and resp.status,
    elapsed_ms = floor((monotonic() - t0) * 1000 + 0.5), error = not decoded and err or nil }
  return resp, err, typed
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
-- @tparam table resp `{status, headers, body}` from a session
-- @tparam string vendor vendor name for the message
-- @treturn convai.error of the kind `core.error_for_status` gives the status (`auth` with a hint to
--   check the credentials), with `status`, `body` (decoded when it is JSON) and `retry_after` (seconds,
--   from `Retry-After`)
function _M.response_error(resp, vendor)
  local body = resp.body
  if body ~= "" then
    local decoded = json_decode(body)
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
  return new_error(kind, message, { status = status, body = body, retry_after = retry_after })
end
local response_error = _M.response_error

-- The request headers of a transport: its credential headers only while `credentials` is true (the
-- same two tables serve every request to the base URL's origin).
local function headers_of(self, body, credentials)
  if not credentials then
    local headers = { ["Accept"] = "application/json" }
    if body then headers["Content-Type"] = "application/json" end
    return headers
  end
  local cache = header_tables[self]
  if not cache then
    cache = {}
    header_tables[self] = cache
  end
  local headers = cache[body and 2 or 1]
  if headers then return headers end
  headers = { ["Accept"] = "application/json" }
  for k, v in pairs(secrets[self]) do headers[k] = v end
  if body then headers["Content-Type"] = "application/json" end
  cache[body and 2 or 1] = headers
  return headers
end

-- One attempt: the request, and the redirects it is allowed to follow (see `convai.http.redirect`).
-- Credentials go only to the base URL's origin: after a hop to another scheme, host or port none of the
-- transport's credential headers is sent again, for the rest of the chain. Returns the 2xx response,
-- or nil and a `convai.error` (a 3xx not followed is kind `http`, with `location`). With `decode`, a 2xx
-- answer may come decoded: status, value, typed (see `perform_untraced`).
local function fetch(self, method, url, body, timeout, decode)
  local max, hops, from, credentials = self.follow_redirects or 0, 0, nil, true
  local first = url
  local perform = self.trace and perform_traced or perform_untraced
  while true do
    local headers = headers_of(self, body, credentials)
    local resp, err, typed = perform(self, method, url, headers, body, timeout, decode)
    if type(resp) == "number" then return resp, err, typed end -- decoded by the session
    if not resp then
      err.message = self.vendor .. ": " .. err.message
      if hops > 0 then err.redirects = hops end
      return nil, err
    end
    local status = resp.status
    if status >= 200 and status <= 299 then return resp end
    err = response_error(resp, self.vendor)
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
    local target, next_method, drop_body = follow(method, url, status, location, hops, max)
    if not target then
      local shown = location and (#location > 200 and location:sub(1, 200) .. "..." or location)
      err.message = format("%s (redirect%s: %s)", err.message, shown and " to " .. shown or "", next_method)
      return nil, err
    end
    method = next_method
    if drop_body then body = nil end
    if not from then from = origin(first) end -- only needed when a redirect is followed
    if origin(target) ~= from then credentials = false end
    hops, url = hops + 1, target
  end
end

local mt = {}
mt.__index = mt

--- Create a transport.
-- @tparam table opts
-- @tparam string opts.base_url vendor base URL (http or https)
-- @tparam string opts.base_url_name name of the option, for error messages
-- @tparam table opts.auth credential headers `{name = value}`, already checked; kept private
-- @tparam[opt=30] number opts.timeout total time per request, seconds
-- @tparam[opt=10] number opts.connect_timeout connection set-up time, seconds
-- @tparam[opt] string opts.cafile PEM CA bundle for TLS verification
-- @tparam string opts.vendor vendor name used in error messages
-- @tparam[opt] function opts.trace called with an event table before and after each request: `{phase =
--   "request", method, url, headers (credentials redacted), body_bytes}` and `{phase = "response",
--   method, url, status (nil when no response came), elapsed_ms, error}`; for `--verbose` output and
--   debugging. A paced send (`convai.vonage` with a limit) adds `{phase = "wait", agent, seconds,
--   method, url, status, error}` before it waits for the agent's next slot after a 429
-- @param[opt] opts.retry retry policy (`convai.http.retry`): false (a single attempt), true or nil (the
--   defaults), or a table laid over the defaults: `attempts` (integer, attempts in all, default 3),
--   `base` (seconds, default 0.5) and `cap` (seconds, default 20) of the backoff (before retry n, n = 1,
--   2, ..., a pause drawn uniformly from [0, min(cap, base * 2^(n-1))): full jitter), `retry_after_cap`
--   (seconds, default 60: a `Retry-After` up to it is waited for exactly, a longer one ends the
--   retries), `random` (function returning a number in [0, 1), default `math.random`) and `sleep`
--   (function(seconds), default `convai.http.sleep`), the last two for tests. What is retried: see `send`
-- @param[opt] opts.follow_redirects false or nil (the default: a 3xx is an `http` error), true (follow
--   at most 5) or an integer (follow at most that many). Credential headers are never sent to another
--   scheme, host or port; a POST is not followed on 301 or 302 (it would become a GET), is followed as
--   a GET on 303 and as a POST on 307 and 308
-- @param[opt] opts.rate_window seconds: the vendor counts its rate limit in windows of this length and
--   answers 429 without `Retry-After`, so a retry after such a 429 pauses at least this long (the
--   clients set it from their vendor's document: 1 for Vonage's sessions per second)
-- @treturn table|nil the transport: `send`, `json`, `with_retry`, `close`; fields `base_url`, `vendor`,
--   `timeout`, `connect_timeout`, `cafile`, `trace`, `retry` (the policy), `follow_redirects`,
--   `rate_window`, `session`
-- @treturn[2] convai.error kind `invalid_argument`, naming the option
function _M.new(opts)
  local base_url, err = check.base_url(opts.base_url, opts.base_url_name or "base_url")
  if not base_url then return nil, err end
  local timeout, connect_timeout
  timeout, err = check.timeout(opts.timeout, "timeout", 30)
  if not timeout then return nil, err end
  connect_timeout, err = check.timeout(opts.connect_timeout, "connect_timeout", 10)
  if not connect_timeout then return nil, err end
  if opts.cafile ~= nil and type(opts.cafile) ~= "string" then
    return invalid("cafile must be a path to a PEM file")
  end
  if opts.trace ~= nil and type(opts.trace) ~= "function" then
    return invalid("trace must be a function (called with each request and response event)")
  end
  local policy, follow_redirects
  policy, err = check_retry(opts.retry)
  if policy == nil then return nil, err end
  follow_redirects, err = redirect.check(opts.follow_redirects)
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
    retry = policy,
    follow_redirects = follow_redirects,
    rate_window = opts.rate_window,
    session = session,
  }, mt)
  secrets[self] = opts.auth
  return self
end

--- A transport, made by `new`.
-- @type transport

-- `send` and `json`: the request with its retries, decoding a 2xx body with `decode` when given.
local function send(self, method, path, query, body, opts, decode)
  local policy, pace = self.retry, nil
  if opts ~= nil then
    if type(opts) ~= "table" then return invalid("send options must be a table {retry = ..., pace = ...}") end
    local err
    policy, err = check_retry(opts.retry, policy)
    if policy == nil then return nil, err end
    pace = opts.pace
  end
  local url = self.base_url .. path .. (query or "")
  local deadline = policy and policy.deadline
  local attempt, last, started = 0, nil, deadline and monotonic() -- only a deadline needs the time
  while true do
    attempt = attempt + 1
    if pace then
      local ok, perr = pace(attempt, last)
      if not ok then
        if type(perr) == "table" then perr.attempts = attempt - 1 end
        return nil, perr
      end
    end
    -- With a deadline, no attempt may last past it.
    local left = deadline and fmax(deadline - (monotonic() - started), 0.001)
    local resp, err, typed = fetch(self, method, url, body, left and left < self.timeout and left or nil,
      decode)
    if resp then return resp, err, typed end
    local wait, why, note
    if policy then
      wait, why, note = next_wait(policy, method, err, attempt, self.vendor, self.rate_window,
        started and monotonic() - started)
    end
    if not wait then
      err.attempts, err.retry = attempt, why
      if note then err.message = format("%s (%s)", err.message, note) end
      return nil, err
    end
    if not (pace and err.status == 429) then policy.sleep(wait) end
    last = err
  end
end

--- Send a request and return the response, or an error for a transport failure or a non-2xx status.
-- Follows the transport's retry policy (see `new`): a query (GET, HEAD) is retried after a network
-- error, a timeout, a failed TLS handshake, 500, 502, 503, 504 or 429; any other method only after 429
-- or a connection that failed before any byte of the request was sent (`err.request_sent == false`).
-- The pause before a retry is the policy's `sleep`. Redirects are followed only when the transport has
-- `follow_redirects`.
-- @tparam string method "GET", "POST", ...
-- @tparam string path path below the base URL, already escaped, starting with "/"
-- @tparam[opt] string query from `convai.http.query`
-- @tparam[opt] string body request body (JSON)
-- @tparam[opt] table opts `{retry = false | table, pace = function}`: this call's retry options, laid
--   over the transport's (false: a single attempt); `pace(attempt, last)`, called before each attempt
--   (`last`: the previous attempt's error, nil before the first), takes the attempt's send slot
--   (`convai.limit`'s `slot`) and returns true, or nil and an error that ends the call (nothing more is
--   sent); with it, a retry after 429 does not pause by the policy: `pace` holds the sender back
-- @treturn table|nil `{status, headers, body}`, or nil and a `convai.error` with `attempts` (integer,
--   attempts made) and, when it stopped a retry, `retry`: `"exhausted"` (every attempt failed),
--   `"unsafe"` (not retried: the request may have reached the vendor) or `"retry_after_cap"` (the
--   vendor asked for a longer wait than `retry_after_cap`; `retry_after` says how long); the message
--   says the same
function mt:send(method, path, query, body, opts)
  return send(self, method, path, query, body, opts)
end

--- Send a request and decode the JSON body of a 2xx answer.
-- @tparam string method as `send`
-- @tparam string path as `send`
-- @tparam[opt] string query as `send`
-- @tparam[opt] string body as `send`
-- @tparam[opt] table opts as `send`
-- @tparam[opt] function decode a decoder made by `core.json_decoder` for the documented shape of the
--   answer (default `core.json_decode`): the body is decoded and typed in one pass
-- @treturn any|nil decoded body (integers as integers, `null` as nil), or nil and a `convai.error` (as
--   `send`, or kind `decode` when the body is not JSON)
-- @treturn table|integer the response `{status, headers, body}`, or only its status when the session
--   decoded the body in its own call (`core.session:request`'s `decode`)
-- @treturn boolean|nil with `decode`: whether the body has the shape (see `core.json_decoder`)
function mt:json(method, path, query, body, opts, decode)
  decode = decode or json_decode
  local resp, value, derr = send(self, method, path, query, body, opts, decode)
  if not resp then return nil, value end
  if type(resp) == "number" then return value, resp, derr end -- decoded by the session: its status
  value, derr = decode(resp.body)
  if value == nil then
    return nil, new_error("decode", format("%s: response is not JSON (%s)", self.vendor, tostring(derr)),
      { status = resp.status, body = resp.body })
  end
  return value, resp, derr
end

--- A transport that shares this one's connection and credentials, with other retry options.
-- @param retry_opts false (no retries), true (the defaults) or a table of options laid over this
--   transport's (see `new`)
-- @treturn table|nil the transport (closing either closes the shared connection), or nil and an
--   `invalid_argument` error
function mt:with_retry(retry_opts)
  local policy, err = check_retry(retry_opts, self.retry)
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

return _M
