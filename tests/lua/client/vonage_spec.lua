-- convai.vonage against the sandbox: trigger_whatsapp, validation before sending, rate limit, regions.
local helper = require "helper"
local vonage = require "convai.vonage"
local voicebot = require "convai.voicebot"

local URL, KEY = helper.env("CONVAI_VONAGE_URL"), helper.env("CONVAI_VONAGE_KEY")

local function client(extra)
  local opts = { base_url = URL, api_key = KEY }
  for k, v in pairs(extra or {}) do opts[k] = v end
  return assert(vonage.new(opts))
end

local function fields(extra)
  local t = {
    agent_id = "agent-1", namespace = "ns_1", template = "appointment_reminder", locale = "en_GB",
    to = "+44 7700 900123", status_url = "https://example.com/status",
  }
  for k, v in pairs(extra or {}) do t[k] = v end
  return t
end

local function sent_body()
  local log = helper.log()
  assert.equal(1, #log)
  return helper.decode(log[1].body), log[1]
end

describe("convai.vonage", function()
  before_each(helper.reset)

  it("declares its outbound sends (SENDS): each a client method, with its channel, agent field and body check", function()
    local c = client()
    local channels = {}
    for name, send in pairs(vonage.SENDS) do
      assert.is_function(c[name], name)
      assert.equal("agent_id", send.agent, name)
      channels[send.channel] = name
    end
    assert.same({ whatsapp = "trigger_whatsapp", sms = "trigger_sms", voice = "make_call" }, channels)
    assert.equal(vonage.whatsapp_body, vonage.SENDS.trigger_whatsapp.body)
    assert.equal(vonage.sms_body, vonage.SENDS.trigger_sms.body)
    assert.equal(vonage.call_body, vonage.SENDS.make_call.body)
    assert.equal("/telephony/make-call", vonage.SENDS.make_call.path)
    -- the body check refuses what the method refuses, and sends nothing
    local _, err = vonage.SENDS.trigger_sms.body { agent_id = "a", to = "+44 7700 900123" }
    assert.equal("invalid_argument", err.kind)
    assert.matches("status_url", err.message)
    assert.equal(0, #helper.log())
  end)

  describe("new", function()
    it("uses the regional hosts", function()
      assert.equal("https://studio-api-eu.ai.vonage.com", assert(vonage.new { region = "eu", api_key = "k" }).http.base_url)
      assert.equal("https://studio-api-us.ai.vonage.com", assert(vonage.new { region = "us", api_key = "k" }).http.base_url)
      local _, err = vonage.new { region = "apac", api_key = "k" }
      assert.equal("invalid_argument", err.kind)
      _, err = vonage.new { api_key = "k" }
      assert.matches("region", err.message)
    end)

    it("prefers base_url over region and never prints the key", function()
      local c = client { region = "us" }
      assert.equal(URL, c.http.base_url)
      assert.is_nil(tostring(c):find(KEY, 1, true))
      assert.matches("api_key=<redacted>", tostring(c))
    end)
  end)

  describe("trigger_whatsapp", function()
    it("posts the documented body and returns status and decoded body", function()
      local r = assert(client():trigger_whatsapp(fields {
        components = { header = { "Dr. Smith" }, body = { "Alex", "10:30" } },
        session_parameters = { patient = "P-1", visit = 3 },
      }))
      assert.equal(200, r.status)
      assert.is_table(r.body)
      local body, req = sent_body()
      assert.equal("POST", req.method)
      assert.equal("/vonage/messaging/conversation", req.path)
      assert.equal(KEY, req.headers["x-vgai-key"])
      assert.matches("^application/json", req.headers["content-type"])
      assert.same({
        agent_id = "agent-1", namespace = "ns_1", template = "appointment_reminder", locale = "en_GB",
        to = "447700900123", channel = "whatsapp", status_url = "https://example.com/status",
        components = {
          { type = "header", parameters = { { type = "text", text = "Dr. Smith" } } },
          { type = "body", parameters = { { type = "text", text = "Alex" }, { type = "text", text = "10:30" } } },
        },
        session_parameters = { { name = "patient", value = "P-1" }, { name = "visit", value = "3" } },
      }, body)
    end)

    it("sends human phone input as digits only", function()
      for _, input in ipairs { "0044 7700 900123", "(44) 7700-900123", "+44.7700.900123" } do
        helper.reset()
        assert(client():trigger_whatsapp(fields { to = input }))
        assert.equal("447700900123", sent_body().to)
      end
    end)

    it("accepts the raw components array and encodes empty arrays as []", function()
      local raw = { { type = "body", parameters = { { type = "text", text = "x" } } },
        { type = "button", sub_type = "quick_reply", index = 0, parameters = { { type = "payload", payload = "p" } } } }
      assert(client():trigger_whatsapp(fields { components = raw }))
      local body = sent_body()
      assert.equal("button", body.components[2].type)
      assert.equal("0", body.components[2].index)
      helper.reset()
      assert(client():trigger_whatsapp(fields { components = {}, session_parameters = {} }))
      local req = helper.log()[1]
      assert.matches('"components":%[%]', req.body)
      assert.matches('"session_parameters":%[%]', req.body)
    end)

    it("checks every mandatory field before sending", function()
      local c = client()
      for _, name in ipairs { "agent_id", "namespace", "template", "locale", "to", "status_url" } do
        local f = fields()
        f[name] = nil
        local r, err = c:trigger_whatsapp(f)
        assert.is_nil(r)
        assert.equal("invalid_argument", err.kind)
        assert.matches(name, err.message)
      end
      assert.same({}, helper.log())
    end)

    it("refuses bad values with a message that says what is wrong", function()
      local c = client()
      local cases = {
        { { to = "12345" }, "8 to 15 digits" },
        { { to = "+44 7700 CALLME" }, "to" },
        { { to = "1234567890123456" }, "8 to 15 digits" },
        { { template = "Appointment Reminder" }, "template" },
        { { locale = "english" }, "locale" },
        { { status_url = "not a url" }, "status_url" },
        { { status_url = "ftp://x" }, "status_url" },
        { { agent_id = "a/../b" }, "agent_id" },
        { { components = { header = { string.rep("h", 61) } } }, "at most 60" },
        { { components = { body = { string.rep("b", 1025) } } }, "at most 1024" },
        { { components = { body = { "two\nlines" } } }, "line breaks" },
        { { components = { footer = { "x" } } }, "footer" },
        { { components = { { type = "footer" } } }, "components%[1%]%.type" },
        { { session_parameters = { { name = "", value = "x" } } }, "session_parameters" },
        { { channel_typo = "x" }, "unknown field" },
      }
      for _, case in ipairs(cases) do
        local r, err = c:trigger_whatsapp(fields(case[1]))
        assert.is_nil(r)
        assert.equal("invalid_argument", err.kind)
        assert.matches(case[2], err.message)
      end
      assert.same({}, helper.log())
    end)

    it("counts parameter length in characters, not bytes", function()
      assert(client():trigger_whatsapp(fields { components = { header = { string.rep("é", 60) } } }))
      local _, err = client():trigger_whatsapp(fields { components = { header = { string.rep("é", 61) } } })
      assert.equal("invalid_argument", err.kind)
    end)

    it("gets rate_limited beyond 1 session per second per agent, without Retry-After", function()
      local c = client { retry = false } -- a retried 429 could pass once the second is over
      assert(c:trigger_whatsapp(fields()))
      local r, err = c:trigger_whatsapp(fields { to = "447700900124" })
      assert.is_nil(r)
      assert.equal("rate_limited", err.kind)
      assert.equal(429, err.status)
      assert.is_nil(err.retry_after)
      -- another agent has its own limit
      assert(c:trigger_whatsapp(fields { agent_id = "agent-2" }))
    end)

    it("maps a wrong key to auth without showing it", function()
      local _, err = client { api_key = "bad-key-123" }:trigger_whatsapp(fields())
      assert.equal("auth", err.kind)
      assert.equal(401, err.status)
      assert.is_nil(tostring(err):find("bad-key-123", 1, true))
    end)

    it("opens one business-initiated conversation per new number", function()
      helper.config { vonage = { agents = { ["5"] = { rate = 5 } } } }
      local vb = assert(voicebot.new { base_url = helper.env("CONVAI_VOICEBOT_URL"),
        token = helper.env("CONVAI_VOICEBOT_TOKEN") })
      local before = assert(vb:whatsapp_usage(5)).current_usage
      local c = client()
      assert(c:trigger_whatsapp(fields { agent_id = "5", to = "447700900201" }))
      assert(c:trigger_whatsapp(fields { agent_id = "5", to = "447700900202" }))
      assert(c:trigger_whatsapp(fields { agent_id = "5", to = "+44 7700 900201" }))
      assert.equal(before + 2, assert(vb:whatsapp_usage(5)).current_usage)
    end)
  end)
end)
