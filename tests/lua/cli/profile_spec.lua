-- Profiles (`--profile NAME`, `CONVAI_PROFILE`, `$XDG_CONFIG_HOME/convai/config.json`) and
-- `convai config show`, as a user runs them: real process, real sandbox.
local helper = require "helper"
local cjson = require "cjson"

local cli = helper.cli
local VB_URL = helper.env("CONVAI_VOICEBOT_URL")
local VB_TOKEN = helper.env("CONVAI_VOICEBOT_TOKEN")
local AV_URL = helper.env("CONVAI_AVAAMO_URL")
local AV_TOKEN = helper.env("CONVAI_AVAAMO_TOKEN")

-- Every variable a profile could stand for unset, the profiles file in `dir`.
local function env_for(dir, more)
  local env = { XDG_CONFIG_HOME = dir, CONVAI_PROFILE = false }
  for _, v in ipairs { "CONVAI_VOICEBOT_URL", "CONVAI_VOICEBOT_TOKEN", "CONVAI_AVAAMO_URL", "CONVAI_AVAAMO_TOKEN",
    "CONVAI_VONAGE_URL", "CONVAI_VONAGE_REGION", "CONVAI_VONAGE_KEY", "CONVAI_CAFILE", "CONVAI_LIMITS",
    "CONVAI_VONAGE_RATES" } do
    env[v] = false
  end
  for k, v in pairs(more or {}) do env[k] = v end
  return env
end

local function write_config(dir, doc, mode)
  os.execute("mkdir -p " .. dir .. "/convai")
  local path = dir .. "/convai/config.json"
  local f = assert(io.open(path, "wb"))
  f:write(type(doc) == "string" and doc or cjson.encode(doc))
  f:close()
  assert(os.execute("chmod " .. (mode or "600") .. " " .. path))
  return path
end

describe("convai profiles", function()
  local dir
  before_each(function()
    helper.reset()
    dir = os.tmpname()
    os.remove(dir)
    os.execute("mkdir -p " .. dir)
  end)
  after_each(function() os.execute("rm -rf " .. dir) end)

  it("--profile NAME supplies the URL and the credential", function()
    write_config(dir, { profiles = { acme = { voicebot_url = VB_URL, voicebot_token = VB_TOKEN },
      other = { voicebot_url = "http://127.0.0.1:9/none" } } })
    local code, out, err = cli({ "--profile", "acme", "usage", "voicebot" }, env_for(dir))
    assert.equal(0, code, err)
    assert.matches("\n%(first%)%s+0%s+250%s+250%s+false\n", out)
    assert.equal(1, #helper.log())
  end)

  it("CONVAI_PROFILE chooses the profile; a credential may come from a variable the profile names", function()
    write_config(dir, { profiles = { acme = { avaamo_url = AV_URL, avaamo_token_env = "ACME_AVAAMO" } } }, "644")
    local code, out, err = cli({ "usage", "avaamo", "--agent-id", "7", "--from", "2024-03-01", "--to",
      "2024-03-01" }, env_for(dir, { CONVAI_PROFILE = "acme", ACME_AVAAMO = AV_TOKEN }))
    assert.equal(0, code, err)
    assert.matches("\n7%s+aggregate ", out)
  end)

  it("a variable that is set wins over the profile, and config show says where each value came from", function()
    local path = write_config(dir, { profiles = { acme = { voicebot_url = VB_URL, voicebot_token = "wrong-token",
      vonage_region = "eu", vonage_rates = { ["agent-a"] = 5, ["agent-b"] = 2.5 }, limits = "process" } } })
    local env = env_for(dir, { CONVAI_VOICEBOT_TOKEN = VB_TOKEN, CONVAI_LIMITS = "host" })
    local code, _, err = cli({ "--profile", "acme", "usage", "voicebot" }, env)
    assert.equal(0, code, err)
    local out
    code, out, err = cli({ "--profile", "acme", "config", "show" }, env)
    assert.equal(0, code, err)
    assert.matches("CONVAI_VOICEBOT_URL%s+" .. VB_URL:gsub("%p", "%%%0") .. "%s+profile acme %(" .. path:gsub("%p", "%%%0")
      .. "%)\n", out)
    assert.matches("CONVAI_VOICEBOT_TOKEN%s+<redacted>%s+environment\n", out)
    assert.matches("CONVAI_LIMITS%s+host%s+environment\n", out)
    assert.matches("CONVAI_VONAGE_REGION%s+eu%s+profile acme", out)
    assert.matches("CONVAI_VONAGE_RATES%s+agent%-a=5,agent%-b=2%.5%s+profile acme", out)
    assert.matches("CONVAI_VONAGE_KEY%s+%-%s+unset\n", out)
    assert.is_nil(out:find(VB_TOKEN, 1, true), "a credential was printed")
    assert.is_nil(out:find("wrong-token", 1, true), "a credential was printed")
  end)

  it("config show redacts credentials from every source, also as JSON", function()
    write_config(dir, { profiles = { acme = { avaamo_token = "profile-SECRET", vonage_key_env = "ACME_KEY" } } })
    local code, out, err = cli({ "config", "show", "--format", "json" },
      env_for(dir, { CONVAI_PROFILE = "acme", ACME_KEY = "env-SECRET", CONVAI_VOICEBOT_TOKEN = "vb-SECRET" }))
    assert.equal(0, code, err)
    assert.is_nil(out:find("SECRET", 1, true), "a credential was printed")
    local by = {}
    for _, s in ipairs(cjson.decode(out).settings) do by[s.variable] = s end
    assert.equal("<redacted>", by.CONVAI_AVAAMO_TOKEN.value)
    assert.equal("profile acme: vonage_key_env -> ACME_KEY", by.CONVAI_VONAGE_KEY.source)
    assert.equal("environment", by.CONVAI_VOICEBOT_TOKEN.source)
    assert.equal("unset", by.CONVAI_CAFILE.source)
  end)

  it("config show --format json: keys sorted by name, settings in the table's order, the same bytes each run",
    function()
    write_config(dir, { profiles = { acme = { vonage_region = "us", vonage_key_env = "ACME_KEY" } } })
    local env = env_for(dir, { CONVAI_PROFILE = "acme", ACME_KEY = "k-SECRET" })
    local code, out, err = cli({ "config", "show", "--format", "json" }, env)
    assert.equal(0, code, err)
    local head = '{"settings":[{"profile_field":"voicebot_url","source":"unset","value":"-","variable":'
      .. '"CONVAI_VOICEBOT_URL"},{"profile_field":"voicebot_token","source":"unset","value":"-","variable":'
      .. '"CONVAI_VOICEBOT_TOKEN"},'
    assert.equal(head, out:sub(1, #head))
    assert.matches("}]}\n$", out)
    assert.truthy(out:find('{"profile_field":"vonage_region","source":"profile acme (' .. dir:gsub("/", "\\/")
      .. '\\/convai\\/config.json)","value":"us","variable":"CONVAI_VONAGE_REGION"},{"profile_field":"vonage_key",'
      .. '"source":"profile acme: vonage_key_env -> ACME_KEY","value":"<redacted>","variable":"CONVAI_VONAGE_KEY"}',
      1, true), out)
    local vars = {}
    for v in out:gmatch('"variable":"([%w_]+)"') do vars[#vars + 1] = v end
    assert.same({ "CONVAI_VOICEBOT_URL", "CONVAI_VOICEBOT_TOKEN", "CONVAI_AVAAMO_URL", "CONVAI_AVAAMO_TOKEN",
      "CONVAI_VONAGE_URL", "CONVAI_VONAGE_REGION", "CONVAI_VONAGE_KEY", "CONVAI_CAFILE", "CONVAI_LIMITS",
      "CONVAI_VONAGE_RATES" }, vars)
    local _, again = cli({ "config", "show", "--format", "json" }, env)
    assert.equal(out, again)
  end)

  it("refuses a file that others may read when it holds a credential, saying chmod 600; nothing sent", function()
    local path = write_config(dir, { profiles = { acme = { voicebot_url = VB_URL, voicebot_token = VB_TOKEN } } },
      "644")
    local code, out, err = cli({ "--profile", "acme", "usage", "voicebot" }, env_for(dir))
    assert.equal(2, code)
    assert.equal("", out)
    assert.truthy(err:find(path .. " holds a credential (profile acme: voicebot_token) and group or others may "
      .. "read it (mode 0644): chmod 600 " .. path, 1, true), err)
    assert.same({}, helper.log())
  end)

  it("refuses every bad profile field with a clear message, exit 2, nothing sent", function()
    local P = { voicebot_url = VB_URL, voicebot_token = VB_TOKEN }
    local function with(k, v)
      local t = {}
      for a, b in pairs(P) do t[a] = b end
      t[k] = v
      return { profiles = { acme = t } }
    end
    for _, case in ipairs {
      { with("voicebot_url", "ftp://x/v1"), "profile acme: voicebot_url must be an http:// or https:// URL" },
      { with("avaamo_url", 5), "profile acme: avaamo_url must be a non-empty string, got number" },
      { with("voicebot_token", ""), 'profile acme: voicebot_token must be a non-empty string, got ""' },
      { with("vonage_region", "asia"), 'profile acme: vonage_region must be "eu" or "us" (the agent\'s region), '
        .. 'got "asia"' },
      { with("limits", "a b"), "profile acme: limits must be host (this machine's processes share the limit)" },
      { with("vonage_rates", { a = "x" }), 'profile acme: vonage_rates must map agents to positive numbers of '
        .. 'sessions per second (e.g. {"agent": 5}), got string for "a"' },
      { with("vonage_rates", "a=0"), "profile acme: vonage_rates must be AGENT=RATE pairs" },
      { with("vonage_key_env", "1BAD"), 'profile acme: vonage_key_env must name an environment variable '
        .. '(letters, digits, _), got "1BAD"' },
      { with("voicebot_token_env", "X"), "profile acme: give voicebot_token or voicebot_token_env, not both" },
      { with("tokn", "x"), 'profile acme: unknown field "tokn" in ' },
      { with("cafile", {}), "profile acme: cafile must be a non-empty string, got table" },
      { { profiles = { other = {} } }, 'no profile "acme" in ' },
      { { acme = P }, 'must hold {"profiles": {"NAME": {...}}}: no "profiles" object' },
      { "{not json", " is not a JSON object: " },
    } do
      local path = write_config(dir, case[1])
      local code, out, err = cli({ "--profile", "acme", "usage", "voicebot" }, env_for(dir))
      assert.equal(2, code, case[2])
      assert.equal("", out)
      assert.truthy(err:find("convai: invalid_argument: ", 1, true), err)
      assert.truthy(err:find(case[2], 1, true), "expected\n  " .. case[2] .. "\ngot\n  " .. err)
      os.remove(path)
    end
    local code, _, err = cli({ "--profile", "acme", "usage", "voicebot" }, env_for(dir))
    assert.equal(2, code)
    assert.truthy(err:find("profile acme: cannot open '" .. dir .. "/convai/config.json': No such file or "
      .. "directory", 1, true), err)
    assert.same({}, helper.log())
  end)

  it("an auth error names the profile entry that holds the refused credential (or the variable it names)",
    function()
    write_config(dir, { profiles = { acme = { voicebot_url = VB_URL, voicebot_token = "wrong-SECRET-1" },
      viaenv = { avaamo_url = AV_URL, avaamo_token_env = "ACME_AVAAMO" } } })
    local code, out, err = cli({ "--profile", "acme", "usage", "voicebot" }, env_for(dir))
    assert.equal(1, code)
    assert.equal("", out)
    assert.equal("convai: auth: voicebot.studio: Unauthenticated. (check profile acme: voicebot_token) (HTTP 401)\n",
      err)
    code, out, err = cli({ "--profile", "viaenv", "usage", "avaamo", "--agent-id", "7", "--from", "2024-03-01",
      "--to", "2024-03-01" }, env_for(dir, { ACME_AVAAMO = "wrong-SECRET-2" }))
    assert.equal(1, code, out)
    assert.matches("^convai: auth: .*%(check ACME_AVAAMO%) %(HTTP 401%)\n$", err)
    assert.is_nil(err:find("SECRET", 1, true), err)
    -- the variable still wins, and is the one named
    code, out, err = cli({ "--profile", "acme", "usage", "voicebot" }, env_for(dir,
      { CONVAI_VOICEBOT_TOKEN = "wrong-SECRET-3" }))
    assert.equal(1, code, out)
    assert.matches("%(check CONVAI_VOICEBOT_TOKEN%) %(HTTP 401%)\n$", err)
  end)

  it("a profile's token written as 'Bearer xxx' is refused naming the profile entry; nothing sent", function()
    write_config(dir, { profiles = { acme = { voicebot_url = VB_URL, voicebot_token = "Bearer SECRET-x" } } })
    local code, out, err = cli({ "--profile", "acme", "usage", "voicebot" }, env_for(dir))
    assert.equal(2, code)
    assert.equal("", out)
    assert.equal("convai: invalid_argument: profile acme: voicebot_token starts with 'Bearer ': drop the prefix "
      .. "and give the token alone (convai sends the 'Bearer ' header itself)\nTry 'convai usage voicebot "
      .. "--help'.\n", err)
    assert.same({}, helper.log())
  end)

  it("has --help for config and config show, and --profile in convai --help", function()
    for _, args in ipairs { { "config", "--help" }, { "config", "show", "--help" } } do
      local code, out = cli(args)
      assert.equal(0, code, table.concat(args, " "))
      assert.matches("Usage: convai", out)
    end
    local _, out = cli { "--help" }
    assert.matches("%-%-profile", out)
  end)

  it("without a profile, nothing is read: the environment alone, as before", function()
    write_config(dir, "{not json")
    local code, _, err = cli({ "usage", "voicebot" }, { XDG_CONFIG_HOME = dir, CONVAI_PROFILE = false })
    assert.equal(0, code, err)
  end)
end)
