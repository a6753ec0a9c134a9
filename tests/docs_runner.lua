-- Runs a Lua snippet of the documentation against the sandbox: `lua5.4 tests/docs_runner.lua FILE`
-- (tests/lua/docs_spec.lua runs it in a temporary directory). The snippet runs as it is written, with
-- the vendor clients it makes pointed at the sandbox: `new` gets the sandbox's base URL and credential
-- in place of the documented ones (a production host, `TOKEN`, `KEY`); `from_env` reads the environment
-- that `convai sandbox start` printed. `URL`, `TOKEN`, `KEY`, `url` and `key` are the sandbox's;
-- `voicebot`, `avaamo` and `vonage` are the modules. A `print(...)` on a line whose comment is
-- `--> a  b  c` must print those values: the documented output is checked.
local path = assert(arg[1], "usage: docs_runner.lua FILE")

local getenv = os.getenv
local VENDORS = {
  voicebot = { url = getenv("CONVAI_VOICEBOT_URL"), secret = "token", value = getenv("CONVAI_VOICEBOT_TOKEN") },
  avaamo = { url = getenv("CONVAI_AVAAMO_URL"), secret = "access_token", value = getenv("CONVAI_AVAAMO_TOKEN") },
  vonage = { url = getenv("CONVAI_VONAGE_URL"), secret = "api_key", value = getenv("CONVAI_VONAGE_KEY") },
}

-- A vendor module whose `new` points the client at the sandbox.
local function at_sandbox(name)
  local real, v = require("convai." .. name), VENDORS[name]
  return setmetatable({
    new = function(o)
      local c = {}
      for k, x in pairs(o or {}) do c[k] = x end
      c.base_url, c.region, c[v.secret] = v.url, nil, v.value
      return real.new(c)
    end,
  }, { __index = real })
end

local modules = { ["convai.voicebot"] = at_sandbox("voicebot"), ["convai.avaamo"] = at_sandbox("avaamo"),
  ["convai.vonage"] = at_sandbox("vonage") }

local f = assert(io.open(path, "rb"))
local code = f:read("a")
f:close()
local lines = {}
for line in (code .. "\n"):gmatch("([^\n]*)\n") do lines[#lines + 1] = line end

-- print, checked against the line's `--> expected` comment when it has one.
local function checked_print(...)
  local t = table.pack(...)
  for i = 1, t.n do t[i] = tostring(t[i]) end
  io.stdout:write(table.concat(t, "\t"), "\n")
  local line = lines[debug.getinfo(2, "l").currentline] or ""
  local expected = line:match("print%b().-%-%->%s*(.-)%s*$")
  if expected then
    local want = {}
    for w in expected:gmatch("%S+") do want[#want + 1] = w end
    local got = table.concat(t, " ", 1, t.n)
    if table.concat(want, " ") ~= got then
      error(string.format("line %d prints %q; the documentation says %q", debug.getinfo(2, "l").currentline,
        got, table.concat(want, " ")), 2)
    end
  end
end

local env = setmetatable({
  print = checked_print,
  require = function(name) return modules[name] or require(name) end,
  voicebot = modules["convai.voicebot"], avaamo = modules["convai.avaamo"], vonage = modules["convai.vonage"],
  URL = VENDORS.voicebot.url, TOKEN = VENDORS.voicebot.value, KEY = VENDORS.vonage.value,
  url = VENDORS.vonage.url, key = VENDORS.vonage.value,
}, { __index = _G })
local chunk = assert(load(code, "=" .. path, "t", env))
chunk()
