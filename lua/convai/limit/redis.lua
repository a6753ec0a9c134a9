--- convai.limit.redis: the Redis backend of `convai.limit`, an agent's send slots shared by every process
-- and every host that uses the same Redis.
--
--     local lim = assert(limit.new { store = "redis://:PASSWORD@10.0.0.5:6379/0", rates = { A = 5 } })
--
-- Each claim is one round trip: the script of `convai.limit.redis_script` (GCRA on the server's `TIME`,
-- so no client clock takes part), sent as `EVALSHA` (the script itself once more when the server
-- answers `NOSCRIPT`). A CLI campaign, a Lua script and an OpenResty app (`convai.ngx.limiter{store =
-- "redis://..."}`) run the same script on the same key, `PREFIX .. "limit:" .. AGENT` (prefix
-- `convai:` by default), which expires by itself one second after the agent's last slot.
--
-- The connection is a `convai.redis_link` (shared with the journal's Redis backend): it comes from
-- `convai.runtime.redis` (the C core's hiredis client in plain Lua, cosockets inside nginx); it is
-- opened at the first call and kept by the limit. A kept connection that fails is
-- dropped and the call made once more on a new one (Redis restarted, or an idle client dropped). When the
-- store still fails (unreachable, timeout, a refused password) the claim fails closed: `nil` and an
-- error of kind `store`, and the caller sends nothing. The password of the URL is kept in a closure,
-- never in a field, a message or `tostring`.
--
-- @module convai.limit.redis
local errors = require "convai.errors"
local redis_link = require "convai.redis_link"
local redis_script = require "convai.limit.redis_script"

local type, tonumber, setmetatable = type, tonumber, setmetatable
local format = string.format
local min = math.min

local _M = {
  OPTIONS = { prefix = true, connect_timeout = true, timeout = true },
  --- Defaults: the key prefix, and the timeouts (seconds) of a connection and of each call.
  DEFAULTS = { prefix = "convai:", connect_timeout = redis_link.DEFAULTS.connect_timeout,
    timeout = redis_link.DEFAULTS.timeout },
}

local SCRIPT = redis_script.SCRIPT
-- The longest time sent to the script, ms (a slot further away is as good as never: about 30 years).
local MAX_MS = 1e12

local invalid = errors.invalid

local mt = {}
mt.__index = mt
mt.__tostring = function(self) return "convai.limit.redis " .. self.where end

--- Make the backend (see `convai.limit.new`). Nothing is connected yet.
-- @tparam table opts `store` (`redis://[user:password@]host[:port][/db]`), `prefix` (of the keys,
--   default `"convai:"`), `connect_timeout` and `timeout` (seconds, default 1 each)
-- @treturn table|nil the backend state
-- @treturn[2] nil
-- @treturn[2] convai.error kind `invalid_argument` (a malformed URL, `rediss://`, a bad option); its
--   message never holds the password
function _M.new(opts)
  local prefix = opts.prefix == nil and _M.DEFAULTS.prefix or opts.prefix
  local store, err = redis_link.new(opts.store, { what = "limit store",
    connect_timeout = opts.connect_timeout, timeout = opts.timeout })
  if not store then return nil, err end
  if type(prefix) ~= "string" then return invalid("prefix must be a string (the Redis key prefix)") end
  return setmetatable({ prefix = prefix, where = store.where, store = store }, mt)
end

-- Run the script on the agent's key: the reply | nil, err (see `convai.redis_link` for the retry).
local function run(self, key, args)
  local reply, err = self.store:eval(SCRIPT, { key }, args)
  if reply == nil then return nil, err end
  if type(reply) ~= "table" or tonumber(reply[2]) == nil then
    return self.store:failed("unexpected reply from the limit script")
  end
  return reply
end

-- Seconds as the script's milliseconds (text).
local function ms(seconds)
  return format("%.3f", min(seconds * 1000, MAX_MS))
end

--- Claim the first free slot at or after now (the server's clock), atomically across every client of
-- the Redis server.
-- @tparam string id the agent
-- @tparam number interval seconds between two slots
-- @tparam number within seconds: a slot that starts later is not claimed
-- @treturn number seconds until the slot starts
-- @treturn boolean whether it was claimed (false: it starts later than `within`)
-- @treturn[2] nil
-- @treturn[2] convai.error kind `store` (nothing claimed), `invalid_argument` inside nginx in a phase
--   without cosockets
function mt:acquire(id, interval, within)
  local reply, err = run(self, self.prefix .. "limit:" .. id, { "claim", ms(interval), ms(within) })
  if not reply then return nil, err end
  return tonumber(reply[2]) / 1000, reply[1] == 1
end

--- No slot starts before now + seconds (the server's clock; a longer hold is kept).
-- @tparam string id the agent
-- @tparam number seconds
-- @treturn boolean|nil true
-- @treturn[2] convai.error kind `store`, `invalid_argument` as `acquire`
function mt:penalize(id, seconds)
  local reply, err = run(self, self.prefix .. "limit:" .. id, { "hold", ms(seconds) })
  if not reply then return nil, err end
  return true
end

return _M
