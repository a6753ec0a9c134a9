--- convai.ngx.limiter: per-agent rate limits shared by every nginx worker, on a `lua_shared_dict`.
--
-- Vonage AI Studio allows 1 outbound session per second per agent (3 or 5 when raised) and answers
-- 429 beyond (API-NOTES §3). Each nginx worker is a separate process, so a limit kept in Lua memory
-- would let N workers together send N times the rate. This limiter keeps its state in a shared dict:
-- every call claims its own time slot for the agent, atomically across workers, and sleeps
-- (`ngx.sleep`, never blocking the worker) until that slot comes.
--
-- Slots are `interval = (1 + margin) / rate` seconds apart: slot `k` starts at `k * interval` on the
-- wall clock (`ngx.now`, the same for every worker of the machine). A call claims the first free slot
-- at or after now with `dict:add`, which succeeds for exactly one caller, so two calls never share a
-- slot and any `rate + 1` calls are at least `1 + margin` seconds apart. The vendor counts arrivals in a
-- sliding 1 s window; the `margin` (default 0.1 s) absorbs the jitter between the start of a slot and
-- the arrival of its request (timer resolution, a busy worker, the network), so that a late request
-- cannot make `rate + 1` arrive within one second. Calls never start before their slot.
--
-- Rates are part of the configuration (the same `rate` and `rates` in every worker, typically set in
-- `init_by_lua`); slots are keyed by interval too, so a limiter with another rate for the same agent
-- does not misread them.
--
-- @module convai.ngx.limiter
local core = require "convai.core"
local errors = require "convai.errors"
local runtime = require "convai.runtime"

local ngx = rawget(_G, "ngx")
local type, tostring, pairs, setmetatable = type, tostring, pairs, setmetatable
local format = string.format
local ceil = math.ceil

local _M = {}

--- Defaults: seconds added to each 1 s window, and the longest wait before giving up, seconds.
_M.DEFAULTS = { rate = 1, margin = 0.1, max_wait = 60, prefix = "convai:rate:" }

local SLEEP_PHASES = runtime.COSOCKET_PHASES

local mt = {}
mt.__index = mt

local now = runtime.now

--- The phases in which `ngx.sleep` may be called (shared with `convai.ngx.capacity`).
_M.SLEEP_PHASES = SLEEP_PHASES

--- Seconds on nginx's clock, refreshed first (`ngx.update_time`, then `ngx.now`).
_M.now = now

local invalid = errors.invalid

local function positive(v)
  return type(v) == "number" and v == v and v > 0 and v < math.huge
end

--- The shared dict named `name`, or nil and an error saying how to declare it.
-- @tparam string name
-- @treturn table|nil the `ngx.shared` dict
-- @treturn convai.error `invalid_argument`
function _M.shared(name)
  if type(name) ~= "string" or name == "" then
    return invalid("dict must be the name of a lua_shared_dict, e.g. \"convai_limits\"")
  end
  local dict = ngx and ngx.shared and ngx.shared[name]
  if not dict then
    return invalid("no lua_shared_dict %q: declare it in the http block of nginx.conf "
      .. "(lua_shared_dict %s 1m;)", name, name)
  end
  return dict
end

--- Create a limiter (in `init_by_lua` or per worker: its state is in the dict, so every copy with
-- the same options shares it).
-- @tparam table opts
-- @tparam string opts.dict name of a `lua_shared_dict` (1m holds thousands of slots)
-- @tparam[opt=1] number opts.rate sessions per second per agent
-- @tparam[opt] table opts.rates `{[agent_id] = rate}` for agents whose limit was raised (3 or 5)
-- @tparam[opt=0.1] number opts.margin seconds added to each 1 s window (see the module description)
-- @tparam[opt=60] number opts.max_wait longest wait, seconds: a call whose slot is further away fails
--   with `rate_limited` and claims nothing
-- @tparam[opt="convai:rate:"] string opts.prefix prefix of the dict keys
-- @treturn convai.ngx.limiter|nil the limiter
-- @treturn[2] nil
-- @treturn[2] convai.error kind `invalid_argument` (a bad option, or no such dict)
function _M.new(opts)
  if type(opts) ~= "table" then return invalid("limiter expects an options table {dict = name, rate = n}") end
  local known = { dict = true, rate = true, rates = true, margin = true, max_wait = true, prefix = true }
  for k in pairs(opts) do
    if not known[k] then
      return invalid("unknown limiter option %s (known: dict, rate, rates, margin, max_wait, prefix)",
        tostring(k))
    end
  end
  local dict, err = _M.shared(opts.dict)
  if not dict then return nil, err end
  local self = { dict = dict, rates = {} }
  for _, k in pairs { "rate", "margin", "max_wait", "prefix" } do
    local v = opts[k]
    if v == nil then v = _M.DEFAULTS[k] end
    self[k] = v
  end
  self.default_rate, self.rate = self.rate, nil -- `rate` is a method
  if not positive(self.default_rate) then
    return invalid("rate must be a positive number of sessions per second")
  end
  if type(self.margin) ~= "number" or not (self.margin >= 0 and self.margin < 10) then
    return invalid("margin must be a number of seconds from 0 to 10")
  end
  if not positive(self.max_wait) then return invalid("max_wait must be a positive number of seconds") end
  if type(self.prefix) ~= "string" then return invalid("prefix must be a string") end
  if opts.rates ~= nil then
    if type(opts.rates) ~= "table" then return invalid("rates must be a table {[agent_id] = rate}") end
    for agent, rate in pairs(opts.rates) do
      if not positive(rate) then
        return invalid("rates[%s] must be a positive number of sessions per second", tostring(agent))
      end
      self.rates[tostring(agent)] = rate
    end
  end
  return setmetatable(self, mt)
end

local function agent_key(agent)
  if type(agent) == "number" then agent = format("%d", agent) end
  if type(agent) ~= "string" or agent == "" then return nil end
  return agent
end

--- An agent's rate and the spacing of its slots.
-- @tparam string agent the agent ID
-- @treturn number sessions per second
-- @treturn number seconds between two slots, `(1 + margin) / rate`
function mt:rate(agent)
  local rate = self.rates[tostring(agent)] or self.default_rate
  return rate, (1 + self.margin) / rate
end

--- Wait for the agent's next free slot: claim it (atomically across the workers) and sleep until it
-- starts. Call it right before sending the request it paces.
-- @tparam string agent the agent ID (a number is formatted as an integer)
-- @treturn number|nil seconds waited
-- @treturn[2] nil
-- @treturn[2] convai.error kind `rate_limited` when the free slot is more than `max_wait` seconds away
--   (`retry_after` in seconds; nothing is claimed), `invalid_argument` for a bad agent or a call in an
--   nginx phase where `ngx.sleep` is not allowed (init, init_worker, set, log, header and body filters),
--   or `server` when the dict is full
function mt:wait(agent)
  local id = agent_key(agent)
  if not id then return invalid("agent must be a non-empty string (the agent ID)") end
  local phase = ngx.get_phase()
  if not SLEEP_PHASES[phase] then
    return invalid("cannot wait for a rate-limit slot in nginx's %s phase; do it in a rewrite, access "
      .. "or content handler or in an ngx.timer callback", phase)
  end
  local _, interval = self:rate(id)
  local dict = self.dict
  local base = format("%s%s:%.6f:", self.prefix, id, interval)
  local t = now()
  local slot = ceil(t / interval)
  local hold = dict:get(self.prefix .. id .. ":hold")
  if hold and ceil(hold / interval) > slot then slot = ceil(hold / interval) end
  local hint = dict:get(base .. "next")
  if hint and hint > slot then slot = hint end
  local at
  while true do
    at = slot * interval
    if at - t > self.max_wait then
      return nil, core.error("rate_limited", format("agent %s: no free slot within max_wait (%g s); "
        .. "%g sessions per second", id, self.max_wait, (self:rate(id))), { retry_after = ceil(at - t) })
    end
    local ok, err = dict:add(base .. slot, true, at - t + 2)
    if ok then break end
    if err ~= "exists" then
      return nil, core.error("server", format("lua_shared_dict for the rate limiter: %s (make it larger)",
        tostring(err)))
    end
    slot = slot + 1
  end
  dict:set(base .. "next", slot + 1, at - t + 2)
  while true do
    local d = at - now()
    if d <= 0 then break end
    ngx.sleep(d < 0.001 and 0.001 or d)
  end
  return now() - t
end

--- Give an agent no new slot for a while, e.g. after a 429 (with the `retry_after` of the error).
-- Slots already claimed keep their time.
-- @tparam string agent the agent ID
-- @tparam[opt] number seconds how long from now; default one window, `(1 + margin)` seconds
-- @treturn boolean|nil true
-- @treturn[2] nil
-- @treturn[2] convai.error kind `invalid_argument`
function mt:penalize(agent, seconds)
  local id = agent_key(agent)
  if not id then return invalid("agent must be a non-empty string (the agent ID)") end
  if seconds == nil then seconds = 1 + self.margin end
  if type(seconds) ~= "number" or not (seconds >= 0 and seconds <= 86400) then
    return invalid("seconds must be a number from 0 to 86400")
  end
  local until_t = now() + seconds
  local key = self.prefix .. id .. ":hold"
  local cur = self.dict:get(key)
  if not cur or cur < until_t then self.dict:set(key, until_t, seconds + 2) end
  return true
end

-- The Vonage methods that start a session (the vendor's per-agent limit counts them all) and the
-- function of convai.vonage that checks their fields.
local SESSION_METHODS = {
  trigger_whatsapp = "whatsapp_body", trigger_sms = "sms_body", make_call = "call_body",
}

local function session_method(name)
  if type(name) ~= "string" then return nil end
  return SESSION_METHODS[name] or (name:match("^trigger_(.+)$") and name:gsub("^trigger_(.+)$", "%1_body"))
end

local function paced(self, client, method, name)
  local vonage = require "convai.vonage"
  local check = vonage[session_method(name)]
  return function(_, t, ...)
    if check then
      local ok, err = check(t)
      if not ok then return nil, err end
    end
    local agent = type(t) == "table" and t.agent_id
    local res, err
    -- A 429 is retried here, each attempt in a slot of its own (the client's own policy, which would
    -- retry it without a slot, is off for these methods: see `wrap`).
    for _ = 1, 3 do
      local waited, werr = self:wait(agent)
      if not waited then return nil, werr end
      res, err = method(client, t, ...)
      if res or type(err) ~= "table" or err.kind ~= "rate_limited" then return res, err end
      self:penalize(agent, err.retry_after)
    end
    return res, err
  end
end

-- The client with its transport's retry policy off, sharing its connection and credential.
local function without_retry(client)
  local http = type(client) == "table" and client.http
  if type(http) ~= "table" or type(http.with_retry) ~= "function" then return client end
  local h = http:with_retry(false)
  if not h then return client end
  local copy = {}
  for k, v in pairs(client) do copy[k] = v end
  copy.http = h
  return setmetatable(copy, getmetatable(client))
end

--- Wrap a Vonage client so that the methods that start a session (`trigger_whatsapp`, `trigger_sms`,
-- `make_call`, any other `trigger_*`) wait for the agent's slot (`t.agent_id`) first.
-- The fields are checked before a slot is claimed (an `invalid_argument` error claims none); after a 429
-- the agent is penalized for its `Retry-After` (or one window) and the trigger is sent again in a new
-- slot (3 attempts in all). Other methods and fields pass through.
-- @tparam table client a `convai.vonage` client
-- @treturn table the wrapped client: same methods, `vg:trigger_whatsapp{...}` as before
-- @usage local vg = lim:wrap(assert(vonage.from_env()))
-- local res, err = vg:trigger_whatsapp { agent_id = "A", ... }   -- waits for A's slot, then sends
function mt:wrap(client)
  local cache = {}
  local direct = client
  client = without_retry(client)
  return setmetatable({ client = client }, {
    __index = function(_, k)
      local v = client[k]
      if type(v) ~= "function" then return v end
      if session_method(k) then
        cache[k] = cache[k] or paced(self, client, v, k)
        return cache[k]
      end
      return function(_, ...) return v(direct, ...) end
    end,
    __tostring = function() return "paced " .. tostring(client) end,
  })
end

return _M
