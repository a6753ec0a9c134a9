--- convai.whatsapp: the WhatsApp template pieces shared by the senders.
--
-- Both Vonage AI Studio WhatsApp triggers (`convai.vonage`) and voicebot.studio's
-- `POST /whatsapp/send-template` (`convai.voicebot`) carry a WhatsApp template name, a recipient number
-- and the WhatsApp template-components array (docs/api-notes.md §1 and §3): this module checks them once,
-- the same way, before anything is sent. Text limits are Meta's: a header text parameter at most 60
-- characters, a body text parameter at most 1,024, neither with line breaks or tabs.
--
-- @module convai.whatsapp
local core = require "convai.core"
local errors = require "convai.errors"

local type, pairs, ipairs, tostring, tonumber = type, pairs, ipairs, tostring, tonumber
local format, gsub, find = string.format, string.gsub, string.find
local array = core.array

local _M = {
  --- WhatsApp text parameter limits (characters), per component type.
  TEXT_LIMITS = { header = 60, body = 1024 },
  --- Longest WhatsApp template name (characters).
  TEMPLATE_NAME_MAX = 512,
}

local invalid = errors.invalid

--- Number of UTF-8 characters in a string (works on LuaJIT, which has no `utf8` library).
-- @tparam string s
-- @treturn integer
function _M.chars(s)
  local _, n = gsub(s, "[^\128-\191]", "")
  return n
end
local chars = _M.chars

-- A text parameter: a non-empty string (a number is turned into one), no line breaks or tabs, at most
-- the limit of its component type `ctype` (header, body; buttons have none).
local function text_param(text, where, ctype)
  if type(text) == "number" then text = tostring(text) end
  if type(text) ~= "string" or text == "" then
    return invalid("%s must be a non-empty string", where)
  end
  if find(text, "[\r\n\t%z]") then
    return invalid("%s must not contain line breaks or tabs (WhatsApp rejects them in parameters)", where)
  end
  local limit = _M.TEXT_LIMITS[ctype]
  if limit and chars(text) > limit then
    return invalid("%s is %d characters long; WhatsApp allows at most %d in a %s parameter",
      where, chars(text), limit, ctype)
  end
  return text
end

local PARAM_TYPES = {
  text = true, currency = true, date_time = true, image = true, document = true, video = true,
  payload = true,
}

-- Check and copy a raw WhatsApp components array; `name` is the field name used in messages.
local function raw_components(list, name)
  local out = array {}
  for i = 1, #list do
    local c = list[i]
    local where = format("%s[%d]", name, i)
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
          local text, err = text_param(p.text, format("%s.%s text %s", name, c.type, pwhere), c.type)
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

-- Build the components array from the shorthand `{header = {"v1"}, body = {"v2", "v3"}}`.
local function shorthand_components(t, name)
  for k in pairs(t) do
    if k ~= "header" and k ~= "body" then
      return invalid("%s shorthand takes only header= and body= lists, got %s=; "
        .. "pass the raw WhatsApp components array for buttons or media", name, tostring(k))
    end
  end
  local out = array {}
  for _, kind in ipairs { "header", "body" } do
    local values = t[kind]
    if values ~= nil then
      if type(values) ~= "table" then return invalid("%s.%s must be a list of strings", name, kind) end
      local params = array {}
      for i = 1, #values do
        local text, err = text_param(values[i], format("%s.%s[%d]", name, kind, i), kind)
        if not text then return nil, err end
        params[i] = { type = "text", text = text }
      end
      if #params > 0 then out[#out + 1] = { type = kind, parameters = params } end
    end
  end
  return out
end

--- Check template components: the raw WhatsApp array
-- (`{{type = "header"|"body"|"button", parameters = {{type = "text", text = ...}, ...}}, ...}`;
-- buttons carry `sub_type` quick_reply|url and `index` 0–9), or the shorthand
-- `{header = {"v1"}, body = {"v2", "v3"}}` of text parameters. Text parameters are at most
-- `TEXT_LIMITS[type]` characters, without line breaks or tabs.
-- @param components the array or the shorthand; `{}` is the empty array
-- @tparam[opt="components"] string name the field name used in error messages
-- @treturn table|nil a checked copy, marked as a JSON array (an empty one encodes as `[]`)
-- @treturn[2] convai.error kind `invalid_argument`, naming the element that is wrong
function _M.components(components, name)
  name = name or "components"
  if type(components) ~= "table" then
    return invalid("%s must be the WhatsApp components array or {header={...}, body={...}}", name)
  end
  if components[1] ~= nil or next(components) == nil then return raw_components(components, name) end
  return shorthand_components(components, name)
end

--- Check a WhatsApp template name: lowercase letters, digits and `_`, at most 512 characters.
-- @param v the name
-- @tparam[opt="template"] string name the field name used in error messages
-- @treturn string|nil the name
-- @treturn[2] convai.error kind `invalid_argument`
function _M.template_name(v, name)
  name = name or "template"
  if type(v) ~= "string" or v == "" then
    return invalid("%s is required (the approved WhatsApp template name)", name)
  end
  if not v:match("^[%l%d_]+$") then
    return invalid("%s %q is not a WhatsApp template name (lowercase letters, digits and _ only)", name, v)
  end
  if #v > _M.TEMPLATE_NAME_MAX then
    return invalid("%s is %d characters long; WhatsApp template names have at most %d", name, #v,
      _M.TEMPLATE_NAME_MAX)
  end
  return v
end

--- Check and normalise a recipient's phone number: human input accepted (`"+44 7700 900123"`,
-- `"0044 7700 900123"`, `"(44) 7700-900123"`), returned as E.164 digits without `+`, country code
-- first (8–15 digits), as `core.normalize_phone` does.
-- @param v the number (string, or an integer)
-- @tparam[opt="to"] string name the field name used in error messages
-- @treturn string|nil the digits, e.g. `"447700900123"`
-- @treturn[2] convai.error kind `invalid_argument`
function _M.phone(v, name)
  name = name or "to"
  if v == nil or v == "" then return invalid("%s is required (the recipient's phone number)", name) end
  if type(v) ~= "string" and type(v) ~= "number" then
    return invalid("%s must be a phone number string, e.g. \"+44 7700 900123\"", name)
  end
  local digits, msg = core.normalize_phone(tostring(v))
  if not digits then return invalid("%s: %s", name, msg) end
  return digits
end

return _M
