--- Test harness: run Debian's nginx with its Lua module on a free loopback port, with a configuration
-- written into a private temporary directory (`-p dir/ -c dir/nginx.conf`), for the OpenResty specs
-- (tests/lua/ngx/openresty_spec.lua). Plain Lua 5.4, run by busted.
--
-- The workers run as `nobody` when the tests run as root (nginx's default), so the directory is made
-- traversable and the temp path for request bodies writable by them; the Lua modules are loaded by the
-- master in init_by_lua.
local _M = {}

local function quote(s)
  return "'" .. tostring(s):gsub("'", [['\'']]) .. "'"
end

--- Run a shell command; returns success and its combined output.
function _M.run(cmd)
  local p = assert(io.popen(cmd .. " 2>&1", "r"))
  local out = p:read("a") or ""
  local ok = p:close()
  return ok == true, out
end
local run = _M.run

local function exists(path)
  local f = io.open(path, "r")
  if f then f:close() end
  return f ~= nil
end

function _M.read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

function _M.write_file(path, text)
  local f = assert(io.open(path, "wb"))
  assert(f:write(text))
  f:close()
end

--- The nginx binary, or nil.
function _M.nginx()
  local env = os.getenv("CONVAI_NGINX")
  if env and env ~= "" then return env end
  if exists("/usr/sbin/nginx") then return "/usr/sbin/nginx" end
  local ok, out = run("command -v nginx")
  return ok and out:match("^(%S+)") or nil
end

--- The load_module lines for ndk and ngx_lua ("" when nginx has ngx_lua built in), or nil.
function _M.load_modules(nginx)
  local _, v = run(quote(nginx) .. " -V")
  local dirs = { v:match("%-%-modules%-path=(%S+)"), "/usr/lib/nginx/modules", "/usr/share/nginx/modules" }
  for _, d in ipairs(dirs) do
    if d and exists(d .. "/ngx_http_lua_module.so") then
      local lines = {}
      if exists(d .. "/ndk_http_module.so") then lines[#lines + 1] = "load_module " .. d .. "/ndk_http_module.so;" end
      lines[#lines + 1] = "load_module " .. d .. "/ngx_http_lua_module.so;"
      return table.concat(lines, "\n")
    end
  end
  if v:match("lua%-nginx%-module") or v:match("openresty") then return "" end
  return nil
end

--- Substitute `${name}` in a template.
function _M.fill(template, vars)
  return (template:gsub("%${([%w_]+)}", function(k)
    local v = vars[k]
    assert(v ~= nil, "template variable " .. k .. " not set")
    return tostring(v)
  end))
end

--- Seconds on the monotonic clock of the core (for measuring).
function _M.clock()
  return require("convai.core").monotonic()
end

local function sleep(s)
  os.execute("sleep " .. s)
end

local function http_code(url)
  local _, out = run("curl -s -o /dev/null --max-time 2 -w '%{http_code}' " .. quote(url))
  return out:match("%d%d%d")
end

local function alive(pid)
  local stat = _M.read_file("/proc/" .. pid .. "/stat")
  if stat then return not stat:match("^%d+ %b() Z") end
  return os.execute("kill -0 " .. pid .. " 2>/dev/null") == true
end

--- Start nginx.
-- @tparam table opts `conf` (template: `${port}`, `${dir}`, `${modules}` and `opts.vars` are filled),
--   `vars` (table), `health` (path answering 200 once up, default "/health"), `prepare` (function(dir)
--   run before nginx starts, e.g. to make certificates); `${port2}`..`${port4}` are the next ports
-- @treturn table `{dir, port, url, conf, stop = function, error_log = function}`
function _M.start(opts)
  local nginx = assert(_M.nginx(), "nginx is not installed")
  local modules = assert(_M.load_modules(nginx), "ngx_http_lua_module.so not found")
  local ok, dir = run("mktemp -d /tmp/convai-openresty-XXXXXX")
  assert(ok, dir)
  dir = dir:gsub("%s+$", "")
  -- the workers (nobody when the tests run as root) write request bodies under client_body_temp
  assert(run("chmod 0755 " .. quote(dir) .. " && mkdir -m 0777 " .. quote(dir .. "/client_body_temp")))
  if opts.prepare then opts.prepare(dir) end
  math.randomseed(os.time() + math.floor(os.clock() * 1e6))
  local last
  for _ = 1, 10 do
    local port = math.random(20000, 59000)
    local vars = { port = port, port2 = port + 1, port3 = port + 2, port4 = port + 3, dir = dir,
      modules = modules }
    for k, v in pairs(opts.vars or {}) do vars[k] = v end
    local conf = _M.fill(opts.conf, vars)
    _M.write_file(dir .. "/nginx.conf", conf)
    _M.write_file(dir .. "/error.log", "")
    local started, out = run(("%s -p %s -c %s -e %s"):format(quote(nginx), quote(dir .. "/"),
      quote(dir .. "/nginx.conf"), quote(dir .. "/error.log")))
    if started then
      local inst = { dir = dir, port = port, vars = vars, url = "http://127.0.0.1:" .. port, conf = conf }
      function inst.pid()
        local text = _M.read_file(dir .. "/nginx.pid")
        return text and tonumber(text:match("%d+"))
      end
      inst.log_offset = 0
      function inst.error_log() -- what nginx logged since it answered its health check
        return (_M.read_file(dir .. "/error.log") or ""):sub(inst.log_offset + 1)
      end
      function inst.stop()
        local pid = inst.pid()
        if pid then
          os.execute("kill -TERM " .. pid .. " 2>/dev/null")
          local deadline = os.time() + 10
          while alive(pid) and os.time() <= deadline do sleep(0.05) end
        end
        run("rm -rf " .. quote(dir))
      end
      local deadline = os.time() + 10
      repeat
        if http_code(inst.url .. (opts.health or "/health")) == "200" then
          inst.log_offset = #(_M.read_file(dir .. "/error.log") or "")
          return inst
        end
        sleep(0.05)
      until os.time() > deadline
      local log = inst.error_log()
      inst.stop()
      error("nginx did not answer on " .. inst.url .. ":\n" .. log)
    end
    last = out .. (_M.read_file(dir .. "/error.log") or "")
    if not last:find("in use", 1, true) then break end
  end
  run("rm -rf " .. quote(dir))
  error("nginx failed to start: " .. tostring(last))
end

--- Lines of an error log that show a problem: alert, crit and emerg lines, Lua errors, and error lines
-- that match none of the `allowed` patterns (plain substrings).
-- @tparam string log
-- @tparam[opt] table allowed
-- @treturn table the lines
function _M.problems(log, allowed)
  local out = {}
  for line in log:gmatch("[^\n]+") do
    local level = line:match("%[(%a+)%]")
    local bad = level == "alert" or level == "crit" or level == "emerg"
      or line:find("lua entry thread aborted", 1, true) or line:find("stack traceback", 1, true)
      or line:find("runtime error", 1, true)
    if not bad and level == "error" then
      bad = true
      for _, pat in ipairs(allowed or {}) do
        if line:find(pat, 1, true) then bad = false end
      end
    end
    if bad then out[#out + 1] = line end
  end
  return out
end

--- Make a self-signed certificate (key and cert PEM files) for a common name; true on success.
function _M.certificate(dir, name, cn)
  return run(("openssl req -x509 -newkey rsa:2048 -nodes -keyout %s -out %s -days 2 -subj /CN=%s")
    :format(quote(dir .. "/" .. name .. ".key"), quote(dir .. "/" .. name .. ".pem"), cn))
end

_M.quote = quote
_M.sleep = sleep
return _M
