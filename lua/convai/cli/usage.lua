--- convai.cli.usage: the `convai usage voicebot` and `convai usage avaamo` commands.
--
-- `usage voicebot` prints WhatsApp agents' business-initiated conversations at voicebot.studio
-- (`convai.voicebot`); `usage avaamo` prints Avaamo agents' statistics over a date range
-- (`convai.avaamo`), as a table (one row per agent, and per interval for Avaamo, times in the requested
-- zone), JSON or CSV, and for one Avaamo agent as a chart (`--chart` in the terminal, `--svg FILE`;
-- `convai.chart`). Several `--agent-id` are queried concurrently through `client:batch`.
--
-- @module convai.cli.usage
local cjson = require "cjson.safe"
local core = require "convai.core"
local avaamo = require "convai.avaamo"
local chart = require "convai.chart"
local dates = require "convai.dates"
local voicebot = require "convai.voicebot"
local http = require "convai.http"
local common = require "convai.cli.common"

local format, floor, unpack = string.format, math.floor, table.unpack
local type, tostring, tonumber, ipairs, pairs = type, tostring, tonumber, ipairs, pairs

local EXIT = common.EXIT

-- Stands for "no --agent-id" in the list of agents queried (the vendor's first WhatsApp agent).
local NONE = {}

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

-- The subcommands' definitions, one function each (the options of one subcommand stay together).
local define = {}

function define.voicebot(usage)
  local vb = usage:command("voicebot",
    "WhatsApp agent usage at voicebot.studio: business-initiated conversations in the rolling 24 h window.")
  vb:option("--agent-id", "WhatsApp agent ID (a positive integer); repeat it to query several agents at "
    .. "once; default: the first WhatsApp agent."):count("*")
  common.add_output_options(vb)
end

function define.avaamo(usage)
  local av = usage:command("avaamo", "Avaamo agent usage statistics over a date range.")
  av:option("--agent-id", "Avaamo agent ID (a positive integer); repeat it to query several agents at once.")
    :args(1):count("1+")
  define_dates(av)
  av:flag("--no-split", "Send a range over 7 days as one request (by default it is queried in windows of "
    .. "at most 7 days, as Avaamo recommends, and merged).")
  define_chart(av)
  common.add_output_options(av)
end

--- Add the `usage` command and its subcommands to the `convai` parser.
-- @param parser the `convai` argparse parser
function _M.define(parser)
  local usage = common.add_group(parser, "usage", "Query usage.")
  define.voicebot(usage)
  define.avaamo(usage)
end

local STAT_COLUMNS = {
  { "sessions", "session_count" }, { "messages", "messages_count" },
  { "unhandled", "unhandled_messages_count" }, { "ambiguous", "ambiguous_messages_count" },
  { "successful", "successful_responses_count" }, { "interventions", "interventions_count" },
  { "success_rate_count", "success_rate_count" }, { "success_rate", "success_rate" },
}

local function stats_row(id, label, s, offset)
  local row = { id, label, dates.local_time(s.start_time, offset), dates.local_time(s.end_time, offset) }
  for _, col in ipairs(STAT_COLUMNS) do
    local v = s[col[2]]
    if col[2] == "success_rate" then v = v and format("%.2f", v) or "-" end
    row[#row + 1] = v
  end
  return row
end

-- The agent IDs of `--agent-id` (all digits, as integers), or nil and the message naming the first bad
-- one as typed (in the client's words; `where` says where the ID is found). Checked before any is
-- queried, so that a bad one means nothing is sent.
local function agent_ids(list, where)
  local ids = {}
  for i, text in ipairs(list) do
    ids[i] = common.agent_id(text)
    if not ids[i] or ids[i] < 1 then
      return nil, format("agent_id must be a positive integer%s, got %s", where or "", http.quote(text))
    end
  end
  return ids
end

-- Query every agent of `ids` concurrently (`client:batch`), `call(id)` giving each call `{"method",
-- args...}`; then `print_values({{id =, value =}, ...})` with the answers. Returns the exit status after
-- printing every failure on stderr (`convai: KIND: agent ID: ...`); exit 2 (one message) when every call
-- was refused before sending.
local function query_agents(vendor, opts, ids, call, print_values)
  local calls = {}
  for i, id in ipairs(ids) do calls[i] = call(id) end
  local explain
  local results, code = common.with_client(vendor, opts, function(client, hint)
    explain = hint
    return client:batch(calls)
  end)
  if not results then return code end
  local values, failures, refused = {}, {}, 0
  for i, r in ipairs(results) do
    if r.err then
      failures[#failures + 1] = { id = ids[i], err = explain(r.err) }
      if r.err.kind == "invalid_argument" then refused = refused + 1 end
    else
      values[#values + 1] = { id = ids[i], value = r.value }
    end
  end
  -- Refused before sending, all of them: the same bad option (a date), said once.
  if refused == #ids then return common.fail(failures[1].err) end
  if #values > 0 then print_values(values) end
  if #failures == 0 then return EXIT.OK end
  if #ids == 1 then return common.fail(failures[1].err) end
  for _, f in ipairs(failures) do
    local e = f.err
    common.say { kind = e.kind, status = e.status,
      message = format("agent %s: %s", tostring(f.id), tostring(e.message)) }
  end
  return EXIT.FAILED
end

-- The JSON of a query: one object for one agent, an array of them for several.
local function json_value(objects)
  if #objects == 1 then return objects[1] end
  return objects
end

local VOICEBOT_COLUMNS = { "current_usage", "current_limit", "remaining", "limit_exhausted" }

local run = {}

function run.voicebot(args, out, opts)
  local ids, err = agent_ids(args.agent_id)
  if not ids then return common.usage_error(err) end
  if #ids == 0 then ids = { NONE } end
  return query_agents(voicebot, opts, ids, function(id)
    return { "whatsapp_usage", id ~= NONE and id or nil }
  end, function(values)
    local rows, objects = { { "agent_id", unpack(VOICEBOT_COLUMNS) } }, {}
    for _, v in ipairs(values) do
      local row = { v.id ~= NONE and v.id or "(first)" }
      for _, col in ipairs(VOICEBOT_COLUMNS) do row[#row + 1] = tostring(v.value[col]) end
      rows[#rows + 1] = row
      local object = {}
      for k, x in pairs(v.value) do object[k] = x end
      if v.id ~= NONE then object.agent_id = v.id end
      objects[#objects + 1] = object
    end
    common.print_result(out, args.format, rows, json_value(objects))
  end)
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
  if (args.chart or args.svg) and #args.agent_id > 1 then
    return nil, "--chart and --svg draw one agent: give one --agent-id"
  end
  if args.chart and args.format ~= "table" then
    return nil, "--chart draws in the terminal instead of the table; it cannot be combined with --format "
      .. args.format
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
    title = format("Avaamo agent %s, %s to %s (%s)", args.agent_id[1], r.from_date, r.to_date,
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
  local ids, err = agent_ids(args.agent_id, " (from the agent URL)")
  if not ids then return common.usage_error(err) end
  local view
  view, err = avaamo_view(args)
  if not view then
    if type(err) == "table" then return common.fail(err) end
    return common.usage_error(err)
  end
  local r = view.range
  local drawn = EXIT.OK
  local code = query_agents(avaamo, opts, ids, function(id)
    return { "usage", { agent_id = id, from_date = r.from_date, to_date = r.to_date,
      utc_offset = r.utc_offset, split = not args.no_split } }
  end, function(values)
    if view.chart then
      drawn = draw(args, view, values[1].value, out)
      return
    end
    local zone = dates.zone_name(r.utc_offset)
    local header = { "agent_id", "interval", "start (" .. zone .. ")", "end (" .. zone .. ")" }
    for _, col in ipairs(STAT_COLUMNS) do header[#header + 1] = col[1] end
    local rows, objects = { header }, {}
    for _, v in ipairs(values) do
      local result = v.value
      rows[#rows + 1] = stats_row(v.id, "aggregate", result.aggregate_stats, r.utc_offset)
      rows[#rows + 1] = stats_row(v.id, "previous", result.previous_interval_stats, r.utc_offset)
      for i, s in ipairs(result.stats) do
        rows[#rows + 1] = stats_row(v.id, "slice " .. i, s, r.utc_offset)
      end
      local value = common.json_ready(result)
      for _, s in ipairs { value.aggregate_stats, value.previous_interval_stats, unpack(value.stats) } do
        if s.success_rate == nil then s.success_rate = cjson.null end
      end
      value.agent_id = v.id
      objects[#objects + 1] = value
    end
    common.print_result(out, args.format, rows, json_value(objects))
    if view.svg then drawn = draw(args, view, values[1].value, out) end
  end)
  if view.svg and code ~= EXIT.OK and drawn == EXIT.OK then
    view.svg:close()
    os.remove(view.svg_path)
  end
  if code ~= EXIT.OK then return code end
  return drawn
end

--- Run `convai usage voicebot|avaamo` with parsed arguments. Several `--agent-id` are queried
-- concurrently (`client:batch`), one row per agent (the agent ID in the first column); JSON is one
-- object for one agent (with `agent_id` when it was given) and an array of them for several.
-- @tparam table args from argparse (`args.target` is `"voicebot"` or `"avaamo"`)
-- @tparam file out where the result goes
-- @treturn integer exit status: `EXIT.OK`, `EXIT.FAILED` (API or network, for any agent), `EXIT.USAGE`
--   (nothing sent)
function _M.run(args, out)
  local opts, err = common.client_options(args)
  if not opts then return common.usage_error(err) end
  return run[args.target](args, out, opts)
end

return _M
