--- convai.limit.redis_script: the server-side script that keeps an agent's send slots in Redis.
--
-- One script, run by every runtime that shares a limit through Redis (plain Lua on hiredis, nginx on
-- cosockets: `convai.limit.redis` sends this very text), so a campaign, a script and an OpenResty app
-- claim the same agent's slots on the same key with the same rule. It is GCRA on the server's clock:
-- the key holds the agent's theoretical arrival time `tat` (the start of its next free slot, in
-- milliseconds since the epoch by Redis's `TIME`, text with three decimals); no client clock takes
-- part, so clients on hosts whose clocks disagree still share one schedule.
--
--  - claim, `ARGV = {"claim", interval_ms, within_ms}`: the free slot starts at `start = max(now, tat)`.
--    When `start - now > within_ms` nothing is written and the answer is `{0, delay_ms}`; else
--    `tat = start + interval_ms` and the answer is `{1, delay_ms}`, `delay_ms = start - now` (text);
--  - hold, `ARGV = {"hold", ms}`: `tat = max(tat, now + ms)` (no slot starts before then; slots already
--    claimed keep their time); the answer is `{1, "0"}`.
--
-- The key expires `EXPIRE_AFTER_MS` after its `tat` (`SET ... PX`), when it no longer holds anything a
-- claim needs: an idle agent leaves no key behind. A script runs atomically, so two claims never get
-- the same slot. `TIME` before a write needs effects replication: the default from Redis 7, switched
-- on by `redis.replicate_commands()` on Redis 3.2 to 6.
--
-- @module convai.limit.redis_script
local _M = {}

--- Milliseconds a key outlives its `tat`.
_M.EXPIRE_AFTER_MS = 1000

--- The script text (Lua 5.1, as Redis runs it). KEYS[1] is the agent's key (`PREFIX .. "limit:" .. agent`).
_M.SCRIPT = ([[
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local tat = tonumber(redis.call('GET', KEYS[1])) or now
local op, ms = ARGV[1], tonumber(ARGV[2])
local reply
if op == 'claim' then
  local start = math.max(now, tat)
  local delay = string.format('%.3f', start - now)
  if start - now > tonumber(ARGV[3]) then return {0, delay} end
  tat = start + ms
  reply = {1, delay}
elseif op == 'hold' then
  if now + ms <= tat then return {1, '0'} end
  tat = now + ms
  reply = {1, '0'}
else
  return redis.error_reply('convai limit script: unknown operation ' .. tostring(op))
end
redis.call('SET', KEYS[1], string.format('%.3f', tat), 'PX', math.ceil(tat - now) + EXPIRE_AFTER_MS)
return reply
]]):gsub("EXPIRE_AFTER_MS", _M.EXPIRE_AFTER_MS)

return _M
