-- `convai receive start|stop|status` and the status store: a receiver on nginx keeps every valid
-- status callback (a JSON-lines file, or Redis), refuses malformed ones with 400 and keeps none of them,
-- and takes 1,000 callbacks in under 10 s without losing one; the sandbox's own callbacks (submitted,
-- delivered, read; rejected) reach it.
local helper = require "helper"
local campaign_helper = require "campaign_helper"
local redis_helper = require "redis_helper"
local core = require "convai.core"
local status = require "convai.status"
local vonage = require "convai.vonage"

local function status_body(i, st, to)
  return core.json_encode { message_uuid = "uuid-" .. i, to = to or "447700900001",
    timestamp = "2026-01-01T00:00:00.000Z", status = st or "delivered", channel = "whatsapp" }
end

-- Start a receiver through the CLI; returns its status URL and a stop function.
local function start_receiver(scratch, store)
  local args = { "receive", "start", "--port", "0", "--dir", scratch.path("receiver") }
  if store then args[#args + 1] = "--store" args[#args + 1] = store end
  local code, out, err = helper.cli(args, { XDG_STATE_HOME = scratch.path("state") })
  assert.equal(0, code, err)
  local url = out:match("\nexport CONVAI_STATUS_URL='(http://127%.0%.0%.1:%d+/vonage/status)'\n")
  assert.is_string(url, out)
  return url, function()
    local c, _, e = helper.cli { "receive", "stop", "--dir", scratch.path("receiver") }
    assert.equal(0, c, e)
  end
end

local function post(session, url, body)
  local resp = assert(session:request { method = "POST", url = url, body = body,
    headers = { ["Content-Type"] = "application/json" } })
  return resp.status, resp.body
end

local wait_for = helper.wait_for

describe("convai receive", function()
  local scratch, url, stop, session
  before_each(function()
    scratch = campaign_helper.scratch()
    session = assert(core.session { timeout = 5 })
  end)
  after_each(function()
    session:close()
    if stop then stop() stop = nil end
    scratch.remove()
  end)

  it("prints the export line, tells it runs, keeps statuses in the default file, and stops", function()
    url, stop = start_receiver(scratch)
    local code, out = helper.cli { "receive", "status", "--dir", scratch.path("receiver") }
    assert.equal(0, code)
    assert.matches("running at " .. url:gsub("%p", "%%%0"), out)
    assert.equal(200, (post(session, url, status_body(1))))
    local file = scratch.path("state") .. "/convai/statuses.jsonl"
    local got = wait_for(function() local l = status.read(file) return #l == 1 and l end)
    assert.is_table(got)
    assert.equal("uuid-1", got[1].message_uuid)
    assert.equal("delivered", got[1].status)
    assert.is_number(got[1].received_at)
    stop()
    stop = nil
    code, out = helper.cli { "receive", "status", "--dir", scratch.path("receiver") }
    assert.equal(3, code)
    assert.equal("not running\n", out)
  end)

  it("refuses malformed callbacks with 400 and keeps none of them", function()
    local file = scratch.path("statuses.jsonl")
    url, stop = start_receiver(scratch, file)
    local bad = {
      "not json",
      "{}",
      core.json_encode { message_uuid = "x", to = "1", timestamp = "2026-01-01T00:00:00Z", status = "seen" },
      core.json_encode { message_uuid = "x", timestamp = "2026-01-01T00:00:00Z", status = "read" },
      core.json_encode { message_uuid = "x", to = "1", timestamp = "yesterday", status = "read" },
      "[" .. status_body(1) .. "," .. '{"message_uuid":"y"}' .. "]",
    }
    for _, body in ipairs(bad) do
      local code, answer = post(session, url, body)
      assert.equal(400, code, body)
      assert.matches("Bad Request", answer)
    end
    assert.equal(200, (post(session, url, status_body(2))))
    local got = wait_for(function() local l = status.read(file) return #l > 0 and l end)
    assert.equal(1, #got)
    assert.equal("uuid-2", got[1].message_uuid)
    local resp = assert(session:request { url = url })
    assert.equal(405, resp.status)
  end)

  it("keeps 1,000 callbacks posted in under 10 s, none lost", function()
    local file = scratch.path("statuses.jsonl")
    url, stop = start_receiver(scratch, file)
    local t0 = core.monotonic()
    for i = 1, 1000 do
      assert.equal(200, (post(session, url, status_body(i, ({ "submitted", "delivered", "read" })[i % 3 + 1]))))
    end
    local got = wait_for(function() local l = status.read(file) return #l == 1000 and l end, 10)
    assert.is_true(core.monotonic() - t0 < 10)
    assert.is_table(got, "fewer than 1000 statuses kept")
    local seen = {}
    for _, s in ipairs(got) do seen[s.message_uuid] = true end
    for i = 1, 1000 do assert.is_true(seen["uuid-" .. i], "uuid-" .. i) end
  end)

  it("keeps the sandbox's callbacks: submitted, delivered, read, and a configured rejected", function()
    local file = scratch.path("statuses.jsonl")
    url, stop = start_receiver(scratch, file)
    helper.config { callbacks = { delay_ms = 20, rejected = { "0666" } } }
    local c = assert(vonage.new { base_url = helper.env("CONVAI_VONAGE_URL"), retry = false,
      api_key = helper.env("CONVAI_VONAGE_KEY"), limits = { store = "process", rate = 100 } })
    local fields = { agent_id = "rcv-agent", namespace = "ns_1", template = "appointment_reminder",
      locale = "en_GB", to = "+44 7700 900123", status_url = url }
    local r = assert(c:trigger_whatsapp(fields))
    fields.to, fields.agent_id = "+44 7700 900666", "rcv-agent-2" -- the sandbox's 1 session/s per agent
    local r2 = assert(c:trigger_whatsapp(fields))
    c:close()
    local got = wait_for(function() local l = status.read(file) return #l >= 4 and l end)
    assert.is_table(got)
    local by = {}
    for _, s in ipairs(got) do
      by[s.message_uuid] = by[s.message_uuid] or {}
      table.insert(by[s.message_uuid], s.status)
    end
    assert.same({ "submitted", "delivered", "read" }, by[r.body.message_uuid])
    assert.same({ "rejected" }, by[r2.body.message_uuid])
    helper.reset()
  end)

  it("keeps statuses in Redis with --store redis://", function()
    if not redis_helper.available() then pending("redis-server is not installed") return end
    local r = redis_helper.start { password = "s3cret" }
    local ok, err = pcall(function()
      local code, out = helper.cli({ "receive", "start", "--port", "0", "--dir", scratch.path("receiver"),
        "--store", r.url }, { XDG_STATE_HOME = scratch.path("state") })
      assert.equal(0, code)
      assert.not_matches("s3cret", out)
      url = out:match("CONVAI_STATUS_URL='([^']+)'")
      stop = function() helper.cli { "receive", "stop", "--dir", scratch.path("receiver") } end
      for i = 1, 3 do assert.equal(200, (post(session, url, status_body(i)))) end
      local got = wait_for(function() local l = status.read(r.url) return l and #l == 3 and l end)
      assert.is_table(got)
      -- every one kept; their order is the order of the writes, which the workers make after answering
      local uuids = {}
      for i, st in ipairs(got) do uuids[i] = st.message_uuid end
      table.sort(uuids)
      assert.same({ "uuid-1", "uuid-2", "uuid-3" }, uuids)
    end)
    r.stop()
    assert(ok, err)
  end)

  it("refuses a bad --port or an unknown store scheme (exit 2), starting nothing", function()
    local code, _, err = helper.cli { "receive", "start", "--port", "x", "--dir", scratch.path("receiver") }
    assert.equal(2, code)
    assert.matches("port", err)
    code, _, err = helper.cli { "receive", "start", "--store", "nosuch://x", "--dir", scratch.path("receiver") }
    assert.equal(2, code)
    assert.matches("unknown status store scheme", err)
  end)
end)

describe("convai.status.file", function()
  it("skips a line cut by a crash, and an absent file holds no status", function()
    local scratch = campaign_helper.scratch()
    local file = scratch.path("s.jsonl")
    assert.same({}, status.read(file))
    local st = assert(status.open(file))
    assert(st:append { message_uuid = "a", to = "1", timestamp = "t", status = "read" })
    st:close()
    local f = assert(io.open(file, "a"))
    f:write('{"message_uuid":"b","to"')
    f:close()
    local got = assert(status.read(file))
    assert.equal(1, #got)
    assert.equal("a", got[1].message_uuid)
    scratch.remove()
  end)
end)
