--- convai.launch: run a local nginx (Debian's nginx with its Lua module, or OpenResty) in a private
-- directory, the way `convai sandbox` and `convai receive` do: write its nginx.conf from a template,
-- start it on 127.0.0.1 (a given port, or a free one), wait until a health URL answers 200, tell whether
-- it runs, stop it. Plain Lua (the CLI's interpreter); the server's own handlers run in nginx.
--
-- A server is described by a table, its `kind`:
--
--     { name = "sandbox",                 -- for messages
--       env = "CONVAI_SANDBOX_DIR",       -- the variable naming the default directory
--       prefix = "/tmp/convai-sandbox-",  -- else this and the user id
--       default_port = 8787,
--       health = "/_sandbox/health",      -- GET answered 200 once it serves
--       params = function(port, dir) return {...} end }  -- the template's placeholders (see
--                                                        -- convai.launch.nginx.conf), per port tried
--
-- @module convai.launch
local core = require("convai.core")
local system = require("convai.launch.system")
local nginx = require("convai.launch.nginx")

local read_file = system.read_file

local _M = {}

--- Seconds `start` waits for the health check, and `stop` for nginx to exit.
_M.TIMEOUT = 5

--- The state directory of a server: `opts.dir`, else `$ENV`, else PREFIX and the user id; absolute,
-- without a trailing "/".
-- @tparam table kind the server (`env`, `prefix`)
-- @tparam[opt] table opts `{dir = path}`
-- @treturn string|nil the directory
-- @treturn string error: a relative path without `$PWD`, or the user id unknown
function _M.dir(kind, opts)
  local dir = opts and opts.dir
  if not dir then
    dir = os.getenv(kind.env)
    if not dir or dir == "" then
      local uid, err = system.uid()
      if not uid then
        return nil, err
      end
      dir = kind.prefix .. uid
    end
  end
  local path, err = system.absolute(dir)
  if not path then
    return nil, err
  end
  return (path:gsub("(.)/+$", "%1"))
end

-- Characters that a path written into nginx.conf must not contain (nginx syntax, shell quoting).
local UNSAFE_PATH = "[%s%c;{}\"'\\$#]"

--- Check a path that goes into nginx.conf (the state directory, a certificate, a store file).
-- @param path
-- @tparam string name what it is, for the message (e.g. "--dir")
-- @treturn string|nil the path, or nil and a message saying what is wrong and how to fix it
function _M.check_path(path, name)
  if type(path) ~= "string" or path == "" then
    return nil, name .. " must be a non-empty path"
  end
  if path:find(UNSAFE_PATH) then
    return nil, name .. " must not contain spaces, control characters or any of ; { } \" ' \\ $ # "
      .. "(they would break the nginx configuration); choose another path"
  end
  return path
end

--- The last lines of a file (an error log), or "".
-- @tparam string path
-- @tparam integer lines how many
-- @treturn string
function _M.tail(path, lines)
  local text = read_file(path)
  if not text or text == "" then
    return ""
  end
  local all = {}
  for line in text:gmatch("[^\n]+") do
    all[#all + 1] = line
  end
  return table.concat(all, "\n", math.max(1, #all - lines + 1))
end

-- Wait until GET URL answers 200: one attempt every 50 ms for `timeout` seconds.
local function wait_healthy(url, timeout)
  local session, err = core.session { timeout = 1 }
  if not session then
    return nil, err
  end
  local deadline = core.monotonic() + timeout
  local healthy
  repeat
    local resp = session:request { url = url }
    healthy = resp ~= nil and resp.status == 200
    if not healthy then
      core.sleep(0.05)
    end
  until healthy or core.monotonic() > deadline
  session:close()
  return healthy
end

--- Status of the server in a directory.
-- @tparam table kind the server
-- @tparam[opt] table opts `{dir = path}`
-- @treturn table `{running = boolean, pid = integer|nil, port = integer|nil, url = string|nil,
--   dir = string, error_log, access_log}`, and when it serves HTTPS `tls_port`, `tls_url` and `cafile`;
--   when the directory cannot be told, `{running = false, error = message}`
function _M.status(kind, opts)
  local dir, err = _M.dir(kind, opts)
  if not dir then
    return { running = false, error = err }
  end
  local pid = nginx.pid(dir)
  local port, tls_port, cafile = nginx.ports(dir)
  if not pid or not system.alive(pid) then
    return { running = false, dir = dir, port = port }
  end
  return {
    running = true,
    pid = pid,
    port = port,
    url = port and "http://127.0.0.1:" .. port or nil,
    tls_port = tls_port,
    tls_url = tls_port and "https://127.0.0.1:" .. tls_port or nil,
    cafile = cafile,
    dir = dir,
    error_log = dir .. "/error.log",
    access_log = dir .. "/access.log",
  }
end

--- A port option: nil gives `default`; else an integer in [min, 65535].
-- @param v the value
-- @tparam string name for the message
-- @tparam[opt] integer default
-- @tparam integer min 0 (any free port) or 1
-- @treturn integer|nil the port, or nil and a message
function _M.check_port(v, name, default, min)
  if v == nil then
    return default
  end
  local n = tonumber(v)
  if not n or n ~= math.floor(n) or n < min or n > 65535 then
    return nil, ("%s must be an integer from %d to 65535, got %s"):format(name, min, tostring(v))
  end
  return math.floor(n)
end

--- Start a server: check the directory, find nginx and ngx_lua, write nginx.conf and start nginx (with
-- `port` 0, on a free port picked at random), then wait up to `TIMEOUT` s for the health URL.
-- @tparam table kind the server (see the module's header)
-- @tparam table opts `port` (integer, checked; 0 picks a free port), `dir`, `nginx` (the binary,
--   default `$CONVAI_NGINX`, /usr/sbin/nginx, nginx on PATH), `avoid` (a port not to pick with 0)
-- @treturn table|nil status, as `status` returns it
-- @treturn string error: already running in the directory (the third value is then its status), nginx
--   or ngx_lua missing, the directory not writable, nginx failing to start (with its output and the
--   tail of error.log), the health check not answering in time
-- @treturn table|nil status of the server already running
function _M.start(kind, opts)
  local dir, err = _M.dir(kind, opts)
  if not dir then
    return nil, err
  end
  dir, err = _M.check_path(dir, "the " .. kind.name .. " directory (" .. kind.env .. ")")
  if not dir then
    return nil, err
  end
  local current = _M.status(kind, { dir = dir })
  if current.running then
    return nil, kind.name .. " already running in " .. dir .. " (pid " .. current.pid .. ", "
      .. tostring(current.url) .. ")", current
  end
  local bin = opts.nginx
  if not bin then
    bin, err = nginx.find()
  end
  if not bin then
    return nil, err
  end
  local modules
  modules, err = nginx.load_modules(bin)
  if not modules then
    return nil, err
  end
  local ok
  ok, err = system.mkdir(dir)
  if not ok then
    return nil, err
  end
  os.remove(dir .. "/nginx.pid")
  system.write_file(dir .. "/error.log", "") -- this run's messages only
  local function try(p)
    local params, perr = kind.params(p, dir)
    if not params then
      return nil, perr
    end
    params.dir, params.port, params.load_modules = dir, p, modules
    return nginx.launch(bin, params)
  end

  local port = opts.port
  if port == 0 then
    math.randomseed(os.time() + math.floor(os.clock() * 1e6))
    for _ = 1, 20 do
      port = math.random(20000, 60999)
      if port ~= opts.avoid then
        ok, err = try(port)
        if ok or not tostring(err):find("in use", 1, true) then
          break
        end
      end
    end
  else
    ok, err = try(port)
  end
  if not ok then
    return nil, err .. "\n" .. _M.tail(dir .. "/error.log", 10)
  end

  local url = "http://127.0.0.1:" .. port
  if wait_healthy(url .. kind.health, _M.TIMEOUT) then
    return _M.status(kind, { dir = dir })
  end
  _M.stop(kind, { dir = dir })
  return nil, kind.name .. " on " .. url .. " did not answer " .. kind.health .. " within " .. _M.TIMEOUT
    .. " s; error log:\n" .. _M.tail(dir .. "/error.log", 20)
end

--- Stop the server of a directory (SIGTERM to the nginx master, as `nginx -s stop` does; SIGKILL to
-- it and its workers if it has not exited after `TIMEOUT` s) and wait until it has exited.
-- @tparam table kind the server
-- @tparam[opt] table opts `{dir = path}`
-- @treturn boolean|nil true once stopped
-- @treturn string error: not running, would not exit, or the directory cannot be told
function _M.stop(kind, opts)
  local dir, err = _M.dir(kind, opts)
  if not dir then
    return nil, err
  end
  local pid = nginx.pid(dir)
  local alive = system.alive
  if not pid or not alive(pid) then
    os.remove(dir .. "/nginx.pid")
    return nil, "no " .. kind.name .. " running in " .. dir
  end
  system.kill("TERM", pid)
  local deadline = core.monotonic() + _M.TIMEOUT
  while alive(pid) and core.monotonic() <= deadline do
    core.sleep(0.05)
  end
  if alive(pid) then
    -- Last resort: the master and its own children (the workers), by process id.
    system.kill("KILL", pid .. " " .. system.children(pid))
    core.sleep(0.2)
    if alive(pid) then
      return nil, "nginx (pid " .. pid .. ") in " .. dir .. " did not exit"
    end
  end
  os.remove(dir .. "/nginx.pid")
  return true
end

return _M
