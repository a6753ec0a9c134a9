--- Test helper: a real Redis server (Debian's `redis-server`) of the test's own, on a free loopback
-- port in a scratch directory, without persistence unless asked; stopped by the test. Nothing listens
-- on a fixed port.
--
--     local redis_helper = require "redis_helper"
--     local r = redis_helper.start { password = "s3cret" }   -- r.port, r.url, r.dir
--     ... r.cli("GET", "convai:x") ...                        -- redis-cli, the reply as text
--     r.restart()                                             -- same port, empty (no persistence)
--     r.stop()
local core = require "convai.core"
local harness = require "nginx.harness"
local system = require "convai.launch.system"

local _M = {}

local quote = system.quote

-- Run a shell command: true when it exits 0, and its output. The shell prints the exit status (the
-- results of io.popen's close differ between Lua 5.4 and LuaJIT).
local function run(cmd)
  local p = assert(io.popen(cmd .. " 2>&1; echo \"#rc=$?\""))
  local out = p:read("*a")
  p:close()
  local text, code = out:match("^(.*)#rc=(%d+)%s*$")
  return code == "0", text or out
end

local read_file = harness.read_file

-- A process is gone when /proc has no entry for it, or when it is a zombie whose threads have all
-- exited (its sockets are closed only then: a zombie leader of a threaded Redis may still listen).
local function alive(pid)
  local stat = read_file("/proc/" .. pid .. "/stat")
  if stat == nil then return false end
  local fields = {}
  for f in stat:gsub("^%d+ %b() ", ""):gmatch("%S+") do fields[#fields + 1] = f end
  return fields[1] ~= "Z" or tonumber(fields[18]) ~= 1 -- state, num_threads (fields 3 and 20 of proc(5))
end

--- Is redis-server installed?
-- @treturn boolean
function _M.available()
  return (run("command -v redis-server && command -v redis-cli"))
end

--- Start a Redis server.
-- @tparam[opt] table opts `password` (requirepass), `user` and `user_password` (an ACL user with all
--   rights), `appendonly` (true: AOF with `appendfsync always`), `args` (more `redis-server` arguments)
-- @treturn table `{port, url (redis://127.0.0.1:PORT, with the password if any), dir, pid(), cli(...),
--   reply(...) (cli's output, asserted and trimmed),
--   stop(), kill() (SIGKILL), restart() (stop, then start again on the same port: empty unless
--   appendonly), log()}`
function _M.start(opts)
  opts = opts or {}
  local ok, dir = run("mktemp -d /tmp/convai-redis-XXXXXX")
  assert(ok, dir)
  dir = dir:gsub("%s+$", "")
  local self = { dir = dir }
  local conf = {
    "bind 127.0.0.1", "protected-mode no", "save \"\"", "daemonize yes",
    "dir " .. dir, "pidfile " .. dir .. "/redis.pid", "logfile " .. dir .. "/redis.log",
    "appendonly " .. (opts.appendonly and "yes" or "no"),
  }
  if opts.appendonly then conf[#conf + 1] = "appendfsync always" end
  if opts.password then conf[#conf + 1] = "requirepass " .. opts.password end
  if opts.user then
    conf[#conf + 1] = ("user %s on >%s ~* &* +@all"):format(opts.user, opts.user_password or "")
  end
  for _, a in ipairs(opts.args or {}) do conf[#conf + 1] = a end

  local function launch()
    local f = assert(io.open(dir .. "/redis.conf", "wb"))
    f:write(table.concat(conf, "\n"), "\nport ", self.port, "\n")
    f:close()
    os.remove(dir .. "/redis.pid")
    local started, out = run("redis-server " .. quote(dir .. "/redis.conf"))
    if not started then return nil, out end
    local deadline = core.monotonic() + 10
    repeat
      local pong = select(2, self.cli("PING"))
      if pong:find("PONG", 1, true) or pong:find("NOAUTH", 1, true) then return true end
      if (read_file(dir .. "/redis.log") or ""):find("Address already in use", 1, true) then
        return nil, "in use"
      end
      core.sleep(0.02)
    until core.monotonic() > deadline
    return nil, "redis-server did not answer: " .. (read_file(dir .. "/redis.log") or "")
  end

  --- redis-cli against this server (authenticated), arguments as given; returns ok, output.
  function self.cli(...)
    local args = {}
    for i = 1, select("#", ...) do args[#args + 1] = quote(select(i, ...)) end
    local auth = ""
    if opts.password then auth = "--no-auth-warning -a " .. quote(opts.password) .. " " end
    return run(("redis-cli -h 127.0.0.1 -p %d %s%s"):format(self.port, auth, table.concat(args, " ")))
  end

  --- redis-cli against this server, asserting that it ran; its reply as text, without the trailing
  -- newline.
  function self.reply(...)
    local ran, out = self.cli(...)
    assert(ran, out)
    return (out:gsub("%s+$", ""))
  end

  function self.pid()
    local text = read_file(dir .. "/redis.pid")
    return text and tonumber(text:match("%d+"))
  end

  local function wait_gone(pid)
    local deadline = core.monotonic() + 10
    while pid and alive(pid) and core.monotonic() < deadline do core.sleep(0.02) end
  end

  --- Stop the server (SIGTERM), keeping its directory (for restart).
  function self.halt()
    local pid = self.pid()
    if pid then
      os.execute("kill -TERM " .. pid .. " 2>/dev/null")
      wait_gone(pid)
    end
  end

  --- Kill the server at once (SIGKILL): what a crash or a lost host looks like.
  function self.kill()
    local pid = self.pid()
    if pid then
      os.execute("kill -KILL " .. pid .. " 2>/dev/null")
      wait_gone(pid)
    end
  end

  --- Start it again on the same port (empty unless `appendonly`).
  function self.restart()
    self.halt()
    assert(launch())
  end

  --- Stop it and remove its directory.
  function self.stop()
    self.halt()
    run("rm -rf " .. quote(dir))
  end

  function self.log()
    return read_file(dir .. "/redis.log") or ""
  end

  math.randomseed(os.time() + math.floor(os.clock() * 1e6))
  local last
  for _ = 1, 20 do
    self.port = math.random(20000, 59000)
    local up, err = launch()
    if up then
      local cred = opts.password and (":" .. opts.password .. "@") or ""
      self.url = ("redis://%s127.0.0.1:%d"):format(cred, self.port)
      return self
    end
    last = err
    self.halt()
    if err ~= "in use" then break end
  end
  run("rm -rf " .. quote(dir))
  error("redis-server failed to start: " .. tostring(last))
end

return _M
