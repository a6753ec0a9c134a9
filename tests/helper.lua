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

--- The requests the sandbox received (vendor APIs only), oldest first.
function _M.log()
  return _M.admin("GET", "/_sandbox/log").requests
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
-- @treturn integer exit status
-- @treturn string stdout
-- @treturn string stderr
function _M.cli(args, env)
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
  local cmd = string.format("env %s lua5.4 bin/convai %s >%s 2>%s </dev/null", table.concat(parts, " "),
    table.concat(quoted, " "), out, err)
  local _, _, code = os.execute(cmd)
  return code, slurp(out), slurp(err)
end

--- Deep copy with JSON semantics, for comparisons.
function _M.decode(s)
  return cjson.decode(s)
end

return _M
