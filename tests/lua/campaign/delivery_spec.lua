-- A campaign's report joined with the statuses a receiver kept: `convai campaign report` (table, CSV,
-- JSON, --html rendered by headless Chromium), `campaign.report{}`, and unknown recipients reconciled
-- (`convai campaign reconcile`), against the sandbox and its status callbacks.
local helper = require "helper"
local campaign_helper = require "campaign_helper"
local campaign = require "convai.campaign"
local status = require "convai.status"
local vonage = require "convai.vonage"

local AGENT = "delivery-agent"

local wait_for = helper.wait_for

local function read_lines(path)
  local out = {}
  for line in io.lines(path) do out[#out + 1] = line end
  return out
end

describe("campaign report with statuses", function()
  local scratch, url, statuses, journal
  -- 4 recipients: three delivered and read, one (…0666) rejected.
  setup(function()
    scratch = campaign_helper.scratch()
    statuses = scratch.path("statuses.jsonl")
    local code, out, err = helper.cli({ "receive", "start", "--port", "0", "--dir", scratch.path("rcv"),
      "--store", statuses })
    assert.equal(0, code, err)
    url = out:match("CONVAI_STATUS_URL='([^']+)'")
    helper.reset()
    helper.config { callbacks = { delay_ms = 20, rejected = { "0666" } },
      vonage = { agents = { [AGENT] = { rate = 20 } } } }
    local csv = scratch.write("r.csv", "to,body.1\n+44 7700 900001,a\n+44 7700 900002,b\n+44 7700 900003,c\n"
      .. "+44 7700 900666,d\n")
    journal = scratch.path("j.journal")
    local args = campaign_helper.campaign_args(csv, "--journal", journal, AGENT)
    for i, a in ipairs(args) do -- no --status-url: $CONVAI_STATUS_URL is its default
      if a == "--status-url" then table.remove(args, i) table.remove(args, i) break end
    end
    code, out, err = helper.cli(args, { CONVAI_VONAGE_RATES = AGENT .. "=20", CONVAI_STATUS_URL = url })
    assert.equal(0, code, out .. err) -- every one sent: the vendor took the rejected one, then rejected it
  end)
  teardown(function()
    helper.cli { "receive", "stop", "--dir", scratch.path("rcv") }
    helper.reset()
    scratch.remove()
  end)

  it("joins vendor ids and the latest status per recipient, and counts them in the summary", function()
    assert(wait_for(function() local l = status.read(statuses) return #l >= 10 end))
    local rep = assert(campaign.report { journal = journal, statuses = statuses })
    assert.equal(4, #rep.entries)
    local by = {}
    for _, e in ipairs(rep.entries) do by[e.to] = e end
    for _, to in ipairs { "447700900001", "447700900002", "447700900003" } do
      assert.equal("sent", by[to].outcome)
      assert.is_string(by[to].vendor_id)
      assert.equal("read", by[to].delivery)
      assert.matches("^%d%d%d%d%-", by[to].delivery_at)
    end
    assert.equal("rejected", by["447700900666"].delivery)
    assert.matches("rejected", by["447700900666"].delivery_error)
    local s = rep.summary
    assert.equal(4, s.sent)
    assert.equal(3, s.read)
    assert.equal(1, s.rejected)
    assert.equal(0, s.delivered)
    assert.equal(0, s.no_status)
    assert.equal(0.75, s.delivered_rate)
    assert.equal(0.75, s.read_rate)
  end)

  it("campaign.new{statuses =}: the run's final report (returned and written) is joined", function()
    assert(wait_for(function() local l = status.read(statuses) return #l >= 10 end))
    local client = assert(vonage.from_env { retry = false, limits = "process", rates = { [AGENT] = 20 } })
    local sender = assert(campaign.senders.vonage_whatsapp(client, { agent_id = AGENT, namespace = "ns",
      template = "welcome", locale = "en_US", status_url = url }))
    local csv = assert(scratch.read(scratch.path("r.csv")))
    local bad, err = campaign.new { sender = sender, journal = journal, csv = csv, statuses = "nosuch://x" }
    assert.is_nil(bad)
    assert.equal("invalid_argument", err.kind)
    local out = scratch.path("resumed.json")
    local c = assert(campaign.new { sender = sender, journal = journal, csv = csv, statuses = statuses,
      report = out })
    local rep = assert(c:run()) -- a resume: nothing left to send
    assert.same({ 0, 4, 3, 1, 0.75 }, { rep.summary.sent_now, rep.summary.sent, rep.summary.read,
      rep.summary.rejected, rep.summary.delivered_rate })
    local written = helper.decode(assert(scratch.read(out)))
    assert.equal(3, written.summary.read)
    assert.equal("read", written.recipients[1].delivery)
    assert.equal("rejected", written.recipients[4].delivery)
    -- Without statuses, the run's report has the delivery columns empty.
    c = assert(campaign.new { sender = sender, journal = journal, csv = csv })
    rep = assert(c:run())
    assert.is_nil(rep.entries[1].delivery)
    assert.is_nil(rep.summary.read)
    client:close()
  end)

  it("prints CSV with the delivery columns and JSON {summary, recipients}", function()
    local code, out, err = helper.cli { "campaign", "report", "--journal", journal, "--statuses", statuses,
      "--format", "csv" }
    assert.equal(0, code, err)
    local lines = {}
    for l in out:gmatch("[^\r\n]+") do lines[#lines + 1] = l end
    assert.equal("line,to,outcome,status,kind,message,vendor_id,delivery,delivery_at,delivery_error", lines[1])
    assert.equal(5, #lines)
    assert.matches("^2,447700900001,sent,200,,,[%x-]+,read,", lines[2])
    code, out = helper.cli { "campaign", "report", "--journal", journal, "--statuses", statuses,
      "--format", "json" }
    assert.equal(0, code)
    local v = helper.decode(out)
    assert.equal(4, #v.recipients)
    assert.equal(3, v.summary.read)
    assert.equal("read", v.recipients[1].delivery)
  end)

  it("writes a self-contained HTML page that Chromium renders with the totals and one point per send "
    .. "and per delivery", function()
    local chromium = io.popen("command -v chromium"):read("l")
    if not chromium then pending("chromium is not installed (scripts/deps)") return end
    local page = scratch.path("report.html")
    local code, _, err = helper.cli { "campaign", "report", "--journal", journal, "--statuses", statuses,
      "--html", page }
    assert.equal(0, code, err)
    local text = scratch.read(page)
    assert.is_nil(text:find("https?://[^\"w]"), "the page must not load anything") -- the SVG namespace aside
    local p = io.popen(("%s --headless --no-sandbox --disable-gpu --virtual-time-budget=2000 --dump-dom "
      .. "'file://%s' 2>/dev/null"):format(chromium, page))
    local dom = p:read("a")
    p:close()
    assert.matches('<tr data%-field="sent"><th>sent</th><td>4</td></tr>', dom)
    assert.matches('<tr data%-field="read"><th>read</th><td>3</td></tr>', dom)
    local _, sends = dom:gsub('<circle[^>]-class="send"', "")
    local _, deliveries = dom:gsub('<circle[^>]-class="delivery"', "")
    assert.equal(4, sends)
    assert.equal(3, deliveries)
    assert.matches("4 sends, 3 deliveries", dom)
  end)

  it("shows an unknown recipient with a status as sent, reconciled; reconcile writes it and lists the rest",
    function()
      local j2 = scratch.path("j2.journal")
      local header = read_lines(journal)[1]
      local f = assert(io.open(j2, "wb"))
      f:write(header, "\n",
        '{"r":"sent","to":"447700900001","line":2,"status":200,"body":{"message_uuid":"m-1"}}\n',
        '{"r":"unknown","to":"447700900002","line":3}\n',
        '{"r":"unknown","to":"447700900003","line":4}\n')
      f:close()
      local st2 = scratch.path("s2.jsonl")
      local a = assert(status.open(st2))
      assert(a:append { message_uuid = "m-1", to = "447700900001", timestamp = "2026-01-01T00:00:01Z",
        status = "delivered" })
      assert(a:append { message_uuid = "m-2", to = "+44 7700 900002", timestamp = "2026-01-01T00:00:02Z",
        status = "delivered" })
      a:close()
      local code, out = helper.cli { "campaign", "report", "--journal", j2, "--statuses", st2,
        "--format", "json" }
      assert.equal(0, code)
      local v = helper.decode(out)
      assert.equal("sent", v.recipients[2].outcome)
      assert.matches("reconciled", v.recipients[2].message)
      assert.equal("m-2", v.recipients[2].vendor_id)
      assert.equal("unknown", v.recipients[3].outcome)
      assert.equal(2, v.summary.sent)
      assert.equal(1, v.summary.reconciled)

      local err
      code, out, err = helper.cli { "campaign", "reconcile", "--journal", j2, "--statuses", st2 }
      assert.equal(1, code) -- an unknown is left
      assert.matches("reconciled 1", out)
      assert.matches("line 4: 447700900003", err)
      assert.matches("%-%-resend%-unknown", err)
      -- the journal now agrees, without the statuses
      code, out = helper.cli { "campaign", "report", "--journal", j2, "--statuses", scratch.path("none.jsonl"),
        "--format", "json" }
      assert.equal(0, code)
      v = helper.decode(out)
      assert.equal("sent", v.recipients[2].outcome)
      assert.matches("reconciled", v.recipients[2].message)
      assert.equal("m-2", v.recipients[2].vendor_id)
      -- reconciling again changes nothing
      code, out = helper.cli { "campaign", "reconcile", "--journal", j2, "--statuses", st2 }
      assert.equal(1, code)
      assert.matches("reconciled 0\nunknown    1", out)
    end)

  it("refuses a missing journal (exit 2)", function()
    local code, _, err = helper.cli { "campaign", "report", "--journal", scratch.path("nope") }
    assert.equal(2, code)
    assert.matches("no campaign journal", err)
  end)

  it("sends an unknown recipient again only with --resend-unknown, once", function()
    helper.reset()
    helper.config { vonage = { agents = { [AGENT] = { rate = 20 } } } }
    local csv = scratch.write("u.csv", "to,body.1\n+44 7700 900011,a\n+44 7700 900012,b\n")
    local j = scratch.path("u.journal")
    local env = { CONVAI_VONAGE_RATES = AGENT .. "=20" }
    local code, out, err = helper.cli(campaign_helper.campaign_args(csv, "--journal", j, AGENT), env)
    assert.equal(0, code, out .. err)
    local f = assert(io.open(j, "ab")) -- the process died with this request in flight
    f:write('{"r":"unknown","to":"447700900012","line":3}\n')
    f:close()
    code = helper.cli(campaign_helper.campaign_args(csv, "--journal", j, AGENT), env)
    assert.equal(1, code) -- an unknown is not sent
    assert.equal(1, campaign_helper.triggers()["447700900012"].total)
    code, out, err = helper.cli(campaign_helper.campaign_args(csv, "--journal", j, AGENT, { "--resend-unknown" }),
      env)
    assert.equal(0, code, out .. err)
    assert.equal(2, campaign_helper.triggers()["447700900012"].total)
    assert.equal(1, campaign_helper.triggers()["447700900011"].total)
    code = helper.cli(campaign_helper.campaign_args(csv, "--journal", j, AGENT, { "--resend-unknown" }), env)
    assert.equal(0, code)
    assert.equal(2, campaign_helper.triggers()["447700900012"].total) -- sent now: never again
    local _
    code, _, err = helper.cli(campaign_helper.campaign_args(csv, "--store", "redis://127.0.0.1:1/0", AGENT,
      { "--resend-unknown" }), env)
    assert.equal(2, code)
    assert.matches("%-%-resend%-unknown works with %-%-journal only", err)
  end)
end)
