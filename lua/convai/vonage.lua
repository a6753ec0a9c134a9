--- convai.vonage: client for Vonage AI Studio outbound triggers.
--
-- Vendor document: "Triggering an outbound WhatsApp virtual agent", `POST /messaging/conversation`
-- (seeds/vonage-ai-studio-outbound-whatsapp.md), with API-NOTES §3: `X-Vgai-Key` auth, EU/US hosts,
-- mandatory namespace, template, locale, to, agent_id, channel and status_url, numbers sent as digits
-- only (country code first, no "+" or "00"), header text parameters up to 60 characters and body text
-- parameters up to 1,024. The vendor allows 1 session per second per agent (3 or 5 when raised) and
-- answers 429 beyond it; this client sends one request per call and leaves pacing to its caller.
--
-- @module convai.vonage
local core = require "convai.core"
local http = require "convai.http"
local config = require "convai.config"

local type, pairs, ipairs, tostring = type, pairs, ipairs, tostring
local format, gsub, find = string.format, string.gsub, string.find
local array = core.array

local VENDOR = "Vonage AI Studio"
local SPEC = {
  vendor = VENDOR, name = "convai.vonage", secret = "api_key", env = "CONVAI_VONAGE_KEY",
  base_url_name = "base_url (CONVAI_VONAGE_URL)",
  auth = function(key) return { ["X-Vgai-Key"] = key } end,
}

local _M = {
  REGIONS = {
    eu = "https://studio-api-eu.ai.vonage.com",
    us = "https://studio-api-us.ai.vonage.com",
  },
  --- WhatsApp text parameter limits (characters), per component type.
  TEXT_LIMITS = { header = 60, body = 1024 },
}

local mt = {}
mt.__index = mt
http.client_methods(mt, SPEC)

local function invalid(fmt, ...)
  return http.invalid(format(fmt, ...))
end

--- Create a client.
-- @tparam table opts
-- @tparam string opts.api_key the AI Studio API key, sent as `X-Vgai-Key`
-- @tparam[opt] string opts.region `"eu"` or `"us"`, the agent's region (one of region or base_url)
-- @tparam[opt] string opts.base_url API base URL; wins over `region`
-- @tparam[opt=30] number opts.timeout total time per request, seconds
-- @tparam[opt=10] number opts.connect_timeout connection set-up time, seconds
-- @tparam[opt] string opts.cafile PEM CA bundle used to verify the server
-- @treturn convai.vonage|nil the client, or nil and an error of kind `invalid_argument`
function _M.new(opts)
  if type(opts) ~= "table" then return http.invalid("vonage.new expects an options table") end
  local base_url = opts.base_url
  if base_url == nil then
    if opts.region == nil then
      return http.invalid("give region (\"eu\" or \"us\", the agent's region) or base_url "
        .. "(set CONVAI_VONAGE_REGION or CONVAI_VONAGE_URL)")
    end
    base_url = _M.REGIONS[opts.region]
    if not base_url then
      return invalid("region must be \"eu\" or \"us\", got %q", tostring(opts.region))
    end
  end
  return http.client(mt, SPEC, opts, base_url)
end

--- Create a client from `CONVAI_VONAGE_URL` or `CONVAI_VONAGE_REGION`, and `CONVAI_VONAGE_KEY`.
-- @tparam[opt] table opts extra options (timeout, connect_timeout, cafile)
-- @treturn convai.vonage|nil the client, or nil and an `invalid_argument` error
function _M.from_env(opts)
  return _M.new(http.env_options(config.vonage, opts))
end

--- Number of UTF-8 characters in a string (works on LuaJIT, which has no `utf8` library).
local function chars(s)
  local _, n = gsub(s, "[^\128-\191]", "")
  return n
end

local function text_param(text, where, limit)
  if type(text) == "number" then text = tostring(text) end
  if type(text) ~= "string" or text == "" then
    return invalid("%s must be a non-empty string", where)
  end
  if find(text, "[\r\n\t%z]") then
    return invalid("%s must not contain line breaks or tabs (WhatsApp rejects them in parameters)", where)
  end
  if limit and chars(text) > limit then
    return invalid("%s is %d characters long; WhatsApp allows at most %d in a %s parameter",
      where, chars(text), limit, where:match("^components%.(%a+)") or "template")
  end
  return text
end

local PARAM_TYPES = {
  text = true, currency = true, date_time = true, image = true, document = true, video = true,
  payload = true,
}

--- Check and copy a raw WhatsApp components array.
local function raw_components(list)
  local out = array {}
  for i = 1, #list do
    local c = list[i]
    local where = format("components[%d]", i)
    if type(c) ~= "table" then return invalid("%s must be a table {type=, parameters=}", where) end
    if c.type ~= "header" and c.type ~= "body" and c.type ~= "button" then
      return invalid("%s.type must be \"header\", \"body\" or \"button\", got %s", where, tostring(c.type))
    end
    local copy = {}
    for k, v in pairs(c) do copy[k] = v end
    if c.type == "button" then
      if c.sub_type ~= "quick_reply" and c.sub_type ~= "url" then
        return invalid("%s.sub_type must be \"quick_reply\" or \"url\"", where)
      end
      local index = tonumber(c.index)
      if not index or index < 0 or index > 9 or index % 1 ~= 0 then
        return invalid("%s.index must be an integer from 0 to 9", where)
      end
      copy.index = tostring(math.floor(index))
    end
    local params = c.parameters
    if params ~= nil then
      if type(params) ~= "table" then return invalid("%s.parameters must be an array", where) end
      copy.parameters = array {}
      for j = 1, #params do
        local p = params[j]
        local pwhere = format("%s.parameters[%d]", where, j)
        if type(p) ~= "table" or not PARAM_TYPES[p.type] then
          return invalid("%s must be a table with type text, currency, date_time, image, document, "
            .. "video or payload", pwhere)
        end
        local pcopy = {}
        for k, v in pairs(p) do pcopy[k] = v end
        if p.type == "text" then
          local text, err = text_param(p.text, format("components.%s text %s", c.type, pwhere),
            _M.TEXT_LIMITS[c.type])
          if not text then return nil, err end
          pcopy.text = text
        end
        copy.parameters[j] = pcopy
      end
    end
    out[i] = copy
  end
  return out
end

--- Build the components array from the shorthand `{header = {"v1"}, body = {"v2", "v3"}}`.
local function shorthand_components(t)
  for k in pairs(t) do
    if k ~= "header" and k ~= "body" then
      return invalid("components shorthand takes only header= and body= lists, got %s=; "
        .. "pass the raw WhatsApp components array for buttons or media", tostring(k))
    end
  end
  local out = array {}
  for _, kind in ipairs { "header", "body" } do
    local values = t[kind]
    if values ~= nil then
      if type(values) ~= "table" then return invalid("components.%s must be a list of strings", kind) end
      local params = array {}
      for i = 1, #values do
        local text, err = text_param(values[i], format("components.%s[%d]", kind, i), _M.TEXT_LIMITS[kind])
        if not text then return nil, err end
        params[i] = { type = "text", text = text }
      end
      if #params > 0 then out[#out + 1] = { type = kind, parameters = params } end
    end
  end
  return out
end

--- Check `components`: the raw WhatsApp array, or the shorthand `{header = {...}, body = {...}}`.
-- @param components
-- @treturn table|nil the array to send (marked as a JSON array), or nil and an error
function _M.components(components)
  if type(components) ~= "table" then
    return http.invalid("components must be the WhatsApp components array or {header={...}, body={...}}")
  end
  if components[1] ~= nil or next(components) == nil then return raw_components(components) end
  return shorthand_components(components)
end

--- Check `session_parameters`: an array of `{name=, value=}` or a map `{name = value}`.
-- @param sp
-- @treturn table|nil the array to send, or nil and an error
function _M.session_parameters(sp)
  if type(sp) ~= "table" then
    return http.invalid("session_parameters must be an array of {name=, value=} or a table {name = value}")
  end
  local list = array {}
  if sp[1] ~= nil or next(sp) == nil then
    for i = 1, #sp do list[i] = sp[i] end
  else
    for _, name in ipairs(http.sorted_keys(sp)) do list[#list + 1] = { name = name, value = sp[name] } end
  end
  for i, p in ipairs(list) do
    if type(p) ~= "table" or type(p.name) ~= "string" or p.name == "" then
      return invalid("session_parameters[%d] needs a non-empty string name", i)
    end
    local v = p.value
    if type(v) == "number" or type(v) == "boolean" then v = tostring(v) end
    if type(v) ~= "string" then
      return invalid("session_parameters %q needs a string value, got %s", p.name, type(p.value))
    end
    list[i] = { name = p.name, value = v }
  end
  return list
end

local function required_string(v, name, hint)
  if type(v) == "number" then v = tostring(v) end
  if type(v) ~= "string" or v == "" then return invalid("%s is required (%s)", name, hint) end
  if find(v, "[%s%c]") then return invalid("%s must not contain spaces or control characters", name) end
  return v
end

--- Check the fields of a WhatsApp trigger and build the request body (nothing is sent).
-- @tparam table t see `trigger_whatsapp`
-- @treturn table|nil the body table, or nil and an `invalid_argument` error
function _M.whatsapp_body(t)
  if type(t) ~= "table" then return http.invalid("trigger_whatsapp expects a table of fields") end
  local body = { channel = "whatsapp" }
  local err
  body.agent_id, err = required_string(t.agent_id, "agent_id", "the AI Studio agent ID")
  if not body.agent_id then return nil, err end
  if not body.agent_id:match("^[%w_%-]+$") then
    return invalid("agent_id must contain only letters, digits, '-' and '_'")
  end
  body.namespace, err = required_string(t.namespace, "namespace", "the WhatsApp template namespace")
  if not body.namespace then return nil, err end
  body.template, err = required_string(t.template, "template", "the approved WhatsApp template name")
  if not body.template then return nil, err end
  if not body.template:match("^[%l%d_]+$") then
    return invalid("template %q is not a WhatsApp template name (lowercase letters, digits and _ only)",
      body.template)
  end
  body.locale, err = required_string(t.locale, "locale", "the template language, e.g. en or en_US")
  if not body.locale then return nil, err end
  if not (body.locale:match("^%l%l%l?$") or body.locale:match("^%l%l%l?_%u%u$")) then
    return invalid("locale %q is not a WhatsApp language code (e.g. en, en_US, pt_BR)", body.locale)
  end
  if t.to == nil or t.to == "" then return invalid("to is required (the recipient's phone number)") end
  if type(t.to) ~= "string" and type(t.to) ~= "number" then
    return invalid("to must be a phone number string, e.g. \"+44 7700 900123\"")
  end
  local to, msg = core.normalize_phone(tostring(t.to))
  if not to then return invalid("to: %s", msg) end
  body.to = to
  local status_url = t.status_url
  if type(status_url) ~= "string" or status_url == "" then
    return invalid("status_url is required (the URL that receives message statuses)")
  end
  if not status_url:match("^https?://[^/%s%c]+") or find(status_url, "[%s%c]") then
    return invalid("status_url must be an http:// or https:// URL without spaces")
  end
  body.status_url = status_url
  if t.components ~= nil then
    body.components, err = _M.components(t.components)
    if not body.components then return nil, err end
  end
  if t.session_parameters ~= nil then
    body.session_parameters, err = _M.session_parameters(t.session_parameters)
    if not body.session_parameters then return nil, err end
  end
  for k in pairs(t) do
    if body[k] == nil and k ~= "components" and k ~= "session_parameters" then
      return invalid("unknown field %s (the fields are agent_id, namespace, template, locale, to, "
        .. "status_url, components, session_parameters)", tostring(k))
    end
  end
  return body
end

--- Trigger an outbound WhatsApp virtual-agent session from an approved template.
-- `POST {base}/messaging/conversation` with `channel = "whatsapp"`. Every mandatory field is checked
-- before anything is sent. Not retried: a retry could message a person twice.
-- @tparam table t
-- @tparam string t.agent_id the AI Studio agent ID
-- @tparam string t.namespace the WhatsApp template namespace
-- @tparam string t.template the approved template name
-- @tparam string t.locale the template language, e.g. `"en"`, `"en_US"`
-- @tparam string t.to the recipient, human input accepted (`"+44 7700 900123"`, `"0044 7700 900123"`);
--   sent as digits only, country code first
-- @tparam string t.status_url where AI Studio posts message statuses
-- @tparam[opt] table t.components the WhatsApp components array, or `{header = {"v1"}, body = {"v2"}}`
-- @tparam[opt] table t.session_parameters `{{name=, value=}, ...}` or `{name = value}`
-- @treturn table|nil `{status = integer, body = decoded JSON or raw text}`
-- @treturn[2] nil
-- @treturn[2] convai.error kind `invalid_argument` (nothing sent), `auth`, `not_found`, `unprocessable`
--   (400/422, the vendor refused the fields), `rate_limited` (429; `retry_after` when the vendor sent
--   `Retry-After`), `server`, `http`, `timeout`, `network`, `tls`, `too_large`
function mt:trigger_whatsapp(t)
  local body, err = _M.whatsapp_body(t)
  if not body then return nil, err end
  local json
  json, err = core.json_encode(body)
  if not json then return nil, core.error("invalid_argument", "cannot encode the request: " .. err) end
  local resp
  resp, err = self.http:send("POST", "/messaging/conversation", nil, json)
  if not resp then return nil, err end
  local decoded = core.json_decode(resp.body)
  if decoded == nil then decoded = resp.body end
  return { status = resp.status, body = decoded }
end

return _M
