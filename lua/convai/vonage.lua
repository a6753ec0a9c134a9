--- convai.vonage: client for Vonage AI Studio outbound triggers: WhatsApp, SMS and voice.
--
-- Vendor document: "Triggering an outbound WhatsApp virtual agent", `POST /messaging/conversation`
-- (docs/api-notes.md §3), with the decisions noted there: `X-Vgai-Key` auth, EU/US hosts,
-- mandatory namespace, template, locale, to, agent_id, channel and status_url, numbers sent as digits
-- only (country code first, no "+" or "00"), header text parameters up to 60 characters and body text
-- parameters up to 1,024. SMS uses the same endpoint with `channel = "sms"` (to, agent_id, status_url,
-- session_parameters); voice is `POST /telephony/make-call` (agent_id, to, optional status_url and
-- session_parameters). The vendor allows 1 session per second per agent (3 or 5 when raised), shared
-- by every channel, and answers 429 beyond it: every send of this client (each attempt of it) first
-- takes the agent's slot from the client's `convai.limit` (the `limits` and `rates` options; by default
-- the `host` store at 1 per second, so every convai process of the machine shares an agent's rate), and
-- a 429 holds the agent for one window before the retry's slot. A trigger is retried only when that
-- cannot message anyone twice (a 429, or a connection that failed before the request left; see the
-- `retry` option). The `*_body` functions check a request without sending it (a campaign checks every
-- recipient before the first send).
--
-- @module convai.vonage
local core = require "convai.core"
local errors = require "convai.errors"
local check = require "convai.http.check"
local client = require "convai.http.client"
local config = require "convai.config"
local limit = require "convai.limit"
local whatsapp = require "convai.whatsapp"

local type, pairs, ipairs, tostring, setmetatable, getmetatable = type, pairs, ipairs, tostring,
  setmetatable, getmetatable
local find = string.find
local array = core.array

local VENDOR = "Vonage AI Studio"
local SPEC = {
  vendor = VENDOR, name = "convai.vonage", secret = "api_key", env = "CONVAI_VONAGE_KEY",
  base_url_name = "base_url (CONVAI_VONAGE_URL)",
  auth = function(key) return { ["X-Vgai-Key"] = key } end,
  -- Its 429 has no Retry-After and its limit is sessions per second per agent: a retry after a 429
  -- waits at least one second (see convai.http.transport's `rate_window`).
  rate_window = 1,
}

local _M = {
  REGIONS = {
    eu = "https://studio-api-eu.ai.vonage.com",
    us = "https://studio-api-us.ai.vonage.com",
  },
  --- WhatsApp text parameter limits (characters), per component type (`convai.whatsapp.TEXT_LIMITS`).
  TEXT_LIMITS = whatsapp.TEXT_LIMITS,
}

local mt = client.class(SPEC)

local invalid = errors.invalid

-- The `convai.limit` of a client's `limits` and `rates` options (see `new`), or nil and the error
-- (naming the setting: `limits`, `CONVAI_LIMITS`, `--limits`).
local function limit_of(limits, rates)
  if limit.is_limit(limits) then
    if rates == nil then return limits end
    return limits:derive { rates = rates }
  end
  local o
  if limits == nil then
    o = limit.default()
  elseif type(limits) == "string" then
    o = { store = limits, setting = "limits" }
  elseif type(limits) == "table" then
    o = {}
    for k, v in pairs(limits) do o[k] = v end
  else
    return invalid("limits must be host, process, a store URL, a convai.limit or a table of "
      .. "convai.limit.new options, got %s", type(limits))
  end
  if rates ~= nil then o.rates = rates end
  return limit.new(o)
end

--- Create a client.
-- @tparam table opts
-- @tparam string opts.api_key the AI Studio API key, sent as `X-Vgai-Key`
-- @tparam[opt] string opts.region `"eu"` or `"us"`, the agent's region (one of region or base_url)
-- @tparam[opt] string opts.base_url API base URL; wins over `region`
-- @tparam[opt=30] number opts.timeout total time per request, seconds
-- @tparam[opt=10] number opts.connect_timeout connection set-up time, seconds
-- @tparam[opt] string opts.cafile PEM CA bundle used to verify the server
-- @tparam[opt] function opts.trace called with an event table before and after each request
--   (`{phase = "request", method, url, headers, body_bytes}`, `{phase = "response", method, url, status,
--   elapsed_ms, error}`), credential headers shown as `"<redacted>"`; what `convai --verbose` prints
-- @tparam[opt] table|boolean opts.retry retry policy (docs/http.md "Retries"): nil or true for the defaults,
--   false for a single attempt, or a table `{attempts = 3, base = 0.5, cap = 20, retry_after_cap = 60}`
--   (attempts in all; seconds) laid over the defaults (also `random` and `sleep`, for tests). A trigger
--   is retried only after 429 (waiting `Retry-After` when it is at most `retry_after_cap`, else
--   `random(0, min(cap, base * 2^n))`) or when the connection failed before any byte of it was sent;
--   never when it may have reached Vonage (the error says so: `err.retry == "unsafe"`)
-- @tparam[opt=false] boolean|integer opts.follow_redirects false: a 3xx is an `http` error; true: follow
--   at most 5 redirects; an integer: at most that many. The key never goes to another scheme, host or
--   port; a POST is not followed on 301/302
-- @param[opt] opts.limits where the agents' send slots are kept (docs/coordination.md): `"host"` (every
--   convai process of the machine), `"process"` (this client's process only), a store URL
--   (`"redis://HOST:6379/0"`, when its backend is registered), a `convai.limit` (shared with other
--   senders; `rates` then lay over its rates), or a table of `convai.limit.new` options. Default
--   (`convai.limit.default`): `host`; inside nginx the `shared_dict` store on `lua_shared_dict
--   convai_limits` when nginx.conf declares it, else `process`. `from_env` reads `CONVAI_LIMITS`
-- @tparam[opt] table opts.rates `{[agent_id] = sessions per second}` for agents whose limit Vonage
--   raised (3 or 5); the others get 1. `from_env` reads `CONVAI_VONAGE_RATES` (`agent=5,other=3`)
-- @treturn convai.vonage|nil the client (its field `limit` is the `convai.limit` its sends use)
-- @treturn[2] nil
-- @treturn[2] convai.error kind `invalid_argument` (a bad option; a store that is unknown or cannot be
--   used, e.g. a `host` directory that is not private: the message names the setting and the fix)
function _M.new(opts)
  if type(opts) ~= "table" then return invalid("vonage.new expects an options table") end
  local base_url = opts.base_url
  if base_url == nil then
    if opts.region == nil then
      return invalid("give region (\"eu\" or \"us\", the agent's region) or base_url "
        .. "(set CONVAI_VONAGE_REGION or CONVAI_VONAGE_URL)")
    end
    base_url = _M.REGIONS[opts.region]
    if not base_url then
      return invalid("region must be \"eu\" or \"us\", got %s", check.quote(opts.region))
    end
  end
  local lim, err = limit_of(opts.limits, opts.rates)
  if not lim then return nil, err end
  local c
  c, err = client.new(mt, SPEC, opts, base_url)
  if not c then return nil, err end
  c.limit = lim
  return c
end

--- Create a client from `CONVAI_VONAGE_URL` or `CONVAI_VONAGE_REGION`, and `CONVAI_VONAGE_KEY`; its
-- limit from `CONVAI_LIMITS` and `CONVAI_VONAGE_RATES` (see `new`).
-- @tparam[opt] table opts more options, which win over the environment (timeout, connect_timeout, cafile,
--   limits, rates, ...)
-- @treturn convai.vonage|nil the client, or nil and an `invalid_argument` error (a malformed
--   `CONVAI_LIMITS` or `CONVAI_VONAGE_RATES` names the variable)
function _M.from_env(opts)
  local o, err = client.env_options(config.vonage, opts)
  if not o then return nil, err end
  return _M.new(o)
end

--- Check `components`: the raw WhatsApp array, or the shorthand `{header = {...}, body = {...}}`
-- (`convai.whatsapp.components`).
-- @param components
-- @treturn table|nil the array to send (marked as a JSON array), or nil and an `invalid_argument` error
function _M.components(components)
  return whatsapp.components(components, "components")
end

--- Check `session_parameters`: an array of `{name=, value=}` or a map `{name = value}`.
-- @param sp
-- @treturn table|nil the array to send, or nil and an error
function _M.session_parameters(sp)
  if type(sp) ~= "table" then
    return invalid("session_parameters must be an array of {name=, value=} or a table {name = value}")
  end
  local list = array {}
  if sp[1] ~= nil or next(sp) == nil then
    for i = 1, #sp do list[i] = sp[i] end
  else
    for _, name in ipairs(check.sorted_keys(sp)) do list[#list + 1] = { name = name, value = sp[name] } end
  end
  for i, p in ipairs(list) do
    if type(p) ~= "table" or type(p.name) ~= "string" or p.name == "" then
      return invalid("session_parameters[%d] needs a non-empty string name", i)
    end
    local v = p.value
    if type(v) == "number" or type(v) == "boolean" then v = tostring(v) end
    if type(v) ~= "string" then
      return invalid("session_parameters %q needs a string value, got %s", p.name, type(p.value))
    end
    list[i] = { name = p.name, value = v }
  end
  return list
end

local function required_string(v, name, hint)
  if type(v) == "number" then v = tostring(v) end
  if type(v) ~= "string" or v == "" then return invalid("%s is required (%s)", name, hint) end
  if find(v, "[%s%c]") then return invalid("%s must not contain spaces or control characters", name) end
  return v
end

local function agent_id(v)
  local id, err = required_string(v, "agent_id", "the AI Studio agent ID")
  if not id then return nil, err end
  if not id:match("^[%w_%-]+$") then
    return invalid("agent_id must contain only letters, digits, '-' and '_'")
  end
  return id
end

local function status_url(v, optional)
  if v == nil and optional then return nil end
  if type(v) ~= "string" or v == "" then
    return invalid("status_url is required (the URL that receives message statuses)")
  end
  if not v:match("^https?://[^/%s%c]+") or find(v, "[%s%c]") then
    return invalid("status_url must be an http:// or https:// URL without spaces")
  end
  return v
end

-- Refuse a key of `t` that is not one of `fields` (a ", "-separated list, also used in the message).
-- `channel` may be given when it is the one the call sends.
local function no_unknown(t, body, fields)
  for k in pairs(t) do
    local known = type(k) == "string" and find(", " .. fields .. ", ", ", " .. k .. ", ", 1, true)
    if k == "channel" and body.channel then
      if t.channel ~= body.channel then
        return invalid("channel is %s here, got %s (trigger_whatsapp sends whatsapp, trigger_sms sms, "
          .. "make_call a voice call)", body.channel, tostring(t.channel))
      end
    elseif not known then
      return invalid("unknown field %s (the fields are %s)", tostring(k), fields)
    end
  end
  return true
end

-- The fields every channel shares: agent_id, to, status_url, session_parameters. With `partial`, a
-- missing `to` is not an error (the fields a campaign fixes are checked before it has recipients).
local function common_fields(t, body, status_url_optional, partial)
  local err
  body.agent_id, err = agent_id(t.agent_id)
  if not body.agent_id then return nil, err end
  if t.to ~= nil or not partial then
    body.to, err = whatsapp.phone(t.to, "to")
    if not body.to then return nil, err end
  end
  if t.status_url ~= nil or not status_url_optional then
    body.status_url, err = status_url(t.status_url)
    if not body.status_url then return nil, err end
  end
  if t.session_parameters ~= nil then
    body.session_parameters, err = _M.session_parameters(t.session_parameters)
    if not body.session_parameters then return nil, err end
  end
  return body
end

--- Check the fields of a WhatsApp trigger and build the request body (nothing is sent).
-- @tparam table t see `trigger_whatsapp`
-- @tparam[opt=false] boolean partial `to` may be missing (the body is then incomplete)
-- @treturn table|nil the body table, or nil and an `invalid_argument` error
function _M.whatsapp_body(t, partial)
  if type(t) ~= "table" then return invalid("trigger_whatsapp expects a table of fields") end
  local body = { channel = "whatsapp" }
  local err
  body.agent_id, err = agent_id(t.agent_id)
  if not body.agent_id then return nil, err end
  body.namespace, err = required_string(t.namespace, "namespace", "the WhatsApp template namespace")
  if not body.namespace then return nil, err end
  body.template, err = required_string(t.template, "template", "the approved WhatsApp template name")
  if not body.template then return nil, err end
  body.template, err = whatsapp.template_name(body.template, "template")
  if not body.template then return nil, err end
  body.locale, err = required_string(t.locale, "locale", "the template language, e.g. en or en_US")
  if not body.locale then return nil, err end
  if not (body.locale:match("^%l%l%l?$") or body.locale:match("^%l%l%l?_%u%u$")) then
    return invalid("locale %q is not a WhatsApp language code (e.g. en, en_US, pt_BR)", body.locale)
  end
  local ok
  ok, err = common_fields(t, body, false, partial)
  if not ok then return nil, err end
  if t.components ~= nil then
    body.components, err = _M.components(t.components)
    if not body.components then return nil, err end
  end
  ok, err = no_unknown(t, body,
    "agent_id, namespace, template, locale, to, status_url, components, session_parameters")
  if not ok then return nil, err end
  return body
end

-- The body of a send whose fields are the shared ones (SMS, voice), built on `body`; `method` names
-- the send in the message; with `partial`, `to` may be missing.
local function shared_fields_body(t, method, body, status_url_optional, partial)
  if type(t) ~= "table" then return invalid("%s expects a table of fields", method) end
  local err
  body, err = common_fields(t, body, status_url_optional, partial)
  if not body then return nil, err end
  local ok
  ok, err = no_unknown(t, body, "agent_id, to, status_url, session_parameters")
  if not ok then return nil, err end
  return body
end

--- Check the fields of an SMS trigger and build the request body (nothing is sent).
-- @tparam table t see `trigger_sms`
-- @tparam[opt=false] boolean partial `to` may be missing (the body is then incomplete)
-- @treturn table|nil the body table `{to, agent_id, channel = "sms", status_url, session_parameters?}`
-- @treturn[2] convai.error kind `invalid_argument`
function _M.sms_body(t, partial)
  return shared_fields_body(t, "trigger_sms", { channel = "sms" }, false, partial)
end

--- Check the fields of an outbound call and build the request body (nothing is sent).
-- @tparam table t see `make_call`
-- @tparam[opt=false] boolean partial `to` may be missing (the body is then incomplete)
-- @treturn table|nil the body table `{agent_id, to, status_url?, session_parameters?}`
-- @treturn[2] convai.error kind `invalid_argument`
function _M.call_body(t, partial)
  return shared_fields_body(t, "make_call", {}, true, partial)
end

--- The client's outbound sends, by method name. Each starts a virtual-agent session, which counts
-- against the agent's sessions-per-second limit (shared by every channel), and each is a method of the
-- client taking one table of fields. For the modules that pace, count or record sends (a rate limit, a
-- campaign) without knowing this vendor's method names: `channel` (`"whatsapp"`, `"sms"` or `"voice"`),
-- `agent` (the field of the table that names the agent: `"agent_id"`), `body` (the function that checks
-- the fields and builds the request body without sending anything: `whatsapp_body`, `sms_body`,
-- `call_body`) and `path` (the endpoint, below the base URL).
--
-- Every send method checks every field before anything is sent, and returns `{status = integer, body =
-- decoded JSON or raw text}`, or nil and a `convai.error` of kind `invalid_argument` (nothing sent),
-- `auth`, `not_found`, `unprocessable` (400/422, the vendor refused the fields), `rate_limited` (429;
-- `retry_after` when the vendor sent `Retry-After`), `server`, `http`, `timeout`, `network`, `tls` or
-- `too_large`. It is retried only on 429 or when nothing was sent (the `retry` option), never when the
-- request may have reached the vendor, as a retry could message or call a person twice.
-- @table SENDS
_M.SENDS = {
  trigger_whatsapp = { channel = "whatsapp", agent = "agent_id", body = _M.whatsapp_body,
    path = "/messaging/conversation" },
  trigger_sms = { channel = "sms", agent = "agent_id", body = _M.sms_body, path = "/messaging/conversation" },
  make_call = { channel = "voice", agent = "agent_id", body = _M.call_body, path = "/telephony/make-call" },
}

-- Post a send's body, each attempt in a slot of the agent taken from the client's limit (none for a
-- client made by `with_limit(false)`: its caller takes the slots). A 429 that ends the call holds the
-- agent too, so that the other senders of the agent wait with it.
-- With a `trace` function, the wait for a slot after a 429 is told to it as an event `{phase = "wait",
-- agent, seconds, method, url, status, error}` (a paced retry does not pause by the retry policy).
local function post_send(self, path, body)
  local lim = self.limit
  if not lim then return client.post(self, path, body) end
  local agent, trace = body.agent_id, self.http.trace
  local res, err = client.post(self, path, body, {
    pace = function(_, last)
      local on_wait
      if trace and type(last) == "table" and last.status == 429 then
        on_wait = function(seconds)
          trace { phase = "wait", agent = agent, seconds = seconds, method = "POST",
            url = self.http.base_url .. path, status = last.status, error = last }
        end
      end
      return lim:slot(agent, last, on_wait)
    end,
  })
  if not res and type(err) == "table" and err.status == 429 then lim:penalize(agent, err.retry_after) end
  return res, err
end

-- The method that checks the fields of a send and posts its body.
local function send_method(send)
  local body_of, path = send.body, send.path
  return function(self, t)
    local body, err = body_of(t)
    if not body then return nil, err end
    return post_send(self, path, body)
  end
end

--- Trigger an outbound WhatsApp virtual-agent session from an approved template.
-- `POST {base}/messaging/conversation` with `channel = "whatsapp"` (see `SENDS` for what it returns and
-- when it is retried).
-- @function mt:trigger_whatsapp
-- @tparam table t
-- @tparam string t.agent_id the AI Studio agent ID
-- @tparam string t.namespace the WhatsApp template namespace
-- @tparam string t.template the approved template name
-- @tparam string t.locale the template language, e.g. `"en"`, `"en_US"`
-- @tparam string t.to the recipient, human input accepted (`"+44 7700 900123"`, `"0044 7700 900123"`);
--   sent as digits only, country code first
-- @tparam string t.status_url where AI Studio posts message statuses
-- @tparam[opt] table t.components the WhatsApp components array, or `{header = {"v1"}, body = {"v2"}}`
-- @tparam[opt] table t.session_parameters `{{name=, value=}, ...}` or `{name = value}`
-- @treturn table|nil `{status = integer, body = decoded JSON or raw text}`, or nil and a `convai.error`
mt.trigger_whatsapp = send_method(_M.SENDS.trigger_whatsapp)

--- Trigger an outbound SMS virtual-agent session.
-- `POST {base}/messaging/conversation` with `{to, agent_id, channel = "sms", status_url,
-- session_parameters?}` (docs/api-notes.md §3). Shares the agent's sessions-per-second limit with WhatsApp
-- and voice (see `SENDS` for what it returns and when it is retried).
-- @function mt:trigger_sms
-- @tparam table t
-- @tparam string t.agent_id the AI Studio agent ID
-- @tparam string t.to the recipient, human input accepted; sent as digits only, country code first
-- @tparam string t.status_url where AI Studio posts message statuses
-- @tparam[opt] table t.session_parameters `{{name=, value=}, ...}` or `{name = value}`
-- @treturn table|nil `{status = integer, body = decoded JSON or raw text}`, or nil and a `convai.error`
mt.trigger_sms = send_method(_M.SENDS.trigger_sms)

--- Start an outbound voice virtual-agent call.
-- `POST {base}/telephony/make-call` with `{agent_id, to, status_url?, session_parameters?}`, `to` the
-- number with its country code and no special characters (docs/api-notes.md §3). Shares the agent's
-- sessions-per-second limit with WhatsApp and SMS (see `SENDS` for what it returns and when it is
-- retried).
-- @function mt:make_call
-- @tparam table t
-- @tparam string t.agent_id the AI Studio agent ID
-- @tparam string t.to the number to call, human input accepted; sent as digits only, country code first
-- @tparam[opt] string t.status_url where AI Studio posts call statuses
-- @tparam[opt] table t.session_parameters `{{name=, value=}, ...}` or `{name = value}`
-- @treturn table|nil `{status = integer, body = decoded JSON or raw text}`, or nil and a `convai.error`
mt.make_call = send_method(_M.SENDS.make_call)

-- ------------------------------------------------------------------ sends, by channel
-- What code outside this module needs to start a session without naming its methods: a campaign sender
-- (`convai.campaign.senders`).

mt.SENDS = _M.SENDS -- also reachable from a client: `client.SENDS`

-- The sends by channel (`whatsapp`, `sms`, `voice`), from `SENDS`.
local CHANNELS = {}
for _, send in pairs(_M.SENDS) do CHANNELS[send.channel] = send end

-- The bodies made by `prepare`, and their channel (weak keys: a body its caller dropped goes too).
local prepared = setmetatable({}, { __mode = "k" })

--- Check the fields of a session on a channel and build its request body, once; nothing is sent
-- (`send_prepared` sends it).
-- @tparam string channel `"whatsapp"`, `"sms"` or `"voice"` (a value of `SENDS`)
-- @tparam table t the fields of `trigger_whatsapp`, `trigger_sms` or `make_call`
-- @tparam[opt=false] boolean partial check the fields given and let `to` be missing: how a campaign
--   checks its fixed fields before it has recipients (a body without `to` cannot be sent)
-- @treturn table|nil the body
-- @treturn[2] nil
-- @treturn[2] convai.error kind `invalid_argument`
function mt:prepare(channel, t, partial) -- luacheck: ignore 212 (self)
  local c = CHANNELS[channel]
  if not c then return invalid("channel must be whatsapp, sms or voice, got %s", tostring(channel)) end
  local body, err = c.body(t, partial)
  if not body then return nil, err end
  if body.to then prepared[body] = c end
  return body
end

--- Start a session with a body made by `prepare`, as it is (it is not checked or built again), in a slot
-- of the agent as every send.
-- @tparam table body from `prepare`
-- @treturn table|nil as `trigger_whatsapp`
-- @treturn[2] nil
-- @treturn[2] convai.error as `trigger_whatsapp`; `invalid_argument` for a body `prepare` did not make
function mt:send_prepared(body)
  local c = prepared[body]
  if not c then return invalid("send_prepared takes a body made by prepare (with a to)") end
  return post_send(self, c.path, body)
end

--- This client with another limit: the same connection, credential and options; its sends take their
-- slots from `lim` (how `convai.limit`'s `wrap` paces a client: its sends and their 429 re-pacing are
-- this client's own), or from nowhere with `false`, for a caller that takes the agent's slots itself
-- (a campaign), which must then claim one before each send.
-- @tparam convai.limit|false lim
-- @tparam[opt] table|boolean retry the copy's retry options instead of this client's (as `new`'s `retry`,
--   laid over the defaults; `false`: one attempt); nil keeps this client's
-- @treturn convai.vonage|nil the client
-- @treturn[2] nil
-- @treturn[2] convai.error kind `invalid_argument`
function mt:with_limit(lim, retry)
  if lim ~= false and not limit.is_limit(lim) then
    return invalid("with_limit takes a convai.limit (limit.new{...}) or false")
  end
  local copy = {}
  for k, v in pairs(self) do copy[k] = v end
  copy.limit = lim or nil
  if retry ~= nil then
    local http, err = self.http:with_retry(retry)
    if not http then return nil, err end
    copy.http = http
  end
  return setmetatable(copy, getmetatable(self))
end

return _M
