-- luacheck: globals ngx
-- The sandbox's request handler, run by nginx's ngx_lua (LuaJIT) in a single worker: routes vendor
-- paths to the emulations (voicebot.lua, avaamo.lua, vonage.lua), records every vendor request in an
-- in-memory log and serves the admin and diagnostics API under /_sandbox/. State lives in module
-- tables of the one worker; init.lua generates the nginx.conf that loads this module. Faults injected
-- through /_sandbox/faults (faults.lua) take over the next requests to a path. An accepted Vonage
-- trigger with a status_url starts its status callbacks (callbacks.lua, which also keeps the
-- /_sandbox/callbacks sink).

local common = require("convai.sandbox.common")
local voicebot = require("convai.sandbox.voicebot")
local avaamo = require("convai.sandbox.avaamo")
local vonage = require("convai.sandbox.vonage")
local faults = require("convai.sandbox.faults")
local callbacks = require("convai.sandbox.callbacks")

local _M = {}

--- At most this many requests are kept in the log (the oldest go first).
_M.LOG_MAX = 10000
--- Largest body served by /_sandbox/bytes, bytes.
_M.BYTES_MAX = 64 * 1024 * 1024
--- Longest wait of /_sandbox/delay, milliseconds.
_M.DELAY_MAX = 60000

local VENDORS = {
  { prefix = voicebot.PREFIX .. "/", module = voicebot },
  { prefix = avaamo.PREFIX .. "/", module = avaamo },
  { prefix = vonage.PREFIX .. "/", module = vonage },
}

local settings -- { latency_ms = n, clock_offset = seconds }
local requests -- the request log, oldest first
local seq -- sequence number of the last logged request

--- Back to the initial state: empty log, no conversations, no rate state, default configuration, no
-- pending faults.
function _M.reset()
  settings = { latency_ms = 0, clock_offset = 0 }
  requests = {}
  seq = 0
  voicebot.reset()
  vonage.reset()
  faults.clear()
  callbacks.reset()
end

_M.reset()

local function clock()
  ngx.update_time()
  return ngx.now()
end

-- A response as status, body text and headers (with Content-Type and Content-Length). `body` is a
-- table to encode as JSON or a string sent as it is.
local function render(status, body, headers, content_type)
  local text = body
  if type(body) ~= "string" then
    local err
    text, err = common.encode(body)
    if not text then
      status, text = 500, common.encode({ error = "Internal Server Error", message = err })
    end
  end
  local all = { ["Content-Type"] = content_type or "application/json", ["Content-Length"] = #text }
  for k, v in pairs(headers or {}) do
    all[k] = v
  end
  return status, text, all
end

-- Send a response (arguments as for render).
local function send(status, body, headers, content_type)
  local text
  status, text, headers = render(status, body, headers, content_type)
  ngx.status = status
  for k, v in pairs(headers) do
    ngx.header[k] = v
  end
  ngx.print(text)
  return status
end

local function read_request()
  ngx.req.read_body()
  local body = ngx.req.get_body_data()
  if body == nil then
    -- Only when a body outgrew client_body_buffer_size (init.lua sizes it to avoid this).
    local path = ngx.req.get_body_file()
    local f = path and io.open(path, "rb")
    if f then
      body = f:read("*a")
      f:close()
    end
  end
  local headers = {}
  for k, v in pairs(ngx.req.get_headers(0)) do
    headers[k] = v
  end
  local now = clock()
  return {
    method = ngx.req.get_method(),
    path = ngx.var.uri,
    args = ngx.req.get_uri_args(0),
    headers = headers,
    body = body,
    clock = now,
    now = now + settings.clock_offset,
  }
end

-- Credential headers and the value the sandbox itself accepts (public: it is printed by
-- `convai sandbox start`). Any other value may be a real credential sent here by mistake: the log shows
-- it as "<redacted>", so that no key or token can be read back from the sandbox.
local CREDENTIALS = {
  authorization = "Bearer " .. voicebot.TOKEN,
  ["access-token"] = avaamo.TOKEN,
  ["x-vgai-key"] = vonage.KEY,
}

local function logged_headers(headers)
  local out = {}
  for k, v in pairs(headers) do
    local own = CREDENTIALS[k]
    out[k] = (own and v ~= own) and "<redacted>" or v
  end
  return out
end

-- Append a request to the log; returns its entry.
local function record(req, status, fault)
  seq = seq + 1
  local entry = {
    seq = seq,
    time = req.clock,
    method = req.method,
    path = req.path,
    query = req.args,
    headers = logged_headers(req.headers),
    body = req.body or common.null,
    status = status,
    fault = fault,
  }
  requests[#requests + 1] = entry
  if #requests > _M.LOG_MAX then
    table.remove(requests, 1)
  end
  return entry
end

local function effective_config()
  return {
    voicebot = voicebot.config(),
    vonage = vonage.config(),
    callbacks = callbacks.config(),
    latency_ms = settings.latency_ms,
    clock_offset = settings.clock_offset,
  }
end

local function bad_request(message)
  return 400, { error = "Bad Request", message = message }
end

local function set_config(req)
  local cfg, err = common.decode(req.body)
  if type(cfg) ~= "table" or not common.is_object(cfg) then
    return bad_request("config must be a JSON object" .. (err and ": " .. err or ""))
  end
  for k, v in pairs(cfg) do
    local ok
    if k == "voicebot" then
      ok, err = voicebot.validate_config(v)
    elseif k == "vonage" then
      ok, err = vonage.validate_config(v)
    elseif k == "callbacks" then
      ok, err = callbacks.validate_config(v)
    elseif k == "latency_ms" then
      ok = type(v) == "number" and v >= 0 and v <= _M.DELAY_MAX
      err = "latency_ms must be a number 0.." .. _M.DELAY_MAX
    elseif k == "clock_offset" then
      ok = type(v) == "number" and v == v and math.abs(v) < 1e10
      err = "clock_offset must be a number of seconds"
    else
      ok, err = false, "unknown setting " .. tostring(k)
    end
    if not ok then
      return bad_request(err)
    end
  end
  if cfg.latency_ms then
    settings.latency_ms = cfg.latency_ms
  end
  if cfg.clock_offset then
    settings.clock_offset = cfg.clock_offset
  end
  -- usage presets are stamped with the sandbox clock as it is after this update
  local now = clock() + settings.clock_offset
  if cfg.voicebot then
    voicebot.apply_config(cfg.voicebot, now)
  end
  if cfg.vonage then
    vonage.apply_config(cfg.vonage)
  end
  if cfg.callbacks then
    callbacks.apply_config(cfg.callbacks)
  end
  return 200, effective_config()
end

-- Non-negative integer query argument `name` (default `default`), at most `max`.
local function int_arg(req, name, default, max)
  local raw = common.arg(req.args[name])
  if raw == nil or raw == "" then
    return default
  end
  local n = common.parse_digits(raw)
  if not n or n > max then
    return nil, name .. " must be an integer 0.." .. max
  end
  return n
end

local REDIRECT_STATUS = { [301] = true, [302] = true, [303] = true, [307] = true, [308] = true }

local function add_fault(req)
  local spec, err = common.decode(req.body)
  if spec == nil then
    return bad_request("a fault must be a JSON object: " .. tostring(err))
  end
  local fault
  fault, err = faults.add(spec, ngx.var.server_port)
  if not fault then
    return bad_request(err)
  end
  return 201, fault
end

-- Admin handlers by path and method: each returns status, body, headers, content type.
local ADMIN = {
  ["/_sandbox/health"] = {
    GET = function()
      return 200, { ok = true }
    end,
  },
  ["/_sandbox/log"] = {
    GET = function()
      return 200, { requests = #requests > 0 and requests or common.EMPTY_ARRAY }
    end,
    DELETE = function()
      requests = {}
      return 200, { ok = true }
    end,
  },
  ["/_sandbox/reset"] = {
    POST = function()
      _M.reset()
      return 200, { ok = true }
    end,
  },
  ["/_sandbox/config"] = {
    GET = function()
      return 200, effective_config()
    end,
    POST = set_config,
  },
  ["/_sandbox/faults"] = {
    GET = function()
      local list = faults.list()
      return 200, { faults = #list > 0 and list or common.EMPTY_ARRAY }
    end,
    POST = add_fault,
    DELETE = function()
      faults.clear()
      return 200, { ok = true }
    end,
  },
  ["/_sandbox/callbacks"] = {
    GET = function()
      return 200, callbacks.list()
    end,
    POST = callbacks.receive,
    DELETE = function()
      callbacks.clear()
      return 200, { ok = true }
    end,
  },
  ["/_sandbox/echo"] = {
    ANY = function(req)
      return 200, {
        method = req.method,
        path = req.path,
        query = req.args,
        headers = req.headers,
        body = req.body or common.null,
      }
    end,
  },
  ["/_sandbox/bytes"] = {
    GET = function(req)
      local n, err = int_arg(req, "n", 0, _M.BYTES_MAX)
      if not n then
        return bad_request(err)
      end
      return 200, string.rep("x", n), nil, "application/octet-stream"
    end,
  },
  ["/_sandbox/delay"] = {
    GET = function(req)
      local ms, err = int_arg(req, "ms", 0, _M.DELAY_MAX)
      if not ms then
        return bad_request(err)
      end
      ngx.sleep(ms / 1000)
      return 200, { ok = true }
    end,
  },
  ["/_sandbox/redirect"] = {
    GET = function(req)
      local status = int_arg(req, "status", 302, 999)
      if not REDIRECT_STATUS[status] then
        return bad_request("status must be one of 301, 302, 303, 307, 308")
      end
      -- "localhost" is another host name for the same server: a client must treat it as a new host
      local location = common.arg(req.args.to)
      if location == nil or location == "" then
        location = "http://localhost:" .. ngx.var.server_port .. "/_sandbox/echo"
      end
      return status, { location = location }, { Location = location }
    end,
  },
}

local function admin(req)
  local methods = ADMIN[req.path]
  if not methods then
    return 404, { error = "Not Found" }
  end
  local handler = methods[req.method] or methods.ANY
  if not handler and req.method == "HEAD" then
    handler = methods.GET
  end
  if not handler then
    local allowed = {}
    for m in pairs(methods) do
      allowed[#allowed + 1] = m
    end
    table.sort(allowed)
    return 405, { error = "Method Not Allowed" }, { Allow = table.concat(allowed, ", ") }
  end
  return handler(req)
end

local function vendor(req)
  for _, v in ipairs(VENDORS) do
    if req.path:sub(1, #v.prefix) == v.prefix then
      return v.module.handle(req)
    end
  end
  return 404, { error = "Not Found" }
end

local function sandbox_clock()
  return clock() + settings.clock_offset
end

-- The emulation's answer to a vendor request, after latency_ms: status, body, headers. An accepted
-- trigger with a status_url starts its status callbacks once the latency has passed.
local function answer(req)
  local status, body, headers, job = vendor(req)
  if settings.latency_ms > 0 then
    ngx.sleep(settings.latency_ms / 1000)
  end
  if job then
    callbacks.schedule(job, sandbox_clock)
  end
  return status, body, headers
end

local function dispatch()
  local req = read_request()
  if req.path == "/_sandbox" or req.path:sub(1, 10) == "/_sandbox/" then
    return send(admin(req))
  end
  local fault = faults.take(req.path)
  if fault then
    -- logged on arrival; the fault fills in the status it sends (null when it sends none)
    local entry = record(req, common.null, fault.fault)
    return faults.serve(fault, {
      entry = entry,
      answer = function()
        -- the emulation sees the time at which the request reaches it (after a delay)
        req.now = clock() + settings.clock_offset
        return render(answer(req))
      end,
    })
  end
  record(req, send(answer(req)))
end

--- Content handler for `location /` (content_by_lua). Answers every request with JSON; a Lua error
-- becomes 500 `{"error":"Internal Server Error","message":...}` and is written to the error log.
function _M.handle()
  local ok, err = xpcall(dispatch, debug.traceback)
  if not ok then
    ngx.log(ngx.ERR, err)
    if not ngx.headers_sent then
      send(500, { error = "Internal Server Error", message = tostring(err):match("^[^\n]*") })
    end
  end
end

--- Worker start-up (init_worker_by_lua): seed the generator of session ids.
function _M.init_worker()
  math.randomseed(math.floor(ngx.now() * 1000) % 2147483647 + ngx.worker.pid())
end

return _M
