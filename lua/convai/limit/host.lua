--- convai.limit.host: the host-wide backend of `convai.limit`: every convai process of the machine
-- (run by one user) shares an agent's send slots through one small file per agent.
--
-- The file holds the agent's GCRA theoretical arrival time (`tat`): the first moment its next slot may
-- start, on the real clock (`core.realtime`, the same for every process). A claim locks the file
-- (`flock`), reads `tat`, takes the slot at `max(tat, now)` unless it starts more than `within` from
-- now, writes `tat = slot + interval` and unlocks; a hold (`penalize`) moves `tat` to at least now +
-- seconds. One claim is atomic because the lock is held from the read to the write; the kernel releases
-- the lock of a process that dies, and the time it wrote stays valid, so a crash leaves nothing to clean.
--
-- Files: `DIR/AGENT` (the agent ID with every byte outside `[A-Za-z0-9_-]` written `%XX`), one line
-- `tat=SECONDS written=SECONDS` (seconds since the epoch, microseconds); `DIR` is `$XDG_STATE_HOME/convai/
-- limits` or `~/.local/state/convai/limits` (`convai.config.limits_dir`), created 0700. The directory
-- and each file are used only when private: owned by this user, not writable by group or others (whoever
-- could write them would decide when convai sends). A clock set back is absorbed: a `tat` written at a
-- later time than now is moved back by the difference. See docs/coordination.md.
--
-- Inside nginx, where a worker must not block, the lock is tried without waiting and retried after a
-- 1 ms `ngx.sleep`; elsewhere the lock waits (it is held for a read and a write).
--
-- @module convai.limit.host
local core = require "convai.core"
local config = require "convai.config"
local errors = require "convai.errors"
local state_files = require "convai.state_files"

local tonumber, setmetatable = tonumber, setmetatable
local format, match = string.format, string.match
local realtime = core.realtime

local _M = { OPTIONS = { dir = true } }

local mt = {}
mt.__index = mt

local function store_error(msg)
  return nil, errors.new("store", "host limit store: " .. msg)
end

--- Make the backend: the directory is created (0700) or checked now.
-- @tparam table opts `dir` (default `convai.config.limits_dir()`)
-- @treturn table|nil the backend state
-- @treturn[2] nil
-- @treturn[2] convai.error kind `invalid_argument`: no directory, or one that cannot be created or is
--   not private (the message names it and the fix)
function _M.new(opts)
  local files, err = state_files.of_store(opts.dir, "limit", config.limits_dir, "limits")
  if not files then return nil, err end
  return setmetatable({ dir = files.dir, files = files }, mt)
end

--- The file name of an agent: its ID with every byte outside `[A-Za-z0-9_-]` as `%XX` (a long one
-- shortened, with its digest).
-- @function file_name
-- @tparam string id the agent
-- @treturn string
_M.file_name = state_files.file_name

-- The agent's file, locked (see convai.state_files).
local function lock(self, id)
  local f, err = self.files:lock(id)
  if not f then return store_error(err) end
  return f
end

-- The `tat` of a locked file at `now` (nil for a new file), or nil and an error.
local function read_tat(self, f, id, now)
  local text, err = f:read()
  if not text then return store_error(err) end
  if text == "" then return nil end
  local tat, written = match(text, "^tat=(%d+%.?%d*) written=(%d+%.?%d*)\n")
  tat, written = tonumber(tat), tonumber(written)
  if not tat or not written then
    return store_error(format("'%s/%s' is not a convai limit file: remove it", self.dir, _M.file_name(id)))
  end
  if written > now then tat = tat - (written - now) end -- the clock was set back
  return tat
end

local function write_tat(f, tat, now)
  local ok, err = f:write(format("tat=%.6f written=%.6f\n", tat, now))
  if not ok then return store_error(err) end
  return true
end

--- Claim the first free slot at or after now (atomically across every process of the machine).
-- @tparam string id the agent
-- @tparam number interval seconds between two slots
-- @tparam number within seconds: a slot that starts later is not claimed
-- @treturn number seconds until the slot starts
-- @treturn boolean whether it was claimed (false: it starts later than `within`)
-- @treturn[2] nil
-- @treturn[2] convai.error kind `store`: the agent's file cannot be opened (not private: the message
--   says how to fix it), locked, read or written
function mt:acquire(id, interval, within)
  local f, err = lock(self, id)
  if not f then return nil, err end
  local now = realtime()
  local tat
  tat, err = read_tat(self, f, id, now)
  if err then f:unlock() return nil, err end
  local start = (tat and tat > now) and tat or now
  if start - now > within then
    f:unlock()
    return start - now, false
  end
  local ok
  ok, err = write_tat(f, start + interval, now)
  f:unlock()
  if not ok then return nil, err end
  return start - now, true
end

--- No slot starts before now + seconds (a longer hold is kept).
-- @tparam string id the agent
-- @tparam number seconds
-- @treturn boolean|nil true
-- @treturn[2] convai.error kind `store` (as `acquire`)
function mt:penalize(id, seconds)
  local f, err = lock(self, id)
  if not f then return nil, err end
  local now = realtime()
  local tat
  tat, err = read_tat(self, f, id, now)
  local ok = true
  if not err and (not tat or tat < now + seconds) then ok, err = write_tat(f, now + seconds, now) end
  f:unlock()
  if err then return nil, err end
  return ok
end

return _M
