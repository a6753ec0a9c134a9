-- luacheck: globals ngx
-- Fault injection for the sandbox: per request path, for the next N requests, answer with a chosen
-- status (and Retry-After), wait before the headers, send the body slowly, cut the body short of its
-- Content-Length, reset the connection, send invalid JSON, send a body larger than a client's cap, or
-- redirect to another host. app.lua owns the admin API (/_sandbox/faults) and the request log; this
-- module keeps the pending faults (validation, queueing, consumption: plain Lua) and serves a faulted
-- request (`serve`: ngx_lua only).
--
-- A faulted request does not reach the vendor emulation, except "delay" (which waits, then lets the
-- normal handler answer) and "slow_body" (which sends the normal handler's answer slowly). `clear`
-- (DELETE /_sandbox/faults, POST /_sandbox/reset) drops the pending faults and aborts the faulted
-- requests still waiting or dribbling, so that they never touch the state of a later test.
--
-- Over 450 lines on purpose: the fault kinds share one queue and one request lifecycle (pending,
-- waiting, dribbling, aborted by `clear`), and the kinds' serving code is short; split by kind, each
-- file would hold a few lines of its own and the shared lifecycle would be spread across them.

local common = require("convai.sandbox.common")

local _M = {}

--- Fault names.
_M.KINDS = { "status", "delay", "slow_body", "truncate", "reset", "invalid_json", "oversize", "redirect" }
--- Largest `count`.
_M.COUNT_MAX = 1000000
--- Longest wait (delay_ms, chunk_delay_ms), milliseconds.
_M.DELAY_MAX = 60000
--- Largest body of oversize / truncate, bytes.
_M.SIZE_MAX = 256 * 1024 * 1024
--- Default size of the oversize body: larger than the clients' 16 MiB cap.
_M.OVERSIZE_DEFAULT = 17 * 1024 * 1024
--- Default declared Content-Length of a truncated body.
_M.TRUNCATE_DEFAULT = 1024
--- Default invalid JSON body.
_M.INVALID_JSON_DEFAULT = '{"data": {"business_initiated": {"current_usage": 12, "current_limit": '
--- Piece size when streaming a large body, bytes.
_M.CHUNK = 64 * 1024

local REASON = {
  [200] = "OK", [400] = "Bad Request", [401] = "Unauthorized", [403] = "Forbidden",
  [404] = "Not Found", [405] = "Method Not Allowed", [408] = "Request Timeout", [409] = "Conflict",
  [413] = "Payload Too Large", [418] = "I'm a teapot", [422] = "Unprocessable Entity",
  [429] = "Too Many Requests", [500] = "Internal Server Error", [502] = "Bad Gateway",
  [503] = "Service Unavailable", [504] = "Gateway Timeout",
}

local REDIRECT_STATUS = { [301] = true, [302] = true, [303] = true, [307] = true, [308] = true }

local pending -- the pending faults, in the order they were added
local next_id
local generation = 0 -- bumped by clear(): faulted requests in flight compare it after every wait

--- Drop every pending fault and abort the faulted requests in flight.
function _M.clear()
  pending = {}
  next_id = 0
  generation = generation + 1
end

_M.clear()

-- ------------------------------------------------------------------------------------- validation

local function integer(v, name, lo, hi)
  if not common.is_integer(v) or v < lo or v > hi then
    return nil, name .. " must be an integer " .. lo .. ".." .. hi
  end
  return v
end

local function text_value(v, name)
  if type(v) ~= "string" or v == "" or v:find("%c") then
    return nil, name .. " must be a non-empty string without control characters"
  end
  return v
end

local CHECK = {
  status = function(v)
    return integer(v, "status", 200, 599)
  end,
  redirect_status = function(v)
    if not REDIRECT_STATUS[v] then
      return nil, "status must be one of 301, 302, 303, 307, 308"
    end
    return v
  end,
  retry_after = function(v)
    if common.is_integer(v) and v >= 0 then
      return string.format("%d", v)
    end
    return text_value(v, "retry_after")
  end,
  body = function(v)
    return v -- any JSON value; a string is sent as it is
  end,
  content_type = function(v)
    return text_value(v, "content_type")
  end,
  delay_ms = function(v)
    return integer(v, "delay_ms", 0, _M.DELAY_MAX)
  end,
  chunk_delay_ms = function(v)
    return integer(v, "chunk_delay_ms", 0, _M.DELAY_MAX)
  end,
  chunk_size = function(v)
    return integer(v, "chunk_size", 1, _M.SIZE_MAX)
  end,
  bytes_per_second = function(v)
    return integer(v, "bytes_per_second", 1, _M.SIZE_MAX)
  end,
  size = function(v)
    return integer(v, "size", 1, _M.SIZE_MAX)
  end,
  sent = function(v)
    return integer(v, "sent", 0, _M.SIZE_MAX)
  end,
  chunked = function(v)
    if type(v) ~= "boolean" then
      return nil, "chunked must be true or false"
    end
    return v
  end,
  mode = function(v)
    if v ~= "rst" and v ~= "close" then
      return nil, 'mode must be "rst" or "close"'
    end
    return v
  end,
  location = function(v)
    return text_value(v, "location")
  end,
}

-- Parameters each fault accepts (name -> checker name); "status" of redirect has its own checker.
local PARAMS = {
  status = { status = "status", retry_after = "retry_after", body = "body", content_type = "content_type" },
  delay = { delay_ms = "delay_ms" },
  slow_body = { bytes_per_second = "bytes_per_second", chunk_size = "chunk_size",
    chunk_delay_ms = "chunk_delay_ms" },
  truncate = { size = "size", sent = "sent" },
  reset = { mode = "mode" },
  invalid_json = { body = "body" },
  oversize = { size = "size", chunked = "chunked" },
  redirect = { status = "redirect_status", location = "location" },
}

local REQUIRED = { status = { "status" }, delay = { "delay_ms" } }

local function fill_defaults(f, port)
  local k = f.fault
  if k == "slow_body" then
    if f.bytes_per_second and (f.chunk_size or f.chunk_delay_ms) then
      return nil, "give bytes_per_second, or chunk_size and chunk_delay_ms, not both"
    end
    if f.bytes_per_second then
      -- about ten pieces a second
      f.chunk_size = math.max(1, math.ceil(f.bytes_per_second / 10))
      f.chunk_delay_ms = math.floor(f.chunk_size * 1000 / f.bytes_per_second + 0.5)
    else
      f.chunk_size = f.chunk_size or 1
      f.chunk_delay_ms = f.chunk_delay_ms or 100
    end
  elseif k == "truncate" then
    f.size = f.size or _M.TRUNCATE_DEFAULT
    f.sent = f.sent or math.floor(f.size / 2)
    if f.sent >= f.size then
      return nil, "sent must be smaller than size"
    end
  elseif k == "reset" then
    f.mode = f.mode or "rst"
  elseif k == "invalid_json" then
    if f.body ~= nil and type(f.body) ~= "string" then
      return nil, "body must be a string (sent as it is)"
    end
    f.body = f.body or _M.INVALID_JSON_DEFAULT
  elseif k == "oversize" then
    f.size = f.size or _M.OVERSIZE_DEFAULT
    f.chunked = f.chunked or false
  elseif k == "redirect" then
    f.status = f.status or 302
    f.location = f.location or ("http://localhost:" .. tostring(port) .. "/_sandbox/echo")
  end
  return f
end

--- Check a fault description (the decoded JSON of POST /_sandbox/faults) and fill in its defaults.
-- @tparam table spec `{path=, fault=, count=?, ...parameters}`
-- @param port the sandbox's port (default redirect target)
-- @treturn table|nil the fault: the spec with defaults, `count` and `remaining`
-- @treturn string what is wrong
function _M.validate(spec, port)
  if type(spec) ~= "table" or not common.is_object(spec) then
    return nil, "a fault must be a JSON object"
  end
  local kind = spec.fault
  local params = type(kind) == "string" and PARAMS[kind]
  if not params then
    return nil, "fault must be one of " .. table.concat(_M.KINDS, ", ")
  end
  local path = spec.path
  if type(path) ~= "string" or path:sub(1, 1) ~= "/" or path:find("[%c%s?#]") then
    return nil, "path must be a request path starting with / (without query)"
  end
  if path == "/_sandbox" or path:sub(1, 10) == "/_sandbox/" then
    return nil, "the admin API under /_sandbox/ cannot be faulted"
  end
  local f = { path = path, fault = kind }
  local err
  f.count, err = integer(spec.count == nil and 1 or spec.count, "count", 1, _M.COUNT_MAX)
  if not f.count then
    return nil, err
  end
  for k, v in pairs(spec) do
    if k ~= "path" and k ~= "fault" and k ~= "count" then
      local check = params[k]
      if not check then
        return nil, "unknown parameter " .. k .. " for fault " .. kind
      end
      f[k], err = CHECK[check](v)
      if f[k] == nil then
        return nil, err
      end
    end
  end
  for _, k in ipairs(REQUIRED[kind] or {}) do
    if f[k] == nil then
      return nil, "fault " .. kind .. " needs " .. k
    end
  end
  f, err = fill_defaults(f, port)
  if not f then
    return nil, err
  end
  f.remaining = f.count
  return f
end

--- Add a fault after the pending ones (faults of one path apply one after the other).
-- @treturn table|nil the fault as listed, with its `id`
-- @treturn string what is wrong with the spec
function _M.add(spec, port)
  local f, err = _M.validate(spec, port)
  if not f then
    return nil, err
  end
  next_id = next_id + 1
  f.id = next_id
  pending[#pending + 1] = f
  return f
end

--- The pending faults, oldest first (copies).
function _M.list()
  local out = {}
  for i, f in ipairs(pending) do
    local copy = {}
    for k, v in pairs(f) do
      copy[k] = v
    end
    out[i] = copy
  end
  return out
end

--- Consume one use of the first pending fault of `path`.
-- @treturn table|nil the fault, or nil when none applies
function _M.take(path)
  for i, f in ipairs(pending) do
    if f.path == path then
      f.remaining = f.remaining - 1
      if f.remaining <= 0 then
        table.remove(pending, i)
      end
      return f
    end
  end
  return nil
end

-- ------------------------------------------------------------------------------------- serving

-- Close the connection without (more of) a response: nginx's 444.
local function close()
  return ngx.exit(444)
end

-- Abort when clear() ran while this request waited.
local function check_generation(gen)
  if gen ~= generation then
    return close()
  end
end

-- Set status and headers (`headers` includes Content-Type and, unless chunked, Content-Length).
local function start(status, headers)
  ngx.status = status
  for k, v in pairs(headers) do
    ngx.header[k] = v
  end
  ngx.send_headers()
end

-- Print and flush a piece; on a write error (the client went away) close the connection.
local function write(piece)
  local ok = ngx.print(piece)
  if ok then
    ok = ngx.flush(true)
  end
  if not ok then
    return close()
  end
end

-- A JSON body of exactly `size` bytes: {"pad":"xxx…"} (only x's below 11 bytes), streamed in pieces.
local function stream_pad(size, limit)
  limit = limit or size
  local prefix, suffix = '{"pad":"', '"}'
  if size < #prefix + #suffix + 1 then
    prefix, suffix = "", ""
  end
  local pieces = { prefix }
  local middle = size - #prefix - #suffix
  local sent = 0
  local function emit(piece)
    if sent >= limit then
      return
    end
    piece = piece:sub(1, limit - sent)
    sent = sent + #piece
    write(piece)
  end
  emit(pieces[1])
  local chunk = string.rep("x", math.min(_M.CHUNK, middle))
  while middle > 0 and sent < limit do
    local n = math.min(middle, #chunk)
    emit(n == #chunk and chunk or chunk:sub(1, n))
    middle = middle - n
  end
  emit(suffix)
end

-- The connection's socket, found through the request structure and checked against its ports.
local ffi_ready
local function connection_fd(ffi)
  local base = require("resty.core.base") -- optional: only reached once the FFI is known to work
  local r = base.get_request()
  if r == nil then
    return nil, "no request"
  end
  -- ngx_http_request_t starts { uint32_t signature; ngx_connection_t *connection; ... } and
  -- ngx_connection_t starts { void *data; ngx_event_t *read; ngx_event_t *write; ngx_socket_t fd; }
  local c = ffi.cast("void **", r)[1]
  local fd = ffi.cast("int *", ffi.cast("void **", c) + 3)[0]
  local addr = ffi.new("uint8_t[128]")
  local len = ffi.new("unsigned int[1]")
  local function port(fn)
    len[0] = 128
    if fn(fd, addr, len) ~= 0 then
      return nil
    end
    return addr[2] * 256 + addr[3] -- sin_port / sin6_port, network order
  end
  if port(ffi.C.getsockname) ~= tonumber(ngx.var.server_port)
    or port(ffi.C.getpeername) ~= tonumber(ngx.var.remote_port) then
    return nil, "cannot identify the connection's socket"
  end
  return fd
end

-- Make the close of this connection send RST: SO_LINGER {on, 0 s} on its socket (ngx_lua 0.10.23 has
-- no linger option, hence the FFI). Returns true, or nil and why not.
local function linger_zero()
  local ok, ffi = pcall(require, "ffi") -- optional: LuaJIT's FFI; without it the fault degrades
  if not ok then
    return nil, "no FFI"
  end
  local supported = { x64 = true, x86 = true, arm = true, arm64 = true }
  if ffi.os ~= "Linux" or not supported[ffi.arch] then
    return nil, "SO_LINGER constants unknown on " .. ffi.os .. "/" .. ffi.arch
  end
  if not ffi_ready then
    for _, decl in ipairs({
      "struct convai_linger { int l_onoff; int l_linger; };",
      "int setsockopt(int, int, int, const void *, unsigned int);",
      "int getsockname(int, void *, unsigned int *);",
      "int getpeername(int, void *, unsigned int *);",
    }) do
      pcall(ffi.cdef, decl) -- already declared elsewhere is fine
    end
    ffi_ready = true
  end
  local fd, err = connection_fd(ffi)
  if not fd then
    return nil, err
  end
  local linger = ffi.new("struct convai_linger", 1, 0)
  if ffi.C.setsockopt(fd, 1 --[[SOL_SOCKET]], 13 --[[SO_LINGER]], linger, ffi.sizeof(linger)) ~= 0 then
    return nil, "setsockopt failed"
  end
  return true
end

local SERVE = {}

function SERVE.status(f, io)
  local text, ct = f.body, f.content_type
  if text == nil then
    text = common.encode({ error = REASON[f.status] or ("HTTP " .. f.status), message = "sandbox fault" })
  elseif type(text) ~= "string" then
    text = common.encode(text)
  end
  local headers = { ["Content-Type"] = ct or "application/json", ["Content-Length"] = #text }
  if f.retry_after then
    headers["Retry-After"] = f.retry_after
  end
  io.entry.status = f.status
  start(f.status, headers)
  write(text)
end

function SERVE.delay(f, io)
  local gen = generation
  ngx.sleep(f.delay_ms / 1000)
  check_generation(gen)
  local status, text, headers = io.answer()
  io.entry.status = status
  start(status, headers)
  write(text)
end

function SERVE.slow_body(f, io)
  local gen = generation
  local status, text, headers = io.answer()
  io.entry.status = status
  start(status, headers)
  write("")
  local pos = 1
  while pos <= #text do
    ngx.sleep(f.chunk_delay_ms / 1000)
    check_generation(gen)
    write(text:sub(pos, pos + f.chunk_size - 1))
    pos = pos + f.chunk_size
  end
end

function SERVE.truncate(f, io)
  io.entry.status = 200
  start(200, { ["Content-Type"] = "application/json", ["Content-Length"] = f.size })
  stream_pad(f.size, f.sent)
  return close()
end

function SERVE.reset(f, io)
  if f.mode == "rst" then
    local ok, err = linger_zero()
    if not ok then
      io.entry.reset = "close"
      ngx.log(ngx.WARN, "sandbox fault reset: no RST (", err, "), closing the connection instead")
    end
  end
  return close()
end

function SERVE.invalid_json(f, io)
  io.entry.status = 200
  start(200, { ["Content-Type"] = "application/json", ["Content-Length"] = #f.body })
  write(f.body)
end

function SERVE.oversize(f, io)
  io.entry.status = 200
  start(200, { ["Content-Type"] = "application/json", ["Content-Length"] = not f.chunked and f.size or nil })
  stream_pad(f.size)
end

function SERVE.redirect(f, io)
  local text = common.encode({ location = f.location })
  io.entry.status = f.status
  start(f.status, {
    ["Content-Type"] = "application/json", ["Content-Length"] = #text, Location = f.location,
  })
  write(text)
end

--- Serve a faulted request (ngx_lua content phase). May end the request with `ngx.exit(444)`.
-- @tparam table f the fault returned by `take`
-- @tparam table io `{entry = the request's log entry (its status is set here), answer = function
--   returning the normal handler's status, body text and headers (Content-Type, Content-Length)}`
function _M.serve(f, io)
  return SERVE[f.fault](f, io)
end

return _M
