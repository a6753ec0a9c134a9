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

  describe("profiles", function()
    local dir, path
    before_each(function()
      dir = os.tmpname()
      os.remove(dir)
      assert(os.execute("mkdir -p " .. dir .. "/convai"))
      path = dir .. "/convai/config.json"
    end)
    after_each(function()
      config.use()
      os.execute("rm -rf " .. dir)
    end)
    local function write(text, mode)
      local f = assert(io.open(path, "wb"))
      f:write(text)
      f:close()
      assert(os.execute("chmod " .. mode .. " " .. path))
    end

    it("are read from $XDG_CONFIG_HOME/convai/config.json, else ~/.config/convai/config.json", function()
      assert.equal("/x/convai/config.json", config.config_path(env { XDG_CONFIG_HOME = "/x", HOME = "/h" }))
      assert.equal("/h/.config/convai/config.json", config.config_path(env { XDG_CONFIG_HOME = "rel", HOME = "/h" }))
      local ok, err = config.config_path(env {})
      assert.is_nil(ok)
      assert.equal("invalid_argument", err.kind)
    end)

    it("give a variable's value when it is unset in the environment, with where it came from", function()
      write('{"profiles": {"p": {"voicebot_url": "http://p/v1", "voicebot_token_env": "P_TOKEN", '
        .. '"vonage_rates": {"a": 2}, "limits": "process"}}}', "644")
      local e = env { XDG_CONFIG_HOME = dir, P_TOKEN = "tok", CONVAI_LIMITS = "host" }
      local source = assert(config.source { profile = "p", getenv = e })
      assert.same({ "http://p/v1", "profile p (" .. path .. ")", "profile p: voicebot_url" },
        { source("CONVAI_VOICEBOT_URL") })
      assert.same({ "tok", "profile p: voicebot_token_env -> P_TOKEN", "P_TOKEN" }, { source("CONVAI_VOICEBOT_TOKEN") })
      assert.same({ "host", "environment", "CONVAI_LIMITS" }, { source("CONVAI_LIMITS") })
      assert.is_nil(source("CONVAI_AVAAMO_TOKEN"))
      assert.same({ base_url = "http://p/v1", token = "tok" }, config.voicebot(source))
      assert.same({ a = 2 }, config.vonage(source).rates)
      -- CONVAI_PROFILE chooses when no profile is given; `use` sets the readers' default.
      assert.equal("http://p/v1", assert(config.source { getenv = env { XDG_CONFIG_HOME = dir,
        CONVAI_PROFILE = "p" } })("CONVAI_VOICEBOT_URL"))
      config.use { profile = "p", getenv = e }
      assert.same({ base_url = "http://p/v1", token = "tok" }, config.voicebot())
      config.use { profile = "missing", getenv = e }
      local ok, err = config.voicebot()
      assert.is_nil(ok)
      assert.matches('no profile "missing" in', err.message)
    end)

    it("refuse a credential in a file that group or others may read", function()
      write('{"profiles": {"p": {"avaamo_token": "secret"}, "q": {}}}', "640")
      local ok, err = config.profile("q", { path = path })
      assert.is_nil(ok)
      assert.equal("invalid_argument", err.kind)
      assert.matches("chmod 600 " .. path:gsub("%p", "%%%0"), err.message)
      assert.is_nil(err.message:find("secret", 1, true))
      write('{"profiles": {"p": {"avaamo_token": "secret"}, "q": {}}}', "600")
      assert.same({ avaamo_token = "secret" }, assert(config.profile("p", { path = path })).values)
    end)

    it("config.effective never returns a credential", function()
      write('{"profiles": {"p": {"vonage_key": "k-secret", "vonage_region": "us"}}}', "600")
      local source = assert(config.source { profile = "p", getenv = env { XDG_CONFIG_HOME = dir } })
      for _, s in ipairs(assert(config.effective(source))) do
        if s.env == "CONVAI_VONAGE_KEY" then
          assert.is_true(s.set)
          assert.is_nil(s.value)
        elseif s.env == "CONVAI_VONAGE_REGION" then
          assert.equal("us", s.value)
        end
      end
    end)
  end)
end)
