--- convai.campaign: outbound campaigns: usage-gated, rate-exact, crash-safe triggers with progress.
--
-- A campaign sends one approved template (or SMS, or voice call) to a list of recipients, as fast as the
-- vendor allows and no faster (a per-agent token bucket in the C core, requests overlapping on libcurl multi
-- so that server latency does not lower the rate), never more than the WhatsApp business-initiated capacity
-- left (an optional voicebot.studio gate), never twice to anyone (an fsync'd journal, `convai.journal`), and
-- ends with a report of what happened to every recipient.
--
--     local campaign = require "convai.campaign"
--     local vonage = require "convai.vonage"
--     local client = assert(vonage.from_env { retry = false })
--     local sender = assert(campaign.senders.vonage_whatsapp(client, {
--       agent_id = "A", namespace = "ns", template = "welcome", locale = "en_US",
--       status_url = "https://example.com/status" }))
--     local c = assert(campaign.new { sender = sender, journal = "welcome.journal",
--       csv = io.open("recipients.csv"):read("a"), rate = 1 })
--     local report = assert(c:run())
--     print(report.summary.sent, report.summary.failed)
--
-- Documents followed: the Vonage AI Studio outbound document and API-NOTES §3 (1 session per second per
-- agent, 3 or 5 when raised; 429 beyond it, honouring `Retry-After` or waiting one interval), API-NOTES §1
-- (voicebot.studio agent usage and send-template), RFC 4180 (the recipients CSV).
--
-- @module convai.campaign
local core = require "convai.core"
local errors = require "convai.errors"
local journal = require "convai.journal"

local type, tostring, tonumber, pairs, ipairs = type, tostring, tonumber, pairs, ipairs
local setmetatable, pcall = setmetatable, pcall
local format, match, find, gsub = string.format, string.match, string.find, string.gsub
local ceil, max, min, huge = math.ceil, math.max, math.min, math.huge
local concat, remove, insert, sort = table.concat, table.remove, table.insert, table.sort

local _M = {}

--- Capacity is read again after this many sends (and after any error).
_M.GATE_EVERY = 25

--- Attempts for a recipient whose connection failed before the request left (`request_sent == false`).
_M.UNSENT_ATTEMPTS = 3

local invalid = errors.invalid

-- recipients --

--- CSV columns: `to`, `name`, `header.N`, `body.N`, `session.NAME`.
local function column_kind(name)
  if name == "to" or name == "name" then return name end
  local part, n = match(name, "^(%a+)%.(%d+)$")
  if (part == "header" or part == "body") and tonumber(n) >= 1 then return part, tonumber(n) end
  local sname = match(name, "^session%.(.+)$")
  if sname and not find(sname, "[%s%c]") then return "session", sname end
  return nil
end

--- Read the recipients CSV (RFC 4180; UTF-8; CRLF or LF; a UTF-8 byte-order mark is ignored) into rows.
-- The file as a whole is refused (with the line) when it is not well-formed CSV or its header names an
-- unknown column; each row is then checked on its own by the sender (`prepare`).
-- @tparam string text the file's content
-- @treturn table|nil `{columns = {...}, rows = { {line = n, to = s, name = s, header = {...}, body = {...},
--   session = {name = value}}, ... }}`
-- @treturn[2] nil
-- @treturn[2] convai.error kind `invalid_argument`: the message starts with the line number
function _M.parse_csv(text)
  if type(text) ~= "string" then return invalid("recipients must be CSV text") end
  local rows, header = core.csv.parse(text)
  if not rows then return invalid("recipients CSV: %s", header) end
  local cols, seen = {}, {}
  local counts = { header = 0, body = 0 }
  for i, name in ipairs(header) do
    local kind, arg = column_kind(name)
    if not kind then
      return invalid("recipients CSV line 1: unknown column %q (the columns are to, name, header.1..n, "
        .. "body.1..n and session.NAME)", name)
    end
    if seen[name] then return invalid("recipients CSV line 1: column %q appears twice", name) end
    seen[name] = true
    cols[i] = { kind = kind, arg = arg, name = name }
    if kind == "header" or kind == "body" then counts[kind] = max(counts[kind], arg) end
  end
  if not seen.to then
    return invalid("recipients CSV line 1: there is no \"to\" column (the phone numbers)")
  end
  for _, part in ipairs { "header", "body" } do
    for n = 1, counts[part] do
      if not seen[part .. "." .. n] then
        return invalid("recipients CSV line 1: column %s.%d is missing (there is a %s.%d; parameters are "
          .. "numbered from 1 without gaps)", part, n, part, counts[part])
      end
    end
  end
  local out = {}
  for _, r in ipairs(rows) do
    local row = { line = r.line, header = {}, body = {}, session = {}, fields = {} }
    for i, col in ipairs(cols) do
      local v = r.fields[i]
      row.fields[col.name] = v
      if col.kind == "to" then row.to = v
      elseif col.kind == "name" then row.name = v
      elseif col.kind == "session" then
        if v ~= "" then row.session[col.arg] = v end
      else
        row[col.kind][col.arg] = v
      end
    end
    out[#out + 1] = row
  end
  return { columns = header, rows = out, params = counts }
end

--- Check the template parameters of a row: every parameter column is filled in, valid UTF-8.
local function row_params(row, counts)
  for _, part in ipairs { "header", "body" } do
    for n = 1, counts[part] do
      local v = row[part][n]
      if v == nil or v == "" then
        return nil, format("%s.%d is empty (the template needs %d %s parameter%s)", part, n, counts[part],
          part, counts[part] == 1 and "" or "s")
      end
      if utf8 and not utf8.len(v) then return nil, format("%s.%d is not valid UTF-8", part, n) end
    end
  end
  return true
end

local function components_of(row, counts)
  local c = {}
  if counts.header > 0 then c.header = row.header end
  if counts.body > 0 then c.body = row.body end
  return c
end

local function message_of(err)
  if type(err) == "table" then return err.message or tostring(err) end
  return tostring(err)
end

-- senders --

--- Senders: what a campaign triggers. Each is a table with `prepare(row, params)` (check a row and build the
-- request; nothing is sent), `send(request)` (trigger it; runs inside the campaign's scheduler),
-- `agent` (the rate-limit key), `fingerprint` (what identifies the campaign in its journal) and
-- `uses_templates` (whether header./body. columns apply).
-- @section senders
_M.senders = {}

local function need_client(client, what)
  if type(client) ~= "table" or type(client[what]) ~= "function" then
    return invalid("the sender needs a client with a %s method", what)
  end
  return true
end

--- Vonage AI Studio WhatsApp template (`POST /messaging/conversation`, channel whatsapp).
-- @tparam convai.vonage client made with `retry = false` (the campaign handles 429 itself)
-- @tparam table t `{agent_id, namespace, template, locale, status_url}`
--   (see `vonage_client:trigger_whatsapp`)
-- @treturn table|nil the sender, or nil and an `invalid_argument` error (the fields are checked now, with a
--   placeholder number)
function _M.senders.vonage_whatsapp(client, t)
  local ok, err = need_client(client, "trigger_whatsapp")
  if not ok then return nil, err end
  local vonage = require "convai.vonage"
  local base = { agent_id = t.agent_id, namespace = t.namespace, template = t.template, locale = t.locale,
    status_url = t.status_url, to = "447700900000" }
  ok, err = vonage.whatsapp_body(base)
  if not ok then return nil, err end
  return {
    agent = tostring(t.agent_id), uses_templates = true,
    fingerprint = { provider = "vonage", channel = "whatsapp", agent_id = tostring(t.agent_id),
      namespace = t.namespace, template = t.template, locale = t.locale },
    prepare = function(row, params)
      local req = { agent_id = t.agent_id, namespace = t.namespace, template = t.template, locale = t.locale,
        status_url = t.status_url, to = row.to, components = components_of(row, params) }
      if next(row.session) then req.session_parameters = row.session end
      local body, berr = vonage.whatsapp_body(req)
      if not body then return nil, berr end
      return req, body.to
    end,
    send = function(req) return client:trigger_whatsapp(req) end,
  }
end

--- Vonage AI Studio SMS (`POST /messaging/conversation`, channel sms).
-- @tparam convai.vonage client
-- @tparam table t `{agent_id, status_url}`
-- @treturn table|nil the sender, or nil and an error
function _M.senders.vonage_sms(client, t)
  local ok, err = need_client(client, "trigger_sms")
  if not ok then return nil, err end
  local vonage = require "convai.vonage"
  ok, err = vonage.sms_body { agent_id = t.agent_id, status_url = t.status_url, to = "447700900000" }
  if not ok then return nil, err end
  return {
    agent = tostring(t.agent_id), uses_templates = false,
    fingerprint = { provider = "vonage", channel = "sms", agent_id = tostring(t.agent_id) },
    prepare = function(row)
      local req = { agent_id = t.agent_id, status_url = t.status_url, to = row.to }
      if next(row.session) then req.session_parameters = row.session end
      local body, berr = vonage.sms_body(req)
      if not body then return nil, berr end
      return req, body.to
    end,
    send = function(req) return client:trigger_sms(req) end,
  }
end

--- Vonage AI Studio voice call (`POST /telephony/make-call`).
-- @tparam convai.vonage client
-- @tparam table t `{agent_id, status_url}` (status_url optional)
-- @treturn table|nil the sender, or nil and an error
function _M.senders.vonage_voice(client, t)
  local ok, err = need_client(client, "make_call")
  if not ok then return nil, err end
  local vonage = require "convai.vonage"
  ok, err = vonage.call_body { agent_id = t.agent_id, status_url = t.status_url, to = "447700900000" }
  if not ok then return nil, err end
  return {
    agent = tostring(t.agent_id), uses_templates = false,
    fingerprint = { provider = "vonage", channel = "voice", agent_id = tostring(t.agent_id) },
    prepare = function(row)
      local req = { agent_id = t.agent_id, status_url = t.status_url, to = row.to }
      if next(row.session) then req.session_parameters = row.session end
      local body, berr = vonage.call_body(req)
      if not body then return nil, berr end
      return req, body.to
    end,
    send = function(req) return client:make_call(req) end,
  }
end

--- voicebot.studio WhatsApp template (`POST /whatsapp/send-template`).
-- @tparam convai.voicebot client
-- @tparam table t `{agent_id (integer, optional), template}`; the `name` column gives `customer_name`
-- @treturn table|nil the sender, or nil and an error
function _M.senders.voicebot_template(client, t)
  local ok, err = need_client(client, "send_template")
  if not ok then return nil, err end
  local voicebot = require "convai.voicebot"
  local function request(row, params)
    return { agent_id = t.agent_id, template_name = t.template, phone_number = row.to,
      customer_name = row.name, template_components = components_of(row, params) }
  end
  ok, err = voicebot.send_template_body(request({ to = "447700900000", name = "Customer", header = {},
    body = {} }, { header = 0, body = 0 }))
  if not ok then return nil, err end
  return {
    agent = "voicebot:" .. tostring(t.agent_id or "default"), uses_templates = true,
    fingerprint = { provider = "voicebot", channel = "whatsapp", agent_id = tostring(t.agent_id or ""),
      template = t.template },
    prepare = function(row, params)
      local req = request(row, params)
      local body, berr = voicebot.send_template_body(req)
      if not body then return nil, berr end
      return req, body.phone_number
    end,
    send = function(req) return client:send_template(req) end,
  }
end

--- A voicebot.studio capacity gate: `current_limit - current_usage` of a WhatsApp agent.
-- @tparam convai.voicebot client
-- @tparam[opt] integer agent_id the voicebot WhatsApp agent (default: the vendor's first one)
-- @treturn table the gate: `read()` returns `{capacity = n, exhausted = boolean, usage = table}` or nil, err
function _M.voicebot_gate(client, agent_id)
  return {
    agent_id = agent_id,
    read = function()
      local u, err = client:whatsapp_usage(agent_id)
      if not u then return nil, err end
      return { capacity = u.remaining, exhausted = u.limit_exhausted or u.remaining <= 0, usage = u }
    end,
  }
end

-- campaign --

local mt = {}
mt.__index = mt

--- Create a campaign: reads and checks every recipient (nothing is sent yet).
-- @tparam table opts
-- @tparam table opts.sender from `convai.campaign.senders`
-- @tparam string opts.journal path of the journal file (created, or resumed when it exists)
-- @tparam string opts.csv the recipients CSV text (or `opts.recipients`, the result of `parse_csv`)
-- @tparam[opt=1] number opts.rate sessions per second for the sender's agent (any positive number; Vonage
--   grants 1, 3 or 5)
-- @tparam[opt=0.02] number opts.rate_margin fraction by which requests are spaced wider than `1/rate`, so
--   that network jitter cannot land two requests in one vendor rate window (0 to 0.5)
-- @tparam[opt] table opts.gate from `voicebot_gate`: never send more than the capacity last read
-- @tparam[opt] integer opts.concurrency most requests in flight (default `max(4, ceil(rate * 4))`,
--   at most 64)
-- @tparam[opt=false] boolean opts.retry_failed send again to recipients whose last outcome was `failed`
-- @tparam[opt=false] boolean opts.skip_invalid go on with the valid rows when some rows are invalid (they
--   are reported as `invalid` and never sent); by default any invalid row refuses the whole campaign
-- @tparam[opt=false] boolean opts.dry_run check everything and report, without sending or writing
-- @tparam[opt] function opts.progress called with a progress table at most every 0.2 s and at the end
-- @tparam[opt] function opts.interrupted returns true to stop cleanly (default: a trapped SIGINT/SIGTERM,
--   see `core.trap_interrupts`)
-- @treturn table|nil the campaign, or nil and an `invalid_argument` error (a CSV line number in the message;
--   for invalid rows without `skip_invalid`, `err.invalid` lists them as `{line, to, message}`)
function _M.new(opts)
  if type(opts) ~= "table" then return invalid("campaign.new expects an options table") end
  local sender = opts.sender
  if type(sender) ~= "table" or type(sender.prepare) ~= "function" or type(sender.send) ~= "function" then
    return invalid("sender is required (see convai.campaign.senders)")
  end
  if type(opts.journal) ~= "string" or opts.journal == "" then
    return invalid("journal is required: the path of the campaign's journal file")
  end
  local rate = opts.rate == nil and 1 or opts.rate
  if type(rate) ~= "number" or not (rate > 0 and rate < huge) then
    return invalid("rate must be a positive number of sessions per second, got %s", tostring(opts.rate))
  end
  local margin = opts.rate_margin == nil and 0.02 or opts.rate_margin
  if type(margin) ~= "number" or not (margin >= 0 and margin <= 0.5) then
    return invalid("rate_margin must be a number from 0 to 0.5")
  end
  local concurrency = opts.concurrency or min(64, max(4, ceil(rate * 4)))
  if type(concurrency) ~= "number" or concurrency < 1 or concurrency % 1 ~= 0 then
    return invalid("concurrency must be a positive integer")
  end
  local input, err = opts.recipients
  if input == nil then
    input, err = _M.parse_csv(opts.csv)
    if not input then return nil, err end
  end
  if not sender.uses_templates and (input.params.header > 0 or input.params.body > 0) then
    return invalid("recipients CSV line 1: header./body. columns are template parameters, which this channel "
      .. "does not use; remove them")
  end
  -- Every row is checked before the first send.
  local recipients, invalid_rows, duplicates, by_to = {}, {}, {}, {}
  for _, row in ipairs(input.rows) do
    local ok, why = row_params(row, input.params)
    local req, to
    if ok then
      req, to = sender.prepare(row, input.params)
      if not req then why = message_of(to) end
    end
    if not req then
      invalid_rows[#invalid_rows + 1] = { line = row.line, to = row.to, message = why }
    elseif by_to[to] then
      duplicates[#duplicates + 1] = { line = row.line, to = to, first_line = by_to[to].line }
    else
      local r = { line = row.line, to = to, request = req }
      by_to[to] = r
      recipients[#recipients + 1] = r
    end
  end
  if #invalid_rows > 0 and not opts.skip_invalid then
    local parts = {}
    for i = 1, min(#invalid_rows, 3) do
      parts[i] = format("line %d: %s", invalid_rows[i].line, invalid_rows[i].message)
    end
    local e = core.error("invalid_argument", format("recipients CSV: %d invalid row%s (%s%s); nothing was "
      .. "sent: fix them, or skip them with skip_invalid (--skip-invalid)", #invalid_rows,
      #invalid_rows == 1 and "" or "s", concat(parts, "; "), #invalid_rows > 3 and "; ..." or ""))
    e.invalid = invalid_rows
    return nil, e
  end
  local fingerprint = {}
  for k, v in pairs(sender.fingerprint or {}) do fingerprint[k] = v end
  fingerprint.input = core.digest(opts.csv or "")
  fingerprint.recipients = #recipients
  return setmetatable({
    sender = sender, gate = opts.gate, rate = rate, margin = margin, concurrency = concurrency,
    journal_path = opts.journal, recipients = recipients, invalid = invalid_rows, duplicates = duplicates,
    by_to = by_to, fingerprint = fingerprint, retry_failed = opts.retry_failed and true or false,
    dry_run = opts.dry_run and true or false, progress = opts.progress,
    interrupted = opts.interrupted or function() return core.interrupted() > 0 end,
    batch_options = opts.batch,
  }, mt)
end

local function count_kinds(list)
  local out = {}
  for _, e in ipairs(list) do out[e] = (out[e] or 0) + 1 end
  return out
end

--- Build the report: one entry per input row, and the summary.
function mt:report(state, stats, stop)
  local entries = {}
  local summary = { sent = 0, failed = 0, unknown = 0, invalid = #self.invalid, pending = 0,
    duplicates = #self.duplicates, failed_by_kind = {}, throttled = stats.throttled,
    recipients = #self.recipients,
    attempted = stats.attempted, elapsed = stats.elapsed, stopped = stop }
  local kinds = {}
  for _, r in ipairs(self.recipients) do
    local rec = state[r.to]
    local outcome = rec and journal.FINAL[rec.r] and rec.r or "pending"
    local e = { line = r.line, to = r.to, outcome = outcome }
    if rec and (rec.r == "sent" or rec.r == "failed") then
      e.status, e.kind, e.message = rec.status, rec.kind, rec.message
    end
    if outcome == "failed" then kinds[#kinds + 1] = rec.kind or "unknown" end
    summary[outcome] = summary[outcome] + 1
    entries[#entries + 1] = e
  end
  summary.failed_by_kind = count_kinds(kinds)
  for _, i in ipairs(self.invalid) do
    entries[#entries + 1] = { line = i.line, to = i.to, outcome = "invalid", message = i.message }
  end
  for _, d in ipairs(self.duplicates) do
    entries[#entries + 1] = { line = d.line, to = d.to, outcome = "duplicate",
      message = format("same number as line %d", d.first_line) }
  end
  sort(entries, function(a, b) return a.line < b.line end)
  summary.rate = stats.elapsed > 0 and stats.sent_now / stats.elapsed or 0
  summary.sent_now = stats.sent_now
  return { summary = summary, entries = entries }
end

local function journal_error(msg)
  return nil, core.error("journal", msg)
end

--- Run (or resume) the campaign to its end, a gate stop, or an interrupt.
-- Recipients already `sent` or `unknown` in the journal are never sent again; `failed` ones only with
-- `retry_failed`. A 429 waits for `Retry-After` (or one interval) and retries the same recipient.
-- @treturn table|nil the report: `{summary = {sent, failed, failed_by_kind = {[kind] = n}, unknown, invalid,
--   pending, duplicates, throttled (429s seen), recipients, attempted, elapsed (s), rate (sent per second in
--   this run), sent_now, stopped ("done" | "capacity" | "interrupted" | "auth" (a 401/403: the credential is
--   refused, the rest left pending) | "gate_error" | "journal_error"), stop_error, gate_error,
--   journal_error},
--   entries = { {line, to, outcome ("sent"|"failed"|"unknown"|"pending"|"invalid"|"duplicate"), status,
--   kind, message}, ... }}`
-- @treturn[2] nil
-- @treturn[2] convai.error kind `journal` (unreadable, another campaign's, locked by another run, or not
--   writable: nothing is sent), or `invalid_argument` (inside nginx, outside `init_by_lua`: a campaign drives
--   libcurl, which would block the worker; nothing is sent or written)
function mt:run()
  local t0 = core.monotonic()
  local existing, err = journal.read(self.journal_path)
  if not existing then return journal_error(err) end
  if existing.header then
    local same, why = journal.same_campaign(existing.header, self.fingerprint)
    if not same then
      return journal_error(format("journal %s belongs to another campaign (%s); use another --journal file",
        self.journal_path, why))
    end
  end
  local state = existing.state
  local stats = { throttled = 0, attempted = 0, elapsed = 0, sent_now = 0 }
  local queue = {}
  for _, r in ipairs(self.recipients) do
    local rec = state[r.to]
    local last = rec and rec.r
    if last == nil or last == "throttled" or last == "unsent" or (last == "failed" and self.retry_failed) then
      queue[#queue + 1] = r
    end
  end
  if self.dry_run then
    stats.queued = #queue
    local report = self:report(state, stats, "dry_run")
    report.summary.would_send = #queue
    for _, r in ipairs(self.recipients) do
      local rec = state[r.to]
      if rec and rec.r == "pending" then report.summary.unknown = report.summary.unknown + 1 end
    end
    return report
  end
  -- The scheduler first: it is refused where it cannot run (inside nginx), before the journal is touched.
  local bopts = { concurrency = self.concurrency }
  for k, v in pairs(self.batch_options or {}) do bopts[k] = v end
  local sched, serr = require("convai.batch").new(bopts)
  if not sched then return nil, serr end
  local jw
  jw, err = journal.open(self.journal_path, self.fingerprint, existing)
  if not jw then sched:close() return journal_error(err) end
  -- A pending without an outcome: the process died mid-request. Never re-sent.
  for _, r in ipairs(self.recipients) do
    local rec = state[r.to]
    if rec and rec.r == "pending" then
      local u = { r = "unknown", to = r.to, line = r.line }
      local ok, werr = jw:write(u)
      if not ok then jw:close() sched:close() return journal_error(werr) end
      state[r.to] = u
    end
  end
  local ok, result = pcall(self.loop, self, sched, jw, state, stats, queue, t0)
  sched:close() -- already closed unless the loop raised
  jw:close()
  if not ok then error(result, 0) end
  return result
end

--- The scheduling loop (see `run`).
function mt:loop(sched, jw, state, stats, queue, t0)
  local limiter = assert(core.ratelimit { rate = self.rate / (1 + self.margin), burst = 1 })
  local agent = self.sender.agent or "agent"
  local interval = 1 / self.rate
  local unsent_tries = {}
  local ninflight = 0
  local stop
  local budget, gate_due, gate_task, gate_mark = huge, self.gate ~= nil, nil, nil
  local sends = 0 -- requests started in this run (for the gate's every-N re-read)
  local last_progress = -huge
  local function progress(final)
    if not self.progress then return end
    local now = core.monotonic()
    if not final and now - last_progress < 0.2 then return end
    last_progress = now
    local done, sent, failed = 0, 0, 0
    for _, r in ipairs(self.recipients) do
      local rec = state[r.to]
      if rec and journal.FINAL[rec.r] then
        done = done + 1
        if rec.r == "sent" then sent = sent + 1 elseif rec.r == "failed" then failed = failed + 1 end
      end
    end
    local elapsed = now - t0
    local rate_now = elapsed > 0 and stats.sent_now / elapsed or 0
    local left = #self.recipients - done
    self.progress { done = done, total = #self.recipients, sent = sent, failed = failed,
      throttled = stats.throttled, rate = rate_now, eta = rate_now > 0 and left / rate_now or nil,
      inflight = ninflight, final = final }
  end
  local function record(rec)
    local ok, werr = jw:write(rec)
    if not ok then stop = "journal_error"; self.journal_failure = werr; return false end
    state[rec.to] = rec
    return true
  end
  local function start_gate_read()
    gate_due = false
    gate_mark = { inflight = ninflight, sends = sends }
    gate_task = sched:spawn(self.gate.read)
    gate_task.is_gate = true
  end
  local function finish_gate(task)
    gate_task = nil
    local g, gerr
    if task.error then gerr = core.error("internal", tostring(task.error))
    else g, gerr = task.results[1], task.results[2] end
    if not g then
      stop = stop or "gate_error"
      self.gate_failure = gerr
      return
    end
    -- What the read counts is known up to the requests in flight when it started and those started
    -- since: each may or may not be in it, so each is taken off the capacity it gives. That bound is
    -- never above the true capacity, so it replaces the budget; a read made with nothing in flight and
    -- nothing sent since is exact.
    local fresh = g.capacity - gate_mark.inflight - (sends - gate_mark.sends)
    if g.exhausted then fresh = 0 end
    budget = max(fresh, 0)
    self.capacity_read = g.capacity
  end
  local function finish_send(task)
    local r = task.recipient
    ninflight = ninflight - 1
    local value, serr
    if task.error then serr = core.error("internal", tostring(task.error))
    else value, serr = task.results[1], task.results[2] end
    if value then
      stats.sent_now = stats.sent_now + 1
      record { r = "sent", to = r.to, line = r.line, status = value.status, body = value.body }
      return
    end
    if self.gate then gate_due = true end
    if type(serr) == "table" and serr.kind == "rate_limited" then
      stats.throttled = stats.throttled + 1
      local wait = serr.retry_after or interval
      limiter:penalize(agent, wait)
      if record { r = "throttled", to = r.to, line = r.line, retry_after = serr.retry_after } then
        insert(queue, 1, r)
        if budget ~= huge then budget = budget + 1 end
      end
      return
    end
    if type(serr) == "table" and serr.kind == "unprocessable" and type(serr.body) == "table"
      and serr.body.error == "limit_exhausted" then
      -- voicebot.studio refused it at the business-initiated limit: not sent; stop, leave it pending.
      if record { r = "unsent", to = r.to, line = r.line, kind = "limit_exhausted",
        message = serr.message } then
        insert(queue, 1, r)
      end
      stop = stop or "capacity"
      return
    end
    if type(serr) == "table" and serr.kind == "auth" then
      -- 401/403: every other request would fail the same way. Not sent; stop, leave it pending.
      if record { r = "unsent", to = r.to, line = r.line, kind = "auth", message = serr.message } then
        insert(queue, 1, r)
      end
      stop = stop or "auth"
      self.stop_error = self.stop_error or serr
      return
    end
    if type(serr) == "table" and serr.request_sent == false and serr.kind ~= "invalid_argument" then
      unsent_tries[r.to] = (unsent_tries[r.to] or 0) + 1
      if unsent_tries[r.to] < _M.UNSENT_ATTEMPTS then
        if record { r = "unsent", to = r.to, line = r.line, kind = serr.kind, message = serr.message } then
          limiter:penalize(agent, interval * 2 ^ unsent_tries[r.to])
          insert(queue, 1, r)
          if budget ~= huge then budget = budget + 1 end
        end
        return
      end
    end
    record { r = "failed", to = r.to, line = r.line, kind = type(serr) == "table" and serr.kind or "internal",
      status = type(serr) == "table" and serr.status or nil, message = message_of(serr) }
  end
  local function start_send(r)
    if not record { r = "pending", to = r.to, line = r.line } then return false end
    stats.attempted = stats.attempted + 1
    sends = sends + 1
    if budget ~= huge then budget = budget - 1 end
    local task = sched:spawn(self.sender.send, r.request)
    task.recipient = r
    ninflight = ninflight + 1
    if self.gate and sends % _M.GATE_EVERY == 0 then gate_due = true end
    return true
  end

  while true do
    if not stop and self.interrupted() then stop = "interrupted" end
    if gate_due and not gate_task and not stop then start_gate_read() end
    local wait = 0.05
    if stop then
      if ninflight == 0 and not gate_task then break end
    elseif #queue == 0 then
      if ninflight == 0 and not gate_task then stop = "done" break end
    elseif budget <= 0 then
      -- Out of capacity as last read: when nothing is in flight, read again; stop when it is still zero.
      if ninflight == 0 and not gate_task then
        if self.capacity_read ~= nil and budget <= 0 and gate_mark and gate_mark.sends == sends
          and gate_mark.inflight == 0 then
          stop = "capacity"
        else
          start_gate_read()
        end
      end
    elseif gate_task and budget == huge then
      -- The first capacity read has not answered yet.
      wait = 0.05
    elseif ninflight < self.concurrency then
      local w = limiter:take(agent)
      if w == 0 then
        local r = remove(queue, 1)
        if not start_send(r) then break end
        wait = 0
      else
        -- Wake up to 1 ms early and spin the rest: libcurl's poll rounds its timeout up to whole
        -- milliseconds, and every late wake-up would push the next token back (at 20/s, 1 ms is 2 %).
        wait = w > 0.002 and min(w - 0.001, 0.5) or 0
      end
    end
    local finished = sched:step(wait)
    for _, task in ipairs(finished) do
      if task.is_gate then finish_gate(task) else finish_send(task) end
    end
    progress(false)
  end
  -- Let whatever is still in flight finish (after a journal error or an interrupt).
  while sched:active() > 0 do
    for _, task in ipairs(sched:step(0.1)) do
      if not task.is_gate then finish_send(task) end
    end
  end
  sched:close()
  stats.elapsed = core.monotonic() - t0
  progress(true)
  local report = self:report(state, stats, stop)
  if self.gate_failure then report.summary.gate_error = message_of(self.gate_failure) end
  if self.stop_error then
    report.summary.stop_error = format("%s: %s", self.stop_error.kind, message_of(self.stop_error))
  end
  if self.journal_failure then report.summary.journal_error = self.journal_failure end
  if self.capacity_read then report.summary.capacity = self.capacity_read end
  return report
end

--- Write a report as CSV (one row per input row: line, to, outcome, status, kind, message) or JSON.
-- @tparam table report from `run`
-- @tparam string path ending in `.csv` or `.json`
-- @treturn boolean|nil true, or nil and a message
function _M.write_report(report, path)
  local text
  if match(path, "%.json$") then
    local err
    text, err = core.json_encode { summary = report.summary, recipients = core.array(report.entries) }
    if not text then return nil, err end
  elseif match(path, "%.csv$") then
    local function q(v)
      if v == nil then return "" end
      v = tostring(v)
      if find(v, '[,"\r\n]') then v = '"' .. gsub(v, '"', '""') .. '"' end
      return v
    end
    local lines = { "line,to,outcome,status,kind,message" }
    for _, e in ipairs(report.entries) do
      lines[#lines + 1] = concat({ q(e.line), q(e.to), q(e.outcome), q(e.status), q(e.kind), q(e.message) },
        ",")
    end
    text = concat(lines, "\r\n") .. "\r\n"
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
