--- Rate-fidelity case, the baseline users write by hand: for SECONDS, trigger one outbound WhatsApp
-- session with `convai.vonage:trigger_whatsapp`, then sleep one interval (1/RATE s, LuaSocket's
-- `socket.sleep`), and again. Prints one JSON line `{"sent","accepted","r429","errors","seconds"}`
-- (the runner takes the achieved rate and the 429s from the sandbox's own log).
-- Usage: lua5.4 bench/lua/rate_naive.lua RATE SECONDS AGENT FIRST_NUMBER
local core = require "convai.core"
local socket = require "socket"
local vonage = require "convai.vonage"

local rate, duration = tonumber(arg[1]), tonumber(arg[2])
local agent, first = arg[3], math.tointeger(tonumber(arg[4]))
local vg = assert(vonage.from_env())

local sent, accepted, r429, errors = 0, 0, 0, 0
local t0 = core.monotonic()
while core.monotonic() - t0 < duration do
  local res, err = vg:trigger_whatsapp {
    agent_id = agent, namespace = "bench_namespace", template = "bench_rate", locale = "en_GB",
    to = string.format("+%d", first + sent), status_url = "https://example.com/whatsapp/status",
    components = { body = { "bench" } },
  }
  sent = sent + 1
  if res then accepted = accepted + 1
  elseif err.kind == "rate_limited" then r429 = r429 + 1
  else
    errors = errors + 1
    if errors == 1 then io.stderr:write(tostring(err), "\n") end
  end
  socket.sleep(1 / rate)
end
local seconds = core.monotonic() - t0
vg:close()
io.write(string.format('{"sent":%d,"accepted":%d,"r429":%d,"errors":%d,"seconds":%.3f}\n',
  sent, accepted, r429, errors, seconds))
os.exit(errors == 0 and 0 or 1)
