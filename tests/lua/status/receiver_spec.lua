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

  it("joins the statuses received to the report of `campaign run` (default store, then --statuses)",
    function()
    url, stop = start_receiver(scratch) -- the default store: $XDG_STATE_HOME/convai/statuses.jsonl
    helper.config { vonage = { agents = { A = { rate = 60 } } }, callbacks = { delay_ms = 1,
      rejected = { "900003" } } }
    local csv = scratch.path("run.csv")
    local f = assert(io.open(csv, "w"))
    f:write("to,body.1\n+44 7700 900001,Hi 1\n+44 7700 900002,Hi 2\n+44 7700 900003,Hi 3\n")
    f:close()
    local env = { XDG_STATE_HOME = scratch.path("state"), CONVAI_VONAGE_RATES = "A=60" }
    local function run(report, extra)
      local args = { "campaign", "run", csv, "--journal", scratch.path("run.journal"), "--agent-id", "A",
        "--namespace", "ns", "--template", "welcome", "--locale", "en_US", "--status-url", url, "--rate", "2",
        "--report", report, "--format", "json" }
      for _, a in ipairs(extra or {}) do args[#args + 1] = a end
      return helper.cli(args, env)
    end
    local code, out, err = run(scratch.path("run.json"))
    assert.equal(0, code, err)
    local s = helper.decode(out)
    assert.equal(3, s.sent)
    local rep = helper.decode(assert(scratch.read(scratch.path("run.json"))))
    assert.equal(3, #rep.recipients)
    -- Rows 1 and 2 left 1 s and 0.5 s before the end: their callbacks (1 ms apart) are in.
    assert.equal("read", rep.recipients[1].delivery)
    assert.equal("read", rep.recipients[2].delivery)
    assert.is_string(rep.recipients[1].delivery_at)
    assert.is_string(rep.recipients[1].vendor_id)
    assert.is_true(rep.summary.read >= 2)
    assert.equal(s.read, rep.summary.read)
    -- Once every callback is in, a resumed run (nothing left to send) reports them all, from --statuses.
    local file = scratch.path("state") .. "/convai/statuses.jsonl"
    assert.is_table(wait_for(function() local l = status.read(file) return #l >= 7 and l end))
    code, out, err = run(scratch.path("run.csv.out.csv"), { "--statuses", file })
    assert.equal(0, code, err)
    s = helper.decode(out)
    assert.same({ 2, 1, 0, 0.6667 }, { s.read, s.rejected, s.no_status, s.delivered_rate })
    local text = assert(scratch.read(scratch.path("run.csv.out.csv")))
    assert.matches("line,to,outcome,status,kind,message,vendor_id,delivery,delivery_at,delivery_error\r\n", text)
    assert.matches("\r\n2,447700900001,sent,[^\r]*,read,[^,]+,\r\n", text)
    assert.matches("\r\n4,447700900003,sent,[^\r]*,rejected,[^,]+,[^\r]+\r\n", text)
    -- A status store no backend takes is refused before the first send.
    code, out, err = run(scratch.path("x.json"), { "--statuses", "nosuch://x" })
    assert.equal(2, code)
    assert.equal("", out)
    assert.matches("unknown status store scheme nosuch://", err, 1, true)
    assert.is_nil(scratch.read(scratch.path("x.json")))
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
