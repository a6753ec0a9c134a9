--- convai.cli.send_template: the `convai send-template` command.
--
-- Sends an approved WhatsApp template to one recipient through voicebot.studio
-- (`POST /whatsapp/send-template`, `convai.voicebot`'s `send_template`), after the same checks as the
-- Lua method, and prints the answer's status and body, like `convai trigger whatsapp`.
--
-- @module convai.cli.send_template
local voicebot = require "convai.voicebot"
local common = require "convai.cli.common"

local EXIT = common.EXIT

local _M = {}

--- Add the `send-template` command to the `convai` parser.
-- @param parser the `convai` argparse parser
function _M.define(parser)
  local cmd = parser:command("send-template",
    "Send an approved WhatsApp template to one recipient through voicebot.studio.")
  cmd:option("--to", "Recipient phone number with country code, e.g. '+44 7700 900123'."):count(1)
  cmd:option("--name", "The recipient's name (customer_name)."):count(1)
  cmd:option("--template", "Approved WhatsApp template name."):count(1)
  cmd:option("--header-param", "Header text parameter (repeat in order)."):count("*")
  cmd:option("--body-param", "Body text parameter (repeat in order)."):count("*")
  cmd:option("--agent-id", "WhatsApp agent ID (a positive integer); default: the first WhatsApp agent.")
  common.add_output_options(cmd)
end

-- The `send_template` fields from the flags; an agent ID as digits is a number, anything else goes to
-- the check as typed, which refuses it with the text the user gave.
local function fields_of(args)
  local components
  if #args.header_param > 0 or #args.body_param > 0 then
    components = { header = args.header_param, body = args.body_param }
  end
  local agent_id = args.agent_id
  if agent_id ~= nil then agent_id = common.agent_id(agent_id) or agent_id end
  return { phone_number = args.to, customer_name = args.name, template_name = args.template,
    template_components = components, agent_id = agent_id }
end

--- Run `convai send-template` with parsed arguments.
-- @tparam table args from argparse
-- @tparam file out where the result goes
-- @treturn integer exit status: `EXIT.OK`, `EXIT.FAILED` (API or network), `EXIT.USAGE` (nothing sent)
function _M.run(args, out)
  local opts, err = common.client_options(args)
  if not opts then return common.usage_error(err) end
  local fields = fields_of(args)
  -- Check the fields before the environment, so a bad flag is reported as such.
  local _, ferr = voicebot.send_template_body(fields)
  if ferr then return common.fail(ferr) end
  local result, code = common.with_client(voicebot, opts, function(client)
    return client:send_template(fields)
  end)
  if not result then return code end
  common.print_answer(out, args.format, { status = result.status, body = result.body })
  return EXIT.OK
end

return _M
