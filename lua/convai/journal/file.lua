--- convai.journal.file: the file backend of `convai.journal`: an append-only, fsync'd file of JSON lines.
--
-- One JSON object per line. The first line identifies the campaign:
--
--     {"journal":"convai.campaign","version":2,"campaign":{...fingerprint...}}
--
-- The fingerprint is the campaign's parameters (provider, channel, agent_id, and for WhatsApp template,
-- namespace, locale), never the recipients: the same journal takes a corrected or extended CSV (an
-- amended campaign). Version 1 journals (before amending) also held `input` (a digest of the CSV) and
-- `recipients` (its row count): they are read as they are, those two fields ignored, and resumed
-- (`LEGACY_FIELDS`); records are appended to them unchanged (their first line is not rewritten).
--
-- then one record per event, each keyed by the recipient's normalised number (`to`):
--
--  - `pending`: written (and on the disk) before the request leaves;
--  - `sent` (with `status` and the vendor's `body`), `failed` (with `kind`, `status`, `message`): the
--    outcome;
--  - `throttled` (a 429: the vendor did not take it, the recipient is retried) and `unsent` (the
--    connection failed before any byte of the request left: retried);
--  - `unknown`: written on resume for a `pending` that has no outcome (the process died mid-request, so the
--    vendor may or may not have it; never re-sent).
--
-- Records are written whole and `fsync`ed (`core.journal`); a journal cut mid-record (power loss) is read up
-- to its last whole line, and the partial line is removed before anything is appended. The file is
-- locked (`flock`) while a run has it open, so one process at a time writes it; the lock goes with the
-- process (a killed run leaves no stale lock).
--
-- @module convai.journal.file
local core = require "convai.core"
local output_path = require "convai.output_path"

local type, pairs, ipairs, tostring, setmetatable = type, pairs, ipairs, tostring, setmetatable
local format, find, sub = string.format, string.find, string.sub
local sort = table.sort
local open = io.open

local _M = { VERSION = 2 }

--- The versions read: 1 (its `input` and `recipients` fields ignored) and 2.
_M.READS = { [1] = true, [2] = true }

--- Fields of a version 1 campaign record that are not the campaign's identity (ignored when compared).
_M.LEGACY_FIELDS = { input = true, recipients = true }

--- The campaign's parameters in the order a difference is reported.
_M.PARAMETERS = { "provider", "channel", "agent_id", "template", "namespace", "locale" }

--- States a recipient can end in; `pending` (no outcome yet) and the retryable `throttled`/`unsent` are not
-- final.
_M.FINAL = { sent = true, failed = true, unknown = true }

local RECORDS = {
  pending = true, sent = true, failed = true, throttled = true, unsent = true, unknown = true,
}

--- Read a journal file.
-- @tparam string path
-- @treturn table|nil `{header = table|nil, state = {[to] = last record}, records = n, valid_bytes = n,
--   size = n, partial = boolean}`; a missing file reads as empty (`header` nil, `exists` false)
-- @treturn[2] nil
-- @treturn[2] string what is wrong (unreadable, or not a convai campaign journal)
function _M.read(path)
  local f, err = open(path, "rb")
  if not f then
    if find(err or "", "No such file", 1, true) then
      return { exists = false, state = {}, records = 0, valid_bytes = 0, size = 0, partial = false }
    end
    return nil, format("cannot read journal: %s", tostring(err))
  end
  local data = f:read("a") or ""
  f:close()
  local result = { exists = true, state = {}, records = 0, valid_bytes = 0, size = #data, partial = false }
  local pos, lineno = 1, 0
  while pos <= #data do
    local nl = find(data, "\n", pos, true)
    if not nl then result.partial = true break end -- cut mid-record: ignore the tail
    local line = sub(data, pos, nl - 1)
    lineno = lineno + 1
    local rec = core.json_decode(line)
    if type(rec) ~= "table" then
      -- Only the last line can be damaged by a crash; damage before it is not ours to repair.
      if nl < #data then
        return nil, format("journal %s: line %d is not a journal record; the file is damaged or not a "
          .. "convai journal (move it away to start over)", path, lineno)
      end
      result.partial = true
      break
    end
    if lineno == 1 then
      if rec.journal ~= "convai.campaign" or type(rec.campaign) ~= "table" then
        return nil, format("%s is not a convai campaign journal (its first line is not the campaign record)",
          path)
      end
      if not _M.READS[rec.version] then
        return nil, format("journal %s has version %s; this convai reads versions 1 and %d", path,
          tostring(rec.version), _M.VERSION)
      end
      result.header = rec
    else
      if not RECORDS[rec.r] or type(rec.to) ~= "string" then
        return nil, format("journal %s: line %d is not a journal record", path, lineno)
      end
      result.state[rec.to] = rec
      result.records = result.records + 1
    end
    pos = nl + 1
    result.valid_bytes = nl
  end
  return result
end

-- The fields to compare, the parameters first (in PARAMETERS order), then any other, sorted.
local function fields_of(theirs, fingerprint)
  local seen, extra, out = {}, {}, {}
  for _, k in ipairs(_M.PARAMETERS) do seen[k] = true out[#out + 1] = k end
  for _, t in ipairs { theirs, fingerprint } do
    for k in pairs(t) do
      if not seen[k] and not _M.LEGACY_FIELDS[k] then seen[k] = true extra[#extra + 1] = tostring(k) end
    end
  end
  sort(extra)
  for _, k in ipairs(extra) do out[#out + 1] = k end
  return out
end

--- Compare a journal's campaign record with this campaign's fingerprint (its parameters; a version 1
-- record's `input` and `recipients` are ignored).
-- @tparam table header the journal's first record
-- @tparam table fingerprint this campaign's
-- @treturn boolean|nil true when they match
-- @treturn[2] string which parameter differs (`template is welcome in the journal but promo now`)
-- @treturn[2] table `{parameter = name, journal = value or nil, now = value or nil}`
function _M.same_campaign(header, fingerprint)
  local theirs = header.campaign
  for _, k in ipairs(fields_of(theirs, fingerprint)) do
    local a, b = theirs[k], fingerprint[k]
    if a ~= b then
      local diff = { parameter = k, journal = a, now = b }
      if b == nil then return nil, format("%s is %s in the journal but not set now", k, tostring(a)), diff end
      if a == nil then return nil, format("%s is not set in the journal but %s now", k, tostring(b)), diff end
      return nil, format("%s is %s in the journal but %s now", k, tostring(a), tostring(b)), diff
    end
  end
  return true
end

--- The refusal of another campaign's journal: an error of kind `journal` naming the parameter that
-- differs, with `parameter`, `journal_value` and `value` set (so that a caller can say it in its own
-- terms, e.g. the CLI's flags).
-- @tparam string what the journal (`journal PATH`, `campaign store URL ...`)
-- @tparam string why from `same_campaign`
-- @tparam table diff from `same_campaign`
-- @treturn table the error
function _M.another_campaign(what, why, diff)
  local e = core.error("journal", format("%s belongs to another campaign (%s); use the same %s, or another "
    .. "journal for a new campaign", what, why, diff.parameter))
  e.parameter, e.journal_value, e.value = diff.parameter, diff.journal, diff.now
  return e
end

--- Read a journal and check that it is this campaign's (or absent), changing nothing.
-- @tparam string path
-- @tparam table fingerprint the campaign's identity
-- @treturn table|nil as `read`
-- @treturn[2] nil
-- @treturn[2] string|table what is wrong (unreadable, not a journal), or another campaign's (a `journal`
--   error from `another_campaign`)
function _M.load(path, fingerprint)
  local existing, err = _M.read(path)
  if not existing then return nil, err end
  if existing.header then
    local same, why, diff = _M.same_campaign(existing.header, fingerprint)
    if not same then return nil, _M.another_campaign("journal " .. path, why, diff) end
  end
  return existing
end

--- Check, writing nothing, that the journal could be opened for appending: its directory exists and is
-- writable, and the file, when it exists, is writable.
-- @tparam string path
-- @treturn boolean|nil true
-- @treturn[2] string `cannot write journal PATH: ...`
function _M.check(path)
  local ok, why = output_path.check(path, true)
  if not ok then return nil, format("cannot write journal %s: %s", path, why) end
  return true
end

local mt = {}
mt.__index = mt

--- Open a journal for appending: creates it with the campaign record, or checks that an existing one belongs
-- to this campaign and drops a partial last record.
-- @tparam string path
-- @tparam table fingerprint the campaign's identity (strings and numbers)
-- @tparam[opt] table existing the result of `read(path)` (read again when nil)
-- @treturn table|nil the writer (`claim(record)`, `write(record)`, `close()`), or nil and a message
function _M.open(path, fingerprint, existing)
  local err
  if not existing then
    existing, err = _M.read(path)
    if not existing then return nil, err end
  end
  if existing.header then
    local same, why, diff = _M.same_campaign(existing.header, fingerprint)
    if not same then return nil, _M.another_campaign("journal " .. path, why, diff) end
  elseif existing.size > 0 and existing.valid_bytes > 0 then
    return nil, format("%s is not a convai campaign journal", path)
  end
  local file
  file, err = core.journal(path)
  if not file then return nil, err end
  if file:size() ~= existing.size then
    file:close()
    return nil, format("journal %s changed while it was read; is another run using it?", path)
  end
  if existing.partial or existing.header == nil then
    local ok, terr = file:truncate(existing.valid_bytes)
    if not ok then file:close() return nil, terr end
  end
  local self = setmetatable({ file = file, path = path }, mt)
  if existing.header == nil then
    local ok, werr = self:write { journal = "convai.campaign", version = _M.VERSION, campaign = fingerprint }
    if not ok then file:close() return nil, werr end
  end
  return self
end

--- Append one record (a table) as a JSON line, durably.
-- @tparam table record
-- @treturn boolean|nil true, or nil and a message (disk full, I/O error)
function mt:write(record)
  local line, err = core.json_encode(record)
  if not line then return nil, "cannot encode journal record: " .. tostring(err) end
  return self.file:append(line .. "\n")
end

--- Claim a recipient before its request leaves: append its `pending` record, durably. The file is this
-- run's alone (locked), so a claim is never refused.
-- @tparam table record `{r = "pending", to = ..., line = ...}`
-- @treturn boolean|nil true, or nil and a message (disk full, I/O error)
function mt:claim(record)
  return self:write(record)
end

--- Close the journal (releases its lock). Idempotent.
function mt:close()
  self.file:close()
end

mt.__close = mt.close

return _M
