--- convai.http.client: what every vendor client (`convai.voicebot`, `convai.avaamo`, `convai.vonage`)
-- shares: its construction on a transport, `from_env`'s options, `close`, `client:batch` and a
-- `tostring` that never shows the credential.
--
-- A vendor client module describes itself with a spec (vendor name, the option and environment variable
-- of its credential, the header that carries it) and gets its metatable from `class`; `new` checks the
-- credential and opens the client's transport (`convai.http.transport`), which keeps the credential in
-- a weak table, out of every printable field. The client is `{http = transport}` with the vendor's
-- methods.
--
-- @module convai.http.client
local core = require "convai.core"
local batch = require "convai.batch"
local check = require "convai.http.check"
local transport = require "convai.http.transport"

local pairs, setmetatable = pairs, setmetatable
local format = string.format
local json_encode, json_decode, new_error = core.json_encode, core.json_decode, core.error

local _M = {}

--- Run many calls of a client's methods concurrently: `client:batch(calls, opts)`, on every client
-- (`convai.voicebot`, `convai.avaamo`, `convai.vonage`). Each call is run as a task of a `convai.batch`
-- scheduler, so its requests overlap with the others' on one libcurl multi handle (at most
-- `opts.concurrency` in flight, over kept-alive connections), with the client's timeouts and `cafile`;
-- each call behaves as if made alone (same checks, same results and errors, retries and their waits
-- included), and a failing call does not affect the others. Inside nginx (request phases and timers)
-- the calls run as `ngx.thread` light threads, each request on the client's cosocket transport, so
-- nothing blocks the worker; only `concurrency` applies there.
-- @function client:batch
-- @tparam table calls an array of `{"method_name", arg1, ...}`: a request method of the client and its
--   arguments, e.g. `{"usage", {agent_id = 7, from_date = "01/04/2020", to_date = "07/04/2020"}}`
-- @tparam[opt] table opts `concurrency` (most requests in flight, default 16), `on_result` and the other
--   options of `convai.batch.new`. `on_result(i, value, err)`, a function: each call's outcome is handed
--   to it as the call finishes (in completion order, `i` its index in `calls`) and not kept, so a batch
--   of any size holds only the calls in flight; if it raises, no other call starts, and the error is
--   raised from `batch` once the calls in flight have finished
-- @treturn[1] table an array in the order of `calls`: for each `{value = the method's first return, err =
--   convai.error or nil}`. An entry that is not a table naming a request method of the client (`close`,
--   `batch` and names starting with `_` are not) gets `err` of kind `invalid_argument`, and is not run;
--   a call that raises (a wrong argument type) gets `err` of kind `invalid_argument` with the message.
--   With `on_result`: the number of calls handed to it
-- @treturn[2] nil
-- @treturn[2] convai.error kind `invalid_argument`: `calls` is not a table, or a bad option (nothing is
--   run)
-- @usage local out = client:batch({
--   { "usage", { agent_id = 7, from_date = "01/04/2020", to_date = "07/04/2020" } },
--   { "usage", { agent_id = 8, from_date = "01/04/2020", to_date = "07/04/2020" } },
-- }, { concurrency = 16 })
-- for i, r in ipairs(out) do print(i, r.value and r.value.aggregate_stats.session_count, r.err) end
local client_batch = batch.client_batch

local function close(self) self.http:close() end

--- Give a client metatable `__index` (itself), `close` (idempotent), `__close`, `batch` (see
-- `client:batch`) and a `__tostring` that shows the base URL and never the credential.
-- @tparam table client_mt the client's metatable, where the vendor module puts its methods
-- @tparam table spec the client's spec (see `new`)
-- @treturn table `client_mt`
function _M.methods(client_mt, spec)
  client_mt.__index = client_mt
  client_mt.batch = client_batch
  client_mt.close = close
  client_mt.__close = close
  client_mt.__tostring = function(self)
    return format("%s{base_url=%s, %s=<redacted>}", spec.name, self.http.base_url, spec.secret)
  end
  return client_mt
end

--- A new client metatable for a vendor client module (see `methods`), to which it adds its methods.
-- @tparam table spec the client's spec (see `new`)
-- @treturn table the metatable
function _M.class(spec)
  return _M.methods({}, spec)
end

--- Build a vendor client on a transport: check the credential, open the transport.
-- @tparam table client_mt the client's metatable (from `class`)
-- @tparam table spec `{vendor, name (e.g. "convai.voicebot"), secret (option name), env (variable
--   that usually holds it), auth = function(secret) -> headers, base_url_name, rate_window (seconds,
--   optional: see `convai.http.transport.new`)}`
-- @tparam table opts the user's options (timeout, connect_timeout, cafile, trace, retry,
--   follow_redirects, the secret)
-- @tparam string base_url the base URL to use (already defaulted by the caller)
-- @treturn table|nil the client `{http = transport}`
-- @treturn[2] convai.error kind `invalid_argument`
function _M.new(client_mt, spec, opts, base_url)
  local secret, err = check.secret(opts[spec.secret], spec.secret, spec.env)
  if not secret then return nil, err end
  local t
  t, err = transport.new {
    vendor = spec.vendor,
    base_url = base_url,
    base_url_name = spec.base_url_name,
    auth = spec.auth(secret),
    timeout = opts.timeout,
    connect_timeout = opts.connect_timeout,
    cafile = opts.cafile,
    trace = opts.trace,
    retry = opts.retry,
    follow_redirects = opts.follow_redirects,
    rate_window = spec.rate_window,
  }
  if not t then return nil, err end
  return setmetatable({ http = t }, client_mt)
end

--- Options from the environment (a `convai.config` reader) overridden by `opts`: what a client's
-- `from_env` passes to its `new`.
-- @tparam function read e.g. `config.voicebot`
-- @tparam[opt] table opts
-- @treturn table|nil
-- @treturn[2] nil
-- @treturn[2] convai.error kind `invalid_argument` when the reader refuses a variable (`config.vonage`)
function _M.env_options(read, opts)
  local o, err = read()
  if not o then return nil, err end
  for k, v in pairs(opts or {}) do o[k] = v end
  return o
end

--- POST a request body, already checked, as JSON through a client's transport (with its retry policy:
-- see `convai.http.transport.send`).
-- @tparam table self the client (`{http = transport}`)
-- @tparam string path path below the base URL
-- @tparam table body the request body, encoded with `core.json_encode`
-- @tparam[opt] table opts the transport's send options (`retry`, `pace`)
-- @treturn table|nil `{status = integer, body = the decoded JSON, or the raw text when it is not JSON}`
-- @treturn[2] convai.error as `send`, or kind `invalid_argument` when the body cannot be encoded
function _M.post(self, path, body, opts)
  local json, err = json_encode(body)
  if not json then return nil, new_error("invalid_argument", "cannot encode the request: " .. err) end
  local resp
  resp, err = self.http:send("POST", path, nil, json, opts)
  if not resp then return nil, err end
  local decoded = json_decode(resp.body)
  if decoded == nil then decoded = resp.body end
  return { status = resp.status, body = decoded }
end

--- A shape error for a 2xx answer that lacks what the vendor documents.
-- @tparam string vendor
-- @tparam string what description of the missing or mistyped field
-- @param body the decoded body
-- @treturn nil
-- @treturn convai.error kind `decode`
function _M.shape_error(vendor, what, body)
  return nil, new_error("decode", format("%s: unexpected response: %s", vendor, what), { body = body })
end

return _M
