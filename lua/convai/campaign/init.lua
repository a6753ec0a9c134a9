--- convai.campaign: outbound campaigns: usage-gated, rate-exact, crash-safe triggers with progress.
--
-- A campaign sends one approved template (or SMS, or voice call) to a list of recipients, as fast as the
-- vendor allows and no faster (the agent's slots from a `convai.limit`, requests overlapping on libcurl
-- multi so that server latency does not lower the rate), never more than the WhatsApp business-initiated
-- capacity left (an optional gate from `convai.capacity`), never twice to anyone (its `convai.journal`),
-- and ends with a report of what happened to every recipient.
--
-- The package: `recipients` (the CSV into checked rows), `senders` (what is sent, per vendor), `loop`
-- (the send loop), `report` (the outcome of every row); this module is the public API.
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
-- Documents followed: the Vonage AI Studio outbound document and docs/api-notes.md §3 (1 session per second
-- per agent, 3 or 5 when raised; 429 beyond it, honouring `Retry-After` or waiting one interval),
-- docs/api-notes.md §1 (voicebot.studio agent usage and send-template), RFC 4180 (the recipients CSV).
--
-- @module convai.campaign
local batch = require "convai.batch"
local capacity = require "convai.capacity"
local core = require "convai.core"
local delivery = require "convai.campaign.delivery"
local errors = require "convai.errors"
local journal = require "convai.journal"
local limit = require "convai.limit"
local loop = require "convai.campaign.loop"
local output_path = require "convai.output_path"
local recipients = require "convai.campaign.recipients"
local report = require "convai.campaign.report"
local runtime = require "convai.runtime"
local senders = require "convai.campaign.senders"
local status = require "convai.status"

local type, tostring, pairs, ipairs, setmetatable, pcall, error = type, tostring, pairs, ipairs,
  setmetatable, pcall, error
local ceil, max, min, huge = math.ceil, math.max, math.min, math.huge
local sub = string.sub

local _M = {
  --- Senders: what a campaign triggers (`convai.campaign.senders`): `vonage(client, channel, t)`,
  -- `vonage_whatsapp`, `vonage_sms`, `vonage_voice`, `voicebot_template`.
  senders = senders,
}

--- Capacity is read again after this many sends (and after any error); see `convai.campaign.loop`.
_M.GATE_EVERY = loop.GATE_EVERY

--- Attempts for a recipient whose connection failed before the request left (`request_sent == false`).
_M.UNSENT_ATTEMPTS = loop.UNSENT_ATTEMPTS

--- Seconds a run keeps retrying a failing store (Redis unreachable) before it stops (`store_timeout`).
_M.STORE_TIMEOUT = 60

local invalid = errors.invalid

--- Read the recipients CSV into rows (`convai.campaign.recipients.parse_csv`).
-- @function parse_csv
-- @tparam string text the file's content
-- @treturn table|nil `{columns, params = {header = n, body = n}, rows = {...}}`
-- @treturn[2] convai.error kind `invalid_argument`: the message starts with the line number
_M.parse_csv = recipients.parse_csv

--- Write a report as CSV or JSON (`convai.campaign.report.write`).
-- @function write_report
-- @tparam table report from `run`
-- @tparam string path ending in `.csv` or `.json`
-- @treturn boolean|nil true, or nil and a message
_M.write_report = report.write

--- The report of a campaign from its journal file, joined with the message statuses received
-- (`convai.campaign.delivery.report`; docs/statuses.md). Unknown recipients with a status are shown
-- `sent`, `reconciled`.
-- @function report
-- @tparam table opts `journal` (the journal file), `statuses` (optional: a status store, a JSON-lines
--   file or `redis://...`, see `convai.status`)
-- @treturn table|nil `{summary = {recipients, sent, failed, unknown, pending, invalid, duplicates,
--   failed_by_kind, reconciled, submitted, delivered, read, rejected, undeliverable, no_status,
--   delivered_rate, read_rate}, entries = {{line, to, outcome, status, kind, message, vendor_id,
--   delivery, delivery_at, delivery_error, at, delivered_at, reconciled}, ...}}` (rates are fractions
--   of `sent`; `delivery` the latest status; `at` and `delivered_at` seconds since the epoch)
-- @treturn[2] convai.error kind `journal` (absent, unreadable), `store` (the statuses unreadable) or
--   `invalid_argument`
_M.report = delivery.report

--- A voicebot.studio capacity gate: `current_limit - current_usage` of a WhatsApp agent, read fresh each
-- time, and a reservation before each send (`convai.capacity`'s `gate`), on a store shared with every
-- other user of it: campaigns gated on one agent together never send more than the capacity last read.
-- @tparam convai.voicebot client
-- @tparam[opt] integer agent_id the voicebot WhatsApp agent (default: the vendor's first one)
-- @tparam[opt] table opts `store`: where the reads and reservations are kept, the values of the limits'
--   stores (`"host"`, the default outside nginx; `"process"`; `"redis://..."`), or a table of
--   `convai.capacity.new` options (`{store =, setting =, ...}`; `setting` names it in messages)
-- @treturn table the gate: `read()` returns `{capacity = n, exhausted = boolean, usage = table}` or nil,
--   err; `hold()` a ticket, false or nil, err; `settle(ticket, sent)`; `error` set when the gate could not
--   be made (each call then returns it)
function _M.voicebot_gate(client, agent_id, opts)
  opts = opts or {}
  local o = { client = client, store = runtime.in_nginx and "process" or "host" }
  local where = opts.store
  if type(where) == "table" then
    for k, v in pairs(where) do o[k] = v end
  elseif where ~= nil then
    o.store = where
  end
  local setting = o.setting
  o.setting = nil
  local cap, err = capacity.new(o)
  if not cap then
    if setting and type(err) == "table" then err.message = setting .. ": " .. tostring(err.message) end
    local function failed() return nil, err end
    return { agent_id = agent_id, read = failed, hold = failed, settle = failed, error = err }
  end
  return cap:gate(agent_id)
end

local mt = {}
mt.__index = mt

-- The options that are numbers, checked; returns rate (nil: the agent's), margin or nil, err.
local function check_numbers(opts)
  local rate = opts.rate
  if rate ~= nil and (type(rate) ~= "number" or not (rate > 0 and rate < huge)) then
    return invalid("rate must be a positive number of sessions per second, got %s", tostring(opts.rate))
  end
  local margin = opts.rate_margin == nil and 0.02 or opts.rate_margin
  if type(margin) ~= "number" or not (margin >= 0 and margin <= 0.5) then
    return invalid("rate_margin must be a number from 0 to 0.5")
  end
  local st = opts.store_timeout
  if st ~= nil and (type(st) ~= "number" or not (st > 0 and st < huge)) then
    return invalid("store_timeout must be a positive number of seconds, got %s", tostring(st))
  end
  for _, name in ipairs { "on_store_wait", "on_outcome", "on_warning" } do
    if opts[name] ~= nil and type(opts[name]) ~= "function" then
      return invalid("%s must be a function", name)
    end
  end
  local rp = opts.report
  if rp ~= nil and (type(rp) ~= "string" or not (rp:match("%.csv$") or rp:match("%.json$"))) then
    return invalid("report must be the path of a .csv or .json file, got %s", tostring(rp))
  end
  if opts.statuses ~= nil then
    local usable, err = status.usable(opts.statuses)
    if not usable then return nil, err end
  end
  return true, rate, margin
end

local function check_concurrency(opts, rate)
  local concurrency = opts.concurrency or min(64, max(4, ceil(rate * 4)))
  if type(concurrency) ~= "number" or concurrency < 1 or concurrency % 1 ~= 0 then
    return invalid("concurrency must be a positive integer")
  end
  return concurrency
end

-- The limit a campaign takes its slots from, before its own rate: `opts.limit`; else a new one on the
-- store `opts.limits` (or the default store) when given, or when the sender's client has none, at the
-- campaign's rate (no vendor rate to stay under); else the sender's client's own.
local function base_limit(opts, sender, rate)
  local lim = opts.limit
  if lim ~= nil then
    if not limit.is_limit(lim) then return invalid("limit must be a convai.limit (limit.new{...})") end
    return lim
  end
  if opts.limits == nil and sender.limit ~= nil then return sender.limit end
  local o
  if opts.limits == nil then
    o = limit.default()
  elseif type(opts.limits) == "string" then
    o = { store = opts.limits, setting = "limits" }
  elseif type(opts.limits) == "table" then
    o = {}
    for k, v in pairs(opts.limits) do o[k] = v end
  else
    return invalid("limits must be host, process, a store URL or a table of convai.limit.new options, "
      .. "got %s", type(opts.limits))
  end
  o.rate, o.rates = rate or o.rate, opts.rates
  return limit.new(o)
end

-- The campaign's limit: the base limit with the agent at the lower of the campaign's rate and the
-- agent's rate there, spaced by the campaign's margin, and never giving up. Returns the limit, the rate
-- and, when the campaign's rate was lowered, the agent's rate; or nil, err.
local function campaign_limit(opts, sender, rate, margin)
  local base, err = base_limit(opts, sender, rate)
  if not base then return nil, err end
  local agent = sender.agent or "agent"
  local allowed = base:rate(agent)
  local r = rate and min(rate, allowed) or allowed
  local lim
  lim, err = base:derive { rates = { [agent] = r }, margin = margin, max_wait = huge }
  if not lim then return nil, err end
  return lim, r, (rate and rate > allowed) and allowed or nil
end

--- Create a campaign: reads and checks every recipient, once (nothing is sent yet).
-- @tparam table opts
-- @tparam table opts.sender from `convai.campaign.senders`
-- @tparam string opts.journal where the journal is: a file path (created, or resumed when it exists), or
--   the URL of a registered journal backend (`convai.journal`): `redis://[user:password@]host[:port][/db]`
--   keeps the campaign's state in Redis, where every run of the same campaign (same options) on any host
--   is a worker of it (`convai.journal.redis`)
-- @tparam string opts.csv the recipients CSV text (or `opts.recipients`, the result of `parse_csv`)
-- @tparam[opt] number opts.rate sessions per second for the sender's agent: at most the agent's rate in
--   the limit the slots come from (a Vonage client's `rates`, `CONVAI_VONAGE_RATES`; 1 by default): a
--   higher rate is lowered to it (`campaign.rate` is the rate used, `campaign.rate_lowered` the agent's
--   rate when it was lowered). Default: the agent's rate. With a limit of the campaign's own (a
--   voicebot.studio sender, or `limits`), any positive number (default 1)
-- @tparam[opt=0.02] number opts.rate_margin fraction by which requests are spaced wider than `1/rate`, so
--   that network jitter cannot land two requests in one vendor rate window (0 to 0.5)
-- @tparam[opt] convai.limit opts.limit where the agent's slots come from; default: the sender's client's
--   limit (its `limits` store: by default `host`, so that the campaign, other campaigns and one-off
--   triggers on the same agent share its rate), or, for a client without one, a limit on `limits`
-- @param[opt] opts.limits a store for a limit of the campaign's own, at `rate` (and `rates`): as
--   `convai.vonage.new`'s `limits` (`"host"`, `"process"`, a URL, a table of `convai.limit.new` options);
--   default `convai.limit.default()`
-- @tparam[opt] table opts.rates `{[agent] = rate}` for that limit
-- @tparam[opt] table opts.gate from `voicebot_gate` (or a capacity's `gate`): never send more than the
--   capacity last read
-- @tparam[opt] integer opts.concurrency most requests in flight (default `max(4, ceil(rate * 4))`,
--   at most 64)
-- @tparam[opt=false] boolean opts.retry_failed send again to recipients whose last outcome was `failed`
-- @tparam[opt=false] boolean opts.resend_unknown send again to recipients whose outcome is `unknown` (the
--   request may have reached the vendor): only once the operator has checked that it did not; a file
--   journal only (a Redis journal refuses to claim them again). Never the default
-- @tparam[opt=false] boolean opts.skip_invalid go on with the valid rows when some rows are invalid (they
--   are reported as `invalid` and never sent); by default any invalid row refuses the whole campaign
-- @tparam[opt=false] boolean opts.dry_run check everything and report, without sending or writing
-- @tparam[opt] function opts.progress called with a progress table at most every 0.2 s and at the end
-- @tparam[opt=60] number opts.store_timeout seconds a run retries a failing store (a `store` error at a
--   limit acquire or a journal claim or write: nothing is sent meanwhile) before it stops with
--   `stopped = "store_error"`, the rest pending
-- @tparam[opt] function opts.on_store_wait called with `{error = convai.error, wait = seconds to the next
--   try, waited = seconds since the first failure, timeout = store_timeout}` each time the store fails,
--   and with `{recovered = true, waited = seconds}` when it answers again
-- @tparam[opt] string opts.report a report file (`.csv` or `.json`) kept current during the run: its
--   directory is checked before the first send (a run refuses with `invalid_argument`, nothing sent), then
--   it is replaced atomically before the first send, every `loop.REPORT_EVERY` (2) seconds and at the
--   end, so that a killed run leaves a valid report (`summary.stopped` is `"running"` in one written
--   mid-run). A dry run checks it and writes nothing
-- @tparam[opt] string opts.statuses a status store (a JSON-lines file or `redis://...`, `convai.status`):
--   the run's final report (returned, and written to `report`) is joined with the statuses received so
--   far (`convai.campaign.delivery.join`: `delivery`, `delivery_at`, `delivery_error` per recipient, the
--   delivery counts in the summary, an `unknown` with a status shown `sent` and `reconciled`; the journal
--   is not changed: `campaign reconcile` does that). The mid-run writes are not joined. A store that
--   cannot be read leaves the report unjoined, with `summary.statuses_error`
-- @tparam[opt] function opts.on_outcome called once per recipient outcome of this run as
--   `on_outcome(row, outcome)`: `row` is `{line, to (normalised), request (the body sent)}`, `outcome` is
--   `{outcome = "sent"|"failed"|"unknown", line, to, status (HTTP), kind (error kind), message, body (the
--   vendor's answer, when sent)}`; `unknown` when the request left but its outcome could not be journaled.
--   An error it raises ends the run (the journal is closed first)
-- @tparam[opt] function opts.on_warning called with a line of text when the campaign has something to
--   say mid-run: once, when the vendor refused the agent's rate and the pace was lowered (`agent A accepted
--   about 1.0/s; --rate 5 is above its limit (ask the vendor to raise it, or use --rate 1)`)
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
  local ok, rate, margin = check_numbers(opts)
  if not ok then return nil, rate end
  local lim, lowered, concurrency, err
  lim, rate, lowered = campaign_limit(opts, sender, rate, margin)
  if not lim then return nil, rate end
  concurrency, err = check_concurrency(opts, rate)
  if not concurrency then return nil, err end
  local input = opts.recipients
  if input == nil then
    input, err = recipients.parse_csv(opts.csv)
    if not input then return nil, err end
  end
  local checked
  checked, err = recipients.check(input, sender, opts.skip_invalid)
  if not checked then return nil, err end
  -- The campaign's identity is its parameters, not its recipients: the same journal takes an amended CSV.
  local fingerprint = {}
  for k, v in pairs(sender.fingerprint or {}) do fingerprint[k] = v end
  return setmetatable({
    sender = sender, gate = opts.gate, limit = lim, rate = rate, rate_lowered = lowered, margin = margin,
    concurrency = concurrency,
    journal_path = opts.journal, recipients = checked.recipients, invalid = checked.invalid,
    duplicates = checked.duplicates, fingerprint = fingerprint,
    retry_failed = opts.retry_failed and true or false,
    resend_unknown = opts.resend_unknown and true or false, dry_run = opts.dry_run and true or false,
    progress = opts.progress, report_path = opts.report, statuses = opts.statuses,
    on_outcome = opts.on_outcome,
    on_warning = opts.on_warning,
    store_timeout = opts.store_timeout or _M.STORE_TIMEOUT, on_store_wait = opts.on_store_wait,
    interrupted = opts.interrupted or function() return core.interrupted() > 0 end,
    batch_options = opts.batch,
  }, mt)
end

--- Build the report of this campaign from a journal state (see `convai.campaign.report.build`).
-- @tparam table state `{[to] = last record}`
-- @tparam table stats `{throttled, attempted, elapsed, sent_now}`
-- @tparam string stop why the run stopped
-- @treturn table the report
function mt:report(state, stats, stop)
  return report.build(self, state, stats, stop)
end

-- The recipients to send in this run: never those already sent or unknown; failed ones on request.
local function queue_of(self, state)
  local queue = {}
  for _, r in ipairs(self.recipients) do
    local rec = state[r.to]
    local last = rec and rec.r
    if last == nil or last == "throttled" or last == "unsent" or (last == "failed" and self.retry_failed)
        or (last == "unknown" and self.resend_unknown) then
      queue[#queue + 1] = r
    end
  end
  return queue
end

local function dry_run_report(self, state, queue)
  local rep = self:report(state, { throttled = 0, attempted = 0, elapsed = 0, sent_now = 0, queued = #queue },
    "dry_run")
  rep.summary.would_send = #queue
  rep.queue = queue
  for _, r in ipairs(self.recipients) do
    local rec = state[r.to]
    if rec and rec.r == "pending" then rep.summary.unknown = rep.summary.unknown + 1 end
  end
  return rep
end

-- A pending without an outcome: the process died mid-request. Recorded as unknown, never re-sent. A
-- shared journal (`settle`) settles only the pendings of dead workers, and the state is read again.
local function settle_unknown(self, j, state)
  if j.settle then
    local settled, err = j:settle()
    if not settled then return nil, err end
    local fresh
    fresh, err = j:reload()
    if not fresh then return nil, err end
    for to, rec in pairs(fresh) do state[to] = rec end
    return true
  end
  for _, r in ipairs(self.recipients) do
    local rec = state[r.to]
    if rec and rec.r == "pending" then
      local u = { r = "unknown", to = r.to, line = r.line, at = rec.at } -- at: when the request left
      local ok, err = j:write(u)
      if not ok then return nil, core.error("journal", err) end
      state[r.to] = u
    end
  end
  return true
end

-- A worker of a shared journal starts at its own place in the queue (from its ID), so that workers
-- started together seldom reach for the same recipient.
local function spread(j, queue)
  local id = type(j.worker) == "string" and tonumber(sub(j.worker, 1, 8), 16)
  if not id or #queue < 2 then return queue end
  local start, out = id % #queue, {}
  for i = 1, #queue do out[i] = queue[(start + i - 1) % #queue + 1] end
  return out
end

-- The places the run writes, checked before anything is sent (a dry run stops after this): the report
-- file's directory, and the journal's.
local function check_outputs(self)
  if self.report_path then
    local ok, why = output_path.check(self.report_path)
    if not ok then return invalid("cannot write the report %s: %s", self.report_path, why) end
  end
  return journal.check(self.journal_path)
end

--- Run (or resume) the campaign to its end, a gate stop, or an interrupt.
-- Recipients already `sent` or `unknown` in the journal are never sent again; `failed` ones only with
-- `retry_failed`. A 429 waits for `Retry-After` (or one interval) and retries the same recipient;
-- repeated 429s without `Retry-After` lower the pace (`convai.campaign.pace`: AIMD, never above the
-- campaign's rate; `on_warning` told once). An amended CSV (rows fixed, added or removed) with the same
-- journal sends the new and fixed rows; recipients of the journal no longer in the CSV are reported
-- `removed` and not sent.
-- @treturn table|nil the report: `{summary = {sent, failed, failed_by_kind = {[kind] = n}, unknown, invalid,
--   pending, duplicates, removed (the campaign's totals: every run's), throttled (429s seen in this run),
--   recipients, attempted, elapsed (s, this run), rate (this run's achieved rate: `(k - 1) / (t_last -
--   t_first)` over its k accepted sends, by their start; 0 for fewer than 2), sent_now (accepted in this
--   run), pace (the lowered pace at the end, when 429s lowered it), warnings (array of text), report_error
--   (the report file could not be written), stopped ("done" | "capacity" | "interrupted" | "auth" (a
--   401/403: the credential is
--   refused, the rest left pending) | "gate_error" | "journal_error" | "limit_error" (the limit failed) |
--   "store_error" (the store failed for `store_timeout` seconds, or the campaign's state is gone from it;
--   the rest pending)), stop_error, gate_error, journal_error},
--   entries = { {line, to, outcome ("sent"|"failed"|"unknown"|"pending"|"invalid"|"duplicate"|"removed"),
--   status, kind, message}, ... }}`; a dry run's (`stopped = "dry_run"`) adds `summary.would_send` and
--   `queue`, the recipients that would be sent (`{line, to, request}`)
-- @treturn[2] nil
-- @treturn[2] convai.error kind `journal` (unreadable, another campaign's (`err.parameter` names the
--   parameter that differs, `err.journal_value` and `err.value` its two values), locked by another run, or
--   not writable: nothing is sent, and a dry run refuses the same), `invalid_argument` (the report file
--   cannot be written: nothing is sent), `store` (a `redis://` journal unreachable or refusing: nothing is
--   sent), or
--   `invalid_argument` (inside nginx, outside `init_by_lua`: a campaign drives
--   libcurl, which would block the worker; nothing is sent or written)
function mt:run()
  local t0 = core.monotonic()
  local loaded, err = journal.load(self.journal_path, self.fingerprint)
  if not loaded then return nil, err end
  local state = loaded.state
  local queue = queue_of(self, state)
  local checked
  if self.dry_run then
    checked, err = check_outputs(self)
    if not checked then return nil, err end
    return dry_run_report(self, state, queue)
  end
  -- The scheduler first: it is refused where it cannot run (inside nginx), before the journal is touched.
  local bopts = { concurrency = self.concurrency }
  for k, v in pairs(self.batch_options or {}) do bopts[k] = v end
  local sched, serr = batch.new(bopts)
  if not sched then return nil, serr end
  checked, err = check_outputs(self)
  if not checked then sched:close() return nil, err end
  local j
  j, err = journal.open(self.journal_path, self.fingerprint, loaded)
  if not j then sched:close() return nil, err end
  local settled
  settled, err = settle_unknown(self, j, state)
  if not settled then j:close() sched:close() return nil, err end
  queue = spread(j, queue)
  local stats = { throttled = 0, attempted = 0, elapsed = 0, sent_now = 0 }
  local ok, result = pcall(loop.run, self, { sched = sched, journal = j, state = state, stats = stats,
    queue = queue, t0 = t0 })
  sched:close() -- already closed unless the loop raised
  j:close()
  if not ok then error(result, 0) end
  return result
end

return _M
