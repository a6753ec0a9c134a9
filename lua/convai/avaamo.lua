--- convai.avaamo: client for the Avaamo analytics API (agent usage statistics).
--
-- Vendor document: "Usage / Get agent usage", `GET /bots/analytics/{agent_id}/usage.json`
-- (seeds/avaamo-analytics-usage.md), with API-NOTES §2: `Access-Token` auth, `dd/mm/yyyy` dates read in
-- the zone given by `utc_offset` (seconds), the aggregate window from `from_date` 00:00:00 to `to_date`
-- 23:59:59, `previous_interval_stats` of the same length just before, and `stats` in 9 equal slices.
--
-- @module convai.avaamo
local core = require "convai.core"
local http = require "convai.http"
local config = require "convai.config"

local type, pairs, ipairs, format = type, pairs, ipairs, string.format
local floor = math.floor

local VENDOR = "Avaamo"
local DEFAULT_BASE_URL = "https://cx.avaamo.com"
local MIN_OFFSET, MAX_OFFSET = -43200, 50400 -- UTC-12:00 .. UTC+14:00
local DAY = 86400
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
local mt = {}
mt.__index = mt
http.client_methods(mt, SPEC)

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
-- @tparam[opt] table|boolean opts.retry retry policy (README "Retries"): nil or true for the defaults,
--   false for a single attempt, or a table `{attempts = 3, base = 0.5, cap = 20, retry_after_cap = 60}`
--   (attempts in all; seconds) laid over the defaults (also `random` and `sleep`, for tests). A query
--   is retried after a network error, a timeout, 429 or 500/502/503/504, after a pause of
--   `random(0, min(cap, base * 2^n))`, or exactly `Retry-After` when it is at most `retry_after_cap`
-- @tparam[opt=false] boolean|integer opts.follow_redirects false: a 3xx is an `http` error; true: follow
--   at most 5 redirects; an integer: at most that many. Credential headers never go to another scheme,
--   host or port
-- @treturn convai.avaamo|nil the client, or nil and an error of kind `invalid_argument`
function _M.new(opts)
  if type(opts) ~= "table" then return http.invalid("avaamo.new expects an options table") end
  return http.client(mt, SPEC, opts, opts.base_url or DEFAULT_BASE_URL)
end

--- Create a client from `CONVAI_AVAAMO_URL` and `CONVAI_AVAAMO_TOKEN` (see `convai.config`).
-- @tparam[opt] table opts extra options (timeout, connect_timeout, cafile)
-- @treturn convai.avaamo|nil the client, or nil and an `invalid_argument` error
function _M.from_env(opts)
  return _M.new(http.env_options(config.avaamo, opts))
end

--- Check a `utc_offset`.
-- @param v seconds east of UTC, an integer in [-43200, 50400] (nil means 0)
-- @treturn integer|nil offset, or nil and an `invalid_argument` error
function _M.check_utc_offset(v)
  if v == nil then return 0 end
  local n = type(v) == "string" and v:match("^[-+]?%d+$") and tonumber(v) or v
  n = http.count(n)
  if not n or n < MIN_OFFSET or n > MAX_OFFSET then
    return http.invalid(format("utc_offset must be an integer number of seconds from %d to %d "
      .. "(e.g. 19800 for UTC+05:30), got %s", MIN_OFFSET, MAX_OFFSET, http.quote(v)))
  end
  return n
end

--- Resolve and check the date range of a query, applying the vendor's defaults.
-- @tparam[opt] string from_date `dd/mm/yyyy`; default three days before `to_date`
-- @tparam[opt] string to_date `dd/mm/yyyy`; default today in the `utc_offset` zone
-- @tparam integer utc_offset seconds
-- @tparam[opt=os.time()] integer now epoch seconds
-- @treturn string|nil from_date, or nil and an `invalid_argument` error
-- @treturn string to_date
function _M.date_range(from_date, to_date, utc_offset, now)
  local days = {}
  for i, pair in ipairs { { "from_date", from_date }, { "to_date", to_date } } do
    local name, v = pair[1], pair[2]
    if v ~= nil then
      if type(v) ~= "string" then
        return http.invalid(format("%s must be a dd/mm/yyyy string, got %s", name, type(v)))
      end
      local d, msg = core.parse_date(v)
      if not d then return http.invalid(format("%s: %s", name, msg)) end
      days[i] = d
    end
  end
  local to_days = days[2] or floor(((now or os.time()) + utc_offset) / DAY)
  local from_days = days[1] or to_days - 3
  if to_days < from_days then
    return http.invalid("To Date cannot be before From Date")
  end
  return core.format_date(from_days), core.format_date(to_days)
end

local function typed_stats(s, where)
  if type(s) ~= "table" then return nil, where .. " is not an object" end
  local out = {}
  for k, v in pairs(s) do out[k] = v end
  for _, field in ipairs(COUNTS) do
    local n = http.count(s[field])
    if not n then return nil, format("%s.%s is not an integer", where, field) end
    out[field] = n
  end
  for _, field in ipairs { "start_time", "end_time" } do
    if type(s[field]) ~= "number" then return nil, format("%s.%s is not a number", where, field) end
  end
  local rate = s.success_rate
  if rate ~= nil and type(rate) ~= "number" then
    return nil, where .. ".success_rate is neither a number nor null"
  end
  out.success_rate = rate and rate + 0.0
  return out
end

--- Agent usage statistics over a date range.
-- `GET {base_url}/bots/analytics/{agent_id}/usage.json?utc_offset=&from_date=&to_date=`.
-- The dates sent are always explicit: the defaults are resolved here, so the range checked is the range
-- queried.
-- @tparam table q
-- @tparam integer q.agent_id the agent identifier (positive integer)
-- @tparam[opt] string q.from_date `dd/mm/yyyy`; default three days before `to_date`
-- @tparam[opt] string q.to_date `dd/mm/yyyy`; default today in the `utc_offset` zone
-- @tparam[opt=0] integer q.utc_offset seconds east of UTC, in [-43200, 50400] (e.g. -25200 for UTC-7)
-- @treturn table|nil `{aggregate_stats = S, previous_interval_stats = S, stats = {S, ... 9 entries}}`
--   where each S is `{start_time = number (epoch s, may be fractional), end_time = number,
--   session_count, messages_count, unhandled_messages_count, successful_responses_count,
--   ambiguous_messages_count, interventions_count, success_rate_count (integers),
--   success_rate = number (percent, two decimals) or nil when messages_count is 0}`
-- @treturn[2] nil
-- @treturn[2] convai.error kind `invalid_argument` (bad agent_id, date or utc_offset, or to_date before
--   from_date: "To Date cannot be before From Date"; nothing sent), `auth`, `not_found`,
--   `unprocessable` (422), `rate_limited`, `server`, `http`, `timeout`, `network`, `tls`, `too_large`,
--   `decode` (not JSON, or not the documented shape)
function mt:usage(q)
  if type(q) ~= "table" then
    return http.invalid("usage expects a table {agent_id=, from_date=, to_date=, utc_offset=}")
  end
  local agent_id = http.positive_integer(q.agent_id)
  if not agent_id then
    return http.invalid(format("agent_id must be a positive integer (from the agent URL), got %s",
      http.quote(q.agent_id)))
  end
  local utc_offset, err = _M.check_utc_offset(q.utc_offset)
  if not utc_offset then return nil, err end
  local from_date, to_date = _M.date_range(q.from_date, q.to_date, utc_offset)
  if not from_date then return nil, to_date end
  local body
  body, err = self.http:json("GET", format("/bots/analytics/%d/usage.json", agent_id), http.query {
    { "utc_offset", utc_offset }, { "from_date", from_date }, { "to_date", to_date },
  })
  if body == nil then return nil, err end
  if type(body) ~= "table" then return http.shape_error(VENDOR, "body is not an object", body) end
  local result = {}
  for _, key in ipairs { "aggregate_stats", "previous_interval_stats" } do
    local s, msg = typed_stats(body[key], key)
    if not s then return http.shape_error(VENDOR, msg, body) end
    result[key] = s
  end
  if type(body.stats) ~= "table" or #body.stats ~= _M.SLICES then
    return http.shape_error(VENDOR, "stats is not an array of 9 entries", body)
  end
  result.stats = {}
  for i, raw in ipairs(body.stats) do
    local s, msg = typed_stats(raw, format("stats[%d]", i))
    if not s then return http.shape_error(VENDOR, msg, body) end
    result.stats[i] = s
  end
  return result
end

return _M
