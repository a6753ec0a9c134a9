--- convai.runtime: the one place that knows where convai runs, plain Lua or inside nginx.
--
-- Every other module asks this one instead of looking for `ngx` itself, and receives what differs
-- between the two runtimes:
--
--  - `session(opts)`: the HTTP session factory, the libcurl core (`core.session`) in plain Lua, the
--    cosocket transport (`convai.http.cosocket`) inside nginx;
--  - `sleep(seconds)`: a blocking sleep in plain Lua, `ngx.sleep` (yielding, never blocking the worker)
--    in the nginx phases that allow it;
--  - `monotonic()` and `now()`: the process's monotonic clock and the wall clock shared by every
--    process of the machine (`ngx.now` after `ngx.update_time` inside nginx);
--  - `redis(opts)`: a Redis connection, the C core's hiredis client (`core.redis`) in plain Lua,
--    `convai.ngx.redis` (cosockets and the worker's connection pool, on the resty Redis driver) inside
--    nginx;
--  - the phase questions (`phase`, `can_yield`) and `spawn_threads`, the light threads a batch runs
--    on inside nginx (plain Lua has none: its batches run on the libcurl multi scheduler);
--  - the driver registry: a coroutine run by a scheduler (`convai.batch`) has a driver that performs
--    its requests and its pauses (`attach`, `detach`, `driver`).
--
-- Nothing here rewrites another module, and no module rewrites this one.
--
-- @module convai.runtime
local core = require "convai.core"

local type, tostring, setmetatable = type, tostring, setmetatable
local running = coroutine.running

local ngx = rawget(_G, "ngx")

--- Is this Lua running inside nginx's ngx_lua (OpenResty, or Debian's nginx with its Lua module)?
local in_nginx = type(ngx) == "table" and type(ngx.config) == "table" and ngx.config.ngx_lua_version ~= nil

-- The cosocket transport and Redis client, loaded only inside nginx (plain Lua never needs them).
local cosocket = in_nginx and require "convai.http.cosocket" or nil
local ngx_redis = in_nginx and require "convai.ngx.redis" or nil

local _M = { in_nginx = in_nginx, name = in_nginx and "nginx" or "lua" }

--- The nginx phases where cosockets, `ngx.sleep` and `ngx.thread` work (`ngx.get_phase()` names; the
-- cosocket transport's table; empty in plain Lua).
_M.COSOCKET_PHASES = cosocket and cosocket.COSOCKET_PHASES or {}
local COSOCKET_PHASES = _M.COSOCKET_PHASES

--- The nginx phase this code runs in (`ngx.get_phase()`), or nil outside nginx.
-- @treturn string|nil
function _M.phase()
  if in_nginx then return ngx.get_phase() end
  return nil
end

--- Can this code yield to nginx's event loop here (cosockets, `ngx.sleep`, light threads)?
-- Always false in plain Lua.
-- @treturn boolean
function _M.can_yield()
  return in_nginx and COSOCKET_PHASES[ngx.get_phase()] == true
end

--- Seconds on a clock that never jumps, for durations inside one process.
-- @function monotonic
-- @treturn number seconds
_M.monotonic = core.monotonic

-- nginx's clock, brought up to date (ngx.now is cached per event-loop turn).
local function nginx_now()
  ngx.update_time()
  return ngx.now()
end

--- Seconds since the epoch on the wall clock, the same for every process of the machine (for state
-- shared between processes, such as rate-limit slots in an nginx shared dict).
-- @function now
-- @treturn number seconds, with a fraction
_M.now = in_nginx and nginx_now or core.realtime

--- Open an HTTP session (see `core.session`; inside nginx `convai.http.cosocket.new`, same contract).
-- @function session
-- @tparam[opt] table opts session options
-- @treturn table|nil the session
-- @treturn[2] nil
-- @treturn[2] convai.error kind `invalid_argument`
_M.session = in_nginx and cosocket.new or core.session

--- Whether a session's `request` runs to its end without yielding (the libcurl core), so that its
-- caller may reuse a request table once it returns; inside nginx a request yields on its cosocket while
-- reading the table, and another request may run meanwhile.
_M.session_blocks = not in_nginx

--- Open a Redis connection: `core.redis` (hiredis, blocking, connected at once) in plain Lua,
-- `convai.ngx.redis.new` inside nginx (cosockets; each call takes a socket from the worker's pool, so
-- nothing is opened until the first call, in a phase that has cosockets). One interface:
-- `conn:command(...)`, `conn:eval(script, keys, args)` (EVALSHA, then EVAL on NOSCRIPT) and
-- `conn:close()`, each returning the reply (a nil reply as `false`) or `nil` and a `convai.error` of
-- kind `store` whose message never holds the password. A connection whose `pooled` field is true
-- replaces a dead socket by itself inside a call; another (hiredis) is one connection, which the
-- caller reopens when it broke.
-- @function redis
-- @tparam table opts `host`, `port`, `db`, `user`, `password` (as `core.parse_redis_url` returns them),
--   `connect_timeout`, `timeout` (seconds)
-- @treturn table|nil the connection
-- @treturn[2] nil
-- @treturn[2] convai.error kind `store` (unreachable, timeout, refused `AUTH` or `SELECT`)
_M.redis = in_nginx and ngx_redis.new or core.redis

--- What a TLS failure's message adds when the transport has no `cafile` (nil inside nginx, where the
-- cosocket transport's own message names `lua_ssl_trusted_certificate`).
_M.tls_hint = not in_nginx and " (to trust a private CA, give the cafile option or set CONVAI_CAFILE)"
  or nil

-- ------------------------------------------------------------------ drivers

-- coroutine -> driver (weak keys: a finished coroutine is collected with its entry).
local drivers = setmetatable({}, { __mode = "k" })

--- Attach a driver to a coroutine: its requests go through `driver:request(transport, req)` and its
-- pauses through `driver:sleep(seconds)`.
-- @tparam thread co
-- @tparam table driver
function _M.attach(co, driver) drivers[co] = driver end

--- Detach the driver of a coroutine (when its task ends).
-- @tparam thread co
function _M.detach(co) drivers[co] = nil end

--- The driver of the running coroutine, or nil (the main coroutine never has one).
-- @treturn table|nil
function _M.driver()
  local co, main = running()
  return co and not main and drivers[co] or nil
end

--- Is this coroutine run by a driver?
-- @tparam thread co
-- @treturn boolean
function _M.driven(co) return drivers[co] ~= nil end

-- ------------------------------------------------------------------ sleep and threads

--- Pause for `seconds` (a number, seconds): yield to the running coroutine's driver if it has one;
-- inside nginx where it may yield, `ngx.sleep`; else a blocking sleep (`core.sleep`).
-- @tparam number seconds
function _M.sleep(seconds)
  if seconds <= 0 then return end
  local driver = _M.driver()
  if driver then return driver:sleep(seconds) end
  if in_nginx and COSOCKET_PHASES[ngx.get_phase()] then return ngx.sleep(seconds) end
  return core.sleep(seconds)
end

--- Run `worker` in `n` light threads and wait for them all, inside nginx where it may yield.
-- Returns false and a message when this runtime has no light threads here (plain Lua, or an nginx
-- phase without them): the caller then uses the libcurl multi scheduler (`convai.batch`).
-- @tparam function worker
-- @tparam integer n threads
-- @treturn boolean|nil true when the threads ran; nil when there are no light threads here
-- @treturn[2] string|nil the first error of a thread (spawn failure or error raised)
function _M.spawn_threads(worker, n)
  if not _M.can_yield() then return nil end
  local threads, first_err = {}, nil
  for k = 1, n do
    local th, terr = ngx.thread.spawn(worker)
    if not th then
      first_err = "convai.batch: ngx.thread.spawn failed: " .. tostring(terr)
      break
    end
    threads[k] = th
  end
  for k = 1, #threads do
    local ok, rerr = ngx.thread.wait(threads[k])
    if not ok then first_err = first_err or rerr end
  end
  return true, first_err
end

-- ------------------------------------------------------------------ shared dicts

--- The `lua_shared_dict` named `name` (memory shared by every worker of nginx), or nil and an error
-- saying how to declare it (outside nginx there is none).
-- @tparam string name
-- @treturn table|nil the `ngx.shared` dict
-- @treturn[2] nil
-- @treturn[2] convai.error kind `invalid_argument`
function _M.shared_dict(name)
  if type(name) ~= "string" or name == "" then
    return nil, core.error("invalid_argument", "dict must be the name of a lua_shared_dict, e.g. "
      .. "\"convai_limits\"")
  end
  local dict = in_nginx and ngx.shared and ngx.shared[name]
  if not dict then
    return nil, core.error("invalid_argument", ("no lua_shared_dict %q: declare it in the http block of "
      .. "nginx.conf (lua_shared_dict %s 1m;)%s"):format(name, name,
      in_nginx and "" or "; outside nginx use the \"process\" store"))
  end
  return dict
end

return _M
