--- convai.journal.redis_script: the server-side script that keeps a campaign's state in Redis for its
-- workers (`convai.journal.redis`).
--
-- `KEYS = {header, state, pending}` of one campaign (`PREFIX .. "campaign:{DIGEST}:" .. name`); the
-- workers' liveness keys are `PREFIX .. "campaign:{DIGEST}:worker:" .. ID` (derived from `KEYS[1]`, so
-- every key of a campaign hashes to one Redis Cluster slot through the `{DIGEST}` tag).
-- `ARGV = {op, worker, worker_ttl_ms, idle_s, ...}`; every operation refreshes the caller's liveness key
-- (`PX worker_ttl_ms`) and the campaign's expiry (`idle_s`), and first checks that the header is there:
-- when it is gone (Redis restarted without persistence, the keys deleted or evicted) the reply is
-- `{"gone"}` and nothing is written.
--
--  - `claim`, `ARGV[5..7] = to, record (JSON), retry_failed ("1"/"0")`: the recipient is claimed (its
--    record set, and `pending[to] = worker`) only when it has no record, or a retryable one (`throttled`,
--    `unsent`; `failed` with retry_failed unless a live worker wrote it), and no pending of a live other
--    worker. Replies: `{"ok"}`; `{"held", worker}`; `{"final", r}` (a dead worker's pending is made
--    `unknown` here and answered so). A pending of the caller's own is claimed again (a claim whose reply
--    was lost and was retried: its request has not left).
--  - `claim_first`, `ARGV[5] = retry_failed`, then `to, record` pairs (a worker's next recipients in
--    its order): the first of them that `claim` would take is claimed. `{"ok", n}` (n: its place among
--    the pairs, from 1; the ones before it are held by others or final), or `{"none"}`. A worker that meets
--    the others' claims still makes one round trip per recipient it sends.
--  - `write`, `ARGV[5..6] = to, record`: the outcome; `pending[to]` is dropped. `{"ok"}`.
--  - `alive`: the liveness key only. `{"ok"}`.
--  - `settle`: every pending of a dead worker becomes `unknown` (never re-sent). `{"ok", settled,
--    held}` (held: pendings of live other workers).
--
-- A script runs atomically, so two workers never hold one recipient, and each claim is one round trip.
--
-- @module convai.journal.redis_script
local _M = {}

--- The script text (Lua 5.1 with cjson, as Redis runs it).
_M.SCRIPT = [[
local header, state, pending = KEYS[1], KEYS[2], KEYS[3]
local op, me, ttl, idle = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
if redis.call('EXISTS', header) == 0 then return {'gone'} end
local base = string.sub(header, 1, #header - #'header')
local function live(w) return w == me or redis.call('EXISTS', base .. 'worker:' .. w) == 1 end
local function unknown(to, cur)
  local line = cur and cjson.decode(cur).line
  redis.call('HSET', state, to, cjson.encode({r = 'unknown', to = to, line = line}))
  redis.call('HDEL', pending, to)
end
local function refresh()
  redis.call('SET', base .. 'worker:' .. me, '1', 'PX', ttl)
  for _, k in ipairs(KEYS) do redis.call('EXPIRE', k, idle) end
end
refresh()
if op == 'alive' then return {'ok'} end
-- Can `to` be claimed by this worker? nil when it can, else the refusal reply.
local function refusal(to, retry_failed)
  local cur = redis.call('HGET', state, to)
  if not cur then return nil end
  local r = cjson.decode(cur)
  if r.r == 'pending' then
    local w = redis.call('HGET', pending, to)
    if not w or not live(w) then
      unknown(to, cur)
      return {'final', 'unknown'}
    end
    if w ~= me then return {'held', w} end
  elseif r.r == 'sent' or r.r == 'unknown' then
    return {'final', r.r}
  elseif r.r == 'failed' and (retry_failed ~= '1' or (type(r.w) == 'string' and live(r.w))) then
    return {'final', 'failed'}
  end
  return nil
end
local function take(to, record)
  redis.call('HSET', pending, to, me)
  redis.call('HSET', state, to, record)
  refresh()
end
if op == 'claim' then
  local to, record = ARGV[5], ARGV[6]
  local no = refusal(to, ARGV[7])
  if no then return no end
  take(to, record)
  return {'ok'}
end
if op == 'claim_first' then
  for i = 6, #ARGV - 1, 2 do
    if not refusal(ARGV[i], ARGV[5]) then
      take(ARGV[i], ARGV[i + 1])
      return {'ok', (i - 4) / 2}
    end
  end
  return {'none'}
end
if op == 'write' then
  redis.call('HDEL', pending, ARGV[5])
  redis.call('HSET', state, ARGV[5], ARGV[6])
  refresh()
  return {'ok'}
end
if op == 'settle' then
  local all = redis.call('HGETALL', pending)
  local settled, held = 0, 0
  for i = 1, #all, 2 do
    local to, w = all[i], all[i + 1]
    if not live(w) then
      unknown(to, redis.call('HGET', state, to))
      settled = settled + 1
    elseif w ~= me then
      held = held + 1
    end
  end
  refresh()
  return {'ok', settled, held}
end
return redis.error_reply('convai journal script: unknown operation ' .. tostring(op))
]]

return _M
