--- convai.redis_link: the Redis connection a store keeps (the limit's, the capacity's), from its URL.
--
-- A link parses `redis://[user:password@]host[:port][/db]` (`core.parse_redis_url`), opens its connection
-- through `convai.runtime.redis` at the first call (the C core's hiredis client in plain Lua, cosockets
-- and the worker's pool inside nginx) and keeps it. A kept connection that fails is dropped and the call
-- made once more on a new one (Redis restarted, or an idle client dropped). A call that still fails
-- returns `nil` and an error of kind `store` naming the store (`what`) and the server, never the
-- password: it is kept in a closure, never in a field, a message or `tostring`.
--
-- @module convai.redis_link
local core = require "convai.core"
local errors = require "convai.errors"
local runtime = require "convai.runtime"

local type, tostring, ipairs, setmetatable = type, tostring, ipairs, setmetatable
local format, gsub = string.format, string.gsub
local huge = math.huge

local _M = {
  --- The options of a link (a store's `OPTIONS` include them).
  OPTIONS = { prefix = true, connect_timeout = true, timeout = true },
  --- Defaults: the key prefix, and the timeouts (seconds) of a connection and of each call.
  DEFAULTS = { prefix = "convai:", connect_timeout = 1, timeout = 1 },
}

local invalid = errors.invalid

local mt = {}
mt.__index = mt
mt.__tostring = function(self) return self.what .. " " .. self.where end

-- `text` with every occurrence of `secret` replaced by "***".
local function without(text, secret)
  text = tostring(text)
  if type(secret) ~= "string" or secret == "" then return text end
  return (gsub(text, gsub(secret, "%p", "%%%0"), "***"))
end

local function positive(v)
  return type(v) == "number" and v > 0 and v < huge
end

--- Make a link (nothing is connected yet).
-- @tparam table opts `store` (the URL), `prefix` (of the keys, default `"convai:"`), `connect_timeout`
--   and `timeout` (seconds, default 1 each)
-- @tparam string what the store, for messages (e.g. `"limit store"`)
-- @treturn table|nil the link: `prefix`, `where` (the URL without credentials), `eval`, `close`
-- @treturn[2] nil
-- @treturn[2] convai.error kind `invalid_argument` (a malformed URL, `rediss://`, a bad option); its
--   message never holds the password
function _M.new(opts, what)
  local d = _M.DEFAULTS
  local url = opts.store
  local cfg, msg = core.parse_redis_url(url)
  if not cfg then
    local userinfo = type(url) == "string" and url:match("^[^/]*//(.*)@") or nil
    return invalid("%s: %s", what, without(without(msg, userinfo), userinfo and userinfo:match(":(.*)")))
  end
  local prefix = opts.prefix == nil and d.prefix or opts.prefix
  if type(prefix) ~= "string" then return invalid("prefix must be a string (the Redis key prefix)") end
  local timeouts = {}
  for _, name in ipairs { "connect_timeout", "timeout" } do
    local v = opts[name] == nil and d[name] or opts[name]
    if not positive(v) then return invalid("%s must be a positive number of seconds", name) end
    timeouts[name] = v
  end
  local self = setmetatable({ prefix = prefix, what = what,
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
  return nil, core.error("store", self.scrub(format("%s %s: %s", self.what, self.where, tostring(msg))))
end

--- Run a script (`EVALSHA`, the text once more on `NOSCRIPT`), on a new connection once more when the
-- kept one fails.
-- @tparam string script the script text
-- @tparam table keys its `KEYS`
-- @tparam table args its `ARGV` (strings)
-- @return the reply
-- @treturn[2] nil
-- @treturn[2] convai.error kind `store` (see `failed`), `invalid_argument` inside nginx in a phase
--   without cosockets
function mt:eval(script, keys, args)
  local conn, err = self.conn
  local kept = conn ~= nil and not conn.pooled
  if not conn then
    conn, err = self.open()
    if not conn then return self:failed(err) end
    self.conn = conn
  end
  local reply
  reply, err = conn:eval(script, keys, args)
  if reply == nil and kept then
    conn:close()
    self.conn = nil
    conn, err = self.open()
    if not conn then return self:failed(err) end
    self.conn = conn
    reply, err = conn:eval(script, keys, args)
  end
  if reply == nil then
    if not conn.pooled then
      conn:close()
      self.conn = nil
    end
    return self:failed(err)
  end
  return reply
end

--- Close the kept connection (the next call opens another).
function mt:close()
  if self.conn then self.conn:close() end
  self.conn = nil
end

return _M
