--- convai.cli.campaign: the `convai campaign run` command (see `convai.campaign`).
--
-- The agent's send slots come from the same store as every other sender's (`--limits`, `CONVAI_LIMITS`;
-- by default `host`: the campaigns and triggers of every convai process of the machine share the
-- agent's rate), at the agent's rate (`CONVAI_VONAGE_RATES`, else 1 per second); `--rate` may only lower
-- it (a higher one is lowered, with a note on stderr). The capacity gate (`--gate-voicebot-agent`)
-- reserves each send in that same store, so gated campaigns on one agent share its capacity.
--
-- The campaign's state is a journal file (`--journal`), or a Redis (`--store redis://...`) shared by every
-- worker of the campaign: the same command run on several hosts sends each recipient once, all together
-- at the agent's rate. A store that fails mid-run is retried (a line on stderr each time) for
-- `--store-timeout` seconds, nothing sent meanwhile; then the run stops, the rest pending.
--
-- Exit status: 0 every valid recipient is sent (or, with `--dry-run`, everything checked); 1 some recipient
-- is not sent (failed, unknown, invalid, or left pending by the gate) or the journal could not be written,
-- or the store failed mid-run; 2 invalid arguments or an unusable recipients file, journal or store
-- (nothing sent); 130 interrupted (Ctrl-C: in-flight requests finished, journal consistent).
--
-- @module convai.cli.campaign
local core = require "convai.core"
local config = require "convai.config"
local campaign = require "convai.campaign"
local voicebot = require "convai.voicebot"
local vonage = require "convai.vonage"
local common = require "convai.cli.common"
local columns = require "convai.cli.columns"

local format, concat, sort = string.format, table.concat, table.sort
local type, tostring, tonumber, ipairs, pairs, next = type, tostring, tonumber, ipairs, pairs, next

local EXIT = common.EXIT

local _M = {}

--- Add the `campaign run` command to the `convai` parser.
-- @param parser the `convai` argparse parser
function _M.define(parser)
  local c = common.add_group(parser, "campaign",
    "Outbound campaigns: send a template to a list of recipients.")
  local run = c:command("run", "Run (or resume, with the same --journal) a campaign: every row checked "
    .. "before the first send, at most --rate sessions per second, never twice to anyone.")
  run:argument("recipients", "Recipients CSV: columns to, name, header.1..n, body.1..n, session.NAME.")
  run:option("--journal", "Journal file: created, or resumed when it exists (this machine's campaigns; "
    .. "exactly one of --journal and --store).")
  run:option("--store", "Keep the campaign's state in Redis instead "
    .. "(redis://[user:password@]host[:port][/db]): every run of the same campaign with the same --store, "
    .. "on any host, is a worker of it.")
  run:option("--store-timeout", "Seconds to keep retrying an unreachable --store (or --limits) store before "
    .. "stopping, the rest pending."):default "60"
  run:option("--channel", "whatsapp, sms or voice."):choices { "whatsapp", "sms", "voice" }:default "whatsapp"
  run:option("--provider", "vonage (AI Studio) or voicebot (voicebot.studio send-template; WhatsApp only).")
    :choices { "vonage", "voicebot" }:default "vonage"
  run:option("--agent-id", "Agent ID (AI Studio agent; voicebot: WhatsApp agent, a positive integer).")
  run:option("--namespace", "WhatsApp template namespace (Vonage WhatsApp).")
  run:option("--template", "Approved WhatsApp template name.")
  run:option("--locale", "Template language, e.g. en or en_US (Vonage WhatsApp).")
  run:option("--status-url", "URL that receives the message statuses (Vonage).")
  run:option("--rate", "Sessions per second for the agent: at most its rate (CONVAI_VONAGE_RATES, else 1; "
    .. "a higher --rate is lowered to it). Default: the agent's rate.")
  common.add_limits_option(run)
  run:option("--gate-voicebot-agent", "Stop at the WhatsApp business-initiated capacity of this "
    .. "voicebot.studio agent (current_limit - current_usage), reserved before each send in the store of "
    .. "--limits (CONVAI_LIMITS, else host): campaigns gated on one agent together never send more than "
    .. "the capacity last read.")
  run:option("--report", "Write one row per recipient to OUT.csv or OUT.json.")
  run:flag("--dry-run", "Check everything and show what would be sent; send and write nothing.")
  run:flag("--retry-failed", "Send again to recipients whose last outcome was failed.")
  run:flag("--allow-empty", "Run a recipients file that has a header and no rows (refused by default).")
  run:flag("--skip-invalid", "Send to the valid rows even if some rows are invalid (by default any invalid "
    .. "row stops the campaign before the first send).")
  run:flag("-v --verbose", "Print each request and response on stderr (credentials redacted).")
  run:option("--format", "Summary format: table or json."):choices { "table", "json" }:default "table"
  common.add_timeout_options(run)
end

--- Check the flags and build the sender fields; returns nil, message for a usage error.
local function check_flags(args)
  local f = { channel = args.channel, provider = args.provider }
  local err
  if (args.journal == nil) == (args.store == nil) then
    return nil, "give exactly one of --journal FILE (this machine) and --store URL (a Redis shared by the "
      .. "campaign's workers)"
  end
  if args.store ~= nil and not args.store:match("^%a[%w+.-]*://") then
    return nil, "--store must be a URL such as redis://HOST:6379/0, got a value that is not one"
  end
  f.store_timeout, err = common.positive(args.store_timeout, "store-timeout")
  if not f.store_timeout then return nil, err end
  if args.rate ~= nil then
    f.rate, err = common.positive(args.rate, "rate")
    if not f.rate then return nil, err end
  end
  f.timeout, err = common.positive(args.timeout, "timeout")
  if not f.timeout then return nil, err end
  f.connect_timeout, err = common.positive(args.connect_timeout, "connect-timeout")
  if not f.connect_timeout then return nil, err end
  if args.gate_voicebot_agent ~= nil then
    f.gate = common.agent_id(args.gate_voicebot_agent)
    if not f.gate or f.gate < 1 then
      return nil, format("--gate-voicebot-agent must be a positive integer (a voicebot.studio WhatsApp "
        .. "agent), got %q", args.gate_voicebot_agent)
    end
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
    if args.agent_id ~= nil and not common.agent_id(args.agent_id) then
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

-- The Vonage sender of each channel (`convai.campaign.senders`).
local VONAGE_SENDERS = { whatsapp = "vonage_whatsapp", sms = "vonage_sms", voice = "vonage_voice" }

-- The sender and the client it sends with, or nil and the error. The limits (`--limits`, else
-- CONVAI_LIMITS) go to the Vonage client, whose limit the campaign takes its slots from; a voicebot.studio
-- campaign has a limit of its own (`f.limits`).
local function make_sender(f, args)
  local opts = { timeout = f.timeout, connect_timeout = f.connect_timeout, retry = false,
    trace = common.trace(args) }
  local client, err, sender
  if f.provider == "voicebot" then
    local env
    env, err = config.limits()
    if not env then return nil, err end
    f.limits = f.limits or env.limits
    client, err = voicebot.from_env(opts)
    if not client then return nil, err end
    sender, err = campaign.senders.voicebot_template(client, {
      agent_id = args.agent_id and tonumber(args.agent_id), template = args.template,
    })
  else
    opts.limits = f.limits
    client, err = vonage.from_env(opts)
    if not client then return nil, err end
    local fields = { agent_id = args.agent_id, status_url = args.status_url }
    if f.channel == "whatsapp" then
      fields.namespace, fields.template, fields.locale = args.namespace, args.template, args.locale
    end
    sender, err = campaign.senders[VONAGE_SENDERS[f.channel]](client, fields)
  end
  if not sender then client:close() return nil, err end
  return sender, client
end

-- The line printed on stderr each time the store fails (`on_store_wait`), and when it answers again.
local function store_wait_line(w)
  if w.recovered then
    return format("convai: the store answers again (after %.1f s); going on\n", w.waited)
  end
  return format("convai: %s; nothing is sent meanwhile; retrying in %.1f s, giving up after %g s\n",
    tostring(type(w.error) == "table" and w.error.message or w.error), w.wait, w.timeout)
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
    common.print_json(out, value)
    return
  end
  local kinds = {}
  for k, v in pairs(s.failed_by_kind) do kinds[#kinds + 1] = format("%s %d", k, v) end
  sort(kinds)
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

-- Print the invalid rows that stopped the campaign before its first send; returns EXIT.USAGE.
local function refuse_invalid(invalid, recipients)
  for _, i in ipairs(invalid) do
    io.stderr:write(format("convai: invalid_argument: recipients line %d: %s\n", i.line,
      columns.csv_names(i.message)))
  end
  io.stderr:write(format("convai: invalid_argument: %d invalid row%s in %s; nothing was sent: fix "
    .. "them, or pass --skip-invalid to send to the valid rows\n", #invalid, #invalid == 1 and "" or "s",
    recipients))
  return EXIT.USAGE
end

-- Print what went wrong in a finished run: the failed recipients, and why it stopped early.
local function print_problems(report)
  for _, e in ipairs(report.entries) do
    if e.outcome == "failed" then
      io.stderr:write(format("convai: recipients line %d (%s): failed: %s%s: %s\n", e.line, e.to,
        tostring(e.kind), e.status and format(" (HTTP %d)", e.status) or "", tostring(e.message)))
    end
  end
  local s = report.summary
  if s.stop_error then io.stderr:write("convai: campaign stopped: ", s.stop_error, "\n") end
  if s.gate_error then io.stderr:write("convai: campaign stopped: capacity gate: ", s.gate_error, "\n") end
  if s.journal_error then
    io.stderr:write("convai: campaign stopped: journal: ", tostring(s.journal_error), "\n")
  end
end

--- Run `convai campaign run` with parsed arguments.
-- @tparam table args from argparse
-- @tparam file out where the summary goes
-- @treturn integer exit status: `EXIT.OK`, `EXIT.FAILED`, `EXIT.USAGE` or `EXIT.INTERRUPTED` (see above)
function _M.run(args, out)
  local f, ferr = check_flags(args)
  if not f then return common.usage_error(ferr) end
  local fh, oerr = io.open(args.recipients, "rb")
  if not fh then return common.usage_error(format("cannot read the recipients file: %s", tostring(oerr))) end
  local csv, read_err = fh:read("a")
  fh:close()
  if not csv then -- a directory opens, and fails to read
    return common.usage_error(format("cannot read the recipients file %s: %s (give the CSV file)",
      args.recipients, tostring(read_err)))
  end
  local parsed = campaign.parse_csv(csv)
  if parsed and #parsed.rows == 0 and not args.allow_empty then
    return common.usage_error(format("%s has a header and no recipient rows: nothing to send (pass "
      .. "--allow-empty to run it anyway)", args.recipients))
  end
  local lerr
  f.limits, lerr = common.limits(args)
  if lerr then return common.fail(lerr) end
  local sender, client = make_sender(f, args)
  if not sender then return common.fail(client) end
  local gate, gate_client
  if f.gate then
    local err
    gate_client, err = voicebot.from_env { timeout = f.timeout, connect_timeout = f.connect_timeout,
      trace = common.trace(args) }
    if not gate_client then client:close() return common.fail(err) end
    local limits = f.limits
    if limits == nil then
      local env
      env, err = config.limits()
      if not env then client:close() gate_client:close() return common.fail(err) end
      limits = env.limits
    end
    gate = campaign.voicebot_gate(gate_client, f.gate, { store = limits })
    if gate.error then client:close() gate_client:close() return common.fail(gate.error) end
  end
  local function close_all()
    client:close()
    if gate_client then gate_client:close() end
  end
  local drawn = false
  local c, err = campaign.new {
    sender = sender, gate = gate, rate = f.rate, limits = f.provider == "voicebot" and f.limits or nil,
    journal = args.journal or args.store, csv = csv, store_timeout = f.store_timeout,
    on_store_wait = function(w)
      if drawn then io.stderr:write("\r\27[K") end
      io.stderr:write(store_wait_line(w))
    end,
    retry_failed = args.retry_failed, dry_run = args.dry_run, skip_invalid = args.skip_invalid,
    progress = core.isatty(2) and function(p)
      io.stderr:write("\r\27[K", progress_line(p))
      drawn = true
    end or nil,
  }
  if not c then
    close_all()
    if type(err) == "table" and err.invalid then return refuse_invalid(err.invalid, args.recipients) end
    return common.fail(err)
  end
  for _, i in ipairs(c.invalid) do
    io.stderr:write(format("convai: recipients line %d: %s (not sent)\n", i.line,
      columns.csv_names(i.message)))
  end
  if c.rate_lowered then
    io.stderr:write(format("convai: --rate %g is above agent %s's rate (%g per second: CONVAI_VONAGE_RATES, "
      .. "else 1); sending at %g per second\n", f.rate, tostring(args.agent_id), c.rate_lowered, c.rate))
  end
  core.trap_interrupts(true)
  local report
  report, err = c:run()
  local interrupted = core.interrupted() > 0
  core.trap_interrupts(false)
  close_all()
  if drawn then io.stderr:write("\n") end
  if not report then
    if args.store ~= nil and type(err) == "table" then
      local msg = "--store: " .. tostring(err.message)
      if err.kind == "invalid_argument" then return common.usage_error(msg) end
      return common.fail(msg, EXIT.USAGE, err.kind)
    end
    return common.fail(err, EXIT.USAGE)
  end
  if args.report then
    local ok, rerr = campaign.write_report(report, args.report)
    if not ok then io.stderr:write("convai: ", rerr, "\n") end
  end
  print_problems(report)
  print_summary(out, report, args.format)
  local s = report.summary
  if interrupted or s.stopped == "interrupted" then return EXIT.INTERRUPTED end
  if args.dry_run then return EXIT.OK end
  if s.sent == s.recipients and s.invalid == 0 then return EXIT.OK end
  return EXIT.FAILED
end

return _M
