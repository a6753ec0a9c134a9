--- convai.http.retry: the retry policy of a transport: which failures are tried again, and after how
-- long a pause.
--
-- A policy is a plain table `{attempts, base, cap, retry_after_cap, random, sleep}` made by `check`
-- from the user's `retry` option (see `convai.http.transport.new`); `next_wait` decides, after each
-- failed attempt, whether to try again and how long to pause first. A query (GET, HEAD) is retried after
-- any transient failure; any other method only after 429 or a connection that failed before any byte
-- of the request was sent, since a retry could otherwise message a person twice.
--
-- @module convai.http.retry
local errors = require "convai.errors"
local runtime = require "convai.runtime"
local check = require "convai.http.check"

local type, tostring, tonumber, pairs = type, tostring, tonumber, pairs
local format = string.format
local huge, min = math.huge, math.min

local invalid = errors.invalid
local QUERY_METHODS = check.QUERY_METHODS

local _M = {}

--- Default policy: 3 attempts in all, backoff base 0.5 s capped at 20 s, Retry-After up to 60 s,
-- `math.random` for the jitter and `convai.runtime.sleep` for the pause (which yields to a batch's
-- scheduler in one of its tasks, and to nginx inside nginx).
_M.DEFAULTS = {
  attempts = 3, base = 0.5, cap = 20, retry_after_cap = 60, random = math.random, sleep = runtime.sleep,
}
local OPTIONS = "attempts, base, cap, retry_after_cap, deadline, random, sleep"
-- The options a policy may have: those of DEFAULTS, and `deadline` (none by default).
local KNOWN = { deadline = true }
for k in pairs(_M.DEFAULTS) do KNOWN[k] = true end
--- Most attempts a policy may make.
_M.MAX_ATTEMPTS = 100

--- Statuses that may go away on their own (a policy choice, not a kind: 501 and 505 are `server` errors
-- too, and do not). For a request that is not a query only 429 is retried (the vendor refused it).
local RETRY_STATUS = { [429] = true, [500] = true, [502] = true, [503] = true, [504] = true }
--- TLS failures that may go away: the handshake failed. A certificate that does not verify does not
-- get better on its own and is never retried.
local TLS_TRANSIENT = { [errors.CURL.SSL_CONNECT_ERROR] = true }

local function seconds(v, zero_ok)
  return type(v) == "number" and v == v and (v > 0 or (zero_ok and v == 0))
end

-- What a retry option must be, or nil when `x` is a good value for option `k` (a known option).
local function bad_option(k, x)
  if k == "attempts" then
    local n = check.count(x)
    if not n or n < 1 or n > _M.MAX_ATTEMPTS then
      return format("an integer from 1 to %d (attempts in all, the first one included; 1 means "
        .. "no retries)", _M.MAX_ATTEMPTS)
    end
  elseif k == "base" or k == "cap" or k == "deadline" then
    if not seconds(x) or x == huge then return "a positive number of seconds" end
  elseif k == "retry_after_cap" then
    if not seconds(x, true) then
      return "a number of seconds >= 0 (the longest Retry-After waited for; longer gives up)"
    end
  elseif type(x) ~= "function" then -- random or sleep
    return k == "random" and "a function returning a number in [0, 1) (default math.random)"
      or "a function(seconds) that pauses (default convai.runtime.sleep)"
  end
  return nil
end

--- Check retry options and lay them over a policy.
-- @param v nil (keep `base`), false (no retries), true (the defaults) or a table of options
--   (`attempts`: integer, attempts in all; `base`, `cap`, `retry_after_cap`: seconds; `deadline`:
--   seconds for the whole call, retries and pauses included, none by default; `random`: a
--   function returning a number in [0, 1); `sleep`: a function(seconds) that pauses)
-- @tparam[opt] table|false base the policy the options override (default: `DEFAULTS`)
-- @treturn table|false|nil the policy (false: no retries)
-- @treturn[2] convai.error kind `invalid_argument`, naming the option
function _M.check(v, base)
  local p = {}
  for k, d in pairs(base or _M.DEFAULTS) do p[k] = d end
  if v == nil then
    if base == false then return false end
    return p
  end
  if v == false then return false end
  if v == true then v = {} end
  if type(v) ~= "table" then
    return invalid(format("retry must be false (no retries), true (the defaults) or a table of "
      .. "options (%s), got %s", OPTIONS, type(v)))
  end
  for k, x in pairs(v) do
    if not KNOWN[k] then
      return invalid(format("unknown retry option %s (the options are %s)", tostring(k), OPTIONS))
    end
    local bad = bad_option(k, x)
    if bad then return invalid(format("retry.%s must be %s, got %s", k, bad, tostring(x))) end
    p[k] = x
  end
  return p
end

--- Whether an error may go away on its own: a retryable status, a network error, a timeout, a failed
-- TLS handshake.
-- @tparam convai.error err
-- @treturn boolean
function _M.transient(err)
  if err.status then return RETRY_STATUS[err.status] == true end
  local kind = err.kind
  return kind == "network" or kind == "timeout" or (kind == "tls" and TLS_TRANSIENT[err.curl_code] == true)
end
local transient = _M.transient

-- What follows a failed attempt, the deadline aside (arguments and results of `next_wait`).
local function pause(policy, method, err, attempt, vendor, rate_window)
  if not transient(err) then return nil end
  if not QUERY_METHODS[method] and err.status ~= 429 and err.request_sent ~= false then
    return nil, "unsafe", format("not retried: the request may have reached %s, and a retry could "
      .. "message the person twice", vendor)
  end
  if attempt >= policy.attempts then
    return nil, "exhausted", attempt > 1 and format("gave up after %d attempts", attempt) or nil
  end
  local ra = err.retry_after
  if ra then
    if ra > policy.retry_after_cap then
      return nil, "retry_after_cap", format("not retried: Retry-After is %g s, over retry_after_cap "
        .. "(%g s)", ra, policy.retry_after_cap)
    end
    return ra
  end
  -- full jitter: a uniform pause in [0, min(cap, base * 2^n)), n = 0 before the first retry
  local r = tonumber(policy.random()) or 0
  if r < 0 or r ~= r then r = 0 elseif r > 1 then r = 1 end
  local wait = r * min(policy.cap, policy.base * 2 ^ (attempt - 1))
  -- A 429 without Retry-After from a vendor whose limit counts requests in a window (Vonage: sessions
  -- per second per agent): sooner than one window, the retry would meet the same limit.
  if err.status == 429 and rate_window and wait < rate_window then wait = rate_window end
  return wait
end

--- Decide what follows a failed attempt.
-- @tparam table policy from `check`
-- @tparam string method the request's method
-- @tparam convai.error err the attempt's error
-- @tparam integer attempt attempts made so far (1 after the first)
-- @tparam string vendor the vendor's name, for the message
-- @tparam[opt] number rate_window seconds: the vendor counts its rate limit in windows this long and
--   answers 429 without `Retry-After`, so a pause after such a 429 is at least this long
-- @tparam[opt=0] number elapsed seconds since the call started (for the policy's `deadline`)
-- @treturn number|nil seconds to pause before the next attempt, or nil to stop
-- @treturn[2] string why it stops (`"unsafe"`, `"exhausted"`, `"retry_after_cap"`, `"deadline"`), nil
--   when the error is not one that is retried
-- @treturn[2] string what to add to the error message, or nil
function _M.next_wait(policy, method, err, attempt, vendor, rate_window, elapsed)
  local wait, why, note = pause(policy, method, err, attempt, vendor, rate_window)
  local deadline = policy.deadline
  if wait and deadline and (elapsed or 0) + wait >= deadline then
    return nil, "deadline", format("gave up after %d attempt%s: another would start after the deadline "
      .. "(%g s)", attempt, attempt == 1 and "" or "s", deadline)
  end
  return wait, why, note
end


return _M
