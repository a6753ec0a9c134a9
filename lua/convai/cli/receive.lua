--- convai.cli.receive: the `convai receive start|stop|status` commands: a local receiver of Vonage AI
-- Studio status callbacks (`status_url`) that keeps them in a status store (`convai.status.server`,
-- docs/statuses.md). `start` prints `export CONVAI_STATUS_URL='http://127.0.0.1:PORT/vonage/status'`,
-- which `trigger` and `campaign run` take as their default `--status-url`.
--
-- @module convai.cli.receive
local server = require "convai.status.server"
local common = require "convai.cli.common"
local system = require "convai.launch.system"

local format, tostring = string.format, tostring

local EXIT = common.EXIT

local _M = {}

--- Add the `receive` command and its subcommands to the `convai` parser.
-- @param parser the `convai` argparse parser
function _M.define(parser)
  local receive = common.add_group(parser, "receive",
    "Receive the message statuses Vonage posts to status_url (nginx on 127.0.0.1).")
  local start = receive:command("start", "Start the receiver and print the export line of its status URL "
    .. "(eval \"$(convai receive start)\").")
  start:option("--port", "TCP port on 127.0.0.1 (0: any free port)."):default(tostring(server.DEFAULT_PORT))
  start:option("--store", "Where statuses are kept: a JSON-lines FILE (default "
    .. "$XDG_STATE_HOME/convai/statuses.jsonl) or redis://[user:password@]host[:port][/db].")
  start:option("--dir", "State directory (default $CONVAI_RECEIVER_DIR or /tmp/convai-receiver-UID).")
  local stop = receive:command("stop", "Stop the receiver.")
  stop:option("--dir", "State directory.")
  local status = receive:command("status", "Tell whether the receiver runs (exit 0) or not (exit 3).")
  status:option("--dir", "State directory.")
end

local shell_quote = system.quote

local function receive_error(err, code)
  common.say(tostring(type(err) == "table" and err.message or err), "receive")
  return code
end

local run = {}

function run.start(args, out)
  local info, err = server.start { port = args.port, store = args.store, dir = args.dir }
  if not info then
    if type(err) == "table" and err.kind == "invalid_argument" then
      return common.usage_error(err.message)
    end
    return receive_error(err, EXIT.FAILED)
  end
  out:write(format("# convai status receiver at %s (pid %s, dir %s), statuses kept in %s\n", info.url,
    tostring(info.pid), info.dir, (info.store:gsub("//[^/@]*@", "//***@"))))
  out:write("# stop it with: convai receive stop", args.dir and (" --dir " .. shell_quote(args.dir)) or "",
    "\n")
  out:write(format("export CONVAI_STATUS_URL=%s\n", shell_quote(info.status_url)))
  return EXIT.OK
end

function run.stop(args, out)
  return common.server_stopped(out, "receive", server.stop { dir = args.dir })
end

function run.status(args, out)
  local st = server.status { dir = args.dir }
  return common.server_status(out, st.running and format("running at %s (pid %s)", st.status_url,
    tostring(st.pid)) or nil)
end

--- Run `convai receive start|stop|status` with parsed arguments.
-- @tparam table args from argparse (`args.target` is `"start"`, `"stop"` or `"status"`)
-- @tparam file out where the export line or the status goes
-- @treturn integer exit status: `EXIT.OK`; `EXIT.FAILED` the receiver could not start or stop;
--   `EXIT.USAGE` invalid arguments; `EXIT.NOT_RUNNING` (status)
function _M.run(args, out)
  return run[args.target](args, out)
end

return _M
