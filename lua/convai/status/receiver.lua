--- convai.status.receiver: the nginx side of `convai receive`, a `status_url` receiver. Its nginx.conf
-- (`convai.status.receiver_conf`) calls `init` in the master (init_by_lua: the store is opened there, so
-- the workers, which may run as `nobody`, write to a file they could not open) and `handle` for
-- `POST /vonage/status`: `convai.ngx.status.handler` checks the body (400 and nothing kept when it is
-- malformed), answers 200 and releases the connection, then appends each status, with `received_at`
-- (seconds since the epoch), to the store. `GET /_receiver/health` answers 200 (nginx.conf).
--
-- @module convai.status.receiver
local handler = require "convai.ngx.status"
local runtime = require "convai.runtime"
local status = require "convai.status"

local _M = {}

local store -- the appender opened by `init`

--- Open the store named in a file (in init_by_lua; raises when it cannot be opened: nginx does not
-- start, and `convai receive start` shows why).
-- @tparam string path a file holding the store (a path or a `redis://` URL), written by the CLI
function _M.init(path)
  local f = assert(io.open(path, "r"))
  local where = f:read("l")
  f:close()
  local err
  store, err = status.open(where)
  if not store then error(tostring(type(err) == "table" and err.message or err), 0) end
end

--- The content handler of `POST /vonage/status`.
function _M.handle()
  handler.handler(function(s)
    s.received_at = runtime.now()
    return store:append(s)
  end)
end

return _M
