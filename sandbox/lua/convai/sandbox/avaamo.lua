-- Sandbox emulation of Avaamo's analytics "agent usage" API (docs/api-notes.md §2):
--   GET /avaamo/bots/analytics/{agent_id}/usage.json?utc_offset=&from_date=&to_date=  (Access-Token)
-- The documented sample query gets the documented sample text verbatim (avaamo_sample.lua). Any other
-- query gets deterministic synthetic data: a pure function of agent id and window that keeps every
-- documented relation between the counts. Plain Lua (LuaJIT or 5.4): no ngx API here.

local common = require("convai.sandbox.common")
local sample = require("convai.sandbox.avaamo_sample")

local floor, min, max, sin, pi = math.floor, math.min, math.max, math.sin, math.pi

local _M = {}

--- The Access-Token the sandbox accepts.
_M.TOKEN = "sandbox-avaamo-token"
--- Path prefix of the API base URL on the sandbox.
_M.PREFIX = "/avaamo"
--- Number of slices in `stats`.
_M.SLICES = 9
--- Window of the documented sample (docs/api-notes.md §2): start and end, epoch seconds.
_M.SAMPLE_START, _M.SAMPLE_END = 1586502000, 1586847599

local DAY = 86400

-- 32-bit integer hashing (MurmurHash3's finaliser) with exact double arithmetic, so that LuaJIT and
-- Lua 5.4 give the same numbers. Only xor and right shift need bit operations.
local TWO32 = 4294967296
local bxor, rshift
do
  local ok, bit = pcall(require, "bit")
  if ok then
    bxor = function(a, b) return bit.bxor(a, b) % TWO32 end
    rshift = function(a, n) return bit.rshift(a, n) % TWO32 end
  else
    -- Lua 5.3+: native operators, loaded as text so that LuaJIT never parses them.
    bxor, rshift = assert(load([[
      return function(a, b) return (math.tointeger(a) ~ math.tointeger(b)) & 0xffffffff end,
             function(a, n) return math.tointeger(a) >> n end
    ]]))()
  end
end

local function mul32(a, b)
  local lo = a % 65536
  local hi = (a - lo) / 65536
  return ((hi * b % 65536) * 65536 + lo * b) % TWO32
end

local function fmix32(h)
  h = bxor(h, rshift(h, 16))
  h = mul32(h, 0x85ebca6b)
  h = bxor(h, rshift(h, 13))
  h = mul32(h, 0xc2b2ae35)
  return bxor(h, rshift(h, 16))
end

-- Hash a list of non-negative integers to [0, 2^32).
local function hash(...)
  local h = 0x2545f491
  for i = 1, select("#", ...) do
    local x = select(i, ...) % TWO32
    h = fmix32((bxor(h, fmix32(x)) + 0x9e3779b9) % TWO32)
  end
  return h
end

-- Uniform numbers in [0, 1) derived from a hash.
local function stream(h)
  local i = 0
  return function()
    i = i + 1
    return fmix32((h + i * 0x9e3779b9) % TWO32) / TWO32
  end
end

--- Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
-- @tparam integer y year
-- @tparam integer m month 1..12
-- @tparam integer d day 1..31
-- @treturn integer days (negative before 1970)
function _M.days_from_civil(y, m, d)
  if m <= 2 then
    y = y - 1
  end
  local era = floor(y / 400)
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

local function days_in_month(y, m)
  if m == 2 then
    local leap = (y % 4 == 0 and y % 100 ~= 0) or y % 400 == 0
    return leap and 29 or 28
  end
  return (m == 4 or m == 6 or m == 9 or m == 11) and 30 or 31
end

--- Parse a dd/mm/yyyy date (day and month may have one digit) that must exist in the calendar.
-- @tparam string s
-- @treturn integer|nil days since 1970-01-01
-- @treturn string error message
function _M.parse_date(s)
  local d, m, y = s:match("^(%d%d?)/(%d%d?)/(%d%d%d%d)$")
  if not d then
    return nil, "expected dd/mm/yyyy"
  end
  d, m, y = tonumber(d), tonumber(m), tonumber(y)
  if y < 1 or m < 1 or m > 12 or d < 1 or d > days_in_month(y, m) then
    return nil, "not a calendar date"
  end
  return _M.days_from_civil(y, m, d)
end

-- Synthetic traffic model. Traffic exists from 2015 to 2099 (UTC days); outside, every count is 0.
local FIRST_DAY = _M.days_from_civil(2015, 1, 1)
local END_DAY = _M.days_from_civil(2100, 1, 1)

-- Per-agent constants: size, message mix and a daily profile with four quiet hours (UTC).
local function agent_profile(agent)
  local r = stream(hash(1, agent))
  local p = {
    peak = 10 + 300 * r(),         -- sessions in a busy hour
    per_session = 3 + 4 * r(),     -- messages per session
    unhandled = 0.02 + 0.05 * r(), -- share of messages
    ambiguous = 0.01 + 0.05 * r(), -- share of messages
    mismatched = 0.3 * r(),        -- share of ambiguous messages
    quiet = floor(24 * r()),       -- first quiet hour of the day
    weights = {},
  }
  local ir = r()
  p.interventions = ir < 0.4 and 0 or 0.03 * r() -- per session; many agents have none
  local total = 0
  for h = 0, 23 do
    local k = (h - p.quiet) % 24
    local w = k < 4 and 0 or 0.15 + sin(pi * (k - 3.5) / 20)
    p.weights[h] = w
    total = total + w
  end
  for h = 0, 23 do
    p.weights[h] = p.weights[h] / total
  end
  return p
end

-- Totals of one UTC day as floats: sessions, messages, unhandled, ambiguous, mismatched, interventions.
local function day_totals(agent, profile, day)
  if day < FIRST_DAY or day >= END_DAY then
    return nil
  end
  local r = stream(hash(2, agent, day))
  if r() < 0.04 then
    return nil -- a day without traffic
  end
  local dow = (day + 4) % 7 -- 0 = Sunday
  local weekend = (dow == 0 or dow == 6) and 0.45 or 1
  local sessions = profile.peak * 24 * 0.55 * weekend * (0.6 + 0.8 * r())
  local messages = sessions * profile.per_session * (0.85 + 0.3 * r())
  local ambiguous = messages * profile.ambiguous * (0.6 + 0.8 * r())
  return {
    sessions,
    messages,
    messages * profile.unhandled * (0.6 + 0.8 * r()),
    ambiguous,
    ambiguous * profile.mismatched,
    sessions * profile.interventions * r(),
  }
end

-- Sum the model over [s, e) (epoch seconds, fractional allowed); hours cut by the window count
-- pro rata. `cache` memoises day totals within one request.
local function window_sums(agent, profile, s, e, cache)
  local acc = { 0, 0, 0, 0, 0, 0 }
  local first = max(floor(s / DAY), FIRST_DAY)
  local last = min(floor(e / DAY), END_DAY - 1)
  for day = first, last do
    local t = cache[day]
    if t == nil then
      t = day_totals(agent, profile, day) or false
      cache[day] = t
    end
    if t then
      local ds = day * DAY
      if s <= ds and ds + DAY <= e then
        for i = 1, 6 do
          acc[i] = acc[i] + t[i]
        end
      else
        for h = 0, 23 do
          local hs = ds + h * 3600
          local overlap = min(e, hs + 3600) - max(s, hs)
          if overlap > 0 then
            local f = profile.weights[h] * overlap / 3600
            for i = 1, 6 do
              acc[i] = acc[i] + t[i] * f
            end
          end
        end
      end
    end
  end
  return acc
end

--- Build one stats object from float sums, keeping every documented relation:
-- successful = messages - unhandled - ambiguous; success_rate = successful / messages * 100 rounded
-- to 2 decimals (null when messages is 0); success_rate_count = successful + ambiguous - mismatched.
-- @tparam number start_time epoch seconds
-- @tparam number end_time epoch seconds
-- @tparam table sums {sessions, messages, unhandled, ambiguous, mismatched, interventions} (floats)
-- @treturn table stats object
function _M.stats_object(start_time, end_time, sums)
  local sessions = floor(sums[1])
  local messages, unhandled, ambiguous, mismatched, interventions = 0, 0, 0, 0, 0
  if sessions > 0 then
    messages = floor(sums[2])
    unhandled = floor(sums[3])
    ambiguous = floor(sums[4])
    mismatched = min(floor(sums[5]), ambiguous)
    interventions = floor(sums[6])
  end
  local successful = messages - unhandled - ambiguous
  local rate = common.null
  if messages > 0 then
    rate = floor(successful / messages * 10000 + 0.5) / 100
  end
  return {
    start_time = start_time,
    end_time = end_time,
    session_count = sessions,
    messages_count = messages,
    unhandled_messages_count = unhandled,
    successful_responses_count = successful,
    ambiguous_messages_count = ambiguous,
    interventions_count = interventions,
    success_rate_count = successful + ambiguous - mismatched,
    success_rate = rate,
  }
end

--- Synthetic usage report for an agent and an aggregate window.
-- @tparam number agent agent id (positive integer)
-- @tparam number start aggregate start, epoch seconds
-- @tparam number finish aggregate end, epoch seconds
-- @treturn table `{aggregate_stats, previous_interval_stats, stats = {9 slices}}`
function _M.report(agent, start, finish)
  local profile = agent_profile(agent)
  local cache = {}
  local length = finish - start
  local function object(s, e)
    return _M.stats_object(s, e, window_sums(agent, profile, s, e, cache))
  end
  local bounds = {}
  local d = length / _M.SLICES
  for i = 0, _M.SLICES - 1 do
    bounds[i] = start + i * d
  end
  bounds[_M.SLICES] = finish
  local stats = {}
  for i = 1, _M.SLICES do
    stats[i] = object(bounds[i - 1], bounds[i])
  end
  return {
    aggregate_stats = object(start, finish),
    previous_interval_stats = object(start - length, start),
    stats = stats,
  }
end

local function fail(message)
  return 422, { error = message }
end

--- Handle a request under `PREFIX`.
-- @tparam table req `{method, path, args, headers (lower-cased), body, now (sandbox clock, s)}`
-- @treturn integer HTTP status
-- @treturn table|string body: a table to encode as JSON, or JSON text to send as it is
function _M.handle(req)
  local id = req.path:match("^/avaamo/bots/analytics/([^/]+)/usage%.json$")
  if not id or (req.method ~= "GET" and req.method ~= "HEAD") then
    return 404, { error = "Not Found" }
  end
  if req.headers["access-token"] ~= _M.TOKEN then
    return 401, { error = "Unauthorized" }
  end
  local agent = common.parse_digits(id)
  if not agent or agent < 1 then
    return 404, { error = "Not Found" }
  end

  local offset = 0
  local raw = common.arg(req.args.utc_offset)
  if raw and raw ~= "" then
    offset = raw:match("^[+-]?%d+%.?%d*$") and tonumber(raw)
    if not offset or math.abs(offset) > DAY then
      return fail("utc_offset must be a number of seconds between -86400 and 86400")
    end
  end

  local to_day, from_day, err
  raw = common.arg(req.args.to_date)
  if raw and raw ~= "" then
    to_day, err = _M.parse_date(raw)
    if not to_day then
      return fail("Invalid to_date " .. raw .. ": " .. err)
    end
  else
    to_day = floor((req.now + offset) / DAY) -- today in the utc_offset zone
  end
  raw = common.arg(req.args.from_date)
  if raw and raw ~= "" then
    from_day, err = _M.parse_date(raw)
    if not from_day then
      return fail("Invalid from_date " .. raw .. ": " .. err)
    end
  else
    from_day = to_day - 3
  end
  if to_day < from_day then
    return fail("To Date cannot be before From Date")
  end

  local start = from_day * DAY - offset
  local finish = to_day * DAY + DAY - 1 - offset
  if start == _M.SAMPLE_START and finish == _M.SAMPLE_END then
    return 200, sample
  end
  return 200, _M.report(agent, start, finish)
end

return _M
