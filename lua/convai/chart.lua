--- convai.chart: usage slices drawn as a picture, in the terminal or as a standalone SVG.
--
-- Pure functions from data to text: no I/O, no terminal queries (the caller says how wide and whether
-- colour is allowed). The data is a series of slices in time order, each with a count (bars) and a
-- percentage (the success-rate line), plus a title and the zone the times are shown in. Both drawings
-- are deterministic: the same data gives the same bytes. Why hand-written SVG rather than gnuplot:
-- docs/clients.md "Charts".
--
-- @module convai.chart
local dates = require "convai.dates"

local format, rep, concat, gsub = string.format, string.rep, table.concat, string.gsub
local floor, ceil, max, log = math.floor, math.ceil, math.max, math.log
local ipairs, tostring = ipairs, tostring

local _M = {}

--- The shape both drawings take.
-- @table data
-- @field title string, the first line
-- @field totals `{string, ...}`, the lines under the title (the aggregate's and the previous interval's
--   totals): one line each in the terminal, one line joined by `"; "` in the SVG
-- @field offset integer, the zone of the times shown, seconds east of UTC
-- @field slices `{{start_time = epoch s, end_time = epoch s, messages = integer, success_rate = percent
--   or nil}, ...}` in time order
-- @field boundaries optional list of slice indexes that start a new window (a vertical rule before each)

-- Slices start at fractional seconds (a ninth of a window that ends at 23:59:59): their labels are
-- rounded to the minute (`+ 30`; `local_time` drops the rest), so that 15:59:59.4 reads 16:00, and the
-- bars' tooltips to the second (`+ 0.5`).

-- Percent with two decimals, or "-" when there is none.
local function percent(v)
  return v and format("%.2f%%", v) or "-"
end

--- The chart as terminal lines: one row per slice, its start in the zone, a bar as long as its share of
-- the largest count, the count and the success rate.
-- @tparam table data see `data`
-- @tparam table opts
-- @tparam integer opts.width columns available (at least 40 are used)
-- @tparam boolean opts.color ANSI colours and block characters; false: plain ASCII (`#`), for a pipe, a
--   file or `NO_COLOR`
-- @treturn string the lines, each ending with a newline
function _M.text(data, opts)
  local width = max(40, opts.width or 80)
  local slices = data.slices
  local top, count_w = 0, #"messages"
  for _, s in ipairs(slices) do
    if s.messages > top then top = s.messages end
    count_w = max(count_w, #tostring(s.messages))
  end
  local start_label = "start (" .. dates.zone_name(data.offset) .. ")"
  local label_w = max(16, #start_label) -- "yyyy-mm-dd HH:MM", or the header's longer label
  local bar_w = max(10, width - label_w - count_w - 7 - 6)
  local lines = { data.title }
  for _, t in ipairs(data.totals) do lines[#lines + 1] = t end
  lines[#lines + 1] = format("%-" .. label_w .. "s  %-" .. bar_w .. "s  %" .. count_w .. "s  %7s",
      start_label, "messages per slice", "messages", "success")
  local on, off = "", ""
  if opts.color then on, off = "\27[36m", "\27[0m" end
  local boundary = {}
  for _, i in ipairs(data.boundaries or {}) do boundary[i] = true end
  for i, s in ipairs(slices) do
    if boundary[i] then lines[#lines + 1] = rep("-", label_w) end
    local n = top > 0 and floor(s.messages / top * bar_w + 0.5) or 0
    if n == 0 and s.messages > 0 then n = 1 end
    local bar = opts.color and rep("\226\150\136", n) or rep("#", n) -- U+2588 FULL BLOCK, or ASCII
    lines[#lines + 1] = format("%-" .. label_w .. "s  %s%s%s%s  %" .. count_w .. "d  %7s",
      dates.local_time(s.start_time + 30, data.offset, "%Y-%m-%d %H:%M"), on, bar, off, rep(" ", bar_w - n),
      s.messages, percent(s.success_rate))
  end
  return concat(lines, "\n") .. "\n"
end

local XML_ESCAPES = { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;" }
local function xml(s)
  return (gsub(tostring(s), '[&<>"]', XML_ESCAPES))
end

-- A round upper bound for the count axis (1, 2 or 5 times a power of ten) and its tick step.
local function nice_top(v)
  if v <= 0 then return 5, 1 end
  local p = 10 ^ floor(log(v, 10) + 1e-9)
  for _, m in ipairs { 1, 2, 5, 10 } do
    if m * p >= v then return m * p, m * p / 5 end
  end
  return 10 * p, 2 * p
end

-- Numbers in the SVG: at most two decimals, no trailing zeros, so the output is stable and small.
local function num(v)
  local s = format("%.2f", v)
  s = gsub(gsub(s, "0+$", ""), "%.$", "")
  return s == "-0" and "0" or s
end

--- The geometry of the SVG chart, pixels.
_M.SVG = { width = 960, height = 460, left = 88, right = 72, top = 78, bottom = 112 }

--- The chart as a standalone SVG document: a bar per slice (`<rect class="bar" data-messages="N">`,
-- height proportional to its count on the left axis), the success-rate line on the right axis (0-100 %,
-- `<path class="success-rate">`, broken where a slice has no message), the slices' start times on the
-- bottom axis in the zone, the title and totals at the top.
-- @tparam table data see `data`
-- @treturn string the SVG document (UTF-8)
function _M.svg(data)
  local g = _M.SVG
  local slices = data.slices
  local n = #slices
  local plot_w, plot_h = g.width - g.left - g.right, g.height - g.top - g.bottom
  local x0, y0 = g.left, g.top + plot_h -- the origin, bottom left of the plot
  local top = 0
  for _, s in ipairs(slices) do if s.messages > top then top = s.messages end end
  local axis_top, step = nice_top(top)
  local slot = plot_w / max(n, 1)
  local out = {
    '<?xml version="1.0" encoding="UTF-8"?>',
    format('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
      .. 'font-family="sans-serif" font-size="12">', g.width, g.height, g.width, g.height),
    format("<title>%s</title>", xml(data.title)),
    format('<rect width="%d" height="%d" fill="white"/>', g.width, g.height),
    format('<text class="title" x="%d" y="28" font-size="16" font-weight="bold">%s</text>', g.left,
      xml(data.title)),
    format('<text class="subtitle" x="%d" y="50">%s</text>', g.left, xml(concat(data.totals, "; "))),
  }
  local function add(...) out[#out + 1] = format(...) end
  -- Axes and gridlines: counts on the left, success rate on the right.
  add('<g class="axes" stroke="#444" fill="none"><path d="M%s %s V%s H%s V%s"/></g>', num(x0), num(g.top),
    num(y0), num(x0 + plot_w), num(g.top))
  add('<g class="y-axis" text-anchor="end">')
  for v = 0, axis_top, step do
    local y = y0 - v / axis_top * plot_h
    add('<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#ddd"/>', num(x0), num(y), num(x0 + plot_w), num(y))
    add('<text x="%s" y="%s">%s</text>', num(x0 - 6), num(y + 4), num(v))
  end
  add('<text x="%s" y="%s" text-anchor="middle" transform="rotate(-90 %s %s)">messages per slice</text>',
    num(16), num(g.top + plot_h / 2), num(16), num(g.top + plot_h / 2))
  add("</g>")
  add('<g class="rate-axis" text-anchor="start" fill="#c0392b">')
  for v = 0, 100, 20 do
    add('<text x="%s" y="%s">%d%%</text>', num(x0 + plot_w + 6), num(y0 - v / 100 * plot_h + 4), v)
  end
  add('<text x="%s" y="%s" text-anchor="middle" transform="rotate(90 %s %s)">success rate</text>',
    num(g.width - 16), num(g.top + plot_h / 2), num(g.width - 16), num(g.top + plot_h / 2))
  add("</g>")
  -- Bars, one per slice, in time order.
  add('<g class="bars" fill="#2e86c1">')
  for i, s in ipairs(slices) do
    local h = s.messages / axis_top * plot_h
    add('<rect class="bar" data-messages="%d" x="%s" y="%s" width="%s" height="%s"><title>%s: %d messages, '
      .. "%s success</title></rect>", s.messages, num(x0 + (i - 1) * slot + slot * 0.1), num(y0 - h),
      num(slot * 0.8), num(h), xml(dates.local_time(s.start_time + 0.5, data.offset)), s.messages,
      percent(s.success_rate))
  end
  add("</g>")
  -- Window boundaries of a split range.
  for _, i in ipairs(data.boundaries or {}) do
    local x = num(x0 + (i - 1) * slot)
    add('<line class="window" x1="%s" y1="%s" x2="%s" y2="%s" stroke="#888" stroke-dasharray="4 3"/>', x,
      num(g.top), x, num(y0))
  end
  -- The success-rate line, a point at the middle of each slice that has one.
  local d, pen = {}, "M"
  for i, s in ipairs(slices) do
    if s.success_rate then
      d[#d + 1] = format("%s%s %s", pen, num(x0 + (i - 0.5) * slot), num(y0 - s.success_rate / 100 * plot_h))
      pen = "L"
    else
      pen = "M"
    end
  end
  if #d > 0 then
    add('<path class="success-rate" d="%s" fill="none" stroke="#c0392b" stroke-width="2"/>', concat(d, " "))
  end
  -- Start times on the bottom axis, at most about 16 labels.
  local every = max(1, ceil(n / 16))
  add('<g class="x-axis" text-anchor="end">')
  for i = 1, n, every do
    local x, y = num(x0 + (i - 0.5) * slot), num(y0 + 14)
    add('<text x="%s" y="%s" transform="rotate(-35 %s %s)">%s</text>', x, y, x, y,
      xml(dates.local_time(slices[i].start_time + 30, data.offset, "%Y-%m-%d %H:%M")))
  end
  add('<text x="%s" y="%s" text-anchor="middle">slice start (%s)</text>', num(x0 + plot_w / 2),
    num(g.height - 8), xml(dates.zone_name(data.offset)))
  add("</g>")
  add("</svg>")
  return concat(out, "\n") .. "\n"
end

return _M
