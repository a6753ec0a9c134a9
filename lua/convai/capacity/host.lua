--- convai.capacity.host: the host-wide backend of `convai.capacity`: every convai process of the
-- machine (run by one user) shares an agent's capacity reservations through one small file per agent.
--
-- The file holds the agent's ledger document (`convai.capacity.ledger`: the last read of the vendor
-- and the reservations made since, as JSON, times on the real clock `core.realtime`, the same for every
-- process). Each operation locks the file (`flock`), reads the document, applies the rule and writes it
-- back, so a reservation's check and its count are one step for every process. The kernel releases the
-- lock of a process that dies; its reservations in flight expire (`ledger.EXPIRY`).
--
-- Files: `DIR/KEY` (the capacity key, e.g. `convai:capacity:9`, with every byte outside `[A-Za-z0-9_-]`
-- written `%XX`), beside the limit store's files: `DIR` is `$XDG_STATE_HOME/convai/capacity` or
-- `~/.local/state/convai/capacity` (`convai.config.capacity_dir`), created 0700; the directory and each
-- file are used only when private (`convai.state_files`). See docs/coordination.md.
--
-- @module convai.capacity.host
local core = require "convai.core"
local config = require "convai.config"
local errors = require "convai.errors"
local ledger = require "convai.capacity.ledger"
local state_files = require "convai.state_files"

local realtime = core.realtime

local _M = { OPTIONS = { dir = true } }

--- The most bytes an agent's file holds (what `core.state_file` writes at most): a few hundred
-- reservations; a reservation beyond is refused with `store`.
_M.MAX_BYTES = 16384

local function store_error(msg)
  return nil, errors.new("store", "host capacity store: " .. msg)
end

--- Make the backend: the directory is created (0700) or checked now.
-- @tparam table opts `dir` (default `convai.config.capacity_dir()`)
-- @treturn table|nil the store: `change(key, fn)` (see `convai.capacity.ledger.ops`)
-- @treturn[2] nil
-- @treturn[2] convai.error kind `invalid_argument`: no directory, or one that cannot be created or is
--   not private (the message names it and the fix)
function _M.new(opts)
  local files, ferr = state_files.of_store(opts.dir, "capacity", config.capacity_dir, "store")
  if not files then return nil, ferr end
  return {
    dir = files.dir,
    change = function(key, fn)
      local f, err = files:lock(key)
      if not f then return store_error(err) end
      local text
      text, err = f:read()
      if not text then f:unlock() return store_error(err) end
      local doc = ledger.decode(text)
      if not doc then
        f:unlock()
        return store_error(("'%s' is not a convai capacity file: remove it"):format(files:path(key)))
      end
      local r1, r2, r3 = fn(doc, realtime())
      text = ledger.encode(doc) .. "\n"
      if #text > _M.MAX_BYTES then
        f:unlock()
        return store_error(("too many reservations in '%s' (more than %d bytes)"):format(files:path(key),
          _M.MAX_BYTES))
      end
      local ok
      ok, err = f:write(text)
      f:unlock()
      if not ok then return store_error(err) end
      return r1, r2, r3
    end,
  }
end

return _M
