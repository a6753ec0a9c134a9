--- convai.voicebot: client for the voicebot.studio Client API (WhatsApp agent usage).
--
-- Vendor document: "Get Agent Usage", `GET /whatsapp/agent-usage` (seeds/voicebot-whatsapp-agent-usage.md),
-- with API-NOTES §1: Bearer auth, a per-customer base URL, bodies wrapped in `{"data": ...}`.
--
-- @module convai.voicebot
local http = require "convai.http"
local config = require "convai.config"

local type, format = type, string.format

local VENDOR = "voicebot.studio"
local SPEC = {
  vendor = VENDOR, name = "convai.voicebot", secret = "token", env = "CONVAI_VOICEBOT_TOKEN",
  base_url_name = "base_url (CONVAI_VOICEBOT_URL)",
  auth = function(token) return { Authorization = "Bearer " .. token } end,
}

local _M = {}
local mt = {}
mt.__index = mt
http.client_methods(mt, SPEC)

--- Create a client.
-- @tparam table opts
-- @tparam string opts.base_url the customer's Client API base URL, e.g.
--   `https://1-acme.eu.healvi-chat/third-party/v1` (no default: it is per customer)
-- @tparam string opts.token API token, sent as `Authorization: Bearer <token>`
-- @tparam[opt=30] number opts.timeout total time per request, seconds
-- @tparam[opt=10] number opts.connect_timeout connection set-up time, seconds
-- @tparam[opt] string opts.cafile PEM CA bundle used to verify the server
-- @treturn convai.voicebot|nil the client, or nil and an error of kind `invalid_argument`
function _M.new(opts)
  if type(opts) ~= "table" then return http.invalid("voicebot.new expects an options table") end
  return http.client(mt, SPEC, opts, opts.base_url)
end

--- Create a client from `CONVAI_VOICEBOT_URL` and `CONVAI_VOICEBOT_TOKEN` (see `convai.config`).
-- @tparam[opt] table opts extra options (timeout, connect_timeout, cafile)
-- @treturn convai.voicebot|nil the client, or nil and an `invalid_argument` error
function _M.from_env(opts)
  return _M.new(http.env_options(config.voicebot, opts))
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
    local id = http.positive_integer(agent_id)
    if not id then
      return http.invalid(format("agent_id must be a positive integer, got %s", tostring(agent_id)))
    end
    query = http.query { { "agent_id", id } }
  end
  local body, err = self.http:json("GET", "/whatsapp/agent-usage", query)
  if body == nil then return nil, err end
  local bi = type(body) == "table" and type(body.data) == "table" and body.data.business_initiated
  if type(bi) ~= "table" then
    return http.shape_error(VENDOR, "no data.business_initiated object", body)
  end
  local usage, limit = http.count(bi.current_usage), http.count(bi.current_limit)
  if not usage or not limit or type(bi.limit_exhausted) ~= "boolean" then
    return http.shape_error(VENDOR, "business_initiated lacks integer current_usage/current_limit "
      .. "or boolean limit_exhausted", body)
  end
  return {
    current_usage = usage,
    current_limit = limit,
    limit_exhausted = bi.limit_exhausted,
    remaining = limit > usage and limit - usage or 0,
  }
end

return _M
