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

  it("reads the limit settings: CONVAI_LIMITS (checked for its form) and CONVAI_VONAGE_RATES", function()
    local o = assert(config.vonage(env { CONVAI_VONAGE_URL = "http://x", CONVAI_LIMITS = "process",
      CONVAI_VONAGE_RATES = " agent-1 = 5 , b_2=2.5" }))
    assert.same({ store = "process", setting = "CONVAI_LIMITS" }, o.limits)
    assert.same({ ["agent-1"] = 5, b_2 = 2.5 }, o.rates)
    assert.same({ store = "redis://h:6379/0", setting = "CONVAI_LIMITS" },
      assert(config.vonage(env { CONVAI_LIMITS = "redis://h:6379/0" })).limits)
    assert.same({ limits = { store = "host", setting = "CONVAI_LIMITS" } },
      config.limits(env { CONVAI_LIMITS = "host", CONVAI_VONAGE_RATES = "bad" })) -- rates are Vonage's
    assert.same({}, config.limits(env {}))
    for _, case in ipairs {
      { { CONVAI_LIMITS = "a b" }, 'CONVAI_LIMITS must be host (this machine\'s processes share the limit), process '
        .. '(this process only) or a store URL such as redis://HOST:6379/0, got "a b"' },
      { { CONVAI_LIMITS = "redis:/u:s3cret@h" }, "got a value that is not a URL (SCHEME://...)" },
      { { CONVAI_LIMITS = "redis://" }, "CONVAI_LIMITS must be" },
      { { CONVAI_VONAGE_RATES = "a=5;b=3" }, 'CONVAI_VONAGE_RATES must be AGENT=RATE pairs separated by commas, '
        .. 'each rate a positive number of sessions per second (e.g. agent=5,other=3), got "a=5;b=3"' },
      { { CONVAI_VONAGE_RATES = "a=-1" }, 'got "a=-1"' },
      { { CONVAI_VONAGE_RATES = "a=inf" }, 'got "a=inf"' },
      { { CONVAI_VONAGE_RATES = "a/b=1" }, 'got "a/b=1"' },
    } do
      local v, err = config.vonage(env(case[1]))
      assert.is_nil(v)
      assert.equal("invalid_argument", err.kind)
      assert.is_truthy(err.message:find(case[2], 1, true), err.message)
      assert.is_nil(err.message:find("s3cret", 1, true))
    end
  end)

  it("feeds the clients' from_env constructors", function()
    local vonage = require "convai.vonage"
    local c = assert(vonage.from_env())
    assert.equal(os.getenv("CONVAI_VONAGE_URL"), c.http.base_url)
  end)
end)
