--- convai.capacity: the WhatsApp business-initiated capacity of voicebot.studio agents, read and reserved.
--
-- `GET /whatsapp/agent-usage` tells how many business-initiated conversations an agent opened in the
-- rolling 24 h window (`current_usage`) and how many it may open (`current_limit`) (docs/api-notes.md §1);
-- the room left is `current_limit - current_usage`. A capacity object is the one interface to that figure,
-- for a campaign's gate (`gate`, `read`: a fresh answer each time) and for a trigger endpoint or a
-- dashboard (`get`: the answer kept `ttl` seconds, so the vendor is asked once per agent and period;
-- `reserve`: conversations about to be opened counted against it, atomically). Where the answers and
-- reservations are kept is its backend (`store`):
--
--  - `"process"`: a table in this process (`convai.capacity.process`);
--  - `"shared_dict"`: a `lua_shared_dict`, so every worker of nginx sees the same figures and at most one
--    of them asks the vendor per agent and period (the others wait for its answer, up to the client's
--    timeout, then ask themselves) (`convai.capacity.shared_dict`).
--
-- The vendor's count stays the authority: each answer replaces the estimate and its reservations. A
-- backend is a key-value store with the operations of an nginx shared dict (`get`, `set`, `add`,
-- `incr`, `delete`, each with a time to live); one added later (a host-wide file store, Redis) registers
-- with `register`. See docs/coordination.md.
--
-- @module convai.capacity
local backends = require "convai.backends"
local core = require "convai.core"
local errors = require "convai.errors"
local runtime = require "convai.runtime"
local process = require "convai.capacity.process"
local shared_dict = require "convai.capacity.shared_dict"

local type, tostring, setmetatable = type, tostring, setmetatable
local floor = math.floor

local _M = {}

--- Defaults: seconds an answer is kept, the key prefix and the backend.
_M.DEFAULTS = { ttl = 10, prefix = "convai:capacity:", store = "process" }

local COMMON = { store = true, client = true, ttl = true, prefix = true }

local stores = backends.registry("capacity", { process = process, shared_dict = shared_dict })

local invalid = errors.invalid

--- Add a backend, chosen by `capacity.new{store = name}` (or a URL whose scheme is `name`).
-- @tparam string name a word or a URL scheme
-- @tparam table backend `{new = function(opts) -> store, OPTIONS = {[name] = true}}`; the store has the
--   shared dict operations `get`, `set`, `add`, `incr`, `delete` (see docs/coordination.md)
-- @treturn boolean|nil true, or nil and an `invalid_argument` error
function _M.register(name, backend)
  return stores:register(name, backend)
end

local mt = {}
mt.__index = mt

--- Make a capacity object.
-- @tparam table opts
-- @tparam table opts.client a `convai.voicebot` client (made with `voicebot.new` or `from_env`)
-- @tparam[opt="process"] string opts.store `"process"` or `"shared_dict"` (or a registered backend)
-- @tparam[opt=10] number opts.ttl seconds an answer is used by `get` before the vendor is asked again
-- @tparam[opt="convai:capacity:"] string opts.prefix prefix of the keys
-- @tparam[opt] string opts.dict `shared_dict`: the name of a `lua_shared_dict`
-- @treturn convai.capacity|nil the capacity object
-- @treturn[2] nil
-- @treturn[2] convai.error kind `invalid_argument`
function _M.new(opts)
  if type(opts) ~= "table" then return invalid("capacity expects an options table {client =, store =}") end
  local backend, name = stores:select(opts, COMMON, _M.DEFAULTS.store)
  if not backend then return nil, name end
  local store, err = backend.new(opts)
  if not store then return nil, err end
  if type(opts.client) ~= "table" or type(opts.client.whatsapp_usage) ~= "function" then
    return invalid("client must be a convai.voicebot client (voicebot.new{...} or voicebot.from_env())")
  end
  local ttl = opts.ttl == nil and _M.DEFAULTS.ttl or opts.ttl
  if type(ttl) ~= "number" or not (ttl > 0 and ttl <= 86400) then
    return invalid("ttl must be a number of seconds, more than 0 and at most 86400")
  end
  local prefix = opts.prefix == nil and _M.DEFAULTS.prefix or opts.prefix
  if type(prefix) ~= "string" then return invalid("prefix must be a string") end
  return setmetatable({ store = store, store_name = name, client = opts.client, ttl = ttl, prefix = prefix },
    mt)
end

local function key_of(self, agent_id)
  if agent_id == nil then return self.prefix .. "default" end
  return self.prefix .. tostring(agent_id)
end

local function store_error(what, err)
  return nil, core.error("server", "the capacity store: " .. tostring(err) .. " (" .. what .. ")")
end

-- The kept answer {usage = {...}, fetched_at}, with `reserved` applied; nil when absent.
local function cached(self, key)
  local text = self.store:get(key)
  if not text then return nil end
  local entry = core.json_decode(text)
  if type(entry) ~= "table" then return nil end
  local reserved = self.store:get(key .. ":reserved") or 0
  local u = entry.usage
  local remaining = u.current_limit - u.current_usage - reserved
  return {
    current_usage = u.current_usage,
    current_limit = u.current_limit,
    limit_exhausted = u.limit_exhausted or remaining <= 0,
    remaining = remaining > 0 and remaining or 0,
    reserved = reserved,
    fetched_at = entry.fetched_at,
    age = runtime.now() - entry.fetched_at,
  }
end

-- Ask the vendor and keep the answer (resetting the reservations it now counts).
local function refresh(self, key, agent_id)
  local u, err = self.client:whatsapp_usage(agent_id)
  if not u then return nil, err end
  local text = core.json_encode { usage = u, fetched_at = runtime.now() }
  local ok, serr = self.store:set(key, text, self.ttl)
  if not ok then return store_error("make it larger", serr) end
  self.store:set(key .. ":reserved", 0, self.ttl)
  return true
end

--- An agent's WhatsApp capacity: the kept answer, else the vendor's (inside nginx, one worker asks and
-- the others wait for its answer).
-- @tparam[opt] integer agent_id the voicebot WhatsApp agent (nil: the vendor's first WhatsApp agent)
-- @treturn table|nil `{current_usage, current_limit, limit_exhausted, remaining, reserved, fetched_at,
--   age}`: the vendor's figures (integers, boolean) as `voicebot:whatsapp_usage` returns them, with
--   `remaining = max(0, current_limit - current_usage - reserved)`, `reserved` the conversations counted
--   by `reserve` since the answer, `fetched_at` its time (epoch seconds) and `age` seconds since
-- @treturn[2] nil
-- @treturn[2] convai.error as `voicebot:whatsapp_usage` (`invalid_argument`, `auth`, `not_found`,
--   `timeout`, ...), or `server` when the store is full
function mt:get(agent_id)
  local key = key_of(self, agent_id)
  local hit = cached(self, key)
  if hit then return hit end
  local lock = key .. ":lock"
  local timeout = self.client.http and self.client.http.timeout or 30
  local sleeps = runtime.can_yield()
  local locked = sleeps and self.store:add(lock, true, timeout)
  if sleeps and not locked then
    -- another worker is asking the vendor: wait for its answer
    local deadline = runtime.now() + timeout
    repeat
      runtime.sleep(0.01)
      hit = cached(self, key)
      if hit then return hit end
    until runtime.now() > deadline or not self.store:get(lock)
    hit = cached(self, key)
    if hit then return hit end
  end
  local ok, err = refresh(self, key, agent_id)
  if locked then self.store:delete(lock) end
  if not ok then return nil, err end
  return cached(self, key)
end

--- Count `n` conversations about to be opened against the agent's remaining capacity, atomically
-- across every user of the store.
-- @tparam[opt] integer agent_id as for `get`
-- @tparam[opt=1] integer n conversations
-- @treturn boolean|nil true when they fit (and are counted), false when they do not (nothing counted)
-- @treturn table the capacity after the call, as `get` returns it
-- @treturn[2] nil
-- @treturn[2] convai.error as for `get`, or `invalid_argument` for a bad `n`
function mt:reserve(agent_id, n)
  if n == nil then n = 1 end
  if type(n) ~= "number" or n < 1 or n ~= floor(n) then
    return invalid("n must be a positive integer number of conversations")
  end
  local usage, err = self:get(agent_id)
  if not usage then return nil, err end
  local key = key_of(self, agent_id)
  local reserved
  reserved, err = self.store:incr(key .. ":reserved", n, 0, self.ttl)
  if not reserved then return store_error("reserve", err) end
  if usage.current_usage + reserved > usage.current_limit then
    self.store:incr(key .. ":reserved", -n)
    return false, cached(self, key) or usage
  end
  return true, cached(self, key) or usage
end

--- Forget the kept answer of an agent (and its reservations), so that the next `get` asks the vendor.
-- @tparam[opt] integer agent_id as for `get`
function mt:invalidate(agent_id)
  local key = key_of(self, agent_id)
  self.store:delete(key)
  self.store:delete(key .. ":reserved")
end

--- Ask the vendor now (a fresh answer, whatever is kept): what a campaign's gate reads.
-- @tparam[opt] integer agent_id as for `get`
-- @treturn table|nil `{capacity = remaining, exhausted = boolean, usage = the figures of get}`
-- @treturn[2] nil
-- @treturn[2] convai.error as for `get`
function mt:read(agent_id)
  self:invalidate(agent_id)
  local u, err = self:get(agent_id)
  if not u then return nil, err end
  return { capacity = u.remaining, exhausted = u.limit_exhausted or u.remaining <= 0, usage = u }
end

--- A campaign's capacity gate on one agent (`campaign.new{gate = ...}`): `read()` is `read(agent_id)`.
-- @tparam[opt] integer agent_id as for `get`
-- @treturn table `{agent_id = agent_id, read = function() -> table|nil, err}`
function mt:gate(agent_id)
  return { agent_id = agent_id, read = function() return self:read(agent_id) end }
end

mt.__tostring = function(self)
  return ("convai.capacity (%s, ttl %g s)"):format(self.store_name, self.ttl)
end

return _M
