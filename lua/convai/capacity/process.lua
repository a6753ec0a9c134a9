--- convai.capacity.process: the in-process backend of `convai.capacity`: a table with expiring entries.
--
-- It offers the operations of an nginx shared dict (`get`, `set`, `add`, `incr`, `delete`, times to live
-- in seconds on the monotonic clock; `convai.capacity` keeps each agent's `convai.capacity.ledger`
-- document with them), for one process: nothing is shared with other processes and nothing survives
-- this one (a new process asks the vendor again).
--
-- @module convai.capacity.process
local runtime = require "convai.runtime"

local type, setmetatable = type, setmetatable

local _M = { OPTIONS = {} }

local mt = {}
mt.__index = mt

--- Make the store (it takes no option of its own).
-- @treturn table the store
function _M.new()
  return setmetatable({ values = {}, expires = {} }, mt)
end

local function live(self, key)
  local e = self.expires[key]
  if e and e <= runtime.monotonic() then
    self.values[key], self.expires[key] = nil, nil
  end
  return self.values[key]
end

local function put(self, key, value, ttl)
  self.values[key] = value
  self.expires[key] = ttl and ttl > 0 and runtime.monotonic() + ttl or nil
end

--- The value of `key`, or nil when absent or expired.
function mt:get(key)
  return live(self, key)
end

--- Set `key` to `value` for `ttl` seconds (0 or nil: no expiry).
-- @treturn boolean true
function mt:set(key, value, ttl)
  put(self, key, value, ttl)
  return true
end

--- Set `key` only when it is absent.
-- @treturn boolean true, or false and `"exists"`
function mt:add(key, value, ttl)
  if live(self, key) ~= nil then return false, "exists" end
  put(self, key, value, ttl)
  return true
end

--- Add `n` to the number at `key` (created as `init` with `init_ttl` when absent and `init` is given).
-- @treturn number|nil the new value, or nil and `"not found"` or `"not a number"`
function mt:incr(key, n, init, init_ttl)
  local v = live(self, key)
  if v == nil then
    if init == nil then return nil, "not found" end
    put(self, key, init, init_ttl)
    v = init
  end
  if type(v) ~= "number" then return nil, "not a number" end
  self.values[key] = v + n
  return v + n
end

--- Remove `key`.
function mt:delete(key)
  self.values[key], self.expires[key] = nil, nil
end

return _M
