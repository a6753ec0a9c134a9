--- Limits case, one of several processes sending at once: COUNT outbound WhatsApp triggers for each of
-- AGENTS agents (`PREFIX1` ... `PREFIXn`, numbers from FIRST), every agent limited to RATE sessions per
-- second on the limit store STORE (a `redis://` URL: the processes share the agents' slots only there),
-- with MARGIN. Each agent's sends run one after the other in a `convai.batch` task of its own (its
-- `trigger_whatsapp` waits for the agent's slot, yielding to the other agents' tasks); the client does
-- not retry (`retry = false`), so every 429 shows in the sandbox's log. Prints one JSON line
-- `{"sent", "accepted", "errors", "seconds"}`; the runner takes the rates and 429s from the sandbox's log.
-- Usage: lua5.4 bench/lua/limits_sender.lua STORE RATE MARGIN PREFIX AGENTS COUNT FIRST
local batch = require "convai.batch"
local core = require "convai.core"
local vonage = require "convai.vonage"

local store, rate, margin, prefix = arg[1], tonumber(arg[2]), tonumber(arg[3]), arg[4]
local agents, count, first = math.tointeger(tonumber(arg[5])), math.tointeger(tonumber(arg[6])),
  math.tointeger(tonumber(arg[7]))

local rates = {}
for a = 1, agents do rates[prefix .. a] = rate end
local client = assert(vonage.from_env { retry = false, limits = { store = store, margin = margin },
  rates = rates })

local function send_all(a)
  local accepted, errors = 0, 0
  for i = 0, count - 1 do
    local res = client:trigger_whatsapp {
      agent_id = prefix .. a, namespace = "bench_namespace", template = "bench_limits", locale = "en_GB",
      to = string.format("+%d", first + a * 10000 + i), status_url = "https://example.com/whatsapp/status",
    }
    if res then accepted = accepted + 1 else errors = errors + 1 end
  end
  return accepted, errors
end

local tasks = {}
for a = 1, agents do tasks[a] = { send_all, a } end
local t0 = core.monotonic()
local results = assert(batch.run(tasks, { concurrency = agents }))
local seconds = core.monotonic() - t0
local accepted, errors = 0, 0
for _, r in ipairs(results) do
  accepted, errors = accepted + (r[1] or 0), errors + (r[2] or count)
end
io.write(string.format('{"sent":%d,"accepted":%d,"errors":%d,"seconds":%.3f}\n', agents * count, accepted,
  errors, seconds))
