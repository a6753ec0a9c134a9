--- convai.avaamo: client for the Avaamo analytics API (agent usage statistics).
--
-- Vendor document: "Usage / Get agent usage", `GET /bots/analytics/{agent_id}/usage.json`
-- (docs/api-notes.md §2), with the decisions noted there: `Access-Token` auth, `dd/mm/yyyy` dates read in
-- the zone given by `utc_offset` (seconds), the aggregate window from `from_date` 00:00:00 to `to_date`
-- 23:59:59, `previous_interval_stats` of the same length just before, and `stats` in 9 equal slices.
--
-- @module convai.avaamo
local core = require "convai.core"
local errors = require "convai.errors"
local check = require "convai.http.check"
local client = require "convai.http.client"
local config = require "convai.config"
local dates = require "convai.dates"

local type, format = type, string.format
local floor = math.floor

local VENDOR = "Avaamo"
local DEFAULT_BASE_URL = "https://cx.avaamo.com"
local DATE_NAMES = { "from_date", "to_date" }
local cached = {} -- the last explicit date range queried: {from, to, offset, query}
local STATS_KEYS = { "aggregate_stats", "previous_interval_stats" }
local count, escape = check.count, check.escape
local invalid = errors.invalid
local mtype = math.type or function() return nil end -- LuaJIT: every number goes through count
local SPEC = {
  vendor = VENDOR, name = "convai.avaamo", secret = "access_token", env = "CONVAI_AVAAMO_TOKEN",
  base_url_name = "base_url (CONVAI_AVAAMO_URL)",
  auth = function(token) return { ["Access-Token"] = token } end,
}

--- Integer fields of a stats object (documented as Integer).
local COUNTS = {
  "session_count", "messages_count", "unhandled_messages_count", "successful_responses_count",
  "ambiguous_messages_count", "interventions_count", "success_rate_count",
}

local _M = { DEFAULT_BASE_URL = DEFAULT_BASE_URL, SLICES = 9 }
local mt = client.class(SPEC)

--- Create a client.
-- @tparam table opts
-- @tparam string opts.access_token the user access token (Settings -> Users), sent as `Access-Token`
-- @tparam[opt="https://cx.avaamo.com"] string opts.base_url the customer's Avaamo platform URL
-- @tparam[opt=30] number opts.timeout total time per request, seconds
-- @tparam[opt=10] number opts.connect_timeout connection set-up time, seconds
-- @tparam[opt] string opts.cafile PEM CA bundle used to verify the server
-- @tparam[opt] function opts.trace called with an event table before and after each request
--   (`{phase = "request", method, url, headers, body_bytes}`, `{phase = "response", method, url, status,
--   elapsed_ms, error}`), credential headers shown as `"<redacted>"`; what `convai --verbose` prints
-- @tparam[opt] table|boolean opts.retry retry policy (docs/http.md "Retries"): nil or true for the defaults,
--   false for a single attempt, or a table `{attempts = 3, base = 0.5, cap = 20, retry_after_cap = 60}`
--   (attempts in all; seconds) laid over the defaults (also `random` and `sleep`, for tests). A query
--   is retried after a network error, a timeout, 429 or 500/502/503/504, after a pause of
--   `random(0, min(cap, base * 2^n))`, or exactly `Retry-After` when it is at most `retry_after_cap`
-- @tparam[opt=false] boolean|integer opts.follow_redirects false: a 3xx is an `http` error; true: follow
--   at most 5 redirects; an integer: at most that many. Credential headers never go to another scheme,
--   host or port
-- @treturn convai.avaamo|nil the client, or nil and an error of kind `invalid_argument`
function _M.new(opts)
  if type(opts) ~= "table" then return invalid("avaamo.new expects an options table") end
  return client.new(mt, SPEC, opts, opts.base_url or DEFAULT_BASE_URL)
end

--- Create a client from `CONVAI_AVAAMO_URL` and `CONVAI_AVAAMO_TOKEN` (see `convai.config`).
-- @tparam[opt] table opts extra options (timeout, connect_timeout, cafile)
-- @treturn convai.avaamo|nil the client, or nil and an `invalid_argument` error
function _M.from_env(opts)
  local o, err = client.env_options(config.avaamo, opts)
  if not o then return nil, err end
  return _M.new(o)
end

--- Check a `utc_offset` (see `convai.dates.utc_offset`).
-- @param v seconds east of UTC, an integer in [-43200, 50400] or its digits, or `+HH:MM` / `-HH:MM`
--   (nil means 0)
-- @treturn integer|nil offset, or nil and an `invalid_argument` error
function _M.check_utc_offset(v)
  return dates.utc_offset(v, "utc_offset")
end

--- Resolve and check the date range of a query, applying the vendor's defaults.
-- @tparam[opt] string from_date `yyyy-mm-dd` or `dd/mm/yyyy`; default three days before `to_date`
-- @tparam[opt] string to_date `yyyy-mm-dd` or `dd/mm/yyyy`; default today in the `utc_offset` zone
-- @tparam integer utc_offset seconds
-- @tparam[opt=os.time()] integer now epoch seconds
-- @treturn string|nil from_date `dd/mm/yyyy` (as sent), or nil and an `invalid_argument` error
-- @treturn string to_date `dd/mm/yyyy`
function _M.date_range(from_date, to_date, utc_offset, now)
  local r, err = _M.range { from_date = from_date, to_date = to_date, utc_offset = utc_offset, now = now }
  if not r then return nil, err end
  return r.from_date, r.to_date
end

--- A query's date range as people write it: explicit days, or the last days, weeks or months.
-- `avaamo.range{last = "7d", utc_offset = "+05:30"}` is the 7 days ending today in UTC+05:30; the result,
-- with `agent_id` added, is a query for `client:usage`.
-- @tparam table r
-- @tparam[opt] string r.from_date `yyyy-mm-dd` or `dd/mm/yyyy`; default three days before `to_date`
-- @tparam[opt] string r.to_date `yyyy-mm-dd` or `dd/mm/yyyy`; default today in the zone
-- @tparam[opt] string r.last `Nd`, `Nw` or `Nm` (days, weeks, calendar months) ending on `to_date`
--   (`convai.dates.last`); not with `from_date`
-- @param[opt=0] r.utc_offset seconds east of UTC or `+HH:MM` / `-HH:MM` (`convai.dates.utc_offset`)
-- @tparam[opt=os.time()] number r.now epoch seconds, for "today"
-- @treturn table|nil `{from_date = "dd/mm/yyyy", to_date = "dd/mm/yyyy", utc_offset = integer seconds}`
-- @treturn[2] nil
-- @treturn[2] convai.error kind `invalid_argument` (a bad date, zone or `last`, `last` with `from_date`,
--   `to_date` before `from_date`: "To Date cannot be before From Date")
function _M.range(r)
  if type(r) ~= "table" then
    return invalid("range expects a table {from_date=, to_date=, last=, utc_offset=}")
  end
  local offset, err = dates.utc_offset(r.utc_offset, "utc_offset")
  if not offset then return nil, err end
  local days = {}
  for i = 1, 2 do
    local name = DATE_NAMES[i]
    if r[name] ~= nil then
      days[i], err = dates.day(r[name], name)
      if not days[i] then return nil, err end
    end
  end
  local to_days = days[2] or dates.today(offset, r.now)
  local from_days = days[1] or to_days - 3
  if r.last ~= nil then
    if days[1] then return invalid("give last or from_date, not both (last counts back from to_date)") end
    from_days, err = dates.last(r.last, to_days, "last")
    if not from_days then return nil, err end
  end
  if to_days < from_days then
    return invalid("To Date cannot be before From Date")
  end
  return { from_date = core.format_date(from_days), to_date = core.format_date(to_days), utc_offset = offset }
end

--- One C call that says whether a stats object has the documented shape with every count an integer
-- already (what the vendor sends); when it says no, `bad_stats` looks at it field by field.
local STATS_FIELDS = {}
for i = 1, #COUNTS do STATS_FIELDS[i] = { COUNTS[i], "integer" } end
STATS_FIELDS[#STATS_FIELDS + 1] = { "start_time", "number" }
STATS_FIELDS[#STATS_FIELDS + 1] = { "end_time", "number" }
STATS_FIELDS[#STATS_FIELDS + 1] = { "success_rate", "number?" }
-- stats_shape(s): s has the documented shape (changes nothing); stats_typed(s1, ..., sn): all of them
-- have it, and then (only then) an integral success_rate is made a float in each.
local stats_shape = core.field_checker(STATS_FIELDS)

-- The documented body, decoded and typed in one pass (core.json_decoder): counts integers, times numbers,
-- success_rate made a float (or absent), 9 slices. Any other body is checked field by field below.
local STATS_SHAPE = { start_time = "number", end_time = "number", success_rate = "float?" }
for i = 1, #COUNTS do STATS_SHAPE[COUNTS[i]] = "integer" end
local decode_usage = core.json_decoder { aggregate_stats = STATS_SHAPE, previous_interval_stats = STATS_SHAPE,
  stats = { STATS_SHAPE, n = _M.SLICES } }

--- Check a stats object without copying it: nil when it has the documented shape, else the field at
-- fault and what is wrong with it (the message is only formatted when there is one).
-- A third result, true, says that a count is an integral float (beyond 2^53) to convert.
local function bad_stats(s)
  if stats_shape(s) then return nil end
  if type(s) ~= "table" then return "", " is not an object" end
  local fix = false
  for i = 1, #COUNTS do
    local field = COUNTS[i]
    local v = s[field]
    if mtype(v) ~= "integer" then -- json_decode made the others integers already
      if not count(v) then return "." .. field, " is not an integer" end
      fix = true
    end
  end
  if type(s.start_time) ~= "number" then return ".start_time", " is not a number" end
  if type(s.end_time) ~= "number" then return ".end_time", " is not a number" end
  local rate = s.success_rate
  if rate ~= nil and type(rate) ~= "number" then return ".success_rate", " is neither a number nor null" end
  return nil, nil, fix
end

--- The typed stats object: the decoded one (checked by `bad_stats`), changed in place: counts
-- integers (`fix[s]`: some are not yet), `success_rate` a float.
local function typed_stats(s, fix)
  if fix and fix[s] then
    for i = 1, #COUNTS do s[COUNTS[i]] = count(s[COUNTS[i]]) end
  end
  local rate = s.success_rate
  if rate then s.success_rate = rate + 0.0 end
  return s
end

--- Avaamo recommends at most this many days per request (docs/api-notes.md §2): longer ranges are split.
_M.MAX_WINDOW_DAYS = 7
--- The longest range `usage` accepts, days: at most 53 windows (twice that many requests, with the
-- previous interval's).
_M.MAX_RANGE_DAYS = 366

-- One request: the typed result for a range of at most MAX_WINDOW_DAYS (or any range, unsplit).
local function fetch_window(self, agent_id, query)
  local body, err, typed = self.http:json("GET", format("/bots/analytics/%d/usage.json", agent_id), query,
    nil, nil, decode_usage)
  if body == nil then return nil, err end
  -- What the vendor sends: checked and typed while decoding.
  if typed then
    return { aggregate_stats = body.aggregate_stats, previous_interval_stats = body.previous_interval_stats,
      stats = body.stats }
  end
  if type(body) ~= "table" then return client.shape_error(VENDOR, "body is not an object", body) end
  local stats = body.stats
  -- Field by field: everything is checked before anything is changed, so a shape error carries the body
  -- as decoded.
  local fix = nil -- fix[object]: integral floats to convert (rare)
  for i = 1, 2 do
    local key = STATS_KEYS[i]
    local field, what, f = bad_stats(body[key])
    if field then return client.shape_error(VENDOR, key .. field .. what, body) end
    if f then fix = fix or {}; fix[body[key]] = true end
  end
  if type(stats) ~= "table" or #stats ~= _M.SLICES then
    return client.shape_error(VENDOR, "stats is not an array of 9 entries", body)
  end
  for i = 1, _M.SLICES do
    local field, what, f = bad_stats(stats[i])
    if field then return client.shape_error(VENDOR, format("stats[%d]%s%s", i, field, what), body) end
    if f then fix = fix or {}; fix[stats[i]] = true end
  end
  local slices = {}
  for i = 1, _M.SLICES do slices[i] = typed_stats(stats[i], fix) end
  return {
    aggregate_stats = typed_stats(body.aggregate_stats, fix),
    previous_interval_stats = typed_stats(body.previous_interval_stats, fix),
    stats = slices,
  }
end

local function range_query(utc_offset, from_date, to_date)
  return "?utc_offset=" .. utc_offset .. "&from_date=" .. escape(from_date) .. "&to_date=" .. escape(to_date)
end

-- The sum of the stats objects of consecutive windows, as one object for their union: counts added,
-- start_time of the first, end_time of the last, success_rate from the documented relation
-- (successful / messages * 100, two decimals; nil when there is no message).
local function sum_stats(list)
  local out = {}
  for i = 1, #COUNTS do
    local n = 0
    for k = 1, #list do n = n + list[k][COUNTS[i]] end
    out[COUNTS[i]] = n
  end
  out.start_time, out.end_time = list[1].start_time, list[#list].end_time
  if out.messages_count > 0 then
    out.success_rate = floor(out.successful_responses_count / out.messages_count * 10000 + 0.5) / 100
  end
  return out
end

-- Windows of at most MAX_WINDOW_DAYS covering the days [first, last], in order: `{{from, to}, ...}`.
local function windows_of(first, final)
  local w, d = {}, first
  while d <= final do
    local e = d + _M.MAX_WINDOW_DAYS - 1
    if e > final then e = final end
    w[#w + 1] = { core.format_date(d), core.format_date(e) }
    d = e + 1
  end
  return w
end

-- A range longer than MAX_WINDOW_DAYS (docs/api-notes.md §2: "split into <= 7-day windows, merge"): the
-- range and the previous interval of the same length, each queried in windows, merged.
local function split_usage(self, agent_id, utc_offset, from_days, to_days)
  local len = to_days - from_days + 1
  local current, previous = windows_of(from_days, to_days), windows_of(from_days - len, from_days - 1)
  local parts, prev_aggs, slices = {}, {}, {}
  for k = 1, #current + #previous do
    local w = current[k] or previous[k - #current]
    local r, err = fetch_window(self, agent_id, range_query(utc_offset, w[1], w[2]))
    if not r then
      err.message = format("%s (window %s to %s of a range split in %d-day windows)", err.message, w[1], w[2],
        _M.MAX_WINDOW_DAYS)
      err.window = { from_date = w[1], to_date = w[2] }
      return nil, err
    end
    if k <= #current then
      parts[k] = r.aggregate_stats
      for i = 1, #r.stats do slices[#slices + 1] = r.stats[i] end
    else
      prev_aggs[k - #current] = r.aggregate_stats
    end
  end
  local windows = {}
  for k = 1, #current do windows[k] = { from_date = current[k][1], to_date = current[k][2] } end
  return {
    aggregate_stats = sum_stats(parts),
    previous_interval_stats = sum_stats(prev_aggs),
    stats = slices,
    windows = windows,
  }
end

--- Agent usage statistics over a date range.
-- `GET {base_url}/bots/analytics/{agent_id}/usage.json?utc_offset=&from_date=&to_date=`.
-- The dates sent are always explicit: the defaults are resolved here, so the range checked is the range
-- queried. A range longer than 7 days (`MAX_WINDOW_DAYS`; Avaamo recommends at most 7 per request) is
-- split, as docs/api-notes.md §2 decides: it is queried in consecutive windows of at most 7 days (the last
-- one shorter), and so is the previous interval of the same length, one request per window, and the answers
-- are merged (see the result). Ranges longer than 366 days (`MAX_RANGE_DAYS`) are refused.
-- @tparam table q
-- @tparam integer q.agent_id the agent identifier (positive integer)
-- @tparam[opt] string q.from_date `yyyy-mm-dd` or `dd/mm/yyyy`; default three days before `to_date`
-- @tparam[opt] string q.to_date `yyyy-mm-dd` or `dd/mm/yyyy`; default today in the `utc_offset` zone
-- @tparam[opt] string q.last `7d`, `4w`, `3m`: the days, weeks or calendar months ending on `to_date`
--   (see `range`); not with `from_date`
-- @param[opt=0] q.utc_offset seconds east of UTC, in [-43200, 50400] (e.g. -25200 for UTC-7), or
--   `+HH:MM` / `-HH:MM` (e.g. `-07:00`)
-- @tparam[opt=true] boolean q.split false: send a range longer than 7 days as one request, as given
-- @treturn table|nil `{aggregate_stats = S, previous_interval_stats = S, stats = {S, ... 9 entries}}`
--   where each S is `{start_time = number (epoch s, may be fractional), end_time = number,
--   session_count, messages_count, unhandled_messages_count, successful_responses_count,
--   ambiguous_messages_count, interventions_count, success_rate_count (integers),
--   success_rate = number (percent, two decimals) or nil when messages_count is 0}`.
--   A split range gives the same shape with: `aggregate_stats` and `previous_interval_stats` the sums of
--   their windows' aggregates (counts added: a session that spans two windows counts in both, as in
--   the vendor's own slices; `start_time` of the first window, `end_time` of the last; `success_rate`
--   from the documented relation, successful / messages * 100 to two decimals), `stats` the 9 slices of
--   every window in time order (9 per window), and `windows`, the windows queried
--   (`{{from_date =, to_date =}, ...}`)
-- @treturn[2] nil
-- @treturn[2] convai.error kind `invalid_argument` (bad agent_id, date or utc_offset, to_date before
--   from_date: "To Date cannot be before From Date", or a range over 366 days; nothing sent), `auth`,
--   `not_found`, `unprocessable` (422), `rate_limited`, `server`, `http`, `timeout`, `network`, `tls`,
--   `too_large`, `decode` (not JSON, or not the documented shape); for a split range, the error of the
--   first window that failed, with `window = {from_date, to_date}` and the window in the message
function mt:usage(q)
  if type(q) ~= "table" then
    return invalid("usage expects a table {agent_id=, from_date=, to_date=, utc_offset=}")
  end
  local agent_id = check.positive_integer(q.agent_id)
  if not agent_id then
    return invalid(format("agent_id must be a positive integer (from the agent URL), got %s",
      check.quote(q.agent_id)))
  end
  local utc_offset, err = _M.check_utc_offset(q.utc_offset)
  if not utc_offset then return nil, err end
  if q.split ~= nil and type(q.split) ~= "boolean" then
    return invalid("split must be true or false, got " .. check.quote(q.split))
  end
  -- The query string of the last explicit range is kept: batches repeat it (with both dates given,
  -- the range does not depend on the day it is asked). Only ranges sent as one request are kept.
  local query
  local from, to = q.from_date, q.to_date
  if from ~= nil and q.last == nil and from == cached.from and to == cached.to
    and utc_offset == cached.offset then
    query = cached.query
  else
    local r
    r, err = _M.range { from_date = from, to_date = to, last = q.last, utc_offset = utc_offset }
    if not r then return nil, err end
    local from_date, to_date = r.from_date, r.to_date
    local from_days, to_days = core.parse_date(from_date), core.parse_date(to_date)
    local days = to_days - from_days + 1
    if days > _M.MAX_RANGE_DAYS then
      return invalid(format("the range %s to %s spans %d days; at most %d are accepted (query "
        .. "shorter ranges)", from_date, to_date, days, _M.MAX_RANGE_DAYS))
    end
    if days > _M.MAX_WINDOW_DAYS and q.split ~= false then
      return split_usage(self, agent_id, utc_offset, from_days, to_days)
    end
    query = range_query(utc_offset, from_date, to_date)
    if type(from) == "string" and type(to) == "string" and days <= _M.MAX_WINDOW_DAYS then
      cached.from, cached.to, cached.offset, cached.query = from, to, utc_offset, query
    end
  end
  return fetch_window(self, agent_id, query)
end

return _M
