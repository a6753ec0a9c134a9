--- Memory case, convai (Lua 5.4): in one process, N1 queries, then the peak resident set size
-- (VmHWM from /proc/self/status) and the Lua heap; then on to N2 queries and the same again. Growth
-- between the two must be flat. The queries are those of the sequential case (see seq_convai.lua).
-- Prints one JSON line `{"n1","n2","hwm1_kib","hwm2_kib","heap1_kib","heap2_kib","ok","seconds"}`.
-- Usage: lua5.4 bench/lua/memory_convai.lua voicebot|avaamo N1 N2
local core = require "convai.core"

local vendor = arg[1] or "voicebot"
local n1 = math.tointeger(tonumber(arg[2] or "10000"))
local n2 = math.tointeger(tonumber(arg[3] or "100000"))
local client = assert(require("convai." .. vendor).from_env())

local function hwm_kib()
  local f = assert(io.open("/proc/self/status"))
  local text = f:read("a")
  f:close()
  return math.tointeger(tonumber(text:match("VmHWM:%s*(%d+) kB")))
end

local query
if vendor == "voicebot" then
  query = function(agent) return client:whatsapp_usage(agent) end
else
  query = function(agent)
    return client:usage { agent_id = agent, from_date = "10/04/2020", to_date = "13/04/2020" }
  end
end

local ok = 0
local t0 = core.monotonic()
local function run(from, to)
  for i = from, to - 1 do
    local v, err = query(i % 100 + 1)
    if v then ok = ok + 1 elseif ok == 0 then io.stderr:write(tostring(err), "\n") end
  end
end
run(0, n1)
local hwm1, heap1 = hwm_kib(), collectgarbage("count")
run(n1, n2)
local hwm2, heap2 = hwm_kib(), collectgarbage("count")
local seconds = core.monotonic() - t0
client:close()
io.write(string.format('{"n1":%d,"n2":%d,"hwm1_kib":%d,"hwm2_kib":%d,"heap1_kib":%.0f,"heap2_kib":%.0f,'
  .. '"ok":%d,"seconds":%.3f}\n', n1, n2, hwm1, hwm2, heap1, heap2, ok, seconds))
os.exit(ok == n2 and 0 or 1)
