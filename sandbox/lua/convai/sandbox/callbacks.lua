-- Status callbacks of the sandbox's Vonage emulation, and a sink that receives them.
--
-- After an accepted Vonage trigger that carries a `status_url` (WhatsApp, SMS, and voice when given),
-- `schedule` starts an ngx timer that POSTs one JSON object per status to the URL, one after the other,
-- `delay_ms` apart (the first `delay_ms` after the trigger), with the fields of the Vonage Messages API
-- status webhook (docs/api-notes.md §3):
--   {"message_uuid", "to", "from", "timestamp" (ISO 8601 UTC, the sandbox clock), "status", "channel"}
-- WhatsApp: submitted, delivered, read. SMS and voice: submitted, delivered. A number ending in one of
-- the configured `rejected` suffixes gets a single `rejected`, one ending in an `undeliverable` suffix
-- `submitted` then `undeliverable`; both carry an `error` object {type, title, detail, instance}.
--
-- The POST is a minimal HTTP/1.1 request over ngx.socket.tcp to an http:// URL whose host is an IP
-- address or `localhost` (the sandbox has no DNS resolver and speaks no TLS to status URLs). Every
-- attempt is recorded as a delivery (GET /_sandbox/callbacks) and a failed one is also written to the
-- sandbox's error.log (warn). `reset` (POST /_sandbox/reset) forgets everything and stops the
-- callbacks still pending; `clear` (DELETE /_sandbox/callbacks) only empties the lists. `receive` is
-- the sink, POST /_sandbox/callbacks: point status_url at the sandbox itself to collect the callbacks
-- it sends.

local common = require("convai.sandbox.common")
local whatsapp = require("convai.sandbox.whatsapp")

local _M = {}

--- Default pause before the first status and between two statuses, milliseconds.
_M.DEFAULT_DELAY_MS = 50
--- Longest delay_ms.
_M.DELAY_MAX = 60000
--- Connect, send and read timeout of one callback POST, milliseconds.
_M.TIMEOUT_MS = 2000
--- At most this many received callbacks and deliveries are kept (the oldest go first).
_M.LIST_MAX = 10000
--- The `from` of every callback: the sandbox's sending number.
_M.FROM = "447700900000"
--- Request header carrying `<worker pid>:<generation>`, so that the sink of the same sandbox ignores a
-- callback that was already on its way when the state was reset.
_M.GENERATION_HEADER = "X-Convai-Sandbox-Generation"

local SEQUENCES = {
  whatsapp = { "submitted", "delivered", "read" },
  sms = { "submitted", "delivered" },
  voice = { "submitted", "delivered" },
}

local settings -- { enabled, delay_ms, rejected = {suffix...}, undeliverable = {suffix...} }
local received -- callbacks received by the sink, oldest first
local deliveries -- callback POSTs attempted, oldest first
local seq
local generation = 0

--- Forget received callbacks and deliveries (pending callbacks still go out).
function _M.clear()
  received = {}
  deliveries = {}
  seq = 0
end

--- Back to the initial state: lists cleared, pending callbacks stopped, default configuration.
function _M.reset()
  settings = { enabled = true, delay_ms = _M.DEFAULT_DELAY_MS, rejected = {}, undeliverable = {} }
  generation = generation + 1
  _M.clear()
end

_M.reset()

local function append(list, entry)
  seq = seq + 1
  entry.seq = seq
  list[#list + 1] = entry
  if #list > _M.LIST_MAX then
    table.remove(list, 1)
  end
end

local function suffix_list(v)
  if not common.is_array(v) then
    return "must be an array of number suffixes (digits)"
  end
  for _, s in ipairs(v) do
    if type(s) ~= "string" or not s:match("^%d+$") or #s > 15 then
      return "must be an array of number suffixes (1 to 15 digits)"
    end
  end
end

local CONFIG_RULES = {
  settings = {
    enabled = function(v)
      if type(v) ~= "boolean" then
        return "must be true or false"
      end
    end,
    delay_ms = function(v)
      if type(v) ~= "number" or v ~= v or v < 0 or v > _M.DELAY_MAX then
        return "must be a number 0.." .. _M.DELAY_MAX
      end
    end,
    rejected = suffix_list,
    undeliverable = suffix_list,
  },
}

--- Check a `callbacks` section of POST /_sandbox/config without applying it.
-- Shape: `{enabled = bool, delay_ms = 0..60000, rejected = {"suffix", ...}, undeliverable = {...}}`,
-- all optional.
-- @tparam table cfg decoded JSON object
-- @treturn boolean|nil true when valid
-- @treturn string error message
function _M.validate_config(cfg)
  return common.check_config("callbacks", cfg, CONFIG_RULES)
end

--- Merge a validated `callbacks` config section (lists replace the previous ones).
-- @tparam table cfg section accepted by `validate_config`
function _M.apply_config(cfg)
  for _, k in ipairs({ "enabled", "delay_ms", "rejected", "undeliverable" }) do
    if cfg[k] ~= nil then
      settings[k] = cfg[k]
    end
  end
end

local function array_or_empty(list)
  return #list > 0 and list or common.EMPTY_ARRAY
end

--- The effective configuration (for GET /_sandbox/config).
-- @treturn table `{enabled, delay_ms, rejected, undeliverable}`
function _M.config()
  return {
    enabled = settings.enabled,
    delay_ms = settings.delay_ms,
    rejected = array_or_empty(settings.rejected),
    undeliverable = array_or_empty(settings.undeliverable),
  }
end

local function ends_with_any(to, suffixes)
  for _, s in ipairs(suffixes) do
    if #s <= #to and to:sub(-#s) == s then
      return true
    end
  end
  return false
end

--- The statuses a recipient gets on a channel, in order.
-- @tparam string to the recipient (digits)
-- @tparam string channel "whatsapp", "sms" or "voice"
-- @treturn table list of status names
function _M.statuses(to, channel)
  if ends_with_any(to, settings.rejected) then
    return { "rejected" }
  end
  if ends_with_any(to, settings.undeliverable) then
    return { "submitted", "undeliverable" }
  end
  return SEQUENCES[channel] or SEQUENCES.sms
end

local ERRORS = {
  rejected = { title = "Rejected", detail = "The sandbox rejects this number (callbacks.rejected)." },
  undeliverable = { title = "Undeliverable",
    detail = "The sandbox cannot deliver to this number (callbacks.undeliverable)." },
}

local function iso8601(t)
  local ms = math.floor((t % 1) * 1000)
  return os.date("!%Y-%m-%dT%H:%M:%S", math.floor(t)) .. string.format(".%03dZ", ms)
end

--- The JSON object of one status callback.
-- @tparam table job `{message_uuid, to, channel}`
-- @tparam string status
-- @tparam number now sandbox clock, epoch seconds
-- @treturn table
function _M.payload(job, status, now)
  local p = {
    message_uuid = job.message_uuid,
    to = job.to,
    from = _M.FROM,
    timestamp = iso8601(now),
    status = status,
    channel = job.channel,
  }
  local e = ERRORS[status]
  if e then
    p.error = {
      type = "https://developer.vonage.com/api-errors/messages",
      title = e.title,
      detail = e.detail,
      instance = whatsapp.uuid(),
    }
  end
  return p
end

-- Split an http:// URL: host to connect to, port, Host header value, request target.
local function parse_url(url)
  local scheme, authority, rest = url:match("^(%a[%w+.%-]*)://([^/?#]*)(.*)$")
  if not scheme then
    return nil, "not an absolute URL"
  end
  if scheme:lower() ~= "http" then
    return nil, scheme:lower() .. ":// status URLs are not supported by the sandbox (use http://)"
  end
  authority = authority:gsub("^.*@", "")
  local host, port = authority:match("^%[([^%]]+)%]:?(%d*)$")
  if not host then
    host, port = authority:match("^([^:]+):?(%d*)$")
  end
  if not host or host == "" then
    return nil, "no host in the URL"
  end
  port = tonumber(port) or 80
  if port < 1 or port > 65535 then
    return nil, "bad port"
  end
  local target = rest:gsub("#.*$", "")
  if target == "" or target:sub(1, 1) == "?" then
    target = "/" .. target
  end
  if target:find("[%s%c]") then
    return nil, "the path contains spaces or control characters"
  end
  if host:lower() == "localhost" then
    host = "127.0.0.1"
  end
  return { host = host, port = port, authority = authority, target = target }
end

-- POST `body` (JSON text) to `url`; returns the HTTP status, or nil and an error message.
local function post(url, body, tag)
  local u, err = parse_url(url)
  if not u then
    return nil, err
  end
  local sock = ngx.socket.tcp()
  sock:settimeouts(_M.TIMEOUT_MS, _M.TIMEOUT_MS, _M.TIMEOUT_MS)
  local ok
  ok, err = sock:connect(u.host, u.port)
  if not ok then
    return nil, "connect to " .. u.authority .. ": " .. tostring(err)
  end
  ok, err = sock:send({
    "POST ", u.target, " HTTP/1.1\r\n",
    "Host: ", u.authority, "\r\n",
    "User-Agent: convai-sandbox\r\n",
    "Content-Type: application/json\r\n",
    "Content-Length: ", tostring(#body), "\r\n",
    _M.GENERATION_HEADER, ": ", tag, "\r\n",
    "Connection: close\r\n\r\n",
    body,
  })
  if not ok then
    sock:close()
    return nil, "send: " .. tostring(err)
  end
  local line
  line, err = sock:receive("*l")
  sock:close()
  if not line then
    return nil, "no response: " .. tostring(err)
  end
  local status = tonumber(line:match("^HTTP/%d%.%d (%d%d%d)"))
  if not status then
    return nil, "not an HTTP response: " .. line:sub(1, 80)
  end
  return status
end

local function tag_of(gen)
  return ngx.worker.pid() .. ":" .. gen
end

-- The timer: each status in turn, delay apart, while the generation is unchanged.
local function deliver(premature, job, statuses, gen, delay, clock)
  if premature then
    return
  end
  for i, status in ipairs(statuses) do
    if i > 1 then
      ngx.sleep(delay)
    end
    if gen ~= generation then
      return
    end
    local body = common.encode(_M.payload(job, status, clock()))
    local http_status, err = post(job.url, body, tag_of(gen))
    if gen ~= generation then
      return
    end
    if http_status and (http_status < 200 or http_status > 299) then
      err = "HTTP " .. http_status
    end
    append(deliveries, {
      time = ngx.now(),
      url = job.url,
      message_uuid = job.message_uuid,
      status = status,
      http_status = http_status or common.null,
      error = err or common.null,
    })
    if err then
      ngx.log(ngx.WARN, "status callback ", status, " of ", job.message_uuid, " to ", job.url,
        " failed: ", err)
    end
  end
end

--- Start the status callbacks of an accepted trigger (nothing when callbacks are disabled).
-- @tparam table job `{url, message_uuid, to, channel}` from the Vonage emulation
-- @tparam function clock returns the sandbox clock (epoch seconds, with clock_offset) for timestamps
function _M.schedule(job, clock)
  if not settings.enabled then
    return
  end
  local delay = settings.delay_ms / 1000
  local ok, err = ngx.timer.at(delay, deliver, job, _M.statuses(job.to, job.channel), generation, delay,
    clock)
  if not ok then
    append(deliveries, {
      time = ngx.now(), url = job.url, message_uuid = job.message_uuid, status = common.null,
      http_status = common.null, error = "cannot schedule the callbacks: " .. tostring(err),
    })
    ngx.log(ngx.WARN, "cannot schedule status callbacks of ", job.message_uuid, ": ", err)
  end
end

--- The sink, POST /_sandbox/callbacks: record a callback (its JSON body decoded, else the raw text).
-- @tparam table req the request as app.lua reads it (`{clock, args, headers, body}`)
-- @treturn integer status
-- @treturn table body
function _M.receive(req)
  local tag = req.headers[_M.GENERATION_HEADER:lower()]
  if type(tag) == "string" and tag:match("^(%d+):") == tostring(ngx.worker.pid())
      and tag ~= tag_of(generation) then
    return 200, { ok = true, ignored = "sent before the sandbox was reset" }
  end
  local body = common.decode(req.body)
  if body == nil then
    body = req.body or common.null
  end
  append(received, {
    time = req.clock,
    query = req.args,
    content_type = req.headers["content-type"] or common.null,
    body = body,
  })
  return 200, { ok = true }
end

--- What GET /_sandbox/callbacks shows.
-- @treturn table `{callbacks = [received...], deliveries = [attempts...]}`
function _M.list()
  return { callbacks = array_or_empty(received), deliveries = array_or_empty(deliveries) }
end

return _M
