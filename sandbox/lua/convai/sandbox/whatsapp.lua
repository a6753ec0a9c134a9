-- The sandbox's checks of WhatsApp template pieces, shared by the Vonage emulation (WhatsApp triggers)
-- and the voicebot.studio emulation (send-template): the template-components array with Meta's text
-- limits, recipient numbers, message identifiers. Plain Lua: no ngx API here.

local common = require("convai.sandbox.common")

local _M = {}

--- Meta's limits for text parameters, in characters.
_M.HEADER_TEXT_MAX = 60
_M.BODY_TEXT_MAX = 1024

local COMPONENT_TYPES = { header = true, body = true, button = true }
local PARAMETER_TYPES = {
  text = true, currency = true, date_time = true, image = true, document = true, video = true,
  payload = true,
}
local BUTTON_SUB_TYPES = { quick_reply = true, url = true }

local function check_parameter(where, ctype, p)
  if not common.is_object(p) or type(p.type) ~= "string" then
    return where .. " must be an object with a string type"
  end
  if not PARAMETER_TYPES[p.type] then
    return where .. ".type must be one of text, currency, date_time, image, document, video, payload"
  end
  if p.type == "text" then
    if type(p.text) ~= "string" or p.text == "" then
      return where .. ".text must be a non-empty string"
    end
    local max = ctype == "header" and _M.HEADER_TEXT_MAX or ctype == "body" and _M.BODY_TEXT_MAX
    local len = common.utf8_len(p.text)
    if max and len > max then
      return string.format("%s.text: %s text parameters are limited to %d characters (got %d)",
        where, ctype, max, len)
    end
  end
  return nil
end

--- Check a decoded WhatsApp components array.
-- @param components decoded JSON value
-- @tparam[opt="components"] string name field name used in the message
-- @treturn string|nil what is wrong (elements numbered from 0, as in JSON), nil when valid
function _M.check_components(components, name)
  name = name or "components"
  if not common.is_array(components) then
    return name .. " must be an array"
  end
  for i, c in ipairs(components) do
    local where = name .. "[" .. (i - 1) .. "]"
    if not common.is_object(c) then
      return where .. " must be an object"
    end
    if not COMPONENT_TYPES[c.type] then
      return where .. ".type must be header, body or button"
    end
    if c.type == "button" then
      if not BUTTON_SUB_TYPES[c.sub_type] then
        return where .. ".sub_type must be quick_reply or url"
      end
      local index = tonumber(c.index)
      if not index or not common.is_integer(index) or index < 0 or index > 9 then
        return where .. ".index must be an integer 0..9"
      end
    end
    if not common.is_array(c.parameters) then
      return where .. ".parameters must be an array"
    end
    for j, p in ipairs(c.parameters) do
      local err = check_parameter(where .. ".parameters[" .. (j - 1) .. "]", c.type, p)
      if err then
        return err
      end
    end
  end
  return nil
end

--- Is `to` a number in international format as the vendors take it: digits only, country code first
-- (not 0), 8 to 15 digits?
-- @param to decoded JSON value
-- @treturn boolean
function _M.is_number(to)
  return type(to) == "string" and to:match("^%d+$") ~= nil and #to >= 8 and #to <= 15
    and to:sub(1, 1) ~= "0"
end

--- A random version-4 UUID, the sandbox's message and session identifiers (the worker seeds the
-- generator at start-up).
-- @treturn string e.g. `"3f2b8c1e-5d4a-4b6f-9a2e-0c1d2e3f4a5b"`
function _M.uuid()
  local r = math.random
  return string.format("%08x-%04x-4%03x-%04x-%06x%06x", r(0, 0x7fffffff), r(0, 0xffff), r(0, 0xfff),
    0x8000 + r(0, 0x3fff), r(0, 0xffffff), r(0, 0xffffff))
end

return _M
