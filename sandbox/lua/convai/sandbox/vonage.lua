-- Sandbox emulation of Vonage AI Studio's outbound triggers
-- (docs/api-notes.md §3):
--   POST /vonage/messaging/conversation  (X-Vgai-Key), channel "whatsapp" or "sms"
--   POST /vonage/telephony/make-call     (X-Vgai-Key), a voice call
-- Validates the body as documented (400 with a JSON error naming the field), enforces the per-agent
-- sessions-per-second limit shared by the three channels (429 without any rate-limit header, as the
-- vendor documents none) and opens a business-initiated conversation on the linked voicebot agent for
-- each accepted WhatsApp trigger. An accepted trigger answers 200 `{"session_id": ..., "message_uuid":
-- ...}` (the vendor documents no success body: the sandbox's choice) and, when it carries a
-- status_url, hands a callback job to app.lua (callbacks.lua posts the statuses). Plain Lua: no ngx
-- API here.

local common = require("convai.sandbox.common")
local voicebot = require("convai.sandbox.voicebot")
local whatsapp = require("convai.sandbox.whatsapp")

local _M = {}

--- The X-Vgai-Key the sandbox accepts.
_M.KEY = "sandbox-vonage-key"
--- Path prefix of the API base URL on the sandbox.
_M.PREFIX = "/vonage"
--- Default sessions per second per agent.
_M.DEFAULT_RATE = 1
--- Length of the sliding rate window, seconds.
_M.RATE_WINDOW = 1.0
--- Meta's limits for text parameters, in characters.
_M.HEADER_TEXT_MAX = whatsapp.HEADER_TEXT_MAX
_M.BODY_TEXT_MAX = whatsapp.BODY_TEXT_MAX

local CONVERSATION = _M.PREFIX .. "/messaging/conversation"
local MAKE_CALL = _M.PREFIX .. "/telephony/make-call"

local REQUIRED = {
  whatsapp = { "namespace", "template", "locale", "to", "agent_id", "channel", "status_url" },
  sms = { "to", "agent_id", "channel", "status_url" },
  voice = { "agent_id", "to" },
}

-- accepted[agent_id] = list of acceptance times (real clock, seconds), oldest first
local accepted
-- settings = { default_rate = n, agents = { [agent_id] = { rate = n, voicebot_agent = n } } }
local settings

--- Forget rate state and go back to the default configuration.
function _M.reset()
  accepted = {}
  settings = { default_rate = _M.DEFAULT_RATE, agents = {} }
end

_M.reset()

--- Sessions per second allowed for an agent.
-- @tparam string agent Vonage agent id
-- @treturn number
function _M.rate(agent)
  local s = settings.agents[agent]
  return s and s.rate or settings.default_rate
end

--- The voicebot agent whose WhatsApp window a Vonage agent's triggers count against: the configured
-- `voicebot_agent`, else the agent id itself when it is an integer 1..1000, else agent 1.
-- @tparam string agent Vonage agent id
-- @treturn integer voicebot agent id
function _M.voicebot_agent(agent)
  local s = settings.agents[agent]
  if s and s.voicebot_agent then
    return s.voicebot_agent
  end
  local n = common.parse_digits(agent)
  if n and n >= 1 and n <= voicebot.MAX_AGENT then
    return n
  end
  return 1
end

local function positive_number(v)
  if type(v) ~= "number" or v <= 0 then
    return "must be a positive number"
  end
end

local CONFIG_RULES = {
  settings = {
    default_rate = positive_number,
    agents = {
      what = "an object keyed by agent id",
      each = {
        settings = {
          rate = positive_number,
          voicebot_agent = function(v)
            if not common.is_integer(v) or v < 1 or v > voicebot.MAX_AGENT then
              return "must be an integer 1.." .. voicebot.MAX_AGENT
            end
          end,
        },
      },
    },
  },
}

--- Check a `vonage` section of POST /_sandbox/config without applying it.
-- Shape: `{default_rate = n, agents = {[agent_id] = {rate = n, voicebot_agent = n}}}` (all optional;
-- an agent set to JSON null goes back to the defaults).
-- @tparam table cfg decoded JSON object
-- @treturn boolean|nil true when valid
-- @treturn string error message
function _M.validate_config(cfg)
  return common.check_config("vonage", cfg, CONFIG_RULES)
end

--- Merge a validated `vonage` config section.
-- @tparam table cfg section accepted by `validate_config`
function _M.apply_config(cfg)
  if cfg.default_rate then
    settings.default_rate = cfg.default_rate
  end
  for id, a in pairs(cfg.agents or {}) do
    if a == common.null then
      settings.agents[id] = nil
    else
      local s = settings.agents[id] or {}
      settings.agents[id] = s
      s.rate = a.rate or s.rate
      s.voicebot_agent = a.voicebot_agent or s.voicebot_agent
    end
  end
end

--- The effective configuration (for GET /_sandbox/config).
-- @treturn table `{default_rate = n, agents = {[agent_id] = {rate = n, voicebot_agent = n}}}`
function _M.config()
  return { default_rate = settings.default_rate,
    agents = common.agent_settings(settings.agents, { "rate", "voicebot_agent" }) }
end

local function bad_request(message, missing)
  return 400, { error = "Bad Request", message = message, missing = missing }
end

local function absent(v)
  return v == nil or v == common.null or v == ""
end

local function check_session_parameters(list)
  if not common.is_array(list) then
    return "session_parameters must be an array"
  end
  for i, p in ipairs(list) do
    if not common.is_object(p) or type(p.name) ~= "string" or p.name == ""
        or type(p.value) ~= "string" then
      return "session_parameters[" .. (i - 1) .. "] must be an object {name, value} of strings"
    end
  end
  return nil
end

-- Validate a decoded body of `kind` ("conversation" or "voice"). Returns nil when valid, else a
-- message and the list of missing fields.
local function validate(body, kind)
  local required = kind == "voice" and REQUIRED.voice or body.channel == "sms" and REQUIRED.sms
    or REQUIRED.whatsapp
  local missing = {}
  for _, field in ipairs(required) do
    if absent(body[field]) then
      missing[#missing + 1] = field
    end
  end
  if #missing > 0 then
    return "Missing mandatory field(s): " .. table.concat(missing, ", "), missing
  end
  if kind ~= "voice" and body.channel ~= "whatsapp" and body.channel ~= "sms" then
    return 'channel must be "whatsapp" or "sms"'
  end
  for _, field in ipairs(required) do
    local v = body[field]
    if type(v) ~= "string" and not (field == "agent_id" and common.is_integer(v)) then
      return field .. " must be a string"
    end
  end
  if not whatsapp.is_number(body.to) then
    return "to must be the number in international format: country code first, digits only "
      .. "(no +, no 00, no spaces), 8 to 15 digits"
  end
  if not absent(body.status_url) and (type(body.status_url) ~= "string"
      or not body.status_url:match("^[Hh][Tt][Tt][Pp][Ss]?://[^/%s?#]+[^%s]*$")) then
    return "status_url must be an http(s) URL"
  end
  if not absent(body.components) then
    local err = whatsapp.check_components(body.components)
    if err then
      return err
    end
  end
  if not absent(body.session_parameters) then
    local err = check_session_parameters(body.session_parameters)
    if err then
      return err
    end
  end
  return nil
end

-- Sliding window over accepted sessions: true when one more may start at `clock`.
local function rate_allows(agent, clock)
  local list = accepted[agent] or {}
  accepted[agent] = list
  local keep = 0
  for i = 1, #list do
    if clock - list[i] < _M.RATE_WINDOW then
      keep = keep + 1
      list[keep] = list[i]
    end
  end
  for i = #list, keep + 1, -1 do
    list[i] = nil
  end
  return keep < _M.rate(agent)
end

--- Handle a request under `PREFIX`.
-- @tparam table req `{method, path, args, headers (lower-cased), body, now (sandbox clock, s),
--   clock (real clock, s)}`
-- @treturn integer HTTP status
-- @treturn table body to encode as JSON
-- @treturn table|nil extra response headers
-- @treturn table|nil for an accepted trigger with a status_url, the status callbacks to send:
--   `{url, message_uuid, to, channel = "whatsapp"|"sms"|"voice"}`
function _M.handle(req)
  local kind
  if req.path == CONVERSATION then
    kind = "conversation"
  elseif req.path == MAKE_CALL then
    kind = "voice"
  else
    return 404, { error = "Not Found" }
  end
  if req.method ~= "POST" then
    return 405, { error = "Method Not Allowed" }, { Allow = "POST" }
  end
  if req.headers["x-vgai-key"] ~= _M.KEY then
    return 401, { error = "Unauthorized", message = "Missing or invalid X-Vgai-Key" }
  end
  local body, err = common.decode(req.body)
  if type(body) ~= "table" or not common.is_object(body) or not req.body:match("^%s*{") then
    return bad_request("Body must be a JSON object" .. (err and ": " .. err or ""))
  end
  local message, missing = validate(body, kind)
  if message then
    return bad_request(message, missing)
  end

  local agent = type(body.agent_id) == "number" and string.format("%d", body.agent_id) or body.agent_id
  if not rate_allows(agent, req.clock) then
    return 429, { error = "Too Many Requests" }
  end
  local list = accepted[agent]
  list[#list + 1] = req.clock

  local channel = kind == "voice" and "voice" or body.channel
  if channel == "whatsapp" then
    voicebot.open_conversation(_M.voicebot_agent(agent), body.to, req.now)
  end
  local uuid = whatsapp.uuid()
  local job
  if not absent(body.status_url) then
    job = { url = body.status_url, message_uuid = uuid, to = body.to, channel = channel }
  end
  return 200, { session_id = whatsapp.uuid(), message_uuid = uuid }, nil, job
end

return _M
