-- examples/main_job.lua: the main job, end to end.
--
-- 1. WhatsApp agent usage at voicebot.studio: how many business-initiated conversations are left.
-- 2. Avaamo agent usage over a date range (the query of Avaamo's documented sample).
-- 3. If there is capacity, trigger one outbound WhatsApp session at Vonage AI Studio from a template,
--    then read the usage again: the new conversation is counted.
-- 4. A small campaign: the same template to examples/recipients.csv at agent 1's rate (1 session per
--    second, or CONVAI_VONAGE_RATES), gated by the WhatsApp capacity left, journaled (a second run with
--    the same journal would resume).
--
-- Configuration comes from the environment (CONVAI_*), e.g. `eval "$(convai sandbox start)"`.
-- Run: lua5.4 examples/main_job.lua
local voicebot = require "convai.voicebot"
local avaamo = require "convai.avaamo"
local vonage = require "convai.vonage"

local function check(value, err)
  if value == nil then
    io.stderr:write("main_job: ", tostring(err), "\n")
    os.exit(err and err.kind == "invalid_argument" and 2 or 1)
  end
  return value
end

local campaign = require "convai.campaign"

local vb <close> = check(voicebot.from_env())
local usage = check(vb:whatsapp_usage(1))
print(string.format("[voicebot.studio] WhatsApp agent 1: %d of %d business-initiated conversations used "
  .. "in the last 24 h, %d remaining%s", usage.current_usage, usage.current_limit, usage.remaining,
  usage.limit_exhausted and " (limit exhausted)" or ""))

local av <close> = check(avaamo.from_env())
local stats = check(av:usage { agent_id = 20123, from_date = "10/04/2020", to_date = "13/04/2020",
  utc_offset = -25200 })
local agg, prev = stats.aggregate_stats, stats.previous_interval_stats
print(string.format("[Avaamo] agent 20123, 10/04/2020-13/04/2020 (UTC-7): %d sessions, %d messages, "
  .. "success rate %.2f %% (previous interval %.2f %%)", agg.session_count, agg.messages_count,
  agg.success_rate, prev.success_rate))
for i, s in ipairs(stats.stats) do
  print(string.format("  slice %d  %s  %6d messages  success rate %s", i,
    os.date("!%Y-%m-%d %H:%M", math.floor(s.start_time)), s.messages_count,
    s.success_rate and string.format("%.2f %%", s.success_rate) or "-"))
end

if usage.remaining == 0 then
  print("[Vonage AI Studio] no WhatsApp capacity left: not triggering")
  return
end
local vg <close> = check(vonage.from_env())
local result = check(vg:trigger_whatsapp {
  agent_id = "1",
  namespace = "c8ae5f90_307a_ca4c_b8f6_d1e2a2573574",
  template = "appointment_reminder",
  locale = "en_GB",
  to = "+44 7700 900123",
  status_url = "https://example.com/whatsapp/status",
  components = { header = { "Dr. Smith" }, body = { "Alex", "Tuesday 10:30" } },
  session_parameters = { patient_id = "P-1042" },
})
print(string.format("[Vonage AI Studio] WhatsApp session triggered for +44 7700 900123: HTTP %d %s",
  result.status, type(result.body) == "table" and (result.body.session_id or "") or tostring(result.body)))

usage = check(vb:whatsapp_usage(1))
print(string.format("[voicebot.studio] WhatsApp agent 1 now: %d of %d used, %d remaining",
  usage.current_usage, usage.current_limit, usage.remaining))

local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local f = check(io.open(here .. "/recipients.csv", "rb"))
local csv = f:read("a")
f:close()
local journal = os.tmpname()
os.remove(journal) -- a new campaign each run; keep the path to resume one
-- The trigger above took agent 1's slot of this second (Vonage allows 1 session per second per agent,
-- 429 beyond): the campaign takes its slots from the same store (by default shared by every convai
-- process of the machine), so its first send waits for the next one.
local sender = check(campaign.senders.vonage_whatsapp(check(vonage.from_env { retry = false }), {
  agent_id = "1", namespace = "c8ae5f90_307a_ca4c_b8f6_d1e2a2573574", template = "appointment_reminder",
  locale = "en_GB", status_url = "https://example.com/whatsapp/status",
}))
local c = check(campaign.new { sender = sender, gate = campaign.voicebot_gate(vb, 1), journal = journal,
  csv = csv })
local report = check(c:run())
local s = report.summary
print(string.format("[campaign] %d recipients: %d sent, %d failed, %d pending, %d invalid, %d 429s, "
  .. "%.1f s (journal %s)", s.recipients, s.sent, s.failed, s.pending, s.invalid, s.throttled, s.elapsed,
  journal))
for _, e in ipairs(report.entries) do
  print(string.format("  line %d  %s  %s", e.line, e.to or "-", e.outcome))
end
