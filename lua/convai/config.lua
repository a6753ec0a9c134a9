--- convai.config: the one place that reads configuration from the environment.
--
-- | variable                | used for                                                   |
-- |-------------------------|------------------------------------------------------------|
-- | `CONVAI_VOICEBOT_URL`   | voicebot.studio Client API base URL (per customer)          |
-- | `CONVAI_VOICEBOT_TOKEN` | voicebot.studio Bearer token                                |
-- | `CONVAI_AVAAMO_URL`     | Avaamo platform URL (default https://cx.avaamo.com)         |
-- | `CONVAI_AVAAMO_TOKEN`   | Avaamo user Access-Token                                    |
-- | `CONVAI_VONAGE_URL`     | Vonage AI Studio base URL; wins over `CONVAI_VONAGE_REGION` |
-- | `CONVAI_VONAGE_REGION`  | `eu` or `us` (the agent's region)                           |
-- | `CONVAI_VONAGE_KEY`     | Vonage AI Studio `X-Vgai-Key`                               |
-- | `CONVAI_CAFILE`         | PEM CA bundle trusted for HTTPS (all three clients)         |
-- | `CONVAI_LIMITS`         | where agents' send slots are kept: `host`, `process`, a URL |
-- | `CONVAI_VONAGE_RATES`   | agents' sessions per second, `agent=5,other=3` (default 1)  |
-- | `XDG_STATE_HOME`, `HOME`| the `host` stores' directories (`limits_dir`, `capacity_dir`)|
-- |                         | and the status file of `convai receive` (`statuses_file`)   |
--
-- @module convai.config
local errors = require "convai.errors"
local check = require "convai.http.check"

local type, tonumber = type, tonumber
local match, gmatch, find = string.match, string.gmatch, string.find
local huge = math.huge

local invalid = errors.invalid

local _M = {}

local function read(getenv, name)
  local v = getenv(name)
  if v == "" then return nil end
  return v
end

--- Options for `convai.voicebot.new` from the environment.
-- @tparam[opt=os.getenv] function getenv
-- @treturn table `{base_url, token, cafile}` (fields nil when unset)
function _M.voicebot(getenv)
  getenv = getenv or os.getenv
  return { base_url = read(getenv, "CONVAI_VOICEBOT_URL"), token = read(getenv, "CONVAI_VOICEBOT_TOKEN"),
    cafile = read(getenv, "CONVAI_CAFILE") }
end

--- Options for `convai.avaamo.new` from the environment.
-- @tparam[opt=os.getenv] function getenv
-- @treturn table `{base_url, access_token, cafile}` (base_url nil means the client's default)
function _M.avaamo(getenv)
  getenv = getenv or os.getenv
  return { base_url = read(getenv, "CONVAI_AVAAMO_URL"), access_token = read(getenv, "CONVAI_AVAAMO_TOKEN"),
    cafile = read(getenv, "CONVAI_CAFILE") }
end

--- A limit store as a user gave it (a variable, a flag): checked for its form only (which names and
-- schemes exist is `convai.limit`'s to say), with the setting's name for the messages that follow.
-- A URL is never quoted back (it may carry a password).
-- @tparam string value `host`, `process` or another registered name, or a URL `SCHEME://...`
-- @tparam string setting how the user named it, e.g. `"CONVAI_LIMITS"` or `"--limits"`
-- @treturn table|nil `{store = value, setting = setting}`, options of `convai.limit.new`
-- @treturn[2] nil
-- @treturn[2] convai.error kind `invalid_argument`, naming the setting
function _M.store(value, setting)
  if type(value) == "string" and (match(value, "^%a[%w_]*$") or match(value, "^%a[%w+.-]*://[^%s%c]+$")) then
    return { store = value, setting = setting }
  end
  local shown = type(value) ~= "string" and type(value)
    or (find(value, "[:/@]") and "a value that is not a URL (SCHEME://...)" or check.quote(value))
  return invalid("%s must be host (this machine's processes share the limit), process (this process "
    .. "only) or a store URL such as redis://HOST:6379/0, got %s", setting, shown)
end

--- Agents' rates: `AGENT=RATE` pairs separated by commas, e.g. `agent=5,other=3` (spaces allowed around
-- them), each rate a positive number of sessions per second.
-- @tparam string text
-- @tparam string setting the setting's name, for the message (e.g. `"CONVAI_VONAGE_RATES"`)
-- @treturn table|nil `{[agent] = rate}`
-- @treturn[2] nil
-- @treturn[2] convai.error kind `invalid_argument`, naming the setting and the pair
function _M.rates(text, setting)
  local rates = {}
  for pair in gmatch(text .. ",", "([^,]*),") do
    local agent, rate = match(pair, "^%s*([%w_%-]+)%s*=%s*([^%s]+)%s*$")
    rate = tonumber(rate)
    if not agent or not rate or rate ~= rate or rate <= 0 or rate == huge then
      return invalid("%s must be AGENT=RATE pairs separated by commas, each rate a positive number of "
        .. "sessions per second (e.g. agent=5,other=3), got %s", setting, check.quote(pair))
    end
    rates[agent] = rate
  end
  return rates
end

-- The limit settings of the environment into `o`: `limits` (CONVAI_LIMITS) and, with `with_rates`,
-- `rates` (CONVAI_VONAGE_RATES); `o`, or nil and the error.
local function limit_settings(getenv, o, with_rates)
  local err
  local v = read(getenv, "CONVAI_LIMITS")
  if v then
    o.limits, err = _M.store(v, "CONVAI_LIMITS")
    if not o.limits then return nil, err end
  end
  v = with_rates and read(getenv, "CONVAI_VONAGE_RATES")
  if v then
    o.rates, err = _M.rates(v, "CONVAI_VONAGE_RATES")
    if not o.rates then return nil, err end
  end
  return o
end

--- Options for `convai.vonage.new` from the environment.
-- `CONVAI_VONAGE_URL` wins over `CONVAI_VONAGE_REGION`.
-- @tparam[opt=os.getenv] function getenv
-- @treturn table|nil `{base_url, region, api_key, cafile, limits = {store, setting = "CONVAI_LIMITS"},
--   rates = {[agent] = rate}}` (fields nil when unset)
-- @treturn[2] nil
-- @treturn[2] convai.error kind `invalid_argument`: a malformed `CONVAI_LIMITS` or `CONVAI_VONAGE_RATES`
function _M.vonage(getenv)
  getenv = getenv or os.getenv
  local base_url = read(getenv, "CONVAI_VONAGE_URL")
  return limit_settings(getenv, {
    base_url = base_url,
    region = (not base_url) and read(getenv, "CONVAI_VONAGE_REGION") or nil,
    api_key = read(getenv, "CONVAI_VONAGE_KEY"),
    cafile = read(getenv, "CONVAI_CAFILE"),
  }, true)
end

--- The limit store of the environment alone (`CONVAI_LIMITS`), for senders that have no client
-- options (a voicebot.studio campaign).
-- @tparam[opt=os.getenv] function getenv
-- @treturn table|nil `{limits = {store, setting = "CONVAI_LIMITS"}}` (`limits` nil when unset)
-- @treturn[2] nil
-- @treturn[2] convai.error kind `invalid_argument`
function _M.limits(getenv)
  return limit_settings(getenv or os.getenv, {}, false)
end

-- `DIR/convai/NAME` under the user's state directory, or nil and an error naming `what`.
local function state_dir(getenv, name, what)
  getenv = getenv or os.getenv
  local state = read(getenv, "XDG_STATE_HOME")
  if state and state:sub(1, 1) == "/" then return state .. "/convai/" .. name end
  local home = read(getenv, "HOME")
  if home and home:sub(1, 1) == "/" then return home .. "/.local/state/convai/" .. name end
  return invalid("the host %s store needs a directory: set XDG_STATE_HOME or HOME to an absolute "
    .. "path, or choose another store (CONVAI_LIMITS=process, --limits process)", what)
end

--- The directory of the `host` limit store: `$XDG_STATE_HOME/convai/limits`, else
-- `$HOME/.local/state/convai/limits` (the XDG base directory rules: a relative `XDG_STATE_HOME` is
-- ignored). Nothing is created here (`convai.limit.host` does, mode 0700).
-- @tparam[opt=os.getenv] function getenv
-- @treturn string|nil the directory
-- @treturn[2] nil
-- @treturn[2] convai.error kind `invalid_argument` when neither variable gives an absolute path
function _M.limits_dir(getenv)
  return state_dir(getenv, "limits", "limit")
end

--- The directory of the `host` capacity store, beside the limit store's: `$XDG_STATE_HOME/convai/
-- capacity`, else `$HOME/.local/state/convai/capacity` (created 0700 by `convai.capacity.host`).
-- @tparam[opt=os.getenv] function getenv
-- @treturn string|nil the directory
-- @treturn[2] nil
-- @treturn[2] convai.error kind `invalid_argument` when neither variable gives an absolute path
function _M.capacity_dir(getenv)
  return state_dir(getenv, "capacity", "capacity")
end

--- The default status store of `convai receive` and `convai campaign report`: the JSON-lines file
-- `$XDG_STATE_HOME/convai/statuses.jsonl`, else `$HOME/.local/state/convai/statuses.jsonl`.
-- @tparam[opt=os.getenv] function getenv
-- @treturn string|nil the file's path
-- @treturn[2] nil
-- @treturn[2] convai.error kind `invalid_argument` when neither variable gives an absolute path
function _M.statuses_file(getenv)
  local dir = state_dir(getenv, "", "status")
  if not dir then
    return invalid("the status store needs a place: set XDG_STATE_HOME or HOME to an absolute path, or "
      .. "give --store FILE or --store redis://...")
  end
  return dir .. "statuses.jsonl"
end

return _M
