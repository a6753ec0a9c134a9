--- CPU case, convai's layers: N usage queries made at one layer of convai, so that callgrind's
-- instructions per query can be split between the layers:
--   request  `core.session:request` alone (libcurl through the C core: options, headers, response table)
--   decode   the same plus `core.json_decode` of the body (lua-cjson, integer normalisation)
--   client   the client's method (the above plus convai.http and the typed result):
--            `convai.voicebot:whatsapp_usage` or `convai.avaamo:usage`
-- The queries are those of the sequential case (voicebot) and of the concurrent case (avaamo).
-- Prints one JSON line `{"n","ok","seconds","checksum"}`.
-- Usage: lua5.4 bench/lua/layers_convai.lua voicebot|avaamo request|decode|client N
local core = require "convai.core"

local vendor, layer = arg[1] or "voicebot", arg[2] or "client"
local n = math.tointeger(tonumber(arg[3] or "1000"))
local env = os.getenv

local query
if layer == "client" then
  local client = assert(require("convai." .. vendor).from_env())
  if vendor == "voicebot" then
    query = function(agent)
      local u = client:whatsapp_usage(agent)
      return u and u.remaining
    end
  else
    query = function(agent)
      local r = client:usage { agent_id = agent, from_date = "10/04/2020", to_date = "13/04/2020" }
      return r and r.aggregate_stats.messages_count
    end
  end
else
  local s = assert(core.session { timeout = 30, connect_timeout = 10 })
  local decode = layer == "decode"
  local url, headers, value
  if vendor == "voicebot" then
    url = function(agent) return env("CONVAI_VOICEBOT_URL") .. "/whatsapp/agent-usage?agent_id=" .. agent end
    headers = { Authorization = "Bearer " .. env("CONVAI_VOICEBOT_TOKEN"), Accept = "application/json" }
    value = function(body)
      local bi = body.data.business_initiated
      return bi.current_limit - bi.current_usage
    end
  else
    url = function(agent)
      return env("CONVAI_AVAAMO_URL") .. "/bots/analytics/" .. agent
        .. "/usage.json?utc_offset=0&from_date=10%2F04%2F2020&to_date=13%2F04%2F2020"
    end
    headers = { ["Access-Token"] = env("CONVAI_AVAAMO_TOKEN"), Accept = "application/json" }
    value = function(body) return body.aggregate_stats.messages_count end
  end
  query = function(agent)
    local resp = s:request { method = "GET", url = url(agent), headers = headers }
    if not resp or resp.status ~= 200 then return nil end
    if not decode then return 0 end
    return value(core.json_decode(resp.body))
  end
end

local ok, checksum = 0, 0
local t0 = core.monotonic()
for i = 0, n - 1 do
  local v = query(i % 100 + 1)
  if v then ok, checksum = ok + 1, checksum + v end
end
io.write(string.format('{"n":%d,"ok":%d,"seconds":%.6f,"checksum":%d}\n', n, ok, core.monotonic() - t0,
  checksum))
os.exit(ok == n and 0 or 1)
