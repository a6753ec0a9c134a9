--- convai.launch.nginx: the launcher's view of nginx: find the binary and its Lua module (Debian's nginx
-- with libnginx-mod-http-lua, or OpenResty), write an nginx.conf from a template (the sandbox's
-- sandbox/conf/nginx.conf.in, the status receiver's `convai.status.receiver_conf`), start nginx on it,
-- and read a server's pid, ports and CA back from its directory. Part of the launcher (plain Lua).
--
-- @module convai.launch.nginx

local system = require("convai.launch.system")

local quote, exists, read_file = system.quote, system.exists, system.read_file

local _M = {}

local MODULE_DIRS = {
  "/usr/lib/nginx/modules", "/usr/share/nginx/modules", "/usr/lib64/nginx/modules",
  "/etc/nginx/modules", "/usr/local/nginx/modules",
}

--- Find the nginx binary: `$CONVAI_NGINX`, /usr/sbin/nginx, then `nginx` on PATH.
-- @treturn string|nil path
-- @treturn string error message
function _M.find()
  local env = os.getenv("CONVAI_NGINX")
  if env and env ~= "" then
    return env
  end
  if exists("/usr/sbin/nginx") then
    return "/usr/sbin/nginx"
  end
  local ok, out = system.run("command -v nginx")
  local path = out:match("^(%S+)")
  if ok and path then
    return path
  end
  return nil, "nginx not found (install nginx and libnginx-mod-http-lua, or set CONVAI_NGINX)"
end

--- The load_module lines for ndk + ngx_lua: from nginx's --modules-path, then the usual directories;
-- a comment when ngx_lua is compiled in (OpenResty).
-- @tparam string nginx path of the binary
-- @treturn string|nil the lines
-- @treturn string error: ngx_http_lua_module.so not found
function _M.load_modules(nginx)
  local _, v = system.run(quote(nginx) .. " -V")
  local dirs = {}
  local configured = v:match("%-%-modules%-path=(%S+)")
  if configured then
    dirs[#dirs + 1] = configured
  end
  for _, d in ipairs(MODULE_DIRS) do
    dirs[#dirs + 1] = d
  end
  for _, d in ipairs(dirs) do
    if exists(d .. "/ngx_http_lua_module.so") then
      local lines = {}
      if exists(d .. "/ndk_http_module.so") then
        lines[#lines + 1] = "load_module " .. d .. "/ndk_http_module.so;"
      end
      lines[#lines + 1] = "load_module " .. d .. "/ngx_http_lua_module.so;"
      return table.concat(lines, "\n")
    end
  end
  if v:match("lua%-nginx%-module") or v:match("ngx_lua") or v:match("openresty") then
    return "# ngx_lua is built into this nginx"
  end
  return nil, "ngx_http_lua_module.so not found (install libnginx-mod-http-lua)"
end

--- The nginx.conf text of a server, from its template: `params.template` (the text itself), else the
-- sandbox's template file sandbox/conf/nginx.conf.in. Each `${name}` is replaced by `params[name]`.
-- @tparam table params `{dir = absolute path, port = integer, root = dir containing the modules,
--   load_modules = load_module lines, tls = optional {port = integer, cert = path, key = path,
--   ca = path}, template = optional text}` and any other placeholder of the template
-- @treturn string|nil configuration text
-- @treturn string error: the template not found or unreadable
-- @raise when the template names a placeholder that `params` lacks (template and launcher disagree)
function _M.conf(params)
  local template, path = params.template, "the template"
  if not template then
    local err
    path, err = system.template("nginx.conf.in")
    if not path then
      return nil, err
    end
    template = read_file(path)
    if not template then
      return nil, "cannot read " .. path
    end
  end
  local tls = params.tls
  local values = setmetatable({ tls = "" }, { __index = params })
  if tls then
    values.tls = ("        listen 127.0.0.1:%d ssl;\n        ssl_certificate %s;\n"
      .. "        ssl_certificate_key %s;\n        # convai-tls-cafile %s\n"):format(tls.port, tls.cert,
      tls.key, tls.ca or tls.cert)
  end
  return (template:gsub("%${([%w_]+)}", function(k)
    if values[k] == nil then
      error(path .. ": no value for the placeholder " .. k, 0)
    end
    return tostring(values[k])
  end))
end

--- Write `DIR/nginx.conf` and start nginx on it (it daemonizes; its pid goes to `DIR/nginx.pid`).
-- @tparam string nginx path of the binary
-- @tparam table params as for `conf` (`dir` is the state directory, which must exist)
-- @treturn true|nil
-- @treturn string error: the configuration not written, or nginx failing (with its output: "in use"
--   when the port is taken)
function _M.launch(nginx, params)
  local dir = params.dir
  local conf = dir .. "/nginx.conf"
  local text, err = _M.conf(params)
  if not text then
    return nil, err
  end
  local ok
  ok, err = system.write_file(conf, text)
  if not ok then
    return nil, "cannot write " .. conf .. ": " .. tostring(err)
  end
  -- Without the caller's LUA_PATH and LUA_CPATH: they name Lua 5.4 modules (`luarocks path` puts
  -- /usr/lib/x86_64-linux-gnu/lua/5.4/?.so there), which nginx's LuaJIT would load instead of its own.
  local out
  ok, out = system.run("unset LUA_PATH LUA_CPATH; exec " .. quote(nginx) .. " -p " .. quote(dir .. "/")
    .. " -c " .. quote(conf) .. " -e " .. quote(dir .. "/error.log"))
  if not ok then
    return nil, "nginx failed to start on port " .. params.port .. ": " .. out:gsub("%s+$", "")
  end
  return true
end

--- The pid nginx wrote in `DIR/nginx.pid`.
-- @tparam string dir state directory
-- @treturn integer|nil
function _M.pid(dir)
  local text = read_file(dir .. "/nginx.pid")
  return text and tonumber(text:match("%d+"))
end

--- The ports and CA file of the server configured in `DIR/nginx.conf`.
-- @tparam string dir state directory
-- @treturn integer|nil HTTP port
-- @treturn integer|nil HTTPS port, when it serves HTTPS
-- @treturn string|nil the CA file clients must trust, when it serves HTTPS
function _M.ports(dir)
  local conf = read_file(dir .. "/nginx.conf")
  if not conf then
    return nil
  end
  local port = tonumber(conf:match("listen 127%.0%.0%.1:(%d+);"))
  local tls_port = tonumber(conf:match("listen 127%.0%.0%.1:(%d+) ssl;"))
  return port, tls_port, tls_port and conf:match("# convai%-tls%-cafile ([^\n]+)")
end

return _M
