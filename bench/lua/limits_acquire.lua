--- Limits case, the cost of one acquire: N claims of one agent's slot on a `convai.limit` store
-- (`process`, `host` in DIR, or a `redis://` URL), at a rate so high that no claim waits. Prints one
-- JSON line `{"n", "ok", "median_us", "p90_us", "total_s"}` (each claim timed on the monotonic clock);
-- the runner runs it under callgrind too, for instructions per acquire.
-- Usage: lua5.4 bench/lua/limits_acquire.lua STORE N [DIR]
local core = require "convai.core"
local limit = require "convai.limit"

local store, n, dir = arg[1], math.tointeger(tonumber(arg[2])), arg[3]
local lim = assert(limit.new { store = store, dir = store == "host" and dir or nil, rate = 1e6, margin = 0 })
local agent = "bench-acquire-" .. tostring(os.time())

local monotonic = core.monotonic
assert(lim:acquire(agent)) -- the connection (redis) and the agent's file (host) are made here
local times, ok = {}, 0
local t0 = monotonic()
for i = 1, n do
  local t = monotonic()
  local delay = lim:acquire(agent)
  times[i] = monotonic() - t
  if delay then ok = ok + 1 end
end
local total = monotonic() - t0
table.sort(times)
io.write(string.format('{"n":%d,"ok":%d,"median_us":%.2f,"p90_us":%.2f,"total_s":%.4f}\n', n, ok,
  times[(n + 1) // 2] * 1e6, times[math.max(1, math.floor(n * 0.9))] * 1e6, total))
os.exit(ok == n and 0 or 1)
