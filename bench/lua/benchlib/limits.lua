--- bench/run's limits case (`--only limits`, issue 11 §6): the cost of one acquire on each limit store,
-- the combined rate fidelity of several processes sharing agents through Redis against the sandbox's
-- strict per-agent window, and the Redis round trips per send. Starts its own redis-server
-- (tests/redis_helper.lua) and sandbox, and stops them. The runner hands it its context (`ctx`).
local redis_helper = require "redis_helper"
local redis_script = require "convai.limit.redis_script"
local U = require "benchlib.util"
local callgrind = require "benchlib.callgrind"

local _M = {}

-- Counts of the full run and of the smoke run.
local FULL = { acquire_n = 20000, acquire_rounds = 3, cg = { 1000, 5000 }, rate = 5, one_seconds = 20,
  many_agents = 50, many_seconds = 10, margin = 0.02 }
local QUICK = { acquire_n = 1000, acquire_rounds = 1, cg = { 100, 500 }, rate = 5, one_seconds = 3,
  many_agents = 50, many_seconds = 2, margin = 0.02 }

--- The calls of each Redis command since the last `CONFIG RESETSTAT`, from `INFO commandstats`.
local function commandstats(redis)
  local _, out = redis.cli("INFO", "commandstats")
  local calls = {}
  for name, n in out:gmatch("cmdstat_([%w|_]+):calls=(%d+)") do calls[name] = tonumber(n) end
  return calls
end

-- Commands the limit's script runs inside the server (counted by commandstats, but no round trip).
local IN_SCRIPT = {}
for name in redis_script.SCRIPT:gmatch("redis%.call%(['\"](%a+)") do IN_SCRIPT[name:lower()] = true end

-- The limit's round trips of a run (its script: EVALSHA, or EVAL after NOSCRIPT), and every command
-- counted, as text (the bench's own INFO and CONFIG left out; the commands the script runs inside the
-- server are marked: they make no round trip).
local function sender_commands(calls)
  local parts = {}
  for name, n in pairs(calls) do
    if name ~= "info" and not name:find("^config") then
      parts[#parts + 1] = string.format("%s %d%s", name:upper(), n,
        IN_SCRIPT[name] and " (in the script)" or "")
    end
  end
  table.sort(parts)
  return (calls.evalsha or 0) + (calls.eval or 0), table.concat(parts, ", ")
end

-- The cost of one acquire, per store: µs (median of rounds of medians) and instructions (callgrind).
local function acquire_cost(ctx, C, redis)
  local host_dir = ctx.TMP .. "/limits-host"
  os.execute("mkdir -p " .. U.quote(ctx.PROFILES))
  local stores = {
    { id = "process", label = "`process` (this process, C core)", store = "process" },
    { id = "host", label = "`host` (flock'ed file per agent)", store = "host" },
    { id = "redis", label = "`redis://` (hiredis, one EVALSHA on loopback)", store = redis.url },
  }
  local function cmd(s, n) return ctx.lua_cmd("limits_acquire.lua", s.store, n, host_dir) end
  for r = 1, C.acquire_rounds do
    for k = 0, #stores - 1 do
      local s = stores[(r - 1 + k) % #stores + 1]
      ctx.say("limits: acquire cost, %s, round %d/%d", s.id, r, C.acquire_rounds)
      local ok, out, err = U.run(cmd(s, C.acquire_n))
      local res = U.json_line(out)
      if ok and res then
        s.us = s.us or {}
        s.us[#s.us + 1] = res.median_us
        s.p90 = s.p90 or {}
        s.p90[#s.p90 + 1] = res.p90_us
      else
        s.error = (err:match("[^\n]+") or "exit status not 0")
        ctx.failed("limits acquire " .. s.id, s.error)
      end
    end
  end
  local n1, n2 = C.cg[1], C.cg[2]
  for _, s in ipairs(stores) do
    if not s.error then
      ctx.say("limits: acquire instructions, %s", s.id)
      local files = {}
      for i, n in ipairs { n1, n2 } do
        files[i] = ctx.PROFILES .. "/callgrind.acquire-" .. s.id .. "." .. n
        local ok = U.run("valgrind --tool=callgrind --callgrind-out-file=" .. U.quote(files[i]) .. " "
          .. cmd(s, n))
        if not ok then files = nil break end
      end
      if files then
        s.instr = callgrind.per_operation(files[1], files[2], n1, n2)
      end
    end
  end
  local rows = {}
  for _, s in ipairs(stores) do
    if s.error then
      rows[#rows + 1] = { s.label, "failed: " .. s.error, "–", "–", "–", "–", "–", "–" }
    else
      local i, o = s.instr, s.instr and s.instr.objects or {}
      local function g(name) return i and U.int(o[name] or 0) or "–" end
      local lua = i and ((o["lua5.4"] or 0) + (o["liblua5.4"] or 0))
      rows[#rows + 1] = { s.label, string.format("%.1f", U.median(s.us)),
        string.format("%.1f", U.median(s.p90)), i and U.int(i.total) or "–", lua and U.int(lua) or "–",
        g("convai/core"), g("libc"), g("libhiredis") }
    end
  end
  return U.table({ "store", "µs per acquire (median)", "p90 µs", "instructions/acquire", "Lua VM",
    "convai core", "libc", "libhiredis" }, rows), stores
end

-- `redis-cli MONITOR` in the background while the campaign workers run; `stop()` ends it and returns
-- the journal script's calls by operation, as seen from the clients (`{claim = n, write = n, ...}`:
-- the commands a script runs inside the server are left out: no round trip).
local function start_monitor(ctx, redis)
  local file = ctx.TMP .. "/limits-monitor.txt"
  local pidfile = file .. ".pid"
  os.execute(("redis-cli -p %d monitor >%s 2>/dev/null </dev/null & echo $! >%s"):format(redis.port,
    U.quote(file), U.quote(pidfile)))
  os.execute("sleep 0.2")
  return { stop = function()
    local f = io.open(pidfile)
    local pid = f and f:read("l")
    if f then f:close() end
    if pid then os.execute("kill " .. pid .. " 2>/dev/null") end
    local ops = {}
    for line in io.lines(file) do
      if not line:find("lua]", 1, true) then
        local cmd, nkeys, rest = line:match('^%S+ %[[^%]]+%] "(%u+)" "[^"]*" "(%d)" (.*)$')
        if cmd == "EVALSHA" or cmd == "EVAL" then
          local op = nkeys == "1" and "limit" or rest:match('^"[^"]*" "[^"]*" "[^"]*" "([%a_]+)"')
          if op then ops[op] = (ops[op] or 0) + 1 end
        end
      end
    end
    return ops
  end }
end

-- Fidelity of one agent: accepted, achieved / allowed ((k − 1) / span), 429s.
local function fidelity(a, rate)
  table.sort(a.times)
  local k = #a.times
  local achieved = k > 1 and (k - 1) / (a.times[k] - a.times[1]) or nil
  return k, achieved and achieved / rate, a.r429
end

-- Run the processes of one fidelity row at once; returns their results (nil and a message on failure).
local function run_procs(cmds, env)
  local procs = {}
  for i, c in ipairs(cmds) do procs[i] = U.spawn(c, env) end
  local results, fail = {}, nil
  for i, p in ipairs(procs) do
    local ok, out, err, code = p.wait()
    local res = U.json_line(out)
    if not ok or not res then
      fail = fail or ((err:match("[^\n]+") or "") .. " (exit " .. tostring(code) .. ")")
    end
    results[i] = res
  end
  return results, fail
end

--- Run the case; adds a section and its targets through `ctx`.
-- @tparam table ctx `{quick, TMP, PROFILES, say, failed, section, targets, lua_cmd, start_sandbox,
--   sandbox_call}` from the runner
function _M.run(ctx)
  local C = ctx.quick and QUICK or FULL
  if not redis_helper.available() then
    ctx.failed("limits", "redis-server is not installed (scripts/deps installs it)")
    return
  end
  local redis = redis_helper.start {}
  local ok, err = xpcall(function()
    local cost_table = acquire_cost(ctx, C, redis)
    local sb = ctx.start_sandbox("sandbox-limits")
    local run = tostring(os.time())
    local one = "bench-lim1-" .. run
    local prefix = "bench-lim50-" .. run .. "-"
    local agents = { [one] = { rate = C.rate } }
    for a = 1, C.many_agents do agents[prefix .. a] = { rate = C.rate } end
    ctx.sandbox_call(sb, "POST", "/_sandbox/config", { vonage = { agents = agents } })

    local rows, met = {}, true
    -- 3 processes × 1 agent: three workers of one campaign (convai.campaign, claiming each slot ahead).
    ctx.say("limits: 3 workers of one campaign × 1 agent at %d/s on Redis (limits and --store)", C.rate)
    redis.cli("CONFIG", "RESETSTAT")
    local per = math.floor(C.rate * C.one_seconds / 3 + 0.5)
    local cmds = {}
    -- The three processes are workers of ONE campaign (the same recipients, its state in Redis:
    -- `convai.journal.redis`), taking the agent's slots from the same Redis.
    for p = 1, 3 do
      cmds[p] = ctx.lua_cmd("rate_campaign.lua", C.rate, per * 3, one, 447710000000, redis.url, redis.url)
    end
    local monitor = start_monitor(ctx, redis)
    local _, fail = run_procs(cmds, sb.env)
    local claims = monitor.stop()
    if fail then ctx.failed("limits 3 × 1", fail) end
    local calls1 = commandstats(redis)
    -- 3 processes × 50 agents: clients sending concurrently for every agent, one task an agent.
    ctx.say("limits: 3 client processes × %d agents at %d/s each on Redis", C.many_agents, C.rate)
    redis.cli("CONFIG", "RESETSTAT")
    local count = math.floor(C.rate * C.many_seconds / 3 + 0.5)
    cmds = {}
    for p = 1, 3 do
      cmds[p] = ctx.lua_cmd("limits_sender.lua", redis.url, C.rate, C.margin, prefix, C.many_agents, count,
        447800000000 + p * 1000000)
    end
    local _, fail50 = run_procs(cmds, sb.env)
    if fail50 then ctx.failed("limits 3 × 50", fail50) end
    local calls50 = commandstats(redis)

    local seen = U.conversations(ctx.sandbox_call(sb, "GET", "/_sandbox/log").requests)
    -- 3 × 1
    local k, fid, r429 = fidelity(seen[one] or { times = {}, r429 = 0 }, C.rate)
    local _, parts1 = sender_commands(calls1)
    local total1 = claims.limit or 0 -- the limit's script only (the journal's is EVALSHA too)
    rows[#rows + 1] = { "3 workers of one campaign × 1 agent (`convai.campaign`, `limits =` and "
      .. "`journal = redis://`)", C.rate .. "/s",
      U.int(k), fid and string.format("%.3f", fid) or "–", fid and string.format("%.3f", fid) or "–",
      U.int(r429), k > 0 and string.format("%.2f", total1 / k) or "–", parts1 }
    if not (fid and fid >= 0.97 and r429 == 0) then met = false end
    local rt1 = k > 0 and total1 / k or nil
    -- 3 × 50
    local fids, k50, r50 = {}, 0, 0
    for a = 1, C.many_agents do
      local ka, fa, ra = fidelity(seen[prefix .. a] or { times = {}, r429 = 0 }, C.rate)
      k50, r50 = k50 + ka, r50 + ra
      if fa then fids[#fids + 1] = fa end
    end
    local lo = U.min_max(fids)
    local total50, parts50 = sender_commands(calls50)
    rows[#rows + 1] = { "3 processes × " .. C.many_agents .. " agents (`convai.vonage` clients in "
      .. "`convai.batch` tasks, `limits = redis://`)", C.rate .. "/s each", U.int(k50),
      #fids > 0 and string.format("%.3f", U.median(fids)) or "–",
      #fids > 0 and string.format("%.3f", lo) or "–", U.int(r50),
      k50 > 0 and string.format("%.2f", total50 / k50) or "–", parts50 }
    if not (#fids == C.many_agents and lo >= 0.97 and r50 == 0) then met = false end
    local rt50 = k50 > 0 and total50 / k50 or nil

    local tl = {}
    tl[#tl + 1] = { "Limits: ≥ 0.97 of each agent's rate and zero 429s, 3 × 1 and 3 × "
      .. C.many_agents .. " on Redis", met and "every row" or "see table", met }
    tl[#tl + 1] = { "Limits: 1 Redis round trip per send for the limit",
      string.format("%s (3 × 1), %s (3 × %d)", rt1 and string.format("%.2f", rt1) or "–",
        rt50 and string.format("%.2f", rt50) or "–", C.many_agents),
      rt1 ~= nil and rt50 ~= nil and rt1 <= 1.05 and rt50 <= 1.05 }
    local claim_rt = k > 0 and ((claims.claim_first or 0) + (claims.claim or 0)) / k or nil
    tl[#tl + 1] = { "Limits: 1 Redis round trip per claim (3 workers of one campaign on `--store redis://`)",
      claim_rt and string.format("%.2f (claims %d, outcome writes %d, keep-alives %d, for %d accepted)",
        claim_rt, (claims.claim_first or 0) + (claims.claim or 0), claims.write or 0, claims.alive or 0, k)
        or "–",
      claim_rt ~= nil and claim_rt <= 1.05 }
    local trows = {}
    for _, t in ipairs(tl) do
      ctx.targets[#ctx.targets + 1] = t
      trows[#trows + 1] = { t[1], t[2], t[3] == nil and "pending" or (t[3] and "**met**" or "**missed**") }
    end
    ctx.section("Limits across processes: acquire cost, rate fidelity and Redis round trips (issue 11 §6)",
      "Written by `bench/run --only limits` on " .. os.date("!%Y-%m-%d %H:%M UTC") .. "; machine: "
        .. ctx.machine() .. ".\n\n"
        .. "**Cost of one acquire** (`lim:acquire(agent)` of `convai.limit`, at a rate so high that no "
        .. "claim waits): µs timed around each of " .. U.int(C.acquire_n) .. " claims in one process "
        .. "(median, and the median over " .. C.acquire_rounds .. " rounds), and the client's instructions "
        .. "per acquire with `valgrind --tool=callgrind` (" .. C.cg[1] .. " and " .. C.cg[2] .. " claims, "
        .. "per claim = difference / " .. (C.cg[2] - C.cg[1]) .. "; the Redis server is not traced). "
        .. "The bench's own redis-server " .. (U.first_line("redis-server --version"):match("v=(%S+)") or "?")
        .. " on loopback, no persistence.\n\n" .. cost_table .. "\n\n"
        .. "**Combined rate fidelity** against the sandbox's strict per-agent window (sliding 1 s, 429 "
        .. "beyond the agent's rate), every process on the same Redis (`limits = redis://…`, margin "
        .. C.margin .. "): three `convai.campaign` processes that are workers of one campaign on one "
        .. "agent (" .. per * 3 .. " recipients, its state in the same Redis: `journal = redis://…`), "
        .. "then three processes sending for the same " .. C.many_agents .. " agents at once ("
        .. count .. " triggers per agent per process, each agent's sends in a `convai.batch` task that "
        .. "waits for the agent's slot). From the sandbox's log: accepted, achieved / allowed = "
        .. "(k − 1) / (last − first accepted arrival) / rate per agent (median and lowest over the "
        .. "agents), 429s. The limit's Redis round trips per accepted send: its script's calls (EVALSHA, "
        .. "EVAL after a NOSCRIPT; in the first row, where the journal's script is EVALSHA too, counted "
        .. "from `redis-cli MONITOR` by the number of keys). The Redis commands column is `INFO "
        .. "commandstats` (reset before each row): the connections' set-up (PING), the journal's reads, "
        .. "and, marked, the commands the scripts run inside the server (no round trip).\n\n"
        .. U.table({ "senders", "allowed", "accepted", "achieved/allowed (median)", "lowest", "429s",
          "limit round trips per send", "Redis commands" }, rows)
        .. "\n\nClaims of the campaign workers (`--store redis://`): the journal script's calls by "
        .. "operation, counted from `redis-cli MONITOR` during the 3 × 1 row (the limit's and the "
        .. "journal's scripts are both EVALSHA, which `INFO commandstats` cannot tell apart).\n\n"
        .. "Targets of this case:\n\n"
        .. U.table({ "target", "figure", "" }, trows, "lll"))
  end, debug.traceback)
  redis.stop()
  if not ok then error(err, 0) end
end

return _M
