--- convai.campaign.delivery: a campaign's report joined with the message statuses received
-- (`convai.status`): who actually got the message, and the `unknown` recipients that were in fact sent.
--
-- A status belongs to a recipient when its `message_uuid` is the recipient's `vendor_id` (what the
-- vendor answered to the trigger, kept in the journal). A recipient without a vendor id (an `unknown`:
-- the process died mid-request) takes the statuses sent to its number (digits compared, a leading 00
-- dropped) that belong to no other recipient of the campaign and arrived after its request left. A
-- recipient's `delivery` is its latest status (by `timestamp`, then by arrival). An `unknown` recipient
-- with a status was sent: it is reported `sent`, with `reconciled` in its message; `reconcile` writes
-- that into the journal (docs/statuses.md).
--
-- @module convai.campaign.delivery
local core = require "convai.core"
local errors = require "convai.errors"
local journal = require "convai.journal"
local report = require "convai.campaign.report"
local status = require "convai.status"

local type, tostring, tonumber, ipairs, pairs = type, tostring, tonumber, ipairs, pairs
local format, gsub, match = string.format, string.gsub, string.match
local concat, sort = table.concat, table.sort

local _M = {
  --- The statuses counted in a joined summary, each under its own name.
  COUNTED = { "submitted", "delivered", "read", "rejected", "undeliverable" },
}

local invalid = errors.invalid

local function digits(to)
  return (gsub(gsub(tostring(to or ""), "%D", ""), "^00", ""))
end

local function later(a, b) -- is status a later than b?
  local ta, tb = tostring(a.s.timestamp), tostring(b.s.timestamp)
  if ta ~= tb then return ta > tb end
  return a.i > b.i
end

local function error_text(e)
  if type(e) ~= "table" then return nil end
  local parts = {}
  for _, k in ipairs { "title", "detail" } do
    if type(e[k]) == "string" and e[k] ~= "" then parts[#parts + 1] = e[k] end
  end
  if #parts == 0 and e.type then parts[1] = tostring(e.type) end
  return concat(parts, ": ")
end

local function rate(n, of)
  if of == 0 then return 0 end
  return math.floor(n / of * 10000 + 0.5) / 10000
end

--- Join a report with statuses (changes and returns `rep`).
-- Entries gain `delivery` (the latest status, or nil), `delivery_at` (its `timestamp`),
-- `delivery_error` (its error's title and detail), `delivered_at` (seconds since the epoch the first
-- `delivered` or `read` arrived, for the timeline), and an `unknown` entry with a status becomes
-- `outcome = "sent"`, `reconciled = true`, its message saying so. The summary gains `submitted`,
-- `delivered`, `read`, `rejected`, `undeliverable` (sent recipients whose latest status it is),
-- `no_status` (sent recipients without any), `reconciled`, and `delivered_rate` (delivered or read,
-- over sent) and `read_rate` (read over sent), fractions from 0 to 1.
-- @tparam table rep `{summary, entries}` (`convai.campaign.report.build`; entries may carry `at`)
-- @tparam table statuses list of statuses (`convai.status.read`)
-- @treturn table rep
function _M.join(rep, statuses)
  local ids, by_id, by_to = {}, {}, {}
  for _, e in ipairs(rep.entries) do
    if e.vendor_id then ids[e.vendor_id] = true end
  end
  for i, s in ipairs(statuses) do
    local item = { s = s, i = i }
    local id = s.message_uuid
    if id and ids[id] then
      by_id[id] = by_id[id] or {}
      by_id[id][#by_id[id] + 1] = item
    else
      local to = digits(s.to)
      by_to[to] = by_to[to] or {}
      by_to[to][#by_to[to] + 1] = item
    end
  end
  local sm = rep.summary
  sm.reconciled, sm.no_status = 0, 0
  for _, name in ipairs(_M.COUNTED) do sm[name] = 0 end
  for _, e in ipairs(rep.entries) do
    local list
    if e.vendor_id then
      list = by_id[e.vendor_id]
    elseif e.outcome == "unknown" or e.outcome == "sent" then
      list = {}
      for _, item in ipairs(by_to[digits(e.to)] or {}) do
        local after = not e.at or not item.s.received_at or item.s.received_at >= e.at
        if after then list[#list + 1] = item end
      end
    end
    local latest, delivered_at
    for _, item in ipairs(list or {}) do
      if not latest or later(item, latest) then latest = item end
      local st, t = item.s.status, item.s.received_at
      if (st == "delivered" or st == "read") and type(t) == "number" then
        delivered_at = delivered_at and math.min(delivered_at, t) or t
      end
    end
    if latest then
      local s = latest.s
      e.delivery, e.delivery_at, e.delivery_error = s.status, s.timestamp, error_text(s.error)
      e.delivered_at = delivered_at
      if e.outcome == "unknown" then
        e.outcome, e.reconciled = "sent", true
        e.vendor_id = e.vendor_id or s.message_uuid
        e.message = format("reconciled: the vendor reported %s for message %s at %s", tostring(s.status),
          tostring(s.message_uuid), tostring(s.timestamp))
        sm.unknown, sm.sent, sm.reconciled = sm.unknown - 1, sm.sent + 1, sm.reconciled + 1
      end
    end
    if e.outcome == "sent" then
      if e.delivery and sm[e.delivery] then
        sm[e.delivery] = sm[e.delivery] + 1
      elseif not e.delivery then
        sm.no_status = sm.no_status + 1
      end
    end
  end
  sm.delivered_rate = rate(sm.delivered + sm.read, sm.sent)
  sm.read_rate = rate(sm.read, sm.sent)
  return rep
end

--- Join the report of a run (`convai.campaign.report.build`) with the statuses of a store: each entry
-- gets its journal record's `at` (so that an `unknown` takes only the statuses that arrived after its
-- request left), then `join`. Used by a run's final report (`campaign.new{statuses =}`).
-- @tparam table rep `{summary, entries}` of the run (changed)
-- @tparam table state the journal's state `{[to] = last record}`
-- @tparam string where the status store (a file path or `redis://...`)
-- @treturn table|nil rep, joined
-- @treturn[2] convai.error kind `store` (unreadable) or `invalid_argument` (an unknown scheme)
function _M.join_run(rep, state, where)
  local list, err = status.read(where)
  if not list then return nil, err end
  for _, e in ipairs(rep.entries) do
    local rec = state[e.to]
    if rec and e.outcome ~= "removed" then e.at = tonumber(rec.at) end
  end
  return _M.join(rep, list)
end

-- The journal's content (`header`, `state`), or nil and an error: a file, or a campaign kept in a store
-- (`redis://...`), found by its parameters (`fingerprint`).
local function read_journal(where, fingerprint)
  if type(where) ~= "string" or where == "" then
    return invalid("journal is required: a journal file, or a store URL with the campaign's parameters")
  end
  local scheme = match(where, "^(%a[%w+.-]*)://")
  if scheme then
    if type(fingerprint) ~= "table" then
      return invalid("a campaign kept in %s:// is found by its parameters: give them (`convai campaign "
        .. "report --store URL` with the --provider, --channel, --agent-id, --namespace, --template and "
        .. "--locale of its run)", scheme)
    end
    local loaded, err = journal.load(where, fingerprint)
    if not loaded then return nil, type(err) == "table" and err or core.error("journal", err) end
    if not loaded.exists or not loaded.header then
      return nil, core.error("journal", format("no campaign with these parameters in the %s:// store "
        .. "(give the --provider, --channel, --agent-id, --namespace, --template and --locale of its run)",
        scheme))
    end
    return loaded
  end
  local loaded, err = journal.read(where)
  if not loaded then return nil, core.error("journal", err) end
  if not loaded.exists or not loaded.header then
    return nil, core.error("journal", format("no campaign journal at %s", where))
  end
  return loaded
end

--- The report of a campaign from its journal alone: one entry per recipient the journal holds
-- (the rows a run reached), with `at` (seconds since the epoch its last record was written).
-- @tparam string path the journal file, or the store of a campaign kept in Redis (`redis://...`)
-- @tparam[opt] table fingerprint the campaign's parameters, required for a store
--   (`convai.campaign.senders.fingerprint`)
-- @treturn table|nil `{summary, entries}` (as `convai.campaign.report.build`, without the run's
--   timing fields)
-- @treturn[2] convai.error kind `journal` (absent, unreadable, not a journal) or `invalid_argument`
function _M.from_journal(path, fingerprint)
  local loaded, err = read_journal(path, fingerprint)
  if not loaded then return nil, err end
  local list = {}
  for to, rec in pairs(loaded.state) do list[#list + 1] = { line = tonumber(rec.line) or 0, to = to } end
  sort(list, function(a, b) return a.line < b.line end)
  local rep = report.build({ recipients = list, invalid = {}, duplicates = {} }, loaded.state,
    { throttled = 0, attempted = 0, elapsed = 0, sent_now = 0 }, "report")
  for _, k in ipairs { "throttled", "attempted", "elapsed", "stopped", "rate", "sent_now" } do
    rep.summary[k] = nil
  end
  for _, e in ipairs(rep.entries) do
    local rec = loaded.state[e.to]
    e.at = rec and tonumber(rec.at)
  end
  rep.fingerprint = loaded.header.campaign
  return rep
end

--- The joined report of a campaign (`campaign.report`).
-- @tparam table opts `journal` (the journal file, or the `redis://...` store of a campaign run with
--   `--store`), `fingerprint` (the campaign's parameters, `convai.campaign.senders.fingerprint`: required
--   with a store), `statuses` (optional: a status store, a file path or `redis://...`; without it, no
--   delivery is joined)
-- @treturn table|nil `{summary = {...}, entries = {{line, to, outcome, status, kind, message, vendor_id,
--   delivery, delivery_at, delivery_error, at, delivered_at, reconciled}, ...}}` (see `join`)
-- @treturn[2] convai.error kind `journal`, `store` (the status store unreadable) or `invalid_argument`
function _M.report(opts)
  if type(opts) ~= "table" then return invalid("campaign.report expects {journal =, statuses =}") end
  local rep, err = _M.from_journal(opts.journal, opts.fingerprint)
  if not rep then return nil, err end
  local list = {}
  if opts.statuses ~= nil then
    list, err = status.read(opts.statuses)
    if not list then return nil, err end
  end
  return _M.join(rep, list)
end

--- Check that a journal can be reconciled: a file (a campaign kept in a store is not).
-- @tparam string path the journal
-- @treturn boolean|nil true
-- @treturn[2] convai.error kind `invalid_argument`
function _M.reconcilable(path)
  if type(path) == "string" and match(path, "^%a[%w+.-]*://") then
    return invalid("reconcile writes a journal file; a campaign kept in a store is not reconciled: its "
      .. "report (`campaign report --store`) shows the unknowns with a status as sent, reconciled")
  end
  return true
end

--- Write the reconciled recipients of a joined report into its journal file (a `sent` record with
-- `reconciled = true`, the message, and the vendor id found), so that later runs and reports agree.
-- @tparam string path the journal file
-- @tparam table rep a joined report of that journal (`report`)
-- @treturn table|nil `{reconciled = n, unknown = {entries still unknown}}`
-- @treturn[2] convai.error kind `journal` (in use by a run, not writable)
function _M.reconcile(path, rep)
  local usable, err = _M.reconcilable(path)
  if not usable then return nil, err end
  local loaded
  loaded, err = read_journal(path)
  if not loaded then return nil, err end
  local out = { reconciled = 0, unknown = {} }
  local j
  for _, e in ipairs(rep.entries) do
    local rec = loaded.state[e.to]
    if e.reconciled and rec and rec.r == "unknown" then
      if not j then
        j, err = journal.open(path, loaded.header.campaign, loaded)
        if not j then return nil, err end
      end
      local ok, werr = j:write { r = "sent", to = e.to, line = e.line, at = e.at, reconciled = true,
        message = e.message, body = { message_uuid = e.vendor_id } }
      if not ok then j:close() return nil, core.error("journal", werr) end
      out.reconciled = out.reconciled + 1
    elseif e.outcome == "unknown" then
      out.unknown[#out.unknown + 1] = e
    end
  end
  if j then j:close() end
  return out
end

return _M
