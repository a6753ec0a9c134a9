--- convai.status.redis: the status store in Redis, one list of JSON statuses (`RPUSH`), shared by the
-- receivers of several hosts and read by `convai campaign report` anywhere. The connection is
-- `convai.redis_link` (cosockets inside nginx, hiredis elsewhere; the password never in a message).
--
-- @module convai.status.redis
local core = require "convai.core"
local redis_link = require "convai.redis_link"

local type, tostring, ipairs, setmetatable = type, tostring, ipairs, setmetatable

local _M = {
  --- The Redis key of the list when the caller gives none.
  KEY = "convai:statuses",
  --- Options of this backend beside `store`.
  OPTIONS = { key = true },
}

local appender = {}
appender.__index = appender

--- Make an appender on a Redis (nothing is connected until the first `append`).
-- @tparam string url `redis://[user:password@]host[:port][/db]`
-- @tparam[opt] table opts `key` (the list, default `convai:statuses`)
-- @treturn table|nil the appender: `append(status)`, `close()`
-- @treturn[2] convai.error kind `invalid_argument` (a malformed URL)
function _M.open(url, opts)
  local link, err = redis_link.new(url, { what = "status store" })
  if not link then return nil, err end
  return setmetatable({ link = link, key = opts and opts.key or _M.KEY }, appender)
end

--- Append one status to the list.
-- @tparam table s
-- @treturn boolean|nil true
-- @treturn[2] convai.error kind `store` (Redis unreachable or refusing)
function appender:append(s)
  local line, err = core.json_encode(s)
  if not line then return nil, core.error("store", "status store: " .. tostring(err)) end
  local ok
  ok, err = self.link:command("RPUSH", self.key, line)
  if ok == nil then return nil, err end
  return true
end

--- Close the connection (idempotent).
function appender:close()
  self.link:close()
end

--- Every status of the list, oldest first (an entry that is not a JSON object is skipped).
-- @tparam string url
-- @tparam[opt] table opts `key`
-- @treturn table|nil the statuses
-- @treturn[2] convai.error kind `store` or `invalid_argument`
function _M.read(url, opts)
  local link, err = redis_link.new(url, { what = "status store" })
  if not link then return nil, err end
  local list
  list, err = link:command("LRANGE", opts and opts.key or _M.KEY, "0", "-1")
  link:close()
  if list == nil then return nil, err end
  local out = {}
  for _, line in ipairs(type(list) == "table" and list or {}) do
    local s = type(line) == "string" and core.json_decode(line) or nil
    if type(s) == "table" then out[#out + 1] = s end
  end
  return out
end

return _M
