--- convai.ngx.redis: Redis connections on nginx cosockets, with the interface of the core's `core.redis`.
--
-- Inside nginx `convai.runtime.redis` hands out this module's `new` instead of the C core's hiredis
-- client, so code that keeps state in Redis (the `redis` store of `convai.limit`) has one interface in
-- both runtimes and never blocks a worker:
--
--     conn:command("GET", key)                --> reply | nil, err
--     conn:eval(script, {key}, {arg, ...})    --> reply | nil, err   (EVALSHA; EVAL once on NOSCRIPT)
--     conn:close()                            --> true
--
-- Replies as hiredis gives them to the core: a status or bulk string, an integer (a number), an array
-- (a table), and a nil bulk or array as `false`. Every failure is `nil` and a `convai.error` of kind
-- `store` (the server unreachable, a timeout, a refused `AUTH`, an error reply), whose message never
-- holds the password.
--
-- The driver is the resty Redis client: Debian's `lua-nginx-redis` installs it as `nginx.redis`,
-- OpenResty as `resty.redis`. A cosocket belongs to the request (or timer) that opened it, while a
-- connection object here is made once (e.g. with a limit in `init_by_lua`) and used by every request of
-- the worker; so each call takes a socket from the worker's connection pool (keyed by server, database,
-- user and password), authenticates and selects the database only on a new socket,
-- and gives the socket back to the pool (`set_keepalive`) when the exchange went well. A pooled socket
-- that turns out closed (Redis restarted, or dropped an idle client) is discarded and the call made again
-- on the next one, until a new connection answers or fails: what the caller sees is one attempt on a
-- live connection. Calls are refused, reaching nothing, in the nginx phases without cosockets.
--
-- @module convai.ngx.redis
local core = require "convai.core"
local cosocket = require "convai.http.cosocket"

local ngx = rawget(_G, "ngx") -- the ngx_lua API (this module is used only inside nginx)
local type, tostring, select, pcall, require, setmetatable = type, tostring, select, pcall, require,
  setmetatable
local unpack = table.unpack or unpack
local format, find, gsub, byte = string.format, string.find, string.gsub, string.byte
local floor = math.floor

-- The driver: Debian's lua-nginx-redis names it nginx.redis, OpenResty resty.redis. Without either,
-- convai still loads inside nginx and only a Redis store is refused (`new` says what to install).
local found, driver = pcall(require, "nginx.redis") -- optional: only a Redis store needs it
if not found then found, driver = pcall(require, "resty.redis") end -- optional: as above

local _M = {}

--- Defaults: timeouts (seconds), how long a pooled socket may stay idle (seconds) and how many the
-- worker keeps per server.
_M.DEFAULTS = { connect_timeout = 1, timeout = 1, keepalive_timeout = 60, pool_size = 30 }

local COSOCKET_PHASES = cosocket.COSOCKET_PHASES

-- password -> a number naming it in pool keys (a pool key may show in nginx's debug log; the password
-- must not, nor a digest of it that could be tried against guesses). Pools are per worker, and so is this.
local credentials, ncredentials = {}, 0
local function credential_id(password)
  if password == nil then return "-" end
  if not credentials[password] then
    ncredentials = ncredentials + 1
    credentials[password] = ncredentials
  end
  return credentials[password]
end

local mt = {}
mt.__index = mt
mt.__tostring = function(self) return "convai.ngx.redis " .. self.where end

local function store_error(self, fmt, ...)
  return nil, core.error("store", format("redis %s: " .. fmt, self.where, ...))
end

local function hex(s)
  return (gsub(s, ".", function(c) return format("%02x", byte(c)) end))
end

--- Make a connection object (no I/O: sockets are opened by the calls, in a phase that has them).
-- @tparam table opts `host`, `port`, `db` (default 0), `user`, `password` (as `core.parse_redis_url`
--   returns them), `connect_timeout` and `timeout` (seconds, default 1 each)
-- @treturn table|nil the connection (`command`, `eval`, `close`)
-- @treturn[2] nil
-- @treturn[2] convai.error kind `store` when no resty Redis driver is installed
function _M.new(opts)
  if not found then
    return nil, core.error("store", "a Redis store inside nginx needs the resty Redis driver: install "
      .. "Debian's lua-nginx-redis (nginx.redis) or OpenResty's resty.redis")
  end
  local d = _M.DEFAULTS
  local db = opts.db or 0
  local self = setmetatable({
    host = opts.host, port = opts.port or 6379, db = db, user = opts.user,
    connect_ms = floor((opts.connect_timeout or d.connect_timeout) * 1000),
    timeout_ms = floor((opts.timeout or d.timeout) * 1000),
    pooled = true, -- a dead pooled socket is replaced inside a call: callers need not reconnect
  }, mt)
  self.where = format("%s:%d/%d", tostring(self.host), self.port, db)
  -- the password is kept in a closure (not a field), so no dump of the object shows it
  local password = opts.password
  self.pool = format("convai:redis:%s:%s:%s", self.where, tostring(opts.user or ""), credential_id(password))
  self.login = function(red)
    if password == nil then return true end
    if opts.user then return red:auth(opts.user, password) end
    return red:auth(password)
  end
  return self
end

-- A reply as hiredis gives it: ngx.null (a nil bulk or array) as false, inside arrays too.
local function plain(v)
  if v == ngx.null then return false end
  if type(v) == "table" then
    for i = 1, #v do v[i] = plain(v[i]) end
  end
  return v
end

-- A socket of the pool (or a new, authenticated one on the database): red, reused | nil, err.
local function checkout(self)
  local red = driver:new()
  red:set_timeout(self.connect_ms)
  local ok, err = red:connect(self.host, self.port, { pool = self.pool })
  if not ok then return store_error(self, "cannot connect: %s", tostring(err)) end
  red:set_timeout(self.timeout_ms)
  local reused = (red:get_reused_times() or 0) > 0
  if not reused then
    local res, aerr = self.login(red)
    if res and self.db ~= 0 then res, aerr = red:select(self.db) end
    if not res then
      red:close()
      return store_error(self, "%s", res == false and tostring(aerr) or "cannot authenticate: "
        .. tostring(aerr))
    end
  end
  return red, reused
end

-- Run fn(red) -> reply, err on a pooled socket (see the module's header): reply | nil, err.
local function exchange(self, fn)
  local phase = ngx.get_phase()
  if not COSOCKET_PHASES[phase] then
    return nil, core.error("invalid_argument", format("cannot reach Redis in nginx's %s phase: nginx has "
      .. "no non-blocking sockets there; make the call in a rewrite, access or content handler, or in "
      .. "a timer: ngx.timer.at(0, function() ... end)", phase))
  end
  for _ = 1, _M.DEFAULTS.pool_size + 1 do
    local red, reused = checkout(self)
    if not red then return nil, reused end
    local reply, err = fn(red)
    if reply ~= nil and reply ~= false then
      red:set_keepalive(_M.DEFAULTS.keepalive_timeout * 1000, _M.DEFAULTS.pool_size)
      return plain(reply)
    end
    if reply == false then -- an error reply: the connection is sound
      red:set_keepalive(_M.DEFAULTS.keepalive_timeout * 1000, _M.DEFAULTS.pool_size)
      return store_error(self, "%s", tostring(err))
    end
    red:close()
    if not reused or err == "timeout" then return store_error(self, "%s", tostring(err)) end
  end
  return store_error(self, "no connection answered")
end

--- Send one command.
-- @param ... the command and its arguments (strings or numbers)
-- @return the reply (string, number, table; `false` for a nil reply)
-- @treturn[2] nil
-- @treturn[2] convai.error kind `store`, or `invalid_argument` in an nginx phase without cosockets
function mt:command(...)
  local args = { ... }
  local n = select("#", ...)
  return exchange(self, function(red)
    local reply, err = red[args[1]:lower()](red, unpack(args, 2, n))
    return reply, err
  end)
end

-- Script text -> its SHA1 (hex), computed once per script.
local shas = {}

--- Run a Lua script on the server: `EVALSHA` first, the script itself (`EVAL`) when the server does
-- not have it (`NOSCRIPT`: never loaded, or flushed by `SCRIPT FLUSH` or a restart).
-- @tparam string script the script text
-- @tparam table keys the keys it touches (`KEYS`)
-- @tparam[opt] table args its arguments (`ARGV`)
-- @return the script's reply, as `command`'s
-- @treturn[2] nil
-- @treturn[2] convai.error kind `store`, or `invalid_argument` in an nginx phase without cosockets
function mt:eval(script, keys, args)
  local sha = shas[script]
  if not sha then
    sha = hex(ngx.sha1_bin(script))
    shas[script] = sha
  end
  local argv = { sha, #keys }
  for i = 1, #keys do argv[#argv + 1] = keys[i] end
  for i = 1, args and #args or 0 do argv[#argv + 1] = args[i] end
  return exchange(self, function(red)
    argv[1] = sha
    local reply, err = red:evalsha(unpack(argv))
    if reply == false and find(tostring(err), "^NOSCRIPT") then
      argv[1] = script
      reply, err = red:eval(unpack(argv))
    end
    return reply, err
  end)
end

--- Close: nothing to do (each call gives its socket back to the worker's pool); the object may be used
-- again.
-- @treturn boolean true
function mt.close()
  return true
end

return _M
