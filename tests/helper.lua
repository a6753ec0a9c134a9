--- Test helper: the sandbox that scripts/test started, its admin API, and running the CLI.
--
-- scripts/test starts a sandbox on a free port and exports CONVAI_TEST_SANDBOX and the CONVAI_* variables
-- that `convai sandbox start` prints; specs talk to it over real HTTP.
local core = require "convai.core"
local cjson = require "cjson.safe"

local _M = {}

local base = os.getenv("CONVAI_TEST_SANDBOX")
assert(base, "CONVAI_TEST_SANDBOX is not set: run the suite with scripts/test, which starts a sandbox")
_M.url = base
_M.root = os.getenv("PWD")
--- True when scripts/test-memory runs the suite under ASan or valgrind (CONVAI_TEST_SLOW=1): the process
-- runs many times slower, so claims about timing (achieved rate, zero 429s) are not what that run checks.
_M.slow = os.getenv("CONVAI_TEST_SLOW") == "1"

local session = assert(core.session { timeout = 10 })

--- Close the admin API's kept-alive connection (the next call opens another), so that a count of the
-- process's descriptors does not depend on whether it is open.
function _M.drop_admin_connection()
  session:close()
  session = assert(core.session { timeout = 10 })
end

--- Call the sandbox admin API; returns the decoded JSON body and the status.
function _M.admin(method, path, body)
  local resp = assert(session:request {
    method = method,
    url = base .. path,
    headers = body and { ["Content-Type"] = "application/json" } or nil,
    body = body and assert(cjson.encode(body)) or nil,
  })
  return cjson.decode(resp.body), resp.status
end

--- Reset the sandbox: empty log, usage windows, rate state and configuration.
function _M.reset()
  local _, status = _M.admin("POST", "/_sandbox/reset")
  assert(status == 200, "sandbox reset failed")
end

function _M.config(cfg)
  local body, status = _M.admin("POST", "/_sandbox/config", cfg)
  assert(status == 200, "sandbox config failed: " .. tostring(status))
  return body
end

local CLIENT_ENV = {
  voicebot = { url = "CONVAI_VOICEBOT_URL", secret = "token", secret_env = "CONVAI_VOICEBOT_TOKEN" },
  avaamo = { url = "CONVAI_AVAAMO_URL", secret = "access_token", secret_env = "CONVAI_AVAAMO_TOKEN" },
  vonage = { url = "CONVAI_VONAGE_URL", secret = "api_key", secret_env = "CONVAI_VONAGE_KEY" },
}

--- A client of the sandbox: `kind` "voicebot", "avaamo" or "vonage", its base URL and credential from
-- the sandbox's CONVAI_* variables, then `opts` (and `more`) laid over them; raises if refused.
function _M.client(kind, opts, more)
  local e = CLIENT_ENV[kind]
  local o = { base_url = _M.env(e.url), [e.secret] = _M.env(e.secret_env) }
  for k, v in pairs(opts or {}) do o[k] = v end
  for k, v in pairs(more or {}) do o[k] = v end
  return assert(require("convai." .. kind).new(o))
end

--- Arm a sandbox fault (`POST /_sandbox/faults`, see convai.sandbox.faults); raises unless accepted.
-- @treturn table the sandbox's answer
function _M.add_fault(spec)
  local body, status = _M.admin("POST", "/_sandbox/faults", spec)
  assert(status == 201, "sandbox refused the fault: " .. tostring(cjson.encode(body)))
  return body
end

--- The faults still armed in the sandbox.
function _M.pending_faults()
  return _M.admin("GET", "/_sandbox/faults").faults
end

--- Call `fn` every 50 ms until it returns a true value, for at most `timeout` seconds (default 5).
-- @treturn the last value `fn` returned
function _M.wait_for(fn, timeout)
  local deadline = core.monotonic() + (timeout or 5)
  local v = fn()
  while not v and core.monotonic() < deadline do
    core.sleep(0.05)
    v = fn()
  end
  return v
end

--- Run `f(...)`: its first two results and the seconds it took.
function _M.timed(f, ...)
  local t0 = core.monotonic()
  local a, b = f(...)
  return a, b, core.monotonic() - t0
end

--- Open sockets of this process, after a full collection (sessions left to the collector close) and
-- with the admin API's connection closed, so that two counts compare. Only sockets: the pipe of popen
-- may be counted once or twice.
function _M.open_sockets()
  _M.drop_admin_connection()
  collectgarbage()
  collectgarbage()
  local f = assert(io.open("/proc/self/stat"))
  local pid = f:read("l"):match("^(%d+)")
  f:close()
  local p = assert(io.popen("ls -l /proc/" .. pid .. "/fd 2>/dev/null | grep -c socket:"))
  local n = tonumber(p:read("a"):match("%d+"))
  p:close()
  return n
end

local triggers = 0
--- A WhatsApp trigger of `client` (a convai.vonage client) with a new agent, `prefix .. n` (the sandbox
-- allows 1 per second per agent), and a new number.
function _M.trigger(client, prefix)
  triggers = triggers + 1
  return client:trigger_whatsapp {
    agent_id = prefix .. triggers, namespace = "ns_1", template = "appointment_reminder",
    locale = "en_GB", to = string.format("+44 7700 9%05d", triggers), status_url = "https://example.com/s",
  }
end

--- Claims of rate-limit slots made by several clients are distinct slots at least `interval` apart.
-- Each claim is `{lo =, hi =}`: the wall-clock bounds of its slot's start as its client saw it (the
-- clock before the call plus the delay returned, and after the call plus the delay), so a client
-- descheduled around its call widens its bounds instead of failing the check. Sorts `claims`.
-- @tparam table claims
-- @tparam number interval seconds
-- @treturn boolean true, or raises naming the two claims too close
function _M.distinct_slots(claims, interval)
  table.sort(claims, function(a, b) return a.lo + a.hi < b.lo + b.hi end)
  for i = 2, #claims do
    local gap = claims[i].hi - claims[i - 1].lo
    if gap < interval - 0.001 then
      error(("slots %d and %d at most %.4f s apart (interval %.4f s)"):format(i - 1, i, gap, interval), 2)
    end
  end
  return true
end

--- The requests the sandbox received (vendor APIs only), oldest first.
function _M.log()
  return _M.admin("GET", "/_sandbox/log").requests
end

--- The sandbox's log entries of one agent's Vonage sessions (POSTs whose body names `agent`), once `n`
-- are there or after `timeout` seconds (default 5): the sandbox logs a request after answering it, so the
-- last one may show up a moment after its answer.
function _M.agent_log(agent, n, timeout)
  local deadline, out = core.monotonic() + (timeout or 5)
  repeat
    out = {}
    for _, e in ipairs(_M.log()) do
      if e.method == "POST" and (cjson.decode(e.body) or {}).agent_id == agent then out[#out + 1] = e end
    end
    if #out >= n then break end
    core.sleep(0.02)
  until core.monotonic() > deadline
  return out
end

--- Environment for a client pointed at the sandbox, as `convai sandbox start` prints it.
function _M.env(name)
  return os.getenv(name)
end

local function shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local function slurp(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  os.remove(path)
  return s
end

--- Run the CLI (bin/convai of this checkout) with arguments and extra environment.
-- @tparam table args
-- @tparam[opt] table env `{NAME = value | false}`; false unsets the variable
-- @tparam[opt] string dir run `DIR/bin/convai` from `dir` instead (a checkout made by a spec)
-- @treturn integer exit status
-- @treturn string stdout
-- @treturn string stderr
function _M.cli(args, env, dir)
  local unset, set = {}, {}
  for name, value in pairs(env or {}) do
    if value == false then
      unset[#unset + 1] = "-u " .. name -- env(1) takes its options before any NAME=VALUE
    else
      set[#set + 1] = name .. "=" .. shell_quote(value)
    end
  end
  local parts = unset
  for _, p in ipairs(set) do parts[#parts + 1] = p end
  local quoted = {}
  for i, a in ipairs(args) do quoted[i] = shell_quote(a) end
  local out, err = os.tmpname(), os.tmpname()
  local cmd = string.format("%senv %s lua5.4 bin/convai %s >%s 2>%s </dev/null",
    dir and "cd " .. shell_quote(dir) .. " && " or "", table.concat(parts, " "), table.concat(quoted, " "), out, err)
  local _, _, code = os.execute(cmd)
  return code, slurp(out), slurp(err)
end

--- Deep copy with JSON semantics, for comparisons.
function _M.decode(s)
  return cjson.decode(s)
end

return _M
