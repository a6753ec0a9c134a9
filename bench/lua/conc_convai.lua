--- Concurrent case, convai (Lua 5.4): N Avaamo usage queries across 100 agents with
-- `client:batch(calls, {concurrency = C, on_result = f})` (convai.batch: the requests overlap on one
-- libcurl multi handle), each typed result handed to `f` as it comes. Prints one JSON line
-- `{"n","ok","seconds","checksum"}` (checksum = sum of aggregate messages_count), or
-- `{"pending": reason}` and exit status 3 when this checkout has no batch API yet.
-- Usage: lua5.4 bench/lua/conc_convai.lua N C
local core = require "convai.core"
local avaamo = require "convai.avaamo"

local n = math.tointeger(tonumber(arg[1] or "5000"))
local conc = math.tointeger(tonumber(arg[2] or "16"))
local client = assert(avaamo.from_env())
if type(client.batch) ~= "function" then
  io.write('{"pending":"client:batch is not in this checkout yet"}\n')
  os.exit(3)
end

local calls = {}
for i = 0, n - 1 do
  calls[#calls + 1] = { "usage",
    { agent_id = i % 100 + 1, from_date = "10/04/2020", to_date = "13/04/2020" } }
end

-- Each typed result is handed to on_result as its query finishes and not kept, as the other
-- contenders do (they add to the checksum and drop the result).
local ok, checksum, first_err = 0, 0, nil
local function on_result(_, value, err)
  if value then
    ok = ok + 1
    checksum = checksum + value.aggregate_stats.messages_count
  else
    first_err = first_err or err
  end
end
local t0 = core.monotonic()
local handed, berr = client:batch(calls, { concurrency = conc, on_result = on_result })
local seconds = core.monotonic() - t0
if not handed then
  io.stderr:write(tostring(berr), "\n")
  os.exit(1)
end
if first_err and ok == 0 then io.stderr:write(tostring(first_err), "\n") end
client:close()
io.write(string.format('{"n":%d,"ok":%d,"seconds":%.6f,"checksum":%d}\n', n, ok, seconds, checksum))
os.exit(ok == n and 0 or 1)
