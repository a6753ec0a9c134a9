--- Shared setup of the specs of the C module convai.core (tests/lua/core): the module loaded from this
-- checkout's build, and small tools. Needs no sandbox, so the specs that use only this run under
-- LuaJIT from ctest too:
--   lua5.4 /usr/bin/busted tests/lua/core/json_spec.lua
--   luajit /usr/bin/busted tests/lua/core/json_spec.lua
-- CONVAI_CPATH overrides where the module is looked for (ctest sets it); the default is the build of
-- the running Lua (build/lua54 or build/luajit). Require this module before convai.core.
local default_cpath = _VERSION == "Lua 5.4" and "build/lua54/?.so" or "build/luajit/?.so"
package.cpath = (os.getenv("CONVAI_CPATH") or default_cpath) .. ";" .. package.cpath

local _M = {}

--- The module.
_M.core = require "convai.core"
local harness = require "nginx.harness"

--- Whether numbers have an integer subtype (Lua 5.4; not LuaJIT).
_M.HAS_INTEGERS = math.type ~= nil

--- A URL that refuses connections at once (nothing listens on port 1).
_M.REFUSED = "http://127.0.0.1:1/"

--- Whether v is an integer: a Lua integer on 5.4, an integral number on LuaJIT.
function _M.is_integer(v)
  if _M.HAS_INTEGERS then return math.type(v) == "integer" end
  return type(v) == "number" and v == math.floor(v)
end

--- Run a shell command; true when it exits 0 (os.execute's results differ between Lua versions).
function _M.run(cmd)
  local a, _, c = os.execute(cmd)
  if type(a) == "number" then return a == 0 end
  return a == true and (c == nil or c == 0)
end

--- Whether a program is on the PATH.
function _M.which(prog)
  return _M.run("command -v " .. prog .. " >/dev/null 2>&1")
end

--- Write data to path (raises on failure); the harness's.
_M.write_file = harness.write_file

--- The contents of path, or nil when it cannot be read; the harness's.
_M.read_file = harness.read_file

--- Whether s has neither CR nor LF.
function _M.no_line_break(s)
  return not s:find("[\r\n]")
end

--- Run a Lua script in a fresh interpreter (the one running the specs, `arg[-1]`, with this
-- package.cpath); returns its output (stdout and stderr), or nil when the interpreter is unknown.
-- `env` (optional) sets its variables for that interpreter (`{name = value}`; `false` unsets one).
function _M.run_script(source, env)
  local lua = arg and arg[-1]
  if not lua then return nil end
  local script = os.tmpname()
  _M.write_file(script, ("package.cpath = %q\n"):format(package.cpath) .. source)
  local prefix = ""
  if env then
    local names = {}
    for name in pairs(env) do names[#names + 1] = name end
    table.sort(names)
    local unset, set = "", ""
    for _, name in ipairs(names) do
      if env[name] == false then
        unset = unset .. ("-u '%s' "):format(name)
      else
        set = set .. ("'%s=%s' "):format(name, env[name])
      end
    end
    prefix = "env " .. unset .. set
  end
  local p = assert(io.popen(("%s'%s' '%s' 2>&1"):format(prefix, lua, script)))
  local out = p:read("*a")
  p:close()
  os.remove(script)
  return out
end

return _M
