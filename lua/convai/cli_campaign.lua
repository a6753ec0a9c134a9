--- convai.cli_campaign: the `convai campaign run` command (see `convai.campaign`).
--
-- Exit status: 0 every valid recipient is sent (or, with `--dry-run`, everything checked); 1 some recipient
-- is not sent (failed, unknown, invalid, or left pending by the gate) or the journal could not be written;
-- 2 invalid arguments or an unusable recipients file or journal (nothing sent); 130 interrupted (Ctrl-C:
-- in-flight requests finished, journal consistent).
--
-- @module convai.cli_campaign
local core = require "convai.core"
local campaign = require "convai.campaign"

local format, concat = string.format, table.concat
local type, tostring, tonumber, ipairs, pairs = type, tostring, tonumber, ipairs, pairs

local _M = {}

local EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

--- Add the `campaign run` command to an argparse parser.
-- @param parser the `convai` argparse parser
function _M.define(parser)
  local c = parser:command("campaign", "Outbound campaigns: send a template to a list of recipients.")
  c:command_target("target")
  c:require_command(true)
  local run = c:command("run", "Run (or resume, with the same --journal) a campaign: every row checked "
    .. "before the first send, at most --rate sessions per second, never twice to anyone.")
  run:argument("recipients", "Recipients CSV: columns to, name, header.1..n, body.1..n, session.NAME.")
  run:option("--journal", "Journal file: created, or resumed when it exists."):count(1)
  run:option("--channel", "whatsapp, sms or voice."):choices { "whatsapp", "sms", "voice" }:default "whatsapp"
  run:option("--provider", "vonage (AI Studio) or voicebot (voicebot.studio send-template; WhatsApp only).")
    :choices { "vonage", "voicebot" }:default "vonage"
  run:option("--agent-id", "Agent ID (AI Studio agent; voicebot: WhatsApp agent, a positive integer).")
  run:option("--namespace", "WhatsApp template namespace (Vonage WhatsApp).")
  run:option("--template", "Approved WhatsApp template name.")
  run:option("--locale", "Template language, e.g. en or en_US (Vonage WhatsApp).")
  run:option("--status-url", "URL that receives the message statuses (Vonage).")
  run:option("--rate", "Sessions per second for the agent (Vonage grants 1, 3 or 5)."):default "1"
  run:option("--gate-voicebot-agent", "Stop at the WhatsApp business-initiated capacity of this "
    .. "voicebot.studio agent (current_limit - current_usage).")
  run:option("--report", "Write one row per recipient to OUT.csv or OUT.json.")
  run:flag("--dry-run", "Check everything and show what would be sent; send and write nothing.")
  run:flag("--retry-failed", "Send again to recipients whose last outcome was failed.")
  run:flag("--skip-invalid", "Send to the valid rows even if some rows are invalid (by default any invalid "
    .. "row stops the campaign before the first send).")
  run:flag("-v --verbose", "Print each request and response on stderr (credentials redacted).")
  run:option("--format", "Summary format: table or json."):choices { "table", "json" }:default "table"
  run:option("--timeout", "Total time allowed per request, in seconds."):default "30"
  run:option("--connect-timeout", "Time allowed to connect, in seconds."):default "10"
end

local function usage_error(msg)
  io.stderr:write("convai: invalid argument: ", msg, "\n")
  return EXIT_USAGE
end

local function fail(err, code)
  io.stderr:write("convai: ", (tostring(err):gsub("^convai: ", "")), "\n")
  if code then return code end
  if type(err) == "table" and err.kind == "invalid_argument" then return EXIT_USAGE end
  return EXIT_FAILED
end

local function positive(v, name)
  local n = tonumber(v)
  if not n or n ~= n or n <= 0 or n == math.huge then
    return nil, format("--%s must be a positive number, got %q", name, tostring(v))
  end
  return n
end

--- Check the flags and build the sender fields; returns nil, message for a usage error.
local function check_flags(args)
  local f = { channel = args.channel, provider = args.provider }
  local err
  f.rate, err = positive(args.rate, "rate")
  if not f.rate then return nil, err end
  f.timeout, err = positive(args.timeout, "timeout")
  if not f.timeout then return nil, err end
  f.connect_timeout, err = positive(args.connect_timeout, "connect-timeout")
  if not f.connect_timeout then return nil, err end
  if args.gate_voicebot_agent ~= nil then
    if not args.gate_voicebot_agent:match("^%d+$") or tonumber(args.gate_voicebot_agent) < 1 then
      return nil, format("--gate-voicebot-agent must be a positive integer (a voicebot.studio WhatsApp "
        .. "agent), got %q", args.gate_voicebot_agent)
    end
    f.gate = tonumber(args.gate_voicebot_agent)
  end
  if args.report ~= nil and not (args.report:match("%.csv$") or args.report:match("%.json$")) then
    return nil, format("--report must name a .csv or .json file, got %q", args.report)
  end
  local need
  if f.provider == "voicebot" then
    if f.channel ~= "whatsapp" then
      return nil, "--provider voicebot sends WhatsApp templates only; use --channel whatsapp"
    end
    need = { "template" }
    if args.agent_id ~= nil and not args.agent_id:match("^%d+$") then
      return nil, format("--agent-id must be a positive integer for voicebot.studio, got %q", args.agent_id)
    end
    for _, flag in ipairs { "namespace", "locale", "status_url" } do
      if args[flag] ~= nil then
        return nil, format("--%s is not used by --provider voicebot", (flag:gsub("_", "-")))
      end
    end
  elseif f.channel == "whatsapp" then
    need = { "agent_id", "namespace", "template", "locale", "status_url" }
  elseif f.channel == "sms" then
    need = { "agent_id", "status_url" }
  else
    need = { "agent_id" }
  end
  for _, flag in ipairs(need) do
    if args[flag] == nil then
      return nil, format("--%s is required for %s %s campaigns", (flag:gsub("_", "-")), f.provider, f.channel)
    end
  end
  if f.provider == "vonage" and f.channel ~= "whatsapp" then
    for _, flag in ipairs { "namespace", "template", "locale" } do
      if args[flag] ~= nil then
        return nil, format("--%s is only for WhatsApp templates, not --channel %s", flag, f.channel)
      end
    end
  end
  return f
end

local function trace_of(args)
  return args.verbose and require("convai.cli").verbose_trace(io.stderr) or nil
end

local function make_sender(f, args)
  local opts = { timeout = f.timeout, connect_timeout = f.connect_timeout, retry = false,
    trace = trace_of(args) }
  if f.provider == "voicebot" then
    local client, err = require("convai.voicebot").from_env(opts)
    if not client then return nil, err end
    local sender
    sender, err = campaign.senders.voicebot_template(client, {
      agent_id = args.agent_id and tonumber(args.agent_id), template = args.template,
    })
    if not sender then client:close() return nil, err end
    return sender, client
  end
  local client, err = require("convai.vonage").from_env(opts)
  if not client then return nil, err end
  local sender
  if f.channel == "whatsapp" then
    sender, err = campaign.senders.vonage_whatsapp(client, { agent_id = args.agent_id,
      namespace = args.namespace, template = args.template, locale = args.locale,
      status_url = args.status_url })
  elseif f.channel == "sms" then
    sender, err = campaign.senders.vonage_sms(client, { agent_id = args.agent_id,
      status_url = args.status_url })
  else
    sender, err = campaign.senders.vonage_voice(client, { agent_id = args.agent_id,
      status_url = args.status_url })
  end
  if not sender then client:close() return nil, err end
  return sender, client
end

local function progress_line(p)
  local eta = p.eta and format("%ds", math.floor(p.eta + 0.5)) or "-"
  return format("%d/%d done  sent %d  failed %d  429s %d  %.2f/s  ETA %s", p.done, p.total, p.sent, p.failed,
    p.throttled, p.rate, eta)
end

local function print_summary(out, report, fmt)
  local s = report.summary
  if fmt == "json" then
    local kinds = {}
    for k, v in pairs(s.failed_by_kind) do kinds[k] = v end
    local value = {}
    for k, v in pairs(s) do value[k] = v end
    value.failed_by_kind = next(kinds) and kinds or nil
    out:write(assert(core.json_encode(value)), "\n")
    return
  end
  local kinds = {}
  for k, v in pairs(s.failed_by_kind) do kinds[#kinds + 1] = format("%s %d", k, v) end
  table.sort(kinds)
  local rows = {
    { "stopped", s.stopped },
    { "recipients", s.recipients },
    { "sent", s.sent },
    { "failed", s.failed .. (#kinds > 0 and " (" .. concat(kinds, ", ") .. ")" or "") },
    { "unknown", s.unknown },
    { "pending", s.pending },
    { "invalid", s.invalid },
    { "duplicates", s.duplicates },
    { "429s", s.throttled },
    { "elapsed", format("%.1f s", s.elapsed) },
    { "rate", format("%.2f per second", s.rate) },
  }
  if s.would_send then rows[#rows + 1] = { "would send", s.would_send } end
  if s.capacity then rows[#rows + 1] = { "capacity (last read)", s.capacity } end
  if s.gate_error then rows[#rows + 1] = { "gate error", s.gate_error } end
  if s.journal_error then rows[#rows + 1] = { "journal error", s.journal_error } end
  if s.stop_error then rows[#rows + 1] = { "stopped by", s.stop_error } end
  for _, r in ipairs(rows) do out:write(format("%-22s %s\n", r[1], tostring(r[2]))) end
end

--- Run `convai campaign run` with parsed arguments.
-- @tparam table args from argparse
-- @tparam file out where the summary goes
-- @treturn integer exit status
function _M.run(args, out)
  local f, ferr = check_flags(args)
  if not f then return usage_error(ferr) end
  local fh, oerr = io.open(args.recipients, "rb")
  if not fh then return usage_error(format("cannot read the recipients file: %s", tostring(oerr))) end
  local csv = fh:read("a") or ""
  fh:close()
  local sender, client = make_sender(f, args)
  if not sender then return fail(client) end
  local gate, gate_client
  if f.gate then
    local err
    gate_client, err = require("convai.voicebot").from_env { timeout = f.timeout,
      connect_timeout = f.connect_timeout, trace = trace_of(args) }
    if not gate_client then client:close() return fail(err) end
    gate = campaign.voicebot_gate(gate_client, f.gate)
  end
  local tty = core.isatty(2)
  local drawn = false
  local c, err = campaign.new {
    sender = sender, gate = gate, rate = f.rate, journal = args.journal, csv = csv,
    retry_failed = args.retry_failed, dry_run = args.dry_run, skip_invalid = args.skip_invalid,
    progress = tty and function(p)
      io.stderr:write("\r\27[K", progress_line(p))
      drawn = true
    end or nil,
  }
  local function close_all()
    client:close()
    if gate_client then gate_client:close() end
  end
  if not c then
    close_all()
    if type(err) == "table" and err.invalid then
      for _, i in ipairs(err.invalid) do
        io.stderr:write(format("convai: invalid argument: recipients line %d: %s\n", i.line, i.message))
      end
      io.stderr:write(format("convai: invalid argument: %d invalid row%s in %s; nothing was sent: fix "
        .. "them, or pass --skip-invalid to send to the valid rows\n", #err.invalid,
        #err.invalid == 1 and "" or "s", args.recipients))
      return EXIT_USAGE
    end
    return fail(err)
  end
  for _, i in ipairs(c.invalid) do
    io.stderr:write(format("convai: recipients line %d: %s (not sent)\n", i.line, i.message))
  end
  core.trap_interrupts(true)
  local report
  report, err = c:run()
  local interrupted = core.interrupted() > 0
  core.trap_interrupts(false)
  close_all()
  if drawn then io.stderr:write("\n") end
  if not report then return fail(err, EXIT_USAGE) end
  if args.report then
    local ok, rerr = campaign.write_report(report, args.report)
    if not ok then io.stderr:write("convai: ", rerr, "\n") end
  end
  for _, e in ipairs(report.entries) do
    if e.outcome == "failed" then
      io.stderr:write(format("convai: recipients line %d (%s): failed: %s%s: %s\n", e.line, e.to,
        tostring(e.kind), e.status and format(" (HTTP %d)", e.status) or "", tostring(e.message)))
    end
  end
  local s0 = report.summary
  if s0.stop_error then io.stderr:write("convai: campaign stopped: ", s0.stop_error, "\n") end
  if s0.gate_error then io.stderr:write("convai: campaign stopped: capacity gate: ", s0.gate_error, "\n") end
  if s0.journal_error then io.stderr:write("convai: campaign stopped: journal: ", s0.journal_error, "\n") end
  print_summary(out, report, args.format)
  local s = report.summary
  if interrupted or s.stopped == "interrupted" then return EXIT_INTERRUPTED end
  if args.dry_run then return EXIT_OK end
  if s.sent == s.recipients and s.invalid == 0 then return EXIT_OK end
  return EXIT_FAILED
end

return _M
