-- convai.chart and convai.dates as pure functions: no sandbox, no terminal.
local chart = require "convai.chart"
local dates = require "convai.dates"
local core = require "convai.core"

local DATA = {
  title = "Avaamo agent 7, 01/03/2024 to 01/03/2024 (UTC-03:30)",
  totals = { "aggregate: 30 messages", "previous interval: 10 messages" },
  offset = -12600,
  slices = {
    { start_time = 1709263800, end_time = 1709273399, messages = 20, success_rate = 90.0 },
    { start_time = 1709273400, end_time = 1709282999, messages = 0 },
    { start_time = 1709283000, end_time = 1709292599, messages = 10, success_rate = 50.5 },
  },
}

describe("convai.chart", function()
  it("draws plain ASCII bars proportional to the counts, no escape sequence", function()
    local text = chart.text(DATA, { width = 60, color = false })
    assert.is_nil(text:find("\27", 1, true))
    local bars = {}
    for bar in text:gmatch("\n%d%d%d%d%-%d%d%-%d%d %d%d:%d%d +(#*) ") do bars[#bars + 1] = #bar end
    assert.equal(3, #bars)
    assert.equal(0, bars[2])
    assert.is_true(math.abs(bars[1] - 2 * bars[3]) <= 1, bars[1] .. " vs " .. bars[3])
    assert.matches("\n2024%-03%-01 00:00 +#+ +20   90%.00%%\n", text)
    assert.matches("start %(UTC%-03:30%)", text)
    for line in text:gmatch("[^\n]+") do assert.is_true(#line <= 60, line) end
  end)

  it("uses colour and block characters only when asked", function()
    local text = chart.text(DATA, { width = 60, color = true })
    assert.truthy(text:find("\27[36m\226\150\136", 1, true))
    assert.truthy(text:find("\27[0m", 1, true))
  end)

  it("gives the same bytes for the same data, and a gap in the success-rate line where there is none", function()
    local svg = chart.svg(DATA)
    assert.equal(svg, chart.svg(DATA))
    assert.equal(3, select(2, svg:gsub('<rect class="bar"', "")))
    local d = svg:match('<path class="success%-rate" d="([^"]+)"')
    assert.matches("^M[%d.]+ [%d.]+ M[%d.]+ [%d.]+$", d)
    assert.truthy(svg:find("aggregate: 30 messages; previous interval: 10 messages", 1, true))
  end)

  it("escapes text for XML", function()
    local svg = chart.svg { title = 'a <b> & "c"', totals = {}, offset = 0, slices = {} }
    assert.truthy(svg:find("a &lt;b&gt; &amp; &quot;c&quot;", 1, true))
  end)
end)

describe("convai.dates", function()
  it("names zones and reads offsets as people write them", function()
    assert.equal("UTC-03:30", dates.zone_name(-12600))
    assert.equal("UTC+05:45", dates.zone_name(20700))
    assert.equal(-12600, dates.utc_offset("-03:30"))
    assert.equal(20700, dates.utc_offset("+0545"))
    assert.equal(-43200, dates.utc_offset("-12:00"))
    assert.is_nil(dates.utc_offset("-12:30"))
    assert.is_nil(dates.utc_offset("+05:60"))
  end)

  it("counts months back on the calendar, clamped to the month's end", function()
    local function last(v, to) return core.format_date(dates.last(v, dates.day(to))) end
    assert.equal("01/03/2024", last("3m", "2024-05-31")) -- 31/02 is 29/02, the day after
    assert.equal("01/03/2023", last("12m", "2024-02-29")) -- 29/02/2023 is 28/02
    assert.equal("01/01/2024", last("1m", "2024-01-31"))
    assert.equal("31/12/2023", last("1d", "2023-12-31"))
    assert.equal("02/02/2024", last("4w", "2024-02-29"))
  end)

  it("takes today in the zone", function()
    local midnight = 1709251200 -- 2024-03-01 00:00:00 UTC
    assert.equal("29/02/2024", core.format_date(dates.today(-3600, midnight)))
    assert.equal("01/03/2024", core.format_date(dates.today(3600, midnight - 1800)))
  end)
end)
