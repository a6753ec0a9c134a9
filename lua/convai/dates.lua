--- convai.dates: days, zones and relative ranges as people write them.
--
-- Days are counted from 1970-01-01 (day 0), as `core.parse_date` gives them; a zone is a fixed offset in
-- seconds east of UTC. These helpers turn what a user types (`2024-01-31` or `31/01/2024`, `+05:30` or
-- `19800`, `--last 7d`) into those numbers, and epoch seconds back into the zone's wall clock. The
-- calendar checks (31/02 refused) are the C core's (`core.parse_date`); nothing here re-implements them.
--
-- @module convai.dates
local core = require "convai.core"
local errors = require "convai.errors"
local check = require "convai.http.check"

local type, tonumber, format = type, tonumber, string.format
local match, find, date = string.match, string.find, os.date
local floor, abs = math.floor, math.abs

local invalid = errors.invalid

local _M = {}

--- The lowest offset accepted, seconds east of UTC: UTC-12:00.
_M.MIN_OFFSET = -43200
--- The highest offset accepted, seconds east of UTC: UTC+14:00 (with MIN_OFFSET, every zone in use).
_M.MAX_OFFSET = 50400
local DAY = 86400
_M.DAY = DAY

--- A zone offset as typed: seconds east of UTC (`19800`, `-25200`, as an integer or its digits) or
-- `+HH:MM` / `-HH:MM` (also `+HHMM`, `+HH`).
-- @param v string or integer; nil means 0 (UTC)
-- @tparam[opt="utc_offset"] string name the setting's name, for the message (e.g. `"--utc-offset"`)
-- @treturn integer|nil seconds east of UTC, in [-43200, 50400]
-- @treturn[2] nil
-- @treturn[2] convai.error kind `invalid_argument`, naming the setting and quoting the value
function _M.utc_offset(v, name)
  if v == nil then return 0 end
  local n
  if type(v) == "string" then
    local sign, h, m = match(v, "^([-+])(%d%d?):?(%d?%d?)$")
    if sign and (m == "" or #m == 2) and tonumber(h) <= 14 and (m == "" or tonumber(m) < 60) then
      n = (tonumber(h) * 3600 + (tonumber(m) or 0) * 60) * (sign == "-" and -1 or 1)
    elseif match(v, "^[-+]?%d+$") then
      n = check.count(tonumber(v))
    end
  else
    n = check.count(v)
  end
  if not n or n < _M.MIN_OFFSET or n > _M.MAX_OFFSET then
    return invalid("%s must be an integer number of seconds from %d to %d (e.g. 19800 for UTC+05:30) or "
      .. "+HH:MM / -HH:MM (e.g. +05:30, -07:00), got %s", name or "utc_offset", _M.MIN_OFFSET, _M.MAX_OFFSET,
      check.quote(v))
  end
  return n
end

--- The zone's name: `UTC`, `UTC+05:30`, `UTC-07:00`.
-- @tparam integer offset seconds east of UTC
-- @treturn string
function _M.zone_name(offset)
  if offset == 0 then return "UTC" end
  local a = abs(offset)
  return format("UTC%s%02d:%02d", offset < 0 and "-" or "+", floor(a / 3600), floor(a % 3600 / 60))
end

--- A day as typed: ISO `yyyy-mm-dd` or `dd/mm/yyyy` (a real calendar date).
-- @tparam string v
-- @tparam[opt="date"] string name the setting's name, for the message (e.g. `"--from"`)
-- @treturn integer|nil days since 1970-01-01
-- @treturn[2] nil
-- @treturn[2] convai.error kind `invalid_argument`
function _M.day(v, name)
  name = name or "date"
  if type(v) ~= "string" then
    return invalid("%s must be a date string, yyyy-mm-dd or dd/mm/yyyy, got %s", name, type(v))
  end
  local y, m, d = match(v, "^(%d%d%d%d)%-(%d%d)%-(%d%d)$")
  local days, msg = core.parse_date(y and (d .. "/" .. m .. "/" .. y) or v)
  if days then return days end
  if y then
    msg = check.quote(v) .. " is not a calendar date"
  elseif not find(msg, "calendar", 1, true) then
    msg = check.quote(v) .. " is not a date: write yyyy-mm-dd or dd/mm/yyyy (e.g. 2024-01-31 or 31/01/2024)"
  end
  return invalid("%s: %s", name, msg)
end

--- Today in a zone.
-- @tparam integer offset seconds east of UTC
-- @tparam[opt=os.time()] number now epoch seconds
-- @treturn integer days since 1970-01-01
function _M.today(offset, now)
  return floor(((now or os.time()) + offset) / DAY)
end

-- Days since 1970-01-01 of a civil date (proleptic Gregorian; H. Hinnant's days_from_civil).
local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = floor(y / 400)
  local yoe = y - era * 400
  local doy = floor((153 * (m + (m > 2 and -3 or 9)) + 2) / 5) + d - 1
  local doe = yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

local function month_length(y, m)
  return days_from_civil(m == 12 and y + 1 or y, m % 12 + 1, 1) - days_from_civil(y, m, 1)
end

--- The first day of a range of the last N days, weeks or months that ends on `to` (included).
-- As the `--last` option writes them: `7d` is 7 days, `4w` 28 days,
-- `3m` three calendar months (from the day after the same date three months before; 31/05 - 3m starts
-- 01/03).
-- @tparam string v `Nd`, `Nw` or `Nm`, N a positive integer
-- @tparam integer to the last day, days since 1970-01-01
-- @tparam[opt="last"] string name the setting's name, for the message (e.g. `"--last"`)
-- @treturn integer|nil the first day
-- @treturn[2] nil
-- @treturn[2] convai.error kind `invalid_argument`
function _M.last(v, to, name)
  local n, unit = match(type(v) == "string" and v or "", "^(%d+)([dwm])$")
  n = tonumber(n)
  if not n or n < 1 or n > 10000 then
    return invalid("%s must be a number of days, weeks or months ending today, e.g. 7d, 4w or 3m, got %s",
      name or "last", check.quote(v))
  end
  if unit == "d" then return to - n + 1 end
  if unit == "w" then return to - 7 * n + 1 end
  local dd, mm, yyyy = match(core.format_date(to), "^(%d+)/(%d+)/(%d+)$")
  local d, m = tonumber(dd), tonumber(mm) - n
  local y = tonumber(yyyy) + floor((m - 1) / 12)
  m = (m - 1) % 12 + 1
  local len = month_length(y, m)
  return days_from_civil(y, m, d > len and len or d) + 1
end

--- Epoch seconds as the zone's wall clock, `yyyy-mm-dd HH:MM:SS` (fractions dropped).
-- @tparam number t epoch seconds
-- @tparam integer offset seconds east of UTC
-- @tparam[opt="%Y-%m-%d %H:%M:%S"] string pattern an `os.date` pattern
-- @treturn string
function _M.local_time(t, offset, pattern)
  return date("!" .. (pattern or "%Y-%m-%d %H:%M:%S"), floor(t) + offset)
end

return _M
