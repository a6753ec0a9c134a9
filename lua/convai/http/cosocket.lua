--- convai.http.cosocket: HTTP/1.1 sessions on nginx cosockets, the transport of convai inside nginx.
--
-- Inside nginx (ngx_lua or OpenResty) `convai.runtime` hands this module's `new` out as the session
-- factory instead of `core.session`, so the vendor clients keep their API and never block the worker's
-- event loop. A session offers what a `core.session` offers: `request(req)` returning
-- `{status, headers, body}` or `nil, convai.error` with the same kinds, `curl_code` and `request_sent`,
-- plus `stats()` and `close()`. `convai.runtime` loads this module only inside nginx, and it uses the
-- ngx_lua API (`ngx.socket.tcp`, `ngx.get_phase`) as any nginx library does; it never asks where it
-- runs.
--
-- Why cosockets and not `ngx.run_worker_thread` with the libcurl core: worker threads are refused in
-- `ngx.timer` callbacks (they need a request), where the background work of an OpenResty application
-- runs, so a cosocket transport is needed there in any case, and one transport for every context means
-- one behaviour to test. A worker-thread request also pins an OS thread of a small pool (32 by default)
-- for its whole duration (up to `timeout`), so a slow vendor makes every other call queue, and its
-- connection lives in a separate Lua VM; a cosocket costs a few kilobytes per request in flight and its
-- kept-alive connection goes to the worker's connection pool, shared by every request of the worker.
-- The price, stated in docs/openresty.md: host names are resolved by nginx's `resolver` directive and TLS is
-- verified against `lua_ssl_trusted_certificate` (one CA bundle for the whole nginx, so the `cafile`
-- option is refused here with a message saying so).
--
-- Where a request runs, by `ngx.get_phase()`:
--
--  - rewrite, access, content, timer (and server_rewrite, ssl_cert, ssl_client_hello,
--    ssl_session_fetch): cosockets, never blocking;
--  - init (`init_by_lua`, the master process, before nginx serves anything): the blocking libcurl
--    core, which is harmless there;
--  - anywhere else (init_worker, set, header_filter, body_filter, log, balancer, exit_worker):
--    nothing is sent and the request fails with `invalid_argument`, saying to move the call into a
--    handler or an `ngx.timer.at(0, ...)` callback.
--
-- The HTTP/1.1 exchange follows libcurl's behaviour as the core uses it (RFC 9112): `Host`,
-- `User-Agent` (the session's), `Accept: */*`, a `Content-Length` with a body (`Content-Type` defaults to
-- `application/x-www-form-urlencoded`, as libcurl's does; the clients always give one); user headers
-- replace these; no `Expect`; 1xx answers are skipped; bodies framed by `Content-Length`, chunked
-- encoding or the end of the connection; redirects returned, not followed; the total `timeout` is a
-- deadline for the whole exchange (on the monotonic clock), checked at every read, so a server that
-- dribbles its answer still times out; a request on a kept-alive connection that the server had closed
-- is sent again once (on another connection) when no byte of an answer came back, as libcurl does.
--
-- Longer than most modules (about 700 lines) because it is one HTTP/1.1 client: the request checks,
-- the message framing, the reader and the mapping of socket failures to libcurl's codes all follow
-- libcurl's behaviour together, in the order of one exchange (sections below).
--
-- @module convai.http.cosocket
local core = require "convai.core"
local errors = require "convai.errors"

local ngx = ngx -- the ngx_lua API (nil outside nginx, where this module is not used)
local type, tostring, tonumber, pairs, setmetatable, error =
  type, tostring, tonumber, pairs, setmetatable, error
local concat = table.concat
local format, lower, sub, find, match, gsub = string.format, string.lower, string.sub, string.find,
  string.match, string.gsub
local floor, ceil = math.floor, math.ceil

local _M = {}

--- Defaults, in the units of the options (seconds, bytes).
_M.DEFAULTS = {
  timeout = 30, connect_timeout = 10, max_body = 16 * 1024 * 1024,
  keepalive_timeout = 60, pool_size = 30,
}
--- Largest response header section, bytes (as the core: 256 KiB).
_M.MAX_HEADER_BYTES = 256 * 1024
--- Longest line of a chunked body's framing (chunk size and extensions), bytes.
local MAX_CHUNK_LINE = 4096
local MAX_SECONDS = 86400 * 365
local MAX_BODY_LIMIT = 9007199254740992
local READ_SIZE = 65536

--- The phases where cosockets work (`ngx.get_phase()` names).
_M.COSOCKET_PHASES = {
  rewrite = true, server_rewrite = true, access = true, content = true, timer = true,
  ssl_cert = true, ssl_client_hello = true, ssl_session_fetch = true,
}

-- libcurl's codes for the failures met here, so `curl_code` means the same as from the core.
local CURLE = errors.CURL

local mt = {}
mt.__index = mt

-- The deadlines of a request are on the monotonic clock (durations inside this worker).
local now = core.monotonic

local function rejected(message)
  return nil, core.error("invalid_argument", message, { request_sent = false })
end

local function seconds_option(opts, name)
  local v = opts[name]
  if v == nil then return _M.DEFAULTS[name] end
  if type(v) ~= "number" or not (v > 0 and v <= MAX_SECONDS) then
    return nil, format("option '%s' must be a positive number of seconds (at most one year)", name)
  end
  return v
end

local KNOWN = {
  timeout = true, connect_timeout = true, cafile = true, max_body = true, user_agent = true,
  keepalive_timeout = true, pool_size = true,
}

--- Open a session (as `core.session`, for use inside nginx). Nothing is connected yet: connections are
-- opened by `request` and kept alive in the nginx worker's connection pool, so a session may be made
-- anywhere (in `init_by_lua` too) and used by every request of the worker.
-- @tparam[opt] table opts
-- @tparam[opt=30] number opts.timeout total time of each request, seconds (a deadline for name
--   resolution, connection, TLS, sending and receiving the whole answer)
-- @tparam[opt=10] number opts.connect_timeout connection and TLS handshake, seconds
-- @tparam[opt=16777216] integer opts.max_body largest response body accepted, bytes
-- @tparam[opt="convai/VERSION"] string opts.user_agent `User-Agent` of every request
-- @tparam[opt=60] number opts.keepalive_timeout how long an idle connection stays in the worker's pool,
--   seconds
-- @tparam[opt=30] integer opts.pool_size idle connections kept per host and port in each worker
-- @param opts.cafile refused: inside nginx TLS is verified against `lua_ssl_trusted_certificate`
-- @treturn table|nil the session (`request`, `stats`, `close`)
-- @treturn[2] nil
-- @treturn[2] convai.error kind `invalid_argument`, naming the option and what is expected
-- @raise if `opts` is neither nil nor a table
function _M.new(opts)
  if opts == nil then opts = {} end
  if type(opts) ~= "table" then error("convai.http.cosocket: options must be a table", 2) end
  for k in pairs(opts) do
    if not KNOWN[k] then
      return nil, core.error("invalid_argument", format("unknown option '%s' (known: timeout, "
        .. "connect_timeout, max_body, user_agent, keepalive_timeout, pool_size)", tostring(k)))
    end
  end
  if opts.cafile ~= nil then
    return nil, core.error("invalid_argument", "option 'cafile' cannot be used inside nginx: TLS is "
      .. "verified against the lua_ssl_trusted_certificate of nginx.conf; put the CA bundle there "
      .. "(with lua_ssl_verify_depth 5) and drop cafile")
  end
  local self = { requests = 0, connections = 0 }
  local err
  for _, name in pairs { "timeout", "connect_timeout", "keepalive_timeout" } do
    self[name], err = seconds_option(opts, name)
    if not self[name] then return nil, core.error("invalid_argument", err) end
  end
  local mb = opts.max_body
  if mb == nil then mb = _M.DEFAULTS.max_body end
  if type(mb) ~= "number" or not (mb >= 1 and mb <= MAX_BODY_LIMIT and mb == floor(mb)) then
    return nil, core.error("invalid_argument", "option 'max_body' must be a positive integer number of bytes")
  end
  self.max_body = mb
  local ps = opts.pool_size
  if ps == nil then ps = _M.DEFAULTS.pool_size end
  if type(ps) ~= "number" or not (ps >= 1 and ps <= 10000 and ps == floor(ps)) then
    return nil, core.error("invalid_argument", "option 'pool_size' must be an integer from 1 to 10000")
  end
  self.pool_size = ps
  local ua = opts.user_agent
  if ua == nil then ua = "convai/" .. core.version end
  if type(ua) ~= "string" or ua == "" or find(ua, "[%z\r\n]") then
    return nil, core.error("invalid_argument", "option 'user_agent' must be a non-empty string without "
      .. "CR, LF or NUL")
  end
  self.user_agent = ua
  return setmetatable(self, mt)
end

-- ------------------------------------------------------------------ request checks

local TOKEN = "^[%w!#%$%%&'%*%+%-%.%^_`|~]+$"

local function check_url(url)
  local bad = find(url, "[%z\1-\32\127]")
  if bad then
    local c = sub(url, bad, bad)
    local what = (c == "\r" or c == "\n") and "a line break" or c == " " and "a space"
      or c == "\0" and "a NUL byte" or "a control character"
    return nil, format("url contains %s at position %d; remove it or percent-encode it", what, bad)
  end
  local scheme, rest = match(url, "^(%a+)://(.*)$")
  scheme = scheme and lower(scheme)
  if scheme ~= "http" and scheme ~= "https" then return nil, "url must start with http:// or https://" end
  local authority = match(rest, "^[^/?#]*")
  if authority == "" then return nil, "url has no host" end
  if find(authority, "@", 1, true) then
    return nil, "url must not contain credentials (user@host); send them in a header"
  end
  local target = match(sub(rest, #authority + 1), "^[^#]*")
  if target == "" or sub(target, 1, 1) == "?" then target = "/" .. target end
  local host, port
  if sub(authority, 1, 1) == "[" then
    host, port = match(authority, "^(%[[%x:%.]+%])(.*)$")
  else
    host, port = match(authority, "^([^:]+)(.*)$")
  end
  if not host then return nil, "url has no valid host" end
  local default = scheme == "https" and 443 or 80
  local n = default
  if port ~= "" then
    local digits = match(port, "^:(%d*)$")
    if not digits then return nil, "url has an invalid port" end
    if digits ~= "" then
      n = tonumber(digits)
      if n < 1 or n > 65535 then return nil, "url port must be from 1 to 65535" end
    end
  end
  return {
    tls = scheme == "https",
    host = host,                                  -- as nginx connects to it ("[::1]" kept bracketed)
    name = gsub(host, "^%[(.*)%]$", "%1"),        -- for SNI and certificate checks
    port = n,
    authority = n == default and host or host .. ":" .. n,
    target = target,
    pool = format("convai:%s:%s:%d", scheme, lower(host), n),
  }
end

-- Check the request as the core does. Types raise; values return nil, message.
local function check_request(req)
  if type(req) ~= "table" then
    error("bad argument #1 to 'request' (table expected, got " .. type(req) .. ")", 3)
  end
  local method = req.method
  if method == nil then method = "GET" end
  for _, f in pairs { "method", "url", "body" } do
    local v = f == "method" and method or req[f]
    if (v ~= nil or f == "url") and type(v) ~= "string" then
      error(format("bad argument #1 to 'request' (field '%s' must be a string, got %s)", f, type(v)), 3)
    end
  end
  for _, f in pairs { "timeout", "connect_timeout" } do
    local v = req[f]
    if v ~= nil and type(v) ~= "number" then
      error(format("bad argument #1 to 'request' (field '%s' must be a number, got %s)", f, type(v)), 3)
    end
    if v ~= nil and not (v > 0 and v <= MAX_SECONDS) then
      return nil, format("field '%s' must be a positive number of seconds (at most one year)", f)
    end
  end
  local headers = req.headers
  if headers ~= nil then
    if type(headers) ~= "table" then
      error("bad argument #1 to 'request' (field 'headers' must be a table, got " .. type(headers) .. ")", 3)
    end
    for k, v in pairs(headers) do
      if type(k) ~= "string" then
        error("bad argument #1 to 'request' (field 'headers' must have string keys, got a "
          .. type(k) .. " key)", 3)
      end
      if type(v) ~= "string" then
        error(format("bad argument #1 to 'request' (header '%s' must be a string, got %s)", k, type(v)), 3)
      end
      local ok, msg = core.check_header(k, v)
      if not ok then return nil, msg end
    end
  end
  if method == "" then return nil, "method is empty" end
  if not match(method, TOKEN) then
    return nil, format("method %q is not a valid HTTP method token", method)
  end
  local target, err = check_url(req.url)
  if not target then return nil, err end
  return method, target
end

-- The request head and body, as a table of strings for one `send`.
local function build(self, method, target, req)
  local body = req.body
  if body == nil and (method == "POST" or method == "PUT" or method == "PATCH") then body = "" end
  if method == "HEAD" then body = nil end
  local given = {}
  for k in pairs(req.headers or {}) do given[lower(k)] = true end
  local out = { method, " ", target.target, " HTTP/1.1\r\n" }
  local function add(name, value)
    out[#out + 1] = name
    out[#out + 1] = ": "
    out[#out + 1] = value
    out[#out + 1] = "\r\n"
  end
  if not given.host then add("Host", target.authority) end
  if not given["user-agent"] then add("User-Agent", self.user_agent) end
  if not given.accept then add("Accept", "*/*") end
  if body ~= nil then
    if not given["content-length"] then add("Content-Length", tostring(#body)) end
    if not given["content-type"] then add("Content-Type", "application/x-www-form-urlencoded") end
  end
  for k, v in pairs(req.headers or {}) do add(k, v) end
  out[#out + 1] = "\r\n"
  if body ~= nil and body ~= "" then out[#out + 1] = body end
  return out
end

-- ------------------------------------------------------------------ reading

-- A reader over a connected cosocket: lines for the head and chunk framing, exact byte counts for
-- bodies, each read bounded by the request's deadline. `got` counts the bytes of the answer received.
local reader_mt = {}
reader_mt.__index = reader_mt

local function new_reader(sock, deadline)
  return setmetatable({ sock = sock, buf = "", pos = 1, deadline = deadline, got = 0 }, reader_mt)
end

-- Receive at most n bytes (any available), within the deadline.
function reader_mt:recv(n)
  local left = self.deadline - now()
  if left <= 0 then return nil, "timeout" end
  local ms = ceil(left * 1000)
  self.sock:settimeouts(ms, ms, ms) -- all three: a nil would mean lua_socket_*_timeout
  local data, err = self.sock:receiveany(n)
  if not data then return nil, err end
  self.got = self.got + #data
  return data
end

function reader_mt:buffered()
  return #self.buf - self.pos + 1
end

-- One line without its CRLF (or LF); nil, "too_long" past `limit` bytes; nil, err from the socket.
function reader_mt:line(limit)
  while true do
    local nl = find(self.buf, "\n", self.pos, true)
    if nl then
      local line = sub(self.buf, self.pos, nl - 1)
      self.pos = nl + 1
      if sub(line, -1) == "\r" then line = sub(line, 1, -2) end
      return line
    end
    if self:buffered() > limit then return nil, "too_long" end
    local data, err = self:recv(8192)
    if not data then return nil, err end
    self.buf = sub(self.buf, self.pos) .. data
    self.pos = 1
  end
end

-- Append exactly n bytes to the table `parts`.
function reader_mt:bytes(n, parts)
  local have = self:buffered()
  if have > 0 then
    local take = have < n and have or n
    parts[#parts + 1] = sub(self.buf, self.pos, self.pos + take - 1)
    self.pos = self.pos + take
    n = n - take
  end
  while n > 0 do
    local data, err = self:recv(n < READ_SIZE and n or READ_SIZE)
    if not data then return nil, err, n end
    parts[#parts + 1] = data
    n = n - #data
  end
  return true
end

-- Append everything until the server closes the connection.
function reader_mt:rest(parts, max)
  local size = 0
  if self:buffered() > 0 then
    parts[1] = sub(self.buf, self.pos)
    size = #parts[1]
    self.pos = #self.buf + 1
  end
  while true do
    if size > max then return nil, "too_large" end
    local data, err = self:recv(READ_SIZE)
    if not data then
      if err == "closed" then return true end
      return nil, err
    end
    parts[#parts + 1] = data
    size = size + #data
  end
end

-- ------------------------------------------------------------------ errors

local function transfer_error(kind, code, message, sent)
  return core.error(kind, message, { curl_code = code, request_sent = sent })
end

-- A timeout: `what` ("Operation", "Connection", "TLS handshake") timed out after the time since
-- `started`, with `got` bytes of the answer received (nil: not said).
local function timeout_error(started, got, sent, what)
  local ms = floor((now() - started) * 1000 + 0.5)
  return transfer_error("timeout", CURLE.OPERATION_TIMEDOUT, got
    and format("%s timed out after %d milliseconds with %d bytes received", what or "Operation", ms, got)
    or format("%s timed out after %d milliseconds", what, ms), sent)
end

local function recv_error(err, r, started, sent, what)
  if err == "timeout" then return timeout_error(started, r.got, sent) end
  if err == "closed" then
    if r.got == 0 then
      return transfer_error("network", CURLE.GOT_NOTHING, "Empty reply from server", sent)
    end
    return transfer_error("network", CURLE.PARTIAL_FILE, "Connection closed " .. what, sent)
  end
  return transfer_error("network", CURLE.RECV_ERROR, "Recv failure: " .. tostring(err), sent)
end

local function connect_error(target, err, started)
  if err == "timeout" then return timeout_error(started, nil, false, "Connection") end
  if find(err, "resolve", 1, true) then
    local hint = find(err, "no resolver", 1, true)
      and " (add a resolver directive to nginx.conf, e.g. the nameserver of /etc/resolv.conf)" or ""
    return transfer_error("network", CURLE.COULDNT_RESOLVE_HOST, format("Could not resolve host: %s: %s%s",
      target.name, err, hint), false)
  end
  return transfer_error("network", CURLE.COULDNT_CONNECT, format("Failed to connect to %s port %d: %s",
    target.name, target.port, err), false)
end

local function tls_error(target, err, started)
  if err == "timeout" then return timeout_error(started, nil, false, "TLS handshake") end
  local verify = find(err, "certificate", 1, true) or find(err, "verify", 1, true)
  local hint = verify and " (is the CA in lua_ssl_trusted_certificate, and lua_ssl_verify_depth large "
    .. "enough, e.g. 5?)" or ""
  return transfer_error("tls", verify and CURLE.PEER_FAILED_VERIFICATION or CURLE.SSL_CONNECT_ERROR,
    format("TLS handshake with %s failed: %s%s", target.name, err, hint), false)
end

-- ------------------------------------------------------------------ the exchange

local NO_BODY_STATUS = { [204] = true, [304] = true }

-- Parse the header lines into `headers` (lower-cased names, repeats joined with ", ", folded lines
-- joined with a space), as the core does. Returns nil, message for a malformed head.
local function read_head(r)
  local size = 0
  local line, err
  local status, version
  repeat -- skip 1xx interim answers (101 aside, which ends the exchange)
    line, err = r:line(_M.MAX_HEADER_BYTES)
    if not line then return nil, err end
    size = size + #line + 2
    local v, code = match(line, "^HTTP/(%d%.%d) (%d%d%d)")
    if not v then v, code = match(line, "^HTTP/(%d) (%d%d%d)") end
    if not v then return nil, "bad_status", line end
    version, status = v, tonumber(code)
    local headers, last = {}, nil
    while true do
      line, err = r:line(_M.MAX_HEADER_BYTES - size)
      if not line then return nil, err end
      size = size + #line + 2
      if size > _M.MAX_HEADER_BYTES then return nil, "too_long" end
      if line == "" then break end
      local c = sub(line, 1, 1)
      if c == " " or c == "\t" then
        local value = match(line, "^%s*(.-)%s*$")
        if last and value ~= "" then headers[last] = headers[last] .. " " .. value end
      else
        local name, value = match(line, "^([^:%s]+):%s*(.-)%s*$")
        if name then
          name = lower(name)
          headers[name] = headers[name] and headers[name] .. ", " .. value or value
          last = name
        end
      end
    end
    r.headers = headers
  until status < 100 or status > 199 or status == 101
  return status, version
end

-- Read the body of an answer according to its framing. Returns body, reusable; or nil, kind, message.
local function read_body(self, r, method, status, version, headers)
  local h = headers
  local keep = version ~= "1.0" and not (h.connection and find(lower(h.connection), "close", 1, true))
  if method == "HEAD" or NO_BODY_STATUS[status] or status == 101 or (status >= 100 and status < 200) then
    return "", keep and status ~= 101
  end
  local max = self.max_body
  local te = h["transfer-encoding"]
  local parts = {}
  if te and match(lower(te), "chunked%s*$") then
    local total = 0
    while true do
      local line, err = r:line(MAX_CHUNK_LINE)
      if not line then
        if err == "too_long" then return nil, "network", "chunk size line too long" end
        return nil, "recv", err
      end
      local hex = match(line, "^%s*(%x+)%s*[;]?")
      if not hex or #hex > 13 then
        return nil, "network", "invalid chunk size " .. format("%q", sub(line, 1, 40))
      end
      local size = tonumber(hex, 16)
      if size == 0 then
        repeat -- trailer fields, ignored
          line, err = r:line(_M.MAX_HEADER_BYTES)
          if not line then return nil, "recv", err end
        until line == ""
        break
      end
      total = total + size
      if total > max then return nil, "too_large", CURLE.WRITE_ERROR end
      local ok, rerr = r:bytes(size, parts)
      if not ok then return nil, "recv", rerr end
      line, err = r:line(MAX_CHUNK_LINE)
      if not line and err ~= "too_long" then return nil, "recv", err end
      if line ~= "" then return nil, "network", "chunk data not followed by CRLF" end
    end
    return concat(parts), keep and r:buffered() == 0
  end
  local cl = not te and h["content-length"] -- another transfer coding: read to the end, below
  if cl then
    local n
    for v in string.gmatch(cl, "[^,]+") do -- "5, 5" is one length; "5, 6" is no length at all
      local d = match(v, "^%s*(%d+)%s*$")
      if not d or (n and tonumber(d) ~= n) or #d > 16 then
        return nil, "network", "invalid Content-Length " .. format("%q", sub(cl, 1, 40))
      end
      n = tonumber(d)
    end
    if n > max then return nil, "too_large", CURLE.FILESIZE_EXCEEDED end
    local ok, err, missing = r:bytes(n, parts)
    if not ok then
      if err == "closed" then
        return nil, "network", format("transfer closed with %d bytes remaining to read", missing),
          CURLE.PARTIAL_FILE
      end
      return nil, "recv", err
    end
    return concat(parts), keep and r:buffered() == 0
  end
  -- no framing (or a transfer coding other than chunked): the body ends with the connection
  local ok, err = r:rest(parts, max)
  if not ok then
    if err == "too_large" then return nil, "too_large", CURLE.WRITE_ERROR end
    return nil, "recv", err
  end
  local body = concat(parts)
  if #body > max then return nil, "too_large", CURLE.WRITE_ERROR end
  return body, false
end

-- One attempt on one connection. Returns resp; or nil, err, retry (true when the attempt went to a
-- reused connection that gave no byte of an answer: the server had closed it, so sending again on a
-- new connection is what libcurl does).
local function attempt(self, method, target, req, started, deadline)
  local connect_deadline = started + (req.connect_timeout or self.connect_timeout)
  if connect_deadline > deadline then connect_deadline = deadline end
  local sock = ngx.socket.tcp()
  local cms = ceil((connect_deadline - now()) * 1000)
  if cms < 1 then return nil, timeout_error(started, 0, false) end
  sock:settimeouts(cms, cms, cms)
  local ok, err = sock:connect(target.host, target.port, { pool = target.pool, pool_size = self.pool_size })
  if not ok then return nil, connect_error(target, tostring(err), started) end
  local reused = (sock:getreusedtimes() or 0) > 0
  if not reused then
    self.connections = self.connections + 1
    if target.tls then
      cms = ceil((connect_deadline - now()) * 1000)
      if cms < 1 then
        sock:close()
        return nil, timeout_error(started, 0, false)
      end
      sock:settimeouts(cms, cms, cms)
      local sess
      sess, err = sock:sslhandshake(nil, target.name, true)
      if not sess then
        sock:close()
        return nil, tls_error(target, tostring(err), started)
      end
    end
  end
  local left = deadline - now()
  if left <= 0 then
    sock:close()
    return nil, timeout_error(started, 0, false)
  end
  local sms = ceil(left * 1000)
  sock:settimeouts(sms, sms, sms)
  local sent
  sent, err = sock:send(build(self, method, target, req))
  if not sent then
    sock:close()
    if reused and err ~= "timeout" then return nil, nil, true end
    if err == "timeout" then return nil, timeout_error(started, 0, true) end
    return nil, transfer_error("network", CURLE.SEND_ERROR, "Send failure: " .. tostring(err), true)
  end
  local r = new_reader(sock, deadline)
  local status, version, bad = read_head(r)
  if not status then
    sock:close()
    err = version
    if reused and r.got == 0 and err ~= "timeout" then return nil, nil, true end
    if err == "too_long" then
      return nil, transfer_error("too_large", CURLE.WRITE_ERROR,
        format("response headers exceed %d bytes", _M.MAX_HEADER_BYTES), true)
    end
    if err == "bad_status" then
      return nil, transfer_error("network", CURLE.WEIRD_SERVER_REPLY, format("Unsupported HTTP version or "
        .. "invalid status line in response: %q", sub(bad, 1, 60)), true)
    end
    return nil, recv_error(err, r, started, true, "before the end of the response headers")
  end
  local headers = r.headers
  local body, keep, detail, code = read_body(self, r, method, status, version, headers)
  if body == nil then
    sock:close()
    local kind = keep
    if kind == "too_large" then
      return nil, transfer_error("too_large", detail, format("response body exceeds max_body (%d bytes)",
        self.max_body), true)
    elseif kind == "recv" then
      return nil, recv_error(detail, r, started, true, "before the end of the response body")
    end
    return nil, transfer_error("network", code or CURLE.RECV_ERROR, detail, true)
  end
  if keep then
    sock:setkeepalive(floor(self.keepalive_timeout * 1000), self.pool_size)
  else
    sock:close()
  end
  return { status = status, headers = headers, body = body }
end

--- Send one HTTP request and read the whole response, through a cosocket (see the module description
-- for the contexts). Same contract as the core's `session:request`.
-- @tparam table req `{url, method = "GET", headers = {name = value}, body, timeout, connect_timeout}`
--   (seconds)
-- @treturn table|nil `{status = integer, headers = {lower-cased name = value}, body = string}`
-- @treturn[2] nil
-- @treturn[2] convai.error kind `invalid_argument` (a check failed, or the call was made in an nginx
--   context without cosockets; `request_sent = false`), `timeout` (`curl_code` 28), `tls` (35, 60),
--   `too_large` (63 announced, 23 counted, or headers over 256 KiB), `network` (6, 7, 8, 18, 52, 55,
--   56), each with `curl_code` and `request_sent`
-- @raise for wrong types, as the core does
function mt:request(req)
  local method, target = check_request(req)
  if not method then return rejected(target) end
  if self.closed then return rejected("session is closed") end
  local phase = ngx.get_phase()
  if not _M.COSOCKET_PHASES[phase] then
    if phase == "init" then return self:blocking_request(req) end
    return rejected(format("cannot send an HTTP request in nginx's %s phase: nginx has no non-blocking "
      .. "sockets there and a blocking request would stall the worker; make the call in a rewrite, "
      .. "access or content handler, or in a timer: ngx.timer.at(0, function() ... end)", phase))
  end
  self.requests = self.requests + 1
  local started = now()
  local deadline = started + (req.timeout or self.timeout)
  local resp, err, retry
  for _ = 1, 2 do -- once more when a kept-alive connection turned out closed, as libcurl does
    resp, err, retry = attempt(self, method, target, req, started, deadline)
    if not retry then break end
  end
  if retry then
    return nil, transfer_error("network", CURLE.GOT_NOTHING, "Empty reply from server", true)
  end
  return resp, err
end

-- The libcurl core, for requests made in init_by_lua (the master process: blocking is harmless).
function mt:blocking_request(req)
  if not self.core_session then
    local s, err = core.session { timeout = self.timeout, connect_timeout = self.connect_timeout,
      max_body = self.max_body, user_agent = self.user_agent }
    if not s then return nil, err end
    self.core_session = s
  end
  self.requests = self.requests + 1
  local before = self.core_session:stats().connections
  local resp, err = self.core_session:request(req)
  self.connections = self.connections + (self.core_session:stats().connections - before)
  return resp, err
end

--- Counters since the session was made (still readable after `close`).
-- @treturn table `{requests = integer, connections = integer}`: requests attempted (refused checks not
--   counted) and new connections opened for them (0 for a request that reused a kept-alive connection
--   of the worker's pool, which other sessions of the worker may have opened)
function mt:stats()
  return { requests = self.requests, connections = self.connections }
end

--- Close the session. Idempotent. Afterwards `request` fails with `invalid_argument` ("session is
-- closed"). Idle connections stay in the worker's pool, shared with the other sessions of the worker,
-- until `keepalive_timeout`.
function mt:close()
  self.closed = true
  if self.core_session then self.core_session:close() end
end
mt.__close = mt.close

mt.__tostring = function(self)
  return self.closed and "convai.http.cosocket (closed)" or "convai.http.cosocket (open)"
end

return _M
