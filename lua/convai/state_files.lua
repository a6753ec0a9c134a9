--- convai.state_files: a private directory of small state files, one per key, each locked (`flock`)
-- while it is read and replaced: what the host-wide stores keep their state in (`convai.limit.host`:
-- an agent's next free send time; `convai.capacity.host`: an agent's capacity reservations).
--
-- The directory is created (0700) or checked when the set is made; each file is opened at its first use
-- and kept open (`core.state_file`: created 0600, never through a symbolic link, used only when private:
-- owned by this user, not writable by group or others). A lock waits outside nginx (it is held for a read
-- and a write); inside nginx, where a worker must not block, it is tried and retried after a 1 ms
-- `ngx.sleep` for at most `LOCK_PATIENCE`. A file removed or replaced since it was opened is opened again,
-- so every process locks the same file. The kernel releases the lock of a process that dies.
--
-- @module convai.state_files
local core = require "convai.core"
local errors = require "convai.errors"
local runtime = require "convai.runtime"

local type, setmetatable = type, setmetatable
local format, gsub, byte, sub = string.format, string.gsub, string.byte, string.sub

local _M = {}

--- Seconds a caller that must not block (inside nginx) keeps trying a lock held by others before the
-- lock fails.
_M.LOCK_PATIENCE = 5

local mt = {}
mt.__index = mt

--- The file name of a key: every byte outside `[A-Za-z0-9_-]` as `%XX` (a long one shortened, with its
-- digest).
-- @tparam string key
-- @treturn string
function _M.file_name(key)
  local name = gsub(key, "[^A-Za-z0-9_-]", function(c) return format("%%%02X", byte(c)) end)
  if #name > 200 then name = sub(name, 1, 180) .. "~" .. core.digest(key) end
  return name
end

--- A set of state files in `dir`, created (with its missing parents, 0700) or checked now.
-- @tparam string dir
-- @treturn table|nil the set (`dir`, `path`, `lock`)
-- @treturn[2] nil
-- @treturn[2] string why the directory cannot be used, naming it and the fix (`core.private_dir`)
function _M.new(dir)
  local ok, msg = core.private_dir(dir)
  if not ok then return nil, msg end
  return setmetatable({ dir = dir, files = {} }, mt)
end

--- The set of a host store (`convai.limit.host`, `convai.capacity.host`): in its `dir` option, else in
-- its default directory.
-- @tparam string|nil dir the store's `dir` option
-- @tparam string what the store, for messages: `"limit"` or `"capacity"`
-- @tparam function default `() -> dir | nil, err`: the default directory (`convai.config.limits_dir`,
--   `capacity_dir`)
-- @tparam string option the caller's option that chooses the store, for messages (`"limits"`, `"store"`)
-- @treturn table|nil the set
-- @treturn[2] nil
-- @treturn[2] convai.error kind `invalid_argument`: no directory, or one that cannot be created or is
--   not private (the message names it, the fix and the other stores)
function _M.of_store(dir, what, default, option)
  local hint = ""
  if dir == nil then
    local err
    dir, err = default()
    if not dir then return nil, err end
    local name = dir:match("[^/]+$")
    hint = format(" (it is $XDG_STATE_HOME/convai/%s, else ~/.local/state/convai/%s)", name, name)
  elseif type(dir) ~= "string" or dir == "" then
    return errors.invalid("dir must be the path of the host %s store's directory", what)
  end
  local files, msg = _M.new(dir)
  if not files then
    return errors.invalid("the host %s store cannot use its directory: %s%s; or choose another store "
      .. "(CONVAI_LIMITS, --limits or the %s option: process, or a redis:// URL)", what, msg, hint, option)
  end
  return files
end

--- The path of a key's file.
-- @tparam string key
-- @treturn string
function mt:path(key)
  return self.dir .. "/" .. _M.file_name(key)
end

-- The open file of a key (kept open for the next locks).
local function file_of(self, key)
  local f = self.files[key]
  if f then return f end
  local err
  f, err = core.state_file(self:path(key))
  if not f then return nil, err end
  self.files[key] = f
  return f
end

--- A key's file, locked (`read`, `write`, then `unlock` it).
-- @tparam string key
-- @treturn userdata|nil the file (`core.state_file`), locked
-- @treturn[2] nil
-- @treturn[2] string why: not private (how to fix it), locked by others for `LOCK_PATIENCE` (inside
--   nginx), replaced again and again, or a system error
function mt:lock(key)
  local wait = not runtime.can_yield()
  for _ = 1, 3 do
    local f, err = file_of(self, key)
    if not f then return nil, err end
    local ok, why = f:lock(wait)
    local deadline = nil
    while ok == false and why == "busy" do -- inside nginx: never block the worker
      deadline = deadline or runtime.monotonic() + _M.LOCK_PATIENCE
      if runtime.monotonic() > deadline then
        return nil, format("the file of %s stayed locked for %g s", key, _M.LOCK_PATIENCE)
      end
      runtime.sleep(0.001)
      ok, why = f:lock(false)
    end
    if ok then return f end
    if ok == nil then return nil, why end
    f:close() -- stale
    self.files[key] = nil
  end
  return nil, format("the file of %s keeps being replaced", key)
end

return _M
