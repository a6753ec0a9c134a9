--- convai.campaign.pace: a campaign's pace that listens to the vendor (AIMD).
--
-- The configured rate of an agent (`CONVAI_VONAGE_RATES`, else 1) may be above what the vendor really
-- accepts. When 429s without `Retry-After` repeat (`REPEATED` of them within `WINDOW` seconds), the pace
-- is cut by `DECREASE` (multiplicative decrease, at most once per two intervals, never under `FLOOR`);
-- each accepted send then raises it by `INCREASE` sessions per second for each second of sending
-- (additive increase), never above the campaign's rate. After a cut, once enough sends were accepted,
-- the pace gives one warning with the rate the vendor accepted: `(k - 1) / (t_last - t_first)` over the
-- k sends accepted while it was refusing others (from the first 429 to the last; while the campaign
-- sends faster than the vendor allows, what the vendor accepts is its rate), else over every send
-- accepted since the first 429.
--
-- @module convai.campaign.pace
local setmetatable, ipairs = setmetatable, ipairs
local format = string.format
local max, min, floor, huge = math.max, math.min, math.floor, math.huge

local _M = {
  --- 429s without Retry-After, within `WINDOW` seconds, that cut the pace.
  REPEATED = 2,
  --- Seconds within which 429s count as repeated.
  WINDOW = 5,
  --- The factor of a cut.
  DECREASE = 0.7,
  --- Sessions per second added for each second of accepted sends.
  INCREASE = 0.1,
  --- The lowest pace, sessions per second.
  FLOOR = 0.05,
  --- Sends accepted after the first cut before the warning is given (it is also given at the end).
  WARN_AFTER = 4,
}

local mt = {}
mt.__index = mt

--- A pace at `rate`, its ceiling.
-- @tparam number rate sessions per second (the campaign's rate)
-- @treturn table the pace: `throttled(now)`, `accepted(started)`, `warning(agent, final)`, `adapted()`
function _M.new(rate)
  return setmetatable({ ceiling = rate, rate = rate, throttles = {}, cut_at = -huge, cuts = 0,
    first = nil, since = {} }, mt)
end

--- A 429 without Retry-After at `now` (monotonic seconds).
-- @treturn number|nil the new rate when the pace was cut
function mt:throttled(now)
  self.first = self.first or now
  self.last = now
  local keep = {}
  for _, t in ipairs(self.throttles) do if now - t < _M.WINDOW then keep[#keep + 1] = t end end
  keep[#keep + 1] = now
  self.throttles = keep
  if #keep < _M.REPEATED or now - self.cut_at < 2 / self.rate then return nil end
  self.cut_at, self.cuts, self.throttles = now, self.cuts + 1, {}
  local r = max(self.rate * _M.DECREASE, _M.FLOOR)
  if r == self.rate then return nil end
  self.rate = r
  return r
end

--- A send accepted, started at `started` (monotonic seconds).
-- @treturn number|nil the new rate when the pace was raised
function mt:accepted(started)
  if self.first and started >= self.first then self.since[#self.since + 1] = started end
  if self.rate >= self.ceiling then return nil end
  self.rate = min(self.ceiling, self.rate + _M.INCREASE / self.rate)
  return self.rate
end

-- (k - 1) / (t_last - t_first) over the times in `list`; nil for fewer than two.
local function rate_of(list)
  local k = #list
  if k >= 2 and list[k] > list[1] then return (k - 1) / (list[k] - list[1]) end
  return nil
end

-- The rate the vendor accepted (sends per second): while it refused others, else since the first 429,
-- else the pace.
local function accepted_rate(self)
  local refusing = {}
  for _, t in ipairs(self.since) do if t <= self.last then refusing[#refusing + 1] = t end end
  return rate_of(refusing) or rate_of(self.since) or self.rate
end

--- The one warning, once the pace was cut: when enough sends were accepted since, or at the end
-- (`final`); nil otherwise and after it was given.
-- @tparam string agent the agent's ID
-- @tparam boolean final the run is over
-- @treturn string|nil `agent A accepted about 1.0/s; --rate 5 is above its limit (ask the vendor to raise
--   it, or use --rate 1)`
function mt:warning(agent, final)
  if self.warned or self.cuts == 0 then return nil end
  if not final and #self.since < _M.WARN_AFTER then return nil end
  self.warned = true
  local est = accepted_rate(self)
  local suggest = min(self.ceiling, max(floor(est * 10 + 0.5) / 10, 0.1))
  return format("agent %s accepted about %.1f/s; --rate %g is above its limit (ask the vendor to raise it, "
    .. "or use --rate %g)", agent, est, self.ceiling, suggest)
end

--- The pace at the end, when it was ever cut (nil: it kept the campaign's rate).
-- @treturn number|nil sessions per second
function mt:adapted()
  if self.cuts == 0 then return nil end
  return self.rate
end

return _M
