--- convai.cli.usage: the `convai usage voicebot` and `convai usage avaamo` commands.
--
-- `usage voicebot` prints a WhatsApp agent's business-initiated conversations at voicebot.studio
-- (`convai.voicebot`); `usage avaamo` prints Avaamo agent statistics over a date range
-- (`convai.avaamo`), as a table (one row per interval, times in the requested zone) or JSON, and as a
-- chart (`--chart` in the terminal, `--svg FILE`; `convai.chart`).
--
-- @module convai.cli.usage
local cjson = require "cjson.safe"
local core = require "convai.core"
local avaamo = require "convai.avaamo"
local chart = require "convai.chart"
local dates = require "convai.dates"
local voicebot = require "convai.voicebot"
local common = require "convai.cli.common"

local format, floor, unpack = string.format, math.floor, table.unpack
local type, tostring, tonumber, ipairs = type, tostring, tonumber, ipairs

local EXIT = common.EXIT

local _M = {}

-- The date options of `usage avaamo` (convai.dates).
local function define_dates(av)
  av:option("--from", "First day, yyyy-mm-dd or dd/mm/yyyy (default: three days before --to).")
  av:option("--to", "Last day, yyyy-mm-dd or dd/mm/yyyy (default: today in the --utc-offset zone).")
  av:option("--last", "The last days, weeks or calendar months ending on --to (today by default): 7d, 4w, "
    .. "3m. Not with --from.")
  av:option("--utc-offset", "Zone of the dates and of the times shown: +HH:MM, -HH:MM or seconds east of "
    .. "UTC (e.g. +05:30, -07:00, -25200).")
    :default "0"
end

-- The chart options of `usage avaamo` (convai.chart).
local function define_chart(av)
  av:flag("--chart", "Draw the slices in the terminal instead of the table: messages per slice as bars, "
    .. "and the success rate (plain characters when stdout is not a terminal or NO_COLOR is set).")
  av:option("--svg", "Also write the chart as a standalone SVG file.")
end

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
  define_dates(av)
  av:flag("--no-split", "Send a range over 7 days as one request (by default it is queried in windows of "
    .. "at most 7 days, as Avaamo recommends, and merged).")
  define_chart(av)
  common.add_output_options(av)
end

local STAT_COLUMNS = {
  { "sessions", "session_count" }, { "messages", "messages_count" },
  { "unhandled", "unhandled_messages_count" }, { "ambiguous", "ambiguous_messages_count" },
  { "successful", "successful_responses_count" }, { "interventions", "interventions_count" },
  { "success_rate_count", "success_rate_count" }, { "success_rate", "success_rate" },
}

local function stats_row(label, s, offset)
  local row = { label, dates.local_time(s.start_time, offset), dates.local_time(s.end_time, offset) }
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

-- The date range and the drawing options of `usage avaamo`, checked before anything is sent:
-- `{range = avaamo.range's result, chart = bool, svg = open file or nil, svg_path}`, or nil and the error.
local function avaamo_view(args)
  if args.last and args.from then
    return nil, "--last counts back from --to (today by default): give --last or --from, not both"
  end
  local range, err = avaamo.range { from_date = args.from, to_date = args.to, last = args.last,
    utc_offset = args.utc_offset }
  if not range then return nil, err end
  if args.chart and args.format == "json" then
    return nil, "--chart draws in the terminal instead of the table; it cannot be combined with --format json"
  end
  local svg
  if args.svg then
    -- Opened now, so that a path that cannot be written is refused before anything is sent.
    svg, err = io.open(args.svg, "w")
    if not svg then return nil, "--svg: cannot write " .. err end
  end
  return { range = range, chart = args.chart, svg = svg, svg_path = args.svg }
end

-- The chart's data (convai.chart) of a usage result.
local function chart_data(args, view, result)
  local slices, boundaries = {}, {}
  for i, s in ipairs(result.stats) do
    slices[i] = { start_time = s.start_time, end_time = s.end_time, messages = s.messages_count,
      success_rate = s.success_rate }
  end
  for k = 2, #(result.windows or {}) do boundaries[#boundaries + 1] = (k - 1) * avaamo.SLICES + 1 end
  local r, agg, prev = view.range, result.aggregate_stats, result.previous_interval_stats
  local function rate(s) return s.success_rate and format("%.2f%%", s.success_rate) or "-" end
  return {
    title = format("Avaamo agent %s, %s to %s (%s)", args.agent_id, r.from_date, r.to_date,
      dates.zone_name(r.utc_offset)),
    totals = {
      format("aggregate: %d messages, %d sessions, success rate %s", agg.messages_count, agg.session_count,
        rate(agg)),
      format("previous interval: %d messages, %d sessions, success rate %s", prev.messages_count,
        prev.session_count, rate(prev)),
    },
    offset = r.utc_offset, slices = slices, boundaries = boundaries,
  }
end

-- The terminal's width for --chart: COLUMNS, else the terminal's, else 80.
local function columns()
  local n = tonumber(os.getenv("COLUMNS") or "")
  if n and n >= 1 then return floor(n) end
  return core.tty_columns(1) or 80
end

-- Write the chart(s) a view asks for; the exit status.
local function draw(args, view, result, out)
  local data = chart_data(args, view, result)
  if view.svg then
    local ok, err = view.svg:write(chart.svg(data))
    view.svg:close()
    if not ok then
      return common.fail("cannot write " .. view.svg_path .. ": " .. tostring(err), EXIT.FAILED)
    end
  end
  if view.chart then
    local color = core.isatty(1) and (os.getenv("NO_COLOR") or "") == ""
    out:write(chart.text(data, { width = columns(), color = color }))
  end
  return EXIT.OK
end

function run.avaamo(args, out, opts)
  local view, err = avaamo_view(args)
  if not view then
    if type(err) == "table" then return common.fail(err) end
    return common.usage_error(err)
  end
  local r = view.range
  local result, code = common.with_client(avaamo, opts, function(client)
    return client:usage {
      agent_id = args.agent_id, from_date = r.from_date, to_date = r.to_date, utc_offset = r.utc_offset,
      split = not args.no_split,
    }
  end)
  if not result then
    if view.svg then view.svg:close(); os.remove(view.svg_path) end
    return code
  end
  if view.chart then return draw(args, view, result, out) end
  if args.format == "json" then
    local value = common.json_ready(result)
    for _, s in ipairs { value.aggregate_stats, value.previous_interval_stats, unpack(value.stats) } do
      if s.success_rate == nil then s.success_rate = cjson.null end
    end
    common.print_json(out, value)
  else
    local zone = dates.zone_name(r.utc_offset)
    local header = { "interval", "start (" .. zone .. ")", "end (" .. zone .. ")" }
    for _, col in ipairs(STAT_COLUMNS) do header[#header + 1] = col[1] end
    local rows = { header, stats_row("aggregate", result.aggregate_stats, r.utc_offset),
      stats_row("previous", result.previous_interval_stats, r.utc_offset) }
    for i, s in ipairs(result.stats) do rows[#rows + 1] = stats_row("slice " .. i, s, r.utc_offset) end
    common.print_table(out, rows)
  end
  return draw(args, view, result, out)
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
