--- convai.cli.common: what every `convai` command shares.
--
-- The exit statuses, the error lines on stderr (`convai: KIND: MESSAGE`, and after a usage error the
-- `Try 'convai COMMAND --help'.` hint), the `--verbose` trace printer, the table, CSV and deterministic
-- JSON output, and the option types: the checks that turn an option's text into a value (seconds,
-- agent IDs) with the message the user sees when it is wrong. The command modules (`convai.cli.usage`,
-- `trigger`, `send_template`, `campaign`, `sandbox`, `completion`) depend on this module; it depends
-- on none of them (`convai.cli.hints` adds the how-to-fix part of a client's error).
--
-- The option types run after argparse has parsed the line, not as argparse converters, so that their
-- messages are the clients' own (the same words from Lua and from the command line).
--
-- @module convai.cli.common
local core = require "convai.core"
local config = require "convai.config"
local http = require "convai.http"
local hints = require "convai.cli.hints"
local runtime = require "convai.runtime"

local format, concat, rep, find, sort = string.format, table.concat, string.rep, string.find, table.sort
local type, tostring, tonumber, ipairs, pairs, getmetatable = type, tostring, tonumber, ipairs, pairs,
  getmetatable
local huge, tointeger = math.huge, math.tointeger
local running = coroutine.running

-- Stands for the main coroutine where `coroutine.running` gives nil (LuaJIT, Lua 5.1).
local MAIN = {}

local _M = {}

--- Exit statuses of `convai`.
-- @table EXIT
-- @field OK 0: success
-- @field FAILED 1: the API or the network failed (stderr names the error kind and HTTP status)
-- @field USAGE 2: invalid arguments or configuration; nothing was sent
-- @field NOT_RUNNING 3: `convai sandbox status` found no sandbox
-- @field INTERRUPTED 130: a campaign was stopped by Ctrl-C (SIGINT)
_M.EXIT = { OK = 0, FAILED = 1, USAGE = 2, NOT_RUNNING = 3, INTERRUPTED = 130 }

local EXIT = _M.EXIT

-- The command the user ran ("convai usage avaamo"), for the `Try '... --help'` hint (`set_command`).
local command_path = "convai"

--- Name the command being run, for the hint that follows every usage error: `Try 'convai usage
-- avaamo --help'.` Called by `convai.cli.main` once it knows the command.
-- @tparam string path e.g. `"convai usage avaamo"`
function _M.set_command(path)
  command_path = path
end

--- The one line `convai` prints for an error: `convai: KIND: MESSAGE`, with ` (HTTP STATUS)` after the
-- message when a response came. Every CLI error has this shape.
-- @param err a `convai.error` value, or a message (kind `invalid_argument` unless `kind` is given)
-- @tparam[opt] string kind the kind of a message given as a string
-- @treturn string the line, without its newline
function _M.error_line(err, kind)
  if type(err) == "table" then
    local msg = tostring(err.message or "(no message)"):gsub("[\r\n]+", " ")
    local status = err.status and format(" (HTTP %s)", tostring(err.status)) or ""
    return format("convai: %s: %s%s", tostring(err.kind or "unknown"), msg, status)
  end
  return format("convai: %s: %s", kind or "invalid_argument", (tostring(err):gsub("^convai: ", "")))
end

--- The hint printed after a usage error, naming the help of the command typed.
-- For example `Try 'convai usage avaamo --help'.`
-- @treturn string the line, without its newline
function _M.hint()
  return format("Try '%s --help'.", command_path)
end

--- Print an error line on stderr (`error_line`), without the hint and without choosing an exit status:
-- for the lines about one part of a command that goes on (a recipient that failed, why a campaign
-- stopped). Every CLI error line is written by this function.
-- @param err a `convai.error` value, or a message
-- @tparam[opt] string kind the kind of a message given as a string (default `invalid_argument`)
function _M.say(err, kind)
  io.stderr:write(_M.error_line(err, kind), "\n")
end

--- Print an error on stderr (`error_line`) and choose the exit status. An `invalid_argument` error is
-- a usage error: the `hint` line follows it.
-- @param err a `convai.error` value or a message
-- @tparam[opt] integer code the exit status to return; default `EXIT.USAGE` for an error of kind
--   `invalid_argument`, else `EXIT.FAILED`
-- @tparam[opt] string kind the kind of a message given as a string (default `invalid_argument`)
-- @treturn integer the exit status
function _M.fail(err, code, kind)
  local usage = (type(err) == "table" and err.kind or kind or "invalid_argument") == "invalid_argument"
  _M.say(err, kind)
  if usage then io.stderr:write(_M.hint(), "\n") end
  if code then return code end
  return usage and EXIT.USAGE or EXIT.FAILED
end

--- Print `convai: invalid_argument: MSG` and the `hint` on stderr.
-- @tparam string msg what is wrong with the arguments
-- @treturn integer `EXIT.USAGE`
function _M.usage_error(msg)
  return _M.fail(msg, EXIT.USAGE)
end

-- The request and why its attempt failed, from a response event of the trace:
-- "GET URL in %.2f s: HTTP 503" without the pause ("%s" left for it).
local function outcome(ev)
  local why
  if ev.status then
    why = format("HTTP %d", ev.status)
  else
    local e = ev.error or {}
    why = format("%s: %s", tostring(e.kind), tostring(e.message))
  end
  return format("%s %s", tostring(ev.method), tostring(ev.url)), why
end

--- The end of `sandbox stop` / `receive stop`: a line on stdout, or the error on stderr.
-- @tparam file out
-- @tparam string what `"sandbox"` or `"receive"`, for the lines
-- @tparam boolean|nil ok what the stop returned
-- @param err its error
-- @treturn integer `EXIT.OK`, or `EXIT.FAILED` when it did not stop
function _M.server_stopped(out, what, ok, err)
  if not ok then
    _M.say(tostring(type(err) == "table" and err.message or err), what)
    return EXIT.FAILED
  end
  out:write("# convai ", what, " stopped\n")
  return EXIT.OK
end

--- The end of `sandbox status` / `receive status`: `line` when it runs (exit 0), else `not running`
-- (exit 3).
-- @tparam file out
-- @tparam string|nil line what to print when it runs; nil when it does not
-- @treturn integer `EXIT.OK` or `EXIT.NOT_RUNNING`
function _M.server_status(out, line)
  if line then
    out:write(line, "\n")
    return EXIT.OK
  end
  out:write("not running\n")
  return EXIT.NOT_RUNNING
end

--- The verbose printer (the option `-v`): a `trace` function for the clients (see `convai.http`)
-- that writes each request (`> METHOD URL`, its headers with credentials shown as `<redacted>`, the
-- body size) and each response (`< HTTP status (N ms)`, or the error when none came) to `out`; and a
-- `sleep` function for the retry policy that writes each pause before a retry and why (`* retrying GET
-- URL in 0.42 s: HTTP 503`) before it pauses. A paced Vonage send's wait for its agent's next slot
-- after a 429 (the limit store's wait, not the policy's pause) is written the same way: `* waiting
-- 1.10 s for agent A's next slot: HTTP 429`.
-- @tparam file out where to write, e.g. `io.stderr`
-- @treturn function the trace function, called with each event table
-- @treturn function the retry policy's `sleep(seconds)` (pauses with `convai.runtime.sleep`)
function _M.verbose_trace(out)
  -- Why each task's last attempt failed, by coroutine: in a batch, the pause and the failure it
  -- follows are in the same task (weak keys: a finished task's entry goes with it).
  local last = setmetatable({}, { __mode = "k" })
  local function trace(ev)
    if ev.phase == "wait" then -- a paced send's wait for its slot after a 429: like a retry pause
      local why = ev.status and format("HTTP %d", ev.status) or tostring(type(ev.error) == "table"
        and ev.error.kind)
      out:write(format("* waiting %.2f s for agent %s's next slot: %s\n", ev.seconds, tostring(ev.agent),
        why))
      out:flush()
      return
    end
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
    if ev.phase ~= "request" then last[running() or MAIN] = { outcome(ev) } end
    out:flush()
  end
  local function sleep(seconds)
    local l = last[running() or MAIN] or { "the request", "?" }
    out:write(format("* retrying %s in %.2f s: %s\n", l[1], seconds, l[2]))
    out:flush()
    runtime.sleep(seconds)
  end
  return trace, sleep
end

--- The trace function a command's clients get: the verbose printer on stderr, or none.
-- @tparam table args parsed arguments (`args.verbose`)
-- @treturn ?function the trace function
-- @treturn ?function the retry policy's `sleep` that prints each pause (see `verbose_trace`)
function _M.trace(args)
  if not args.verbose then return nil end
  return _M.verbose_trace(io.stderr)
end

--- Add a command group (`usage`, `trigger`, ...): a command that needs one of its subcommands, whose
-- name the parsed arguments get as `target`.
-- @param parser the `convai` argparse parser
-- @tparam string name
-- @tparam string description
-- @return the argparse command, to add the subcommands to
function _M.add_group(parser, name, description)
  local group = parser:command(name, description)
  group:command_target("target")
  group:require_command(true)
  return group
end

--- Add `--timeout` and `--connect-timeout` (seconds, as text; check them with `seconds` or `positive`).
-- @param cmd an argparse command
function _M.add_timeout_options(cmd)
  cmd:option("--timeout", "Time allowed for each attempt of a request (a retried request makes up to 3), "
    .. "in seconds."):default "30"
  cmd:option("--connect-timeout", "Time allowed to connect, in seconds."):default "10"
end

-- Add `--deadline` (seconds, as text; checked by `client_options`).
local function add_deadline_option(cmd)
  cmd:option("--deadline", "Time allowed for the whole call, retries and their pauses included, in "
    .. "seconds (default: no bound but the attempts' own).")
end

--- The output formats of every query command (`--format`).
_M.FORMATS = { "table", "json", "csv" }

--- Add the options of a command that makes one request and prints its result.
-- They are `--format`, `--timeout`, `--connect-timeout`, `--deadline` and `-v/--verbose` (see
-- `client_options`).
-- @param cmd an argparse command
function _M.add_output_options(cmd)
  cmd:option("--format", "Output format: table, json (one line, keys sorted by name: the same input "
    .. "gives the same bytes) or csv (RFC 4180, a header line first)."):choices(_M.FORMATS):default "table"
  _M.add_timeout_options(cmd)
  add_deadline_option(cmd)
  cmd:flag("-v --verbose", "Print each request (credentials redacted), each response and each pause "
    .. "before a retry, with why, to stderr.")
end

--- Add the option that chooses where the agents' send slots are kept to a command that sends:
-- `--limits`.
-- @param cmd an argparse command
function _M.add_limits_option(cmd)
  cmd:option("--limits", "Where agents' send slots are kept: host (every convai process of this machine; "
    .. "the default), process (this command only) or a store URL (redis://HOST:6379/0). Default: "
    .. "CONVAI_LIMITS, else host.")
end

--- The `limits` option of a client or campaign, from the flag that names the store
-- (`--limits`; nil when the flag is absent: the environment's `CONVAI_LIMITS`, else the default, applies).
-- @tparam table args parsed arguments (`args.limits`)
-- @treturn[1] table|nil `{store, setting = "--limits"}` (options of `convai.limit.new`)
-- @treturn[2] nil
-- @treturn[2] convai.error kind `invalid_argument`, naming `--limits`
function _M.limits(args)
  if args.limits == nil then return nil end
  return config.store(args.limits, "--limits")
end

-- A positive finite number from an option's text, or nil.
local function positive_number(v)
  local n = tonumber(v)
  if not n or n ~= n or n <= 0 or n == huge then return nil end
  return n
end

--- Option type: a duration in seconds, a positive finite number.
-- @tparam string v the option's text
-- @tparam string flag the option's name without `--`, for the message
-- @treturn[1] number seconds
-- @treturn[2] nil
-- @treturn[2] string the message for `usage_error`
function _M.seconds(v, flag)
  local n = positive_number(v)
  if n then return n end
  return nil, format("--%s must be a positive number of seconds (e.g. 30 or 0.5), got %s", flag,
    http.quote(v))
end

--- Option type: a positive finite number (a rate, or seconds in `campaign run`).
-- @tparam string v the option's text
-- @tparam string flag the option's name without `--`, for the message
-- @treturn[1] number
-- @treturn[2] nil
-- @treturn[2] string the message for `usage_error`
function _M.positive(v, flag)
  local n = positive_number(v)
  if n then return n end
  return nil, format("--%s must be a positive number, got %q", flag, tostring(v))
end

--- Option type: a voicebot.studio agent ID, written as decimal digits.
-- @tparam string v the option's text
-- @treturn ?integer the ID, or nil when `v` is not all digits or too large for an integer (the caller
--   then passes the text on as typed, so that the message echoes it as given, not as `1e+20`)
function _M.agent_id(v)
  return type(v) == "string" and v:match("^%d+$") and tointeger(tonumber(v)) or nil
end

--- The client options of a command defined with `add_output_options`.
-- @tparam table args parsed arguments (`timeout`, `connect_timeout`, `deadline`, `verbose`)
-- @treturn[1] table `{timeout = s, connect_timeout = s, trace = ?function, retry = ?table}` for a
--   client's `from_env`: `retry` holds the `deadline` and, with `-v`, the `sleep` that prints each pause
-- @treturn[2] nil
-- @treturn[2] string the message for `usage_error`
function _M.client_options(args)
  local timeout, err = _M.seconds(args.timeout, "timeout")
  if not timeout then return nil, err end
  local connect_timeout
  connect_timeout, err = _M.seconds(args.connect_timeout, "connect-timeout")
  if not connect_timeout then return nil, err end
  local deadline
  if args.deadline ~= nil then
    deadline, err = _M.seconds(args.deadline, "deadline")
    if not deadline then return nil, err end
  end
  local trace, sleep = _M.trace(args)
  local retry
  if deadline or sleep then retry = { deadline = deadline, sleep = sleep } end
  return { timeout = timeout, connect_timeout = connect_timeout, trace = trace, retry = retry }
end

--- Make one call with a vendor client built from the environment, then close the client. A failure
-- (no credentials, the API or the network) is printed with `fail`, with the hint of `convai.cli.hints`
-- (the variable to fix); a credential written with its `Bearer ` prefix is refused before anything is
-- sent.
-- @tparam table vendor a client module: `convai.voicebot`, `convai.avaamo` or `convai.vonage`
-- @tparam table opts client options (`client_options`)
-- @tparam function call `call(client, explain)`: `result` or `nil, err`; `explain(err)` gives an error
--   of the client with its hint (for the errors `call` prints itself, e.g. a batch's)
-- @return[1] the result
-- @treturn[2] nil
-- @treturn[2] integer the exit status
function _M.with_client(vendor, opts, call)
  local ok, err = hints.check_env(vendor)
  if not ok then return nil, _M.fail(err) end
  local client
  client, err = vendor.from_env(opts)
  if not client then return nil, _M.fail(err) end
  local base_url = client.http and client.http.base_url
  local function explain(e) return hints.explain(e, vendor, base_url) end
  local result
  result, err = call(client, explain)
  client:close()
  if not result then return nil, _M.fail(explain(err)) end
  return result
end

--- Print rows as aligned columns, two spaces apart.
-- @tparam file out
-- @tparam {{...},...} rows cells of any type (printed with `tostring`)
function _M.print_table(out, rows)
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
      cells[i] = i < #row and cell .. rep(" ", widths[i] - #cell) or cell
    end
    out:write(concat(cells, "  "), "\n")
  end
end

--- Copy a result for JSON output, with every non-empty array marked as one (`core.array`), so that
-- it encodes as a JSON array.
-- @param v any value
-- @return the copy
function _M.json_ready(v)
  if type(v) ~= "table" then return v end
  local out = {}
  for k, x in pairs(v) do out[k] = _M.json_ready(x) end
  if #v > 0 then core.array(out) end
  return out
end

-- The metatable `core.array` gives (an array that encodes as `[]` even when empty).
local ARRAY_MT = getmetatable(core.array {})

-- Append the JSON text of `v` to `buf`, object keys sorted by name (byte order).
local function encode(v, buf, depth)
  if depth > 100 then error("cannot encode output: nested too deep") end
  if type(v) ~= "table" then
    local s, err = core.json_encode(v)
    if not s then error("cannot encode output: " .. tostring(err)) end
    buf[#buf + 1] = s
    return
  end
  local n = #v
  if n > 0 or getmetatable(v) == ARRAY_MT then
    buf[#buf + 1] = "["
    for i = 1, n do
      if i > 1 then buf[#buf + 1] = "," end
      encode(v[i], buf, depth + 1)
    end
    buf[#buf + 1] = "]"
    return
  end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = tostring(k) end
  sort(keys)
  buf[#buf + 1] = "{"
  for i, k in ipairs(keys) do
    local x = v[k]
    if x == nil then x = v[tonumber(k)] end
    buf[#buf + 1] = (i > 1 and "," or "") .. core.json_encode(k) .. ":"
    encode(x, buf, depth + 1)
  end
  buf[#buf + 1] = "}"
end

--- The deterministic JSON text of a value: one line, the keys of every object sorted by name (byte
-- order), arrays in their order, numbers as `core.json_encode` writes them (integers exactly). The same
-- value gives the same bytes, so outputs can be diffed. A non-empty table with a `[1]` is an array.
-- @param value a table, string, number, boolean or `cjson.null`; raises if it cannot be encoded
-- @treturn string
function _M.json_text(value)
  local buf = {}
  encode(value, buf, 0)
  return concat(buf)
end

--- Print a value as one line of deterministic JSON (`json_text`).
-- @tparam file out
-- @param value what `json_text` takes; raises if it cannot be encoded
function _M.print_json(out, value)
  out:write(_M.json_text(value), "\n")
end

-- A CSV field (RFC 4180): quoted when it holds a comma, a quote or a line break.
local function csv_field(v)
  v = tostring(v)
  if find(v, '[,"\r\n]') then return '"' .. v:gsub('"', '""') .. '"' end
  return v
end

--- Print rows as CSV (RFC 4180, LF line ends): the first row is the header.
-- @tparam file out
-- @tparam {{...},...} rows cells of any type (printed with `tostring`)
function _M.print_csv(out, rows)
  for _, row in ipairs(rows) do
    local cells = {}
    for i, cell in ipairs(row) do cells[i] = csv_field(cell) end
    out:write(concat(cells, ","), "\n")
  end
end

--- Print a query's result in the format asked: `table` and `csv` print `rows` (the first row the
-- header), `json` prints `value` (`json_text`); the `--format` option's values.
-- @tparam file out
-- @tparam string fmt `"table"`, `"json"` or `"csv"`
-- @tparam {{...},...} rows the header and the rows
-- @param value what JSON prints
function _M.print_result(out, fmt, rows, value)
  if fmt == "json" then
    _M.print_json(out, value)
  elseif fmt == "csv" then
    _M.print_csv(out, rows)
  else
    _M.print_table(out, rows)
  end
end

--- Print a send's answer (`{status, body}`) in the format asked: a `status` and a `body` column (the
-- body as JSON text when it is JSON), or the whole answer as JSON (the `--format` option's values).
-- @tparam file out
-- @tparam string fmt `"table"`, `"json"` or `"csv"`
-- @tparam table result the answer of a send (`status`, `body`)
function _M.print_answer(out, fmt, result)
  local body = result.body
  if type(body) == "table" then body = _M.json_text(_M.json_ready(body)) end
  _M.print_result(out, fmt, { { "status", "body" }, { result.status, body } },
    _M.json_ready { status = result.status, body = result.body })
end

return _M
