-- The senders against the sandbox: Vonage AI Studio SMS (`trigger_sms`) and voice (`make_call`),
-- voicebot.studio `send_template`; every field checked before anything is sent, the per-agent
-- sessions-per-second limit shared by the Vonage channels, business-initiated conversations counted and
-- refused at the limit, the sandbox's answers to bad bodies, and the configured response latency; then
-- the campaign senders made over them (`convai.campaign.senders`): each recipient checked and built once
-- by `prepare`, that body sent as it is, the campaign's fixed fields checked without a recipient.
local helper = require "helper"
local core = require "convai.core"
local campaign = require "convai.campaign"
local cjson = require "cjson.safe"
local vonage = require "convai.vonage"
local voicebot = require "convai.voicebot"

local VG_URL, VG_KEY = helper.env("CONVAI_VONAGE_URL"), helper.env("CONVAI_VONAGE_KEY")
local VB_URL, VB_TOKEN = helper.env("CONVAI_VOICEBOT_URL"), helper.env("CONVAI_VOICEBOT_TOKEN")
local UUID = "^%x+%-%x+%-4%x+%-%x+%-%x+$"

local function merge(t, extra)
  for k, v in pairs(extra or {}) do t[k] = v end
  return t
end

local function without(t, key)
  t[key] = nil
  return t
end

-- Clients made by a test, closed after it (no connection is left for the garbage collector to close
-- in the middle of another spec's descriptor count).
local open_clients = {}
local function track(c)
  open_clients[#open_clients + 1] = c
  return c
end

-- A Vonage client that takes no send slots (`with_limit(false)`, as a campaign's): what these tests look
-- at is the vendor's limit (the client's pacing is tested in tests/lua/client/vonage_spec.lua).
local function vg(extra)
  local c = assert(vonage.new(merge({ base_url = VG_URL, api_key = VG_KEY }, extra)))
  track(c)
  return assert(c:with_limit(false))
end

local function vb(extra)
  return track(assert(voicebot.new(merge({ base_url = VB_URL, token = VB_TOKEN }, extra))))
end

local function sms(extra)
  return merge({ agent_id = "agent-sms", to = "+44 7700 900123", status_url = "https://example.com/status" },
    extra)
end

local function call(extra)
  return merge({ agent_id = "agent-voice", to = "+44 7700 900123" }, extra)
end

local function template(extra)
  return merge({ phone_number = "+44 7700 900123", customer_name = "Alex Smith",
    template_name = "appointment_reminder" }, extra)
end

local function whatsapp(extra)
  return merge({ agent_id = "agent-wa", namespace = "ns_1", template = "appointment_reminder",
    locale = "en_GB", to = "+44 7700 900123", status_url = "https://example.com/status" }, extra)
end

-- The one request the sandbox received: decoded body, log entry.
local function only_request()
  local log = helper.log()
  assert.equal(1, #log)
  return helper.decode(log[1].body), log[1]
end

-- A raw request to the sandbox (for what the clients never send): status, decoded body, headers.
local raw_session = assert(core.session { timeout = 10 })
local function raw(method, path, body, headers)
  local resp = assert(raw_session:request {
    method = method, url = helper.url .. path, headers = headers,
    body = type(body) == "table" and assert(cjson.encode(body)) or body,
  })
  return resp.status, cjson.decode(resp.body), resp.headers
end
local VG_AUTH = { ["X-Vgai-Key"] = VG_KEY, ["Content-Type"] = "application/json" }
local VB_AUTH = { Authorization = "Bearer " .. VB_TOKEN, ["Content-Type"] = "application/json" }

-- Each case: the fields, and text its error message must contain (plain text, not a Lua pattern).
local function refused_before_sending(fn, cases)
  for _, case in ipairs(cases) do
    local r, err = fn(case[1])
    assert.is_nil(r, case[2])
    assert.equal("invalid_argument", err.kind)
    assert.is_truthy(string.find(err.message, case[2], 1, true),
      ("expected %q in the message %q"):format(case[2], err.message))
  end
  assert.same({}, helper.log())
end

describe("senders", function()
  before_each(helper.reset)
  after_each(function()
    for _, c in ipairs(open_clients) do c:close() end
    open_clients = {}
  end)
  teardown(function() raw_session:close() end)

  describe("vonage trigger_sms", function()
    it("posts {to, agent_id, channel = sms, status_url, session_parameters} and returns the ids", function()
      local r = assert(vg():trigger_sms(sms { session_parameters = { visit = 3 } }))
      assert.equal(200, r.status)
      assert.matches(UUID, r.body.session_id)
      assert.matches(UUID, r.body.message_uuid)
      local body, req = only_request()
      assert.equal("POST", req.method)
      assert.equal("/vonage/messaging/conversation", req.path)
      assert.equal(VG_KEY, req.headers["x-vgai-key"])
      assert.same({ to = "447700900123", agent_id = "agent-sms", channel = "sms",
        status_url = "https://example.com/status", session_parameters = { { name = "visit", value = "3" } } },
        body)
    end)

    it("sms_body builds the body without sending", function()
      assert.same({ to = "12025550100", agent_id = "a", channel = "sms", status_url = "http://h/s" },
        assert(vonage.sms_body { agent_id = "a", to = "+1 202 555 0100", status_url = "http://h/s",
          channel = "sms" }))
      assert.same({}, helper.log())
    end)

    it("checks every field before sending", function()
      local c = vg()
      refused_before_sending(function(t) return c:trigger_sms(t) end, {
        { sms { agent_id = false }, "agent_id is required (the AI Studio agent ID)" },
        { without(sms(), "agent_id"), "agent_id is required (the AI Studio agent ID)" },
        { without(sms(), "to"), "to is required (the recipient's phone number)" },
        { without(sms(), "status_url"), "status_url is required (the URL that receives message statuses)" },
        { sms { to = "12345" }, "to: phone number must have 8 to 15 digits including the country code, got 5" },
        { sms { to = "07700 900123" }, "to: phone number must start with the country code, not 0" },
        { sms { status_url = "ftp://x" }, "status_url must be an http:// or https:// URL" },
        { sms { agent_id = "a b" }, "agent_id must not contain spaces" },
        { sms { template = "appointment_reminder" }, "unknown field template (the fields are agent_id, to, " },
        { sms { channel = "whatsapp" }, "channel is sms here, got whatsapp" },
        { sms { session_parameters = { { name = "" } } }, "session_parameters[1] needs a non-empty string name" },
      })
      local _, err = c:trigger_sms("447700900123")
      assert.equal("invalid_argument", err.kind)
    end)
  end)

  describe("vonage make_call", function()
    it("posts {agent_id, to} to /telephony/make-call", function()
      local r = assert(vg():make_call(call()))
      assert.equal(200, r.status)
      assert.matches(UUID, r.body.message_uuid)
      local body, req = only_request()
      assert.equal("/vonage/telephony/make-call", req.path)
      assert.same({ agent_id = "agent-voice", to = "447700900123" }, body)
    end)

    it("sends status_url and session_parameters when given", function()
      assert(vg():make_call(call { status_url = "http://127.0.0.1:9/status",
        session_parameters = { { name = "lang", value = "en" } } }))
      assert.same({ agent_id = "agent-voice", to = "447700900123", status_url = "http://127.0.0.1:9/status",
        session_parameters = { { name = "lang", value = "en" } } }, (only_request()))
    end)

    it("checks every field before sending", function()
      local c = vg()
      refused_before_sending(function(t) return c:make_call(t) end, {
        { without(call(), "agent_id"), "agent_id is required (the AI Studio agent ID)" },
        { without(call(), "to"), "to is required (the recipient's phone number)" },
        { call { to = "+44 (0) 7700 CALL" }, "to: phone number contains the letter 'C'" },
        { call { to = "1234567890123456" }, "to: phone number must have 8 to 15 digits including the country code, "
          .. "got 16" },
        { call { status_url = "" }, "status_url is required (the URL that receives message statuses)" },
        { call { status_url = "example.com/s" }, "status_url must be an http:// or https:// URL" },
        { call { channel = "voice" }, "unknown field channel (the fields are agent_id, to, " },
        { call { locale = "en" }, "unknown field locale (the fields are agent_id, to, " },
      })
    end)

    it("is refused by the sandbox without agent_id or to, with a bad to, or without the key", function()
      local path = "/vonage/telephony/make-call"
      local status, body = raw("POST", path, { to = "447700900123" }, VG_AUTH)
      assert.equal(400, status)
      assert.same({ "agent_id" }, body.missing)
      assert.is_truthy(body.message:find("Missing mandatory field(s): agent_id", 1, true), body.message)
      status, body = raw("POST", path, { agent_id = "a" }, VG_AUTH)
      assert.equal(400, status)
      assert.same({ "to" }, body.missing)
      status, body = raw("POST", path, { agent_id = "a", to = "+447700900123" }, VG_AUTH)
      assert.equal(400, status)
      assert.matches("^to must be", body.message)
      status = raw("POST", path, { agent_id = "a", to = "447700900123", status_url = "nope" }, VG_AUTH)
      assert.equal(400, status)
      status = raw("POST", path, { agent_id = "a", to = "447700900123" }, { ["Content-Type"] = "application/json" })
      assert.equal(401, status)
      local _, _, headers = raw("GET", path, nil, VG_AUTH)
      assert.equal("POST", headers.allow)
      assert.equal(200, (raw("POST", path, { agent_id = "a", to = "447700900123" }, VG_AUTH)))
      assert.equal(7, #helper.log()) -- every request is logged, like WhatsApp triggers
    end)
  end)

  describe("the per-agent rate", function()
    it("is shared by WhatsApp, SMS and voice", function()
      local c = vg { retry = false }
      assert(c:trigger_whatsapp(whatsapp { agent_id = "shared" }))
      local r, err = c:trigger_sms(sms { agent_id = "shared" })
      assert.is_nil(r)
      assert.equal("rate_limited", err.kind)
      assert.equal(429, err.status)
      r, err = c:make_call(call { agent_id = "shared" })
      assert.is_nil(r)
      assert.equal("rate_limited", err.kind)
      -- another agent has its own budget
      assert(c:make_call(call { agent_id = "other" }))
    end)

    it("allows the configured rate across the channels, then 429", function()
      helper.config { vonage = { agents = { fast = { rate = 3 } } } }
      local c = vg { retry = false }
      assert(c:make_call(call { agent_id = "fast" }))
      assert(c:trigger_sms(sms { agent_id = "fast" }))
      assert(c:trigger_whatsapp(whatsapp { agent_id = "fast" }))
      local _, err = c:make_call(call { agent_id = "fast", to = "447700900124" })
      assert.equal("rate_limited", err.kind)
    end)
  end)

  describe("voicebot send_template", function()
    it("posts the documented body and returns status, body and the Message", function()
      local r = assert(vb():send_template(template()))
      assert.equal(200, r.status)
      assert.is_table(r.body.data)
      assert.equal(r.body.data, r.message)
      assert.matches(UUID, r.message.id)
      assert.equal("447700900123", r.message.phone_number)
      assert.equal("Alex Smith", r.message.customer_name)
      assert.equal("appointment_reminder", r.message.template_name)
      assert.equal(1, r.message.agent_id) -- null: the first WhatsApp agent
      assert.is_true(r.message.conversation_opened)
      local body, req = only_request()
      assert.equal(cjson.null, body.agent_id)
      body.agent_id = nil
      assert.equal("/voicebot/third-party/v1/whatsapp/send-template", req.path)
      assert.equal("Bearer " .. VB_TOKEN, req.headers.authorization)
      assert.matches("^application/json", req.headers["content-type"])
      assert.same({ phone_number = "447700900123", customer_name = "Alex Smith",
        template_name = "appointment_reminder", template_components = {} }, body)
      assert.matches('"template_components":%[%]', req.body)
      assert.matches('"agent_id":null', req.body)
    end)

    it("sends agent_id as an integer and the components array (shorthand or raw)", function()
      local c = vb()
      assert(c:send_template(template { agent_id = "7",
        template_components = { header = { "Dr. Smith" }, body = { "Alex", 10 } } }))
      local body = only_request()
      assert.equal(7, body.agent_id)
      assert.same({
        { type = "header", parameters = { { type = "text", text = "Dr. Smith" } } },
        { type = "body", parameters = { { type = "text", text = "Alex" }, { type = "text", text = "10" } } },
      }, body.template_components)
      helper.reset()
      local raw_components = { { type = "button", sub_type = "url", index = 1,
        parameters = { { type = "text", text = "abc" } } } }
      assert(c:send_template(template { template_components = raw_components }))
      assert.same({ { type = "button", sub_type = "url", index = "1",
        parameters = { { type = "text", text = "abc" } } } }, only_request().template_components)
    end)

    it("opens one business-initiated conversation per new number, seen by whatsapp_usage", function()
      local c = vb()
      assert.equal(0, assert(c:whatsapp_usage(7)).current_usage)
      assert.is_true(assert(c:send_template(template { agent_id = 7, phone_number = "447700900201" }))
        .message.conversation_opened)
      assert(c:send_template(template { agent_id = 7, phone_number = "447700900202" }))
      local again = assert(c:send_template(template { agent_id = 7, phone_number = "+44 7700 900201" }))
      assert.is_false(again.message.conversation_opened)
      assert.equal(2, assert(c:whatsapp_usage(7)).current_usage)
      assert.equal(0, assert(c:whatsapp_usage()).current_usage) -- agent 1 untouched
    end)

    it("is refused with 422 limit_exhausted once the limit is reached", function()
      helper.config { voicebot = { agents = { ["3"] = { limit = 2, usage = 1 } } } }
      local c = vb()
      assert(c:send_template(template { agent_id = 3, phone_number = "447700900301" }))
      local r, err = c:send_template(template { agent_id = 3, phone_number = "447700900302" })
      assert.is_nil(r)
      assert.equal("unprocessable", err.kind)
      assert.equal(422, err.status)
      assert.equal("limit_exhausted", err.body.error)
      assert.is_truthy(err.message:find("Business-initiated conversation limit reached", 1, true), err.message)
      local u = assert(c:whatsapp_usage(3))
      assert.same({ current_usage = 2, current_limit = 2, limit_exhausted = true, remaining = 0 }, u)
      -- a number whose conversation is still open in the window may be messaged again
      assert(c:send_template(template { agent_id = 3, phone_number = "447700900301" }))
    end)

    it("checks every field before sending", function()
      local c = vb()
      refused_before_sending(function(t) return c:send_template(t) end, {
        { without(template(), "phone_number"), "phone_number is required (the recipient's phone number)" },
        { template { phone_number = "12345" }, "phone_number: phone number must have 8 to 15 digits" },
        { template { phone_number = "07700 900123" }, "phone_number: phone number must start with the country "
          .. "code, not 0" },
        { without(template(), "customer_name"), "customer_name is required (the recipient's name" },
        { template { customer_name = "  " }, "customer_name is required (the recipient's name" },
        { template { customer_name = "Alex\nSmith" }, "customer_name must not contain line breaks" },
        { without(template(), "template_name"), "template_name is required (the approved WhatsApp template" },
        { template { template_name = "Appointment Reminder" },
          'template_name "Appointment Reminder" is not a WhatsApp template name' },
        { template { template_name = ("a"):rep(513) },
          "template_name is 513 characters long; WhatsApp template names have at most 512" },
        { template { template_components = { header = { ("h"):rep(61) } } },
          "template_components.header[1] is 61 characters long; WhatsApp allows at most 60" },
        { template { template_components = { body = { ("b"):rep(1025) } } },
          "template_components.body[1] is 1025 characters long; WhatsApp allows at most 1024" },
        { template { template_components = { body = { "two\nlines" } } },
          "template_components.body[1] must not contain line breaks" },
        { template { template_components = { { type = "footer" } } },
          'template_components[1].type must be "header", "body" or "button", got footer' },
        { template { template_components = "hello" }, "template_components must be the WhatsApp components" },
        { template { agent_id = 0 }, "agent_id must be a positive integer (or nil for the first WhatsApp agent), "
          .. "got 0" },
        { template { agent_id = "x" }, "agent_id must be a positive integer (or nil for the first WhatsApp "
          .. "agent), got x" },
        { template { to = "447700900123" }, "unknown field to (the fields are phone_number, " },
      })
    end)

    it("send_template_body builds the body without sending", function()
      local body = assert(voicebot.send_template_body(template { agent_id = 9 }))
      assert.equal("447700900123", body.phone_number)
      assert.equal(9, body.agent_id)
      assert.equal('[]', core.json_encode(body.template_components))
      assert.same({}, helper.log())
    end)

    it("maps a wrong token to auth and an unknown agent to not_found", function()
      local _, err = vb { token = "wrong-token-XYZ" }:send_template(template())
      assert.equal("auth", err.kind)
      assert.is_nil(tostring(err):find("wrong-token-XYZ", 1, true))
      _, err = vb():send_template(template { agent_id = 1001 })
      assert.equal("not_found", err.kind)
      assert.equal(0, assert(vb():whatsapp_usage()).current_usage)
    end)

    it("is refused by the sandbox with Laravel-style 422 errors for a bad body", function()
      local path = "/voicebot/third-party/v1/whatsapp/send-template"
      local status, body = raw("POST", path, {}, VB_AUTH)
      assert.equal(422, status)
      assert.equal("The phone number field is required. (and 3 more errors)", body.message)
      assert.same({ "phone_number", "customer_name", "template_name", "template_components" },
        (function()
          local keys = {}
          for _, k in ipairs { "phone_number", "customer_name", "template_name", "template_components",
            "agent_id" } do
            if body.errors[k] then keys[#keys + 1] = k end
          end
          return keys
        end)())
      local good = { phone_number = "447700900123", customer_name = "A", template_name = "t",
        template_components = {}, agent_id = cjson.null }
      local function with(k, v)
        local t = {}
        for kk, vv in pairs(good) do t[kk] = vv end
        t[k] = v
        return t
      end
      status, body = raw("POST", path, with("phone_number", "44 7700 900123"), VB_AUTH)
      assert.equal(422, status)
      assert.is_table(body.errors.phone_number)
      status, body = raw("POST", path, with("template_components",
        { { type = "header", parameters = { { type = "text", text = ("h"):rep(61) } } } }), VB_AUTH)
      assert.equal(422, status)
      assert.matches("limited to 60 characters", body.errors.template_components[1])
      status, body = raw("POST", path, with("agent_id", "7"), VB_AUTH)
      assert.equal(422, status)
      assert.is_table(body.errors.agent_id)
      assert.equal(422, (raw("POST", path, "{not json", VB_AUTH)))
      assert.equal(401, (raw("POST", path, good, { ["Content-Type"] = "application/json" })))
      local _, _, headers = raw("GET", path, nil, VB_AUTH)
      assert.equal("POST", headers.allow)
      assert.equal(200, (raw("POST", path, with("phone_number", "+447700900123"), VB_AUTH)))
    end)
  end)

  describe("latency_ms", function()
    it("delays the answers of the new endpoints", function()
      helper.config { latency_ms = 300 }
      local vgc, vbc = vg(), vb()
      for name, send in pairs {
        sms = function() return vgc:trigger_sms(sms { agent_id = "lat-1" }) end,
        voice = function() return vgc:make_call(call { agent_id = "lat-2" }) end,
        template = function() return vbc:send_template(template()) end,
      } do
        local t0 = core.monotonic()
        assert(send())
        local elapsed = core.monotonic() - t0
        assert.is_true(elapsed >= 0.29, name .. " took " .. elapsed)
      end
    end)
  end)

  describe("campaign senders", function()
    local ROW = { line = 2, to = "+44 7700 900123", name = "Alex", header = {}, body = { "Hi" }, session = {} }
    local PARAMS = { header = 0, body = 1 }

    it("check the fields a campaign fixes once, without a recipient, sending nothing", function()
      local c, b = vg(), vb()
      local cases = {
        { function() return campaign.senders.vonage_whatsapp(c, whatsapp { to = false, template = "BadT" }) end,
          'template "BadT" is not a WhatsApp template name' },
        { function() return campaign.senders.vonage_whatsapp(c, { agent_id = "A", namespace = "n", template = "t",
          locale = "en" }) end, "status_url is required (the URL that receives message statuses)" },
        { function() return campaign.senders.vonage_sms(c, { agent_id = "A" }) end,
          "status_url is required (the URL that receives message statuses)" },
        { function() return campaign.senders.vonage_voice(c, { agent_id = "a b" }) end,
          "agent_id must not contain spaces" },
        { function() return campaign.senders.vonage(c, "fax", { agent_id = "A" }) end,
          "channel must be whatsapp, sms or voice, got fax" },
        { function() return campaign.senders.voicebot_template(b, { agent_id = 0, template = "t" }) end,
          "agent_id must be a positive integer (or nil for the first WhatsApp agent), got 0" },
        { function() return campaign.senders.voicebot_template(b, {}) end,
          "template_name is required (the approved WhatsApp template name)" },
        { function() return campaign.senders.voicebot_template({}, { template = "t" }) end,
          "the sender needs a convai.voicebot client" },
      }
      for _, case in ipairs(cases) do
        local sender, err = case[1]()
        assert.is_nil(sender, case[2])
        assert.equal("invalid_argument", err.kind)
        assert.is_truthy(string.find(err.message, case[2], 1, true), err.message)
      end
      assert(campaign.senders.vonage_voice(c, { agent_id = "A" }), "voice needs no status_url")
      assert.same({}, helper.log())
    end)

    it("prepare builds the finished body once; send posts it as it is", function()
      local c = vg()
      local prepares = 0
      local counted = setmetatable({ prepare = function(_, ...)
        prepares = prepares + 1
        return c.prepare(c, ...)
      end }, { __index = c })
      local sender = assert(campaign.senders.vonage_whatsapp(counted, whatsapp()))
      assert.equal(1, prepares) -- the fixed fields, without a recipient
      local body, to = sender.prepare(ROW, PARAMS)
      assert.equal(2, prepares)
      assert.equal("447700900123", to)
      assert.same({ to = "447700900123", agent_id = "agent-wa", channel = "whatsapp", namespace = "ns_1",
        template = "appointment_reminder", locale = "en_GB", status_url = "https://example.com/status",
        components = { { type = "body", parameters = { { type = "text", text = "Hi" } } } } }, body)
      assert.equal(200, assert(sender.send(body)).status)
      assert.equal(2, prepares, "send builds nothing again")
      assert.same(body, (only_request()))
      assert.same({ provider = "vonage", channel = "whatsapp", agent_id = "agent-wa", namespace = "ns_1",
        template = "appointment_reminder", locale = "en_GB" }, sender.fingerprint)
      assert.equal("agent-wa", sender.agent)
      assert.is_true(sender.uses_templates)
    end)

    it("prepare refuses a bad row, naming the field", function()
      local sender = assert(campaign.senders.vonage_sms(vg(), sms()))
      local body, err = sender.prepare({ line = 3, to = "12345", session = {} }, { header = 0, body = 0 })
      assert.is_nil(body)
      assert.is_truthy(err.message:find("to: phone number must have 8 to 15 digits", 1, true), err.message)
      local vsender = assert(campaign.senders.voicebot_template(vb(), { template = "appointment_reminder" }))
      body, err = vsender.prepare({ line = 4, to = "447700900123", header = {}, body = {}, session = {} },
        { header = 0, body = 0 })
      assert.is_nil(body)
      assert.is_truthy(err.message:find("customer_name is required", 1, true), err.message)
      assert.same({}, helper.log())
    end)

    it("the voicebot sender posts the send-template body of prepare", function()
      local sender = assert(campaign.senders.voicebot_template(vb(), { agent_id = 7, template = "welcome" }))
      local body, to = sender.prepare(ROW, PARAMS)
      assert.equal("447700900123", to)
      assert.equal("voicebot:7", sender.agent)
      assert.same({ provider = "voicebot", channel = "whatsapp", agent_id = "7", template = "welcome" },
        sender.fingerprint)
      assert.equal(200, assert(sender.send(body)).status)
      local sent = only_request()
      assert.same({ phone_number = "447700900123", customer_name = "Alex", template_name = "welcome",
        agent_id = 7, template_components = { { type = "body", parameters = { { type = "text", text = "Hi" } } } } },
        sent)
    end)

    it("send_prepared refuses a body prepare did not make, or one without a recipient", function()
      local c, b = vg(), vb()
      local partial = assert(c:prepare("sms", without(sms(), "to"), true))
      assert.is_nil(partial.to)
      for _, case in ipairs {
        { c, { to = "447700900123", agent_id = "a", channel = "sms", status_url = "https://e.com/s" } },
        { c, partial },
        { b, { phone_number = "447700900123", customer_name = "A", template_name = "t" } },
      } do
        local r, err = case[1]:send_prepared(case[2])
        assert.is_nil(r)
        assert.equal("invalid_argument", err.kind)
        assert.is_truthy(err.message:find("send_prepared takes a body made by prepare", 1, true))
      end
      assert.same({}, helper.log())
    end)
  end)
end)
