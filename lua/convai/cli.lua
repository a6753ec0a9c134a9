--- convai.cli: the `convai` command line.
--
-- Commands: `usage voicebot`, `usage avaamo`, `trigger whatsapp`, `sandbox start|stop|status`.
-- Credentials come only from the environment (`convai.config`), never from arguments.
-- Exit status: 0 success; 1 the API or the network failed (stderr names the error kind and HTTP
-- status); 2 invalid arguments or configuration, in which case nothing was sent.
--
-- Argument parsing is Debian's lua-argparse.
--
-- @module convai.cli
local argparse = require "argparse"
local core = require "convai.core"
local cjson = require "cjson.safe"

local format, concat, floor = string.format, table.concat, math.floor
local type, tostring, ipairs, pairs = type, tostring, ipairs, pairs

local _M = {}

local EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

local function http_quote(v) return require("convai.http").quote(v) end

--- The `--verbose` printer: a `trace` function for the clients (see `convai.http`) that writes each
-- request (`> METHOD URL`, its headers with credentials shown as `<redacted>`, the body size) and each
-- response (`< HTTP status (N ms)`, or the error when none came) to `out`.
-- @tparam file out e.g. `io.stderr`
-- @treturn function
function _M.verbose_trace(out)
  local http = require "convai.http"
  return function(ev)
    if ev.phase == "request" then
      out:write(format("> %s %s\n", ev.method, ev.url))
      local headers = http.redact_headers(ev.headers) -- already redacted; twice is harmless
      for _, name in ipairs(http.sorted_keys(headers)) do
        out:write(format("> %s: %s\n", name, headers[name]))
      end
      if ev.body_bytes then out:write(format("> (body: %d bytes)\n", ev.body_bytes)) end
    elseif ev.status then
      out:write(format("< HTTP %d (%d ms)\n", ev.status, ev.elapsed_ms))
    else
      local e = ev.error or {}
      out:write(format("< no response: %s error: %s (%d ms)\n", tostring(e.kind), tostring(e.message),
        ev.elapsed_ms))
    end
    out:flush()
  end
end

local function add_output_options(cmd)
  cmd:option("--format", "Output format: table or json."):choices { "table", "json" }:default "table"
  cmd:option("--timeout", "Total time allowed per request, in seconds."):default "30"
  cmd:option("--connect-timeout", "Time allowed to connect, in seconds."):default "10"
  cmd:flag("-v --verbose", "Print each request (credentials redacted) and response to stderr.")
end

local function build_parser()
  local parser = argparse("convai", "Script conversational-AI platforms: voicebot.studio WhatsApp usage, "
    .. "Avaamo analytics, Vonage AI Studio outbound triggers.")
    :epilog("Credentials and URLs come from the environment: CONVAI_VOICEBOT_URL, CONVAI_VOICEBOT_TOKEN, "
      .. "CONVAI_AVAAMO_URL, CONVAI_AVAAMO_TOKEN, CONVAI_VONAGE_URL or CONVAI_VONAGE_REGION, "
      .. "CONVAI_VONAGE_KEY; CONVAI_CAFILE (a PEM CA bundle to trust for HTTPS)."
      .. "\nExit status: 0 success, 1 API or network failure, 2 invalid arguments.")
  parser:command_target("command")
  parser:require_command(true)

  local usage = parser:command("usage", "Query usage.")
  usage:command_target("target")
  usage:require_command(true)
  local vb = usage:command("voicebot",
    "WhatsApp agent usage at voicebot.studio: business-initiated conversations in the rolling 24 h window.")
  vb:option("--agent-id", "WhatsApp agent ID (a positive integer); default: the first WhatsApp agent.")
  add_output_options(vb)
  local av = usage:command("avaamo", "Avaamo agent usage statistics over a date range.")
  av:option("--agent-id", "Avaamo agent ID (a positive integer)."):args(1):count(1)
  av:option("--from", "First day, dd/mm/yyyy (default: three days before --to).")
  av:option("--to", "Last day, dd/mm/yyyy (default: today in the --utc-offset zone).")
  av:option("--utc-offset", "Zone of the dates, in seconds east of UTC (e.g. -25200 for UTC-7).")
    :default "0"
  av:flag("--no-split", "Send a range over 7 days as one request (by default it is queried in windows of "
    .. "at most 7 days, as Avaamo recommends, and merged).")
  add_output_options(av)

  local trigger = parser:command("trigger", "Trigger outbound sessions.")
  trigger:command_target("target")
  trigger:require_command(true)
  local wa = trigger:command("whatsapp",
    "Start an outbound WhatsApp virtual-agent session at Vonage AI Studio from an approved template.")
  wa:option("--agent-id", "AI Studio agent ID."):count(1)
  wa:option("--namespace", "WhatsApp template namespace."):count(1)
  wa:option("--template", "Approved WhatsApp template name."):count(1)
  wa:option("--locale", "Template language, e.g. en or en_US."):count(1)
  wa:option("--to", "Recipient phone number with country code, e.g. '+44 7700 900123'."):count(1)
  wa:option("--status-url", "URL that receives the message statuses."):count(1)
  wa:option("--header-param", "Header text parameter (repeat in order)."):count("*")
  wa:option("--body-param", "Body text parameter (repeat in order)."):count("*")
  wa:option("--session-param", "Session parameter NAME=VALUE (repeatable)."):count("*")
  add_output_options(wa)

  require("convai.cli_campaign").define(parser)

  local sandbox = parser:command("sandbox", "Run the local emulator of the three APIs (nginx on 127.0.0.1).")
  sandbox:command_target("target")
  sandbox:require_command(true)
  local start = sandbox:command("start", "Start the sandbox and print the export lines that point the "
    .. "environment at it (eval \"$(convai sandbox start)\").")
  start:option("--port", "TCP port on 127.0.0.1 (0: any free port)."):default "8787"
  start:option("--dir", "State directory (default $CONVAI_SANDBOX_DIR or /tmp/convai-sandbox-UID).")
  start:flag("--tls", "Also serve HTTPS, with a test CA made now (DIR/tls/ca.pem); the export lines then "
    .. "point at HTTPS and set CONVAI_CAFILE.")
  start:option("--tls-port", "HTTPS port with --tls (default: the port after --port).")
  local stop = sandbox:command("stop", "Stop the sandbox.")
  stop:option("--dir", "State directory.")
  local status = sandbox:command("status", "Tell whether the sandbox runs (exit 0) or not (exit 3).")
  status:option("--dir", "State directory.")
  return parser
end

local function fail(err)
  io.stderr:write("convai: ", tostring(err):gsub("^convai: ", ""), "\n")
  if type(err) == "table" and err.kind == "invalid_argument" then return EXIT_USAGE end
  return EXIT_FAILED
end

local function usage_error(msg)
  io.stderr:write("convai: invalid argument: ", msg, "\n")
  return EXIT_USAGE
end

local function number_option(args, name, key)
  local v = args[key]
  local n = tonumber(v)
  if not n or n ~= n or n <= 0 or n == math.huge then
    return nil, format("--%s must be a positive number of seconds (e.g. 30 or 0.5), got %s", name,
      http_quote(v))
  end
  return n
end

local function client_options(args)
  local timeout, err = number_option(args, "timeout", "timeout")
  if not timeout then return nil, err end
  local connect_timeout
  connect_timeout, err = number_option(args, "connect-timeout", "connect_timeout")
  if not connect_timeout then return nil, err end
  return { timeout = timeout, connect_timeout = connect_timeout,
    trace = args.verbose and _M.verbose_trace(io.stderr) or nil }
end

--- Print rows as aligned columns.
local function print_table(out, rows)
  local widths = {}
  for _, row in ipairs(rows) do
    for i, cell in ipairs(row) do
      local w = #tostring(cell)
      if not widths[i] or w > widths[i] then widths[i] = w end
    end
  end
  for _, row in ipairs(rows) do
    local cells = {}
    for i, cell in ipairs(row) do
      cell = tostring(cell)
      cells[i] = i < #row and cell .. string.rep(" ", widths[i] - #cell) or cell
    end
    out:write(concat(cells, "  "), "\n")
  end
end

--- Copy a result for JSON output: nil success_rate becomes null, arrays stay arrays.
local function json_ready(v)
  if type(v) ~= "table" then return v end
  local out = {}
  for k, x in pairs(v) do out[k] = json_ready(x) end
  if #v > 0 then core.array(out) end
  return out
end

local function print_json(out, value)
  local s, err = core.json_encode(value)
  if not s then error("cannot encode output: " .. tostring(err)) end
  out:write(s, "\n")
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

local commands = {}

function commands.voicebot(args, out)
  local opts, oerr = client_options(args)
  if not opts then return usage_error(oerr) end
  local client, err = require("convai.voicebot").from_env(opts)
  if not client then return fail(err) end
  local agent_id = args.agent_id
  if agent_id ~= nil then
    agent_id = agent_id:match("^%d+$") and tonumber(agent_id) or agent_id
  end
  local usage
  usage, err = client:whatsapp_usage(agent_id)
  client:close()
  if not usage then return fail(err) end
  if args.format == "json" then
    print_json(out, usage)
  else
    print_table(out, {
      { "current_usage", usage.current_usage },
      { "current_limit", usage.current_limit },
      { "remaining", usage.remaining },
      { "limit_exhausted", tostring(usage.limit_exhausted) },
    })
  end
  return EXIT_OK
end

function commands.avaamo(args, out)
  local opts, oerr = client_options(args)
  if not opts then return usage_error(oerr) end
  local client, err = require("convai.avaamo").from_env(opts)
  if not client then return fail(err) end
  local result
  result, err = client:usage {
    agent_id = args.agent_id, from_date = args.from, to_date = args.to, utc_offset = args.utc_offset,
    split = not args.no_split,
  }
  client:close()
  if not result then return fail(err) end
  if args.format == "json" then
    local value = json_ready(result)
    for _, s in ipairs { value.aggregate_stats, value.previous_interval_stats, table.unpack(value.stats) } do
      if s.success_rate == nil then s.success_rate = cjson.null end
    end
    print_json(out, value)
  else
    local header = { "interval", "start (UTC)", "end (UTC)" }
    for _, col in ipairs(STAT_COLUMNS) do header[#header + 1] = col[1] end
    local rows = { header, stats_row("aggregate", result.aggregate_stats),
      stats_row("previous", result.previous_interval_stats) }
    for i, s in ipairs(result.stats) do rows[#rows + 1] = stats_row("slice " .. i, s) end
    print_table(out, rows)
  end
  return EXIT_OK
end

function commands.whatsapp(args, out)
  local opts, oerr = client_options(args)
  if not opts then return usage_error(oerr) end
  local session_parameters
  if #args.session_param > 0 then
    session_parameters = {}
    for _, kv in ipairs(args.session_param) do
      local name, value = kv:match("^([^=]+)=(.*)$")
      if not name then
        return usage_error(format("--session-param must be NAME=VALUE, got %s", http_quote(kv)))
      end
      session_parameters[#session_parameters + 1] = { name = name, value = value }
    end
  end
  local components
  if #args.header_param > 0 or #args.body_param > 0 then
    components = { header = args.header_param, body = args.body_param }
  end
  local vonage = require "convai.vonage"
  local fields = {
    agent_id = args.agent_id, namespace = args.namespace, template = args.template, locale = args.locale,
    to = args.to, status_url = args.status_url, components = components,
    session_parameters = session_parameters,
  }
  -- Check the fields before the environment, so a bad flag is reported as such.
  local _, ferr = vonage.whatsapp_body(fields)
  if ferr then return fail(ferr) end
  local client, err = vonage.from_env(opts)
  if not client then return fail(err) end
  local result
  result, err = client:trigger_whatsapp(fields)
  client:close()
  if not result then return fail(err) end
  if args.format == "json" then
    print_json(out, json_ready(result))
  else
    local body = result.body
    if type(body) == "table" then body = core.json_encode(json_ready(body)) end
    print_table(out, { { "status", result.status }, { "body", body } })
  end
  return EXIT_OK
end

local function shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

function commands.run(args, out)
  return require("convai.cli_campaign").run(args, out)
end

function commands.start(args, out)
  local port = tonumber(args.port)
  if not port or port % 1 ~= 0 or port < 0 or port > 65535 then
    return usage_error(format("--port must be an integer from 1 to 65535 (0: any free port), got %s",
      http_quote(args.port)))
  end
  local tls_port
  if args.tls_port ~= nil then
    tls_port = tonumber(args.tls_port)
    if not tls_port or tls_port % 1 ~= 0 or tls_port < 1 or tls_port > 65535 or tls_port == port then
      return usage_error(format("--tls-port must be an integer from 1 to 65535 other than --port, got %s",
        http_quote(args.tls_port)))
    end
    if not args.tls then return usage_error("--tls-port needs --tls") end
  elseif args.tls and port == 65535 then
    return usage_error("--port 65535 leaves no port after it for HTTPS; give --tls-port")
  end
  local sandbox = require "convai.sandbox"
  local dir, dir_name = args.dir, "--dir"
  if dir == nil and (os.getenv("CONVAI_SANDBOX_DIR") or "") ~= "" then
    dir, dir_name = os.getenv("CONVAI_SANDBOX_DIR"), "CONVAI_SANDBOX_DIR"
  end
  if dir ~= nil then
    local _, derr = sandbox.check_path(dir, dir_name)
    if derr then return usage_error(derr) end
  end
  local info, err = sandbox.start { port = floor(port), dir = args.dir, tls = args.tls or nil,
    tls_port = tls_port and floor(tls_port) }
  if not info then
    io.stderr:write("convai: sandbox: ", tostring(err), "\n")
    return EXIT_FAILED
  end
  out:write(format("# convai sandbox running at %s (pid %s, dir %s)\n", info.url, tostring(info.pid),
    info.dir))
  if info.tls_url then
    out:write(format("# HTTPS at %s, certificate signed by the CA in %s; admin API at %s/_sandbox/\n",
      info.tls_url, tostring(info.cafile), info.url))
  end
  out:write("# stop it with: convai sandbox stop", args.dir and (" --dir " .. shell_quote(args.dir)) or "",
    "\n")
  for _, kv in ipairs(sandbox.env(info)) do
    out:write(format("export %s=%s\n", kv[1], shell_quote(kv[2])))
  end
  return EXIT_OK
end

function commands.stop(args, out)
  local ok, err = require("convai.sandbox").stop { dir = args.dir }
  if not ok then
    io.stderr:write("convai: sandbox: ", tostring(err), "\n")
    return EXIT_FAILED
  end
  out:write("# convai sandbox stopped\n")
  return EXIT_OK
end

function commands.status(args, out)
  local st = require("convai.sandbox").status { dir = args.dir }
  if st.running then
    out:write(format("running at %s (pid %s)%s\n", st.url, tostring(st.pid),
      st.tls_url and format(", HTTPS at %s (CA %s)", st.tls_url, tostring(st.cafile)) or ""))
    return EXIT_OK
  end
  out:write("not running\n")
  return 3
end

--- Run the command line.
-- @tparam table argv the arguments (without the program name)
-- @tparam[opt=io.stdout] file out where results go
-- @treturn integer exit status: 0 success, 1 API or network failure, 2 invalid arguments
function _M.main(argv, out)
  out = out or io.stdout
  local parser = build_parser()
  -- A negative number after an option that takes one ("--utc-offset -25200") is its value, not an
  -- option: join the two so that argparse sees "--utc-offset=-25200".
  local args, i = {}, 1
  while i <= #argv do
    local a, nxt = argv[i], argv[i + 1]
    if a:match("^%-%-[%w-]+$") and not a:find("=") and nxt and nxt:match("^%-%d+$") then
      args[#args + 1] = a .. "=" .. nxt
      i = i + 2
    else
      args[#args + 1] = a
      i = i + 1
    end
  end
  local ok, parsed = parser:pparse(args)
  if not ok then
    io.stderr:write("convai: invalid argument: ", tostring(parsed), "\n",
      "Try 'convai --help' or 'convai <command> --help'.\n")
    return EXIT_USAGE
  end
  local handler = commands[parsed.target]
  return handler(parsed, out)
end

return _M
