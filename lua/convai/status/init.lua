--- convai.status: the store of the message statuses that Vonage AI Studio posts to a trigger's
-- `status_url` (`submitted`, `delivered`, `read`, `rejected`, `undeliverable`; the shape is checked by
-- `convai.ngx.status.check`, docs/api-notes.md §3), kept by `convai receive` and read by
-- `convai campaign report` to tell who actually got a message (docs/statuses.md).
--
-- The store is a JSON-lines file (`convai.status.file`, the default: a path) or a Redis list
-- (`convai.status.redis`: `redis://...`), chosen through a `convai.backends` registry, so another
-- backend plugs in with `register`. Each kept status is the callback's object with `received_at` added
-- (seconds since the epoch, the receiver's clock).
--
--     local st = assert(status.open("/var/lib/convai/statuses.jsonl"))
--     assert(st:append { message_uuid = "...", to = "447700900001", timestamp = "...", status = "read" })
--     local all = assert(status.read("redis://127.0.0.1:6379/0"))
--
-- @module convai.status
local backends = require "convai.backends"
local check = require "convai.ngx.status"
local file = require "convai.status.file"
local redis = require "convai.status.redis"

local _M = {
  --- The statuses a callback may carry, in their usual order.
  STATUSES = check.STATUSES,
}

local stores = backends.registry("status", { file = file, redis = redis }, { "open", "read" })

--- Add a backend, chosen by a store URL whose scheme is `name`.
-- @tparam string name a URL scheme
-- @tparam table backend `{open = function(where, opts) -> appender, read = function(where, opts) -> list}`
-- @treturn boolean|nil true, or nil and an `invalid_argument` error
function _M.register(name, backend)
  return stores:register(name, backend)
end

--- Check one status callback object (`convai.ngx.status.check`).
-- @function check
-- @param s the decoded JSON value
-- @treturn boolean|nil true, or nil and what is wrong
_M.check = check.check

--- Check that a store is one a backend takes (its scheme registered), without opening it.
-- @tparam string where a file path, or a URL of a registered backend (`redis://...`)
-- @treturn boolean|nil true
-- @treturn[2] convai.error kind `invalid_argument` (not a string, an unknown scheme)
function _M.usable(where)
  local backend, err = stores:resolve(where, "file")
  if not backend then return nil, err end
  return true
end

--- Open a store for appending.
-- @tparam string where a file path, or a URL of a registered backend (`redis://...`)
-- @tparam[opt] table opts the backend's options (Redis: `key`, the list, default `convai:statuses`)
-- @treturn table|nil the appender: `append(status)` (true, or nil and an error of kind `store`),
--   `close()`
-- @treturn[2] convai.error kind `invalid_argument` (an unknown scheme, a malformed URL) or `store` (the
--   file cannot be opened)
function _M.open(where, opts)
  local backend, err = stores:resolve(where, "file")
  if not backend then return nil, err end
  return backend.open(where, opts)
end

--- Every status of a store, oldest first.
-- @tparam string where as for `open`
-- @tparam[opt] table opts as for `open`
-- @treturn table|nil list of statuses (`message_uuid`, `to`, `timestamp`, `status`, `received_at`, ...)
-- @treturn[2] convai.error kind `invalid_argument` or `store`
function _M.read(where, opts)
  local backend, err = stores:resolve(where, "file")
  if not backend then return nil, err end
  return backend.read(where, opts)
end

return _M
