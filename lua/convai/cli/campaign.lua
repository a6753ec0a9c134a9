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
-- The same --journal (or --store) takes an amended CSV: fixed and added rows are sent, nobody already sent
-- or unknown is sent again, rows gone from the CSV are reported `removed`; the journal belongs to the
-- campaign's parameters, and another --template (--agent-id, ...) is refused naming it. --report is
-- checked before the first send and kept current during the run (a killed run leaves a valid one);
-- --dry-run writes nothing (with --verbose it prints each body it would send). Repeated 429s lower the
-- pace (a warning once on stderr).
--
-- Exit status: 0 every valid recipient is sent (or, with `--dry-run`, everything checked); 1 some recipient
-- is not sent (failed, unknown, invalid, or left pending by the gate) or the journal or the report could
-- not be written, or the store failed mid-run; 2 invalid arguments or an unusable recipients file,
-- journal, report path or store (nothing sent; a dry run exits the same); 130 interrupted (Ctrl-C:
-- in-flight requests finished, journal consistent).
--
-- @module convai.cli.campaign
local core = require "convai.core"
local config = require "convai.config"
local campaign = require "convai.campaign"
local voicebot = require "convai.voicebot"
local vonage = require "convai.vonage"
local common = require "convai.cli.common"
local delivery = require "convai.campaign.delivery"
local html = require "convai.campaign.html"
local campaign_report = require "convai.campaign.report"

local format, concat, sort = string.format, table.concat, table.sort
local type, tostring, tonumber, ipairs, pairs, next = type, tostring, tonumber, ipairs, pairs, next

local EXIT = common.EXIT

local _M = {}

-- The campaign's parameters (its identity in the journal): of `run`, and of `report --store`.
local function add_parameters(cmd)
  cmd:option("--channel", "whatsapp, sms or voice."):choices { "whatsapp", "sms", "voice" }:default "whatsapp"
  cmd:option("--provider", "vonage (AI Studio) or voicebot (voicebot.studio send-template; WhatsApp only).")
    :choices { "vonage", "voicebot" }:default "vonage"
  cmd:option("--agent-id", "Agent ID (AI Studio agent; voicebot: WhatsApp agent, a positive integer).")
  cmd:option("--namespace", "WhatsApp template namespace (Vonage WhatsApp).")
  cmd:option("--template", "Approved WhatsApp template name.")
  cmd:option("--locale", "Template language, e.g. en or en_US (Vonage WhatsApp).")
end

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
  add_parameters(run)
  run:option("--status-url", "URL that receives the message statuses (Vonage; default $CONVAI_STATUS_URL, "
    .. "which `convai receive start` prints).")
  run:option("--rate", "Sessions per second for the agent: at most its rate (CONVAI_VONAGE_RATES, else 1; "
    .. "a higher --rate is lowered to it). Default: the agent's rate.")
  common.add_limits_option(run)
  run:option("--gate-voicebot-agent", "Stop at the WhatsApp business-initiated capacity of this "
    .. "voicebot.studio agent (current_limit - current_usage), reserved before each send in the store of "
    .. "--limits (CONVAI_LIMITS, else host): campaigns gated on one agent together never send more than "
    .. "the capacity last read.")
  run:option("--report", "Write one row per recipient to OUT.csv or OUT.json (checked before the first "
    .. "send, kept current during the run; at the end joined with the statuses received, see --statuses).")
  run:option("--statuses", "Status store joined to the final report and summary: a JSON-lines FILE or "
    .. "redis://... (default: the one convai receive keeps by default, when it exists).")
  run:flag("--dry-run", "Check everything (journal and report paths too) and show what would be sent "
    .. "(each body with --verbose); send and write nothing.")
  run:flag("--retry-failed", "Send again to recipients whose last outcome was failed.")
  run:flag("--resend-unknown", "Send again to recipients whose outcome is unknown (the request may have "
    .. "reached the vendor): only after checking with the vendor that they got nothing (--journal only; "
    .. "see convai campaign reconcile).")
  run:flag("--allow-empty", "Run a recipients file that has a header and no rows (refused by default).")
  run:flag("--skip-invalid", "Send to the valid rows even if some rows are invalid (by default any invalid "
    .. "row stops the campaign before the first send).")
  run:flag("-v --verbose", "Print each request and response on stderr (credentials redacted).")
  run:option("--format", "Summary format: table or json."):choices { "table", "json" }:default "table"
  common.add_timeout_options(run)
  _M.define_report(c)
end

--- Add `campaign report` and `campaign reconcile` to the `campaign` group (docs/statuses.md).
-- @param c the `campaign` argparse command
function _M.define_report(c)
  local report = c:command("report", "The report of a campaign from its journal, joined with the message "
    .. "statuses received (convai receive): one row per recipient, with its delivery.")
  report:option("--journal", "The campaign's journal file (or --store).")
  report:option("--store", "The Redis of a campaign run with --store (redis://...): the campaign is found "
    .. "by its parameters, the --provider, --channel, --agent-id, --namespace, --template and --locale of "
    .. "its run.")
  add_parameters(report)
  report:option("--statuses", "Status store: a JSON-lines FILE or redis://... (default: the one convai "
    .. "receive keeps by default, when it exists).")
  report:option("--format", "table, csv or json."):choices { "table", "csv", "json" }:default "table"
  report:option("--html", "Also write a self-contained HTML page (summary and a chart of sends and "
    .. "deliveries over time) to this file.")
  local reconcile = c:command("reconcile", "Record as sent, in the journal, the unknown recipients for whom "
    .. "a status arrived; list the unknowns left.")
  reconcile:option("--journal", "The campaign's journal file."):count(1)
  reconcile:option("--statuses", "Status store: a JSON-lines FILE or redis://... (default as for report).")
end

-- The status store of `run`/`report`/`reconcile`: --statuses, else the default file of `convai receive`.
local function statuses_of(args)
  if args.statuses ~= nil then return args.statuses end
  local file = config.statuses_file()
  if file and io.open(file, "r") then return file end
  return nil
end

--- Check the flags and build the sender fields; returns nil, message for a usage error.
local function check_flags(args)
  local f = { channel = args.channel, provider = args.provider }
  local err
  if args.status_url == nil and f.provider == "vonage" and (os.getenv("CONVAI_STATUS_URL") or "") ~= "" then
    args.status_url = os.getenv("CONVAI_STATUS_URL") -- the default of --status-url
  end
  if (args.journal == nil) == (args.store == nil) then
    return nil, "give exactly one of --journal FILE (this machine) and --store URL (a Redis shared by the "
      .. "campaign's workers)"
  end
  if args.store ~= nil and not args.store:match("^%a[%w+.-]*://") then
    return nil, "--store must be a URL such as redis://HOST:6379/0, got a value that is not one"
  end
  if args.resend_unknown and args.store ~= nil then
    return nil, "--resend-unknown works with --journal only (a --store campaign never sends an unknown again)"
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
  local e = type(w.error) == "table" and w.error or { message = tostring(w.error) }
  return common.error_line({ kind = e.kind or "store", message = format("%s; nothing is sent meanwhile; "
    .. "retrying in %.1f s, giving up after %g s", tostring(e.message), w.wait, w.timeout) }) .. "\n"
end

local function progress_line(p)
  local eta = p.eta and format("%ds", math.floor(p.eta + 0.5)) or "-"
  return format("%d/%d done  sent %d  failed %d  429s %d  %.2f/s  ETA %s", p.done, p.total, p.sent, p.failed,
    p.throttled, p.rate, eta)
end

-- The summary table's rows: the campaign's totals (every run of it), then this run's, labelled.
local function summary_rows(s, kinds)
  local rows = {
    { "stopped", s.stopped },
    { "recipients", s.recipients },
    { "sent (campaign)", s.sent },
    { "failed (campaign)", s.failed .. (#kinds > 0 and " (" .. concat(kinds, ", ") .. ")" or "") },
    { "unknown (campaign)", s.unknown },
    { "pending", s.pending },
    { "invalid", s.invalid },
    { "duplicates", s.duplicates },
  }
  if (s.removed or 0) > 0 then rows[#rows + 1] = { "removed", s.removed } end
  for _, r in ipairs {
    { "sent (this run)", s.sent_now },
    { "429s (this run)", s.throttled },
    { "elapsed (this run)", format("%.1f s", s.elapsed) },
    { "rate (this run)", format("%.2f per second", s.rate) },
  } do rows[#rows + 1] = r end
  if s.pace then rows[#rows + 1] = { "pace lowered to", format("%.2f per second", s.pace) } end
  if s.delivered_rate then -- joined with the statuses received (--statuses)
    rows[#rows + 1] = { "delivery (so far)", format("delivered %d, read %d, rejected %d, undeliverable %d, "
      .. "no status %d", s.delivered, s.read, s.rejected, s.undeliverable, s.no_status) }
    if s.reconciled > 0 then rows[#rows + 1] = { "reconciled", s.reconciled } end
  end
  return rows
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
  local rows = summary_rows(s, kinds)
  if s.would_send then rows[#rows + 1] = { "would send", s.would_send } end
  if s.capacity then rows[#rows + 1] = { "capacity (last read)", s.capacity } end
  if s.gate_error then rows[#rows + 1] = { "gate error", s.gate_error } end
  if s.journal_error then rows[#rows + 1] = { "journal error", s.journal_error } end
  if s.stop_error then rows[#rows + 1] = { "stopped by", s.stop_error } end
  if s.report_error then rows[#rows + 1] = { "report error", s.report_error } end
  for _, r in ipairs(rows) do out:write(format("%-22s %s\n", r[1], tostring(r[2]))) end
end

-- Print the invalid rows that stopped the campaign before its first send; returns EXIT.USAGE.
local function refuse_invalid(invalid, recipients)
  for _, i in ipairs(invalid) do common.say(format("recipients line %d: %s", i.line, i.message)) end
  return common.fail(format("%d invalid row%s in %s; nothing was sent: fix them, or pass --skip-invalid to "
    .. "send to the valid rows", #invalid, #invalid == 1 and "" or "s", recipients), EXIT.USAGE)
end

-- "KIND: MESSAGE" (the summary's stop_error and gate_error) as an error line: `convai: KIND: campaign
-- stopped: WHAT MESSAGE`.
local function say_stopped(text, what)
  local kind, msg = tostring(text):match("^([%w_]+): (.*)$")
  common.say({ kind = kind or "unknown", message = "campaign stopped: " .. what .. (msg or tostring(text)) })
end

-- Print what went wrong in a finished run: the failed recipients, and why it stopped early.
local function print_problems(report)
  for _, e in ipairs(report.entries) do
    if e.outcome == "failed" then
      common.say { kind = e.kind, status = e.status,
        message = format("recipients line %d (%s): failed: %s", e.line, e.to, tostring(e.message)) }
    end
  end
  local s = report.summary
  if s.stop_error then say_stopped(s.stop_error, "") end
  if s.gate_error then say_stopped(s.gate_error, "capacity gate: ") end
  if s.journal_error then common.say("campaign stopped: " .. tostring(s.journal_error), "journal") end
  -- A report file that could not be (re)written: the campaign's own files, as the journal.
  if s.report_error then common.say(tostring(s.report_error), "journal") end
  if s.statuses_error then
    common.say("the report has no delivery: " .. tostring(s.statuses_error), "store")
  end
end

-- A journal of another campaign, said in the command's terms: the flag that differs and its two values.
local function another_campaign(err, args)
  local flag = "--" .. tostring(err.parameter):gsub("_", "-")
  local function shown(v) return v == nil and "not set" or tostring(v) end
  return format("%s is %s in the journal but %s now; use the same %s, or another %s for a new campaign",
    flag, shown(err.journal_value), shown(err.value), flag, args.store and "--store" or "--journal")
end

-- --dry-run --verbose: each body that would be sent (bodies hold no credential; no header is printed).
local function print_bodies(report)
  for _, r in ipairs(report.queue or {}) do
    local body = core.json_encode(r.request) or "?"
    io.stderr:write(format("convai: dry run: line %d (%s) would send %s\n", r.line, r.to, body))
  end
end

-- The joined report of `report`/`reconcile`: a --journal file, or (report) a --store campaign found by its
-- parameters; nil and the exit status after a message.
local function joined(args)
  if (args.journal == nil) == (args.store == nil) then
    return nil, common.usage_error("give exactly one of --journal FILE and --store URL (with the campaign's "
      .. "parameters: --provider, --channel, --agent-id, --namespace, --template, --locale)")
  end
  local fingerprint
  if args.store ~= nil then
    local voicebot_id = args.provider == "voicebot" and args.agent_id and tonumber(args.agent_id)
    local ferr
    fingerprint, ferr = campaign.senders.fingerprint(args.provider, args.channel, {
      agent_id = voicebot_id or args.agent_id, namespace = args.namespace, template = args.template,
      locale = args.locale })
    if not fingerprint then return nil, common.fail(ferr) end
  end
  local rep, err = delivery.report { journal = args.journal or args.store, fingerprint = fingerprint,
    statuses = statuses_of(args) }
  if not rep then
    if type(err) == "table" and err.kind == "invalid_argument" then
      return nil, common.usage_error(err.message)
    end
    return nil, common.fail(err, EXIT.USAGE)
  end
  return rep
end

-- Print the table of a joined report: the recipients, then the summary.
local function print_joined(out, rep)
  out:write(format("%-5s %-16s %-8s %-14s %-20s %s\n", "line", "to", "outcome", "delivery", "delivery_at",
    "message"))
  for _, e in ipairs(rep.entries) do
    out:write(format("%-5s %-16s %-8s %-14s %-20s %s\n", tostring(e.line), tostring(e.to), e.outcome,
      e.delivery or "-", e.delivery_at or "-", e.message or e.delivery_error or ""))
  end
  out:write("\n")
  local s = rep.summary
  for _, k in ipairs { "recipients", "sent", "failed", "unknown", "pending", "reconciled", "submitted",
    "delivered", "read", "rejected", "undeliverable", "no_status" } do
    out:write(format("%-22s %s\n", (k:gsub("_", "-")), tostring(s[k])))
  end
  out:write(format("%-22s %.1f%%\n%-22s %.1f%%\n", "delivered rate", s.delivered_rate * 100, "read rate",
    s.read_rate * 100))
end

-- What to do about the unknowns left, on stderr.
local function advise_unknown(list)
  if #list == 0 then return end
  io.stderr:write(format("convai: %d recipient%s unknown (the request may or may not have reached the "
    .. "vendor, and no status arrived):\n", #list, #list == 1 and " is" or "s are"))
  for _, e in ipairs(list) do io.stderr:write(format("  line %s: %s\n", tostring(e.line), tostring(e.to))) end
  io.stderr:write("convai: ask the vendor whether they got a message; once you have checked that they did "
    .. "not, `convai campaign run ... --resend-unknown` is the only way to send to them again\n")
end

--- Run `convai campaign report` with parsed arguments.
-- @tparam table args from argparse
-- @tparam file out where the report goes
-- @treturn integer exit status: `EXIT.OK`; `EXIT.USAGE` (the journal or status store unusable, a bad
--   argument); `EXIT.FAILED` the HTML page could not be written
function _M.report(args, out)
  local rep, code = joined(args)
  if not rep then return code end
  if args.format == "table" then
    print_joined(out, rep)
  else
    local text, err = campaign_report.text(rep, args.format)
    if not text then return common.fail(err) end
    out:write(text, args.format == "json" and "\n" or "")
  end
  if args.html then
    local page, err = html.page(rep)
    local f
    if page then f, err = io.open(args.html, "wb") end
    if not f then return common.fail("cannot write the HTML report: " .. tostring(err)) end
    f:write(page)
    f:close()
  end
  return EXIT.OK
end

--- Run `convai campaign reconcile` with parsed arguments.
-- @tparam table args from argparse
-- @tparam file out where the counts go
-- @treturn integer exit status: `EXIT.OK` no unknown left; `EXIT.FAILED` some unknowns are left, or the
--   journal could not be written (in use by a run); `EXIT.USAGE` an unusable journal or status store
function _M.reconcile(args, out)
  local ok, rerr = delivery.reconcilable(args.journal)
  if not ok then return common.usage_error(rerr.message) end
  local rep, code = joined(args)
  if not rep then return code end
  local done, err = delivery.reconcile(args.journal, rep)
  if not done then return common.fail(err) end
  out:write(format("reconciled %d\nunknown    %d\n", done.reconciled, #done.unknown))
  advise_unknown(done.unknown)
  return #done.unknown == 0 and EXIT.OK or EXIT.FAILED
end

--- Run `convai campaign run` with parsed arguments.
-- @tparam table args from argparse
-- @tparam file out where the summary goes
-- @treturn integer exit status: `EXIT.OK`, `EXIT.FAILED`, `EXIT.USAGE` or `EXIT.INTERRUPTED` (see above)
function _M.run(args, out)
  if args.target ~= "run" then return _M[args.target](args, out) end -- report, reconcile
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
  local function say(line)
    if drawn then io.stderr:write("\r\27[K") end
    io.stderr:write(line)
  end
  local c, err = campaign.new {
    sender = sender, gate = gate, rate = f.rate, limits = f.provider == "voicebot" and f.limits or nil,
    journal = args.journal or args.store, csv = csv, store_timeout = f.store_timeout,
    on_store_wait = function(w) say(store_wait_line(w)) end,
    on_warning = function(text) say("convai: " .. text .. "\n") end,
    report = args.report, -- checked before the first send; a dry run writes nothing
    statuses = statuses_of(args), -- joined to the final report
    retry_failed = args.retry_failed, resend_unknown = args.resend_unknown, dry_run = args.dry_run,
    skip_invalid = args.skip_invalid,
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
    common.say(format("recipients line %d: %s (not sent)", i.line, i.message))
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
    if type(err) == "table" and err.parameter then
      return common.fail(another_campaign(err, args), EXIT.USAGE)
    end
    if args.store ~= nil and type(err) == "table" then
      local msg = "--store: " .. tostring(err.message)
      if err.kind == "invalid_argument" then return common.usage_error(msg) end
      return common.fail(msg, EXIT.USAGE, err.kind)
    end
    return common.fail(err, EXIT.USAGE)
  end
  if args.verbose and args.dry_run then print_bodies(report) end
  print_problems(report)
  print_summary(out, report, args.format)
  local s = report.summary
  if interrupted or s.stopped == "interrupted" then return EXIT.INTERRUPTED end
  if args.dry_run then return EXIT.OK end
  if s.report_error then return EXIT.FAILED end
  if s.sent == s.recipients and s.invalid == 0 then return EXIT.OK end
  return EXIT.FAILED
end

return _M
