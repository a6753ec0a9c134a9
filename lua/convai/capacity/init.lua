--- convai.capacity: the WhatsApp business-initiated capacity of voicebot.studio agents, read and reserved.
--
-- `GET /whatsapp/agent-usage` tells how many business-initiated conversations an agent opened in the
-- rolling 24 h window (`current_usage`) and how many it may open (`current_limit`) (docs/api-notes.md §1);
-- the room left is `current_limit - current_usage`. A capacity object is the one interface to that figure,
-- for a campaign's gate (`gate`: `read` asks the vendor each time, `hold` reserves one conversation
-- before a send and `settle` ends the reservation when the send ends) and for a trigger endpoint or a
-- dashboard (`get`: the answer kept `ttl` seconds, so the vendor is asked once per agent and period;
-- `reserve`: conversations about to be opened counted against it until the next read). Every user of
-- one store shares an agent's last read and reservations, so that campaigns gated on one agent, in one
-- process, on one host or on several, together never open more conversations than the capacity last
-- read (the rules: `convai.capacity.ledger`). Where they are kept is the backend (`store`), the same
-- values as the limits' stores:
--
--  - `"process"`: a table in this process (`convai.capacity.process`); the default of `new`;
--  - `"host"`: one `flock`ed file per agent, shared by every convai process of the machine
--    (`convai.capacity.host`); what `convai.campaign.voicebot_gate` and the CLI use by default;
--  - `"shared_dict"`: a `lua_shared_dict`, so every worker of nginx sees the same figures and at most one
--    of them asks the vendor per agent and period (the others wait for its answer, up to the client's
--    timeout, then ask themselves) (`convai.capacity.shared_dict`);
--  - `"redis://[user:password@]host[:port][/db]"`: every process and host using that Redis, one
--    server-side script per operation on the server's clock (`convai.capacity.redis`).
--
-- The vendor's count stays the authority: a reservation stops counting once a read that started after
-- its send ended is kept, and after `ledger.EXPIRY` seconds at most. A store that fails at a
-- reservation fails closed (`store` error: nothing is sent). See docs/coordination.md.
--
-- @module convai.capacity
local backends = require "convai.backends"
local errors = require "convai.errors"
local runtime = require "convai.runtime"
local host = require "convai.capacity.host"
local ledger = require "convai.capacity.ledger"
local process = require "convai.capacity.process"
local redis = require "convai.capacity.redis"
local shared_dict = require "convai.capacity.shared_dict"

local type, tostring, setmetatable = type, tostring, setmetatable
local floor = math.floor

local _M = {}

--- Defaults: seconds an answer is kept, the key prefix and the backend.
_M.DEFAULTS = { ttl = 10, prefix = "convai:capacity:", store = "process" }

local COMMON = { store = true, client = true, ttl = true, prefix = true }

-- `rediss://` reaches the redis backend, whose URL parser refuses it saying why (no TLS in hiredis)
local stores = backends.registry("capacity", { host = host, process = process, redis = redis, rediss = redis,
  shared_dict = shared_dict })

--- Seconds a reservation counts at most (`convai.capacity.ledger.EXPIRY`).
_M.EXPIRY = ledger.EXPIRY

local invalid = errors.invalid

--- Add a backend, chosen by `capacity.new{store = name}` (or a URL whose scheme is `name`).
-- @tparam string name a word or a URL scheme
-- @tparam table backend `{new = function(opts) -> store, OPTIONS = {[name] = true}}`; the store has
--   either the shared dict operations `get`, `set`, `add`, `delete`, or `change(key, fn)` (an atomic
--   change of a document), or the operations of `convai.capacity.ledger` themselves (see
--   docs/coordination.md)
-- @treturn boolean|nil true, or nil and an `invalid_argument` error
function _M.register(name, backend)
  return stores:register(name, backend)
end

local mt = {}
mt.__index = mt

--- Make a capacity object.
-- @tparam table opts
-- @tparam table opts.client a `convai.voicebot` client (made with `voicebot.new` or `from_env`)
-- @tparam[opt="process"] string opts.store `"process"`, `"host"`, `"shared_dict"`, a
--   `redis://[user:password@]host[:port][/db]` URL (or a registered backend)
-- @tparam[opt] string opts.dir `host`: the directory (default `convai.config.capacity_dir()`)
-- @tparam[opt] number opts.connect_timeout `redis`: seconds (default 1)
-- @tparam[opt] number opts.timeout `redis`: seconds for each call (default 1)
-- @tparam[opt=10] number opts.ttl seconds an answer is used by `get` before the vendor is asked again
-- @tparam[opt="convai:capacity:"] string opts.prefix prefix of the keys
-- @tparam[opt] string opts.dict `shared_dict`: the name of a `lua_shared_dict`
-- @treturn convai.capacity|nil the capacity object
-- @treturn[2] nil
-- @treturn[2] convai.error kind `invalid_argument` (a bad option, an unknown store, a malformed URL, a
--   host directory that cannot be used)
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
  local ops = store
  if not store.reserve then ops = ledger.ops(store.change or ledger.on_dict(store)) end
  return setmetatable({ store = store, ops = ops, store_name = name, client = opts.client, ttl = ttl,
    prefix = prefix }, mt)
end

local function key_of(self, agent_id)
  if agent_id == nil then return self.prefix .. "default" end
  return self.prefix .. tostring(agent_id)
end

-- Ask the vendor now and keep the answer in the store (the read's start is the store's time).
local function refresh(self, key, agent_id)
  local token, err = self.ops:read_begin(key)
  if not token then return nil, err end
  local u
  u, err = self.client:whatsapp_usage(agent_id)
  if not u then return nil, err end
  return self.ops:read_end(key, token, u)
end

--- An agent's WhatsApp capacity: the kept answer when younger than `ttl`, else the vendor's (inside
-- nginx on `shared_dict`, one worker asks and the others wait for its answer).
-- @tparam[opt] integer agent_id the voicebot WhatsApp agent (nil: the vendor's first WhatsApp agent)
-- @treturn table|nil `{current_usage, current_limit, limit_exhausted, remaining, reserved, fetched_at,
--   age}`: the vendor's figures (integers, boolean) as `voicebot:whatsapp_usage` returns them, with
--   `remaining = max(0, current_limit - current_usage - reserved)`, `reserved` the live reservations of
--   every user of the store, `fetched_at` the answer's time (epoch seconds) and `age` seconds since
-- @treturn[2] nil
-- @treturn[2] convai.error as `voicebot:whatsapp_usage` (`invalid_argument`, `auth`, `not_found`,
--   `timeout`, ...), or `store` when the store fails
function mt:get(agent_id)
  local key = key_of(self, agent_id)
  local hit, err = self.ops:figures(key)
  if hit == nil then return nil, err end
  if hit and hit.age < self.ttl then return hit end
  local kv = not self.store.change and not self.store.reserve and self.store
  local lock = key .. ":lock"
  local timeout = self.client.http and self.client.http.timeout or 30
  local sleeps = kv and runtime.can_yield()
  local locked = sleeps and kv:add(lock, true, timeout)
  if sleeps and not locked then
    -- another worker is asking the vendor: wait for its answer
    local deadline = runtime.now() + timeout
    repeat
      runtime.sleep(0.01)
      hit = self.ops:figures(key)
      if hit and hit.age < self.ttl then return hit end
    until runtime.now() > deadline or not kv:get(lock)
  end
  hit, err = refresh(self, key, agent_id)
  if locked then kv:delete(lock) end
  return hit, err
end

local function count_of(n)
  if n == nil then return 1 end
  if type(n) ~= "number" or n < 1 or n ~= floor(n) then return nil end
  return n
end

--- Count `n` conversations about to be opened against the agent's remaining capacity, atomically
-- across every user of the store. They count until a read that starts later is kept (a trigger
-- endpoint that does not settle them); a send that can settle uses `hold`.
-- @tparam[opt] integer agent_id as for `get`
-- @tparam[opt=1] integer n conversations
-- @treturn boolean|nil true when they fit (and are counted), false when they do not (nothing counted)
-- @treturn table the capacity after the call, as `get` returns it
-- @treturn[2] nil
-- @treturn[2] convai.error as for `get`, or `invalid_argument` for a bad `n`
function mt:reserve(agent_id, n)
  n = count_of(n)
  if not n then return invalid("n must be a positive integer number of conversations") end
  local usage, err = self:get(agent_id)
  if not usage then return nil, err end
  local ok, fig = self.ops:reserve(key_of(self, agent_id), n, true)
  if ok == nil then return nil, fig end
  return ok, fig or usage
end

--- Reserve one conversation (or `n`) for a send about to leave, against the capacity last read by any
-- user of the store (the vendor is not asked here: a caller with no read kept reads first, `read`).
-- Settle it when the send ends (`settle`); one never settled counts `EXPIRY` seconds.
-- @tparam[opt] integer agent_id as for `get`
-- @tparam[opt=1] integer n conversations
-- @treturn table|boolean|nil a ticket (for `settle`) when they fit; false when they do not, or when no
--   read is kept (then the second value is nil)
-- @treturn table|nil the figures after the call, as `get` returns them
-- @treturn[2] nil
-- @treturn[2] convai.error kind `store` (nothing reserved: send nothing), `invalid_argument` for a bad `n`
function mt:hold(agent_id, n)
  n = count_of(n)
  if not n then return invalid("n must be a positive integer number of conversations") end
  local key = key_of(self, agent_id)
  local ok, fig, ids = self.ops:reserve(key, n, false)
  if ok == nil then return nil, fig end
  if not ok then return false, fig end
  return { key = key, ids = ids }, fig
end

--- End a reservation of `hold`: `sent` true when the vendor may have opened the conversation (it then
-- counts until a read that starts later is kept), false when it did not (429, refused, not connected:
-- the room is given back).
-- @tparam table ticket from `hold`
-- @tparam boolean sent
-- @treturn boolean|nil true
-- @treturn[2] convai.error kind `store`
function mt:settle(ticket, sent)
  return self.ops:settle(ticket.key, ticket.ids, sent == true)
end

--- Forget the kept answer of an agent, so that the next `get` asks the vendor (reservations stay until
-- a read counts them).
-- @tparam[opt] integer agent_id as for `get`
-- @treturn boolean|nil true
-- @treturn[2] convai.error kind `store`
function mt:invalidate(agent_id)
  return self.ops:forget(key_of(self, agent_id))
end

--- Ask the vendor now (a fresh answer, whatever is kept, kept for every user of the store): what a
-- campaign's gate reads.
-- @tparam[opt] integer agent_id as for `get`
-- @treturn table|nil `{capacity = remaining, exhausted = boolean, usage = the figures of get}`
--   (`remaining` net of every live reservation)
-- @treturn[2] nil
-- @treturn[2] convai.error as for `get`
function mt:read(agent_id)
  local u, err = refresh(self, key_of(self, agent_id), agent_id)
  if not u then return nil, err end
  return { capacity = u.remaining, exhausted = u.limit_exhausted or u.remaining <= 0, usage = u }
end

--- A campaign's capacity gate on one agent (`campaign.new{gate = ...}`).
-- @tparam[opt] integer agent_id as for `get`
-- @treturn table `{agent_id, read = function() -> table|nil, err, hold = function() -> ticket|false|nil,
--   err, settle = function(ticket, sent)}`: `read(agent_id)`, `hold(agent_id)` and `settle`
function mt:gate(agent_id)
  return { agent_id = agent_id,
    read = function() return self:read(agent_id) end,
    hold = function() return self:hold(agent_id) end,
    settle = function(ticket, sent) return self:settle(ticket, sent) end,
  }
end

mt.__tostring = function(self)
  return ("convai.capacity (%s, ttl %g s)"):format(self.store_name, self.ttl)
end

return _M
