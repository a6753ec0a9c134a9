--- convai.config: the one place that resolves configuration: the environment, over a profile.
--
-- A profile (`--profile NAME` or `CONVAI_PROFILE`) is read from `$XDG_CONFIG_HOME/convai/config.json`
-- (else `~/.config/convai/config.json`): `{"profiles": {"NAME": {"voicebot_url": ..., ...}}}`, one field
-- per variable below (`voicebot_token_env`, `avaamo_token_env`, `vonage_key_env` name a variable that
-- holds the credential instead). A variable that is set wins over the profile. A file that holds a
-- credential is refused when group or others may read it (`chmod 600`). docs/profiles.md.
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
local cjson = require "cjson.safe"
local core = require "convai.core"
local errors = require "convai.errors"
local check = require "convai.http.check"

local type, tonumber, pairs, ipairs, tostring = type, tonumber, pairs, ipairs, tostring
local match, gmatch, find, format = string.match, string.gmatch, string.find, string.format
local concat, sort = table.concat, table.sort
local huge = math.huge

local invalid = errors.invalid

local _M = {}

--- The settings, in the order `convai config show` lists them: the variable, the profile's field,
-- whether it is a credential (never printed; in a profile, readable by its owner only), and for a URL
-- field that it must be one.
_M.SETTINGS = {
  { env = "CONVAI_VOICEBOT_URL", field = "voicebot_url", url = true },
  { env = "CONVAI_VOICEBOT_TOKEN", field = "voicebot_token", credential = true },
  { env = "CONVAI_AVAAMO_URL", field = "avaamo_url", url = true },
  { env = "CONVAI_AVAAMO_TOKEN", field = "avaamo_token", credential = true },
  { env = "CONVAI_VONAGE_URL", field = "vonage_url", url = true },
  { env = "CONVAI_VONAGE_REGION", field = "vonage_region" },
  { env = "CONVAI_VONAGE_KEY", field = "vonage_key", credential = true },
  { env = "CONVAI_CAFILE", field = "cafile" },
  { env = "CONVAI_LIMITS", field = "limits" },
  { env = "CONVAI_VONAGE_RATES", field = "vonage_rates" },
}
local BY_FIELD, BY_ENV = {}, {}
for _, s in ipairs(_M.SETTINGS) do
  BY_FIELD[s.field], BY_ENV[s.env] = s, s
  if s.credential then BY_FIELD[s.field .. "_env"] = { env_of = s } end
end

-- A getenv function's value, nil when empty: with a source (`_M.source`), also where it came from and
-- the setting's name for messages.
local function read(getenv, name)
  local v, origin, setting = getenv(name)
  if v == "" then return nil end
  return v, origin, setting
end

--- Options for `convai.voicebot.new` from the environment.
-- @tparam[opt] function getenv a variable's value by name (`os.getenv`, or a `source`); default: the
--   environment over the selected profile (`use`, `CONVAI_PROFILE`)
-- @treturn table|nil `{base_url, token, cafile}` (fields nil when unset)
-- @treturn[2] nil
-- @treturn[2] convai.error kind `invalid_argument`: the selected profile cannot be used (`profile`)
function _M.voicebot(getenv)
  local err
  getenv, err = _M.getenv(getenv)
  if not getenv then return nil, err end
  return { base_url = read(getenv, "CONVAI_VOICEBOT_URL"), token = read(getenv, "CONVAI_VOICEBOT_TOKEN"),
    cafile = read(getenv, "CONVAI_CAFILE") }
end

--- Options for `convai.avaamo.new` from the environment.
-- @tparam[opt] function getenv as in `voicebot`
-- @treturn table|nil `{base_url, access_token, cafile}` (base_url nil means the client's default)
-- @treturn[2] nil
-- @treturn[2] convai.error kind `invalid_argument`: the selected profile cannot be used
function _M.avaamo(getenv)
  local err
  getenv, err = _M.getenv(getenv)
  if not getenv then return nil, err end
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
  local v, _, setting = read(getenv, "CONVAI_LIMITS")
  if v then
    o.limits, err = _M.store(v, setting or "CONVAI_LIMITS")
    if not o.limits then return nil, err end
  end
  if with_rates then
    v, _, setting = read(getenv, "CONVAI_VONAGE_RATES")
  else
    v = nil
  end
  if v then
    o.rates, err = _M.rates(v, setting or "CONVAI_VONAGE_RATES")
    if not o.rates then return nil, err end
  end
  return o
end

--- Options for `convai.vonage.new` from the environment.
-- `CONVAI_VONAGE_URL` wins over `CONVAI_VONAGE_REGION`.
-- @tparam[opt] function getenv as in `voicebot`
-- @treturn table|nil `{base_url, region, api_key, cafile, limits = {store, setting = "CONVAI_LIMITS"},
--   rates = {[agent] = rate}}` (fields nil when unset)
-- @treturn[2] nil
-- @treturn[2] convai.error kind `invalid_argument`: a malformed `CONVAI_LIMITS` or `CONVAI_VONAGE_RATES`
--   (or the profile's `limits`, `vonage_rates`), or the selected profile cannot be used
function _M.vonage(getenv)
  local err
  getenv, err = _M.getenv(getenv)
  if not getenv then return nil, err end
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
-- @tparam[opt] function getenv as in `voicebot`
-- @treturn table|nil `{limits = {store, setting = "CONVAI_LIMITS"}}` (`limits` nil when unset)
-- @treturn[2] nil
-- @treturn[2] convai.error kind `invalid_argument`
function _M.limits(getenv)
  local err
  getenv, err = _M.getenv(getenv)
  if not getenv then return nil, err end
  return limit_settings(getenv, {}, false)
end

--- The profiles file: `$XDG_CONFIG_HOME/convai/config.json`, else `$HOME/.config/convai/config.json`
-- (a relative `XDG_CONFIG_HOME` is ignored, as the XDG base directory rules say).
-- @tparam[opt=os.getenv] function getenv
-- @treturn string|nil the path
-- @treturn[2] nil
-- @treturn[2] convai.error kind `invalid_argument` when neither variable gives an absolute path
function _M.config_path(getenv)
  getenv = getenv or os.getenv
  local dir = read(getenv, "XDG_CONFIG_HOME")
  if dir and dir:sub(1, 1) == "/" then return dir .. "/convai/config.json" end
  local home = read(getenv, "HOME")
  if home and home:sub(1, 1) == "/" then return home .. "/.config/convai/config.json" end
  return invalid("profiles are read from $XDG_CONFIG_HOME/convai/config.json: set XDG_CONFIG_HOME or HOME to "
    .. "an absolute path")
end

local function names_of(t)
  local names = {}
  for k in pairs(t) do names[#names + 1] = tostring(k) end
  sort(names)
  return concat(names, ", ")
end

-- A field's value checked, as text (vonage_rates given as an object becomes `a=5,b=3`), or nil and the
-- error. `where` is "profile NAME" (the message's prefix: "profile acme: voicebot_url ...").
local function profile_value(where, field, v)
  local setting = where .. ": " .. field
  local spec = BY_FIELD[field]
  if field == "vonage_rates" and type(v) == "table" then
    local pairs_text = {}
    for agent, rate in pairs(v) do
      if type(rate) ~= "number" then
        return invalid("%s must map agents to positive numbers of sessions per second (e.g. "
          .. '{"agent": 5}), got %s for %s', setting, type(rate), check.quote(agent))
      end
      pairs_text[#pairs_text + 1] = agent .. "=" .. format("%.17g", rate)
    end
    sort(pairs_text)
    v = concat(pairs_text, ",")
    if v == "" then return invalid('%s must name at least one agent (e.g. {"agent": 5})', setting) end
  end
  if type(v) ~= "string" or v == "" then
    return invalid("%s must be a non-empty string, got %s", setting, v == "" and '""' or type(v))
  end
  if spec.env_of then
    if not match(v, "^[%a_][%w_]*$") then
      return invalid("%s must name an environment variable (letters, digits, _), got %s", setting,
        check.quote(v))
    end
  elseif spec.url then
    if not match(v, "^https?://[^%s%c]+$") then
      return invalid("%s must be an http:// or https:// URL without spaces", setting)
    end
  elseif field == "vonage_region" then
    if v ~= "eu" and v ~= "us" then
      return invalid('%s must be "eu" or "us" (the agent\'s region), got %s', setting, check.quote(v))
    end
  elseif field == "limits" then
    local ok, err = _M.store(v, setting)
    if not ok then return nil, err end
  elseif field == "vonage_rates" then
    local ok, err = _M.rates(v, setting)
    if not ok then return nil, err end
  end
  return v
end

--- Read and check a profile.
-- @tparam string name the profile's name (a key of `profiles` in the file)
-- @tparam[opt] table opts `getenv` (default `os.getenv`, for the file's path), `path` (default
--   `config_path()`)
-- @treturn table|nil `{name = NAME, path = PATH, values = {[field] = text}}`
-- @treturn[2] nil
-- @treturn[2] convai.error kind `invalid_argument`: no such file or profile, not JSON, an unknown field, a
--   bad value (named `profile NAME: FIELD`), a credential and its `_env` both given, or a credential in a
--   file that group or others may read (the message says `chmod 600 PATH`)
function _M.profile(name, opts)
  opts = opts or {}
  if type(name) ~= "string" or name == "" then
    return invalid("a profile name must be a non-empty string, got %s", check.quote(name))
  end
  local path, err = opts.path
  if not path then
    path, err = _M.config_path(opts.getenv)
    if not path then return nil, err end
  end
  local text, mode, mine = core.read_config(path)
  if not text then
    return invalid("profile %s: %s (profiles are read from %s: docs/profiles.md)", name, mode, path)
  end
  local doc, jerr = cjson.decode(text)
  if type(doc) ~= "table" then
    return invalid("%s is not a JSON object: %s", path, jerr or "got " .. type(doc))
  end
  local profiles = doc.profiles
  if type(profiles) ~= "table" then
    return invalid('%s must hold {"profiles": {"NAME": {...}}}: no "profiles" object', path)
  end
  local raw = profiles[name]
  if type(raw) ~= "table" then
    return invalid("no profile %s in %s (profiles: %s)", check.quote(name), path, names_of(profiles))
  end
  -- Any profile of the file holding a credential makes the file secret.
  for pname, p in pairs(profiles) do
    for _, s in ipairs(_M.SETTINGS) do
      if s.credential and type(p) == "table" and p[s.field] ~= nil and (mode % 64 ~= 0 or not mine) then
        return invalid("%s holds a credential (profile %s: %s) and %s (mode %04o): chmod 600 %s (or name an "
          .. "environment variable instead: %s_env)", path, tostring(pname), s.field,
          mine and "group or others may read it" or "another user owns it", mode, path, s.field)
      end
    end
  end
  local where, values = "profile " .. name, {}
  for field, v in pairs(raw) do
    if not BY_FIELD[field] then
      local known = {}
      for f in pairs(BY_FIELD) do known[#known + 1] = f end
      sort(known)
      return invalid("profile %s: unknown field %s in %s (known: %s)", name, check.quote(field), path,
        concat(known, ", "))
    end
    values[field], err = profile_value(where, field, v)
    if not values[field] then return nil, err end
  end
  for _, s in ipairs(_M.SETTINGS) do
    if s.credential and values[s.field] and values[s.field .. "_env"] then
      return invalid("profile %s: give %s or %s_env, not both", name, s.field, s.field)
    end
  end
  return { name = name, path = path, values = values }
end

--- A `getenv` function over the environment and a profile: `source(NAME)` gives the variable's value when
-- it is set (the environment wins), else the profile's, with where it came from and the setting's name for
-- messages.
-- @tparam[opt] table opts `profile` (a name; default `CONVAI_PROFILE`; none: the environment alone),
--   `getenv` (default `os.getenv`), `path` (the profiles file; default `config_path()`)
-- @treturn function|nil `source(NAME)` -> `value, origin, setting` (`origin`: `"environment"`,
--   `"profile NAME (PATH)"` or `"profile NAME: FIELD_env -> VAR"`; `setting`: the variable, or
--   `"profile NAME: FIELD"`), or nil when unset
-- @treturn[2] nil
-- @treturn[2] convai.error kind `invalid_argument` from `profile`
function _M.source(opts)
  opts = opts or {}
  local getenv = opts.getenv or os.getenv
  local name = opts.profile
  if name == nil then name = read(getenv, "CONVAI_PROFILE") end
  local profile
  if name ~= nil then
    local err
    profile, err = _M.profile(name, { getenv = getenv, path = opts.path })
    if not profile then return nil, err end
  end
  return function(var)
    local v = read(getenv, var)
    if v then return v, "environment", var end
    local s = profile and BY_ENV[var]
    if not s then return nil end
    local values = profile.values
    if values[s.field] then
      return values[s.field], format("profile %s (%s)", profile.name, profile.path),
        "profile " .. profile.name .. ": " .. s.field
    end
    local holder = values[s.field .. "_env"]
    if holder then
      v = read(getenv, holder)
      if v then
        return v, format("profile %s: %s_env -> %s", profile.name, s.field, holder), holder
      end
    end
    return nil
  end, profile
end

local selected = {} -- the profile chosen by `use`: {profile = NAME}; the source made of it, once made

--- Choose the profile that `voicebot()`, `avaamo()`, `vonage()` and `limits()` read when they are given
-- no `getenv` (the CLI's `--profile`); without a call, `CONVAI_PROFILE` chooses. Nothing is read until
-- a setting is needed.
-- @tparam[opt] table opts `profile` (a name), `getenv`, `path`: as `source`
function _M.use(opts)
  selected = { opts = opts or {} }
end

--- The `getenv` a reader uses: the one given, else the environment over the selected profile.
-- @tparam[opt] function getenv
-- @treturn function|nil
-- @treturn[2] nil
-- @treturn[2] convai.error kind `invalid_argument` when the selected profile cannot be used
function _M.getenv(getenv)
  if getenv then return getenv end
  if not selected.source and not selected.err then
    selected.source, selected.err = _M.source(selected.opts)
  end
  return selected.source, selected.err
end

--- The effective settings and where each comes from, for `convai config show`: credentials are never
-- returned, only whether they are set.
-- @tparam[opt] function getenv a `source` (default: `getenv()`)
-- @treturn table|nil `{{env = VAR, field = FIELD, value = text|nil (nil for a credential), set = boolean,
--   credential = boolean, origin = string|nil}, ...}` in `SETTINGS` order
-- @treturn[2] nil
-- @treturn[2] convai.error as `getenv`
function _M.effective(getenv)
  local err
  getenv, err = _M.getenv(getenv)
  if not getenv then return nil, err end
  local out = {}
  for i, s in ipairs(_M.SETTINGS) do
    local v, origin = read(getenv, s.env)
    out[i] = { env = s.env, field = s.field, credential = s.credential or false, set = v ~= nil,
      value = (not s.credential) and v or nil, origin = origin }
  end
  return out
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
