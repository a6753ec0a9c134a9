--- convai.cli.trigger: the `convai trigger whatsapp|sms|call` commands.
--
-- Each starts one outbound virtual-agent session at Vonage AI Studio (`convai.vonage`): `whatsapp` from
-- an approved template (`trigger_whatsapp`), `sms` an SMS session (`trigger_sms`), `call` a voice call
-- (`make_call`). Each is sent in a send slot of the agent (`--limits`, `CONVAI_LIMITS`; by default shared
-- by every convai process of the machine, at the agent's rate from `CONVAI_VONAGE_RATES`, else 1 per
-- second), after the same checks as the Lua method, and prints the answer's status and body.
--
-- @module convai.cli.trigger
local http = require "convai.http"
local vonage = require "convai.vonage"
local common = require "convai.cli.common"

local format = string.format
local ipairs = ipairs

local EXIT = common.EXIT

local _M = {}

-- The options every channel shares: the agent, the recipient, the status URL, session parameters.
-- `--status-url` is required unless `optional_status` (a call); `more(cmd)`, when given, adds the
-- channel's own options after `--agent-id` (the order of --help and of the "missing option" checks).
local function shared_options(cmd, status_url_help, optional_status, more)
  cmd:option("--agent-id", "AI Studio agent ID."):count(1)
  if more then more(cmd) end
  cmd:option("--to", "Recipient phone number with country code, e.g. '+44 7700 900123'."):count(1)
  local status_url = os.getenv("CONVAI_STATUS_URL") -- what `convai receive start` prints
  cmd:option("--status-url", status_url_help):count(optional_status and "?" or 1)
    :default(status_url ~= "" and status_url or nil)
  cmd:option("--session-param", "Session parameter NAME=VALUE (repeatable)."):count("*")
end

-- The subcommands: their definition, and the client method (`convai.vonage.SENDS`) each calls.
local define, METHOD = {}, { whatsapp = "trigger_whatsapp", sms = "trigger_sms", call = "make_call" }

function define.whatsapp(trigger)
  local wa = trigger:command("whatsapp",
    "Start an outbound WhatsApp virtual-agent session at Vonage AI Studio from an approved template.")
  shared_options(wa, "URL that receives the message statuses (default $CONVAI_STATUS_URL, which "
    .. "`convai receive start` prints).", false, function()
    wa:option("--namespace", "WhatsApp template namespace."):count(1)
    wa:option("--template", "Approved WhatsApp template name."):count(1)
    wa:option("--locale", "Template language, e.g. en or en_US."):count(1)
  end)
  wa:option("--header-param", "Header text parameter (repeat in order)."):count("*")
  wa:option("--body-param", "Body text parameter (repeat in order)."):count("*")
  return wa
end

function define.sms(trigger)
  local sms = trigger:command("sms", "Start an outbound SMS virtual-agent session at Vonage AI Studio.")
  shared_options(sms, "URL that receives the message statuses (default $CONVAI_STATUS_URL).")
  return sms
end

function define.call(trigger)
  local call = trigger:command("call", "Start an outbound voice virtual-agent call at Vonage AI Studio.")
  shared_options(call, "URL that receives the call statuses (optional).", true)
  return call
end

--- Add the `trigger` command and its subcommands to the `convai` parser.
-- @param parser the `convai` argparse parser
function _M.define(parser)
  local trigger = common.add_group(parser, "trigger", "Trigger outbound sessions.")
  for _, name in ipairs { "whatsapp", "sms", "call" } do
    local cmd = define[name](trigger)
    common.add_limits_option(cmd)
    common.add_output_options(cmd)
  end
end

-- The session parameters of --session-param NAME=VALUE, or nil; nil and a message for a bad one.
local function session_parameters(args)
  if #args.session_param == 0 then return nil end
  local list = {}
  for _, kv in ipairs(args.session_param) do
    local name, value = kv:match("^([^=]+)=(.*)$")
    if not name then return nil, format("--session-param must be NAME=VALUE, got %s", http.quote(kv)) end
    list[#list + 1] = { name = name, value = value }
  end
  return list
end

-- The `convai.vonage` send fields from the flags; nil and a message for a bad --session-param.
local function fields_of(args)
  local sp, err = session_parameters(args)
  if err then return nil, err end
  local fields = { agent_id = args.agent_id, to = args.to, status_url = args.status_url,
    session_parameters = sp }
  if args.target == "whatsapp" then
    fields.namespace, fields.template, fields.locale = args.namespace, args.template, args.locale
    if #args.header_param > 0 or #args.body_param > 0 then
      fields.components = { header = args.header_param, body = args.body_param }
    end
  end
  return fields
end

--- Run `convai trigger whatsapp|sms|call` with parsed arguments.
-- @tparam table args from argparse (`args.target` is `"whatsapp"`, `"sms"` or `"call"`)
-- @tparam file out where the result goes
-- @treturn integer exit status: `EXIT.OK`, `EXIT.FAILED` (API or network), `EXIT.USAGE` (nothing sent)
function _M.run(args, out)
  local opts, err = common.client_options(args)
  if not opts then return common.usage_error(err) end
  local fields
  fields, err = fields_of(args)
  if not fields then return common.usage_error(err) end
  local method = METHOD[args.target]
  -- Check the fields before the environment, so a bad flag is reported as such.
  local _, ferr = vonage.SENDS[method].body(fields)
  if ferr then return common.fail(ferr) end
  opts.limits, err = common.limits(args)
  if err then return common.fail(err) end
  local result, code = common.with_client(vonage, opts, function(client)
    return client[method](client, fields)
  end)
  if not result then return code end
  common.print_answer(out, args.format, result)
  return EXIT.OK
end

return _M
