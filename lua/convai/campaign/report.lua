--- convai.campaign.report: what happened to every recipient of a campaign, and the summary.
--
-- One entry per input row (`sent`, `failed`, `unknown`, `pending`, `invalid`, `duplicate`), and one per
-- recipient of the journal that is no longer in the CSV (`removed`: an amended campaign), in line order,
-- built from the journal's state; written as CSV or JSON, atomically (a temporary file renamed).
--
-- @module convai.campaign.report
local core = require "convai.core"
local journal = require "convai.journal"
local recipients = require "convai.campaign.recipients"

local type, tostring, ipairs, pairs = type, tostring, ipairs, pairs
local format, match, find, gsub = string.format, string.match, string.find, string.gsub
local concat, sort = table.concat, table.sort

local _M = {}

local function message_of(err)
  if type(err) == "table" then return err.message or tostring(err) end
  return tostring(err)
end

--- The message of an error value (a `convai.error` or anything else), for reports.
-- @param err
-- @treturn string
_M.message_of = message_of

--- The vendor's id of a recipient's message: from the answer kept in its `sent` record (`body`), its
-- `message_uuid` (Vonage: what status callbacks carry), else `session_id`, `message_id` or `id`.
-- @tparam[opt] table rec the recipient's last journal record
-- @treturn string|nil
function _M.vendor_id(rec)
  local body = rec and rec.r == "sent" and rec.body
  if type(body) ~= "table" then return nil end
  for _, k in ipairs { "message_uuid", "session_id", "message_id", "id" } do
    if type(body[k]) == "string" and body[k] ~= "" then return body[k] end
  end
  return nil
end

local function count_kinds(list)
  local out = {}
  for _, e in ipairs(list) do out[e] = (out[e] or 0) + 1 end
  return out
end

-- The recipients of the journal that the CSV no longer has: reported `removed` (never sent by this run),
-- with what the journal says of them.
local function removed_entries(c, state, entries)
  local present = {}
  for _, r in ipairs(c.recipients) do present[r.to] = true end
  for _, d in ipairs(c.duplicates) do present[d.to] = true end
  local n = 0
  for to, rec in pairs(state) do
    if not present[to] then
      n = n + 1
      local was = rec.r == "pending" and "unknown" or rec.r
      entries[#entries + 1] = { line = rec.line or 0, to = to, outcome = "removed", status = rec.status,
        kind = rec.kind, message = format("no longer in the recipients CSV (journaled %s)", was) }
    end
  end
  return n
end

-- This run's achieved rate: (k - 1) / (t_last - t_first) over its k accepted sends (their start times);
-- 0 with fewer than two.
local function achieved(stats)
  local k, t1, t2 = stats.sent_now or 0, stats.first_sent_at, stats.last_sent_at
  if k < 2 or not t1 or not t2 or t2 <= t1 then return 0 end
  return (k - 1) / (t2 - t1)
end

--- Build the report of a campaign.
-- @tparam table c the campaign (`recipients`, `invalid`, `duplicates`)
-- @tparam table state `{[to] = last journal record}`
-- @tparam table stats `{throttled, attempted, elapsed (s), sent_now, first_sent_at, last_sent_at
--   (monotonic starts of this run's first and last accepted sends), warnings, pace}`
-- @tparam string stop why the run stopped
-- @treturn table `{summary = {...}, entries = {...}}` (see `campaign:run`)
function _M.build(c, state, stats, stop)
  local entries = {}
  local summary = { sent = 0, failed = 0, unknown = 0, invalid = #c.invalid, pending = 0,
    duplicates = #c.duplicates, failed_by_kind = {}, throttled = stats.throttled,
    recipients = #c.recipients,
    attempted = stats.attempted, elapsed = stats.elapsed, stopped = stop }
  local kinds = {}
  for _, r in ipairs(c.recipients) do
    local rec = state[r.to]
    local outcome = rec and journal.FINAL[rec.r] and rec.r or "pending"
    local e = { line = r.line, to = r.to, outcome = outcome }
    if rec and (rec.r == "sent" or rec.r == "failed") then
      e.status, e.kind, e.message = rec.status, rec.kind, recipients.csv_names(rec.message)
    elseif rec and rec.r == "unknown" then
      e.message = recipients.csv_names(rec.message)
    end
    e.vendor_id = _M.vendor_id(rec)
    if outcome == "failed" then kinds[#kinds + 1] = rec.kind or "unknown" end
    summary[outcome] = summary[outcome] + 1
    entries[#entries + 1] = e
  end
  summary.failed_by_kind = count_kinds(kinds)
  for _, i in ipairs(c.invalid) do
    entries[#entries + 1] = { line = i.line, to = i.to, outcome = "invalid", message = i.message }
  end
  for _, d in ipairs(c.duplicates) do
    entries[#entries + 1] = { line = d.line, to = d.to, outcome = "duplicate",
      message = format("same number as line %d", d.first_line) }
  end
  summary.removed = removed_entries(c, state, entries)
  sort(entries, function(a, b)
    if a.line ~= b.line then return a.line < b.line end
    return a.outcome < b.outcome
  end)
  summary.rate = achieved(stats)
  summary.sent_now = stats.sent_now
  summary.pace = stats.pace
  if stats.warnings and #stats.warnings > 0 then summary.warnings = core.array(stats.warnings) end
  return { summary = summary, entries = entries }
end

local function csv_field(v)
  if v == nil then return "" end
  v = tostring(v)
  if find(v, '[,"\r\n]') then v = '"' .. gsub(v, '"', '""') .. '"' end
  return v
end

--- The columns of a CSV report, in order (the delivery ones are empty without statuses joined).
_M.COLUMNS = { "line", "to", "outcome", "status", "kind", "message", "vendor_id", "delivery", "delivery_at",
  "delivery_error" }

local function csv_text(report)
  local lines = { concat(_M.COLUMNS, ",") }
  for _, e in ipairs(report.entries) do
    local row = {}
    for i, k in ipairs(_M.COLUMNS) do row[i] = csv_field(e[k]) end
    lines[#lines + 1] = concat(row, ",")
  end
  return concat(lines, "\r\n") .. "\r\n"
end

--- The report's text: CSV (`COLUMNS`) or JSON (`{summary, recipients}`).
-- @tparam table report `{summary, entries}`
-- @tparam string fmt `"csv"` or `"json"`
-- @treturn string|nil the text, or nil and a message
function _M.text(report, fmt)
  if fmt == "csv" then return csv_text(report) end
  return core.json_encode { summary = report.summary, recipients = core.array(report.entries) }
end

--- Write a report as CSV (one row per input row: `COLUMNS`) or JSON
-- (`{summary, recipients}`), atomically.
-- @tparam table report from `campaign:run`
-- @tparam string path ending in `.csv` or `.json`
-- @treturn boolean|nil true, or nil and a message
function _M.write(report, path)
  local text
  if match(path, "%.json$") then
    local err
    text, err = _M.text(report, "json")
    if not text then return nil, err end
  elseif match(path, "%.csv$") then
    text = csv_text(report)
  else
    return nil, "the report file must end in .csv or .json"
  end
  local tmp = path .. ".tmp"
  local f, err = io.open(tmp, "wb")
  if not f then return nil, "cannot write the report: " .. tostring(err) end
  local ok, werr = f:write(text)
  f:close()
  if not ok then os.remove(tmp) return nil, "cannot write the report: " .. tostring(werr) end
  local renamed, rerr = os.rename(tmp, path)
  if not renamed then os.remove(tmp) return nil, "cannot write the report: " .. tostring(rerr) end
  return true
end

return _M
