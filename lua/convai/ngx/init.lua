--- convai.ngx: convai inside nginx (OpenResty, or Debian's nginx with its Lua module).
--
-- Loading `convai.http` (which every vendor client does) inside nginx makes the clients use
-- `convai.http.cosocket`, an HTTP/1.1 transport on nginx cosockets, so their API is the one of plain Lua
-- and no call blocks the worker's event loop. This module gathers what only makes sense in nginx:
--
--  - `limiter`: per-agent rate limits (Vonage sessions per second) shared by all workers: a
--    `convai.limit` on a `lua_shared_dict` (its `shared_dict` store), or on Redis (`store =
--    "redis://..."`) to share them with other nginx hosts and plain-Lua processes;
--  - `capacity`: the WhatsApp capacity of voicebot.studio agents, cached for all workers: a
--    `convai.capacity` on a `lua_shared_dict` (its `shared_dict` store);
--  - `status_handler`: the content handler for Vonage `status_url` callbacks (`convai.ngx.status`);
--  - `session`: the transport itself, for direct use (`convai.http.cosocket`).
--
-- See docs/openresty.md and examples/openresty/nginx.conf.
--
-- @module convai.ngx
local session = require "convai.http.cosocket"
local capacity = require "convai.capacity"
local limit = require "convai.limit"
local runtime = require "convai.runtime"
local status = require "convai.ngx.status"

local type, pairs = type, pairs

local _M = {}

--- Open a cosocket HTTP session (see `convai.http.cosocket.new`).
-- @tparam[opt] table opts `timeout`, `connect_timeout` (seconds), `max_body` (bytes), `user_agent`,
--   `keepalive_timeout` (seconds), `pool_size`
-- @treturn table|nil the session, or nil and an `invalid_argument` error
function _M.session(opts)
  return session.new(opts)
end

-- `opts` with the shared dict as the default store.
local function on_shared_dict(opts)
  if type(opts) ~= "table" then return opts end
  local o = { store = "shared_dict" }
  for k, v in pairs(opts) do o[k] = v end
  return o
end

--- A per-agent rate limit shared by every worker: `convai.limit.new` with `store = "shared_dict"` unless
-- `store` (or `limits`, as the clients name it) says otherwise:
-- `store = "redis://[user:password@]host[:port][/db]"` keeps the slots in Redis (`convai.limit.redis`,
-- on cosockets), shared with every host and process using that Redis.
-- @tparam table opts `{dict = "name of a lua_shared_dict", rate = sessions per second, rates = {[agent] =
--   rate}, margin = seconds, max_wait = seconds, prefix = key prefix}`; with Redis `{store = URL, rate,
--   rates, margin, max_wait, prefix, connect_timeout = seconds, timeout = seconds}` (no `dict`);
--   `limits` is an alias of `store`
-- @treturn table|nil the limit (`wait`, `acquire`, `penalize`, `rate`, `wrap`), or nil and an
--   `invalid_argument` error; with Redis, a claim that cannot reach it fails with kind `store`
-- @usage local lim = assert(require("convai.ngx").limiter { dict = "convai_limits", rates = { A = 5 } })
-- local shared = assert(require("convai.ngx").limiter { store = "redis://10.0.0.5/0", rates = { A = 5 } })
function _M.limiter(opts)
  local o = on_shared_dict(opts)
  if type(o) == "table" and o.limits ~= nil then
    o.store, o.setting, o.limits = o.limits, "limits", nil
  end
  return limit.new(o)
end

--- A WhatsApp capacity cache shared by every worker: `convai.capacity.new` with `store = "shared_dict"`
-- unless `store` says otherwise (`store = "redis://..."`: shared with every host and process using that
-- Redis, campaigns' gates included).
-- @tparam table opts `{dict = "name of a lua_shared_dict", client = voicebot client, ttl = seconds}`, or
--   `{store = URL, client, ttl}`
-- @treturn table|nil the cache (`get`, `reserve`, `hold`, `settle`, `invalidate`, `read`, `gate`), or nil
--   and an `invalid_argument` error
function _M.capacity(opts)
  return capacity.new(on_shared_dict(opts))
end

--- Handle the current request as a Vonage `status_url` callback (see `convai.ngx.status.handler`).
-- @tparam function fn called with each status
-- @tparam[opt] table opts `{max_body = bytes, ack = "before" | "after"}`
-- @treturn integer the HTTP status answered
function _M.status_handler(fn, opts)
  return status.handler(fn, opts)
end

--- Is this Lua running inside nginx's ngx_lua?
-- @treturn boolean
function _M.in_nginx()
  return runtime.in_nginx
end

return _M
