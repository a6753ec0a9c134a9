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
--
-- @module convai.config
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

--- Options for `convai.vonage.new` from the environment.
-- `CONVAI_VONAGE_URL` wins over `CONVAI_VONAGE_REGION`.
-- @tparam[opt=os.getenv] function getenv
-- @treturn table `{base_url, region, api_key, cafile}`
function _M.vonage(getenv)
  getenv = getenv or os.getenv
  local base_url = read(getenv, "CONVAI_VONAGE_URL")
  return {
    base_url = base_url,
    region = (not base_url) and read(getenv, "CONVAI_VONAGE_REGION") or nil,
    api_key = read(getenv, "CONVAI_VONAGE_KEY"),
    cafile = read(getenv, "CONVAI_CAFILE"),
  }
end

return _M
