-- convai.avaamo against the sandbox: the documented sample, typed results, date checks, errors.
local helper = require "helper"
local avaamo = require "convai.avaamo"
local http = require "convai.http"
local core = require "convai.core"

local URL, TOKEN = helper.env("CONVAI_AVAAMO_URL"), helper.env("CONVAI_AVAAMO_TOKEN")

local function client(extra)
  local opts = { base_url = URL, access_token = TOKEN }
  for k, v in pairs(extra or {}) do opts[k] = v end
  return assert(avaamo.new(opts))
end

local function fixture()
  local f = assert(io.open("tests/fixtures/avaamo-usage-sample.json"))
  local s = f:read("a")
  f:close()
  return helper.decode(s)
end

local COUNTS = { "session_count", "messages_count", "unhandled_messages_count",
  "successful_responses_count", "ambiguous_messages_count", "interventions_count", "success_rate_count" }

local SAMPLE = { agent_id = 20123, from_date = "10/04/2020", to_date = "13/04/2020", utc_offset = -25200 }

describe("convai.avaamo", function()
  before_each(helper.reset)

  it("defaults base_url to https://cx.avaamo.com", function()
    local c = assert(avaamo.new { access_token = "t" })
    assert.equal("https://cx.avaamo.com", c.http.base_url)
  end)

  it("requires an access_token and never prints it", function()
    local _, err = avaamo.new { base_url = URL }
    assert.equal("invalid_argument", err.kind)
    assert.matches("CONVAI_AVAAMO_TOKEN", err.message)
    local c = client()
    assert.is_nil(tostring(c):find(TOKEN, 1, true))
  end)

  it("returns the documented sample for the documented query, typed", function()
    local r = assert(client():usage(SAMPLE))
    local sample = fixture()
    for _, key in ipairs { "aggregate_stats", "previous_interval_stats" } do
      for field, v in pairs(sample[key]) do
        assert.equal(v, r[key][field], key .. "." .. field)
      end
    end
    assert.equal(9, #r.stats)
    for i, s in ipairs(sample.stats) do
      for field, v in pairs(s) do
        if v == require("cjson").null then
          assert.is_nil(r.stats[i][field])
        else
          assert.equal(v, r.stats[i][field], "stats[" .. i .. "]." .. field)
        end
      end
    end
    -- counts are Lua integers; success_rate a float, or nil for an empty slice
    for _, s in ipairs { r.aggregate_stats, r.previous_interval_stats, table.unpack(r.stats) } do
      for _, field in ipairs(COUNTS) do assert.equal("integer", math.type(s[field]), field) end
    end
    assert.equal("float", math.type(r.aggregate_stats.success_rate))
    assert.equal(91.22, r.aggregate_stats.success_rate)
    assert.is_nil(r.stats[9].success_rate)
    assert.equal(1586540399.8888888, r.stats[1].end_time)
  end)

  it("sends each call's own range, the same range repeated or not, and a default to_date as of today", function()
    local c = client()
    local ranges = {
      { "10/04/2020", "13/04/2020", -25200 }, { "10/04/2020", "13/04/2020", -25200 },
      { "10/04/2020", "13/04/2020", 0 }, { "07/04/2020", "13/04/2020", 0 }, { "01/04/2020", "02/04/2020", 0 },
      { "10/04/2020", "13/04/2020", -25200 },
    }
    for _, r in ipairs(ranges) do
      assert(c:usage { agent_id = 20123, from_date = r[1], to_date = r[2], utc_offset = r[3] })
    end
    local _, err = c:usage { agent_id = 20123, from_date = "10/04/2020", to_date = "09/04/2020" }
    assert.equal("To Date cannot be before From Date", err.message)
    local today = os.date("!%d/%m/%Y")
    c:usage { agent_id = 20123, from_date = os.date("!%d/%m/%Y", os.time() - 3 * 86400) } -- to today
    local log = helper.log()
    assert.equal(#ranges + 1, #log)
    for i, r in ipairs(ranges) do
      assert.same({ from_date = r[1], to_date = r[2], utc_offset = tostring(r[3]) }, log[i].query)
    end
    assert.same({ from_date = os.date("!%d/%m/%Y", os.time() - 3 * 86400), to_date = today, utc_offset = "0" },
      log[#log].query)
    c:close()
  end)

  it("sends the documented query with the Access-Token header", function()
    assert(client():usage(SAMPLE))
    local req = helper.log()[1]
    assert.equal("/avaamo/bots/analytics/20123/usage.json", req.path)
    assert.same({ from_date = "10/04/2020", to_date = "13/04/2020", utc_offset = "-25200" }, req.query)
    assert.equal(TOKEN, req.headers["access-token"])
  end)

  it("returns data that keeps the documented relations elsewhere", function()
    local r = assert(client():usage { agent_id = 7, from_date = "01/03/2024", to_date = "07/03/2024",
      utc_offset = 19800 })
    local agg = r.aggregate_stats
    assert.equal(1709231400, agg.start_time) -- 01/03/2024 00:00 at UTC+05:30
    assert.equal(1709231400 + 7 * 86400 - 1, agg.end_time)
    assert.equal(agg.start_time, r.previous_interval_stats.end_time)
    for _, s in ipairs { agg, r.previous_interval_stats, table.unpack(r.stats) } do
      assert.equal(s.messages_count - s.unhandled_messages_count - s.ambiguous_messages_count,
        s.successful_responses_count)
      if s.messages_count == 0 then
        assert.is_nil(s.success_rate)
      else
        assert.near(s.successful_responses_count / s.messages_count * 100, s.success_rate, 0.006)
      end
      assert.is_true(s.success_rate_count <= s.successful_responses_count + s.ambiguous_messages_count)
      assert.is_true(s.success_rate_count >= s.successful_responses_count)
    end
    local d = (agg.end_time - agg.start_time) / 9
    for i, s in ipairs(r.stats) do
      assert.near(agg.start_time + (i - 1) * d, s.start_time, 0.001)
    end
    assert.equal(agg.end_time, r.stats[9].end_time)
  end)

  describe("a range longer than 7 days (docs/api-notes.md §2: split into <= 7-day windows, merge)", function()
    local Q = { agent_id = 7, from_date = "01/03/2024", to_date = "20/03/2024", utc_offset = 19800 }
    local function window(from_date, to_date)
      return assert(client():usage { agent_id = 7, from_date = from_date, to_date = to_date, utc_offset = 19800 })
    end
    local function sums(list)
      local t = {}
      for _, f in ipairs(COUNTS) do
        t[f] = 0
        for _, s in ipairs(list) do t[f] = t[f] + s[f] end
      end
      return t
    end

    it("queries the range and its previous interval in windows of 7, 7 and 6 days, and merges them", function()
      local r = assert(client():usage(Q))
      local queries = {}
      for _, e in ipairs(helper.log()) do queries[#queries + 1] = e.query.from_date .. "-" .. e.query.to_date end
      assert.same({ "01/03/2024-07/03/2024", "08/03/2024-14/03/2024", "15/03/2024-20/03/2024",
        "10/02/2024-16/02/2024", "17/02/2024-23/02/2024", "24/02/2024-29/02/2024" }, queries)
      assert.same({ { from_date = "01/03/2024", to_date = "07/03/2024" },
        { from_date = "08/03/2024", to_date = "14/03/2024" }, { from_date = "15/03/2024", to_date = "20/03/2024" } },
        r.windows)
      -- the merged objects are the sums of the windows' own answers
      local w = { window("01/03/2024", "07/03/2024"), window("08/03/2024", "14/03/2024"),
        window("15/03/2024", "20/03/2024") }
      local p = { window("10/02/2024", "16/02/2024"), window("17/02/2024", "23/02/2024"),
        window("24/02/2024", "29/02/2024") }
      local agg, prev = r.aggregate_stats, r.previous_interval_stats
      local want = sums { w[1].aggregate_stats, w[2].aggregate_stats, w[3].aggregate_stats }
      local want_prev = sums { p[1].aggregate_stats, p[2].aggregate_stats, p[3].aggregate_stats }
      for _, f in ipairs(COUNTS) do
        assert.equal(want[f], agg[f], f)
        assert.equal(want_prev[f], prev[f], f)
        assert.equal("integer", math.type(agg[f]), f)
      end
      assert.equal(1709231400, agg.start_time) -- 01/03/2024 00:00 at UTC+05:30
      assert.equal(1709231400 + 20 * 86400 - 1, agg.end_time)
      assert.equal(agg.start_time - 20 * 86400, prev.start_time)
      assert.equal(agg.start_time - 1, prev.end_time)
      for _, s in ipairs { agg, prev } do
        assert.equal(s.messages_count - s.unhandled_messages_count - s.ambiguous_messages_count,
          s.successful_responses_count)
        assert.near(s.successful_responses_count / s.messages_count * 100, s.success_rate, 0.0051)
        assert.equal(s.success_rate, math.floor(s.success_rate * 100 + 0.5) / 100)
      end
      -- every window's 9 slices, in time order
      assert.equal(27, #r.stats)
      for k = 1, 3 do
        for i = 1, 9 do assert.same(w[k].stats[i], r.stats[(k - 1) * 9 + i]) end
      end
      for i = 2, 27 do assert.is_true(r.stats[i].start_time >= r.stats[i - 1].start_time) end
    end)

    it("sends a range of 7 days or less as it is, and any range as it is with split = false", function()
      local r = assert(client():usage { agent_id = 7, from_date = "01/03/2024", to_date = "07/03/2024" })
      assert.is_nil(r.windows)
      assert.equal(9, #r.stats)
      r = assert(client():usage { agent_id = 7, from_date = "01/03/2024", to_date = "20/03/2024", split = false })
      assert.is_nil(r.windows)
      assert.equal(9, #r.stats)
      local log = helper.log()
      assert.equal(2, #log)
      assert.equal("20/03/2024", log[2].query.to_date)
      local _, err = client():usage { agent_id = 7, split = "no" }
      assert.equal("invalid_argument", err.kind)
    end)

    it("refuses a range over 366 days, sending nothing", function()
      local _, err = client():usage { agent_id = 7, from_date = "01/01/2023", to_date = "02/01/2024" }
      assert.equal("invalid_argument", err.kind)
      assert.equal("the range 01/01/2023 to 02/01/2024 spans 367 days; at most 366 are accepted (query shorter "
        .. "ranges)", err.message)
      assert(client():usage { agent_id = 7, from_date = "01/01/2023", to_date = "01/01/2024" }) -- 366: 53 windows
      assert.equal(106, #helper.log())
    end)

    it("stops at the first window that fails and says which", function()
      helper.admin("POST", "/_sandbox/faults", { path = "/avaamo/bots/analytics/7/usage.json", fault = "status",
        status = 500, count = 1 })
      local r, err = client { retry = false }:usage(Q)
      assert.is_nil(r)
      assert.equal("server", err.kind)
      assert.same({ from_date = "01/03/2024", to_date = "07/03/2024" }, err.window)
      assert.matches("window 01/03/2024 to 07/03/2024 of a range split in 7%-day windows", err.message)
      assert.equal(1, #helper.log())
    end)
  end)

  it("sends today and three days before by default", function()
    assert(client():usage { agent_id = 1, utc_offset = 0 })
    local q = helper.log()[1].query
    local today = math.floor(os.time() / 86400)
    assert.equal(core.format_date(today), q.to_date)
    assert.equal(core.format_date(today - 3), q.from_date)
    assert.equal("0", q.utc_offset)
  end)

  it("refuses to_date before from_date with the API's own words and sends nothing", function()
    local r, err = client():usage { agent_id = 1, from_date = "13/04/2020", to_date = "10/04/2020" }
    assert.is_nil(r)
    assert.equal("invalid_argument", err.kind)
    assert.equal("To Date cannot be before From Date", err.message)
    assert.same({}, helper.log())
  end)

  it("refuses dates that are not real dd/mm/yyyy or yyyy-mm-dd dates and sends nothing", function()
    local c = client()
    for _, bad in ipairs { "31/02/2024", "29/02/2023", "2024-02-30", "2024-2-01", "1/2/2024", "32/01/2024", "00/01/2024",
      "01/13/2024", 20240101 } do
      local _, err = c:usage { agent_id = 1, from_date = bad, to_date = "01/01/2025" }
      assert.equal("invalid_argument", err.kind, tostring(bad))
      assert.matches("from_date", err.message)
    end
    assert(c:usage { agent_id = 1, from_date = "29/02/2024", to_date = "01/03/2024" })
    assert.equal(1, #helper.log())
  end)

  it("takes ISO dates, +HH:MM zones and last = '7d', and sends dd/mm/yyyy and seconds", function()
    local c = client()
    assert(c:usage { agent_id = 1, from_date = "2024-02-28", to_date = "2024-03-01", utc_offset = "+05:30" })
    assert(c:usage { agent_id = 1, last = "7d", to_date = "2024-03-01", utc_offset = "-07:00" })
    local log = helper.log()
    assert.same({ utc_offset = "19800", from_date = "28/02/2024", to_date = "01/03/2024" }, log[1].query)
    assert.same({ utc_offset = "-25200", from_date = "24/02/2024", to_date = "01/03/2024" }, log[2].query)
  end)

  it("avaamo.range resolves last, days and zones without sending anything", function()
    local now = 1709251200 -- 2024-03-01 00:00:00 UTC
    assert.same({ from_date = "24/02/2024", to_date = "01/03/2024", utc_offset = 0 },
      avaamo.range { last = "7d", now = now })
    assert.same({ from_date = "23/02/2024", to_date = "29/02/2024", utc_offset = -3600 },
      avaamo.range { last = "1w", utc_offset = "-01:00", now = now })
    assert.same({ from_date = "02/12/2023", to_date = "01/03/2024", utc_offset = 19800 },
      avaamo.range { last = "3m", utc_offset = 19800, now = now })
    assert.same({ from_date = "27/02/2024", to_date = "01/03/2024", utc_offset = 0 }, avaamo.range { now = now })
    assert.same({ from_date = "31/01/2024", to_date = "02/02/2024", utc_offset = 0 },
      avaamo.range { from_date = "2024-01-31", to_date = "02/02/2024" })
  end)

  it("checks utc_offset as integer seconds in [-43200, 50400]", function()
    local c = client()
    for _, bad in ipairs { 50401, -43201, 1.5, "abc", "3600s" } do
      local _, err = c:usage { agent_id = 1, utc_offset = bad }
      assert.equal("invalid_argument", err.kind)
      assert.matches("utc_offset", err.message)
    end
    assert.same({}, helper.log())
    assert(c:usage { agent_id = 1, utc_offset = 50400 })
    assert(c:usage { agent_id = 1, utc_offset = "-43200" })
  end)

  it("refuses a bad agent_id, including path tricks", function()
    for _, bad in ipairs { "1/../../x", 0, -3, "abc", false, 2.5 } do
      local _, err = client():usage { agent_id = bad }
      assert.equal("invalid_argument", err.kind)
    end
    assert.same({}, helper.log())
  end)

  it("maps the API's 422 to unprocessable with the decoded body", function()
    local t = client().http
    local body, err = t:json("GET", "/bots/analytics/1/usage.json",
      http.query { { "from_date", "13/04/2020" }, { "to_date", "10/04/2020" } })
    assert.is_nil(body)
    assert.equal("unprocessable", err.kind)
    assert.equal(422, err.status)
    assert.same({ error = "To Date cannot be before From Date" }, err.body)
    assert.matches("To Date cannot be before From Date", tostring(err))
  end)

  it("maps a wrong token to auth", function()
    local _, err = client { access_token = "nope" }:usage(SAMPLE)
    assert.equal("auth", err.kind)
    assert.equal(401, err.status)
  end)
end)
