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
local journal = require "convai.journal"
local report = require "convai.campaign.report"

local type, tostring, ipairs = type, tostring, ipairs
local format = string.format
local max, min, huge = math.max, math.min, math.huge
local remove, insert = table.remove, table.insert

local _M = {}

--- Capacity is read again after this many sends (and after any error).
_M.GATE_EVERY = 25

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

local message_of = report.message_of

--- The state of one run.
-- @tparam table c the campaign
-- @tparam table run `{sched, journal, state, stats, queue, t0}` from `campaign:run`
-- @treturn table the state `s`
local function new_state(c, run)
  local rate, spacing = c.limit:rate(c.sender.agent or "agent")
  return {
    ahead = min(_M.AHEAD * spacing, _M.AHEAD_MAX), -- how far ahead a slot is claimed (seconds)
    -- how late a claimed slot may still be used (s): half the margin, at least a spin's length
    late = max((rate * spacing - 1) / 2, _M.SPIN),
    c = c, sched = run.sched, journal = run.journal, state = run.state, stats = run.stats,
    queue = run.queue, t0 = run.t0,
    agent = c.sender.agent or "agent",
    interval = 1 / c.rate,         -- the default wait after a 429 without Retry-After
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
  }
end

-- ------------------------------------------------------------------ journal and progress

-- Journal a record and keep it as the recipient's state; on failure the run stops (journal_error).
local function record(s, rec, claim)
  local ok, werr
  if claim then ok, werr = s.journal:claim(rec) else ok, werr = s.journal:write(rec) end
  if ok == false and werr == nil then return false, "claimed" end
  if not ok then
    s.stop, s.journal_failure = "journal_error", werr
    return false
  end
  s.state[rec.to] = rec
  return true
end

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
  s.c.limit:penalize(s.agent, seconds)
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
  local at = s.slot_at
  if at then
    local late = core.monotonic() - at
    if late < 0 then return until_slot(at) end
    s.slot_at = nil
    if late <= s.late then return true end
  end
  local delay, err = s.c.limit:acquire(s.agent, s.ahead)
  if delay then
    if delay <= 0 then return true end
    s.slot_at = core.monotonic() + delay
    return until_slot(s.slot_at)
  end
  if type(err) == "table" and err.kind == "rate_limited" then
    local w = (err.wait or err.retry_after or s.interval) - s.ahead -- back when it is within reach
    return min(max(w, 0.001), 0.5)
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
  local ticket, err = s.c.gate.hold()
  if ticket then
    s.held = ticket
    return nil
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

local function start_send(s)
  local r = remove(s.queue, 1)
  local ok, why = record(s, { r = "pending", to = r.to, line = r.line }, true)
  if not ok then
    if why == "claimed" then return true end -- another worker of the campaign has it
    return false
  end
  s.stats.attempted = s.stats.attempted + 1
  s.sends = s.sends + 1
  local ticket = spend_capacity(s)
  local task = s.sched:spawn(s.c.sender.send, r.request)
  task.recipient, task.ticket = r, ticket
  s.inflight = s.inflight + 1
  if s.c.gate and s.sends % _M.GATE_EVERY == 0 then s.gate_due = true end
  return true
end

local function on_sent(s, r, value)
  s.stats.sent_now = s.stats.sent_now + 1
  record(s, { r = "sent", to = r.to, line = r.line, status = value.status, body = value.body })
end

-- 429: the vendor did not take it; wait for Retry-After (or one interval) and send it again.
local function on_throttled(s, r, err)
  s.stats.throttled = s.stats.throttled + 1
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
  if value then return on_sent(s, r, value) end
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

local function handle(s, finished)
  for _, task in ipairs(finished) do
    if task.is_gate then finish_gate(s, task) else finish_send(s, task) end
  end
end

-- The summary's error fields.
local function add_errors(s, rep)
  local sum = rep.summary
  if s.gate_failure then sum.gate_error = message_of(s.gate_failure) end
  if s.stop_error then sum.stop_error = format("%s: %s", s.stop_error.kind, message_of(s.stop_error)) end
  if s.journal_failure then sum.journal_error = s.journal_failure end
  if s.capacity_read then sum.capacity = s.capacity_read end
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
  while true do
    local wait = turn(s)
    if wait == "break" then break end
    handle(s, s.sched:step(wait))
    progress(s, false)
  end
  -- Let whatever is still in flight finish (after a journal error or an interrupt).
  while s.sched:active() > 0 do
    for _, task in ipairs(s.sched:step(0.1)) do
      if not task.is_gate then finish_send(s, task) end
    end
  end
  if s.held then s.c.gate.settle(s.held, false) end -- a reservation no send used
  s.sched:close()
  s.stats.elapsed = core.monotonic() - s.t0
  progress(s, true)
  return add_errors(s, report.build(c, s.state, s.stats, s.stop))
end

return _M
