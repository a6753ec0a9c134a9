--- convai.campaign.loop: the send loop of a campaign run, on one `convai.batch` scheduler.
--
-- Each turn the loop decides one thing (`turn`): stop, read the capacity again, or start the next
-- recipient's request when its agent's slot starts now (claimed from the campaign's limit); then it steps the
-- scheduler (requests overlap on libcurl multi, so server latency does not lower the rate) and handles
-- what finished: a capacity read (`finish_gate`) or a send (`finish_send`, one small function per
-- outcome). Every recipient is journaled `pending` (claimed) before its request leaves and gets its
-- outcome after. The state of a run is one table, `s` (see `new_state`).
--
-- Documents followed: the Vonage AI Studio outbound document and docs/api-notes.md §3 (per-agent sessions
-- per second; 429 beyond it, honouring `Retry-After` or waiting one interval), docs/api-notes.md §1
-- (voicebot.studio's business-initiated limit, `limit_exhausted`).
--
-- @module convai.campaign.loop
local core = require "convai.core"
local delivery = require "convai.campaign.delivery"
local journal = require "convai.journal"
local pace = require "convai.campaign.pace"
local report = require "convai.campaign.report"
local runtime = require "convai.runtime"

local type, tostring, ipairs, pairs = type, tostring, ipairs, pairs
local format = string.format
local max, min, huge = math.max, math.min, math.huge
local remove, insert = table.remove, table.insert

local _M = {}

--- Capacity is read again after this many sends (and after any error).
_M.GATE_EVERY = 25

--- Recipients a worker of a shared journal offers in one claim (`claim_first`): the first one no other
-- worker holds is claimed.
_M.CLAIM_AHEAD = 64

--- Attempts for a recipient whose connection failed before the request left (`request_sent == false`).
_M.UNSENT_ATTEMPTS = 3

--- Seconds before a slot within which the loop spins instead of sleeping: it wakes up to 1 ms early and
-- spins the rest, since libcurl's poll rounds its timeout up to whole milliseconds and every late
-- wake-up would push the next slot back (at 20/s, 1 ms is 2 %).
_M.SPIN = 0.002

--- How far ahead the loop claims the agent's next slot, in intervals of the agent (`AHEAD`), at most
-- `AHEAD_MAX` seconds: the loop claims the next free slot once (one round trip to the store per send,
-- which matters for Redis) and waits for it to start without asking again. A few intervals let that
-- hold with a few processes sharing the agent (each holds at most one slot ahead); a slot further away
-- is not claimed and is asked for again when it comes within reach.
_M.AHEAD = 4
_M.AHEAD_MAX = 5

--- Seconds between two writes of the report file during a run (it is also written before the first
-- send and at the end).
_M.REPORT_EVERY = 2

local message_of = report.message_of

-- The limit the slots come from (`lim`: the campaign's, or one at the pace's rate), how far ahead a slot
-- is claimed, and how late a claimed slot may still be used (seconds: half the margin, at least a spin's
-- length). A slot already claimed is kept (after a 429, `penalize` drops it).
local function spacing_of(s, lim)
  local rate, spacing = lim:rate(s.agent)
  s.limit = lim
  s.ahead = min(_M.AHEAD * spacing, _M.AHEAD_MAX)
  s.late = max((rate * spacing - 1) / 2, _M.SPIN)
  s.interval = 1 / rate          -- the default wait after a 429 without Retry-After
end

--- The state of one run.
-- @tparam table c the campaign
-- @tparam table run `{sched, journal, state, stats, queue, t0}` from `campaign:run`
-- @treturn table the state `s`
local function new_state(c, run)
  local s = {
    c = c, sched = run.sched, journal = run.journal, state = run.state, stats = run.stats,
    queue = run.queue, t0 = run.t0,
    agent = c.sender.agent or "agent",
    pace = pace.new(c.rate),       -- the pace that listens to the vendor's 429s (convai.campaign.pace)
    slot_at = nil,                 -- monotonic start of the slot claimed ahead (nil: none held)
    unsent_tries = {},             -- [to] = connections failed before the request left
    inflight = 0,                  -- send requests in flight
    sends = 0,                     -- requests started in this run (the gate re-reads every GATE_EVERY)
    budget = huge,                 -- capacity left as last read (huge: no gate, not read yet, or shared)
    shared = c.gate ~= nil and c.gate.hold ~= nil, -- the gate reserves in its store before each send
    held = nil,                    -- shared gate: the reservation for the next send (a ticket)
    gate_due = c.gate ~= nil,      -- a capacity read is wanted
    gate_task = nil,               -- the capacity read in flight
    gate_mark = nil,               -- {inflight, sends} when the last read started
    last_progress = -huge,
    stop = nil,                    -- why the run stops (nil while it goes on)
    report_at = nil,               -- monotonic time of the last write of the report file
  }
  spacing_of(s, c.limit)
  return s
end

-- ------------------------------------------------------------------ journal and progress

-- ------------------------------------------------------------------ store faults
--
-- A `store` error (Redis unreachable or timing out, at a limit acquire or a journal claim or write) does
-- not stop the run at once: nothing is sent for that recipient, and the store is tried again after a
-- bounded exponential backoff (STORE_BACKOFF), `c.on_store_wait` saying why; after `c.store_timeout`
-- seconds of failures the run stops (`store_error`, the rest pending). A campaign state gone from the
-- store (`err.gone`) stops it at once. Outcomes that could not be written are kept (`s.unwritten`) and
-- written first when the store answers again.

--- The store's retry backoff, seconds: the first wait and the longest.
_M.STORE_BACKOFF = { first = 0.1, most = 5 }

local function is_store_error(err)
  return type(err) == "table" and err.kind == "store"
end

local function store_stop(s, err)
  s.stop = s.stop or "store_error"
  s.stop_error = s.stop_error or err
end

-- The store failed: wait (a longer time after a failed retry), or stop after store_timeout.
local function store_failed(s, err)
  if err.gone then return store_stop(s, err) end
  local now = core.monotonic()
  local w = s.store_wait
  if w and now < w.retry_at then return end -- another call of the same burst
  if not w then
    w = { since = now, delay = _M.STORE_BACKOFF.first }
    s.store_wait = w
  else
    w.delay = min(w.delay * 2, _M.STORE_BACKOFF.most)
  end
  local timeout = s.c.store_timeout or 60
  w.err = err
  if now - w.since >= timeout then return store_stop(s, err) end
  w.retry_at = min(now + w.delay, w.since + timeout)
  if s.c.on_store_wait then
    s.c.on_store_wait { error = err, wait = w.retry_at - now, waited = now - w.since, timeout = timeout }
  end
end

local function store_ok(s)
  if not s.store_wait then return end
  local waited = core.monotonic() - s.store_wait.since
  s.store_wait = nil
  if s.c.on_store_wait then s.c.on_store_wait { recovered = true, waited = waited } end
end

-- Tell the caller (`on_outcome`) of a recipient's final outcome, once.
local function outcome(s, rec)
  local on = s.c.on_outcome
  if not on or not journal.FINAL[rec.r] then return end
  local row = s.recipient_of[rec.to] or { line = rec.line, to = rec.to }
  on(row, { outcome = rec.r, line = rec.line, to = rec.to,
    status = rec.status, kind = rec.kind, message = rec.message, body = rec.body })
end

-- Journal a record and keep it as the recipient's state. A claim returns false, "claimed" when another
-- worker holds the recipient (or it is final), false, "store" when the store failed (see above); an
-- outcome the store did not take is kept to be written again; any other failure stops the run
-- (journal_error).
local function record(s, rec, claim)
  local ok, werr
  rec.at = rec.at or runtime.now() -- epoch seconds: the report's timeline (convai.campaign.delivery)
  if claim then ok, werr = s.journal:claim(rec, s.c.retry_failed) else ok, werr = s.journal:write(rec) end
  if ok == false and werr == nil then
    store_ok(s)
    return false, "claimed"
  end
  if not ok then
    if is_store_error(werr) then
      store_failed(s, werr)
      if claim then return false, "store" end
      s.unwritten = s.unwritten or {}
      s.unwritten[#s.unwritten + 1] = rec
      s.state[rec.to] = rec
      outcome(s, rec)
      return true
    end
    s.stop, s.journal_failure = "journal_error", werr
    -- The request left (its pending is journaled) but its outcome is not: unknown, as a resume finds it.
    if not claim then
      local u = { r = "unknown", to = rec.to, line = rec.line, message = "the request left but its outcome "
        .. "could not be journaled: " .. message_of(werr) }
      s.state[rec.to] = u
      outcome(s, u)
    end
    return false
  end
  store_ok(s)
  s.state[rec.to] = rec
  outcome(s, rec)
  return true
end

-- Write the outcomes the store did not take; true when none is left.
local function flush_unwritten(s)
  local list = s.unwritten
  while list and #list > 0 do
    local ok, err = s.journal:write(list[1])
    if not ok then
      if is_store_error(err) then
        store_failed(s, err)
      else
        s.stop, s.journal_failure = "journal_error", err
      end
      return false
    end
    remove(list, 1)
  end
  store_ok(s)
  return true
end

-- While the store fails: the seconds to wait before trying it again (nil: go on). The outcomes not yet
-- written go first.
local function store_backoff(s)
  local w = s.store_wait
  if w then
    local left = w.retry_at - core.monotonic()
    if left > 0 then return min(left, 0.5) end
  end
  if s.unwritten and #s.unwritten > 0 and not flush_unwritten(s) then return 0 end
  return nil
end

-- A worker of a shared journal says it is alive while it has nothing to claim or write (at most once a
-- second; a failure here is seen again at the next claim).
local function keep_alive(s)
  if not s.journal.alive then return end
  local now = core.monotonic()
  if s.alive_at and now - s.alive_at < 1 then return end
  s.alive_at = now
  s.journal:alive()
end

-- At the end of a run on a shared journal: the outcomes not yet written (while the store allows), the
-- dead workers' pendings settled `unknown`, the pendings of live workers waited for (when this run is
-- done), and the whole campaign's state read back, so that the report covers every worker's sends.
local function finish_journal(s)
  while s.unwritten and #s.unwritten > 0 and s.stop ~= "store_error" and s.stop ~= "journal_error" do
    if s.store_wait then core.sleep(max(s.store_wait.retry_at - core.monotonic(), 0)) end
    flush_unwritten(s)
  end
  local j = s.journal
  if not j.reload or s.store_wait or (s.unwritten and #s.unwritten > 0) then return end
  local deadline = core.monotonic() + 2 * (j.worker_ttl or 10)
  repeat
    local settled, held = j:settle()
    if not settled or held == 0 or s.stop ~= "done" then break end
    core.sleep(0.25)
  until core.monotonic() > deadline
  local state = j:reload()
  if state then
    for to, rec in pairs(state) do s.state[to] = rec end
  end
end

-- ------------------------------------------------------------------ journal and progress

local function progress(s, final)
  local c = s.c
  if not c.progress then return end
  local now = core.monotonic()
  if not final and now - s.last_progress < 0.2 then return end
  s.last_progress = now
  local done, sent, failed = 0, 0, 0
  for _, r in ipairs(c.recipients) do
    local rec = s.state[r.to]
    if rec and journal.FINAL[rec.r] then
      done = done + 1
      if rec.r == "sent" then sent = sent + 1 elseif rec.r == "failed" then failed = failed + 1 end
    end
  end
  local elapsed = now - s.t0
  local rate_now = elapsed > 0 and s.stats.sent_now / elapsed or 0
  local left = #c.recipients - done
  c.progress { done = done, total = #c.recipients, sent = sent, failed = failed,
    throttled = s.stats.throttled, rate = rate_now, eta = rate_now > 0 and left / rate_now or nil,
    inflight = s.inflight, final = final }
end

-- ------------------------------------------------------------------ the rate limit

-- Hold the agent back `seconds` (a 429, a failed connection); a slot claimed ahead is not used.
local function penalize(s, seconds)
  s.slot_at = nil
  s.limit:penalize(s.agent, seconds)
end

-- Seconds the scheduler may wait until `at` (monotonic): 0 in the last SPIN seconds (the loop spins).
local function until_slot(at)
  local w = at - core.monotonic()
  return w > _M.SPIN and w - 0.001 or 0
end

-- The agent's slot, claimed ahead: true when a slot claimed before (or just now) starts now, else the
-- seconds the scheduler may wait before the loop comes back (0 when the run stops because the limit
-- failed). One `acquire` per send: the next free slot within `s.ahead` is claimed once and kept in
-- `s.slot_at` until it starts. A claimed slot the loop reaches more than `s.late` seconds after its start
-- is dropped and another claimed (sent that late, it could crowd the slot after it in the vendor's window).
-- A run that stops while it holds a slot leaves that one slot unused: the agent's other senders lose
-- one interval, never more, and no sender ever exceeds the rate (slots cannot be given back in GCRA).
local function slot_now(s)
  local backoff = store_backoff(s)
  if backoff then return backoff end
  local at = s.slot_at
  if at then
    local late = core.monotonic() - at
    if late < 0 then return until_slot(at) end
    s.slot_at = nil
    if late <= s.late then return true end
  end
  local delay, err = s.limit:acquire(s.agent, s.ahead)
  if delay then
    if delay <= 0 then return true end
    s.slot_at = core.monotonic() + delay
    return until_slot(s.slot_at)
  end
  if type(err) == "table" and err.kind == "rate_limited" then
    local w = (err.wait or err.retry_after or s.interval) - s.ahead -- back when it is within reach
    return min(max(w, 0.001), 0.5)
  end
  if is_store_error(err) then
    store_failed(s, err)
    return 0
  end
  s.stop, s.stop_error = s.stop or "limit_error", err
  return 0
end

-- ------------------------------------------------------------------ the capacity gate

local function start_gate_read(s)
  s.gate_due = false
  s.gate_mark = { inflight = s.inflight, sends = s.sends }
  s.gate_task = s.sched:spawn(s.c.gate.read)
  s.gate_task.is_gate = true
end

local function finish_gate(s, task)
  s.gate_task = nil
  local g, gerr
  if task.error then gerr = core.error("internal", tostring(task.error))
  else g, gerr = task.results[1], task.results[2] end
  if not g then
    s.stop = s.stop or "gate_error"
    s.gate_failure = gerr
    return
  end
  -- What the read counts is known up to the requests in flight when it started and those started
  -- since: each may or may not be in it, so each is taken off the capacity it gives. That bound is
  -- never above the true capacity, so it replaces the budget; a read made with nothing in flight and
  -- nothing sent since is exact.
  s.capacity_read = g.capacity
  if s.shared then return end -- the store counts every send in flight, this run's and others'
  local fresh = g.capacity - s.gate_mark.inflight - (s.sends - s.gate_mark.sends)
  if g.exhausted then fresh = 0 end
  s.budget = max(fresh, 0)
end

-- Out of capacity as last read: read again when nothing is in flight; stop when an exact read said 0.
local function out_of_capacity(s)
  if s.inflight > 0 or s.gate_task then return end
  local m = s.gate_mark
  if s.capacity_read ~= nil and m and m.sends == s.sends and m.inflight == 0 then
    s.stop = "capacity"
  else
    start_gate_read(s)
  end
end

-- Shared gate: hold a reservation for the next send (in the gate's store, so that every campaign on the
-- agent counts it). Nil when one is held; else how long the scheduler may wait (no room: read again, or
-- stop when a read made with nothing of this run in flight left none; the store failed: stop, nothing
-- sent).
local function hold_capacity(s)
  if s.held then return nil end
  if s.capacity_read == nil then return 0.05 end -- the first read has not answered
  local backoff = store_backoff(s)
  if backoff then return backoff end
  local ticket, err = s.c.gate.hold()
  if ticket then
    store_ok(s)
    s.held = ticket
    return nil
  end
  if ticket == nil and is_store_error(err) then -- the capacity store failed: wait for it, as for the limit
    store_failed(s, err)
    return 0
  end
  if ticket == nil then
    s.stop, s.gate_failure = s.stop or "gate_error", err
    return 0
  end
  if err == nil then -- no read kept in the store (expired, forgotten): read again
    if not s.gate_task then s.gate_due = true end
    return 0.05
  end
  out_of_capacity(s)
  return 0.05
end

-- Shared gate: the reservation of the send that starts now (nil without one).
local function spend_capacity(s)
  if s.budget ~= huge then s.budget = s.budget - 1 end
  local ticket = s.held
  s.held = nil
  return ticket
end

-- Shared gate: end a send's reservation: given back when the vendor opened no conversation (429, a
-- refusal, the request never left), else counted until a read that starts later.
local function settle_capacity(s, task, value, err)
  local ticket = task.ticket
  if not ticket then return end
  task.ticket = nil
  local opened = value ~= nil
  if not opened and type(err) == "table" then
    local refused = err.kind == "rate_limited" or err.kind == "auth" or err.request_sent == false
      or (err.kind == "unprocessable" and type(err.body) == "table" and err.body.error == "limit_exhausted")
    opened = not refused
  elseif not opened then
    opened = true -- an error of unknown shape: it may have been sent
  end
  s.c.gate.settle(ticket, opened)
end

-- ------------------------------------------------------------------ sends

-- Put a recipient that was not sent back at the head of the queue; `give_back` returns its capacity.
local function requeue(s, r, give_back)
  insert(s.queue, 1, r)
  if give_back and s.budget ~= huge then s.budget = s.budget + 1 end
end

-- A shared journal with `claim_first`: the first of the next CLAIM_AHEAD recipients that no other worker
-- holds (or finished) is claimed in one round trip; those before it are dropped from this worker's queue.
-- Returns the recipient and true, or nil and "claimed" (none of them) or "store".
local function claim_next(s)
  local n = min(#s.queue, _M.CLAIM_AHEAD)
  local recs = {}
  for i = 1, n do recs[i] = { r = "pending", to = s.queue[i].to, line = s.queue[i].line } end
  local k, err = s.journal:claim_first(recs, s.c.retry_failed)
  if not k then
    if is_store_error(err) then store_failed(s, err) return nil, "store" end
    s.stop, s.journal_failure = "journal_error", err
    return nil
  end
  store_ok(s)
  for _ = 1, k == 0 and n or k - 1 do remove(s.queue, 1) end
  if k == 0 then return nil, "claimed" end
  local r = remove(s.queue, 1)
  s.state[r.to] = recs[k]
  return r, true
end

local function start_send(s)
  -- A recipient another worker of the campaign holds (or finished) is skipped, and the slot goes to the
  -- next one.
  local r, ok, why
  if s.journal.claim_first then
    repeat r, why = claim_next(s) until r or why ~= "claimed" or #s.queue == 0
    ok = r ~= nil
    if why == "store" then return true end -- tried again after the backoff; the queue is as it was
  else
    repeat
      r = remove(s.queue, 1)
      ok, why = record(s, { r = "pending", to = r.to, line = r.line }, true)
    until ok or why ~= "claimed" or #s.queue == 0
  end
  if not ok then
    if why == "claimed" then return true end
    if why == "store" then insert(s.queue, 1, r) return true end -- tried again after the backoff
    return false
  end
  s.stats.attempted = s.stats.attempted + 1
  s.sends = s.sends + 1
  local ticket = spend_capacity(s)
  local task = s.sched:spawn(s.c.sender.send, r.request)
  task.recipient, task.ticket, task.started = r, ticket, core.monotonic()
  s.inflight = s.inflight + 1
  if s.c.gate and s.sends % _M.GATE_EVERY == 0 then s.gate_due = true end
  return true
end

-- The pace's one warning (when it was lowered), into the summary and to `on_warning`.
local function warn(s, final)
  local warning = s.pace:warning(s.agent, final)
  if not warning then return end
  s.stats.warnings[#s.stats.warnings + 1] = warning
  if s.c.on_warning then s.c.on_warning(warning) end
end

-- The campaign's limit at the pace's rate, when the pace changed it.
local function repace(s, rate)
  if not rate then return end
  local lim = s.c.limit:derive { rates = { [s.agent] = rate } }
  if lim then spacing_of(s, lim) end
end

local function on_sent(s, r, value, started)
  local st = s.stats
  st.sent_now = st.sent_now + 1
  st.first_sent_at = st.first_sent_at and min(st.first_sent_at, started) or started
  st.last_sent_at = st.last_sent_at and max(st.last_sent_at, started) or started
  repace(s, s.pace:accepted(started))
  warn(s, false)
  record(s, { r = "sent", to = r.to, line = r.line, status = value.status, body = value.body })
end

-- 429: the vendor did not take it; wait for Retry-After (or one interval) and send it again. Repeated
-- 429s without Retry-After lower the pace (`convai.campaign.pace`).
local function on_throttled(s, r, err)
  s.stats.throttled = s.stats.throttled + 1
  if not err.retry_after then repace(s, s.pace:throttled(core.monotonic())) end
  penalize(s, err.retry_after or s.interval)
  if record(s, { r = "throttled", to = r.to, line = r.line, retry_after = err.retry_after }) then
    requeue(s, r, true)
  end
end

-- Refused before it was sent, in a way every other request would meet too (voicebot.studio's
-- business-initiated limit, a refused credential): not sent; stop, leave it pending.
local function on_refused(s, r, err, stop, kind)
  if record(s, { r = "unsent", to = r.to, line = r.line, kind = kind, message = err.message }) then
    requeue(s, r, false)
  end
  s.stop = s.stop or stop
end

-- The connection failed before the request left: tried again, up to UNSENT_ATTEMPTS in all.
local function on_unsent(s, r, err)
  local tries = (s.unsent_tries[r.to] or 0) + 1
  s.unsent_tries[r.to] = tries
  if tries >= _M.UNSENT_ATTEMPTS then return false end
  if record(s, { r = "unsent", to = r.to, line = r.line, kind = err.kind, message = err.message }) then
    penalize(s, s.interval * 2 ^ tries)
    requeue(s, r, true)
  end
  return true
end

local function on_failed(s, r, err)
  local e = type(err) == "table" and err or {}
  record(s, { r = "failed", to = r.to, line = r.line, kind = e.kind or "internal", status = e.status,
    message = message_of(err) })
end

local function finish_send(s, task)
  local r = task.recipient
  s.inflight = s.inflight - 1
  local value, err
  if task.error then err = core.error("internal", tostring(task.error))
  else value, err = task.results[1], task.results[2] end
  settle_capacity(s, task, value, err)
  if value then return on_sent(s, r, value, task.started) end
  if s.c.gate then s.gate_due = true end
  local kind = type(err) == "table" and err.kind
  if kind == "rate_limited" then return on_throttled(s, r, err) end
  if kind == "unprocessable" and type(err.body) == "table" and err.body.error == "limit_exhausted" then
    return on_refused(s, r, err, "capacity", "limit_exhausted")
  end
  if kind == "auth" then
    s.stop_error = s.stop_error or err
    return on_refused(s, r, err, "auth", "auth")
  end
  local unsent = type(err) == "table" and err.request_sent == false and kind ~= "invalid_argument"
  if unsent and on_unsent(s, r, err) then return end
  on_failed(s, r, err)
end

-- ------------------------------------------------------------------ the loop

-- Decide this turn: returns "break" to end the loop, else how long the scheduler may wait (seconds).
local function turn(s)
  local c = s.c
  if not s.stop and c.interrupted() then s.stop = "interrupted" end
  if s.gate_due and not s.gate_task and not s.stop then start_gate_read(s) end
  local idle = s.inflight == 0 and not s.gate_task
  if s.stop then return idle and "break" or 0.05 end
  if #s.queue == 0 then
    if idle then s.stop = "done" return "break" end
    return 0.05
  end
  if s.budget <= 0 then out_of_capacity(s) return 0.05 end
  if s.gate_task and s.budget == huge and not s.shared then return 0.05 end -- the first read is out
  if s.inflight >= c.concurrency then return 0.05 end
  if s.shared then
    local wait = hold_capacity(s)
    if wait then return wait end
  end
  local now = slot_now(s)
  if now ~= true then return now end
  if not start_send(s) then return "break" end
  return 0
end

-- Keep the report file current: written (atomically) before the first send and every REPORT_EVERY
-- seconds (and at the end, by `run`), so that a killed run leaves a valid report of what was done.
local function keep_report(s)
  local path = s.c.report_path
  if not path then return end
  local now = core.monotonic()
  if s.report_at and now - s.report_at < _M.REPORT_EVERY then return end
  s.report_at = now
  s.stats.elapsed = now - s.t0
  local ok, err = report.write(report.build(s.c, s.state, s.stats, s.stop or "running"), path)
  s.report_error = not ok and err or nil
end

local function handle(s, finished)
  for _, task in ipairs(finished) do
    if task.is_gate then finish_gate(s, task) else finish_send(s, task) end
  end
end

-- The summary's error fields.
local function add_errors(s, rep)
  local sum = rep.summary
  if s.gate_failure then
    sum.gate_error = format("%s: %s", tostring(s.gate_failure.kind or "unknown"), message_of(s.gate_failure))
  end
  if s.stop_error then sum.stop_error = format("%s: %s", s.stop_error.kind, message_of(s.stop_error)) end
  if s.journal_failure then sum.journal_error = s.journal_failure end
  if s.capacity_read then sum.capacity = s.capacity_read end
  if s.report_error then sum.report_error = s.report_error end
  return rep
end

--- Run the loop to its end, a gate stop, a refusal, an interrupt or a journal error, then let what is
-- in flight finish.
-- @tparam table c the campaign (`sender`, `gate`, `limit`, `rate`, `concurrency`, `recipients`,
--   `progress`, `interrupted`)
-- @tparam table run `{sched, journal, state, stats, queue, t0}`: the scheduler, the open journal, the
--   journal's state `{[to] = record}`, the counters, the recipients to send, the start time
-- @treturn table the report (see `campaign:run`)
function _M.run(c, run)
  local s = new_state(c, run)
  s.stats.warnings = s.stats.warnings or {}
  s.recipient_of = {}
  for _, r in ipairs(c.recipients) do s.recipient_of[r.to] = r end
  keep_report(s)
  while true do
    local wait = turn(s)
    if wait == "break" then break end
    handle(s, s.sched:step(wait))
    keep_alive(s)
    progress(s, false)
    keep_report(s)
  end
  -- Let whatever is still in flight finish (after a journal error or an interrupt).
  while s.sched:active() > 0 do
    for _, task in ipairs(s.sched:step(0.1)) do
      if not task.is_gate then finish_send(s, task) end
    end
    keep_alive(s)
  end
  if s.held then s.c.gate.settle(s.held, false) end -- a reservation no send used
  s.sched:close()
  finish_journal(s)
  warn(s, true)
  s.stats.pace = s.pace:adapted()
  s.stats.elapsed = core.monotonic() - s.t0
  progress(s, true)
  local rep = add_errors(s, report.build(c, s.state, s.stats, s.stop))
  if c.statuses then -- the final report only: the mid-run writes stay cheap
    local joined, jerr = delivery.join_run(rep, s.state, c.statuses)
    if not joined then rep.summary.statuses_error = message_of(jerr) end
  end
  if c.report_path then
    local ok, err = report.write(rep, c.report_path)
    rep.summary.report_error = not ok and err or nil
  end
  return rep
end

return _M
