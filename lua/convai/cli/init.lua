--- convai.cli: the `convai` command line.
--
-- Commands: `usage voicebot`, `usage avaamo`, `trigger whatsapp`, `campaign run`,
-- `sandbox start|stop|status`, `receive start|stop|status`, `config show`. Credentials come only from
-- the environment or a profile (`--profile NAME`, `CONVAI_PROFILE`; `convai.config`), never from
-- arguments. Exit status: 0 success; 1 the API or the network failed (stderr names the error kind and
-- HTTP status); 2 invalid arguments or configuration, in which case nothing was sent (see
-- `convai.cli.common.EXIT` for the others).
--
-- This module assembles the parser (Debian's lua-argparse) from the command modules and hands the
-- parsed line to the one that defined the command. Each command module (`convai.cli.usage`, `trigger`,
-- `campaign`, `sandbox`, `receive`) has `define(parser)` and `run(args, out)`; what they share is in
-- `convai.cli.common`.
--
-- @module convai.cli
local argparse = require "argparse"
local common = require "convai.cli.common"
local usage = require "convai.cli.usage"
local trigger = require "convai.cli.trigger"
local campaign = require "convai.cli.campaign"
local sandbox = require "convai.cli.sandbox"
local config_cmd = require "convai.cli.config"
local config = require "convai.config"
local receive = require "convai.cli.receive"

local tostring, ipairs = tostring, ipairs

local _M = {}

--- The verbose printer of option `-v` (see `convai.cli.common.verbose_trace`).
-- @function verbose_trace
-- @tparam file out e.g. `io.stderr`
-- @treturn function a `trace` function for the clients
_M.verbose_trace = common.verbose_trace

-- The command groups, in the order `convai --help` lists them; `args.command` names one.
local COMMANDS = { usage, trigger, campaign, sandbox, receive, config_cmd }
local BY_NAME = { usage = usage, trigger = trigger, campaign = campaign, sandbox = sandbox,
  receive = receive, config = config_cmd }

local function build_parser()
  local parser = argparse("convai", "Script conversational-AI platforms: voicebot.studio WhatsApp usage, "
    .. "Avaamo analytics, Vonage AI Studio outbound triggers.")
    :epilog("Credentials and URLs come from the environment: CONVAI_VOICEBOT_URL, CONVAI_VOICEBOT_TOKEN, "
      .. "CONVAI_AVAAMO_URL, CONVAI_AVAAMO_TOKEN, CONVAI_VONAGE_URL or CONVAI_VONAGE_REGION, "
      .. "CONVAI_VONAGE_KEY; CONVAI_CAFILE (a PEM CA bundle to trust for HTTPS)."
      .. " Or a profile: --profile NAME or CONVAI_PROFILE, read from $XDG_CONFIG_HOME/convai/config.json "
      .. "(variables that are set win; see 'convai config show')."
      .. "\nExit status: 0 success, 1 API or network failure, 2 invalid arguments.")
  parser:option("--profile", "Read URLs, credentials (or the names of the variables that hold them), "
    .. "region, rates and limits store from this profile of $XDG_CONFIG_HOME/convai/config.json "
    .. "(default: CONVAI_PROFILE). Environment variables that are set win over it.")
  parser:command_target("command")
  parser:require_command(true)
  for _, command in ipairs(COMMANDS) do command.define(parser) end
  return parser
end

-- A negative number after an option that takes one ("--utc-offset -25200") is its value, not an
-- option: join the two so that argparse sees "--utc-offset=-25200".
local function join_negative_values(argv)
  local args, i = {}, 1
  while i <= #argv do
    local a, nxt = argv[i], argv[i + 1]
    if a:match("^%-%-[%w-]+$") and not a:find("=") and nxt and nxt:match("^%-%d[%d:]*$") then
      args[#args + 1] = a .. "=" .. nxt
      i = i + 2
    else
      args[#args + 1] = a
      i = i + 1
    end
  end
  return args
end

--- Run the command line.
-- @tparam table argv the arguments (without the program name)
-- @tparam[opt=io.stdout] file out where results go
-- @treturn integer exit status: 0 success, 1 API or network failure, 2 invalid arguments (3: the
--   sandbox is not running, 130: a campaign was interrupted)
function _M.main(argv, out)
  out = out or io.stdout
  local ok, parsed = build_parser():pparse(join_negative_values(argv))
  if not ok then
    local code = common.usage_error(tostring(parsed))
    io.stderr:write("Try 'convai --help' or 'convai <command> --help'.\n")
    return code
  end
  config.use { profile = parsed.profile }
  return BY_NAME[parsed.command].run(parsed, out)
end

return _M
