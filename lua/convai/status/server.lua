--- convai.status.server: start, stop and tell the status receiver of `convai receive` (plain Lua): an
-- nginx run by `convai.launch` in a private directory, with `convai.status.receiver` as its handler
-- and the nginx.conf of `convai.status.receiver_conf`. Like the sandbox, but part of the library: it
-- needs nginx with its Lua module and the LuaJIT build of convai's core (scripts/install installs it).
--
-- @module convai.status.server
local config = require "convai.config"
local errors = require "convai.errors"
local launch = require "convai.launch"
local system = require "convai.launch.system"
local template = require "convai.status.receiver_conf"
local status = require "convai.status"

local type, tostring, ipairs = type, tostring, ipairs

local _M = {
  --- Default TCP port.
  DEFAULT_PORT = 8789,
  --- The path status callbacks are posted to.
  PATH = "/vonage/status",
}

local invalid = errors.invalid

local KIND = { name = "receiver", env = "CONVAI_RECEIVER_DIR", prefix = "/tmp/convai-receiver-",
  health = "/_receiver/health" }

--- The directory holding the LuaJIT build of `convai/core.so`: `$CONVAI_LUAJIT_CPATH`, else beside this
-- interpreter's build (build/lua54 → build/luajit, lua/5.4 → lua/5.1), else the usual 5.1 directories.
-- @treturn string|nil the directory
-- @treturn string error naming where it looked
function _M.luajit_cpath()
  local env = os.getenv("CONVAI_LUAJIT_CPATH")
  if env and env ~= "" then return env end
  local tried = {}
  local here = package.searchpath("convai.core", package.cpath)
  if here then
    local dir = system.absolute(here:gsub("/convai/core%.so$", ""))
    if dir then
      tried[#tried + 1] = (dir:gsub("/lua54$", "/luajit"))
      tried[#tried + 1] = (dir:gsub("/5%.4$", "/5.1"))
    end
  end
  for _, d in ipairs { "/usr/local/lib/lua/5.1", "/usr/lib/x86_64-linux-gnu/lua/5.1", "/usr/lib/lua/5.1" } do
    tried[#tried + 1] = d
  end
  for _, d in ipairs(tried) do
    if system.exists(d .. "/convai/core.so") then return d end
  end
  return nil, "the LuaJIT build of convai's core (convai/core.so) was not found in "
    .. table.concat(tried, ", ") .. "; install it (scripts/install) or set CONVAI_LUAJIT_CPATH to its "
    .. "directory"
end

--- The store of a receiver: `where`, else the default file (`convai.config.statuses_file`), checked.
-- @tparam[opt] string where a file path or `redis://...`
-- @treturn string|nil the store (a file as an absolute path)
-- @treturn[2] convai.error kind `invalid_argument`
function _M.store(where)
  if where == nil then
    local err
    where, err = config.statuses_file()
    if not where then return nil, err end
  end
  if type(where) ~= "string" or where == "" then
    return invalid("--store must be a file or a redis:// URL")
  end
  if where:match("^%a[%w+.-]*://") then
    local ok, err = status.open(where) -- checks the scheme and the URL; connects to nothing
    if not ok then return nil, err end
    return where
  end
  local path, err = system.absolute(where)
  if not path then return invalid("--store: %s", err) end
  return path
end

--- Start a receiver.
-- @tparam[opt] table opts `port` (default 8789; 0 any free port), `store` (as for `store`), `dir`
--   (default `$CONVAI_RECEIVER_DIR`, else /tmp/convai-receiver-UID)
-- @treturn table|nil status (`url`, `status_url` = URL of `POST /vonage/status`, `pid`, `dir`, `store`)
-- @treturn string|convai.error error: an invalid option, already running, nginx, ngx_lua or the LuaJIT
--   core missing, the store not writable (nginx's message), nginx failing to start
function _M.start(opts)
  opts = opts or {}
  local port = launch.check_port(opts.port, "port", _M.DEFAULT_PORT, 0)
  if not port then
    return invalid("--port must be an integer from 1 to 65535 (0: any free port), got %q",
      tostring(opts.port))
  end
  local err
  if opts.dir ~= nil then
    local _, derr = launch.check_path(opts.dir, "--dir")
    if derr then return invalid("%s", derr) end
  end
  local store
  store, err = _M.store(opts.store)
  if not store then return nil, err end
  local dir
  dir, err = launch.dir(KIND, opts)
  if not dir then return nil, err end
  local root
  root, err = system.lua_root("convai.status.receiver")
  if not root then return nil, err end
  local cpath
  cpath, err = _M.luajit_cpath()
  if not cpath then return nil, err end
  if not launch.status(KIND, { dir = dir }).running then
    local ok
    ok, err = system.mkdir(dir)
    if not ok then return nil, err end
    if not store:match("^%a[%w+.-]*://") then
      ok, err = system.mkdir((store:gsub("/[^/]*$", "")))
      if not ok then return nil, err end
    end
    -- The store (a Redis URL may hold a password) in a file only this user reads.
    system.run("umask 077; : > " .. system.quote(dir .. "/store"))
    ok, err = system.write_file(dir .. "/store", store .. "\n")
    if not ok then return nil, "cannot write " .. dir .. "/store: " .. tostring(err) end
  end
  local kind = setmetatable({
    params = function() return { template = template, root = root, cpath = cpath } end,
  }, { __index = KIND })
  local info, serr, current = launch.start(kind, { dir = dir, port = port, nginx = opts.nginx })
  if not info then return nil, serr, current end
  return _M.status { dir = dir }
end

--- Status of the receiver of a directory (`convai.launch.status`, with `status_url` and `store` when it
-- runs).
-- @tparam[opt] table opts `{dir = path}`
-- @treturn table
function _M.status(opts)
  local st = launch.status(KIND, opts)
  if st.running then
    st.status_url = st.url .. _M.PATH
    st.store = system.read_file(st.dir .. "/store")
    st.store = st.store and st.store:gsub("\n$", "")
  end
  return st
end

--- Stop the receiver of a directory.
-- @tparam[opt] table opts `{dir = path}`
-- @treturn boolean|nil true, or nil and a message
function _M.stop(opts)
  return launch.stop(KIND, opts)
end

return _M
