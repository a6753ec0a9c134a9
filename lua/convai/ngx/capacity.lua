--- convai.ngx.capacity: the WhatsApp capacity of voicebot.studio agents, cached in a `lua_shared_dict`.
--
-- `GET /whatsapp/agent-usage` tells how many business-initiated conversations an agent opened in the
-- rolling 24 h window (`current_usage`) and how many it may open (`current_limit`) (API-NOTES §1). A
-- dashboard or a trigger endpoint that asked the vendor on every request would send it one request per
-- page view; this cache keeps the answer for a few seconds in a shared dict, so every worker of nginx
-- sees the same figures and at most one of them asks the vendor per agent and period (the others wait
-- for its answer, up to the client's timeout, then ask themselves).
--
-- Between two refreshes, `reserve` counts the conversations about to be opened against the cached
-- remaining capacity, atomically across workers, so that N workers together do not start more than
-- the agent has left. The vendor's count stays the authority: the next refresh replaces the estimate.
--
-- @module convai.ngx.capacity
local core = require "convai.core"
local errors = require "convai.errors"
local limiter = require "convai.ngx.limiter"

local ngx = rawget(_G, "ngx")
local type, tostring, pairs, setmetatable = type, tostring, pairs, setmetatable

local _M = {}

--- Defaults: seconds an answer is kept, and the key prefix.
_M.DEFAULTS = { ttl = 10, prefix = "convai:capacity:" }

local SLEEP_PHASES = limiter.SLEEP_PHASES

local mt = {}
mt.__index = mt

local now = limiter.now

local invalid = errors.invalid

--- Create a cache.
-- @tparam table opts
-- @tparam string opts.dict name of a `lua_shared_dict`
-- @tparam table opts.client a `convai.voicebot` client (made with `voicebot.new` or `from_env`)
-- @tparam[opt=10] number opts.ttl seconds an answer is used before the vendor is asked again
-- @tparam[opt="convai:capacity:"] string opts.prefix prefix of the dict keys
-- @treturn convai.ngx.capacity|nil the cache
-- @treturn[2] nil
-- @treturn[2] convai.error kind `invalid_argument`
function _M.new(opts)
  if type(opts) ~= "table" then return invalid("capacity expects an options table {dict =, client =}") end
  for k in pairs(opts) do
    if k ~= "dict" and k ~= "client" and k ~= "ttl" and k ~= "prefix" then
      return invalid("unknown capacity option %s (known: dict, client, ttl, prefix)", tostring(k))
    end
  end
  local dict, err = limiter.shared(opts.dict)
  if not dict then return nil, err end
  if type(opts.client) ~= "table" or type(opts.client.whatsapp_usage) ~= "function" then
    return invalid("client must be a convai.voicebot client (voicebot.new{...} or voicebot.from_env())")
  end
  local ttl = opts.ttl == nil and _M.DEFAULTS.ttl or opts.ttl
  if type(ttl) ~= "number" or not (ttl > 0 and ttl <= 86400) then
    return invalid("ttl must be a number of seconds, more than 0 and at most 86400")
  end
  local prefix = opts.prefix == nil and _M.DEFAULTS.prefix or opts.prefix
  if type(prefix) ~= "string" then return invalid("prefix must be a string") end
  return setmetatable({ dict = dict, client = opts.client, ttl = ttl, prefix = prefix }, mt)
end

local function key_of(self, agent_id)
  if agent_id == nil then return self.prefix .. "default" end
  return self.prefix .. tostring(agent_id)
end

-- The cached entry {usage = {...}, fetched_at}, with `reserved` applied; nil when absent.
local function cached(self, key)
  local text = self.dict:get(key)
  if not text then return nil end
  local entry = core.json_decode(text)
  if type(entry) ~= "table" then return nil end
  local reserved = self.dict:get(key .. ":reserved") or 0
  local u = entry.usage
  local remaining = u.current_limit - u.current_usage - reserved
  return {
    current_usage = u.current_usage,
    current_limit = u.current_limit,
    limit_exhausted = u.limit_exhausted or remaining <= 0,
    remaining = remaining > 0 and remaining or 0,
    reserved = reserved,
    fetched_at = entry.fetched_at,
    age = now() - entry.fetched_at,
  }
end

-- Ask the vendor and store the answer (resetting the reservations it now counts).
local function refresh(self, key, agent_id)
  local u, err = self.client:whatsapp_usage(agent_id)
  if not u then return nil, err end
  local text = core.json_encode { usage = u, fetched_at = now() }
  local ok, serr = self.dict:set(key, text, self.ttl)
  if not ok then
    return nil, core.error("server", "lua_shared_dict for the capacity cache: " .. tostring(serr)
      .. " (make it larger)")
  end
  self.dict:set(key .. ":reserved", 0, self.ttl)
  return true
end

--- An agent's WhatsApp capacity: from the cache, else from the vendor (one worker asks, the others wait
-- for its answer).
-- @tparam[opt] integer agent_id the voicebot WhatsApp agent (nil: the vendor's first WhatsApp agent)
-- @treturn table|nil `{current_usage, current_limit, limit_exhausted, remaining, reserved, fetched_at,
--   age}`: the vendor's figures (integers, boolean) as `voicebot:whatsapp_usage` returns them, with
--   `remaining = max(0, current_limit - current_usage - reserved)`, `reserved` the conversations counted
--   by `reserve` since the answer, `fetched_at` its time (epoch seconds) and `age` seconds since
-- @treturn[2] nil
-- @treturn[2] convai.error as `voicebot:whatsapp_usage` (`invalid_argument`, `auth`, `not_found`,
--   `timeout`, ...), or `server` when the dict is full
function mt:get(agent_id)
  local key = key_of(self, agent_id)
  local hit = cached(self, key)
  if hit then return hit end
  local lock = key .. ":lock"
  local timeout = self.client.http and self.client.http.timeout or 30
  local sleeps = SLEEP_PHASES[ngx.get_phase()]
  local locked = sleeps and self.dict:add(lock, true, timeout)
  if sleeps and not locked then
    -- another worker is asking the vendor: wait for its answer
    local deadline = now() + timeout
    repeat
      ngx.sleep(0.01)
      hit = cached(self, key)
      if hit then return hit end
    until now() > deadline or not self.dict:get(lock)
    hit = cached(self, key)
    if hit then return hit end
  end
  local ok, err = refresh(self, key, agent_id)
  if locked then self.dict:delete(lock) end
  if not ok then return nil, err end
  return cached(self, key)
end

--- Count `n` conversations about to be opened against the agent's cached remaining capacity,
-- atomically across workers.
-- @tparam[opt] integer agent_id as for `get`
-- @tparam[opt=1] integer n conversations
-- @treturn boolean|nil true when they fit (and are counted), false when they do not (nothing counted)
-- @treturn table the capacity after the call, as `get` returns it
-- @treturn[2] nil
-- @treturn[2] convai.error as for `get`, or `invalid_argument` for a bad `n`
function mt:reserve(agent_id, n)
  if n == nil then n = 1 end
  if type(n) ~= "number" or n < 1 or n ~= math.floor(n) then
    return invalid("n must be a positive integer number of conversations")
  end
  local usage, err = self:get(agent_id)
  if not usage then return nil, err end
  local key = key_of(self, agent_id)
  local reserved
  reserved, err = self.dict:incr(key .. ":reserved", n, 0, self.ttl)
  if not reserved then
    return nil, core.error("server", "lua_shared_dict for the capacity cache: " .. tostring(err))
  end
  if usage.current_usage + reserved > usage.current_limit then
    self.dict:incr(key .. ":reserved", -n)
    return false, cached(self, key) or usage
  end
  return true, cached(self, key) or usage
end

--- Forget the cached answer of an agent, so that the next `get` asks the vendor.
-- @tparam[opt] integer agent_id as for `get`
function mt:invalidate(agent_id)
  local key = key_of(self, agent_id)
  self.dict:delete(key)
  self.dict:delete(key .. ":reserved")
end

return _M
