-- convai.config: the one place that reads the environment.
local config = require "convai.config"

local function env(t)
  return function(name) return t[name] end
end

describe("convai.config", function()
  it("reads voicebot and Avaamo settings", function()
    local e = env { CONVAI_VOICEBOT_URL = "http://v", CONVAI_VOICEBOT_TOKEN = "t1",
      CONVAI_AVAAMO_URL = "http://a", CONVAI_AVAAMO_TOKEN = "t2" }
    assert.same({ base_url = "http://v", token = "t1" }, config.voicebot(e))
    assert.same({ base_url = "http://a", access_token = "t2" }, config.avaamo(e))
  end)

  it("lets CONVAI_VONAGE_URL win over CONVAI_VONAGE_REGION", function()
    assert.same({ base_url = "http://x", api_key = "k" },
      config.vonage(env { CONVAI_VONAGE_URL = "http://x", CONVAI_VONAGE_REGION = "us", CONVAI_VONAGE_KEY = "k" }))
    assert.same({ region = "us", api_key = "k" },
      config.vonage(env { CONVAI_VONAGE_REGION = "us", CONVAI_VONAGE_KEY = "k" }))
  end)

  it("treats empty variables as unset", function()
    assert.same({}, config.avaamo(env { CONVAI_AVAAMO_URL = "", CONVAI_AVAAMO_TOKEN = "" }))
  end)

  it("feeds the clients' from_env constructors", function()
    local vonage = require "convai.vonage"
    local c = assert(vonage.from_env())
    assert.equal(os.getenv("CONVAI_VONAGE_URL"), c.http.base_url)
  end)
end)
