-- The checks of the voicebot, vonage and callbacks sections of POST /_sandbox/config (each module's
-- `validate_config`, one rule table each over convai.sandbox.common.check_config): what is accepted,
-- and the message of every refusal. Plain Lua: the modules' checks need no nginx.
local common = require "convai.sandbox.common"
local voicebot = require "convai.sandbox.voicebot"
local vonage = require "convai.sandbox.vonage"
local callbacks = require "convai.sandbox.callbacks"

local null = common.null

local function refuses(check, cfg, message)
  local ok, err = check(cfg)
  assert.is_nil(ok, message)
  assert.are.equal(message, err)
end

describe("sandbox config sections", function()
  it("voicebot: accepts limits, usage presets and agents set back to null", function()
    assert.is_true(voicebot.validate_config({}))
    assert.is_true(voicebot.validate_config({ default_limit = 0, agents = {
      ["7"] = { limit = 30, usage = 10 }, ["8"] = null, ["1000"] = {} } }))
  end)

  it("voicebot: names the wrong setting in each refusal", function()
    local check = voicebot.validate_config
    refuses(check, "x", "voicebot must be an object")
    refuses(check, { 1 }, "voicebot must be an object")
    refuses(check, { default_limit = -1 }, "voicebot.default_limit must be a non-negative integer")
    refuses(check, { default_limit = 1.5 }, "voicebot.default_limit must be a non-negative integer")
    refuses(check, { agents = "x" }, "voicebot.agents must be an object keyed by agent id")
    refuses(check, { agents = { ["0"] = {} } }, "voicebot.agents: agent id must be an integer 1..1000, got 0")
    refuses(check, { agents = { abc = null } }, "voicebot.agents: agent id must be an integer 1..1000, got abc")
    refuses(check, { agents = { ["1001"] = {} } },
      "voicebot.agents: agent id must be an integer 1..1000, got 1001")
    refuses(check, { agents = { ["7"] = 5 } }, "voicebot.agents.7 must be an object")
    refuses(check, { agents = { ["7"] = { size = 1 } } }, "voicebot.agents.7: unknown setting size")
    refuses(check, { agents = { ["7"] = { limit = -1 } } }, "voicebot.agents.7.limit must be a non-negative integer")
    refuses(check, { agents = { ["7"] = { usage = "3" } } }, "voicebot.agents.7.usage must be a non-negative integer")
    refuses(check, { other = 1 }, "voicebot: unknown setting other")
  end)

  it("vonage: accepts rates, linked voicebot agents and agents set back to null", function()
    assert.is_true(vonage.validate_config({}))
    assert.is_true(vonage.validate_config({ default_rate = 0.5, agents = {
      A = { rate = 5, voicebot_agent = 7 }, B = null, C = {} } }))
  end)

  it("vonage: names the wrong setting in each refusal", function()
    local check = vonage.validate_config
    refuses(check, "x", "vonage must be an object")
    refuses(check, { default_rate = 0 }, "vonage.default_rate must be a positive number")
    refuses(check, { default_rate = "1" }, "vonage.default_rate must be a positive number")
    refuses(check, { agents = "x" }, "vonage.agents must be an object keyed by agent id")
    refuses(check, { agents = { A = 1 } }, "vonage.agents.A must be an object")
    refuses(check, { agents = { A = { rate = -1 } } }, "vonage.agents.A.rate must be a positive number")
    refuses(check, { agents = { A = { voicebot_agent = 1001 } } },
      "vonage.agents.A.voicebot_agent must be an integer 1..1000")
    refuses(check, { agents = { A = { voicebot_agent = 1.5 } } },
      "vonage.agents.A.voicebot_agent must be an integer 1..1000")
    refuses(check, { agents = { A = { x = 1 } } }, "vonage.agents.A: unknown setting x")
    refuses(check, { x = 1 }, "vonage: unknown setting x")
  end)

  it("callbacks: accepts its four settings", function()
    assert.is_true(callbacks.validate_config({}))
    assert.is_true(callbacks.validate_config({ enabled = false, delay_ms = 0, rejected = { "13" },
      undeliverable = {} }))
  end)

  it("callbacks: names the wrong setting in each refusal", function()
    local check = callbacks.validate_config
    refuses(check, "x", "callbacks must be an object")
    refuses(check, { enabled = 1 }, "callbacks.enabled must be true or false")
    refuses(check, { delay_ms = 60001 }, "callbacks.delay_ms must be a number 0..60000")
    refuses(check, { delay_ms = 0 / 0 }, "callbacks.delay_ms must be a number 0..60000")
    refuses(check, { rejected = "12" }, "callbacks.rejected must be an array of number suffixes (digits)")
    refuses(check, { undeliverable = { "1a" } },
      "callbacks.undeliverable must be an array of number suffixes (1 to 15 digits)")
    refuses(check, { rejected = { ("1"):rep(16) } },
      "callbacks.rejected must be an array of number suffixes (1 to 15 digits)")
    refuses(check, { x = true }, "callbacks: unknown setting x")
  end)
end)
