-- convai.journal: the campaign record interface, through its file backend, and a backend plugged in with
-- register driving a campaign against the sandbox (claims refused by another worker, a journal that
-- cannot write). The campaign's own journal behaviour (resume, unknown, a cut record) is in
-- tests/lua/campaign/campaign_spec.lua.
local helper = require "helper"
local ch = require "campaign_helper"
local core = require "convai.core"
local campaign = require "convai.campaign"
local journal = require "convai.journal"
local vonage = require "convai.vonage"

local scratch = ch.scratch()
teardown(function() scratch.remove() end)

local FP = { provider = "vonage", channel = "sms", agent_id = "A", input = "x", recipients = 2 }

local function lines(path)
  local out = {}
  for line in (scratch.read(path) or ""):gmatch("[^\n]+") do out[#out + 1] = helper.decode(line) end
  return out
end

describe("convai.journal (file backend)", function()
  it("loads an absent journal as empty, changing nothing", function()
    local p = scratch.path("absent.journal")
    local loaded = assert(journal.load(p, FP))
    assert.is_false(loaded.exists)
    assert.same({}, loaded.state)
    assert.is_nil(scratch.read(p))
  end)

  it("creates the journal with the campaign's identity; claims and outcomes are on disk when they return",
    function()
      local p = scratch.path("new.journal")
      local j = assert(journal.open(p, FP, assert(journal.load(p, FP))))
      assert.is_true(j:claim { r = "pending", to = "447700900001", line = 2 })
      local on_disk = lines(p)
      assert.equal(2, #on_disk)
      assert.same(FP, on_disk[1].campaign)
      assert.equal("pending", on_disk[2].r)
      assert.is_true(j:write { r = "sent", to = "447700900001", line = 2, status = 200 })
      j:close()
      j:close() -- idempotent
      local loaded = assert(journal.load(p, FP))
      assert.is_true(loaded.exists)
      assert.equal("sent", loaded.state["447700900001"].r)
    end)

  it("refuses another campaign's journal, and one another run holds, as kind journal", function()
    local p = scratch.path("held.journal")
    local j = assert(journal.open(p, FP))
    local other = { provider = "vonage", channel = "voice", agent_id = "A", input = "x", recipients = 2 }
    local loaded, err = journal.load(p, other)
    assert.is_nil(loaded)
    assert.equal("journal", err.kind)
    assert.is_truthy(err.message:find("belongs to another campaign (channel is sms in the journal but voice now)",
      1, true), err.message)
    local again
    again, err = journal.open(p, FP)
    assert.is_nil(again)
    assert.equal("journal", err.kind)
    assert.is_truthy(err.message:find("in use by another process", 1, true), err.message)
    j:close()
    assert(journal.open(p, FP)):close()
  end)

  it("refuses an unknown URL scheme without quoting the URL", function()
    local j, err = journal.open("memcached://:hunter2@127.0.0.1/0", FP)
    assert.is_nil(j)
    assert.equal("invalid_argument", err.kind)
    assert.matches("unknown journal store scheme memcached://", err.message, 1, true)
    assert.is_nil(err.message:find("hunter2", 1, true))
  end)
end)

describe("convai.journal with a registered backend", function()
  -- A journal kept in memory; `taken` holds the recipients another worker claimed.
  local stores = {}
  local backend = {
    load = function(where)
      local m = stores[where]
      local state = {}
      for _, rec in ipairs(m and m.records or {}) do state[rec.to] = rec end
      return { state = state, exists = m ~= nil }
    end,
    open = function(where, fingerprint)
      local m = stores[where] or { records = {}, taken = {} }
      stores[where] = m
      m.fingerprint = fingerprint
      return {
        claim = function(_, rec)
          if m.taken[rec.to] then return false end
          if m.fail_claim then return nil, m.fail_claim end
          if m.claims_down and m.claims_down > 0 then
            m.claims_down = m.claims_down - 1
            return nil, core.error("store", "campaign store redis://h:6379/0: connection refused")
          end
          m.records[#m.records + 1] = rec
          return true
        end,
        write = function(_, rec)
          if m.fail_write then return nil, m.fail_write end
          if m.writes_down and m.writes_down > 0 then
            m.writes_down = m.writes_down - 1
            return nil, core.error("store", "campaign store redis://h:6379/0: timeout")
          end
          m.records[#m.records + 1] = rec
          return true
        end,
        close = function() m.closed = true end,
      }
    end,
  }
  assert(journal.register("memjournal", backend))

  local function sender()
    return assert(campaign.senders.vonage_sms(assert(vonage.from_env { retry = false, limits = "process", rates = { A = 50 } }),
      { agent_id = "A", status_url = "https://example.com/status" }))
  end
  local CSV = "to\n+44 7700 900001\n+44 7700 900002\n+44 7700 900003\n"

  before_each(function()
    helper.reset()
    helper.config { vonage = { agents = { A = { rate = 50 } } } }
  end)

  it("runs a campaign on it; a recipient another worker claimed is not sent", function()
    stores["memjournal://c1"] = { records = {}, taken = { ["447700900002"] = true } }
    local c = assert(campaign.new { sender = sender(), journal = "memjournal://c1", csv = CSV, rate = 50 })
    local report = assert(c:run())
    assert.equal(2, report.summary.sent)
    assert.equal(1, report.summary.pending)
    assert.same({ ["447700900001"] = { total = 1, accepted = 1 }, ["447700900003"] = { total = 1, accepted = 1 } },
      ch.triggers())
    local m = stores["memjournal://c1"]
    assert.is_true(m.closed)
    assert.same(c.fingerprint, m.fingerprint)
    local per = {}
    for _, rec in ipairs(m.records) do
      per[rec.to] = per[rec.to] or {}
      table.insert(per[rec.to], rec.r)
    end
    assert.same({ ["447700900001"] = { "pending", "sent" }, ["447700900003"] = { "pending", "sent" } }, per)
    -- resumed: nothing sent twice
    helper.reset()
    report = assert(assert(campaign.new { sender = sender(), journal = "memjournal://c1", csv = CSV, rate = 50 })
      :run())
    assert.equal(0, report.summary.sent_now)
    assert.same({}, ch.triggers())
  end)

  it("stops with journal_error, sending nothing more, when a claim cannot be recorded", function()
    stores["memjournal://c2"] = { records = {}, taken = {}, fail_claim = "disk full" }
    local report = assert(assert(campaign.new { sender = sender(), journal = "memjournal://c2", csv = CSV,
      rate = 50 }):run())
    assert.equal("journal_error", report.summary.stopped)
    assert.equal("disk full", report.summary.journal_error)
    assert.equal(0, report.summary.attempted)
    assert.same({}, helper.log())
  end)

  it("stops with journal_error when an outcome cannot be recorded, that recipient unknown in the summary",
    function()
    stores["memjournal://c3"] = { records = {}, taken = {}, fail_write = "I/O error" }
    local outcomes = {}
    local report = assert(assert(campaign.new { sender = sender(), journal = "memjournal://c3", csv = CSV,
      rate = 50, concurrency = 1, on_outcome = function(row, o) outcomes[#outcomes + 1] = { row, o } end }):run())
    assert.equal("journal_error", report.summary.stopped)
    assert.equal("I/O error", report.summary.journal_error)
    assert.equal(1, report.summary.attempted)
    assert.equal(1, #helper.log())
    -- The request left (its pending is journaled): unknown in this run's summary, as a resume finds it.
    assert.equal(1, report.summary.unknown)
    assert.equal(2, report.summary.pending)
    assert.equal("unknown", report.entries[1].outcome)
    assert.matches("outcome could not be journaled: I/O error", report.entries[1].message)
    assert.equal(1, #outcomes)
    assert.equal("447700900001", outcomes[1][1].to)
    assert.equal("table", type(outcomes[1][1].request))
    assert.equal("unknown", outcomes[1][2].outcome)
  end)

  it("waits out a failing store (a claim), sending nothing meanwhile, then goes on", function()
    stores["memjournal://c4"] = { records = {}, taken = {}, claims_down = 3 }
    local waits = {}
    local report = assert(assert(campaign.new { sender = sender(), journal = "memjournal://c4", csv = CSV,
      rate = 50, on_store_wait = function(w) waits[#waits + 1] = w end }):run())
    assert.equal("done", report.summary.stopped)
    assert.equal(3, report.summary.sent)
    assert.equal(3, #helper.log())
    assert.equal(4, #waits)
    for i, wait in ipairs { 0.1, 0.2, 0.4 } do
      assert.equal("store", waits[i].error.kind)
      assert.is_true(math.abs(waits[i].wait - wait) < 0.01, "wait " .. waits[i].wait)
      assert.equal(60, waits[i].timeout)
    end
    assert.is_true(waits[4].recovered)
    assert.is_true(waits[4].waited >= 0.7)
  end)

  it("keeps an outcome the store did not take and writes it when the store answers", function()
    stores["memjournal://c5"] = { records = {}, taken = {}, writes_down = 2 }
    local report = assert(assert(campaign.new { sender = sender(), journal = "memjournal://c5", csv = CSV,
      rate = 50, concurrency = 1 }):run())
    assert.equal("done", report.summary.stopped)
    assert.equal(3, report.summary.sent)
    assert.equal(3, #helper.log())
    local outcomes = {}
    for _, rec in ipairs(stores["memjournal://c5"].records) do
      if rec.r == "sent" then outcomes[rec.to] = (outcomes[rec.to] or 0) + 1 end
    end
    assert.same({ ["447700900001"] = 1, ["447700900002"] = 1, ["447700900003"] = 1 }, outcomes)
  end)

  it("stops with store_error after store_timeout, the rest pending and nothing sent", function()
    stores["memjournal://c6"] = { records = {}, taken = {}, claims_down = math.huge }
    local t0 = core.monotonic()
    local report = assert(assert(campaign.new { sender = sender(), journal = "memjournal://c6", csv = CSV,
      rate = 50, store_timeout = 0.5 }):run())
    local elapsed = core.monotonic() - t0
    assert.equal("store_error", report.summary.stopped)
    assert.matches("^store: campaign store", report.summary.stop_error)
    assert.equal(3, report.summary.pending)
    assert.equal(0, report.summary.attempted)
    assert.same({}, helper.log())
    assert.is_true(elapsed >= 0.5 and elapsed < 2, "stopped after " .. elapsed)
  end)

  it("needs load and open", function()
    local ok, err = journal.register("halfjournal", { load = backend.load })
    assert.is_nil(ok)
    assert.equal("invalid_argument", err.kind)
    assert.is_truthy(err.message:find("load, open", 1, true))
  end)
end)
