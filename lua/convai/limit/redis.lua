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
-- The connection is a `convai.redis_link` (hiredis in plain Lua, cosockets inside nginx), opened at the
-- first call and kept, made once more on a new connection when the kept one fails. When the store still
-- fails (unreachable, timeout, a refused password) the claim fails closed: `nil` and an error of kind
-- `store`, and the caller sends nothing. The password of the URL is never in a field, a message or
-- `tostring`.
--
-- @module convai.limit.redis
local redis_link = require "convai.redis_link"
local redis_script = require "convai.limit.redis_script"

local type, tonumber, setmetatable = type, tonumber, setmetatable
local format = string.format
local min = math.min

local _M = {
  OPTIONS = redis_link.OPTIONS,
  --- Defaults: the key prefix, and the timeouts (seconds) of a connection and of each call.
  DEFAULTS = redis_link.DEFAULTS,
}

local SCRIPT = redis_script.SCRIPT
-- The longest time sent to the script, ms (a slot further away is as good as never: about 30 years).
local MAX_MS = 1e12

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
  local link, err = redis_link.new(opts, "limit store")
  if not link then return nil, err end
  return setmetatable({ link = link, prefix = link.prefix, where = link.where }, mt)
end

-- Run the script on the agent's key: the reply | nil, err (see convai.redis_link for the retry).
local function run(self, key, args)
  local reply, err = self.link:eval(SCRIPT, { key }, args)
  if reply == nil then return nil, err end
  if type(reply) ~= "table" or tonumber(reply[2]) == nil then
    return self.link:failed("unexpected reply from the limit script")
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
