--- convai.launch.system: what the nginx launcher (`convai.launch`, used by the sandbox and by the
-- status receiver) needs from the operating system, in plain Lua: files, absolute paths, the user id,
-- template files found beside Lua modules, processes, and the few programs it runs through the shell
-- (mkdir, openssl, nginx, kill, ps). It runs no `sleep`, `curl`, `pwd` or `id`: waits and HTTP go
-- through convai.core, a relative path is resolved from `$PWD`, the user id is read from
-- /proc/self/status. The nginx-side modules never use this one.
--
-- @module convai.launch.system

local _M = {}

--- Quote a string for /bin/sh (single quotes).
-- @tparam string s
-- @treturn string
function _M.quote(s)
  return "'" .. tostring(s):gsub("'", [['\'']]) .. "'"
end

--- Run a command with /bin/sh.
-- @tparam string cmd the command line (quote its arguments with `quote`)
-- @treturn boolean true when it exited with status 0
-- @treturn string its standard output and standard error, together
function _M.run(cmd)
  local p = io.popen(cmd .. " 2>&1", "r")
  if not p then
    return false, "cannot run " .. cmd
  end
  local out = p:read("a") or ""
  local ok = p:close()
  return ok == true, out
end

--- Does a file exist and can it be opened for reading?
-- @tparam string path
-- @treturn boolean
function _M.exists(path)
  local f = io.open(path, "r")
  if f then
    f:close()
    return true
  end
  return false
end

--- The whole content of a file.
-- @tparam string path
-- @treturn string|nil the content, nil when it cannot be read
function _M.read_file(path)
  local f = io.open(path, "r")
  if not f then
    return nil
  end
  local s = f:read("a")
  f:close()
  return s
end

--- Write a file (replacing it).
-- @tparam string path
-- @tparam string text
-- @treturn true|nil
-- @treturn string error message of `io.open` or `write`
function _M.write_file(path, text)
  local f, err = io.open(path, "w")
  if not f then
    return nil, err
  end
  local ok, werr = f:write(text)
  f:close()
  if not ok then
    return nil, werr
  end
  return true
end

--- Create a directory and its parents (`mkdir -p`).
-- @tparam string dir
-- @treturn true|nil
-- @treturn string error: "cannot create DIR: " and mkdir's message
function _M.mkdir(dir)
  local ok, out = _M.run("mkdir -p " .. _M.quote(dir))
  if not ok then
    return nil, "cannot create " .. dir .. ": " .. out
  end
  return true
end

--- An absolute path: `path` itself when it starts with "/", else `path` under the current directory,
-- which is `$PWD` (Lua cannot change directory, so the shell's `$PWD` stays right).
-- @tparam string path
-- @treturn string|nil the absolute path ("./" and a lone "." dropped)
-- @treturn string error when the path is relative and `$PWD` is not an absolute path
function _M.absolute(path)
  if path:sub(1, 1) == "/" then
    return path
  end
  local pwd = os.getenv("PWD")
  if not pwd or pwd:sub(1, 1) ~= "/" then
    return nil, "cannot resolve the relative path " .. path .. ": $PWD is not set to an absolute "
      .. "directory; give an absolute path"
  end
  pwd = pwd:gsub("/+$", "")
  path = path:gsub("^%./", ""):gsub("^%.$", "")
  return path == "" and (pwd == "" and "/" or pwd) or pwd .. "/" .. path
end

--- The effective user id of this process (as `id -u` prints it), from /proc/self/status.
-- @treturn integer|nil
-- @treturn string error when /proc/self/status cannot be read (no /proc)
function _M.uid()
  local status = _M.read_file("/proc/self/status")
  local uid = status and status:match("\nUid:%s+%d+%s+(%d+)")
  if not uid then
    return nil, "cannot read the user id from /proc/self/status; set CONVAI_SANDBOX_DIR or give a "
      .. "directory"
  end
  return math.tointeger(tonumber(uid))
end

--- The root directory of a module's tree, found the way `require` finds the module (an nginx started
-- by the launcher loads the modules from there): for `convai.sandbox.app`, found at
-- `R/convai/sandbox/app.lua`, it is `R`.
-- @tparam[opt="convai.sandbox.app"] string module a module name
-- @treturn string|nil absolute path, without a trailing "/"
-- @treturn string error: the module not on `package.path`, or a directory nginx cannot be given
function _M.lua_root(module)
  module = module or "convai.sandbox.app"
  local path = package.searchpath(module, package.path)
  local file = path and path:match("[^/]*$")
  local suffix = module:gsub("%.", "/") .. (file == "init.lua" and "/init.lua" or ".lua")
  if not path or path:sub(-#suffix) ~= suffix then
    return nil, "cannot locate " .. suffix .. " on package.path"
  end
  local root, err = _M.absolute(path:sub(1, -#suffix - 2)) -- without the trailing "/"
  if not root then
    return nil, err
  end
  if root:find('[";?]') then
    return nil, "unusable module directory for nginx: " .. root
  end
  return root
end

--- A template file (`nginx.conf.in`, `openssl.cnf`) of a package of modules. In a checkout they are in
-- `conf/` beside the `lua/` holding the modules (sandbox/conf/, conf/); a rock installs them in
-- `DIR/conf/` beside the modules (`convai/sandbox/conf/`, `convai/launch/conf/`).
-- @tparam string name file name
-- @tparam[opt="convai.sandbox.app"] string module a module of the package
-- @tparam[opt="convai/sandbox"] string dir the modules' directory under the root, for the installed place
-- @treturn string|nil its absolute path
-- @treturn string error: the modules not found, or the file in neither place
function _M.template(name, module, dir)
  local root, err = _M.lua_root(module)
  if not root then
    return nil, err
  end
  local installed = root .. "/" .. (dir or "convai/sandbox") .. "/conf/" .. name
  local checkout = root:gsub("/[^/]*$", "") .. "/conf/" .. name
  for _, path in ipairs { installed, checkout } do
    if _M.exists(path) then
      return path
    end
  end
  return nil, "cannot find the " .. name .. " template (looked for " .. installed .. " and " .. checkout
    .. "); reinstall the package"
end

--- Is process `pid` alive (not a zombie) and an nginx? Without /proc: does `kill -0` reach it?
-- @tparam integer pid
-- @treturn boolean
function _M.alive(pid)
  local stat = _M.read_file("/proc/" .. pid .. "/stat")
  if stat then
    local cmdline = _M.read_file("/proc/" .. pid .. "/cmdline") or ""
    return not stat:match("^%d+ %b() Z") and cmdline:find("nginx", 1, true) ~= nil
  end
  return os.execute("kill -0 " .. pid .. " 2>/dev/null") == true
end

--- Send a signal to processes (the shell's `kill`; errors ignored).
-- @tparam string signal "TERM", "KILL", ...
-- @tparam string pids process ids separated by spaces
function _M.kill(signal, pids)
  os.execute("kill -" .. signal .. " " .. pids .. " 2>/dev/null")
end

--- The process ids of the children of `pid` (`ps`).
-- @tparam integer pid
-- @treturn string ids separated by spaces (empty when none, or when `ps` fails)
function _M.children(pid)
  local ok, out = _M.run("ps -o pid= --ppid " .. pid)
  local ids = {}
  if ok then
    for id in out:gmatch("%d+") do
      ids[#ids + 1] = id
    end
  end
  return table.concat(ids, " ")
end

return _M
