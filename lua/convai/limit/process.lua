--- convai.limit.process: the in-process backend of `convai.limit`, on the C core's `core.ratelimit`.
--
-- One strict-window token bucket per agent (burst 1, monotonic clock): the slots of an agent are one
-- `interval` apart and no two callers of this process get the same one. A slot that starts later is
-- claimed by holding the bucket (`penalize`) until one interval after it, so the next caller gets the
-- slot after. Nothing is shared with other processes, and nothing survives the process: a restarted
-- process starts with every agent free (its previous requests still count at the vendor for one window).
--
-- @module convai.limit.process
local core = require "convai.core"
local errors = require "convai.errors"

local setmetatable = setmetatable

local _M = { OPTIONS = {} }

local mt = {}
mt.__index = mt

--- Make the backend (see `convai.limit.new`; it takes no option of its own).
-- @treturn table the backend state
function _M.new()
  local buckets, err = core.ratelimit { rate = 1, burst = 1 }
  if not buckets then return nil, errors.new("internal", err) end
  return setmetatable({ buckets = buckets, intervals = {} }, mt)
end

-- The agent's bucket at this interval (set when first seen, or when its rate changed).
local function at_interval(self, id, interval)
  if self.intervals[id] ~= interval then
    self.buckets:set_rate(id, 1 / interval)
    self.intervals[id] = interval
  end
end

--- Claim the first free slot at or after now.
-- @tparam string id the agent
-- @tparam number interval seconds between two slots
-- @tparam number within seconds: a slot that starts later is not claimed
-- @treturn number seconds until the slot starts
-- @treturn boolean whether it was claimed (false: it starts later than `within`)
function mt:acquire(id, interval, within)
  at_interval(self, id, interval)
  local w = self.buckets:take(id)
  if w == 0 then return 0, true end
  if w > within then return w, false end
  self.buckets:penalize(id, w + interval)
  return w, true
end

--- No slot starts before now + seconds (a longer hold is kept).
-- @tparam string id the agent
-- @tparam number seconds
-- @treturn boolean true
function mt:penalize(id, seconds)
  self.buckets:penalize(id, seconds)
  return true
end

return _M
