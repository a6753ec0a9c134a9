--- convai.campaign.html: a joined campaign report (`convai.campaign.delivery`) as one self-contained
-- HTML page: the summary as a table and a chart of sends and deliveries over time (cumulative counts),
-- drawn as inline SVG by the page's own script from the data embedded in it. No network: no external
-- script, style sheet, font or image.
--
-- In the page: `#summary` (a row per summary field: `<th>` name, `<td>` value), `#chart` (an SVG with a
-- `circle.send` per sent recipient with a send time and a `circle.delivery` per recipient delivered or
-- read with a delivery time), `#data` (the JSON the chart is drawn from).
--
-- @module convai.campaign.html
local core = require "convai.core"

local type, tostring, ipairs, pairs = type, tostring, ipairs, pairs
local format, gsub = string.format, string.gsub
local concat, sort = table.concat, table.sort

local _M = {}

local ESCAPES = { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;", ["'"] = "&#39;" }

local function escape(s)
  return (gsub(tostring(s), "[&<>\"']", ESCAPES))
end

-- The order of the summary's rows: these first, then the others by name.
local FIRST = { "recipients", "sent", "failed", "unknown", "pending", "reconciled", "submitted", "delivered",
  "read", "rejected", "undeliverable", "no_status", "delivered_rate", "read_rate" }

local function summary_rows(summary)
  local rows, seen = {}, {}
  local function add(k)
    local v = summary[k]
    if v == nil or seen[k] or type(v) == "table" then return end
    seen[k] = true
    if (k == "delivered_rate" or k == "read_rate") and type(v) == "number" then
      v = format("%.1f%%", v * 100)
    end
    rows[#rows + 1] = format('<tr data-field="%s"><th>%s</th><td>%s</td></tr>', escape(k),
      escape((gsub(k, "_", " "))), escape(v))
  end
  for _, k in ipairs(FIRST) do add(k) end
  local rest = {}
  for k in pairs(summary) do rest[#rest + 1] = k end
  sort(rest)
  for _, k in ipairs(rest) do add(k) end
  return concat(rows, "\n")
end

-- The chart's series: sorted times (seconds since the epoch) of sends and of deliveries.
local function series(entries)
  local sends, deliveries = {}, {}
  for _, e in ipairs(entries) do
    if e.outcome == "sent" and type(e.at) == "number" then sends[#sends + 1] = e.at end
    if type(e.delivered_at) == "number" then deliveries[#deliveries + 1] = e.delivered_at end
  end
  sort(sends)
  sort(deliveries)
  return sends, deliveries
end

local SCRIPT = [==[
(function () {
  var data = JSON.parse(document.getElementById("data").textContent);
  var svg = document.getElementById("chart"), NS = "http://www.w3.org/2000/svg";
  var W = 800, H = 320, L = 50, R = 20, T = 20, B = 40;
  var all = data.sends.concat(data.deliveries);
  if (all.length === 0) { document.getElementById("nochart").hidden = false; return; }
  var t0 = Math.min.apply(null, all), t1 = Math.max.apply(null, all);
  var span = t1 - t0 || 1, top = Math.max(data.sends.length, data.deliveries.length, 1);
  function x(t) { return L + (t - t0) / span * (W - L - R); }
  function y(n) { return H - B - n / top * (H - T - B); }
  function el(name, attrs, text) {
    var e = document.createElementNS(NS, name);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    svg.appendChild(e);
    return e;
  }
  el("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, stroke: "#888" });
  el("line", { x1: L, y1: T, x2: L, y2: H - B, stroke: "#888" });
  el("text", { x: L - 6, y: y(top) + 4, "text-anchor": "end", "font-size": 11 }, String(top));
  el("text", { x: L - 6, y: H - B + 4, "text-anchor": "end", "font-size": 11 }, "0");
  el("text", { x: W - R, y: H - 10, "text-anchor": "end", "font-size": 11 }, span.toFixed(1) + " s");
  [["sends", "send", "#1f77b4"], ["deliveries", "delivery", "#2ca02c"]].forEach(function (s) {
    var pts = data[s[0]].map(function (t, i) { return [x(t), y(i + 1)]; });
    if (pts.length > 1) {
      el("polyline", { points: pts.map(function (p) { return p.join(","); }).join(" "), fill: "none",
        stroke: s[2], "class": s[1] + "-line" });
    }
    pts.forEach(function (p) { el("circle", { cx: p[0], cy: p[1], r: 3, fill: s[2], "class": s[1] }); });
  });
  document.getElementById("points").textContent =
    data.sends.length + " sends, " + data.deliveries.length + " deliveries";
})();
]==]

--- The page of a joined report.
-- @tparam table rep `{summary, entries}` (`convai.campaign.delivery.report`)
-- @tparam[opt] string title the page's title (default "convai campaign report")
-- @treturn string|nil the HTML text, or nil and a message (the data not JSON-encodable)
function _M.page(rep, title)
  local sends, deliveries = series(rep.entries)
  local data, err = core.json_encode { sends = core.array(sends), deliveries = core.array(deliveries) }
  if not data then return nil, err end
  title = escape(title or "convai campaign report")
  return concat {
    '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>', title, '</title>\n',
    '<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}',
    'th,td{border:1px solid #ccc;padding:2px 8px;text-align:left}</style></head><body>\n',
    '<h1>', title, '</h1>\n<h2>Summary</h2>\n<table id="summary">\n', summary_rows(rep.summary),
    '\n</table>\n<h2>Sends and deliveries over time</h2>\n<p id="points"></p>',
    '<p id="nochart" hidden>No send or delivery time to chart.</p>\n',
    '<svg id="chart" xmlns="http://www.w3.org/2000/svg" width="800" height="320" ',
    'viewBox="0 0 800 320"></svg>\n',
    '<script type="application/json" id="data">', (gsub(data, "</", "<\\/")), '</script>\n',
    '<script>', SCRIPT, '</script>\n</body></html>\n',
  }
end

return _M
