--- convai.cli.trigger: the `convai trigger whatsapp` command.
--
-- Starts one outbound WhatsApp virtual-agent session at Vonage AI Studio from an approved template
-- (`convai.vonage`), in a send slot of the agent (`--limits`, `CONVAI_LIMITS`; by default shared by every
-- convai process of the machine, at the agent's rate from `CONVAI_VONAGE_RATES`, else 1 per second),
-- and prints the answer's status and body.
--
-- @module convai.cli.trigger
local core = require "convai.core"
local http = require "convai.http"
local vonage = require "convai.vonage"
local common = require "convai.cli.common"

local format = string.format
local type, ipairs = type, ipairs

local EXIT = common.EXIT

local _M = {}

--- Add the `trigger` command and its subcommand to the `convai` parser.
-- @param parser the `convai` argparse parser
function _M.define(parser)
  local trigger = common.add_group(parser, "trigger", "Trigger outbound sessions.")
  local wa = trigger:command("whatsapp",
    "Start an outbound WhatsApp virtual-agent session at Vonage AI Studio from an approved template.")
  wa:option("--agent-id", "AI Studio agent ID."):count(1)
  wa:option("--namespace", "WhatsApp template namespace."):count(1)
  wa:option("--template", "Approved WhatsApp template name."):count(1)
  wa:option("--locale", "Template language, e.g. en or en_US."):count(1)
  wa:option("--to", "Recipient phone number with country code, e.g. '+44 7700 900123'."):count(1)
  local status_url = os.getenv("CONVAI_STATUS_URL")
  status_url = status_url ~= "" and status_url or nil
  wa:option("--status-url", "URL that receives the message statuses (default $CONVAI_STATUS_URL, which "
    .. "`convai receive start` prints)."):count(1):default(status_url)
  wa:option("--header-param", "Header text parameter (repeat in order)."):count("*")
  wa:option("--body-param", "Body text parameter (repeat in order)."):count("*")
  wa:option("--session-param", "Session parameter NAME=VALUE (repeatable)."):count("*")
  common.add_limits_option(wa)
  common.add_output_options(wa)
end

-- The `convai.vonage` trigger fields from the flags; nil and a message for a bad --session-param.
local function whatsapp_fields(args)
  local session_parameters
  if #args.session_param > 0 then
    session_parameters = {}
    for _, kv in ipairs(args.session_param) do
      local name, value = kv:match("^([^=]+)=(.*)$")
      if not name then
        return nil, format("--session-param must be NAME=VALUE, got %s", http.quote(kv))
      end
      session_parameters[#session_parameters + 1] = { name = name, value = value }
    end
  end
  local components
  if #args.header_param > 0 or #args.body_param > 0 then
    components = { header = args.header_param, body = args.body_param }
  end
  return {
    agent_id = args.agent_id, namespace = args.namespace, template = args.template, locale = args.locale,
    to = args.to, status_url = args.status_url, components = components,
    session_parameters = session_parameters,
  }
end

--- Run `convai trigger whatsapp` with parsed arguments.
-- @tparam table args from argparse
-- @tparam file out where the result goes
-- @treturn integer exit status: `EXIT.OK`, `EXIT.FAILED` (API or network), `EXIT.USAGE` (nothing sent)
function _M.run(args, out)
  local opts, err = common.client_options(args)
  if not opts then return common.usage_error(err) end
  local fields
  fields, err = whatsapp_fields(args)
  if not fields then return common.usage_error(err) end
  -- Check the fields before the environment, so a bad flag is reported as such.
  local _, ferr = vonage.whatsapp_body(fields)
  if ferr then return common.fail(ferr) end
  opts.limits, err = common.limits(args)
  if err then return common.fail(err) end
  local result, code = common.with_client(vonage, opts, function(client)
    return client:trigger_whatsapp(fields)
  end)
  if not result then return code end
  if args.format == "json" then
    common.print_json(out, common.json_ready(result))
  else
    local body = result.body
    if type(body) == "table" then body = core.json_encode(common.json_ready(body)) end
    common.print_table(out, { { "status", result.status }, { "body", body } })
  end
  return EXIT.OK
end

return _M
