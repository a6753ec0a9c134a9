--- convai.cli.sandbox: the `convai sandbox start|stop|status|env` commands.
--
-- They run the local emulator of the three vendor APIs through its launcher, the module
-- `convai.sandbox`, which is installed apart from the library (`luarocks install convai-sandbox`, or
-- `./scripts/quickstart` from a clone). The CLI works without it: these commands then say that the
-- sandbox is not installed and how to install it (exit 2).
--
-- @module convai.cli.sandbox
local http = require "convai.http"
local common = require "convai.cli.common"
local system = require "convai.launch.system"

local format, floor = string.format, math.floor
local tostring, tonumber, ipairs, pcall = tostring, tonumber, ipairs, pcall

local EXIT = common.EXIT

local _M = {}

--- What the sandbox commands say when the launcher `convai.sandbox` is not installed.
_M.NOT_INSTALLED = "the sandbox is not installed (no Lua module convai.sandbox); install it with "
  .. "'luarocks install convai-sandbox', or run ./scripts/quickstart from a clone of convai"

--- Add the `sandbox` command and its subcommands to the `convai` parser.
-- @param parser the `convai` argparse parser
function _M.define(parser)
  local sandbox = common.add_group(parser, "sandbox",
    "Run the local emulator of the three APIs (nginx on 127.0.0.1).")
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
  local env = sandbox:command("env", "Print the export lines of the running sandbox (eval \"$(convai "
    .. "sandbox env)\"); exit 3 when none runs.")
  env:option("--dir", "State directory.")
end

-- Print `convai: sandbox: ERR`; returns the exit status `code`. A port in use is said in one line
-- that suggests `--port 0`, instead of nginx's repeated `[emerg]` lines.
local function sandbox_error(err, code)
  local port = tostring(err):match("^nginx failed to start on port (%d+): .*Address already in use")
  if port then
    err = format("port %s is in use (another program, or a sandbox started with another --dir, listens "
      .. "there); choose another --port, or --port 0 for any free port", port)
  end
  return common.fail(err, code, "sandbox")
end

local shell_quote = system.quote

-- Print the comment lines and export lines of a running sandbox (`info` from `start` or `status`).
local function print_env(out, sandbox, info, dir_arg)
  out:write(format("# convai sandbox running at %s (pid %s, dir %s)\n", info.url, tostring(info.pid),
    tostring(info.dir)))
  if info.tls_url then
    out:write(format("# HTTPS at %s, certificate signed by the CA in %s; admin API at %s/_sandbox/\n",
      info.tls_url, tostring(info.cafile), info.url))
  end
  out:write("# stop it with: convai sandbox stop", dir_arg and (" --dir " .. shell_quote(dir_arg)) or "",
    "\n")
  for _, kv in ipairs(sandbox.env(info)) do
    out:write(format("export %s=%s\n", kv[1], shell_quote(kv[2])))
  end
end

-- The launcher, or nil and the exit status after saying that it is not installed.
local function launcher()
  local ok, sandbox = pcall(require, "convai.sandbox") -- optional: the sandbox is its own rock
  if ok then return sandbox end
  if not tostring(sandbox):find("^module 'convai%.sandbox' not found") then
    error(sandbox, 0) -- installed but broken: show why
  end
  common.say(_M.NOT_INSTALLED, "sandbox") -- not a usage error: no --help hint
  return nil, EXIT.USAGE
end

-- The ports of `sandbox start`: `{port = n, tls_port = ?n}`, or nil and the message.
local function ports(args)
  local port = tonumber(args.port)
  if not port or port % 1 ~= 0 or port < 0 or port > 65535 then
    return nil, format("--port must be an integer from 1 to 65535 (0: any free port), got %s",
      http.quote(args.port))
  end
  local tls_port
  if args.tls_port ~= nil then
    tls_port = tonumber(args.tls_port)
    if not tls_port or tls_port % 1 ~= 0 or tls_port < 1 or tls_port > 65535 or tls_port == port then
      return nil, format("--tls-port must be an integer from 1 to 65535 other than --port, got %s",
        http.quote(args.tls_port))
    end
    if not args.tls then return nil, "--tls-port needs --tls" end
  elseif args.tls and port == 65535 then
    return nil, "--port 65535 leaves no port after it for HTTPS; give --tls-port"
  end
  return { port = floor(port), tls_port = tls_port and floor(tls_port) }
end

local run = {}

function run.start(args, out)
  local p, perr = ports(args)
  if not p then return common.usage_error(perr) end
  local sandbox, code = launcher()
  if not sandbox then return code end
  local dir, dir_name = args.dir, "--dir"
  if dir == nil and (os.getenv("CONVAI_SANDBOX_DIR") or "") ~= "" then
    dir, dir_name = os.getenv("CONVAI_SANDBOX_DIR"), "CONVAI_SANDBOX_DIR"
  end
  if dir ~= nil then
    local _, derr = sandbox.check_path(dir, dir_name)
    if derr then return common.usage_error(derr) end
  end
  local info, err, current = sandbox.start { port = p.port, dir = args.dir, tls = args.tls or nil,
    tls_port = p.tls_port }
  if not info and current and current.running then
    -- Already running in this directory: its settings, so that eval "$(convai sandbox start)" works.
    out:write("# already running: these are its settings\n")
    print_env(out, sandbox, current, args.dir)
    return EXIT.OK
  end
  if not info then return sandbox_error(err, EXIT.FAILED) end
  print_env(out, sandbox, info, args.dir)
  return EXIT.OK
end

function run.stop(args, out)
  local sandbox, code = launcher()
  if not sandbox then return code end
  return common.server_stopped(out, "sandbox", sandbox.stop { dir = args.dir })
end

function run.status(args, out)
  local sandbox, code = launcher()
  if not sandbox then return code end
  local st = sandbox.status { dir = args.dir }
  return common.server_status(out, st.running and format("running at %s (pid %s)%s", st.url, tostring(st.pid),
    st.tls_url and format(", HTTPS at %s (CA %s)", st.tls_url, tostring(st.cafile)) or "") or nil)
end

function run.env(args, out)
  local sandbox, code = launcher()
  if not sandbox then return code end
  local st = sandbox.status { dir = args.dir }
  if not st.running then
    return common.fail("no sandbox is running" .. (args.dir and " in " .. args.dir or "")
      .. "; start one with: eval \"$(convai sandbox start)\"", EXIT.NOT_RUNNING, "sandbox")
  end
  print_env(out, sandbox, st, args.dir)
  return EXIT.OK
end

--- Run `convai sandbox start|stop|status|env` with parsed arguments. `start` while a sandbox runs in
-- the same directory prints that one's export lines (exit 0), so `eval "$(convai sandbox start)"` works
-- either way; `env` prints them for the running one.
-- @tparam table args from argparse (`args.target` is `"start"`, `"stop"`, `"status"` or `"env"`)
-- @tparam file out where the export lines or the status go
-- @treturn integer exit status: `EXIT.OK`; `EXIT.FAILED` the sandbox could not start or stop;
--   `EXIT.USAGE` invalid arguments, or the sandbox is not installed; `EXIT.NOT_RUNNING` (status, env)
function _M.run(args, out)
  return run[args.target](args, out)
end

return _M
