-- convai.vonage against the sandbox: trigger_whatsapp, validation before sending, rate limit, regions.
local helper = require "helper"
local core = require "convai.core"
local limit = require "convai.limit"
local vonage = require "convai.vonage"
local voicebot = require "convai.voicebot"

local URL, KEY = helper.env("CONVAI_VONAGE_URL"), helper.env("CONVAI_VONAGE_KEY")

-- A client on the sandbox. Its sends are paced by a limit of its own ("process"), so that the tests of
-- one agent do not wait for each other's slots; the tests of the limit give their own.
local function client(extra)
  local opts = { base_url = URL, api_key = KEY, limits = "process" }
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
      -- a retried 429 could pass once the second is over; a limit at 100/s does not hold the second back
      local c = client { retry = false, limits = { store = "process", rate = 100 } }
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
      local c = client { rates = { ["5"] = 5 } }
      assert(c:trigger_whatsapp(fields { agent_id = "5", to = "447700900201" }))
      assert(c:trigger_whatsapp(fields { agent_id = "5", to = "447700900202" }))
      assert(c:trigger_whatsapp(fields { agent_id = "5", to = "+44 7700 900201" }))
      assert.equal(before + 2, assert(vb:whatsapp_usage(5)).current_usage)
    end)
  end)
  describe("limits: every send takes the agent's slot first", function()
    local run = tostring(os.time()) .. tostring(math.random(1000, 9999))

    local agent_log = helper.agent_log

    it("paces the sends of one agent a window apart, so that the vendor answers no 429", function()
      helper.config { vonage = { agents = { ["paced-1"] = { rate = 2 } } } }
      local c = client { rates = { ["paced-1"] = 2 } } -- process store, margin 0.1: 0.55 s apart
      local t0 = core.monotonic()
      assert(c:trigger_whatsapp(fields { agent_id = "paced-1" }))
      assert(c:trigger_sms { agent_id = "paced-1", to = "447700900124", status_url = "https://example.com/s" })
      assert(c:make_call { agent_id = "paced-1", to = "447700900125" })
      local dt = core.monotonic() - t0
      assert.is_true(dt >= 1.09 and dt < 2, "3 sessions at 2/s took " .. dt)
      local log = agent_log("paced-1", 3)
      assert.equal(3, #log)
      for _, e in ipairs(log) do assert.equal(200, e.status) end
    end)

    it("shares an agent's slots with every client of the host store (the default), in and across processes", function()
      local agent = "host-" .. run
      helper.config { vonage = { agents = { [agent] = { rate = 2 } } } }
      local rates = { [agent] = 2 } -- slots 0.55 s apart
      local a = assert(vonage.new { base_url = URL, api_key = KEY, rates = rates })
      local b = assert(vonage.new { base_url = URL, api_key = KEY, rates = rates })
      assert.equal("host", a.limit.store)
      local t0 = core.monotonic()
      assert(a:trigger_whatsapp(fields { agent_id = agent }))
      assert(b:trigger_whatsapp(fields { agent_id = agent, to = "447700900124" }))
      local dt = core.monotonic() - t0
      assert.is_true(dt >= 0.54, "the second client waited for the next slot: " .. dt)
      -- and a CLI trigger (another process) waits for the next one
      local code, _, err = helper.cli({ "trigger", "whatsapp", "--agent-id", agent, "--namespace", "ns_1",
        "--template", "appointment_reminder", "--locale", "en_GB", "--to", "447700900126", "--status-url",
        "https://example.com/s" }, { CONVAI_VONAGE_RATES = agent .. "=2" })
      assert.equal(0, code, err)
      dt = core.monotonic() - t0
      assert.is_true(dt >= 1.09, "the CLI waited for the slot after: " .. dt)
      local log = agent_log(agent, 3)
      assert.equal(3, #log)
      for _, e in ipairs(log) do assert.equal(200, e.status) end
    end)

    it("gives agents in rates their raised rate", function()
      helper.config { vonage = { agents = { ["fast-" .. run] = { rate = 5 } } } }
      local c = client { rates = { ["fast-" .. run] = 5 } }
      assert.same({ 5, 1.1 / 5 }, { c.limit:rate("fast-" .. run) })
      local t0 = core.monotonic()
      for i = 1, 5 do assert(c:trigger_whatsapp(fields { agent_id = "fast-" .. run, to = "44770090013" .. i })) end
      local dt = core.monotonic() - t0
      assert.is_true(dt >= 0.87 and dt < 2, "5 sessions at 5/s took " .. dt)
      assert.equal(1, c.limit:rate("other"))
    end)

    it("holds the agent after a 429 and sends again in a new slot, after the others", function()
      helper.add_fault { path = "/vonage/messaging/conversation", fault = "status", status = 429, count = 1 }
      local c = client { limits = { store = "process", rate = 100 } }
      local t0 = core.monotonic()
      local r, err = c:trigger_whatsapp(fields { agent_id = "held-1" })
      assert.is_table(r, tostring(err))
      local dt = core.monotonic() - t0
      assert.is_true(dt >= 1.09 and dt < 2, "held one window (1 + margin s), not one 10 ms slot: " .. dt)
      local _, aerr = c.limit:acquire("held-1", 0.05)
      assert.is_nil(aerr, "the hold is over: the next slot follows the retry's")
      -- a 429 that ends the call (retry = false) holds the agent too
      helper.add_fault { path = "/vonage/messaging/conversation", fault = "status", status = 429, count = 1 }
      local q = client { retry = false, limits = { store = "process", rate = 100 } }
      _, err = q:trigger_whatsapp(fields { agent_id = "held-2" })
      assert.equal(429, err.status)
      _, aerr = q.limit:acquire("held-2", 0)
      assert.equal("rate_limited", aerr.kind)
      assert.is_true(aerr.wait > 1, "held " .. aerr.wait)
    end)

    it("gives up when the agent's slot is further than max_wait, sending nothing", function()
      local lim = assert(limit.new { store = "process", max_wait = 1 })
      assert(lim:penalize("late-1", 30))
      local r, err = client({ limits = lim }):trigger_whatsapp(fields { agent_id = "late-1" })
      assert.is_nil(r)
      assert.equal("rate_limited", err.kind)
      assert.equal(0, err.attempts)
      assert.same({}, helper.log())
    end)

    it("takes a limit object, shared, and with_limit gives a copy with another or none", function()
      local lim = assert(limit.new { store = "process", rate = 2 })
      local a, b = client { limits = lim }, client { limits = lim, rates = { x = 5 } }
      assert.equal(lim, a.limit)
      assert.equal(5, b.limit:rate("x"))
      assert.equal(2, b.limit:rate("y"))
      local free = assert(a:with_limit(false))
      assert.is_nil(free.limit)
      assert.equal(a.http, free.http)
      local t0 = core.monotonic()
      for i = 1, 3 do assert(free:trigger_whatsapp(fields { agent_id = "free-" .. i })) end
      assert.is_true(core.monotonic() - t0 < 1)
      local _, err = a:with_limit("host")
      assert.matches("with_limit takes a convai.limit", err.message)
    end)

    it("refuses a limits option it cannot use, naming it", function()
      local cases = {
        { { limits = "nowhere" }, 'limits: unknown limit store "nowhere" (known: ' },
        { { limits = "memcached://u:secret@h:1/0" }, "limits: unknown limit store scheme memcached:// (known: " },
        { { limits = "rediss://u:secret@h:1/0" }, "limits: limit store: invalid Redis URL 'rediss://u:***@h:1/0': "
          .. "rediss:// (TLS) is not supported" },
        { { limits = 5 }, "limits must be host, process, a store URL, a convai.limit or a table of" },
        { { limits = { store = "process", burst = 2 } }, "unknown limit option burst for store process" },
        { { rates = { A = 0 } }, "rates[A] must be a positive number of sessions per second" },
        { { rates = "A=5" }, "rates must be a table {[agent_id] = rate}" },
      }
      for _, c in ipairs(cases) do
        local o = { base_url = URL, api_key = KEY }
        for k, v in pairs(c[1]) do o[k] = v end
        local v, err = vonage.new(o)
        assert.is_nil(v)
        assert.equal("invalid_argument", err.kind)
        assert.is_truthy(err.message:find(c[2], 1, true), err.message)
        assert.is_nil(err.message:find("secret", 1, true))
      end
    end)
  end)
end)
