-- The sandbox launcher (convai.sandbox and its helpers .system, .nginx, .tls) without the shell tools it
-- once ran: no `sleep`, `curl`, `pwd` or `id`. `convai sandbox start|status|stop` (with --tls) run with a
-- PATH whose `sleep`, `curl`, `pwd` and `id` are traps that record being called, and whose only real
-- programs are those the launcher still needs (openssl, mkdir, ps; nginx is /usr/sbin/nginx); a
-- relative --dir is taken from $PWD, and refused with a clear message without it; the user id comes
-- from /proc/self/status.
local system = require "convai.launch.system"
local sh = require "sandbox_helper"

local LAUNCHER = { "convai.sandbox", "convai.sandbox.tls", "convai.launch", "convai.launch.system",
  "convai.launch.nginx", "convai.status.server" }

local quote, shell, read_file, write_file = sh.quote, sh.shell, sh.read_file, sh.write_file

local function which(name)
  return (shell("command -v " .. name):gsub("%s+$", ""))
end

describe("sandbox launcher", function()
  local tmp, bin, calls
  local root = assert(os.getenv("PWD"), "PWD is not set")
  local lua = which("lua5.4") -- under scripts/test-memory, its ASan wrapper

  setup(function()
    tmp = sh.mktemp_dir("launcher-spec")
    bin = tmp .. "/bin"
    calls = tmp .. "/calls"
    assert(os.execute("mkdir " .. quote(bin)))
    for _, name in ipairs { "sleep", "curl", "pwd", "id" } do
      write_file(bin .. "/" .. name, "#!/bin/sh\necho " .. name .. " >>" .. quote(calls) .. "\nexit 1\n")
      assert(os.execute("chmod +x " .. quote(bin .. "/" .. name)))
    end
    for _, name in ipairs { "openssl", "mkdir", "ps", "nginx" } do
      local path = which(name)
      if path ~= "" then
        assert(os.execute("ln -s " .. quote(path) .. " " .. quote(bin .. "/" .. name)))
      end
    end
  end)

  teardown(function()
    os.execute("rm -rf " .. quote(tmp))
  end)

  -- `convai ARGS...` in directory `cwd` with PATH = the trap directory; `env` ("-u PWD", ...) first.
  -- Without $PWD, CONVAI_TEST_UNSET_PWD=1 too: under scripts/test-memory lua5.4 is a bash wrapper, and
  -- bash sets $PWD again unless told.
  local function convai(cwd, args, env)
    local cmd = ("cd %s && /usr/bin/env %s PATH=%s %s %s %s 2>&1"):format(quote(cwd), env or "", quote(bin),
      quote(lua), quote(root .. "/bin/convai"), args)
    return shell(cmd)
  end

  it("starts, reports and stops a sandbox with TLS without running sleep, curl, pwd or id", function()
    local out, code = convai(tmp, "sandbox start --port 0 --tls --dir run")
    local ok, failure = pcall(function()
      assert.are.equal(0, code, out)
      assert.truthy(out:find("# convai sandbox running at http://127.0.0.1:%d+ %(pid %d+, dir " .. tmp:gsub("%p", "%%%0")
        .. "/run%)"), out)
      assert.truthy(out:find("export CONVAI_CAFILE=" .. quote(tmp .. "/run/tls/ca.pem"), 1, true), out)
      assert.truthy(read_file(tmp .. "/run/nginx.conf"):find("ssl_certificate " .. tmp .. "/run/tls/server.pem",
        1, true))
      out, code = convai(tmp, "sandbox status --dir run")
      assert.are.equal(0, code, out)
      assert.truthy(out:find("^running at http://127%.0%.0%.1:%d+ %(pid %d+%), HTTPS at https://127%.0%.0%.1:%d+"), out)
    end)
    local sout, scode = convai(tmp, "sandbox stop --dir run")
    assert(ok, failure)
    assert.are.equal(0, scode, sout)
    out, code = convai(tmp, "sandbox status --dir run")
    assert.are.equal(3, code, out)
    assert.are.equal("not running\n", out)
    assert.is_nil(read_file(calls), "the launcher ran: " .. tostring(read_file(calls)))
  end)

  it("refuses a relative directory when $PWD is not set, saying why", function()
    local out, code = convai(tmp, "sandbox start --port 0 --dir elsewhere", "-u PWD CONVAI_TEST_UNSET_PWD=1")
    assert.are.equal(1, code, out)
    assert.truthy(out:find("cannot resolve the relative path elsewhere: $PWD is not set", 1, true), out)
    out, code = convai(tmp, "sandbox stop --dir elsewhere", "-u PWD CONVAI_TEST_UNSET_PWD=1")
    assert.are.equal(1, code, out)
    assert.truthy(out:find("$PWD is not set", 1, true), out)
    assert.is_nil(read_file(calls))
  end)

  it("resolves paths from $PWD and reads the user id from /proc/self/status", function()
    assert.are.equal("/abs/x", system.absolute("/abs/x"))
    assert.are.equal(root .. "/a/b", system.absolute("a/b"))
    assert.are.equal(root .. "/a", system.absolute("./a"))
    assert.are.equal(root, system.absolute("."))
    local id = assert(tonumber((shell("id -u"))))
    assert.are.equal(id, system.uid())
  end)

  it("has no sleep, curl, pwd or id command in its sources", function()
    for _, name in ipairs(LAUNCHER) do
      local path = package.searchpath(name, package.path)
      local src = assert(read_file(path))
      for _, pattern in ipairs { "[\"']sleep[ \"']", "[\"']curl[ \"']", "[\"']pwd[\"']", "[\"']id %-u" } do
        assert.is_nil(src:find(pattern), path .. " matches " .. pattern)
      end
    end
  end)
end)
