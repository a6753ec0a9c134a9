--- convai.http: the HTTP layer shared by the vendor clients, and its public entry.
--
-- Each vendor client (`convai.voicebot`, `convai.avaamo`, `convai.vonage`) holds a transport in its
-- `http` field (`vb.http:json("GET", "/whatsapp/agent-usage")`, `vb.http:with_retry(false)`). The layer
-- is split by job, one module each:
--
--  - `convai.http.transport`: the transport (`new`, `send`, `json`, `with_retry`, `close`), the trace
--    of each request, errors from non-2xx answers;
--  - `convai.http.retry`: the retry policy (what is retried, the backoff, `Retry-After`);
--  - `convai.http.redirect`: the redirect policy (what is followed, where credentials go);
--  - `convai.http.check`: the checks and encodings of what goes into a request (base URL, credential,
--    timeouts, escaping, query strings, quoting user values in messages);
--  - `convai.http.client`: what every vendor client shares (construction, `from_env`, `close`,
--    `client:batch`, `tostring` without the credential);
--  - `convai.http.cosocket`: the HTTP/1.1 session on nginx cosockets that `convai.runtime` hands out
--    inside nginx instead of the libcurl core's.
--
-- This module gathers the functions of those that users and the README name, under the names they
-- have always had; new code may require the module of the job instead.
--
-- @module convai.http
local core = require "convai.core"
local errors = require "convai.errors"
local runtime = require "convai.runtime"
local check = require "convai.http.check"
local transport = require "convai.http.transport"
local client = require "convai.http.client"

local _M = { _VERSION = core.version }

--- Create a transport (see `convai.http.transport.new`).
-- @function new
-- @tparam table opts `base_url`, `auth`, `vendor`, `timeout`, `connect_timeout`, `cafile`, `trace`,
--   `retry`, `follow_redirects`, `rate_window`
-- @treturn table|nil the transport, or nil and an `invalid_argument` error
_M.new = transport.new

--- Pause for `seconds` (see `convai.runtime.sleep`): yields to the driver of the running coroutine if
-- there is one (a `convai.batch` task), `ngx.sleep` inside nginx, else a blocking sleep. The retry
-- policy's default `sleep`.
-- @function sleep
-- @tparam number seconds
_M.sleep = runtime.sleep

--- Refuse bad input (see `convai.errors.invalid`).
-- @function invalid
-- @tparam string message what is wrong and how to fix it
-- @treturn nil
-- @treturn convai.error kind `invalid_argument`
_M.invalid = errors.invalid

--- Show a value given by the user in a message, on one clean line (see `convai.http.check.quote`).
-- @function quote
-- @param v
-- @treturn string
_M.quote = check.quote

--- Check a base URL (see `convai.http.check.base_url`).
-- @function check_base_url
-- @tparam string url
-- @tparam string name option name for the message
-- @treturn string|nil the normalised URL, or nil and an `invalid_argument` error
_M.check_base_url = check.base_url

--- Check a credential (see `convai.http.check.secret`); the message never shows the value.
-- @function check_secret
-- @param value
-- @tparam string name option name
-- @tparam string env environment variable that usually holds it
-- @treturn string|nil the credential, or nil and an `invalid_argument` error
_M.check_secret = check.secret

--- Percent-encode a string for a URL query or path segment (see `convai.http.check.escape`).
-- @function escape
-- @tparam string s
-- @treturn string
_M.escape = check.escape

--- Encode query parameters `{{name, value}, ...}` (see `convai.http.check.query`).
-- @function query
-- @tparam table params
-- @treturn string "" or "?a=1&b=2"
_M.query = check.query

--- Coerce a number to an integer count, or nil (see `convai.http.check.count`).
-- @function count
-- @param v
-- @treturn integer|nil
_M.count = check.count

--- Check that `v` is a positive integer (see `convai.http.check.positive_integer`).
-- @function positive_integer
-- @param v
-- @treturn integer|nil
_M.positive_integer = check.positive_integer

--- Sorted keys of a table (see `convai.http.check.sorted_keys`).
-- @function sorted_keys
-- @tparam table t
-- @treturn table
_M.sorted_keys = check.sorted_keys

--- Header names whose values are credentials (see `convai.http.transport.CREDENTIAL_HEADERS`).
_M.CREDENTIAL_HEADERS = transport.CREDENTIAL_HEADERS

--- Copy request headers with credential values replaced by `"<redacted>"` (see
-- `convai.http.transport.redact_headers`).
-- @function redact_headers
-- @tparam[opt] table headers
-- @tparam[opt] table secret_headers
-- @treturn table
_M.redact_headers = transport.redact_headers

--- Turn a response with a non-2xx status into an error value (see
-- `convai.http.transport.response_error`).
-- @function response_error
-- @tparam table resp `{status, headers, body}`
-- @tparam string vendor
-- @treturn convai.error
_M.response_error = transport.response_error

--- Give a client metatable the shared client methods (see `convai.http.client.methods`).
-- @function client_methods
-- @tparam table client_mt
-- @tparam table spec
_M.client_methods = client.methods

--- Build a vendor client on a transport (see `convai.http.client.new`).
-- @function client
-- @tparam table client_mt
-- @tparam table spec
-- @tparam table opts
-- @tparam string base_url
-- @treturn table|nil the client, or nil and an `invalid_argument` error
_M.client = client.new

--- Options from the environment overridden by `opts` (see `convai.http.client.env_options`).
-- @function env_options
-- @tparam function read
-- @tparam[opt] table opts
-- @treturn table
_M.env_options = client.env_options

--- A `decode` error for a 2xx answer that lacks what the vendor documents (see
-- `convai.http.client.shape_error`).
-- @function shape_error
-- @tparam string vendor
-- @tparam string what
-- @param body
-- @treturn nil
-- @treturn convai.error kind `decode`
_M.shape_error = client.shape_error

return _M
