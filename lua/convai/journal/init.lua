--- convai.journal: the record of a campaign, what makes it crash-safe and resumable.
--
-- A journal belongs to one campaign (its fingerprint: provider, channel, agent, template, ...) and holds,
-- per recipient (keyed by the normalised number `to`), the last of these records:
--
--  - `pending`: the recipient is claimed; written, durably, before the request leaves;
--  - `sent` (with `status` and the vendor's `body`), `failed` (with `kind`, `status`, `message`): the
--    outcome;
--  - `throttled` (a 429: the vendor did not take it, the recipient is retried) and `unsent` (the
--    connection failed before any byte of the request left, or the vendor refused at its limit: retried);
--  - `unknown`: a `pending` found without an outcome on resume (the process died mid-request, so the
--    vendor may or may not have it; never sent again).
--
-- This module is the one interface; where the records are kept is its backend, chosen by where the
-- journal is (`where`): a file path (`convai.journal.file`, the default), or a URL whose scheme names a
-- registered backend (`redis://...`: `convai.journal.redis`, one campaign's state shared by many
-- workers). Contract, atomicity and crashes: docs/coordination.md.
--
--     local j = assert(journal.open(path, fingerprint, assert(journal.load(path, fingerprint))))
--     assert(j:claim { r = "pending", to = "447700900001", line = 2 })  -- before the request leaves
--     assert(j:write { r = "sent", to = "447700900001", line = 2, status = 200 })
--     j:close()
--
-- @module convai.journal
local backends = require "convai.backends"
local core = require "convai.core"
local file = require "convai.journal.file"
local redis = require "convai.journal.redis"

local type = type

local _M = {
  --- The version of the file format written (`convai.journal.file`).
  VERSION = file.VERSION,
  --- States a recipient can end in (`sent`, `failed`, `unknown`); `pending` (no outcome yet) and the
  -- retryable `throttled`/`unsent` are not final.
  FINAL = file.FINAL,
  --- The file backend's reader (`convai.journal.file.read`): a journal file as it is, partial tail
  -- included.
  read = file.read,
  --- Compare a journal's campaign record with a fingerprint (`convai.journal.file.same_campaign`).
  same_campaign = file.same_campaign,
}

local stores = backends.registry("journal", { file = file, redis = redis }, { "load", "open" })

--- Add a backend, chosen by a journal `where` whose URL scheme is `name`.
-- @tparam string name a URL scheme (e.g. `"redis"`)
-- @tparam table backend `{load = function(where, fingerprint), open = function(where, fingerprint,
--   loaded)}` (see docs/coordination.md)
-- @treturn boolean|nil true, or nil and an `invalid_argument` error
function _M.register(name, backend)
  return stores:register(name, backend)
end

local function journal_error(err)
  if type(err) == "table" then return nil, err end
  return nil, core.error("journal", err)
end

--- Read a campaign's journal, changing nothing (a dry run stops here).
-- @tparam string where a file path, or a URL of a registered backend
-- @tparam table fingerprint the campaign's identity (strings and numbers)
-- @treturn table|nil `{state = {[to] = last record}, exists = boolean, ...}` (the file backend adds
--   `header`, `records`, `partial`, `size`, `valid_bytes`); an absent journal has an empty `state`
-- @treturn[2] nil
-- @treturn[2] convai.error kind `journal` (unreadable, not a journal, another campaign's), or
--   `invalid_argument` (an unknown URL scheme)
function _M.load(where, fingerprint)
  local backend, err = stores:resolve(where, "file")
  if not backend then return nil, err end
  local loaded
  loaded, err = backend.load(where, fingerprint)
  if not loaded then return journal_error(err) end
  return loaded
end

--- Check, changing nothing, that a campaign's journal could be written where it is (a dry run's check of
-- what the real run would open). A backend without a `check` function is taken as writable.
-- @tparam string where as for `load`
-- @treturn boolean|nil true
-- @treturn[2] convai.error kind `journal` (`cannot write journal PATH: directory D does not exist`, ...),
--   or `invalid_argument` (an unknown URL scheme)
function _M.check(where)
  local backend, err = stores:resolve(where, "file")
  if not backend then return nil, err end
  if not backend.check then return true end
  local ok
  ok, err = backend.check(where)
  if not ok then return journal_error(err) end
  return true
end

--- Open a campaign's journal for writing: creates it with the campaign's identity, or takes up an
-- existing one of the same campaign (repairing a record cut by a crash). The run that opened it is its
-- only writer until `close` (the file backend holds a lock).
-- @tparam string where as for `load`
-- @tparam table fingerprint the campaign's identity
-- @tparam[opt] table loaded what `load` returned (read again when nil)
-- @treturn table|nil the journal: `claim(record)` (a `pending` record, durable before it returns; false
--   when another worker holds the recipient), `write(record)` (an outcome, durable before it returns),
--   `close()` (idempotent); each returns true, or nil and a message
-- @treturn[2] nil
-- @treturn[2] convai.error kind `journal` (another campaign's, in use by another run, not writable),
--   or `invalid_argument` (an unknown URL scheme)
function _M.open(where, fingerprint, loaded)
  local backend, err = stores:resolve(where, "file")
  if not backend then return nil, err end
  local j
  j, err = backend.open(where, fingerprint, loaded)
  if not j then return journal_error(err) end
  return j
end

return _M
