--- convai.limit.redis: the Redis backend of `convai.limit`, an agent's send slots shared by every process
-- and every host that uses the same Redis.
--
--     local lim = assert(limit.new { store = "redis://:PASSWORD@10.0.0.5:6379/0", rates = { A = 5 } })
--
-- Each claim is one round trip: the script of `convai.limit.redis_script` (GCRA on the server's `TIME`,
-- so no client clock takes part), sent as `EVALSHA` (the script itself once more when the server
-- answers `NOSCRIPT`). A CLI campaign, a Lua script and an OpenResty app (`convai.ngx.limiter{store =
-- "redis://..."}`) run the same script on the same key, `PREFIX .. "limit:" .. AGENT` (prefix
-- `convai:` by default), which expires by itself one second after the agent's last slot.
--
-- The connection comes from `convai.runtime.redis` (the C core's hiredis client in plain Lua, cosockets
-- inside nginx); it is opened at the first call and kept by the limit. A kept connection that fails is
-- dropped and the call made once more on a new one (Redis restarted, or an idle client dropped). When the
-- store still fails (unreachable, timeout, a refused password) the claim fails closed: `nil` and an
-- error of kind `store`, and the caller sends nothing. The password of the URL is kept in a closure,
-- never in a field, a message or `tostring`.
--
-- @module convai.limit.redis
local core = require "convai.core"
local errors = require "convai.errors"
local runtime = require "convai.runtime"
local redis_script = require "convai.limit.redis_script"

local type, tostring, tonumber, ipairs, setmetatable = type, tostring, tonumber, ipairs, setmetatable
local format, gsub = string.format, string.gsub
local min, huge = math.min, math.huge

local _M = {
  OPTIONS = { prefix = true, connect_timeout = true, timeout = true },
  --- Defaults: the key prefix, and the timeouts (seconds) of a connection and of each call.
  DEFAULTS = { prefix = "convai:", connect_timeout = 1, timeout = 1 },
}

local SCRIPT = redis_script.SCRIPT
-- The longest time sent to the script, ms (a slot further away is as good as never: about 30 years).
local MAX_MS = 1e12

local invalid = errors.invalid

local mt = {}
mt.__index = mt
mt.__tostring = function(self) return "convai.limit.redis " .. self.where end

-- `text` with every occurrence of `secret` replaced by "***".
local function without(text, secret)
  text = tostring(text)
  if type(secret) ~= "string" or secret == "" then return text end
  return (gsub(text, gsub(secret, "%p", "%%%0"), "***"))
end

local function positive(v)
  return type(v) == "number" and v > 0 and v < huge
end

--- Make the backend (see `convai.limit.new`). Nothing is connected yet.
-- @tparam table opts `store` (`redis://[user:password@]host[:port][/db]`), `prefix` (of the keys,
--   default `"convai:"`), `connect_timeout` and `timeout` (seconds, default 1 each)
-- @treturn table|nil the backend state
-- @treturn[2] nil
-- @treturn[2] convai.error kind `invalid_argument` (a malformed URL, `rediss://`, a bad option); its
--   message never holds the password
function _M.new(opts)
  local d = _M.DEFAULTS
  local url = opts.store
  local cfg, msg = core.parse_redis_url(url)
  if not cfg then
    local userinfo = type(url) == "string" and url:match("^[^/]*//(.*)@") or nil
    return invalid("limit store: %s", without(without(msg, userinfo), userinfo and userinfo:match(":(.*)")))
  end
  local prefix = opts.prefix == nil and d.prefix or opts.prefix
  if type(prefix) ~= "string" then return invalid("prefix must be a string (the Redis key prefix)") end
  local timeouts = {}
  for _, name in ipairs { "connect_timeout", "timeout" } do
    local v = opts[name] == nil and d[name] or opts[name]
    if not positive(v) then return invalid("%s must be a positive number of seconds", name) end
    timeouts[name] = v
  end
  local self = setmetatable({ prefix = prefix,
    where = format("redis://%s:%s/%s", tostring(cfg.host), tostring(cfg.port), tostring(cfg.db or 0)) }, mt)
  local password = cfg.password
  self.open = function()
    return runtime.redis { host = cfg.host, port = cfg.port, db = cfg.db, user = cfg.user,
      password = password, connect_timeout = timeouts.connect_timeout, timeout = timeouts.timeout }
  end
  self.scrub = function(text) return without(text, password) end
  return self
end

-- A failure of the store: the error as `store` (an `invalid_argument` of the connector, a call in an
-- nginx phase without cosockets, is kept as it is), never showing the password.
local function failed(self, err)
  if type(err) == "table" and err.kind == "invalid_argument" then return nil, err end
  local msg = type(err) == "table" and err.message or err
  return nil, core.error("store", self.scrub(format("limit store %s: %s", self.where, tostring(msg))))
end

-- Run the script on the agent's key: the reply | nil, err (see the module's header for the retry).
local function run(self, key, args)
  local conn, err = self.conn
  local kept = conn ~= nil and not conn.pooled
  if not conn then
    conn, err = self.open()
    if not conn then return failed(self, err) end
    self.conn = conn
  end
  local reply
  reply, err = conn:eval(SCRIPT, { key }, args)
  if reply == nil and kept then
    conn:close()
    self.conn = nil
    conn, err = self.open()
    if not conn then return failed(self, err) end
    self.conn = conn
    reply, err = conn:eval(SCRIPT, { key }, args)
  end
  if reply == nil then
    if not conn.pooled then
      conn:close()
      self.conn = nil
    end
    return failed(self, err)
  end
  if type(reply) ~= "table" or tonumber(reply[2]) == nil then
    return failed(self, "unexpected reply from the limit script")
  end
  return reply
end

-- Seconds as the script's milliseconds (text).
local function ms(seconds)
  return format("%.3f", min(seconds * 1000, MAX_MS))
end

--- Claim the first free slot at or after now (the server's clock), atomically across every client of
-- the Redis server.
-- @tparam string id the agent
-- @tparam number interval seconds between two slots
-- @tparam number within seconds: a slot that starts later is not claimed
-- @treturn number seconds until the slot starts
-- @treturn boolean whether it was claimed (false: it starts later than `within`)
-- @treturn[2] nil
-- @treturn[2] convai.error kind `store` (nothing claimed), `invalid_argument` inside nginx in a phase
--   without cosockets
function mt:acquire(id, interval, within)
  local reply, err = run(self, self.prefix .. "limit:" .. id, { "claim", ms(interval), ms(within) })
  if not reply then return nil, err end
  return tonumber(reply[2]) / 1000, reply[1] == 1
end

--- No slot starts before now + seconds (the server's clock; a longer hold is kept).
-- @tparam string id the agent
-- @tparam number seconds
-- @treturn boolean|nil true
-- @treturn[2] convai.error kind `store`, `invalid_argument` as `acquire`
function mt:penalize(id, seconds)
  local reply, err = run(self, self.prefix .. "limit:" .. id, { "hold", ms(seconds) })
  if not reply then return nil, err end
  return true
end

return _M
