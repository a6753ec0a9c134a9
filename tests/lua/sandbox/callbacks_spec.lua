-- The sandbox's status callbacks (docs/api-notes.md §3): after an accepted Vonage trigger with a status_url
-- the sandbox POSTs submitted, delivered and read (SMS and voice: no read) as JSON to it, in order,
-- `delay_ms` apart; configured number suffixes get rejected / undeliverable with an error object;
-- failed deliveries are recorded; the sink /_sandbox/callbacks collects what the sandbox sends to
-- itself; reset stops pending callbacks.
local helper = require "helper"
local core = require "convai.core"
local cjson = require "cjson.safe"
local vonage = require "convai.vonage"

local SINK = helper.url .. "/_sandbox/callbacks"
local ISO8601 = "^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.%d%d%dZ$"

-- One client for the whole file, closed at the end (no connection left to the garbage collector). The
-- sandbox's rate window is reset before each test, so the client's own limit lets 100 sessions per second
-- through (the callbacks are the subject here; the pacing of sends: tests/lua/client/vonage_spec.lua).
local the_client
local function client()
  the_client = the_client or assert(vonage.new { base_url = helper.env("CONVAI_VONAGE_URL"),
    api_key = helper.env("CONVAI_VONAGE_KEY"), retry = false, limits = { store = "process", rate = 100 } })
  return the_client
end

local function fields(extra)
  local t = { agent_id = "cb-agent", namespace = "ns_1", template = "appointment_reminder", locale = "en_GB",
    to = "+44 7700 900123", status_url = SINK }
  for k, v in pairs(extra or {}) do t[k] = v end
  return t
end

local function sleep(seconds)
  os.execute("sleep " .. seconds)
end

local function sink()
  local body, status = helper.admin("GET", "/_sandbox/callbacks")
  assert.equal(200, status)
  return body.callbacks, body.deliveries
end

-- Wait (up to 5 s) until the sink holds at least n callbacks (and n deliveries are recorded).
local function wait_for(n)
  local deadline = core.monotonic() + 5
  repeat
    local received, deliveries = sink()
    if #received >= n and #deliveries >= n then return received, deliveries end
    sleep(0.02)
  until core.monotonic() > deadline
  local received = sink()
  error("expected " .. n .. " callbacks, got " .. #received .. ": " .. cjson.encode(received))
end

-- Wait until n deliveries are recorded (whatever their outcome).
local function wait_deliveries(n)
  local deadline = core.monotonic() + 5
  repeat
    local _, deliveries = sink()
    if #deliveries >= n then return deliveries end
    sleep(0.02)
  until core.monotonic() > deadline
  error("expected " .. n .. " deliveries")
end

local function statuses(received)
  local out = {}
  for i, cb in ipairs(received) do out[i] = cb.body.status end
  return out
end

describe("sandbox status callbacks", function()
  before_each(helper.reset)
  teardown(function()
    if the_client then the_client:close() end
  end)

  it("posts submitted, delivered, read for WhatsApp, with the documented fields", function()
    local r = assert(client():trigger_whatsapp(fields { status_url = SINK .. "?campaign=c1" }))
    local uuid = r.body.message_uuid
    local received, deliveries = wait_for(3)
    assert.same({ "submitted", "delivered", "read" }, statuses(received))
    local keys = { "message_uuid", "to", "from", "timestamp", "status", "channel" }
    local previous = ""
    for _, cb in ipairs(received) do
      local b = cb.body
      for _, k in ipairs(keys) do assert.is_string(b[k], k) end
      local n = 0
      for _ in pairs(b) do n = n + 1 end
      assert.equal(#keys, n) -- nothing else (no error)
      assert.equal(uuid, b.message_uuid)
      assert.equal("447700900123", b.to)
      assert.matches("^%d+$", b.from)
      assert.equal("whatsapp", b.channel)
      assert.matches(ISO8601, b.timestamp)
      assert.is_true(b.timestamp >= previous, "timestamps in order")
      previous = b.timestamp
      assert.equal("c1", cb.query.campaign)
      assert.matches("^application/json", cb.content_type)
    end
    assert.equal(3, #deliveries)
    for i, d in ipairs(deliveries) do
      assert.equal(200, d.http_status)
      assert.equal(cjson.null, d.error)
      assert.equal(received[i].body.status, d.status)
      assert.equal(uuid, d.message_uuid)
    end
    -- the callbacks are not vendor requests: the log holds the trigger only
    assert.equal(1, #helper.log())
  end)

  it("posts submitted, delivered for SMS, and no read", function()
    helper.config { callbacks = { delay_ms = 20 } }
    local r = assert(client():trigger_sms { agent_id = "cb-sms", to = "447700900124", status_url = SINK })
    wait_for(2)
    sleep(0.2)
    local received = sink()
    assert.same({ "submitted", "delivered" }, statuses(received))
    for _, cb in ipairs(received) do
      assert.equal("sms", cb.body.channel)
      assert.equal(r.body.message_uuid, cb.body.message_uuid)
      assert.equal("447700900124", cb.body.to)
    end
  end)

  it("posts submitted, delivered for a voice call with a status_url, nothing without", function()
    helper.config { callbacks = { delay_ms = 20 } }
    local c = client()
    assert(c:make_call { agent_id = "cb-voice-1", to = "447700900125" })
    local r = assert(c:make_call { agent_id = "cb-voice-2", to = "447700900126", status_url = SINK })
    wait_for(2)
    sleep(0.2)
    local received = sink()
    assert.same({ "submitted", "delivered" }, statuses(received))
    for _, cb in ipairs(received) do
      assert.equal("voice", cb.body.channel)
      assert.equal(r.body.message_uuid, cb.body.message_uuid)
    end
  end)

  it("sends rejected, or submitted then undeliverable, with an error object, for configured suffixes", function()
    helper.config { callbacks = { delay_ms = 20, rejected = { "0666" }, undeliverable = { "777" } } }
    local c = client()
    assert(c:trigger_whatsapp(fields { agent_id = "cb-rej", to = "447700900666" }))
    wait_for(1)
    sleep(0.15)
    local received = sink()
    assert.same({ "rejected" }, statuses(received))
    local e = received[1].body.error
    assert.is_table(e)
    for _, k in ipairs { "type", "title", "detail", "instance" } do assert.is_string(e[k], k) end
    assert.matches("rejected", e.detail)

    helper.admin("DELETE", "/_sandbox/callbacks")
    assert(c:trigger_sms { agent_id = "cb-und", to = "447700900777", status_url = SINK })
    wait_for(2)
    sleep(0.15)
    received = sink()
    assert.same({ "submitted", "undeliverable" }, statuses(received))
    assert.is_nil(received[1].body.error)
    assert.is_table(received[2].body.error)
    assert.matches("deliver", received[2].body.error.detail)
  end)

  it("waits delay_ms before the first status and between statuses", function()
    helper.config { callbacks = { delay_ms = 300 } }
    assert(client():trigger_whatsapp(fields()))
    local trigger_time = helper.log()[1].time
    local received = wait_for(3)
    assert.is_true(received[1].time - trigger_time >= 0.29, "first after " .. received[1].time - trigger_time)
    assert.is_true(received[2].time - received[1].time >= 0.29)
    assert.is_true(received[3].time - received[2].time >= 0.29)
  end)

  it("starts after the response latency", function()
    helper.config { latency_ms = 300, callbacks = { delay_ms = 0 } }
    local t0 = core.monotonic()
    assert(client():trigger_whatsapp(fields()))
    assert.is_true(core.monotonic() - t0 >= 0.29)
    assert.same({ "submitted", "delivered", "read" }, statuses(wait_for(3)))
  end)

  it("stamps callbacks with the sandbox clock (clock_offset)", function()
    local offset = 400 * 86400
    helper.config { clock_offset = offset, callbacks = { delay_ms = 0 } }
    local before = os.time() + offset
    assert(client():trigger_whatsapp(fields()))
    local received = wait_for(3)
    local after = os.time() + offset + 1
    local day = received[1].body.timestamp:sub(1, 10)
    assert.is_true(day == os.date("!%Y-%m-%d", before) or day == os.date("!%Y-%m-%d", after), day)
  end)

  it("sends nothing when disabled", function()
    helper.config { callbacks = { enabled = false, delay_ms = 0 } }
    assert(client():trigger_whatsapp(fields()))
    sleep(0.3)
    local received, deliveries = sink()
    assert.same({}, received)
    assert.same({}, deliveries)
  end)

  it("records failed deliveries and writes them to error.log", function()
    helper.config { callbacks = { delay_ms = 0 } }
    local c = client()
    assert(c:trigger_sms { agent_id = "f-1", to = "447700900131", status_url = "http://127.0.0.1:1/status" })
    local deliveries = wait_deliveries(2)
    for _, d in ipairs(deliveries) do
      assert.equal(cjson.null, d.http_status)
      assert.matches("connect to 127%.0%.0%.1:1", d.error)
      assert.equal("http://127.0.0.1:1/status", d.url)
    end
    assert.same({ "submitted", "delivered" }, { deliveries[1].status, deliveries[2].status })

    helper.admin("DELETE", "/_sandbox/callbacks")
    assert(c:trigger_sms { agent_id = "f-2", to = "447700900132", status_url = "https://example.com/s" })
    deliveries = wait_deliveries(2)
    assert.matches("https:// status URLs are not supported", deliveries[1].error)

    helper.admin("DELETE", "/_sandbox/callbacks")
    assert(c:trigger_sms { agent_id = "f-3", to = "447700900133",
      status_url = helper.url .. "/_sandbox/no-such-sink" })
    deliveries = wait_deliveries(2)
    assert.equal(404, deliveries[1].http_status)
    assert.equal("HTTP 404", deliveries[1].error)

    local dir = os.getenv("CONVAI_SANDBOX_DIR")
    if dir then
      local f = assert(io.open(dir .. "/error.log"))
      local text = f:read("a")
      f:close()
      assert.truthy(text:find("status callback submitted of [%x%-]+ to http://127%.0%.0%.1:1/status failed"))
    end
  end)

  it("stops pending callbacks on reset", function()
    helper.config { callbacks = { delay_ms = 200 } }
    assert(client():trigger_whatsapp(fields()))
    helper.reset()
    sleep(0.8)
    local received, deliveries = sink()
    assert.same({}, received)
    assert.same({}, deliveries)
  end)

  describe("the sink /_sandbox/callbacks", function()
    it("records what is posted to it, lists it and clears it", function()
      local body, status = helper.admin("POST", "/_sandbox/callbacks", { status = "delivered", n = 1 })
      assert.equal(200, status)
      assert.is_true(body.ok)
      local session = assert(core.session {})
      local resp = assert(session:request { method = "POST", url = SINK .. "?k=v", body = "not json",
        headers = { ["Content-Type"] = "text/plain" } })
      assert.equal(200, resp.status)
      local received = sink()
      assert.equal(2, #received)
      assert.same({ status = "delivered", n = 1 }, received[1].body)
      assert.equal("not json", received[2].body)
      assert.equal("v", received[2].query.k)
      assert.equal("text/plain", received[2].content_type)
      assert.is_true(received[2].seq > received[1].seq)
      assert.is_number(received[1].time)
      assert.equal(200, select(2, helper.admin("DELETE", "/_sandbox/callbacks")))
      assert.same({}, (sink()))
      resp = assert(session:request { method = "PUT", url = SINK })
      assert.equal(405, resp.status)
      session:close()
    end)
  end)

  describe("configuration", function()
    it("defaults to enabled with 50 ms and no failing numbers, and reset restores it", function()
      local defaults = { enabled = true, delay_ms = 50, rejected = {}, undeliverable = {} }
      assert.same(defaults, helper.admin("GET", "/_sandbox/config").callbacks)
      local cfg = helper.config { callbacks = { enabled = false, delay_ms = 5, rejected = { "1" } } }
      assert.same({ enabled = false, delay_ms = 5, rejected = { "1" }, undeliverable = {} }, cfg.callbacks)
      helper.reset()
      assert.same(defaults, helper.admin("GET", "/_sandbox/config").callbacks)
    end)

    it("refuses bad settings with 400", function()
      for _, bad in ipairs {
        { delay_ms = -1 }, { delay_ms = "5" }, { delay_ms = 60001 }, { enabled = "yes" },
        { rejected = { "12a" } }, { rejected = "123" }, { undeliverable = { 7 } }, { retries = 3 },
      } do
        local body, status = helper.admin("POST", "/_sandbox/config", { callbacks = bad })
        assert.equal(400, status, cjson.encode(bad))
        assert.matches("callbacks", body.message)
      end
      local _, status = helper.admin("POST", "/_sandbox/config", { callbacks = "on" })
      assert.equal(400, status)
    end)
  end)
end)
