--- convai.cli.usage: the `convai usage voicebot` and `convai usage avaamo` commands.
--
-- `usage voicebot` prints a WhatsApp agent's business-initiated conversations at voicebot.studio
-- (`convai.voicebot`); `usage avaamo` prints Avaamo agent statistics over a date range
-- (`convai.avaamo`), as a table (one row per interval) or JSON.
--
-- @module convai.cli.usage
local cjson = require "cjson.safe"
local avaamo = require "convai.avaamo"
local voicebot = require "convai.voicebot"
local common = require "convai.cli.common"

local format, floor, unpack = string.format, math.floor, table.unpack
local tostring, ipairs = tostring, ipairs

local EXIT = common.EXIT

local _M = {}

--- Add the `usage` command and its subcommands to the `convai` parser.
-- @param parser the `convai` argparse parser
function _M.define(parser)
  local usage = common.add_group(parser, "usage", "Query usage.")
  local vb = usage:command("voicebot",
    "WhatsApp agent usage at voicebot.studio: business-initiated conversations in the rolling 24 h window.")
  vb:option("--agent-id", "WhatsApp agent ID (a positive integer); default: the first WhatsApp agent.")
  common.add_output_options(vb)
  local av = usage:command("avaamo", "Avaamo agent usage statistics over a date range.")
  av:option("--agent-id", "Avaamo agent ID (a positive integer)."):args(1):count(1)
  av:option("--from", "First day, dd/mm/yyyy (default: three days before --to).")
  av:option("--to", "Last day, dd/mm/yyyy (default: today in the --utc-offset zone).")
  av:option("--utc-offset", "Zone of the dates, in seconds east of UTC (e.g. -25200 for UTC-7).")
    :default "0"
  av:flag("--no-split", "Send a range over 7 days as one request (by default it is queried in windows of "
    .. "at most 7 days, as Avaamo recommends, and merged).")
  common.add_output_options(av)
end

local function utc(t)
  return os.date("!%Y-%m-%d %H:%M:%S", floor(t))
end

local STAT_COLUMNS = {
  { "sessions", "session_count" }, { "messages", "messages_count" },
  { "unhandled", "unhandled_messages_count" }, { "ambiguous", "ambiguous_messages_count" },
  { "successful", "successful_responses_count" }, { "interventions", "interventions_count" },
  { "success_rate_count", "success_rate_count" }, { "success_rate", "success_rate" },
}

local function stats_row(label, s)
  local row = { label, utc(s.start_time), utc(s.end_time) }
  for _, col in ipairs(STAT_COLUMNS) do
    local v = s[col[2]]
    if col[2] == "success_rate" then v = v and format("%.2f", v) or "-" end
    row[#row + 1] = v
  end
  return row
end

local run = {}

function run.voicebot(args, out, opts)
  -- Digits are an agent ID; anything else goes to the client as it is, which refuses it.
  local agent_id = args.agent_id
  if agent_id ~= nil then agent_id = common.agent_id(agent_id) or agent_id end
  local usage, code = common.with_client(voicebot, opts, function(client)
    return client:whatsapp_usage(agent_id)
  end)
  if not usage then return code end
  if args.format == "json" then
    common.print_json(out, usage)
  else
    common.print_table(out, {
      { "current_usage", usage.current_usage },
      { "current_limit", usage.current_limit },
      { "remaining", usage.remaining },
      { "limit_exhausted", tostring(usage.limit_exhausted) },
    })
  end
  return EXIT.OK
end

function run.avaamo(args, out, opts)
  local result, code = common.with_client(avaamo, opts, function(client)
    return client:usage {
      agent_id = args.agent_id, from_date = args.from, to_date = args.to, utc_offset = args.utc_offset,
      split = not args.no_split,
    }
  end)
  if not result then return code end
  if args.format == "json" then
    local value = common.json_ready(result)
    for _, s in ipairs { value.aggregate_stats, value.previous_interval_stats, unpack(value.stats) } do
      if s.success_rate == nil then s.success_rate = cjson.null end
    end
    common.print_json(out, value)
  else
    local header = { "interval", "start (UTC)", "end (UTC)" }
    for _, col in ipairs(STAT_COLUMNS) do header[#header + 1] = col[1] end
    local rows = { header, stats_row("aggregate", result.aggregate_stats),
      stats_row("previous", result.previous_interval_stats) }
    for i, s in ipairs(result.stats) do rows[#rows + 1] = stats_row("slice " .. i, s) end
    common.print_table(out, rows)
  end
  return EXIT.OK
end

--- Run `convai usage voicebot|avaamo` with parsed arguments.
-- @tparam table args from argparse (`args.target` is `"voicebot"` or `"avaamo"`)
-- @tparam file out where the result goes
-- @treturn integer exit status: `EXIT.OK`, `EXIT.FAILED` (API or network), `EXIT.USAGE` (nothing sent)
function _M.run(args, out)
  local opts, err = common.client_options(args)
  if not opts then return common.usage_error(err) end
  return run[args.target](args, out, opts)
end

return _M
