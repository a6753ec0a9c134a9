-- The install through LuaRocks says nothing misleading: Debian's lua-cjson and lua-argparse are the
-- rocks the rockspecs depend on, and scripts/luarocks-provided (used by scripts/install) tells LuaRocks so,
-- so `luarocks make --deps-mode=none` no longer ends with "Missing dependencies ... (not installed)".
-- A throwaway rock with the same dependencies, installed into a temporary tree.
local helper = require "helper"

local ROOT = helper.root

local function sh(cmd)
  local p = assert(io.popen(cmd .. " 2>&1; echo \"exit $?\""))
  local out = p:read("a")
  p:close()
  return out
end

describe("luarocks make", function()
  local dir
  before_each(function()
    dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p '" .. dir .. "'"))
    local f = assert(io.open(dir .. "/probe-0.1-1.rockspec", "w"))
    f:write([[
package = "probe"
version = "0.1-1"
source = { url = "git+file:///dev/null" }
dependencies = { "lua >= 5.1", "lua-cjson >= 2.1.0", "argparse >= 0.7" }
build = { type = "builtin", modules = { probe = "probe.lua" } }
]])
    f:close()
    f = assert(io.open(dir .. "/probe.lua", "w"))
    f:write("return {}\n")
    f:close()
  end)
  after_each(function() os.execute("rm -rf '" .. dir .. "'") end)

  -- --lua-dir: Debian's Lua, whatever lua5.4 is first in PATH (the memory checks put a wrapper there,
  -- beside which LuaRocks would look for the headers)
  local function make(config)
    return sh(("cd '%s' && %s luarocks --lua-version=5.4 --lua-dir=/usr make --deps-mode=none --tree '%s/tree' "
      .. "probe-0.1-1.rockspec"):format(dir, config and "LUAROCKS_CONFIG=" .. config or "", dir))
  end

  it("with scripts/luarocks-provided: installed, no 'Missing dependencies' warning", function()
    assert(os.execute(("'%s/scripts/luarocks-provided' > '%s/provided.lua'"):format(ROOT, dir)))
    local out = make(dir .. "/provided.lua")
    assert.matches("probe 0%.1%-1 is now installed", out)
    assert.matches("exit 0\n$", out)
    assert.is_nil(out:find("Missing dependencies", 1, true), out)
  end)

  it("without it LuaRocks warns (what the configuration is for)", function()
    local home = os.getenv("HOME") or ""
    local f = io.open(home .. "/.luarocks/config-5.4.lua")
    if f then
      f:close()
      return pending("a user LuaRocks configuration exists")
    end
    local out = make(nil)
    assert.matches("exit 0\n$", out)
    assert.truthy(out:find("Missing dependencies for probe", 1, true), out)
  end)
end)
