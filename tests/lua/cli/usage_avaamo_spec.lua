-- `convai usage avaamo` with dates as people write them (--last, ISO dates, +HH:MM zones) and its
-- charts (--chart in the terminal, --svg FILE), as a user runs it: real process, real sandbox.
local helper = require "helper"
local dates = require "convai.dates"
local core = require "convai.core"

local cli = helper.cli
local sandbox_helper = require "sandbox_helper"

-- The queries the sandbox received, in order: {utc_offset=, from_date=, to_date=}.
local function queries()
  local out = {}
  for i, e in ipairs(helper.log()) do out[i] = e.query end
  return out
end

describe("convai usage avaamo: dates", function()
  before_each(helper.reset)

  it("accepts ISO dates and +HH:MM zones, sends dd/mm/yyyy and seconds, shows times in the zone", function()
    local code, out, err = cli { "usage", "avaamo", "--agent-id", "7", "--from", "2024-03-01", "--to",
      "2024-03-03", "--utc-offset", "+05:30" }
    assert.equal(0, code, err)
    assert.same({ { utc_offset = "19800", from_date = "01/03/2024", to_date = "03/03/2024" } }, queries())
    assert.matches("start %(UTC%+05:30%)%s+end %(UTC%+05:30%)", out)
    assert.matches("\n7%s+aggregate%s+2024%-03%-01 00:00:00%s+2024%-03%-03 23:59:59 ", out)
  end)

  it("accepts a negative -HH:MM offset after a space", function()
    local code, out, err = cli { "usage", "avaamo", "--agent-id", "7", "--from", "01/03/2024", "--to",
      "01/03/2024", "--utc-offset", "-07:00" }
    assert.equal(0, code, err)
    assert.equal("-25200", queries()[1].utc_offset)
    assert.matches("start %(UTC%-07:00%)", out)
    assert.matches("\n7%s+aggregate%s+2024%-03%-01 00:00:00 ", out)
  end)

  it("says UTC when no zone is given", function()
    local code, out = cli { "usage", "avaamo", "--agent-id", "7", "--from", "01/03/2024", "--to", "01/03/2024" }
    assert.equal(0, code)
    assert.matches("start %(UTC%)%s+end %(UTC%)", out)
  end)

  it("--last 7d, 4w and 3m end today in the zone", function()
    for _, case in ipairs { { "7d", 7 }, { "4w", 28 } } do
      helper.reset()
      local code, _, err = cli { "usage", "avaamo", "--agent-id", "7", "--last", case[1], "--utc-offset", "+14:00",
        "--no-split" }
      assert.equal(0, code, err)
      local today = dates.today(50400)
      local q = queries()[1]
      assert.equal(core.format_date(today), q.to_date, case[1])
      assert.equal(core.format_date(today - case[2] + 1), q.from_date, case[1])
    end
    helper.reset()
    local code, _, err = cli { "usage", "avaamo", "--agent-id", "7", "--last", "3m", "--to", "2024-05-31",
      "--no-split" }
    assert.equal(0, code, err)
    assert.same({ utc_offset = "0", from_date = "01/03/2024", to_date = "31/05/2024" }, queries()[1])
  end)

  it("refuses --last with --from, a bad --last and a bad zone, exit 2, nothing sent", function()
    for _, case in ipairs {
      { { "--last", "7d", "--from", "2024-01-01" }, "give --last or --from, not both" },
      { { "--last", "7" }, 'last must be a number of days, weeks or months ending today, e.g. 7d, 4w or 3m, got "7"' },
      { { "--utc-offset", "+5:3" }, 'or +HH:MM / -HH:MM (e.g. +05:30, -07:00), got "+5:3"' },
      { { "--from", "2024-02-30" }, 'from_date: "2024-02-30" is not a calendar date' },
    } do
      local args = { "usage", "avaamo", "--agent-id", "7" }
      for _, a in ipairs(case[1]) do args[#args + 1] = a end
      local code, out, err = cli(args)
      assert.equal(2, code, table.concat(args, " "))
      assert.equal("", out)
      assert.truthy(err:find(case[2], 1, true), err)
    end
    assert.same({}, helper.log())
  end)
end)

describe("convai usage avaamo: charts", function()
  before_each(helper.reset)
  local RANGE = { "usage", "avaamo", "--agent-id", "7", "--from", "2024-03-01", "--to", "2024-03-03",
    "--utc-offset", "+05:30" }
  local function with(extra)
    local t = {}
    for i, v in ipairs(RANGE) do t[i] = v end
    for _, v in ipairs(extra) do t[#t + 1] = v end
    return t
  end

  it("--chart draws one bar per slice in plain characters on a pipe, sized to COLUMNS", function()
    local code, out, err = cli(with { "--chart" }, { COLUMNS = "100" })
    assert.equal(0, code, err)
    assert.is_nil(out:find("\27", 1, true), "no escape sequence on a pipe")
    assert.matches("^Avaamo agent 7, 01/03/2024 to 03/03/2024 %(UTC%+05:30%)\naggregate: %d+ messages, %d+ "
      .. "sessions, success rate [%d.]+%%\nprevious interval: %d+ messages", out)
    local json = select(2, cli(with { "--format", "json" }))
    local stats = helper.decode(json).stats
    local rows, bars, longest, top = {}, {}, 0, 0
    for _, s in ipairs(stats) do if s.messages_count > top then top = s.messages_count end end
    for line in out:gmatch("[^\n]+") do
      assert.is_true(#line <= 100, "wider than COLUMNS: " .. line)
      if line:match("^%d%d%d%d%-%d%d%-%d%d %d%d:%d%d +") then
        rows[#rows + 1] = line
        local bar = line:sub(#"start (UTC+05:30)  " + 1):match("^#*") -- the label column is the header's width
        if #bar > longest then longest = #bar end
        bars[#rows] = #bar
        assert.matches(string.format(" %d  ", stats[#rows].messages_count), line)
      end
    end
    assert.equal(9, #rows)
    for i, s in ipairs(stats) do -- bar lengths follow the data
      local want = math.floor(s.messages_count / top * longest + 0.5)
      if want == 0 and s.messages_count > 0 then want = 1 end
      assert.equal(want, bars[i], "slice " .. i)
    end
    assert.matches("^2024%-03%-01 00:00", rows[1])
    assert.is_true(longest >= 50, "the longest bar uses the width")
    -- The table is not printed with --chart.
    assert.is_nil(out:find("previous  ", 1, true))
  end)

  it("--chart with NO_COLOR set stays plain; --chart with --format json is refused", function()
    local code, out = cli(with { "--chart" }, { NO_COLOR = "1" })
    assert.equal(0, code)
    assert.is_nil(out:find("\27", 1, true))
    helper.reset()
    local err
    code, out, err = cli(with { "--chart", "--format", "json" })
    assert.equal(2, code)
    assert.equal("", out)
    assert.matches("%-%-chart draws in the terminal instead of the table; it cannot be combined with %-%-format json",
      err)
    assert.same({}, helper.log())
  end)

  describe("--svg FILE", function()
    local dir
    before_each(function() dir = sandbox_helper.mktemp_dir("chart") end)
    after_each(function() os.execute("rm -rf " .. dir) end)

    local function svg_of(extra)
      local path = dir .. "/chart.svg"
      local args = with { "--svg", path, "--format", "json" }
      for _, v in ipairs(extra or {}) do args[#args + 1] = v end
      local code, out, err = cli(args)
      assert.equal(0, code, err)
      return path, helper.decode(out)
    end

    local function xpath(path, expr)
      local out, code = sandbox_helper.shell("xmllint --xpath " .. string.format("%q", expr) .. " " .. path)
      assert.equal(0, code, out)
      return (out:gsub("%s+$", ""))
    end

    it("is well-formed XML with a bar per slice whose heights follow the data", function()
      local path, r = svg_of()
      local msg, code = sandbox_helper.shell("xmllint --noout " .. path .. " 2>&1")
      assert.equal(0, code, msg)
      assert.equal("9", xpath(path, "count(//*[local-name()='rect'][@class='bar'])"))
      local text = sandbox_helper.read_file(path)
      local bars = {}
      for m, h in text:gmatch('<rect class="bar" data%-messages="(%d+)" x="[%d.]+" y="[%d.]+" width="[%d.]+" '
        .. 'height="([%d.]+)"') do
        bars[#bars + 1] = { tonumber(m), tonumber(h) }
      end
      assert.equal(9, #bars)
      local ratio
      for i, b in ipairs(bars) do
        assert.equal(r.stats[i].messages_count, b[1])
        if b[1] > 0 then
          ratio = ratio or b[2] / b[1]
          assert.near(ratio, b[2] / b[1], ratio * 0.01 + 0.02 / b[1])
        else
          assert.equal(0, b[2])
        end
      end
      assert.is_true(ratio > 0)
      -- The title carries the range, the zone and the totals; the axis the slices' times in the zone.
      local title = xpath(path, "string(//*[local-name()='text'][@class='subtitle'])")
      assert.truthy(title:find(string.format("aggregate: %d messages", r.aggregate_stats.messages_count), 1, true), title)
      assert.truthy(title:find(string.format("previous interval: %d messages", r.previous_interval_stats.messages_count), 1,
        true), title)
      assert.truthy(text:find("(UTC+05:30)", 1, true))
      assert.truthy(text:find(">2024-03-01 00:00</text>", 1, true))
      assert.truthy(text:find('<path class="success-rate" d="M', 1, true))
    end)

    it("shows every window's slices in time order for a split range", function()
      local path, r = svg_of { "--to", "2024-03-10" }
      assert.equal(18, #r.stats)
      assert.equal("18", xpath(path, "count(//*[local-name()='rect'][@class='bar'])"))
      assert.equal("1", xpath(path, "count(//*[local-name()='line'][@class='window'])"))
      local text, last = sandbox_helper.read_file(path), nil
      for t in text:gmatch('<rect class="bar".-<title>([%d%- :]+):') do
        assert.is_true(last == nil or t > last, "slices out of order: " .. t)
        last = t
      end
    end)

    it("renders to PNG with rsvg-convert", function()
      if not os.execute("command -v rsvg-convert >/dev/null") then
        return pending("rsvg-convert (librsvg2-bin) is not installed: scripts/deps")
      end
      local path = svg_of()
      local msg, code = sandbox_helper.shell("rsvg-convert -o " .. dir .. "/chart.png " .. path .. " 2>&1")
      assert.equal(0, code, msg)
      assert.equal("\137PNG", sandbox_helper.read_file(dir .. "/chart.png"):sub(1, 4))
    end)

    it("refuses a path that cannot be written before sending anything, exit 2", function()
      local code, out, err = cli(with { "--svg", dir .. "/missing/chart.svg" })
      assert.equal(2, code)
      assert.equal("", out)
      assert.matches("%-%-svg: cannot write .*missing/chart.svg: No such file or directory", err)
      assert.same({}, helper.log())
    end)
  end)
end)
