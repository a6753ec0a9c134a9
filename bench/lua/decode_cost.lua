--- bench/lua/decode_cost.lua PATH N BODY: decode the JSON file BODY N times through one decoder path, for
-- callgrind's instructions per decode (bench/run --only decode runs it twice, N1 and N2 times, and takes
-- the difference). PATH is one of:
--   cjson        lua-cjson's decode alone (the reference; nulls stay cjson.null, numbers floats)
--   core         core.json_decode (integers, nulls absent)
--   core_typed   core.json_decode, then the client's typing of the vendor shape with core.field_checker
--                (Avaamo: 11 stats objects, success_rate made a float; voicebot: the usage object): the
--                clients' path before core.json_decoder
--   core_shape   core.json_decoder with the clients' shapes: decoded and typed in one pass (Avaamo's
--                client now)
--   core_pick    voicebot's json_decoder with `pick`: only data.business_initiated is made (voicebot's
--                client now; voicebot's body only)
-- Run with LUA_CPATH at the build to measure (another build: the same paths before a change).
local path, n, file = arg[1], tonumber(arg[2]), arg[3]
local core = require "convai.core"
local f = assert(io.open(file, "rb"))
local body = f:read("a")
f:close()

local COUNTS = { "session_count", "messages_count", "unhandled_messages_count", "successful_responses_count",
  "ambiguous_messages_count", "interventions_count", "success_rate_count" }
local fields = {}
for i = 1, #COUNTS do fields[i] = { COUNTS[i], "integer" } end
fields[#fields + 1] = { "start_time", "number" }
fields[#fields + 1] = { "end_time", "number" }
fields[#fields + 1] = { "success_rate", "float?" }
local stats_typed = core.field_checker(fields)
local usage_typed = core.field_checker { { "current_usage", "integer" }, { "current_limit", "integer" },
  { "limit_exhausted", "boolean" } }

local function typed(v)
  if v.stats then
    local s = v.stats
    return stats_typed(v.aggregate_stats, v.previous_interval_stats, s[1], s[2], s[3], s[4], s[5], s[6],
      s[7], s[8], s[9])
  end
  return usage_typed(v.data.business_initiated)
end

local decode
if path == "cjson" then
  decode = require("cjson.safe").new().decode
elseif path == "core" then
  decode = core.json_decode
elseif path == "core_typed" then
  local json_decode = core.json_decode
  decode = function(text)
    local v = json_decode(text)
    assert(typed(v))
    return v
  end
elseif path == "core_shape" then
  local stats = { start_time = "number", end_time = "number", success_rate = "float?" }
  for i = 1, #COUNTS do stats[COUNTS[i]] = "integer" end
  local avaamo = core.json_decoder { aggregate_stats = stats, previous_interval_stats = stats,
    stats = { stats, n = 9 } }
  local voicebot = core.json_decoder { data = { business_initiated = { current_usage = "integer",
    current_limit = "integer", limit_exhausted = "boolean" } } }
  local d = body:find('"stats"', 1, true) and avaamo or voicebot
  decode = function(text)
    local v, ok = d(text)
    assert(ok)
    return v
  end
elseif path == "core_pick" then
  local d = core.json_decoder({ data = { business_initiated = { current_usage = "integer",
    current_limit = "integer", limit_exhausted = "boolean" } } }, { pick = { "data", "business_initiated" } })
  decode = function(text)
    local v, ok = d(text)
    assert(ok)
    return v
  end
else
  error("unknown path " .. tostring(path))
end
assert(decode(body))
for _ = 1, n do decode(body) end
