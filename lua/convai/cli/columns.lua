--- convai.cli.columns: the recipients CSV's column names in the messages a CSV user reads.
--
-- A campaign checks each row with the client's Lua checks, whose messages name Lua fields
-- (`components.header[1]`, `template_components.body[2]`, `customer_name`, `phone_number`,
-- `session_parameters`). Someone who wrote a CSV knows its columns (`header.1`, `body.2`, `name`, `to`,
-- `session.NAME`): `csv_names` rewrites a message in those terms.
--
-- @module convai.cli.columns
local gsub = string.gsub

local _M = {}

-- Lua field path (a Lua pattern) -> its CSV column, in the order they are tried.
local PATHS = {
  { "template_components%.(%a+)%[(%d+)%]", "%1.%2" },
  { "components%.(%a+)%[(%d+)%]", "%1.%2" },
  { "%f[%w_]customer_name%f[^%w_]", "name" },
  { "%f[%w_]phone_number%f[^%w_]", "to" },
  { "%f[%w_]session_parameters%f[^%w_]", "session.NAME" },
}

--- A message with the Lua field paths of a recipient's fields replaced by the CSV columns they come
-- from: `components.header[1]` -> `header.1`, `customer_name` -> `name`, `phone_number` -> `to`.
-- @tparam string msg
-- @treturn string
function _M.csv_names(msg)
  msg = tostring(msg)
  for _, p in ipairs(PATHS) do msg = gsub(msg, p[1], p[2]) end
  return msg
end

return _M
