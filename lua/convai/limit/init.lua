--- convai.limit: per-agent send slots, "wait for this agent's next send slot", whoever sends.
--
-- Vonage AI Studio allows 1 outbound session per second per agent (3 or 5 when raised), counted in a
-- sliding 1 s window over every channel, and answers 429 beyond it (docs/api-notes.md §3). Every sender of
-- an agent (a campaign, a trigger endpoint of nginx, a script) takes a slot before its request leaves.
-- A limit object is the one interface for that; where the slots are kept is its backend (`store`):
--
--  - `"host"`: every convai process of the machine, on one `flock`ed file per agent (real clock)
--    (`convai.limit.host`); what the clients, campaigns and the CLI use by default outside nginx
--    (`default`);
--  - `"process"`: this process only, on the C core's `core.ratelimit` (monotonic clock)
--    (`convai.limit.process`); the default of `limit.new` itself;
--  - `"shared_dict"`: every worker of one nginx, on a `lua_shared_dict` (wall clock, atomic `add`)
--    (`convai.limit.shared_dict`); what `require("convai.ngx").limiter{}` makes;
--  - `"redis://[user:password@]host[:port][/db]"`: every process and host using that Redis, one
--    server-side script per claim on the server's clock (`convai.limit.redis`), in plain Lua and
--    inside nginx alike.
--
-- Slots of an agent are `interval = (1 + margin) / rate` seconds apart: `margin` is the fraction of the
-- interval (equivalently, seconds added to each 1 s window) that absorbs the jitter between a slot's
-- start and the request's arrival at the vendor. A claimed slot is the caller's alone. Another backend
-- (Redis) registers with `register` and is chosen by `store` (a name, or a URL whose scheme names it).
-- The contract, what is atomic and what a crash leaves: docs/coordination.md.
--
--     local limit = require "convai.limit"
--     local lim = assert(limit.new { store = "process", rate = 1, rates = { A = 5 } })
--     assert(lim:wait("A"))               -- A's next slot is ours: send now
--     lim:penalize("A", err.retry_after)  -- after a 429: no slot for a while
--
-- @module convai.limit
local backends = require "convai.backends"
local core = require "convai.core"
local errors = require "convai.errors"
local runtime = require "convai.runtime"
local host = require "convai.limit.host"
local process = require "convai.limit.process"
local redis = require "convai.limit.redis"
local shared_dict = require "convai.limit.shared_dict"

local type, tostring, pairs, setmetatable, getmetatable = type, tostring, pairs, setmetatable, getmetatable
local format = string.format
local ceil, floor, huge = math.ceil, math.floor, math.huge

local _M = {}

--- Defaults: sessions per second, the margin (a fraction of the interval), the longest wait (seconds)
-- and the backend.
_M.DEFAULTS = { rate = 1, margin = 0.1, max_wait = 60, store = "process" }

--- The `lua_shared_dict` a client inside nginx keeps its slots in when no store is given (see `default`).
_M.NGINX_DICT = "convai_limits"

--- Attempts of a send paced by `wrap` that meets 429 (whatever the wrapped client's own retry option).
_M.PACED_ATTEMPTS = 3

local COMMON = { store = true, rate = true, rates = true, margin = true, max_wait = true, setting = true }

-- `rediss://` reaches the redis backend, whose URL parser refuses it saying why (no TLS in hiredis)
local stores = backends.registry("limit", { host = host, process = process, redis = redis, rediss = redis,
  shared_dict = shared_dict })

local invalid = errors.invalid

--- Add a backend, chosen by `limit.new{store = name}` (or by a URL whose scheme is `name`).
-- @tparam string name a word or a URL scheme
-- @tparam table backend `{new = function(opts) -> state, OPTIONS = {[name] = true}}`; the state has
--   `acquire(id, interval, max_wait) -> delay, claimed` and `penalize(id, seconds) -> true`
--   (see docs/coordination.md)
-- @treturn boolean|nil true, or nil and an `invalid_argument` error
function _M.register(name, backend)
  return stores:register(name, backend)
end

local function positive(v)
  return type(v) == "number" and v == v and v > 0 and v < huge
end

local mt = {}
mt.__index = mt

--- The store a sender uses when it is given none (a vendor client, a campaign): outside nginx `host`
-- (every process of the machine shares the agents' slots); inside nginx, where a worker must not
-- block, the `shared_dict` store on the dict `NGINX_DICT` (`lua_shared_dict convai_limits 1m;`) when
-- nginx.conf declares it, else `process` (each worker on its own: declare the dict, or give `limits`).
-- @treturn table options of `new`: `{store = "host"}`, `{store = "shared_dict", dict = NGINX_DICT}` or
--   `{store = "process"}` (a new table each time)
function _M.default()
  if not runtime.in_nginx then return { store = "host" } end
  if runtime.shared_dict(_M.NGINX_DICT) then return { store = "shared_dict", dict = _M.NGINX_DICT } end
  return { store = "process" }
end

--- Is `v` a limit made by `new` (or `derive`)?
-- @param v
-- @treturn boolean
function _M.is_limit(v)
  return getmetatable(v) == mt
end

-- Check the options every backend shares; fills `self`.
local function check_common(self, opts)
  local d = _M.DEFAULTS
  local rate = opts.rate == nil and d.rate or opts.rate
  if not positive(rate) then return invalid("rate must be a positive number of sessions per second") end
  local margin = opts.margin == nil and d.margin or opts.margin
  if type(margin) ~= "number" or not (margin >= 0 and margin < 10) then
    return invalid("margin must be a number of seconds from 0 to 10")
  end
  local max_wait = opts.max_wait == nil and d.max_wait or opts.max_wait
  if not (positive(max_wait) or max_wait == huge) then
    return invalid("max_wait must be a positive number of seconds")
  end
  self.default_rate, self.margin, self.max_wait, self.rates = rate, margin, max_wait, {}
  if opts.rates ~= nil then
    if type(opts.rates) ~= "table" then return invalid("rates must be a table {[agent_id] = rate}") end
    for agent, r in pairs(opts.rates) do
      if not positive(r) then
        return invalid("rates[%s] must be a positive number of sessions per second", tostring(agent))
      end
      self.rates[tostring(agent)] = r
    end
  end
  return true
end

--- Make a limit.
-- @tparam table opts
-- @tparam[opt="process"] string opts.store where the slots are kept: `"process"`, `"shared_dict"`,
--   `"redis://[user:password@]host[:port][/db]"` (`rediss://` is refused: no TLS in the hiredis client),
--   or a registered backend
-- @tparam[opt=1] number opts.rate sessions per second per agent
-- @tparam[opt] table opts.rates `{[agent_id] = rate}` for agents whose limit was raised (3 or 5)
-- @tparam[opt=0.1] number opts.margin fraction by which slots are spaced wider than `1/rate` (seconds
--   added to each 1 s window), 0 to 10
-- @tparam[opt=60] number opts.max_wait longest wait, seconds (`math.huge`: never give up): a slot further
--   away is `rate_limited` and nothing is claimed
-- @tparam[opt] string opts.setting how the user named the store (`"CONVAI_LIMITS"`, `"--limits"`,
--   `"limits"`): the errors about the store start with it
-- @tparam[opt] string opts.dict `shared_dict`: the name of a `lua_shared_dict` (1m holds thousands of slots)
-- @tparam[opt] string opts.prefix `shared_dict`: prefix of the dict keys (default `"convai:rate:"`);
--   `redis`: prefix of the Redis keys (default `"convai:"`, the key is `PREFIX .. "limit:" .. agent`)
-- @tparam[opt=1] number opts.connect_timeout `redis`: seconds to connect
-- @tparam[opt=1] number opts.timeout `redis`: seconds for each call
-- @tparam[opt] string opts.dir `host`: the directory of the agents' files (default
--   `convai.config.limits_dir()`: `$XDG_STATE_HOME/convai/limits`, else `~/.local/state/convai/limits`)
-- @treturn convai.limit|nil the limit (a `redis` one connects at its first claim)
-- @treturn[2] nil
-- @treturn[2] convai.error kind `invalid_argument` (a bad or unknown option or store; no such dict; a
--   `host` directory that cannot be created or is not private; a malformed store URL, never quoted: it
--   may carry a password)
function _M.new(opts)
  if type(opts) ~= "table" then
    return invalid("limit.new expects an options table {store =, rate =, rates =, margin =, max_wait =}")
  end
  local setting = opts.setting
  if setting ~= nil and type(setting) ~= "string" then return invalid("setting must be a string") end
  local function about_store(err)
    if setting and type(err) == "table" then
      return nil, errors.new(err.kind, format("%s: %s", setting, tostring(err.message)))
    end
    return nil, err
  end
  local backend, store = stores:select(opts, COMMON, _M.DEFAULTS.store)
  if not backend then return about_store(store) end
  local self = { store = store }
  local ok, err = check_common(self, opts)
  if not ok then return nil, err end
  self.backend, err = backend.new(opts)
  if not self.backend then return about_store(err) end
  return setmetatable(self, mt)
end

--- A limit on the same store and the same slots (the same backend state: a `process` limit's buckets,
-- a `host` limit's open files), with other rates or margin: how a campaign paces an agent at a rate
-- lower than its client's, in the same slots as the client's other sends.
-- @tparam table opts `rate`, `rates` (laid over this limit's), `margin`, `max_wait`; nil keeps this
--   limit's value
-- @treturn convai.limit|nil the limit
-- @treturn[2] nil
-- @treturn[2] convai.error kind `invalid_argument`
function mt:derive(opts)
  if type(opts) ~= "table" then return invalid("derive expects an options table {rate =, rates =, ...}") end
  local rates = {}
  for agent, r in pairs(self.rates) do rates[agent] = r end
  if opts.rates ~= nil then
    if type(opts.rates) ~= "table" then return invalid("rates must be a table {[agent_id] = rate}") end
    for agent, r in pairs(opts.rates) do rates[tostring(agent)] = r end
  end
  local o = { rates = rates }
  o.rate = opts.rate == nil and self.default_rate or opts.rate
  o.margin = opts.margin == nil and self.margin or opts.margin
  o.max_wait = opts.max_wait == nil and self.max_wait or opts.max_wait
  local copy = { store = self.store, backend = self.backend }
  local ok, err = check_common(copy, o)
  if not ok then return nil, err end
  return setmetatable(copy, mt)
end

-- The slot key of an agent: a non-empty string (an integer is its decimal text).
local function agent_key(agent)
  if type(agent) == "number" and agent == floor(agent) and agent > -2^53 and agent < 2^53 then
    agent = format("%d", agent)
  end
  if type(agent) ~= "string" or agent == "" then return nil end
  return agent
end

local function bad_agent()
  return invalid("agent must be a non-empty string (the agent ID)")
end

--- An agent's rate and the spacing of its slots.
-- @tparam string agent the agent ID
-- @treturn number sessions per second
-- @treturn number seconds between two slots, `(1 + margin) / rate`
function mt:rate(agent)
  local rate = self.rates[tostring(agent)] or self.default_rate
  return rate, (1 + self.margin) / rate
end

--- Claim the agent's next free slot without waiting for it: the slot is the caller's alone (atomically,
-- across every user of the store); the caller must not send before it starts, nor long after (the next
-- slot follows one interval later).
-- @tparam string agent the agent ID (a number is formatted as an integer)
-- @tparam[opt=max_wait] number within seconds: a slot that starts later is not claimed. A caller with its
--   own event loop (a campaign) claims with `within = 0` (a slot that starts now) and comes back after
--   `err.wait`
-- @treturn number|nil seconds until the slot starts (0: now)
-- @treturn[2] nil
-- @treturn[2] convai.error kind `rate_limited` when the free slot starts more than `within` seconds from
--   now (nothing is claimed; `wait` the exact seconds until it starts, `retry_after` the same rounded
--   up), `invalid_argument` for a bad agent, `server` when the store is full, `store` when the store
--   cannot be reached or used (Redis unreachable, timing out, refusing the password): nothing is
--   claimed and the caller must not send
function mt:acquire(agent, within)
  local id = agent_key(agent)
  if not id then return bad_agent() end
  if within == nil then within = self.max_wait end
  if type(within) ~= "number" or within ~= within or within < 0 then
    return invalid("within must be a number of seconds, 0 or more")
  end
  local rate, interval = self:rate(id)
  local delay, claimed = self.backend:acquire(id, interval, within)
  if delay == nil then return nil, claimed end
  if not claimed then
    return nil, core.error("rate_limited", format("agent %s: no free slot within %s (%g s); %g sessions "
      .. "per second", id, within == self.max_wait and "max_wait" or "the time given", within, rate),
      { retry_after = ceil(delay), wait = delay })
  end
  return delay
end

--- Wait for the agent's next free slot: claim it (`acquire`) and sleep until it starts (`ngx.sleep`
-- inside nginx, never blocking the worker; a yield to the scheduler inside a `convai.batch` task; else
-- a blocking sleep). Call it right before sending the request it paces.
-- @tparam string agent the agent ID
-- @tparam[opt] function on_wait `on_wait(seconds)`, called once the slot is claimed and before sleeping
--   when the slot starts later than now (seconds > 0): for `--verbose` output
-- @treturn number|nil seconds waited
-- @treturn[2] nil
-- @treturn[2] convai.error as `acquire`, or `invalid_argument` for a call in an nginx phase where
--   sleeping is not allowed (init, init_worker, set, log, header and body filters)
function mt:wait(agent, on_wait)
  if not agent_key(agent) then return bad_agent() end
  local phase = runtime.phase()
  if phase and not runtime.can_yield() then
    return invalid("cannot wait for a rate-limit slot in nginx's %s phase; do it in a rewrite, access "
      .. "or content handler or in an ngx.timer callback", phase)
  end
  local monotonic = runtime.monotonic
  local t0 = monotonic()
  local delay, err = self:acquire(agent)
  if not delay then return nil, err end
  if on_wait and delay > 0 then on_wait(delay) end
  local at = monotonic() + delay
  while true do
    local d = at - monotonic()
    if d <= 0 then break end
    runtime.sleep(d < 0.001 and 0.001 or d)
  end
  return monotonic() - t0
end

--- Give an agent no new slot for a while, e.g. after a 429 (with the `retry_after` of the error).
-- Slots already claimed keep their time.
-- @tparam string agent the agent ID
-- @tparam[opt] number seconds how long from now; default one window, `(1 + margin)` seconds
-- @treturn boolean|nil true
-- @treturn[2] nil
-- @treturn[2] convai.error kind `invalid_argument`, `store` (the store failed: nothing is held)
function mt:penalize(agent, seconds)
  local id = agent_key(agent)
  if not id then return bad_agent() end
  if seconds == nil then seconds = 1 + self.margin end
  if type(seconds) ~= "number" or not (seconds >= 0 and seconds <= 86400) then
    return invalid("seconds must be a number from 0 to 86400")
  end
  return self.backend:penalize(id, seconds)
end

--- Take the slot of one attempt of a send: after a 429 (`last`, the previous attempt's error) hold the
-- agent first for the error's `retry_after` (or one window), then `wait` for the agent's next slot.
-- What a sender calls before each attempt (the vendor clients' sends, wrapped by `wrap` or not).
-- @tparam string agent the agent ID
-- @tparam[opt] convai.error last the previous attempt's error (nil before the first attempt)
-- @tparam[opt] function on_wait as `wait`: told how long the slot is away before the wait
-- @treturn number|nil seconds waited
-- @treturn[2] nil
-- @treturn[2] convai.error as `wait` (or `penalize`)
function mt:slot(agent, last, on_wait)
  if type(last) == "table" and last.status == 429 then
    local ok, err = self:penalize(agent, last.retry_after)
    if not ok then return nil, err end
  end
  return self:wait(agent, on_wait)
end

--- Wrap a vendor client so that its sends (the methods its module declares in `SENDS`, e.g.
-- `convai.vonage`'s triggers and calls) take the agent's slots from this limit: the wrap is the client's
-- own limited send on this limit (`client:with_limit(lim)`), so that a wrapped send and a send of a
-- client made with `limits = lim` are one path: the fields are checked before a slot is claimed (an
-- `invalid_argument` error claims none), each attempt takes a slot of its own (`slot`), after a 429 the
-- agent is held for its `Retry-After` (or one window) and the request is sent again in a new slot
-- (`PACED_ATTEMPTS` in all, whatever the client's own `retry`: the wrapped sends retry by the defaults
-- with that many attempts, so a request that never left is tried again too), and a 429 that ends the
-- call holds the agent for the other senders too. Other methods and fields pass through; a client
-- without `SENDS` is passed through whole.
-- @tparam table client a vendor client (e.g. `convai.vonage`)
-- @treturn table|nil the wrapped client: same methods, `vg:trigger_whatsapp{...}` as before
-- @treturn[2] nil
-- @treturn[2] convai.error kind `invalid_argument`: a client with `SENDS` but no `with_limit` (it cannot
--   take its slots from this limit)
-- @usage local vg = assert(lim:wrap(assert(vonage.from_env())))
-- local res, err = vg:trigger_whatsapp { agent_id = "A", ... }   -- waits for A's slot, then sends
function mt:wrap(client)
  if type(client) ~= "table" or type(client.SENDS) ~= "table" or not next(client.SENDS) then
    return client
  end
  if type(client.with_limit) ~= "function" then
    return invalid("wrap takes a client that paces its sends (with_limit(lim, retry)), got %s",
      tostring(client))
  end
  local paced, err = client:with_limit(self, { attempts = _M.PACED_ATTEMPTS })
  if not paced then return nil, err end
  local cache = {}
  return setmetatable({ client = paced }, {
    __index = function(_, k)
      local v = paced[k]
      if type(v) ~= "function" then return v end
      cache[k] = cache[k] or function(_, ...) return v(paced, ...) end
      return cache[k]
    end,
    __tostring = function() return "paced " .. tostring(client) end,
  })
end

mt.__tostring = function(self)
  return format("convai.limit (%s, %g/s, margin %g)", self.store, self.default_rate, self.margin)
end

return _M
