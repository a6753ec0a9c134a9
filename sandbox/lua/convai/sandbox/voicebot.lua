-- Sandbox emulation of the voicebot.studio Client API, WhatsApp agent usage and send-template
-- (docs/api-notes.md §1):
--   GET  /voicebot/third-party/v1/whatsapp/agent-usage[?agent_id=N]  (Authorization: Bearer <token>)
--   POST /voicebot/third-party/v1/whatsapp/send-template             (Authorization: Bearer <token>)
-- It keeps the per-agent rolling 24 h window of business-initiated conversations that send-template
-- and the Vonage emulation open (`open_conversation`). Error bodies follow Laravel, as the agent-usage
-- 422 does: `{"message": ..., "errors": {field: [...]}}`. Send-template refuses a new conversation once
-- the agent's limit is reached: 422 `{"message": "Business-initiated conversation limit reached.",
-- "error": "limit_exhausted"}` (the vendor documents no error: the sandbox's choice). Plain Lua:
-- handlers are pure functions of a request table.

local common = require("convai.sandbox.common")
local whatsapp = require("convai.sandbox.whatsapp")

local _M = {}

--- The Bearer token the sandbox accepts.
_M.TOKEN = "sandbox-voicebot-token"
--- Path prefix of the API base URL on the sandbox.
_M.PREFIX = "/voicebot/third-party/v1"
--- WhatsApp agents that exist in the sandbox are 1..MAX_AGENT; agent 1 is the "first WhatsApp agent".
_M.MAX_AGENT = 1000
--- Default business-initiated limit per agent (Meta's lowest tier) per rolling window.
_M.DEFAULT_LIMIT = 250
--- Length of the rolling window, seconds.
_M.WINDOW = 86400

local INTEGER_ERROR = "The agent id must be an integer."

-- conversations[agent] = { [recipient] = opened_at (sandbox clock, seconds) }
local conversations
-- settings = { default_limit = n, agents = { ["7"] = { limit = n, usage = n } } }
local settings

--- Forget every conversation and go back to the default configuration.
function _M.reset()
  conversations = {}
  settings = { default_limit = _M.DEFAULT_LIMIT, agents = {} }
end

_M.reset()

local function agent_settings(agent)
  return settings.agents[tostring(agent)]
end

--- Current limit of an agent.
-- @tparam integer agent voicebot agent id (1..MAX_AGENT)
-- @treturn integer conversations the agent may open per rolling window
function _M.limit(agent)
  local s = agent_settings(agent)
  return s and s.limit or settings.default_limit
end

-- Drop expired conversations of one agent and return its table.
local function window(agent, now)
  local conv = conversations[agent]
  if not conv then
    conv = {}
    conversations[agent] = conv
  end
  for recipient, opened_at in pairs(conv) do
    if now - opened_at >= _M.WINDOW then
      conv[recipient] = nil
    end
  end
  return conv
end

--- Business-initiated conversations of an agent in the rolling window ending at `now`.
-- @tparam integer agent voicebot agent id
-- @tparam number now sandbox clock, epoch seconds
-- @treturn integer number of distinct recipients contacted in the last 24 h
function _M.usage(agent, now)
  local n = 0
  for _ in pairs(window(agent, now)) do
    n = n + 1
  end
  return n
end

--- Record a business-initiated conversation (a WhatsApp template sent to `recipient`).
-- A recipient already in the window does not count again; when the agent's limit is exhausted no
-- conversation is opened.
-- @tparam integer agent voicebot agent id
-- @tparam string recipient phone number (digits)
-- @tparam number now sandbox clock, epoch seconds
-- @treturn boolean true when a new conversation was opened
-- @treturn string|nil why not: "open" (already in the window) or "limit exhausted"
function _M.open_conversation(agent, recipient, now)
  local conv = window(agent, now)
  if conv[recipient] then
    return false, "open"
  end
  if _M.usage(agent, now) >= _M.limit(agent) then
    return false, "limit exhausted"
  end
  conv[recipient] = now
  return true
end

-- Replace the synthetic conversations of an agent by `n` opened now.
local function preset_usage(agent, n, now)
  local conv = window(agent, now)
  for recipient in pairs(conv) do
    if recipient:sub(1, 10) == "synthetic:" then
      conv[recipient] = nil
    end
  end
  for i = 1, n do
    conv["synthetic:" .. i] = now
  end
end

local function non_negative_integer(v)
  if not (common.is_integer(v) and v >= 0) then
    return "must be a non-negative integer"
  end
end

local CONFIG_RULES = {
  settings = {
    default_limit = non_negative_integer,
    agents = {
      what = "an object keyed by agent id",
      key = function(id)
        local n = common.parse_digits(id)
        if not n or n < 1 or n > _M.MAX_AGENT then
          return "agent id must be an integer 1.." .. _M.MAX_AGENT
        end
      end,
      each = { settings = { limit = non_negative_integer, usage = non_negative_integer } },
    },
  },
}

--- Check a `voicebot` section of POST /_sandbox/config without applying it.
-- Shape: `{default_limit = n, agents = {["7"] = {limit = n, usage = n}}}` (all optional; an agent set
-- to JSON null goes back to the defaults).
-- @tparam table cfg decoded JSON object
-- @treturn boolean|nil true when valid
-- @treturn string error message
function _M.validate_config(cfg)
  return common.check_config("voicebot", cfg, CONFIG_RULES)
end

--- Merge a validated `voicebot` config section. `usage` presets that many synthetic conversations
-- opened at `now` (replacing earlier synthetic ones of that agent).
-- @tparam table cfg section accepted by `validate_config`
-- @tparam number now sandbox clock, epoch seconds
function _M.apply_config(cfg, now)
  if cfg.default_limit then
    settings.default_limit = cfg.default_limit
  end
  for id, a in pairs(cfg.agents or {}) do
    local agent = tonumber(id)
    local key = tostring(agent)
    if a == common.null then
      settings.agents[key] = nil
      preset_usage(agent, 0, now)
    else
      local s = settings.agents[key] or {}
      settings.agents[key] = s
      if a.limit then
        s.limit = a.limit
      end
      if a.usage then
        s.usage = a.usage
        preset_usage(agent, a.usage, now)
      end
    end
  end
end

--- The effective configuration (for GET /_sandbox/config).
-- @treturn table `{default_limit = n, agents = {["7"] = {limit = n, usage = preset}}}`
function _M.config()
  return { default_limit = settings.default_limit,
    agents = common.agent_settings(settings.agents, { "limit", "usage" }) }
end

local function unauthenticated()
  return 401, { message = "Unauthenticated." }
end

local function bearer_ok(headers)
  local value = headers["authorization"]
  if type(value) ~= "string" then
    return false
  end
  local token = value:match("^[Bb][Ee][Aa][Rr][Ee][Rr]%s+(%S+)%s*$")
  return token == _M.TOKEN
end

local USAGE = _M.PREFIX .. "/whatsapp/agent-usage"
local SEND_TEMPLATE = _M.PREFIX .. "/whatsapp/send-template"

--- The answer to a send-template that would open a conversation beyond the agent's limit.
_M.LIMIT_REACHED = { message = "Business-initiated conversation limit reached.", error = "limit_exhausted" }

local function not_supported(method, route, allowed)
  return 405, { message = "The " .. method .. " method is not supported for route third-party/v1/"
    .. route .. ". Supported methods: " .. allowed .. "." }, { Allow = allowed }
end

local function agent_usage(req)
  local agent = 1
  if req.args.agent_id ~= nil then
    local raw = common.arg(req.args.agent_id)
    -- Laravel's "integer" rule: an optional sign and digits.
    if not raw or not raw:match("^[+-]?%d+$") then
      return 422, { message = INTEGER_ERROR, errors = { agent_id = { INTEGER_ERROR } } }
    end
    agent = tonumber(raw)
    if agent < 1 or agent > _M.MAX_AGENT then
      return 404, { message = "Agent not found." }
    end
  end
  local usage = _M.usage(agent, req.now)
  local limit = _M.limit(agent)
  return 200, {
    data = {
      business_initiated = {
        current_usage = usage,
        current_limit = limit,
        limit_exhausted = usage >= limit,
      },
    },
  }
end

local function present(v)
  return v ~= nil and v ~= common.null
end

-- Laravel-style validation of a send-template body: nil when valid, else the 422 body.
local function validate_send(body)
  local errors, order = {}, {}
  local function fail(field, message)
    if not errors[field] then
      errors[field] = { message }
      order[#order + 1] = message
    end
  end
  local phone = body.phone_number
  if not present(phone) or phone == "" then
    fail("phone_number", "The phone number field is required.")
  elseif type(phone) ~= "string" or not whatsapp.is_number((phone:gsub("^%+", ""))) then
    fail("phone_number", "The phone number field must be an E.164 number: country code first, "
      .. "8 to 15 digits, no spaces.")
  end
  for _, field in ipairs({ "customer_name", "template_name" }) do
    local v, label = body[field], field:gsub("_", " ")
    if not present(v) or v == "" then
      fail(field, "The " .. label .. " field is required.")
    elseif type(v) ~= "string" then
      fail(field, "The " .. label .. " field must be a string.")
    end
  end
  local components = body.template_components
  if not present(components) then
    fail("template_components", "The template components field must be present.")
  else
    local err = whatsapp.check_components(components, "template_components")
    if err then
      fail("template_components", err)
    end
  end
  if present(body.agent_id) and not common.is_integer(body.agent_id) then
    fail("agent_id", "The agent id field must be an integer.")
  end
  if #order == 0 then
    return nil
  end
  local message = order[1]
  if #order > 1 then
    message = message .. " (and " .. (#order - 1) .. " more error" .. (#order > 2 and "s" or "") .. ")"
  end
  return { message = message, errors = errors }
end

local function iso8601(t)
  return os.date("!%Y-%m-%dT%H:%M:%S", math.floor(t)) .. string.format(".%06dZ",
    math.floor((t % 1) * 1e6))
end

local function send_template(req)
  local body = common.decode(req.body)
  if type(body) ~= "table" or not common.is_object(body) then
    body = {} -- Laravel reads a body that is not a JSON object as no input at all
  end
  local invalid = validate_send(body)
  if invalid then
    return 422, invalid
  end
  local agent = present(body.agent_id) and body.agent_id or 1
  if agent < 1 or agent > _M.MAX_AGENT then
    return 404, { message = "Agent not found." }
  end
  local phone = body.phone_number:gsub("^%+", "")
  local opened, why = _M.open_conversation(agent, phone, req.now)
  if not opened and why ~= "open" then
    return 422, _M.LIMIT_REACHED
  end
  return 200, {
    data = {
      id = whatsapp.uuid(),
      agent_id = agent,
      phone_number = phone,
      customer_name = body.customer_name,
      template_name = body.template_name,
      status = "sent",
      conversation_opened = opened,
      created_at = iso8601(req.now),
    },
  }
end

--- Handle a request under `PREFIX`.
-- @tparam table req `{method, path, args, headers (lower-cased), body, now (sandbox clock, s)}`
-- @treturn integer HTTP status
-- @treturn table body to encode as JSON
-- @treturn table|nil extra response headers
function _M.handle(req)
  -- as Laravel: the route and its methods first, then the auth middleware
  local handler
  if req.path == USAGE then
    if req.method ~= "GET" and req.method ~= "HEAD" then
      return not_supported(req.method, "whatsapp/agent-usage", "GET, HEAD")
    end
    handler = agent_usage
  elseif req.path == SEND_TEMPLATE then
    if req.method ~= "POST" then
      return not_supported(req.method, "whatsapp/send-template", "POST")
    end
    handler = send_template
  else
    return 404, { message = "Not Found." }
  end
  if not bearer_ok(req.headers) then
    return unauthenticated()
  end
  return handler(req)
end

return _M
