--- convai.redis_link: the connection to a Redis server that every Redis backend keeps (the `redis`
-- stores of `convai.limit`, `convai.capacity` and `convai.journal`): the URL parsed, the password kept
-- out of every message, and one reconnect.
--
--     local store = assert(redis_link.new("redis://:s3cret@10.0.0.5:6379/0", { what = "limit store" }))
--     local reply, err = store:eval(SCRIPT, { key }, { "claim", "1000" })   -- err: kind store, no password
--     local value = store:command("GET", key)
--
-- The connection comes from `convai.runtime.redis` (the C core's hiredis client in plain Lua, cosockets
-- inside nginx); it is opened at the first call and kept. A kept connection that fails is dropped and the
-- call made once more on a new one (Redis restarted, or an idle client dropped); a pooled one (nginx)
-- replaces a dead socket by itself. When the store still fails (unreachable, timeout, a refused password)
-- the call returns `nil` and an error of kind `store`. The password of the URL is kept in a closure,
-- never in a field, a message or `tostring`.
--
-- @module convai.redis_link
local core = require "convai.core"
local errors = require "convai.errors"
local runtime = require "convai.runtime"

local type, tostring, ipairs, setmetatable = type, tostring, ipairs, setmetatable
local format, gsub, match = string.format, string.gsub, string.match
local huge = math.huge

local _M = {
  --- Defaults: the timeouts (seconds) of a connection and of each call.
  DEFAULTS = { connect_timeout = 1, timeout = 1 },
}

local invalid = errors.invalid

local mt = {}
mt.__index = mt
mt.__tostring = function(self) return "convai.redis_link " .. self.where end

--- `text` with every occurrence of `secret` replaced by `***`.
-- @tparam string text
-- @tparam[opt] string secret
-- @treturn string
function _M.without(text, secret)
  text = tostring(text)
  if type(secret) ~= "string" or secret == "" then return text end
  return (gsub(text, gsub(secret, "%p", "%%%0"), "***"))
end
local without = _M.without

local function positive(v)
  return type(v) == "number" and v > 0 and v < huge
end

--- Make a store connection (nothing is connected yet).
-- @tparam string url `redis://[user:password@]host[:port][/db]`
-- @tparam[opt] table opts `what` (what the store is, for messages, e.g. `"limit store"`),
--   `connect_timeout` and `timeout` (seconds, default 1 each)
-- @treturn table|nil the store: `eval`, `command`, `close`, `where` (the URL without its credentials),
--   `scrub(text)` (the text without the password)
-- @treturn[2] nil
-- @treturn[2] convai.error kind `invalid_argument` (a malformed URL, `rediss://`, a bad timeout); its
--   message never holds the password
function _M.new(url, opts)
  opts = opts or {}
  local what = opts.what or "store"
  local cfg, msg = core.parse_redis_url(url)
  if not cfg then
    local userinfo = type(url) == "string" and match(url, "^[^/]*//(.*)@") or nil
    return invalid("%s: %s", what, without(without(msg, userinfo), userinfo and match(userinfo, ":(.*)")))
  end
  local timeouts = {}
  for _, name in ipairs { "connect_timeout", "timeout" } do
    local v = opts[name] == nil and _M.DEFAULTS[name] or opts[name]
    if not positive(v) then return invalid("%s must be a positive number of seconds", name) end
    timeouts[name] = v
  end
  local self = setmetatable({ what = what,
    where = format("redis://%s:%s/%s", tostring(cfg.host), tostring(cfg.port), tostring(cfg.db or 0)) }, mt)
  local password = cfg.password
  self.open = function()
    return runtime.redis { host = cfg.host, port = cfg.port, db = cfg.db, user = cfg.user,
      password = password, connect_timeout = timeouts.connect_timeout, timeout = timeouts.timeout }
  end
  self.scrub = function(text) return without(text, password) end
  return self
end

--- A failure of the store: the error as kind `store` (an `invalid_argument` of the connector, a call in
-- an nginx phase without cosockets, is kept as it is), naming the store and the server, never the
-- password.
-- @param err a message or a `convai.error`
-- @treturn nil
-- @treturn convai.error
function mt:failed(err)
  if type(err) == "table" and err.kind == "invalid_argument" then return nil, err end
  local msg = type(err) == "table" and err.message or err
  local e = core.error("store", self.scrub(format("%s %s: %s", self.what, self.where, tostring(msg))))
  if type(err) == "table" then e.redis = err.redis and self.scrub(err.redis) or nil end
  return nil, e
end
local failed = mt.failed

-- Call `conn[method](conn, ...)` on the kept connection (see the module's header for the retry).
local function run(self, method, ...)
  local conn, err = self.conn
  local kept = conn ~= nil and not conn.pooled
  if not conn then
    conn, err = self.open()
    if not conn then return failed(self, err) end
    self.conn = conn
  end
  local reply
  reply, err = conn[method](conn, ...)
  if reply == nil and kept and not (type(err) == "table" and err.redis) then
    conn:close()
    self.conn = nil
    conn, err = self.open()
    if not conn then return failed(self, err) end
    self.conn = conn
    reply, err = conn[method](conn, ...)
  end
  if reply == nil then
    if not conn.pooled and not (type(err) == "table" and err.redis) then
      conn:close()
      self.conn = nil
    end
    return failed(self, err)
  end
  return reply
end

--- Run a script (`EVALSHA`, the script itself once more on `NOSCRIPT`).
-- @tparam string script
-- @tparam table keys its `KEYS`
-- @tparam table args its `ARGV`
-- @return the reply (as `core.redis`'s `conn:eval`)
-- @treturn[2] nil
-- @treturn[2] convai.error kind `store` (`err.redis`: a Redis error reply), `invalid_argument` inside
--   nginx in a phase without cosockets
function mt:eval(script, keys, args)
  return run(self, "eval", script, keys, args)
end

--- Run one command.
-- @tparam string name e.g. `"GET"`
-- @param ... its arguments
-- @return the reply, or nil and an error as `eval`
function mt:command(name, ...)
  return run(self, "command", name, ...)
end

--- Close the kept connection (a later call opens a new one). Idempotent.
function mt:close()
  if self.conn then self.conn:close() end
  self.conn = nil
end

return _M
