--- convai.limit.shared_dict: the nginx backend of `convai.limit`, on a `lua_shared_dict`.
--
-- Each nginx worker is a separate process, so a limit kept in Lua memory would let N workers together
-- send N times the rate. This backend keeps the slots in a shared dict: slot `k` of an agent starts at
-- `k * interval` on the wall clock (`runtime.now`, the same for every worker of the machine). A claim
-- takes the first free slot at or after now with `dict:add`, which succeeds for exactly one caller, so
-- two claims never share a slot and any `rate + 1` sends are at least `1 + margin` seconds apart.
-- Slots are keyed by interval too, so a limit with another rate for the same agent does not misread
-- them. The dict lives as long as nginx (a reload keeps it, a restart empties it); a worker that dies
-- after a claim only leaves its slot unused.
--
-- Keys (under `prefix`, default `convai:rate:`): `AGENT:INTERVAL:K` (slot K claimed), `AGENT:INTERVAL:next`
-- (where the next search starts), `AGENT:hold` (no slot before this time, after a 429). Each expires
-- two seconds after its time has passed.
--
-- @module convai.limit.shared_dict
local core = require "convai.core"
local errors = require "convai.errors"
local runtime = require "convai.runtime"

local type, tostring, setmetatable = type, tostring, setmetatable
local format = string.format
local ceil = math.ceil

local _M = { OPTIONS = { dict = true, prefix = true }, DEFAULTS = { prefix = "convai:rate:" } }

--- Seconds after its start that a slot may still be claimed by a caller that can only send now (a
-- claim `within` less than this): slots sit on a grid, so a caller spinning up to a slot's start
-- reaches it a little late.
_M.GRACE = 0.002

local mt = {}
mt.__index = mt

local now = runtime.now

--- Make the backend.
-- @tparam table opts `dict` (the name of a `lua_shared_dict`), `prefix` (of its keys)
-- @treturn table|nil the backend state
-- @treturn[2] convai.error kind `invalid_argument` (no such dict, a bad prefix)
function _M.new(opts)
  local dict, err = runtime.shared_dict(opts.dict)
  if not dict then return nil, err end
  local prefix = opts.prefix == nil and _M.DEFAULTS.prefix or opts.prefix
  if type(prefix) ~= "string" then return errors.invalid("prefix must be a string") end
  return setmetatable({ dict = dict, prefix = prefix }, mt)
end

--- Claim the first free slot at or after now (atomically across the workers); with `within` below
-- `GRACE`, one that began at most `GRACE` ago counts as now.
-- @tparam string id the agent
-- @tparam number interval seconds between two slots
-- @tparam number within seconds: a slot that starts later is not claimed
-- @treturn number seconds until the slot starts
-- @treturn boolean whether it was claimed (false: it starts later than `within`)
-- @treturn[2] nil
-- @treturn[2] convai.error kind `server` when the dict is full
function mt:acquire(id, interval, within)
  local dict = self.dict
  local base = format("%s%s:%.6f:", self.prefix, id, interval)
  local t = now()
  local slot = ceil((t - (within < _M.GRACE and _M.GRACE or 0)) / interval)
  local hold = dict:get(self.prefix .. id .. ":hold")
  if hold and ceil(hold / interval) > slot then slot = ceil(hold / interval) end
  local hint = dict:get(base .. "next")
  if hint and hint > slot then slot = hint end
  local at
  while true do
    at = slot * interval
    if at - t > within then return at - t, false end
    local ok, err = dict:add(base .. slot, true, at - t + 2)
    if ok then break end
    if err ~= "exists" then
      return nil, core.error("server", format("lua_shared_dict for the rate limiter: %s (make it larger)",
        tostring(err)))
    end
    slot = slot + 1
  end
  dict:set(base .. "next", slot + 1, at - t + 2)
  return at > t and at - t or 0, true
end

--- No slot starts before now + seconds (a longer hold is kept).
-- @tparam string id the agent
-- @tparam number seconds
-- @treturn boolean true
function mt:penalize(id, seconds)
  local until_t = now() + seconds
  local key = self.prefix .. id .. ":hold"
  local cur = self.dict:get(key)
  if not cur or cur < until_t then self.dict:set(key, until_t, seconds + 2) end
  return true
end

return _M
