--- convai.campaign.senders: what a campaign sends, one sender per vendor, from one table.
--
-- A sender is a table: `prepare(row, params)` checks one recipient row and builds its finished request
-- body (nothing is sent) and returns it with the recipient's normalised number; `send(body)` sends that
-- body as it is, in the campaign's scheduler, in a slot the campaign claimed; `agent` is the key of the
-- agent's rate limit; `limit` the client's `convai.limit` (nil for a client without one), where the
-- campaign claims the slots; `fingerprint` identifies the campaign in its journal; `uses_templates`
-- says whether the header./body. columns apply. A sender is made over a vendor client's
-- `prepare(channel, fields)` and `send_prepared(body)`, so it never names the client's methods; the
-- fields a campaign fixes (agent, template, ...) are checked once when the sender is made, without a
-- recipient.
--
-- @module convai.campaign.senders
local errors = require "convai.errors"
local recipients = require "convai.campaign.recipients"

local type, tostring, pairs, ipairs, next = type, tostring, pairs, ipairs, next

local _M = {}

local invalid = errors.invalid

-- The Vonage AI Studio channels: the fields a campaign fixes (copied from the sender's options into every
-- request), those of them that identify the campaign in its journal (besides provider, channel and
-- agent_id), and where the template parameters go (nil: the channel has none).
local VONAGE = {
  whatsapp = { fields = { "agent_id", "namespace", "template", "locale", "status_url" },
    identity = { "namespace", "template", "locale" }, components = "components" },
  sms = { fields = { "agent_id", "status_url" }, identity = {} },
  voice = { fields = { "agent_id", "status_url" }, identity = {} },
}

local function need_client(client, vendor)
  if type(client) ~= "table" or type(client.prepare) ~= "function"
    or type(client.send_prepared) ~= "function" then
    return invalid("the sender needs a %s client (with prepare and send_prepared)", vendor)
  end
  return true
end

-- A sender over a client. `spec`: `fixed` (the campaign's fields), `request(row, params)` (one
-- recipient's fields), `number` (the body field holding the normalised number), `agent`, `fingerprint`,
-- `uses_templates`.
local function make(client, channel, spec)
  local ok, err = client:prepare(channel, spec.fixed, true)
  if not ok then return nil, err end
  -- A client that paces its sends (convai.vonage) sends here without: the campaign claims the slots
  -- from the client's limit itself, in its loop.
  local lim = client.limit
  if type(client.with_limit) == "function" then
    client, err = client:with_limit(false)
    if not client then return nil, err end
  end
  return {
    agent = spec.agent, limit = lim, uses_templates = spec.uses_templates, fingerprint = spec.fingerprint,
    prepare = function(row, params)
      local body, berr = client:prepare(channel, spec.request(row, params))
      if not body then return nil, berr end
      return body, body[spec.number]
    end,
    send = function(body) return client:send_prepared(body) end,
  }
end

--- The identity of a campaign in its journal (what its sender's `fingerprint` is), from its parameters
-- alone, without a client: so that a campaign's journal can be found again (`campaign report --store`).
-- @tparam string provider `"vonage"` or `"voicebot"`
-- @tparam string channel `"whatsapp"`, `"sms"` or `"voice"` (voicebot: whatsapp only)
-- @tparam table t the sender's fields, as for `vonage` or `voicebot_template`
-- @treturn table|nil the fingerprint
-- @treturn[2] convai.error kind `invalid_argument` (an unknown provider or channel)
function _M.fingerprint(provider, channel, t)
  if type(t) ~= "table" then return invalid("the sender's fields must be a table") end
  if provider == "voicebot" then
    return { provider = "voicebot", channel = "whatsapp", agent_id = tostring(t.agent_id or ""),
      template = t.template }
  end
  local ch = VONAGE[channel]
  if provider ~= "vonage" or not ch then
    return invalid("no campaign of provider %s and channel %s", tostring(provider), tostring(channel))
  end
  local fingerprint = { provider = "vonage", channel = channel, agent_id = tostring(t.agent_id) }
  for _, f in ipairs(ch.identity) do fingerprint[f] = t[f] end
  return fingerprint
end

--- Vonage AI Studio: WhatsApp templates (`POST /messaging/conversation`, channel whatsapp), SMS (channel
-- sms) or voice calls (`POST /telephony/make-call`). Session parameters come from the `session.NAME`
-- columns; WhatsApp template parameters from `header.N`/`body.N`.
-- @tparam convai.vonage client made with `retry = false` (the campaign handles 429 itself)
-- @tparam string channel `"whatsapp"`, `"sms"` or `"voice"`
-- @tparam table t whatsapp: `{agent_id, namespace, template, locale, status_url}`; sms: `{agent_id,
--   status_url}`; voice: `{agent_id, status_url?}` (see `vonage_client:trigger_whatsapp`, `trigger_sms`,
--   `make_call`)
-- @treturn table|nil the sender
-- @treturn[2] nil
-- @treturn[2] convai.error kind `invalid_argument` (the fields are checked now)
function _M.vonage(client, channel, t)
  local ok, err = need_client(client, "convai.vonage")
  if not ok then return nil, err end
  local ch = VONAGE[channel]
  if not ch then return invalid("channel must be whatsapp, sms or voice, got %s", tostring(channel)) end
  if type(t) ~= "table" then return invalid("the sender's fields must be a table") end
  local fixed = {}
  for _, f in ipairs(ch.fields) do fixed[f] = t[f] end
  return make(client, channel, {
    fixed = fixed, number = "to", agent = tostring(t.agent_id),
    fingerprint = _M.fingerprint("vonage", channel, t), uses_templates = ch.components ~= nil,
    request = function(row, params)
      local req = { to = row.to }
      for k, v in pairs(fixed) do req[k] = v end
      if ch.components then req[ch.components] = recipients.components(row, params) end
      if next(row.session) then req.session_parameters = row.session end
      return req
    end,
  })
end

--- Vonage AI Studio WhatsApp template: `vonage(client, "whatsapp", t)`.
function _M.vonage_whatsapp(client, t) return _M.vonage(client, "whatsapp", t) end

--- Vonage AI Studio SMS: `vonage(client, "sms", t)`.
function _M.vonage_sms(client, t) return _M.vonage(client, "sms", t) end

--- Vonage AI Studio voice call: `vonage(client, "voice", t)`.
function _M.vonage_voice(client, t) return _M.vonage(client, "voice", t) end

--- voicebot.studio WhatsApp template (`POST /whatsapp/send-template`); the `name` column gives
-- `customer_name`, which the vendor requires.
-- @tparam convai.voicebot client
-- @tparam table t `{agent_id (integer, optional), template}`
-- @treturn table|nil the sender
-- @treturn[2] nil
-- @treturn[2] convai.error kind `invalid_argument` (the fields are checked now)
function _M.voicebot_template(client, t)
  local ok, err = need_client(client, "convai.voicebot")
  if not ok then return nil, err end
  if type(t) ~= "table" then return invalid("the sender's fields must be a table") end
  local fixed = { agent_id = t.agent_id, template_name = t.template }
  return make(client, "whatsapp", {
    fixed = fixed, number = "phone_number", agent = "voicebot:" .. tostring(t.agent_id or "default"),
    fingerprint = _M.fingerprint("voicebot", "whatsapp", t), uses_templates = true,
    request = function(row, params)
      return { agent_id = fixed.agent_id, template_name = fixed.template_name, phone_number = row.to,
        customer_name = row.name, template_components = recipients.components(row, params) }
    end,
  })
end

return _M
