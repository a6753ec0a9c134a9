--- convai.capacity.redis: the Redis backend of `convai.capacity`: an agent's capacity reservations
-- shared by every process and every host that uses the same Redis.
--
--     local cap = assert(capacity.new { store = "redis://:PASSWORD@10.0.0.5:6379/0", client = vb })
--
-- Each operation is one round trip: the script of `convai.capacity.redis_script` (the rules of
-- `convai.capacity.ledger` on the server's `TIME`, so no client clock takes part) on the agent's keys
-- `PREFIX AGENT`, `...:flight` and `...:done` (the capacity's prefix, `convai:capacity:` by default),
-- which expire by themselves `ledger.EXPIRY` seconds after the last change. The connection is a
-- `convai.redis_link` (hiredis in plain Lua, cosockets inside nginx). A store that fails (unreachable,
-- timeout, a refused password) fails closed: `nil` and an error of kind `store` (a campaign sends
-- nothing), never naming the password.
--
-- @module convai.capacity.redis
local redis_link = require "convai.redis_link"
local redis_script = require "convai.capacity.redis_script"

local type, tostring, tonumber, ipairs, setmetatable = type, tostring, tonumber, ipairs, setmetatable
local format = string.format
local max = math.max

local _M = { OPTIONS = { connect_timeout = true, timeout = true } }

local SCRIPT = redis_script.SCRIPT

local mt = {}
mt.__index = mt
mt.__tostring = function(self) return "convai.capacity.redis " .. self.link.where end

--- Make the backend. Nothing is connected yet.
-- @tparam table opts `store` (`redis://[user:password@]host[:port][/db]`), `connect_timeout` and
--   `timeout` (seconds, default 1 each); the keys are under the capacity's `prefix`
-- @treturn table|nil the store (the operations of `convai.capacity.ledger`)
-- @treturn[2] nil
-- @treturn[2] convai.error kind `invalid_argument` (a malformed URL, `rediss://`, a bad option); its
--   message never holds the password
function _M.new(opts)
  local link, err = redis_link.new(opts.store, { what = "capacity store",
    connect_timeout = opts.connect_timeout, timeout = opts.timeout })
  if not link then return nil, err end
  return setmetatable({ link = link }, mt)
end

-- The three keys of an agent's capacity key (`convai.capacity`'s prefix and the agent: "convai:capacity:9").
local function keys_of(key)
  return { key, key .. ":flight", key .. ":done" }
end

local function call(self, key, args)
  local reply, err = self.link:eval(SCRIPT, keys_of(key), args)
  if reply == nil then return nil, err end
  if type(reply) ~= "table" or tonumber(reply[1]) == nil then
    return self.link:failed("unexpected reply from the capacity script")
  end
  return reply
end

-- The figures of a reply (the script's microseconds as seconds), or false when no read is kept.
local function figures(reply)
  if tonumber(reply[1]) == 0 then return false end
  local l, u, x, f, now, live = tonumber(reply[2]), tonumber(reply[3]), reply[4] == "1", tonumber(reply[5]),
    tonumber(reply[6]), tonumber(reply[7])
  local room = l - u - live
  return { current_limit = l, current_usage = u, limit_exhausted = x or room <= 0, remaining = max(room, 0),
    reserved = live, fetched_at = f / 1e6, age = (now - f) / 1e6 }
end

--- The server's time (microseconds): a read's token (see `convai.capacity.ledger`).
function mt:read_begin(key)
  local reply, err = call(self, key, { "begin" })
  if not reply then return nil, err end
  return tonumber(reply[2])
end

--- Keep a read that started at `token`; the figures after.
function mt:read_end(key, token, usage)
  local reply, err = call(self, key, { "end", format("%.0f", token), tostring(usage.current_limit),
    tostring(usage.current_usage), usage.limit_exhausted == true and "1" or "0" })
  if not reply then return nil, err end
  return figures(reply)
end

--- Reserve `n`: true, figures, ids | false, figures | false, nil (no read kept).
function mt:reserve(key, n, done)
  local reply, err = call(self, key, { "reserve", tostring(n), done and "1" or "0" })
  if not reply then return nil, err end
  local fig = figures(reply)
  if not fig then return false, nil end
  if tonumber(reply[1]) == 2 then return false, fig end
  local ids = {}
  for i = 8, #reply do ids[#ids + 1] = reply[i] end
  return true, fig, ids
end

--- Settle reservations: removed, or done now when `sent`.
function mt:settle(key, ids, sent)
  local args = { "settle", sent and "1" or "0" }
  for _, id in ipairs(ids) do args[#args + 1] = id end
  local reply, err = call(self, key, args)
  if not reply then return nil, err end
  return true
end

--- The figures, or false when no read is kept.
function mt:figures(key)
  local reply, err = call(self, key, { "figures" })
  if not reply then return nil, err end
  return figures(reply)
end

--- Drop the kept read.
function mt:forget(key)
  local reply, err = call(self, key, { "forget" })
  if not reply then return nil, err end
  return true
end

return _M
