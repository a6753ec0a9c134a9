--- bench/run's engine: starts the servers, runs every case with every contender (alternating, several
-- rounds, medians), prints the tables and writes RESULTS.md. bench/run builds what it needs and sets
-- CONVAI_BENCH_ROOT (the checkout), CONVAI_BENCH_BIN (the compiled C contenders), CONVAI_BENCH_TMP
-- (a private directory, removed afterwards), CONVAI_BENCH_PROFILES (where the callgrind files stay),
-- CONVAI_BENCH_PYTHON, LUA_PATH and LUA_CPATH.
-- Usage (through bench/run): runner.lua [--quick] [--rounds N] [--out FILE] [--cases LIST] [--only LIST]
-- (`--only`: these cases, their sections written into the existing RESULTS.md in place of the same ones)
local core = require "convai.core"
local cjson = require "cjson.safe"
local U = require "benchlib.util"
local static = require "benchlib.static"
local callgrind = require "benchlib.callgrind"
local decode = require "benchlib.decode"
local limits = require "benchlib.limits"

local ROOT = assert(os.getenv("CONVAI_BENCH_ROOT"), "run bench/run, not this file")
local BIN = assert(os.getenv("CONVAI_BENCH_BIN"))
local TMP = assert(os.getenv("CONVAI_BENCH_TMP"))
local PYTHON = os.getenv("CONVAI_BENCH_PYTHON") or "python3"
-- The CPU case's callgrind files (with --dump-instr=yes) stay here, for callgrind_annotate.
local PROFILES = os.getenv("CONVAI_BENCH_PROFILES") or TMP
local LUA = "lua5.4"
local q = U.quote

---------------------------------------------------------------------------------------------- options

local opts = { cases = { seq = true, conc = true, rate = true, memory = true, cpu = true, limits = true,
  decode = true } }
do
  local i = 1
  while i <= #arg do
    local a = arg[i]
    if a == "--quick" then opts.quick = true
    elseif a == "--rounds" then i = i + 1; opts.rounds = math.tointeger(tonumber(arg[i]))
    elseif a == "--out" then i = i + 1; opts.out = arg[i]
    elseif a == "--cases" or a == "--only" then
      opts.only = a == "--only"
      i = i + 1
      opts.cases = {}
      for c in (arg[i] or ""):gmatch("[^,]+") do opts.cases[c] = true end
    else
      io.stderr:write("bench/run: unknown argument ", a, "\n",
        "usage: bench/run [--quick] [--rounds N] [--out FILE] "
          .. "[--cases|--only seq,conc,rate,memory,cpu,limits,decode]\n")
      os.exit(2)
    end
    i = i + 1
  end
end

-- Counts of the full run (the issue's) and of the smoke run.
local C = opts.quick and {
  seq_n = 200, conc_n = 200, concurrency = 16, rounds = 1, server_rounds = 1,
  rate = { { rate = 1, seconds = 3 }, { rate = 5, seconds = 2 }, { rate = 20, seconds = 1 } },
  mem = { 1000, 3000 }, cpu = { 10, 60 },
} or {
  seq_n = 5000, conc_n = 5000, concurrency = 16, rounds = 7, server_rounds = 3,
  rate = { { rate = 1, seconds = 30 }, { rate = 5, seconds = 30 }, { rate = 20, seconds = 10 } },
  mem = { 10000, 100000 }, cpu = { 200, 1200 },
}
C.rounds = opts.rounds or C.rounds
C.latencies = { 0, 400 }
local OUT = opts.out or (not opts.quick and ROOT .. "/bench/RESULTS.md") or nil

local function say(fmt, ...) io.stderr:write(string.format(fmt, ...), "\n") end

local failures = {} -- contender errors (not missed targets): the run's exit status
local function failed(what, msg)
  failures[#failures + 1] = what .. ": " .. msg
  say("  FAILED %s: %s", what, msg)
end

---------------------------------------------------------------------------------------------- servers

local admin = assert(core.session { timeout = 10 })

local sandboxes = {}
local function start_sandbox(name)
  local dir = TMP .. "/" .. name
  local ok, out, err = U.run(LUA .. " " .. q(ROOT .. "/bin/convai") .. " sandbox start --port 0 --dir "
    .. q(dir))
  if not ok then error("sandbox start failed: " .. out .. err) end
  local env = {}
  for k, v in out:gmatch("export ([%w_]+)='([^']*)'") do env[k] = v end
  local sb = { dir = dir, env = env, url = env.CONVAI_VOICEBOT_URL:match("^(https?://[^/]+)") }
  sandboxes[#sandboxes + 1] = sb
  return sb
end

local function sandbox_call(sb, method, path, body)
  local resp, err = admin:request {
    method = method, url = sb.url .. path, body = body and cjson.encode(body),
    headers = body and { ["Content-Type"] = "application/json" } or nil,
  }
  if not resp then error(tostring(err)) end
  if resp.status ~= 200 then error(method .. " " .. path .. ": HTTP " .. resp.status .. " " .. resp.body) end
  return cjson.decode(resp.body)
end

-- Where the throughput cases run on a machine of two CPUs or more: the dedicated server's worker on the
-- last CPU, every contender on the first (taskset), so that every round of every contender is placed
-- alike. Unpinned, where the scheduler put the client and the server (one core or two) decided a
-- sequential figure more than the client did: the same build measured anywhere from 0.72 to 0.90.
local CPUS = tonumber(U.first_line("nproc") or "") or 1
local PINNED = CPUS >= 2 and U.run("command -v taskset >/dev/null")
local PIN = PINNED and "taskset -c 0 " or ""
local SERVER_CPU = PINNED and CPUS - 1 or nil

local statics = {}
local function start_static(sb)
  local dir = TMP .. "/static"
  os.execute("mkdir -p " .. q(dir .. "/tmp"))
  math.randomseed(os.time(), math.floor(core.monotonic() * 1e6))
  for _ = 1, 20 do
    local port = math.random(20000, 60999)
    local conf, err = static.conf { dir = dir, port = port, workers = 1, env = sb.env, cpu = SERVER_CPU,
      cpus = CPUS }
    if not conf then error(err) end
    U.write(dir .. "/nginx.conf", conf)
    local ok, out, nerr = U.run("nginx -p " .. q(dir .. "/") .. " -c " .. q(dir .. "/nginx.conf")
      .. " -e " .. q(dir .. "/error.log"))
    if ok then
      local base = "http://127.0.0.1:" .. port
      local env = {}
      for k, v in pairs(sb.env) do env[k] = (v:gsub("^https?://[^/]+", base)) end
      local st = { dir = dir, env = env, url = base, pin = PIN }
      statics[#statics + 1] = st
      return st
    end
    if not (out .. nerr):find("in use", 1, true) then error("static nginx failed: " .. out .. nerr) end
  end
  error("no free port for the static server")
end

local function stop_servers()
  for _, st in ipairs(statics) do
    local pid = U.read(st.dir .. "/nginx.pid")
    if pid and pid:match("%d+") then os.execute("kill -TERM " .. pid:match("%d+")) end
  end
  for _, sb in ipairs(sandboxes) do
    U.run(LUA .. " " .. q(ROOT .. "/bin/convai") .. " sandbox stop --dir " .. q(sb.dir))
  end
end

---------------------------------------------------------------------------------------------- contenders

-- Each contender: id, label, cmd(n) -> shell command printing one JSON line, decodes (whether it
-- builds the typed result; its checksum must then match the reference's).
local function lua_cmd(script, ...)
  local parts = { LUA, q(ROOT .. "/bench/lua/" .. script) }
  for _, a in ipairs { ... } do parts[#parts + 1] = q(a) end
  return table.concat(parts, " ")
end

local SEQ = {
  { id = "c", label = "plain C (libcurl easy + cJSON)", decodes = true,
    cmd = function(n) return q(BIN .. "/seq") .. " " .. n end },
  { id = "convai", label = "**convai** (Lua 5.4)", decodes = true,
    cmd = function(n) return lua_cmd("seq_convai.lua", "voicebot", n) end },
  { id = "luasocket", label = "LuaSocket + lua-cjson (Lua 5.4)", decodes = true,
    cmd = function(n) return lua_cmd("seq_luasocket.lua", n) end },
  { id = "python", label = "Python http.client + json", decodes = true,
    cmd = function(n) return PYTHON .. " " .. q(ROOT .. "/bench/py/seq.py") .. " " .. n end },
  { id = "node", label = "Node.js fetch", decodes = true,
    cmd = function(n) return "node " .. q(ROOT .. "/bench/js/seq.mjs") .. " " .. n end },
}

local curl_cfg = {}
local CONC = {
  { id = "c", label = "plain C (curl_multi + cJSON)", decodes = true,
    cmd = function(n) return q(BIN .. "/multi") .. " " .. n .. " " .. C.concurrency end },
  { id = "convai", label = "**convai** `client:batch` with `on_result` (Lua 5.4)", decodes = true,
    cmd = function(n) return lua_cmd("conc_convai.lua", n, C.concurrency) end },
  { id = "curl", label = "`curl --parallel --parallel-max 16` (no decoding)", decodes = false,
    run = function(n, env, pin)
      local path = curl_cfg[n]
      if not path then
        path = TMP .. "/curl-" .. n .. ".cfg"
        local lines = { 'header = "Access-Token: ' .. env.CONVAI_AVAAMO_TOKEN .. '"',
                        'header = "Accept: application/json"' }
        for i = 0, n - 1 do
          lines[#lines + 1] = string.format('url = "%s/bots/analytics/%d/usage.json%s"\noutput = "/dev/null"',
            env.CONVAI_AVAAMO_URL, i % static.AGENTS + 1, static.AVAAMO_QUERY)
        end
        U.write(path, table.concat(lines, "\n") .. "\n")
        curl_cfg[n] = path
      end
      local t0 = core.monotonic()
      local _, out, err = U.run((pin or "") .. "curl -s --parallel --parallel-max " .. C.concurrency .. " -K "
        .. q(path)
        .. " -w '%{http_code}\\n'")
      local seconds = core.monotonic() - t0
      local ok = select(2, out:gsub("200\n", ""))
      if ok == 0 then return nil, err end
      return { n = n, ok = ok, seconds = seconds }
    end },
  { id = "node", label = "Node.js, 16 concurrent fetches", decodes = true,
    cmd = function(n)
      return "node " .. q(ROOT .. "/bench/js/conc.mjs") .. " " .. n .. " " .. C.concurrency
    end },
}

-- Run one contender once: the decoded JSON result, or {pending = reason}, or nil and a message.
local function run_contender(c, n, env, pin)
  if c.run then return c.run(n, env, pin) end
  local ok, out, err, code = U.run((pin or "") .. c.cmd(n), env)
  local r = U.json_line(out)
  if r and r.pending then return { pending = r.pending } end
  if not ok or not r then
    return nil, (err:match("[^\n]+") or "") .. " (exit " .. tostring(code) .. ")"
  end
  return r
end

-- A throughput case: rounds of every contender, in an order rotated each round; per contender the
-- requests per second of each round and the ratio to the reference (the first contender) in that round.
-- `pin`: the command prefix that places each contender (see PIN), for the dedicated server's cases.
local function throughput(name, contenders, n, rounds, env, pin)
  local stats = {}
  for _, c in ipairs(contenders) do stats[c.id] = { c = c, rps = {}, ratio = {} } end
  local expected
  for r = 1, rounds do
    say("%s: round %d/%d", name, r, rounds)
    local this = {}
    for k = 0, #contenders - 1 do
      local c = contenders[(r - 1 + k) % #contenders + 1]
      local s = stats[c.id]
      if not s.pending and not s.error then
        local res, err = run_contender(c, n, env, pin)
        if res and res.pending then
          s.pending = res.pending
        elseif not res then
          s.error = err
          failed(name .. " " .. c.id, err)
        elseif res.ok ~= n then
          s.error = string.format("%d of %d queries succeeded", res.ok, n)
          failed(name .. " " .. c.id, s.error)
        else
          if c.decodes then
            expected = expected or res.checksum
            if res.checksum ~= expected then
              s.error = string.format("checksum %s, expected %s (the typed results differ)",
                tostring(res.checksum), tostring(expected))
              failed(name .. " " .. c.id, s.error)
            end
          end
          if not s.error then
            this[c.id] = n / res.seconds
            s.rps[#s.rps + 1] = n / res.seconds
            s.connections = res.connections
          end
        end
      end
    end
    local ref = this[contenders[1].id]
    for id, rps in pairs(this) do
      if ref then stats[id].ratio[#stats[id].ratio + 1] = rps / ref end
    end
  end
  return stats
end

local function throughput_table(contenders, stats, rounds)
  local rows = {}
  for _, c in ipairs(contenders) do
    local s = stats[c.id]
    if s.pending then
      rows[#rows + 1] = { c.label, "pending", "–", "–" }
    elseif s.error then
      rows[#rows + 1] = { c.label, "failed: " .. s.error, "–", "–" }
    else
      local lo, hi = U.min_max(s.rps)
      rows[#rows + 1] = { c.label, U.int(U.median(s.rps)), U.int(lo) .. "–" .. U.int(hi),
        U.ratio(U.median(s.ratio)) }
    end
  end
  return U.table({ "contender", "requests/s (median of " .. rounds .. ")", "range", "ratio to plain C" },
    rows)
end

---------------------------------------------------------------------------------------------- report

local report = {}
local function section(title, body)
  report[#report + 1] = "## " .. title .. "\n\n" .. body .. "\n"
  io.write("\n## ", title, "\n\n", body, "\n")
  io.flush()
end

local targets = {} -- { what, figure, met (true/false/nil = pending) }

local function loadavg()
  return (U.read("/proc/loadavg") or "?"):match("^(%S+ %S+ %S+)") or "?"
end
local load_at_start = loadavg()

local function machine()
  local cpu = (U.read("/proc/cpuinfo") or ""):match("model name%s*:%s*([^\n]+)") or "?"
  local mem = (U.read("/proc/meminfo") or ""):match("MemTotal:%s*(%d+)")
  return string.format("%s, %s cores, %s GiB, Linux %s; load average %s at the start, %s at the end "
    .. "(other work on the machine shows as spread between rounds)", cpu, U.first_line("nproc"),
    mem and string.format("%.0f", mem / 1048576) or "?", U.first_line("uname -r"), load_at_start, loadavg())
end

local function git_describe()
  local ok, out = U.run("git -C " .. q(ROOT) .. " describe --always --dirty")
  return ok and out:match("%S+") or "not a git checkout"
end

local function versions()
  local function dpkg(p) return U.first_line("dpkg-query -W -f='${Version}' " .. p .. " 2>/dev/null") end
  local lines = {
    "convai " .. core.version .. " (" .. git_describe() .. ")",
    (U.first_line(LUA .. " -v"):match("^(Lua %S+)") or "Lua ?"),
    (U.first_line("luajit -v"):match("^(LuaJIT %S+)") or "LuaJIT ?"),
    (U.first_line("curl --version"):match("(libcurl/%S+ %S+)") or "libcurl ?") .. " (Debian's libcurl4)",
    (U.first_line("nginx -v"):match("(nginx/%S+)") or "nginx ?") .. " with libnginx-mod-http-lua "
      .. dpkg("libnginx-mod-http-lua"),
    U.first_line(PYTHON .. " --version"),
    "Node.js " .. U.first_line("node --version"),
    "cJSON " .. dpkg("libcjson-dev") .. ", lua-cjson " .. dpkg("lua-cjson") .. ", LuaSocket "
      .. dpkg("lua-socket"),
    U.first_line("valgrind --version"),
  }
  return "- " .. table.concat(lines, "\n- ")
end

---------------------------------------------------------------------------------------------- cases

-- What the throughput sections say of where the processes ran.
local function placement()
  if not PINNED then return "Processes unpinned (one CPU, or no taskset)." end
  return string.format("The dedicated server's worker runs on CPU %d (`worker_cpu_affinity`), every "
    .. "contender on CPU 0 (`taskset -c 0`), so that every round places them alike: unpinned, where the "
    .. "scheduler put the client and the server decided the figure more than the client did.", SERVER_CPU)
end

local function case_seq(st, sb)
  local stats = throughput("sequential", SEQ, C.seq_n, C.rounds, st.env, st.pin)
  local conn = stats.convai.connections
  section("Sequential: " .. U.int(C.seq_n) .. " voicebot.studio usage queries, one kept-alive connection",
    "Each contender makes `GET /whatsapp/agent-usage?agent_id=N` (agents 1–100) one after the other on one "
      .. "connection and decodes every body into the typed result (`current_usage`, `current_limit` "
      .. "integers, `limit_exhausted` boolean, `remaining`); the checksums of all contenders agree. Timed "
      .. "inside each process, without start-up. Ratio: median over rounds of the contender's requests/s "
      .. "divided by plain C's in the same round. " .. placement() .. "\n\n"
      .. throughput_table(SEQ, stats, C.rounds)
      .. (conn and string.format("\n\nconvai opened %d connection(s) for %s queries.", conn, U.int(C.seq_n))
        or ""))
  local ratio = not stats.convai.error and U.median(stats.convai.ratio)
  targets[#targets + 1] = { "Sequential: convai ≥ 0.95 of plain C requests/s (issue 14)",
    U.ratio(ratio or nil),
    ratio and ratio >= 0.95 }

  -- The server choice, measured: the same two contenders against the sandbox itself.
  local pair = { SEQ[1], SEQ[2] }
  local sstats = throughput("sequential, sandbox", pair, C.seq_n, C.server_rounds, sb.env)
  local cstats = throughput("concurrent, sandbox", { CONC[1] }, C.conc_n, C.server_rounds, sb.env)
  local ds = throughput("concurrent, dedicated", { CONC[1] }, C.conc_n, C.server_rounds, st.env, st.pin)
  local function med(s) return s.error and "failed" or U.int(U.median(s.rps)) end
  section("Servers",
    "The rate-fidelity case runs against the convai sandbox (`convai sandbox start`: nginx, one worker, "
      .. "the vendors emulated in Lua, every request logged). The throughput cases run against a dedicated "
      .. "nginx on loopback (one worker, no Lua, unlimited keep-alive, no access log) that answers the same "
      .. "queries with the bodies the sandbox gives, byte for byte, after the same credential checks: in the "
      .. "sandbox, its own work per request would hide the clients' differences. Measured in "
      .. "this run (median of " .. C.server_rounds .. "):\n\n"
      .. U.table({ "", "sandbox", "dedicated server" }, {
        { "plain C, sequential voicebot usage, requests/s", med(sstats.c), med(stats.c) },
        { "convai, sequential voicebot usage, requests/s", med(sstats.convai), med(stats.convai) },
        { "convai / plain C, sequential", U.ratio(U.median(sstats.convai.ratio)),
          U.ratio(U.median(stats.convai.ratio)) },
        { "plain C, concurrent Avaamo usage (16), requests/s", med(cstats.c), med(ds.c) },
      }))
end

local function case_conc(st)
  local stats = throughput("concurrent", CONC, C.conc_n, C.rounds, st.env, st.pin)
  section("Concurrent: " .. U.int(C.conc_n) .. " Avaamo usage queries across 100 agents, concurrency "
      .. C.concurrency,
    "Each contender keeps " .. C.concurrency .. " requests in flight (`GET /bots/analytics/N/usage.json?"
      .. "utc_offset=0&from_date=10/04/2020&to_date=13/04/2020`, 2.9 kB bodies) and, except curl, decodes "
      .. "every body into the typed result (integer counts checked, 9 slices), adds it to a checksum and "
      .. "drops it (convai through `client:batch`'s `on_result`, which keeps no result). curl is timed "
      .. "from outside (its start-up included), the others inside. " .. placement() .. "\n\n"
      .. throughput_table(CONC, stats, C.rounds))
  local s = stats.convai
  local ratio = not s.error and not s.pending and U.median(s.ratio) or nil
  local t = { "Concurrent: convai ≥ 1.0 of plain C on curl_multi (issue 14)", U.ratio(ratio),
    ratio and ratio >= 1.0 or false }
  if s.pending then t[2], t[3] = "pending: " .. s.pending, nil end
  targets[#targets + 1] = t
end

local function case_rate()
  local runs = {}
  local sbs = {}
  for li, latency in ipairs(C.latencies) do
    local sb = start_sandbox("sandbox-rate-" .. latency)
    sbs[li] = sb
    local agents = {}
    for ri, row in ipairs(C.rate) do
      for _, who in ipairs { "campaign", "naive" } do
        local agent = string.format("bench-%s-%dms-r%d", who, latency, row.rate)
        agents[agent] = { rate = row.rate }
        runs[#runs + 1] = { sb = sb, latency = latency, rate = row.rate, seconds = row.seconds, who = who,
          agent = agent, first = 447700000000 + (li * 10 + ri) * 100000 + (who == "naive" and 50000 or 0) }
      end
    end
    sandbox_call(sb, "POST", "/_sandbox/config", { latency_ms = latency, vonage = { agents = agents } })
  end
  -- The naive loops mostly sleep: they all run at once, beside the first campaign row. The campaign rows
  -- run one after the other, so that no campaign competes with another for the 2 cores.
  local function command(r)
    if r.who == "naive" then return lua_cmd("rate_naive.lua", r.rate, r.seconds, r.agent, r.first) end
    return lua_cmd("rate_campaign.lua", r.rate, math.floor(r.rate * r.seconds + 0.5), r.agent, r.first,
      TMP .. "/" .. r.agent .. ".journal")
  end
  local function finish(r)
    local ok, out, err, code = r.proc.wait()
    local res = U.json_line(out)
    if res and res.pending then r.pending = res.pending
    elseif not ok or not res then
      r.error = (err:match("[^\n]+") or "") .. " (exit " .. tostring(code) .. ")"
      failed("rate " .. r.agent, r.error)
    else
      r.client = res
    end
  end
  local naive, campaigns = {}, {}
  for _, r in ipairs(runs) do
    if r.who == "naive" then naive[#naive + 1] = r else campaigns[#campaigns + 1] = r end
  end
  for i, c in ipairs(campaigns) do
    say("rate fidelity: campaign %d/%d (%d/s, %d ms)%s", i, #campaigns, c.rate, c.latency,
      i == 1 and ", with every naive loop" or "")
    local batch = { c }
    if i == 1 then for _, r in ipairs(naive) do batch[#batch + 1] = r end end
    for _, r in ipairs(batch) do r.proc = U.spawn(command(r), r.sb.env) end
    for _, r in ipairs(batch) do finish(r) end
    if c.pending then -- no campaign runner: the other rows would say the same
      for j = i + 1, #campaigns do campaigns[j].pending = c.pending end
      break
    end
  end
  -- The sandbox's log is the judge: arrival times of the accepted triggers, and the 429s, per agent.
  local seen = {}
  for _, sb in ipairs(sbs) do U.conversations(sandbox_call(sb, "GET", "/_sandbox/log").requests, seen) end
  local rows = {}
  local all_met, any_pending = true, false
  for _, r in ipairs(runs) do
    local a = seen[r.agent] or { times = {}, r429 = 0 }
    table.sort(a.times)
    local k = #a.times
    local achieved = k > 1 and (k - 1) / (a.times[k] - a.times[1]) or nil
    local fid = achieved and achieved / r.rate
    local label = r.who == "campaign" and "**convai campaign**" or "naive loop (trigger, sleep 1/rate)"
    if r.pending then
      rows[#rows + 1] = { label, r.rate .. "/s", r.latency .. " ms", "pending", "–", "–", "–" }
      any_pending = true
    elseif r.error then
      rows[#rows + 1] = { label, r.rate .. "/s", r.latency .. " ms", "failed: " .. r.error, "–", "–", "–" }
      if r.who == "campaign" then all_met = false end
    else
      rows[#rows + 1] = { label, r.rate .. "/s", r.latency .. " ms", U.int(k),
        achieved and string.format("%.3f", achieved) or "–", fid and string.format("%.3f", fid) or "–",
        U.int(a.r429) }
      if r.who == "campaign" and not (fid and fid >= 0.97 and a.r429 == 0) then all_met = false end
    end
  end
  section("Rate fidelity: outbound WhatsApp triggers against the sandbox's per-agent limit",
    "Each row has its own Vonage agent, limited in the sandbox to the row's rate (sliding 1 s window, "
      .. "429 beyond it); two sandboxes, one per latency (`latency_ms` is sandbox-wide). The campaign rows "
      .. "run one after the other (the first beside every naive loop, which mostly sleep). The campaign "
      .. "sends rate × " .. C.rate[1].seconds .. " s triggers (× " .. C.rate[#C.rate].seconds .. " s at "
      .. C.rate[#C.rate].rate .. "/s); the naive loop runs for as long. Figures from the sandbox's request "
      .. "log: accepted triggers k, achieved rate (k − 1) / (time of the last − time of the first accepted "
      .. "arrival), fidelity = achieved / allowed, and the 429s answered.\n\n"
      .. U.table({ "contender", "allowed", "latency", "accepted", "achieved/s", "achieved/allowed", "429s" },
        rows))
  local t = { "Rate fidelity: ≥ 0.97 of the allowed rate, zero 429s, every campaign row",
    all_met and "every row" or "see table", all_met }
  if any_pending then t[2], t[3] = "pending: convai.campaign is not in this checkout", nil end
  targets[#targets + 1] = t
end

local function case_memory(st)
  local rows = {}
  local all_met = true
  for _, vendor in ipairs { "voicebot", "avaamo" } do
    say("memory: %s", vendor)
    local ok, out, err, code = U.run(lua_cmd("memory_convai.lua", vendor, C.mem[1], C.mem[2]), st.env)
    local r = U.json_line(out)
    local label = vendor == "voicebot" and "convai voicebot usage" or "convai Avaamo usage"
    if not ok or not r then
      failed("memory " .. vendor, (err:match("[^\n]+") or "") .. " (exit " .. tostring(code) .. ")")
      rows[#rows + 1] = { label, "failed", "–", "–", "–" }
      all_met = false
    else
      local growth = r.hwm2_kib - r.hwm1_kib
      rows[#rows + 1] = { label, U.int(r.hwm1_kib) .. " KiB", U.int(r.hwm2_kib) .. " KiB",
        U.int(growth) .. " KiB", string.format("%.0f → %.0f KiB", r.heap1_kib, r.heap2_kib) }
      if growth >= 1024 then all_met = false end
    end
  end
  section("Memory: peak RSS after " .. U.int(C.mem[1]) .. " and after " .. U.int(C.mem[2])
      .. " queries in one process",
    "VmHWM from /proc/self/status (the peak resident set size), read in the same Lua 5.4 process after "
      .. U.int(C.mem[1]) .. " queries and again after " .. U.int(C.mem[2]) .. "; the Lua heap "
      .. "(`collectgarbage(\"count\")`) at the same moments.\n\n"
      .. U.table({ "queries", "VmHWM after " .. U.int(C.mem[1]), "after " .. U.int(C.mem[2]), "growth",
        "Lua heap" }, rows))
  targets[#targets + 1] = { "Memory: growth from " .. U.int(C.mem[1]) .. " to " .. U.int(C.mem[2])
    .. " queries < 1 MiB", all_met and "every row" or "see table", all_met }
end

local function case_cpu(st)
  local n1, n2 = C.cpu[1], C.cpu[2]
  os.execute("mkdir -p " .. q(PROFILES))
  local runs = {
    { id = "c", label = "plain C: voicebot usage", cmd = function(n)
      return q(BIN .. "/seq") .. " " .. n end },
    { id = "convai", label = "convai: voicebot usage", cmd = function(n)
      return lua_cmd("seq_convai.lua", "voicebot", n) end },
    { id = "request", label = "  convai layer: `core.session:request` only", cmd = function(n)
      return lua_cmd("layers_convai.lua", "voicebot", "request", n) end },
    { id = "decode", label = "  convai layer: request + `core.json_decode`", cmd = function(n)
      return lua_cmd("layers_convai.lua", "voicebot", "decode", n) end },
    { id = "luasocket", label = "LuaSocket + lua-cjson: voicebot usage", cmd = function(n)
      return lua_cmd("seq_luasocket.lua", n) end },
    { id = "c_avaamo", label = "plain C: Avaamo usage", cmd = function(n)
      return q(BIN .. "/multi") .. " " .. n .. " 1" end },
    { id = "convai_avaamo", label = "convai: Avaamo usage", cmd = function(n)
      return lua_cmd("seq_convai.lua", "avaamo", n) end },
    { id = "request_avaamo", label = "  convai layer: `core.session:request` only", cmd = function(n)
      return lua_cmd("layers_convai.lua", "avaamo", "request", n) end },
    { id = "decode_avaamo", label = "  convai layer: request + `core.json_decode`", cmd = function(n)
      return lua_cmd("layers_convai.lua", "avaamo", "decode", n) end },
    { id = "c_multi", label = "plain C: Avaamo usage on curl_multi (16)", cmd = function(n)
      return q(BIN .. "/multi") .. " " .. n .. " " .. C.concurrency end },
    { id = "batch_avaamo", label = "convai: Avaamo usage through `client:batch` with `on_result` (16)",
      ref = "c_multi",
      cmd = function(n) return lua_cmd("conc_convai.lua", n, C.concurrency) end },
  }
  -- System calls per query, the same way: strace -c for both counts, the difference of the totals.
  local function syscalls(r, env)
    local total = {}
    for i, n in ipairs { n1, n2 } do
      local file = TMP .. "/strace." .. r.id .. "." .. n
      local ok = U.run("strace -f -c -o " .. q(file) .. " " .. r.cmd(n), env)
      local text = ok and U.read(file)
      total[i] = text and tonumber(text:match("\n%s*[%d.]+%s+[%d.]+%s+%d*%s*(%d+)%s+%d*%s*total"))
      if not total[i] then return nil end
    end
    return (total[2] - total[1]) / (n2 - n1)
  end
  local per = {}
  for _, r in ipairs(runs) do
    say("cpu: %s", r.id)
    local files = {}
    for i, n in ipairs { n1, n2 } do
      files[i] = PROFILES .. "/callgrind." .. r.id .. "." .. n
      local ok, out, err = U.run("valgrind --tool=callgrind --dump-instr=yes --callgrind-out-file="
        .. q(files[i]) .. " " .. r.cmd(n), st.env)
      local res = U.json_line(out)
      if res and res.pending then
        r.pending, files = res.pending, nil
        break
      elseif not ok or not res or res.ok ~= n then
        local msg
        for line in err:gmatch("[^\n]+") do
          if not line:match("^==%d+==") then msg = line break end
        end
        failed("cpu " .. r.id, msg or "exit status not 0 (see valgrind's output)")
        files = nil
        break
      end
    end
    if files then
      local p = callgrind.per_operation(files[1], files[2], n1, n2)
      p.syscalls = syscalls(r, st.env)
      per[r.id] = p
    end
  end
  local rows = {}
  local function group(objs, names)
    local s = 0
    for _, name in ipairs(names) do s = s + (objs[name] or 0) end
    return s
  end
  for _, r in ipairs(runs) do
    local p = per[r.id]
    if p then
      local o = p.objects
      local lib = group(o, { "libcurl" })
      local libc = group(o, { "libc" })
      local lua = group(o, { "lua5.4", "liblua5.4" })
      local corev = group(o, { "convai/core" })
      local json = group(o, { "liblua5.4-cjson", "libcjson" })
      local other = p.total - lib - libc - lua - corev - json
      local ref = per[r.ref or (r.id:match("avaamo") and "c_avaamo" or "c")]
      if r.id == "c_multi" then ref = p end
      rows[#rows + 1] = { r.label, U.int(p.total), ref and U.ratio(p.total / ref.total) or "–", U.int(lib),
        U.int(libc), U.int(lua), U.int(corev), U.int(json), U.int(other),
        p.syscalls and string.format("%.1f", p.syscalls) or "–" }
    else
      local what = r.pending and "pending" or "failed"
      rows[#rows + 1] = { r.label, what, "–", "–", "–", "–", "–", "–", "–", "–" }
    end
  end
  section("CPU: instructions per query (callgrind)",
    "`valgrind --tool=callgrind` counts the client's instructions (the server is not traced) for "
      .. n1 .. " and for " .. n2 .. " queries; per query = difference / " .. (n2 - n1)
      .. ", so start-up cancels out. Split by library from callgrind's self costs (Debian's libraries "
      .. "carry no symbols): libcurl, libc (malloc, memcpy...), the Lua 5.4 interpreter (VM, GC, tables, "
      .. "strings, string library), convai's C core, the JSON library (lua-cjson or cJSON). The layers "
      .. "run the same queries through less of convai, so the differences between rows show what each "
      .. "layer costs. System calls per query from `strace -f -c`, the same way. The callgrind files "
      .. "(`--dump-instr=yes`) are kept in `build/bench/profile/` for `callgrind_annotate`.\n\n"
      .. U.table({ "run", "instructions/query", "× plain C", "libcurl", "libc", "Lua VM", "convai core",
        "JSON", "other", "syscalls/query" }, rows))
end

---------------------------------------------------------------------------------------------- main

local t_start = core.monotonic()
local ok, err = xpcall(function()
  local sb, st
  if opts.cases.seq or opts.cases.conc or opts.cases.memory or opts.cases.cpu then
    say("bench: starting the servers")
    sb = start_sandbox("sandbox")
    st = start_static(sb)
  end
  if opts.cases.seq then case_seq(st, sb) end
  if opts.cases.conc then case_conc(st) end
  if opts.cases.rate then case_rate() end
  if opts.cases.memory then case_memory(st) end
  if opts.cases.cpu then case_cpu(st) end
  if opts.cases.decode then
    decode.run { quick = opts.quick, ROOT = ROOT, TMP = TMP, lua_cmd = lua_cmd, say = say, failed = failed,
      section = section }
  end
  if opts.cases.limits then
    limits.run { quick = opts.quick, TMP = TMP, PROFILES = PROFILES, say = say, failed = failed,
      section = section, targets = targets, lua_cmd = lua_cmd, start_sandbox = start_sandbox,
      sandbox_call = sandbox_call, machine = machine }
  end
end, debug.traceback)
stop_servers()
if not ok then
  io.stderr:write("bench: ", tostring(err), "\n")
  os.exit(1)
end

local trows = {}
for _, t in ipairs(targets) do
  trows[#trows + 1] = { t[1], t[2], t[3] == nil and "pending" or (t[3] and "**met**" or "**missed**") }
end
local head = string.format("# Benchmark results\n\nWritten by `bench/run%s` in %.0f s on %s.%s\n\n"
  .. "## Machine\n\n%s\n\n## Versions\n\n%s\n",
  opts.quick and " --quick" or "", core.monotonic() - t_start, os.date("!%Y-%m-%d %H:%M UTC"),
  opts.quick and " **Smoke run: tiny counts, the figures mean nothing.**" or "", machine(), versions())
local tsec = "## Targets\n\n" .. U.table({ "target", "figure", "" }, trows, "lll") .. "\n"
io.write("\n", tsec)
local text = head .. "\n" .. tsec .. "\n" .. table.concat(report, "\n")
if #failures > 0 then
  text = text .. "\n## Failures\n\n- " .. table.concat(failures, "\n- ") .. "\n"
end
if OUT and opts.only then
  -- Only some cases: their sections (and their targets, under their own heading) replace the sections
  -- of the same titles in the existing file, or go in before its "History"; the rest is kept.
  local old = U.read(OUT) or "# Benchmark results\n"
  for _, sec in ipairs(report) do
    local title = sec:match("^## ([^\n]+)")
    local at = old:find("\n## " .. title .. "\n", 1, true)
    if at then
      local stop = old:find("\n## ", at + 1, true) or #old + 1
      old = old:sub(1, at) .. sec .. old:sub(stop)
    else
      local hist = old:find("\n## History\n", 1, true)
      if hist then old = old:sub(1, hist) .. sec .. old:sub(hist) else old = old .. "\n" .. sec end
    end
  end
  U.write(OUT, old)
  say("bench: wrote %s (%.0f s)", OUT, core.monotonic() - t_start)
elseif OUT then
  -- The "History" section (the figures of earlier runs and what changed between them, kept by hand) is
  -- carried over from the file being replaced: everything from its heading to the end.
  local old = U.read(OUT)
  local at = old and old:find("\n## History\n", 1, true)
  if at then text = text .. old:sub(at) end
  U.write(OUT, text)
  say("bench: wrote %s (%.0f s)", OUT, core.monotonic() - t_start)
end
if #failures > 0 then
  say("bench: %d contender run(s) failed", #failures)
  os.exit(1)
end
