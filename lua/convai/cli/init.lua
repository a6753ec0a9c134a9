--- convai.cli: the `convai` command line.
--
-- Commands: `usage voicebot`, `usage avaamo`, `trigger whatsapp|sms|call`, `send-template`,
-- `campaign run|report|reconcile`, `sandbox start|stop|status|env`, `receive start|stop|status`,
-- `config show`, `completion bash|zsh|fish`; `convai --version`. Credentials come only from the
-- environment or a profile (`--profile NAME`, `CONVAI_PROFILE`; `convai.config`), never from
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
local send_template = require "convai.cli.send_template"
local completion = require "convai.cli.completion"
local core = require "convai.core"

local tostring, ipairs, format, concat = tostring, ipairs, string.format, table.concat

local _M = {}

--- The verbose printer of option `-v` (see `convai.cli.common.verbose_trace`).
-- @function verbose_trace
-- @tparam file out e.g. `io.stderr`
-- @treturn function a `trace` function for the clients
_M.verbose_trace = common.verbose_trace

-- The command groups, in the order `convai --help` lists them; `args.command` names one.
local COMMANDS = { usage, trigger, send_template, campaign, sandbox, receive, config_cmd, completion }
local BY_NAME = { usage = usage, trigger = trigger, ["send-template"] = send_template, campaign = campaign,
  sandbox = sandbox, receive = receive, config = config_cmd, completion = completion }

-- The variable that holds the credential of each command that sends, for the message that refuses a
-- credential given as an option.
local CREDENTIAL = {
  ["convai usage voicebot"] = "CONVAI_VOICEBOT_TOKEN", ["convai send-template"] = "CONVAI_VOICEBOT_TOKEN",
  ["convai usage avaamo"] = "CONVAI_AVAAMO_TOKEN", ["convai trigger"] = "CONVAI_VONAGE_KEY",
  ["convai campaign"] = "CONVAI_VONAGE_KEY or CONVAI_VOICEBOT_TOKEN",
}

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
  parser:flag("--version", "Print the version (with -v also the libcurl and Lua versions) and exit.")
  parser:flag("-v --verbose", "With --version: the libcurl and Lua versions too.")
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

-- The commands named by the leading words of `argv` (argparse's `_commands` and `_name`: the parser
-- keeps no public list of them): the words ("usage", "avaamo") and the innermost command.
local function command_words(parser, argv)
  local words, cmd = {}, parser
  local skip = false
  for _, a in ipairs(argv) do
    local global = #words == 0 and (a == "--profile" or a:find("^%-%-profile="))
    if skip or global then -- `convai --profile NAME usage ...`: the global option and its value
      skip = a == "--profile"
      goto continue
    end
    if a:sub(1, 1) == "-" then break end
    local found
    for _, sub in ipairs(cmd._commands or {}) do
      if sub._name == a then found = sub end
    end
    if not found then break end
    words[#words + 1] = a
    cmd = found
    ::continue::
  end
  return words, cmd
end

-- The message of an argparse error, made to say how to fix it: the subcommands when one is missing;
-- for a credential given as an option, where credentials come from.
local function usage_message(msg, path, cmd)
  if msg == "a command is required" then
    local lines = { format("'%s' needs a subcommand:", path) }
    for _, sub in ipairs(cmd._commands or {}) do
      lines[#lines + 1] = format("  %-10s %s", sub._name, (sub._description or ""):match("^[^\n]*"))
    end
    return concat(lines, "\n")
  end
  local opt = msg:match("^unknown option '(%-%-?[%w-]+)")
  if opt and (opt:find("key") or opt:find("token") or opt:find("secret") or opt:find("password")
      or opt:find("auth") or opt:find("credential")) then
    local var = CREDENTIAL[path] or CREDENTIAL[path:match("^convai %S+") or ""]
    return format("%s: credentials come from the environment (or a profile), never from arguments%s", opt,
      var and ": set " .. var or "")
  end
  return msg
end

-- `convai --version [-v]`: the version line, then with -v the libcurl and Lua versions.
local function print_version(out, verbose)
  out:write("convai ", core.version, "\n")
  if verbose then
    out:write(core.curl_version, "\n", jit and jit.version or _VERSION, "\n") -- luacheck: ignore 113 (jit)
  end
  return common.EXIT.OK
end

-- Whether `argv` asks for the version: `--version`, with at most `-v` beside it.
local function asks_version(argv)
  local version, verbose = false, false
  for _, a in ipairs(argv) do
    if a == "--version" then version = true
    elseif a == "-v" or a == "--verbose" then verbose = true
    else return false end
  end
  return version, verbose
end

--- Run the command line.
-- @tparam table argv the arguments (without the program name)
-- @tparam[opt=io.stdout] file out where results go
-- @treturn integer exit status: 0 success, 1 API or network failure, 2 invalid arguments (3: the
--   sandbox is not running, 130: a campaign was interrupted)
function _M.main(argv, out)
  out = out or io.stdout
  local version, verbose = asks_version(argv)
  if version then return print_version(out, verbose) end
  local parser = build_parser()
  argv = join_negative_values(argv)
  local words, cmd = command_words(parser, argv)
  local path = concat({ "convai", table.unpack(words) }, " ")
  common.set_command(path)
  local ok, parsed = parser:pparse(argv)
  if not ok then return common.usage_error(usage_message(tostring(parsed), path, cmd)) end
  config.use { profile = parsed.profile }
  return BY_NAME[parsed.command].run(parsed, out, parser)
end

return _M
