--- convai.voicebot: client for the voicebot.studio Client API (WhatsApp agent usage, send-template).
--
-- Vendor document: "Get Agent Usage", `GET /whatsapp/agent-usage` (docs/api-notes.md §1),
-- with the decisions noted there: Bearer auth, a per-customer base URL, bodies wrapped in `{"data": ...}`,
-- and the same API's `POST /whatsapp/send-template` (`phone_number` E.164 digits without "+", as the vendor's
-- example; `template_components` the WhatsApp components array, `[]` when the template has none;
-- `agent_id` an integer or null).
--
-- @module convai.voicebot
local core = require "convai.core"
local cjson = require "cjson.safe"
local errors = require "convai.errors"
local check = require "convai.http.check"
local client = require "convai.http.client"
local config = require "convai.config"
local whatsapp = require "convai.whatsapp"

local type, pairs, tostring, setmetatable = type, pairs, tostring, setmetatable
local format, find = string.format, string.find

local VENDOR = "voicebot.studio"
local SPEC = {
  vendor = VENDOR, name = "convai.voicebot", secret = "token", env = "CONVAI_VOICEBOT_TOKEN",
  base_url_name = "base_url (CONVAI_VOICEBOT_URL)",
  auth = function(token) return { Authorization = "Bearer " .. token } end,
}

local _M = {}
local mt = client.class(SPEC)
local invalid = errors.invalid

--- Create a client.
-- @tparam table opts
-- @tparam string opts.base_url the customer's Client API base URL, e.g.
--   `https://1-acme.eu.healvi-chat/third-party/v1` (no default: it is per customer)
-- @tparam string opts.token API token, sent as `Authorization: Bearer <token>`
-- @tparam[opt=30] number opts.timeout total time per request, seconds
-- @tparam[opt=10] number opts.connect_timeout connection set-up time, seconds
-- @tparam[opt] string opts.cafile PEM CA bundle used to verify the server
-- @tparam[opt] function opts.trace called with an event table before and after each request
--   (`{phase = "request", method, url, headers, body_bytes}`, `{phase = "response", method, url, status,
--   elapsed_ms, error}`), credential headers shown as `"<redacted>"`; what `convai --verbose` prints
-- @tparam[opt] table|boolean opts.retry retry policy (docs/http.md "Retries"): nil or true for the defaults,
--   false for a single attempt, or a table `{attempts = 3, base = 0.5, cap = 20, retry_after_cap = 60}`
--   (attempts in all; seconds) laid over the defaults (also `random` and `sleep`, for tests). A query
--   is retried after a network error, a timeout, 429 or 500/502/503/504, after a pause of
--   `random(0, min(cap, base * 2^n))`, or exactly `Retry-After` when it is at most `retry_after_cap`
-- @tparam[opt=false] boolean|integer opts.follow_redirects false: a 3xx is an `http` error; true: follow
--   at most 5 redirects; an integer: at most that many. Credential headers never go to another scheme,
--   host or port
-- @treturn convai.voicebot|nil the client, or nil and an error of kind `invalid_argument`
function _M.new(opts)
  if type(opts) ~= "table" then return invalid("voicebot.new expects an options table") end
  return client.new(mt, SPEC, opts, opts.base_url)
end

--- Create a client from `CONVAI_VOICEBOT_URL` and `CONVAI_VOICEBOT_TOKEN` (see `convai.config`).
-- @tparam[opt] table opts extra options (timeout, connect_timeout, cafile)
-- @treturn convai.voicebot|nil the client, or nil and an `invalid_argument` error
function _M.from_env(opts)
  local o, err = client.env_options(config.voicebot, opts)
  if not o then return nil, err end
  return _M.new(o)
end

-- The documented answer of agent-usage, decoded and typed in one pass (core.json_decoder), of which
-- only the business_initiated object is made, with its three fields; any other answer is checked field
-- by field below.
local decode_usage = core.json_decoder({ data = { business_initiated = {
  current_usage = "integer", current_limit = "integer", limit_exhausted = "boolean" } } },
  { pick = { "data", "business_initiated" } })

local function usage_result(usage, limit, exhausted)
  return { current_usage = usage, current_limit = limit, limit_exhausted = exhausted,
    remaining = limit > usage and limit - usage or 0 }
end

--- WhatsApp agent usage: business-initiated conversations in the rolling 24 h window.
-- `GET {base_url}/whatsapp/agent-usage[?agent_id=N]`.
-- @tparam[opt] integer agent_id the WhatsApp agent; without it the vendor uses the first WhatsApp agent
-- @treturn table|nil `{current_usage = integer, current_limit = integer, limit_exhausted = boolean,
--   remaining = integer}` where `remaining = max(0, current_limit - current_usage)`
-- @treturn[2] nil
-- @treturn[2] convai.error kind `invalid_argument` (bad agent_id, nothing sent), `auth` (401/403),
--   `not_found` (404, no such agent), `unprocessable` (400/422), `rate_limited` (429), `server` (5xx),
--   `http` (other status), `timeout`, `network`, `tls`, `too_large`, or `decode` (the body is not JSON
--   or not the documented shape)
function mt:whatsapp_usage(agent_id)
  local query = ""
  if agent_id ~= nil then
    local id = check.positive_integer(agent_id)
    if not id then
      return invalid(format("agent_id must be a positive integer, got %s", check.quote(agent_id)))
    end
    query = "?agent_id=" .. id -- digits: nothing to escape
  end
  local body, err, typed = self.http:json("GET", "/whatsapp/agent-usage", query, nil, nil, decode_usage)
  if body == nil then return nil, err end
  if typed then -- the business_initiated object as the vendor documents it, typed while decoding
    local usage, limit = body.current_usage, body.current_limit
    body.remaining = limit > usage and limit - usage or 0
    return body
  end
  local bi = type(body) == "table" and type(body.data) == "table" and body.data.business_initiated
  if type(bi) ~= "table" then
    return client.shape_error(VENDOR, "no data.business_initiated object", body)
  end
  local usage, limit = check.count(bi.current_usage), check.count(bi.current_limit)
  if not usage or not limit or type(bi.limit_exhausted) ~= "boolean" then
    return client.shape_error(VENDOR, "business_initiated lacks integer current_usage/current_limit "
      .. "or boolean limit_exhausted", body)
  end
  return usage_result(usage, limit, bi.limit_exhausted)
end

local SEND_FIELDS = "phone_number, customer_name, template_name, template_components, agent_id"

-- The recipient's fields: phone_number and customer_name (with `partial`, each may be missing).
local function recipient_fields(t, body, partial)
  local err
  if t.phone_number ~= nil or not partial then
    body.phone_number, err = whatsapp.phone(t.phone_number, "phone_number")
    if not body.phone_number then return nil, err end
  end
  local name = t.customer_name
  if name == nil and partial then return body end
  if type(name) ~= "string" or not find(name, "%S") then
    return invalid("customer_name is required (the recipient's name, a non-empty string)")
  end
  if find(name, "%c") then
    return invalid("customer_name must not contain line breaks or control characters")
  end
  body.customer_name = name
  return body
end

--- Check the fields of a send-template request and build its body (nothing is sent).
-- @tparam table t see `send_template`
-- @tparam[opt=false] boolean partial `phone_number` and `customer_name` may be missing (the body is
--   then incomplete)
-- @treturn table|nil the body `{phone_number, customer_name, template_name, template_components,
--   agent_id}` (`agent_id` is `cjson.null` when not given, `template_components` a JSON array)
-- @treturn[2] convai.error kind `invalid_argument`
function _M.send_template_body(t, partial)
  if type(t) ~= "table" then return invalid("send_template expects a table of fields") end
  local body, err = recipient_fields(t, {}, partial)
  if not body then return nil, err end
  body.template_name, err = whatsapp.template_name(t.template_name, "template_name")
  if not body.template_name then return nil, err end
  if t.template_components == nil then
    body.template_components = core.array {}
  else
    body.template_components, err = whatsapp.components(t.template_components, "template_components")
    if not body.template_components then return nil, err end
  end
  if t.agent_id == nil then
    body.agent_id = cjson.null
  else
    body.agent_id = check.positive_integer(t.agent_id)
    if not body.agent_id then
      return invalid(format("agent_id must be a positive integer (or nil for the first WhatsApp "
        .. "agent), got %s", tostring(t.agent_id)))
    end
  end
  for k in pairs(t) do
    if body[k] == nil then
      return invalid(format("unknown field %s (the fields are %s)", tostring(k), SEND_FIELDS))
    end
  end
  return body
end

-- POST a checked send-template body; `{status, body, message}`.
local function post_template(self, body)
  local res, err = client.post(self, "/whatsapp/send-template", body)
  if not res then return nil, err end
  local decoded = res.body
  res.message = type(decoded) == "table" and type(decoded.data) == "table" and decoded.data or nil
  return res
end

--- Send an approved WhatsApp template to one recipient, opening a business-initiated conversation.
-- `POST {base_url}/whatsapp/send-template` with `{phone_number, customer_name, template_name,
-- template_components, agent_id}` (docs/api-notes.md §1). Every field is checked before anything is sent.
-- Retried only on 429 or when nothing was sent, never when the request may have reached the vendor (a
-- retry could message a person twice). The conversation counts against the agent's
-- business-initiated limit (`whatsapp_usage`).
-- @tparam table t
-- @tparam string t.phone_number the recipient, human input accepted (`"+44 7700 900123"`); sent as
--   E.164 digits without "+", as in the vendor's example
-- @tparam string t.customer_name the recipient's name
-- @tparam string t.template_name the approved template name (lowercase letters, digits, `_`)
-- @tparam[opt] table t.template_components the WhatsApp components array, or the shorthand
--   `{header = {"v1"}, body = {"v2"}}` (header text at most 60 characters, body text 1,024); `[]` is
--   sent when not given
-- @tparam[opt] integer t.agent_id the WhatsApp agent; without it `null` is sent and the vendor uses the
--   first WhatsApp agent
-- @treturn table|nil `{status = integer, body = decoded JSON or raw text, message = table|nil}`, where
--   `message` is the `data` object (the vendor's Message) when the body has one
-- @treturn[2] nil
-- @treturn[2] convai.error kind `invalid_argument` (nothing sent), `auth` (401/403), `not_found` (404,
--   no such agent), `unprocessable` (400/422: fields refused, or the business-initiated limit reached;
--   `body` holds the vendor's answer), `rate_limited` (429), `server`, `http`, `timeout`, `network`,
--   `tls`, `too_large`
function mt:send_template(t)
  local body, err = _M.send_template_body(t)
  if not body then return nil, err end
  return post_template(self, body)
end

-- ------------------------------------------------------------------ prepared sends
-- What a campaign sender needs to check a recipient once and send it later, without naming methods.

-- The bodies made by `prepare` (weak keys: a body its caller dropped goes too).
local prepared = setmetatable({}, { __mode = "k" })

--- Check the fields of a WhatsApp template send and build its request body, once; nothing is sent
-- (`send_prepared` sends it).
-- @tparam string channel `"whatsapp"` (the one channel of this client)
-- @tparam table t the fields of `send_template`
-- @tparam[opt=false] boolean partial check the fields given and let `phone_number` and `customer_name`
--   be missing: how a campaign checks its fixed fields before it has recipients (such a body cannot be
--   sent)
-- @treturn table|nil the body
-- @treturn[2] nil
-- @treturn[2] convai.error kind `invalid_argument`
function mt:prepare(channel, t, partial) -- luacheck: ignore 212 (self)
  if channel ~= "whatsapp" then
    return invalid(format("channel must be whatsapp (voicebot.studio sends WhatsApp templates), got %s",
      tostring(channel)))
  end
  local body, err = _M.send_template_body(t, partial)
  if not body then return nil, err end
  if body.phone_number and body.customer_name then prepared[body] = true end
  return body
end

--- Send a body made by `prepare`, as it is (it is not checked or built again).
-- @tparam table body from `prepare`
-- @treturn table|nil as `send_template`
-- @treturn[2] nil
-- @treturn[2] convai.error as `send_template`; `invalid_argument` for a body `prepare` did not make
function mt:send_prepared(body)
  if not prepared[body] then
    return invalid("send_prepared takes a body made by prepare (with a phone_number and customer_name)")
  end
  return post_template(self, body)
end

return _M
