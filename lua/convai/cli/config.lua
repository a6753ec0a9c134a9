--- convai.cli.config: the `convai config show` command.
--
-- Prints the effective settings (`convai.config.effective`): each variable, its value (a credential only
-- as `<redacted>`), and where it came from: the environment, the profile (`--profile NAME` or
-- `CONVAI_PROFILE`, read from `$XDG_CONFIG_HOME/convai/config.json`), a variable the profile names, or
-- nowhere (unset).
--
-- @module convai.cli.config
local config = require "convai.config"
local common = require "convai.cli.common"

local ipairs = ipairs

local EXIT = common.EXIT

local _M = {}

--- Add the `config` command and its `show` subcommand to the `convai` parser.
-- @param parser the `convai` argparse parser
function _M.define(parser)
  local cmd = common.add_group(parser, "config", "Show the configuration convai would use.")
  local show = cmd:command("show", "Print the effective settings, credentials redacted, and where each "
    .. "value comes from (environment, profile, or unset).")
  show:option("--format", "Output format: table or json."):choices { "table", "json" }:default "table"
end

-- A setting's value as printed: a credential never, only whether it is set.
local function shown(s)
  if not s.set then return "-" end
  if s.credential then return "<redacted>" end
  return s.value
end

--- Run `convai config show` with parsed arguments (the profile is already selected: `convai.cli`).
-- @tparam table args from argparse
-- @tparam file out where the settings go
-- @treturn integer exit status: `EXIT.OK`, or `EXIT.USAGE` when the profile cannot be used
function _M.run(args, out)
  local settings, err = config.effective()
  if not settings then return common.fail(err) end
  if args.format == "json" then
    local list = {}
    for i, s in ipairs(settings) do
      list[i] = { variable = s.env, profile_field = s.field, value = shown(s), source = s.origin or "unset" }
    end
    common.print_json(out, common.json_ready { settings = list })
    return EXIT.OK
  end
  local rows = { { "variable", "value", "source" } }
  for _, s in ipairs(settings) do rows[#rows + 1] = { s.env, shown(s), s.origin or "unset" } end
  common.print_table(out, rows)
  return EXIT.OK
end

return _M
