-- Control of the local vendor-API sandbox (used by `convai sandbox start|stop|status`). Plain Lua 5.4:
-- writes an nginx.conf into a private directory (convai.sandbox.nginx, from sandbox/conf/nginx.conf.in),
-- starts Debian's nginx with its Lua module on 127.0.0.1 (the handlers are convai/sandbox/app.lua and
-- friends, run by ngx_lua), waits for GET /_sandbox/health (a convai.core session), reports status and
-- stops it again. Several sandboxes may run at once, one per directory and port. With `tls`, the same
-- server also listens with HTTPS on a second port, with a certificate signed by a CA made at start
-- (convai.sandbox.tls, the openssl command) or given by the caller. The nginx workers run as `nobody`,
-- so every sandbox module is loaded by the master in init_by_lua: the modules may live under a
-- directory only root can read. The emulator is not part of the convai library: it is installed by
-- its own rock, convai-sandbox (sandbox/ in the repository).

local launch = require("convai.launch")
local system = require("convai.launch.system")
local nginx = require("convai.launch.nginx")
local tls_maker = require("convai.sandbox.tls")

local exists = system.exists

local _M = {}

--- Default TCP port.
_M.DEFAULT_PORT = 8787
--- Seconds `start` waits for the health check, and `stop` for nginx to exit.
_M.TIMEOUT = 5

--- The credentials the sandbox accepts (fixed).
_M.credentials = {
  voicebot = { token = "sandbox-voicebot-token" }, -- Authorization: Bearer <token>
  avaamo = { token = "sandbox-avaamo-token" },     -- Access-Token: <token>
  vonage = { key = "sandbox-vonage-key" },         -- X-Vgai-Key: <key>
}

--- Make a test CA and a server certificate signed by it (`convai.sandbox.tls.make`).
-- @function make_tls
_M.make_tls = tls_maker.make

--- Find the nginx binary (`convai.sandbox.nginx.find`).
-- @function find_nginx
_M.find_nginx = nginx.find

--- The nginx.conf text of a sandbox (`convai.sandbox.nginx.conf`).
-- @function nginx_conf
_M.nginx_conf = nginx.conf

-- The sandbox as a server of convai.launch.
local KIND = { name = "sandbox", env = "CONVAI_SANDBOX_DIR", prefix = "/tmp/convai-sandbox-",
  health = "/_sandbox/health" }

--- Check a path that goes into nginx.conf (`convai.launch.check_path`).
-- @function check_path
_M.check_path = launch.check_path

--- Status of the sandbox in a directory.
-- @tparam[opt] table opts `{dir = path}` (default `$CONVAI_SANDBOX_DIR` or /tmp/convai-sandbox-UID; a
--   relative path is taken from `$PWD`)
-- @treturn table `{running = boolean, pid = integer|nil, port = integer|nil, url = string|nil,
--   dir = string, error_log, access_log}`, and when it serves HTTPS `tls_port`, `tls_url =
--   "https://127.0.0.1:TLS_PORT"` and `cafile` (the CA that signed its certificate); when the
--   directory cannot be told (a relative path without `$PWD`, no /proc for the default's user id),
--   `{running = false, error = message}`
function _M.status(opts)
  return launch.status(KIND, opts)
end

-- A port option: nil gives `default`; else an integer in [min, 65535].
local check_port = launch.check_port

-- Check the `tls` option: nil, true, or `{cert =, key =, ca =}` of readable files (absolute paths).
local function check_tls(tls)
  if tls == nil or tls == false or tls == true then
    return tls or nil
  end
  if type(tls) ~= "table" then
    return nil, "tls must be true or a table {cert = path, key = path, ca = path (optional)}"
  end
  local out = {}
  for _, k in ipairs { "cert", "key", "ca" } do
    local v = tls[k]
    if v ~= nil or k ~= "ca" then
      local path, err = _M.check_path(v, "tls." .. k)
      if not path then
        return nil, err
      end
      path, err = system.absolute(path)
      if not path then
        return nil, "tls." .. k .. ": " .. err
      end
      if not exists(path) then
        return nil, "tls." .. k .. ": cannot read " .. path
      end
      out[k] = path
    end
  end
  return out
end

--- Start a sandbox.
-- Nothing is written when an option is invalid.
-- @tparam[opt] table opts
--   `port` (integer, default 8787; 0 picks a free port at random),
--   `dir` (string, default `$CONVAI_SANDBOX_DIR` or /tmp/convai-sandbox-UID): holds nginx.conf,
--   nginx.pid, error.log, access.log and the temp paths;
--   `nginx` (string, default `$CONVAI_NGINX`, /usr/sbin/nginx, nginx on PATH);
--   `tls` (true, or `{cert = path, key = path, ca = path}`): also serve HTTPS on `tls_port`, with the
--   certificate and key given (PEM; `ca`, the CA file clients must trust, defaults to `cert`, right for
--   a self-signed certificate), or with `true` a test CA and a certificate for 127.0.0.1 and localhost
--   made now by `make_tls` in `DIR/tls/`;
--   `tls_port` (integer, default `port + 1`; with port 0, the port after the one picked).
-- @treturn table|nil info `{running = true, pid, port, url = "http://127.0.0.1:PORT", dir, error_log,
--   access_log}`, with `tls`: `tls_port`, `tls_url = "https://127.0.0.1:TLS_PORT"`, `cafile`
-- @treturn string error: an invalid option (port, tls_port, dir, tls), already running in `dir` (the
--   third value is then its status), nginx, ngx_lua or openssl missing, the directory not writable,
--   nginx failing to start (with its output), or the health check not answering within 5 s (with the
--   tail of error.log)
-- @treturn table|nil status of the sandbox already running in `dir`
function _M.start(opts)
  opts = opts or {}
  local port, err = check_port(opts.port, "port", _M.DEFAULT_PORT, 0)
  if not port then
    return nil, err
  end
  local tls_port
  tls_port, err = check_port(opts.tls_port, "tls_port", nil, 1)
  if err then
    return nil, err
  end
  local tls
  tls, err = check_tls(opts.tls)
  if err then
    return nil, err
  end
  if tls and port ~= 0 then
    tls_port = tls_port or port + 1
    if tls_port > 65535 or tls_port == port then
      return nil, ("tls_port must differ from port %d and be at most 65535; give another tls_port")
        :format(port)
    end
  end
  if opts.dir ~= nil then
    local _, derr = _M.check_path(opts.dir, "dir")
    if derr then
      return nil, derr
    end
  end
  local dir
  dir, err = launch.dir(KIND, opts)
  if not dir then
    return nil, err
  end
  if launch.status(KIND, { dir = dir }).running then
    return launch.start(KIND, { dir = dir }) -- the "already running" answer
  end
  local root
  root, err = system.lua_root()
  if not root then
    return nil, err
  end
  if tls == true then
    local ok
    ok, err = system.mkdir(dir)
    if not ok then
      return nil, err
    end
    tls, err = tls_maker.make(dir .. "/tls")
    if not tls then
      return nil, err
    end
  end
  local kind = setmetatable({
    params = function(p)
      if tls then
        tls.port = tls_port or p + 1
      end
      return { root = root, tls = tls }
    end,
  }, { __index = KIND })
  return launch.start(kind, { dir = dir, port = port, nginx = opts.nginx, avoid = tls_port })
end

--- Stop the sandbox of a directory (SIGTERM to the nginx master, as `nginx -s stop` does; SIGKILL to
-- it and its workers if it has not exited after 5 s) and wait until it has exited.
-- @tparam[opt] table opts `{dir = path}`
-- @treturn boolean|nil true once stopped
-- @treturn string error: not running, would not exit, or the directory cannot be told (as for `status`)
function _M.stop(opts)
  return launch.stop(KIND, opts)
end

--- Environment for clients of a running sandbox, in the order the CLI prints `export` lines. When the
-- sandbox serves HTTPS, the URLs are its HTTPS ones and `CONVAI_CAFILE` names the CA to trust (the
-- admin API stays on `info.url`, plain HTTP).
-- @tparam table info as returned by `start` or `status` (needs `url`; `tls_url` and `cafile` when TLS)
-- @treturn table list of `{name, value}` pairs
function _M.env(info)
  local url = info.tls_url or info.url
  local env = {
    { "CONVAI_VOICEBOT_URL", url .. "/voicebot/third-party/v1" },
    { "CONVAI_VOICEBOT_TOKEN", _M.credentials.voicebot.token },
    { "CONVAI_AVAAMO_URL", url .. "/avaamo" },
    { "CONVAI_AVAAMO_TOKEN", _M.credentials.avaamo.token },
    { "CONVAI_VONAGE_URL", url .. "/vonage" },
    { "CONVAI_VONAGE_KEY", _M.credentials.vonage.key },
  }
  if info.tls_url and info.cafile then
    env[#env + 1] = { "CONVAI_CAFILE", info.cafile }
  end
  return env
end

return _M
