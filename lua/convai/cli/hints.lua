--- convai.cli.hints: what the CLI adds to an error so that it says how to fix it.
--
-- The library's errors say what failed; from the command line the user also needs to know which
-- setting to change. This module knows, for each vendor client, the environment variables that hold
-- its base URL and credential and the first segments of its endpoint paths, and from them:
--  - refuses a credential written with its `Bearer ` prefix before anything is sent (`check_env`);
--  - names where the failing credential is set in an `auth` error: its variable, or the profile entry
--    (`profile acme: voicebot_token`, or the variable a `*_env` entry names), as `convai.config.source`
--    says; says that the URL should probably be
--    `http://` when a `tls` error is a plain-HTTP answer (`wrong version number`); says that the base
--    URL already holds the endpoint path when a 404 comes from such a URL (`explain`).
--
-- @module convai.cli.hints
local voicebot = require "convai.voicebot"
local avaamo = require "convai.avaamo"
local vonage = require "convai.vonage"
local errors = require "convai.errors"
local config = require "convai.config"

local format, find = string.format, string.find
local type, tostring, ipairs, pairs, getenv = type, tostring, ipairs, pairs, os.getenv

local _M = {}

-- Per vendor module: the variables of its credential and base URL, and its endpoints' first segments.
local VENDORS = {
  [voicebot] = { secret = "CONVAI_VOICEBOT_TOKEN", url = "CONVAI_VOICEBOT_URL", endpoints = { "/whatsapp/" },
    example = "https://1-client.server.healvi-chat/third-party/v1" },
  [avaamo] = { secret = "CONVAI_AVAAMO_TOKEN", url = "CONVAI_AVAAMO_URL", endpoints = { "/bots/" },
    example = "https://cx.avaamo.com" },
  [vonage] = { secret = "CONVAI_VONAGE_KEY", url = "CONVAI_VONAGE_URL",
    endpoints = { "/messaging/", "/telephony/" }, example = "https://studio-api-eu.ai.vonage.com" },
}

--- The environment variables of a vendor client.
-- @tparam table vendor `convai.voicebot`, `convai.avaamo` or `convai.vonage`
-- @treturn ?table `{secret = "CONVAI_..._TOKEN", url = "CONVAI_..._URL"}`
function _M.variables(vendor)
  local v = VENDORS[vendor]
  return v and { secret = v.secret, url = v.url }
end

-- A credential's value and where the user set it: the variable, or the profile entry (`profile acme:
-- voicebot_token`, or the variable its `voicebot_token_env` names), from `env` (a getenv function) or
-- else the environment over the selected profile (`convai.config.getenv`; the environment alone when the
-- profile cannot be used: that error is told where the profile is read).
local function credential(name, env)
  local source = env or config.getenv() or getenv
  local value, _, setting = source(name)
  return value, setting or name
end

--- Refuse a credential given with its `Bearer ` prefix (the clients add it): nothing is sent.
-- @tparam table vendor a vendor client module
-- @tparam[opt] function env reads a variable (default: the environment over the selected profile)
-- @treturn[1] true
-- @treturn[2] nil
-- @treturn[2] convai.error kind `invalid_argument`, naming the variable or profile entry (never its value)
function _M.check_env(vendor, env)
  local v = VENDORS[vendor]
  if not v then return true end
  local secret, setting = credential(v.secret, env)
  if type(secret) == "string" and find(secret, "^%s*[Bb][Ee][Aa][Rr][Ee][Rr]%s") then
    return errors.invalid("%s starts with 'Bearer ': drop the prefix and give the token alone (convai "
      .. "sends the 'Bearer ' header itself)", setting)
  end
  return true
end

-- Whether a base URL already ends in one of the vendor's endpoint paths.
local function holds_endpoint(base_url, endpoints)
  if type(base_url) ~= "string" then return false end
  local path = base_url:match("^%a[%w+.-]*://[^/]*(/.*)$") or ""
  for _, e in ipairs(endpoints) do
    if find(path .. "/", e, 1, true) then return true end
  end
  return false
end

--- The error of a failed call, with the hint that says which setting to fix (a copy; the original is
-- not modified). Errors with nothing to add are returned as they are.
-- @param err a `convai.error`
-- @tparam table vendor the client's module
-- @tparam[opt] string base_url the client's base URL
-- @tparam[opt] function env reads a variable (default: the environment over the selected profile), for
--   where the credential of an `auth` error is set
-- @return the error, or a copy whose `message` ends with the hint
function _M.explain(err, vendor, base_url, env)
  local v = VENDORS[vendor]
  if type(err) ~= "table" or not v then return err end
  -- The hint, and the library's generic advice it replaces (when the message has it).
  local hint, generic
  if err.kind == "auth" then
    local _, setting = credential(v.secret, env)
    hint, generic = format("check %s", setting), "%(check the credentials%)"
  elseif err.kind == "tls" and find(tostring(err.message), "wrong version number", 1, true) then
    hint = format("the server answers plain HTTP there: %s should probably start with http://", v.url)
    generic = "%(to trust a private CA[^)]*%)"
  elseif err.kind == "not_found" and holds_endpoint(base_url, v.endpoints) then
    hint = format("%s holds an endpoint path; give the base URL only, e.g. %s", v.url, v.example)
  end
  if not hint then return err end
  local copy = {}
  for k, x in pairs(err) do copy[k] = x end
  local message, n = tostring(err.message), 0
  if generic then message, n = message:gsub(generic, function() return "(" .. hint .. ")" end) end
  copy.message = n > 0 and message or format("%s (%s)", message, hint)
  return copy
end

return _M
