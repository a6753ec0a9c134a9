--- Rate-fidelity case, convai's campaign runner: COUNT outbound WhatsApp triggers to distinct numbers
-- through `convai.campaign` (per-agent token bucket in the C core, requests overlapping on libcurl
-- multi) at RATE sessions per second. Prints one JSON line
-- `{"sent","accepted","r429","errors","seconds"}` (the runner takes the achieved rate and the 429s from
-- the sandbox's own log), or `{"pending": reason}` and exit status 3 when this checkout has no
-- campaign runner yet. The agent's slots are kept in this process, or with LIMITS (a limit store, e.g. a
-- `redis://` URL) there (the limits case: several of these processes share one agent).
-- Usage: lua5.4 bench/lua/rate_campaign.lua RATE COUNT AGENT FIRST_NUMBER JOURNAL [LIMITS]
local core = require "convai.core"
local vonage = require "convai.vonage"

local rate, count = tonumber(arg[1]), math.tointeger(tonumber(arg[2]))
local agent, first, journal, limits = arg[3], math.tointeger(tonumber(arg[4])), arg[5], arg[6]

local has, campaign = pcall(require, "convai.campaign")
if not has or type(campaign) ~= "table" or type(campaign.new) ~= "function" then
  io.write('{"pending":"convai.campaign is not in this checkout yet"}\n')
  os.exit(3)
end

-- The agent's rate is RATE (the campaign's rate may only lower it); its slots are in this process, or in
-- LIMITS.
local client = assert(vonage.from_env { retry = false, limits = limits or "process",
                                        rates = { [agent] = rate } })
local sender = assert(campaign.senders.vonage_whatsapp(client, {
  agent_id = agent, namespace = "bench_namespace", template = "bench_rate", locale = "en_GB",
  status_url = "https://example.com/whatsapp/status",
}))
local lines = { "to,body.1" }
for i = 0, count - 1 do lines[#lines + 1] = string.format("+%d,bench", first + i) end
os.remove(journal)
local c = assert(campaign.new { sender = sender, journal = journal, csv = table.concat(lines, "\n") .. "\n",
                                rate = rate })
local t0 = core.monotonic()
local report, err = c:run()
local seconds = core.monotonic() - t0
if not report then
  io.stderr:write(tostring(err), "\n")
  os.exit(1)
end
local s = report.summary
io.write(string.format('{"sent":%d,"accepted":%d,"r429":%d,"errors":%d,"seconds":%.3f}\n',
  s.attempted or count, s.sent or 0, s.throttled or 0, (s.failed or 0) + (s.unknown or 0), seconds))
os.exit(((s.failed or 0) + (s.unknown or 0)) == 0 and 0 or 1)
