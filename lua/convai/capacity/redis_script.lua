--- convai.capacity.redis_script: the server-side script that keeps an agent's capacity reservations in
-- Redis, with the rules of `convai.capacity.ledger` on the server's clock (`TIME`, microseconds).
--
-- Keys (`KEYS`): `PREFIX capacity:AGENT` (a hash: the last read, `l` limit, `u` usage, `x` exhausted
-- (`1`/`0`), `at` when it started, `f` when it answered; `seq` the last reservation's number),
-- `... :flight` (a sorted set: reservations in flight, scored by the time they were made) and `... :done`
-- (a sorted set: reservations sent, scored by the time they were settled); times in microseconds since
-- the epoch (integers as text: exact in a sorted set's score), so a send settled just before a read
-- starts is told from one settled just after. Every write sets each key to
-- expire `EXPIRY_MS` later, so an idle agent leaves nothing behind.
--
-- `ARGV[1]` is the operation:
--
--  - `begin`: the server's time (a read's token), `{"1", now}`;
--  - `end token limit usage exhausted`: keep the read unless a read that started later is kept;
--  - `reserve n done`: when `n` fit in `limit - usage - live`, count them (in flight, or done when
--    `done` is `1`) and answer their ids after the figures;
--  - `settle sent id...`: remove each id from the flight set, adding it to the done set when `sent`;
--  - `figures`; `forget` (drop the read).
--
-- The answer is `{status, limit, usage, exhausted, fetched_at, now, live, ids...}`, `status` `1` (done),
-- `2` (refused: no room) or `0` (no read kept; nothing else follows). Live reservations are the flight
-- set's members made in the last `EXPIRY_MS` and the done set's settled in it and not before the read's
-- start. A script runs atomically, so a check and its count are one step for every client.
--
-- @module convai.capacity.redis_script
local ledger = require "convai.capacity.ledger"

local _M = {}

--- The script text (Lua 5.1, as Redis runs it).
_M.SCRIPT = ([[
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local function us(x) return string.format('%.0f', x) end
local R, F, D = KEYS[1], KEYS[2], KEYS[3]
local op = ARGV[1]
if op == 'begin' then return {1, us(now)} end
local function prune()
  redis.call('ZREMRANGEBYSCORE', F, '-inf', us(now - EXPIRY_MS * 1000))
  redis.call('ZREMRANGEBYSCORE', D, '-inf', us(now - EXPIRY_MS * 1000))
  local at = redis.call('HGET', R, 'at')
  if at then redis.call('ZREMRANGEBYSCORE', D, '-inf', '(' .. at) end
end
local function figures(status)
  local r = redis.call('HMGET', R, 'l', 'u', 'x', 'f')
  if not r[1] then return {0} end
  local live = redis.call('ZCARD', F) + redis.call('ZCARD', D)
  return {status, r[1], r[2], r[3], r[4], us(now), tostring(live)}
end
local function touch()
  for _, k in ipairs(KEYS) do redis.call('PEXPIRE', k, EXPIRY_MS) end
end
if op == 'end' then
  local at = tonumber(redis.call('HGET', R, 'at'))
  if not at or tonumber(ARGV[2]) >= at then
    redis.call('HSET', R, 'l', ARGV[3], 'u', ARGV[4], 'x', ARGV[5], 'at', ARGV[2], 'f', us(now))
  end
  prune()
  touch()
  return figures(1)
elseif op == 'reserve' then
  prune()
  local fig = figures(1)
  if fig[1] == 0 then return fig end
  local n = tonumber(ARGV[2])
  if fig[4] == '1' or tonumber(fig[2]) - tonumber(fig[3]) - tonumber(fig[7]) < n then
    fig[1] = 2
    return fig
  end
  local set = ARGV[3] == '1' and D or F
  for i = 1, n do
    local id = tostring(redis.call('HINCRBY', R, 'seq', 1))
    redis.call('ZADD', set, us(now), id)
    fig[7 + i] = id
  end
  fig[7] = tostring(tonumber(fig[7]) + n)
  touch()
  return fig
elseif op == 'settle' then
  for i = 3, #ARGV do
    if redis.call('ZREM', F, ARGV[i]) == 1 and ARGV[2] == '1' then redis.call('ZADD', D, us(now), ARGV[i]) end
  end
  touch()
  return {1}
elseif op == 'figures' then
  prune()
  return figures(1)
elseif op == 'forget' then
  redis.call('HDEL', R, 'l', 'u', 'x', 'f', 'at')
  return {1}
end
return redis.error_reply('convai capacity script: unknown operation ' .. tostring(op))
]]):gsub("EXPIRY_MS", tostring(ledger.EXPIRY * 1000))

return _M
