-- The sandbox is not part of the library's rock: convai-0.1.0-1.rockspec (CMake, which installs
-- lua/convai) installs no sandbox module, and sandbox/convai-sandbox-0.1.0-1.rockspec lists every module of
-- sandbox/lua/convai/sandbox and the templates of sandbox/conf; installed with LuaRocks into a tree of its
-- own, it holds exactly those, and a sandbox starts and stops from that tree.
local sh = require "sandbox_helper"

local quote, shell, read_file = sh.quote, sh.shell, sh.read_file

local function lines(text)
  local out = {}
  for line in text:gmatch("[^\n]+") do
    out[#out + 1] = line
  end
  table.sort(out)
  return out
end

-- A rockspec's fields, read as LuaRocks reads them (a Lua chunk assigning globals).
local function rockspec(path)
  local spec = {}
  assert(load(assert(read_file(path)), "@" .. path, "t", spec))()
  return spec
end

-- Every string in a table, recursively (keys and values).
local function strings(t, out)
  out = out or {}
  for k, v in pairs(t) do
    for _, x in ipairs { k, v } do
      if type(x) == "string" then
        out[#out + 1] = x
      elseif type(x) == "table" then
        strings(x, out)
      end
    end
  end
  return out
end

local SANDBOX_ROCKSPEC = "sandbox/convai-sandbox-0.1.0-1.rockspec"

describe("rockspecs", function()
  it("the library's rockspec installs no sandbox module", function()
    local spec = rockspec("convai-0.1.0-1.rockspec")
    assert.are.equal("cmake", spec.build.type)
    for _, s in ipairs(strings(spec.build)) do
      assert.is_nil(s:find("convai[./]sandbox"), s)
      assert.is_nil(s:find("^sandbox/"), s)
    end
    -- CMake installs lua/convai whole, and lua/ holds no sandbox module any more.
    local cmake = assert(read_file("CMakeLists.txt"))
    for dir in cmake:gmatch("install%(DIRECTORY%s+(%S+)") do
      assert.are.equal("lua/convai", dir)
    end
    local files = shell("find -L lua -name '*.lua'")
    assert.truthy(files:find("lua/convai/", 1, true), files)
    for file in files:gmatch("[^\n]+") do
      assert.is_nil(file:find("^lua/convai/sandbox[/.]"), file) -- a module convai.sandbox or convai.sandbox.*
    end
  end)

  it("the sandbox's rockspec lists every sandbox module and template, and depends on convai", function()
    local spec = rockspec(SANDBOX_ROCKSPEC)
    assert.are.equal("convai-sandbox", spec.package)
    assert.are.equal("builtin", spec.build.type)
    local needs_convai = false
    for _, dep in ipairs(spec.dependencies) do
      needs_convai = needs_convai or dep:match("^convai%f[%s%z]") ~= nil
    end
    assert.is_true(needs_convai, "no dependency on convai")
    local listed = {}
    for name, file in pairs(spec.build.modules) do
      local expected = "lua/" .. name:gsub("%.", "/") .. ((name == "convai.sandbox") and "/init.lua" or ".lua")
      assert.are.equal(expected, file)
      listed[#listed + 1] = "sandbox/" .. file
    end
    table.sort(listed)
    assert.are.same(lines(shell("find sandbox/lua -name '*.lua'")), listed)
    local templates = {}
    for name, file in pairs(spec.build.install.lua) do
      assert.truthy(name:find("^convai%.sandbox%.conf%."), name)
      templates[#templates + 1] = "sandbox/" .. file
    end
    table.sort(templates)
    assert.are.same(lines(shell("find sandbox/conf -type f")), templates)
  end)

  it("installs the sandbox alone into a tree, from where it starts and stops", function()
    local _, has = shell("command -v luarocks >/dev/null")
    if has ~= 0 then
      pending("luarocks is not installed")
      return
    end
    local tree = sh.mktemp_dir("rock-spec")
    local ok, failure = pcall(function()
      local out, code = shell("cd sandbox && luarocks --lua-version=5.4 --lua-dir=/usr make --deps-mode=none --tree "
        .. quote(tree) .. " convai-sandbox-0.1.0-1.rockspec 2>&1")
      assert.are.equal(0, code, out)
      local luadir = tree .. "/share/lua/5.4"
      local installed = lines((shell("cd " .. quote(luadir) .. " && find . -type f"):gsub("%./", "")))
      local expected = lines((shell("cd sandbox/lua && find . -type f"):gsub("%./", "")))
      expected[#expected + 1] = "convai/sandbox/conf/nginx.conf.in"
      expected[#expected + 1] = "convai/sandbox/conf/openssl.cnf"
      table.sort(expected)
      assert.are.same(expected, installed)
      -- The launcher from the tree (the library and the core from this checkout).
      local script = table.concat({
        ("package.path = %q .. package.path"):format(luadir .. "/?.lua;" .. luadir .. "/?/init.lua;"),
        "local sandbox = require 'convai.sandbox'",
        "assert(package.searchpath('convai.sandbox.app', package.path):find(" .. ("%q"):format(luadir)
          .. ", 1, true))",
        ("local info = assert(sandbox.start { port = 0, dir = %q })"):format(tree .. "/run"),
        "io.write(info.url, ' ', tostring(sandbox.status({ dir = info.dir }).running), ' ')",
        "io.write(tostring(sandbox.stop { dir = info.dir }))",
      }, "\n")
      out, code = shell("lua5.4 -e " .. quote(script) .. " 2>&1")
      assert.are.equal(0, code, out)
      assert.truthy(out:find("^http://127%.0%.0%.1:%d+ true true$"), out)
      assert.truthy(read_file(tree .. "/run/nginx.conf"):find('lua_package_path "' .. luadir .. "/?.lua;", 1, true))
    end)
    os.execute("rm -rf " .. quote(tree))
    assert(ok, failure)
  end)
end)
