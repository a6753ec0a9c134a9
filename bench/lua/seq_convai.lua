--- Sequential case, convai (Lua 5.4): N usage queries, one after the other, on the client's one
-- kept-alive connection, each returning the typed result.
--   voicebot: `convai.voicebot.from_env():whatsapp_usage(agent)`, agents cycling 1..100;
--             checksum = sum of `remaining`
--   avaamo:   `convai.avaamo.from_env():usage{agent_id = agent, from_date = "10/04/2020",
--             to_date = "13/04/2020"}`, agents cycling 1..100; checksum = sum of aggregate messages_count
-- Prints one JSON line `{"n":N,"ok":K,"seconds":S,"checksum":C,"connections":K}`.
-- Usage: lua5.4 bench/lua/seq_convai.lua voicebot|avaamo N
local core = require "convai.core"

local vendor = arg[1] or "voicebot"
local n = math.tointeger(tonumber(arg[2] or "5000"))
local client = assert(require("convai." .. vendor).from_env())

local query
if vendor == "voicebot" then
  query = function(agent)
    local u, err = client:whatsapp_usage(agent)
    return u and u.remaining, err
  end
else
  query = function(agent)
    local r, err = client:usage { agent_id = agent, from_date = "10/04/2020", to_date = "13/04/2020" }
    return r and r.aggregate_stats.messages_count, err
  end
end

local ok, checksum = 0, 0
local t0 = core.monotonic()
for i = 0, n - 1 do
  local v, err = query(i % 100 + 1)
  if v then
    ok = ok + 1
    checksum = checksum + v
  elseif ok == 0 then
    io.stderr:write(tostring(err), "\n")
  end
end
local seconds = core.monotonic() - t0
local connections = client.http.session:stats().connections
client:close()
io.write(string.format('{"n":%d,"ok":%d,"seconds":%.6f,"checksum":%d,"connections":%d}\n',
  n, ok, seconds, checksum, connections))
os.exit(ok == n and 0 or 1)
