-- The "Bad input" tables of docs/errors.md, row by row: for every user-facing input (CLI flags,
-- the environment the CLI reads, the Lua arguments), each bad value gives a clear message saying what is
-- wrong; from the CLI exit status 2 and nothing on stdout; nothing sent (the sandbox log stays empty)
-- and nothing written (the case's scratch directory, which holds CONVAI_SANDBOX_DIR, is unchanged).
--
-- Adding a row: append to CLI_ROWS or LUA_ROWS below, and add a row to docs/errors.md whose first cell is the
-- same `input` in backticks (the last test checks that the two lists match).
--
--  * CLI_ROWS: `{ input = "...", cli = function(value, tmp) return argv, env end, cases = {...} }`.
--    `tmp` is a fresh scratch directory: write input files there (a CSV, say) and point every output
--    (journal, report) into it; nothing may be added to it by the run. `env` (optional) overrides the
--    sandbox environment (use "" to unset a variable). `commands = API` runs the row once per API command
--    (`cli` then gets the command's base argv as a third argument). Helpers: `flag(base, "--x")` sets,
--    replaces or (with NIL) drops a flag of `base`; `env_of(base, "VAR")` sets a variable.
--  * LUA_ROWS: `{ input = "...", call = function(value) return result, err end, cases = {...} }`.
--  * cases: `{ value, message }`: `message` must appear verbatim in the error (`NIL` stands for nil or a
--    missing flag); an optional third field shows the value in failure messages.
local helper = require "helper"
local voicebot = require "convai.voicebot"
local avaamo = require "convai.avaamo"
local vonage = require "convai.vonage"

local NIL = setmetatable({}, { __tostring = function() return "(missing)" end })
local function v_or_nil(v) if v == NIL then return nil end return v end

local VB_URL, AV_URL, VG_URL = helper.env("CONVAI_VOICEBOT_URL"), helper.env("CONVAI_AVAAMO_URL"),
  helper.env("CONVAI_VONAGE_URL")
local VB_TOKEN, AV_TOKEN, VG_KEY = helper.env("CONVAI_VOICEBOT_TOKEN"), helper.env("CONVAI_AVAAMO_TOKEN"),
  helper.env("CONVAI_VONAGE_KEY")

-- Base command lines (valid as they are).
local VB = { "usage", "voicebot", "--agent-id", "3" }
local AV = { "usage", "avaamo", "--agent-id", "20123", "--from", "10/04/2020", "--to", "13/04/2020" }
local WA = { "trigger", "whatsapp", "--agent-id", "bad-input", "--namespace", "ns", "--template", "order_update",
  "--locale", "en", "--to", "+44 7700 900123", "--status-url", "https://example.com/s" }
local SB = { "sandbox", "start", "--port", "0" }
local API = { VB, AV, WA }

--- `base` with `name` set to `value` (replacing it if present; NIL removes it).
local function with_flag(base, name, value)
  local t, found = {}, false
  local i = 1
  while i <= #base do
    if base[i] == name then
      found = true
      if value ~= NIL then
        t[#t + 1] = name
        t[#t + 1] = value
      end
      i = i + 2
    else
      t[#t + 1] = base[i]
      i = i + 1
    end
  end
  if not found and value ~= NIL then
    t[#t + 1] = name
    t[#t + 1] = value
  end
  return t
end

local function flag(base, name)
  return function(v, _, cmd) return with_flag(cmd or base, name, v) end
end

local function env_of(base, name)
  return function(v) return base, { [name] = v } end
end

local function append(base, ...)
  local t = {}
  for i, a in ipairs(base) do t[i] = a end
  for _, a in ipairs { ... } do t[#t + 1] = a end
  return t
end

local POSITIVE_SECONDS = " must be a positive number of seconds"
local BAD_DATE = " is not a date: write yyyy-mm-dd or dd/mm/yyyy (e.g. 2024-01-31 or 31/01/2024)"
local BAD_OFFSET = "utc_offset must be an integer number of seconds from -43200 to 50400 (e.g. 19800 for UTC+05:30) "
  .. "or +HH:MM / -HH:MM (e.g. +05:30, -07:00), got "

-- campaign run: a recipients CSV written into the row's scratch directory, the journal there too.
local GOOD_CSV = "to,header.1,body.1,session.order\n+44 7700 900123,Ann,A-1,A-1\n"
local function campaign_cli(csv_text, edit)
  return function(v, tmp)
    local csv = tmp .. "/recipients.csv"
    local f = assert(io.open(csv, "wb"))
    f:write(type(csv_text) == "function" and csv_text(v) or csv_text)
    f:close()
    local args = { "campaign", "run", csv, "--journal", tmp .. "/campaign.journal", "--agent-id", "bad-input-camp",
      "--namespace", "ns", "--template", "order_update", "--locale", "en", "--status-url", "https://example.com/s" }
    if edit then args = edit(args, v, tmp) end
    return args
  end
end
local function campaign_flag(name)
  return campaign_cli(GOOD_CSV, function(args, v) return with_flag(args, name, v) end)
end
local function csv_with(header, row)
  return function(v) return header .. "\n" .. row:gsub("VALUE", function() return v end) .. "\n" end
end

-- --profile acme: the profiles file (JSON text `v`) written into the row's scratch directory, which is
-- XDG_CONFIG_HOME, with `mode` (default 600).
local function profile_cli(mode)
  return function(v, tmp)
    os.execute("mkdir -p '" .. tmp .. "/convai'")
    local path = tmp .. "/convai/config.json"
    local f = assert(io.open(path, "wb"))
    f:write(v)
    f:close()
    assert(os.execute("chmod " .. (mode or "600") .. " '" .. path .. "'"))
    return { "--profile", "acme", "usage", "voicebot" }, { XDG_CONFIG_HOME = tmp, CONVAI_PROFILE = false }
  end
end
local function acme(fields) return '{"profiles": {"acme": {' .. fields .. '}}}' end

local CLI_ROWS = {
  -- usage voicebot
  { input = "usage voicebot --agent-id", cli = flag(VB, "--agent-id"), cases = {
    { "x1", 'agent_id must be a positive integer, got "x1"' },
    { "0", 'agent_id must be a positive integer, got "0"' },
    { "99999999999999999999", 'agent_id must be a positive integer, got "99999999999999999999"' },
    { "-3", 'agent_id must be a positive integer, got "-3"' },
    { "1.5", 'agent_id must be a positive integer, got "1.5"' },
    { "1/../../x", 'agent_id must be a positive integer, got "1/../../x"' },
  } },
  { input = "CONVAI_VOICEBOT_URL", cli = env_of(VB, "CONVAI_VOICEBOT_URL"), cases = {
    { "", "base_url (CONVAI_VOICEBOT_URL) is required (an http:// or https:// URL)" },
    { "ftp://x/v1", "base_url (CONVAI_VOICEBOT_URL) must be an http:// or https:// URL without spaces" },
    { "http://x/v1?a=1", "base_url (CONVAI_VOICEBOT_URL) must not contain a query (?) or a fragment (#)" },
    { "http://u:p@x/v1", "base_url (CONVAI_VOICEBOT_URL) must not contain user:password@" },
  } },
  { input = "CONVAI_VOICEBOT_TOKEN", cli = env_of(VB, "CONVAI_VOICEBOT_TOKEN"), cases = {
    { "", "token is required: a non-empty string (set CONVAI_VOICEBOT_TOKEN)" },
    { "a b", "token contains a space or a control character (CR, LF, NUL...)" },
    { "tok\r\n", "token contains a space or a control character (CR, LF, NUL...)" },
  } },
  -- profiles (docs/profiles.md)
  { input = "--profile (config.json fields)", cli = profile_cli(), cases = {
    { acme('"voicebot_url": "ftp://x/v1"'), "profile acme: voicebot_url must be an http:// or https:// URL" },
    { acme('"avaamo_token": 5'), "profile acme: avaamo_token must be a non-empty string, got number" },
    { acme('"vonage_region": "asia"'), 'profile acme: vonage_region must be "eu" or "us" (the agent\'s region)' },
    { acme('"limits": "a b"'), "profile acme: limits must be host (this machine's processes share the limit)" },
    { acme('"vonage_rates": {"a": "x"}'), "profile acme: vonage_rates must map agents to positive numbers" },
    { acme('"vonage_rates": "a=0"'), "profile acme: vonage_rates must be AGENT=RATE pairs" },
    { acme('"vonage_key_env": "1BAD"'), 'profile acme: vonage_key_env must name an environment variable' },
    { acme('"vonage_key": "k", "vonage_key_env": "K"'), "profile acme: give vonage_key or vonage_key_env, not both" },
    { acme('"tokn": "x"'), 'profile acme: unknown field "tokn" in ' },
  } },
  { input = "--profile (config.json)", cli = profile_cli(), cases = {
    { '{"profiles": {"other": {}}}', 'no profile "acme" in ' },
    { '{"acme": {}}', 'must hold {"profiles": {"NAME": {...}}}: no "profiles" object' },
    { "{not json", " is not a JSON object: " },
  } },
  { input = "--profile (config.json readable by others)", cli = profile_cli("644"), cases = {
    { acme('"voicebot_token": "t"'), "holds a credential (profile acme: voicebot_token) and group or others may "
      .. "read it (mode 0644): chmod 600 " },
  } },
  { input = "--profile (a credential)", cli = function(v, tmp)
      local args, env = profile_cli()(v, tmp)
      env.CONVAI_VOICEBOT_TOKEN, env.CONVAI_VOICEBOT_URL = false, false -- the profile's, not the sandbox's
      return args, env
    end, cases = {
    { acme('"voicebot_url": "http://127.0.0.1:9/x", "voicebot_token": "Bearer xxx"'),
      "profile acme: voicebot_token starts with 'Bearer ': drop the prefix and give the token alone" },
  } },
  -- usage avaamo
  { input = "usage avaamo --agent-id", cli = flag(AV, "--agent-id"), cases = {
    { NIL, "missing option '--agent-id'" },
    { "x", 'agent_id must be a positive integer (from the agent URL), got "x"' },
    { "0", 'agent_id must be a positive integer (from the agent URL), got "0"' },
    { "1/../../x", 'agent_id must be a positive integer (from the agent URL), got "1/../../x"' },
  } },
  { input = "usage avaamo --from", cli = flag(AV, "--from"), cases = {
    { "31/02/2024", 'from_date: "31/02/2024" is not a calendar date (expected dd/mm/yyyy)' },
    { "2024-02-30", 'from_date: "2024-02-30" is not a calendar date' },
    { "10/04/2020&x=1", 'from_date: "10/04/2020&x=1"' .. BAD_DATE },
    { "2024-1-31", 'from_date: "2024-1-31"' .. BAD_DATE },
  } },
  { input = "usage avaamo --to", cli = flag(AV, "--to"), cases = {
    { "00/04/2020", 'to_date: "00/04/2020" is not a calendar date (expected dd/mm/yyyy)' },
    { "1/4/2020", 'to_date: "1/4/2020"' .. BAD_DATE },
    { "09/04/2020", "To Date cannot be before From Date" },
  } },
  { input = "usage avaamo --utc-offset", cli = flag(AV, "--utc-offset"), cases = {
    { "99999", "utc_offset must be an integer number of seconds from -43200 to 50400" },
    { "-50000", "utc_offset must be an integer number of seconds from -43200 to 50400" },
    { "1.5", "utc_offset must be an integer number of seconds from -43200 to 50400" },
    { "UTC+1", BAD_OFFSET .. '"UTC+1"' },
    { "+15:00", BAD_OFFSET .. '"+15:00"' },
    { "+05:3", BAD_OFFSET .. '"+05:3"' },
  } },
  { input = "usage avaamo --last", cli = flag(with_flag(AV, "--from", NIL), "--last"), cases = {
    { "0d", 'last must be a number of days, weeks or months ending today, e.g. 7d, 4w or 3m, got "0d"' },
    { "7y", 'last must be a number of days, weeks or months ending today, e.g. 7d, 4w or 3m, got "7y"' },
    { "13m", "spans" },
  } },
  { input = "usage avaamo --last --from", cli = flag(AV, "--last"), cases = {
    { "7d", "--last counts back from --to (today by default): give --last or --from, not both" },
  } },
  { input = "usage avaamo --chart --format json", cli = function() return append(AV, "--chart", "--format", "json") end,
    cases = {
      { "", "--chart draws in the terminal instead of the table; it cannot be combined with --format json" },
    } },
  { input = "usage avaamo --svg", cli = flag(AV, "--svg"), cases = {
    { "/nonexistent-dir/chart.svg", "--svg: cannot write /nonexistent-dir/chart.svg: No such file or directory" },
  } },
  { input = "CONVAI_AVAAMO_URL", cli = env_of(AV, "CONVAI_AVAAMO_URL"), cases = {
    { "cx.avaamo.com", "base_url (CONVAI_AVAAMO_URL) must be an http:// or https:// URL without spaces" },
    { "https://cx.avaamo.com/#x", "base_url (CONVAI_AVAAMO_URL) must not contain a query (?) or a fragment (#)" },
  } },
  { input = "CONVAI_AVAAMO_TOKEN", cli = env_of(AV, "CONVAI_AVAAMO_TOKEN"), cases = {
    { "", "access_token is required: a non-empty string (set CONVAI_AVAAMO_TOKEN)" },
    { "tok\n", "access_token contains a space or a control character" },
  } },
  -- trigger whatsapp
  { input = "trigger whatsapp --agent-id", cli = flag(WA, "--agent-id"), cases = {
    { NIL, "missing option '--agent-id'" },
    { "1/../../x", "agent_id must contain only letters, digits, '-' and '_'" },
    { "a b", "agent_id must not contain spaces or control characters" },
  } },
  { input = "trigger whatsapp --namespace", cli = flag(WA, "--namespace"), cases = {
    { NIL, "missing option '--namespace'" },
    { "", "namespace is required (the WhatsApp template namespace)" },
    { "n s", "namespace must not contain spaces or control characters" },
  } },
  { input = "trigger whatsapp --template", cli = flag(WA, "--template"), cases = {
    { NIL, "missing option '--template'" },
    { "Order_Update", 'template "Order_Update" is not a WhatsApp template name (lowercase letters, digits and _ only)' },
    { "order update", "template must not contain spaces or control characters" },
  } },
  { input = "trigger whatsapp --locale", cli = flag(WA, "--locale"), cases = {
    { NIL, "missing option '--locale'" },
    { "english", 'locale "english" is not a WhatsApp language code (e.g. en, en_US, pt_BR)' },
    { "en-GB", 'locale "en-GB" is not a WhatsApp language code' },
  } },
  { input = "trigger whatsapp --to", cli = flag(WA, "--to"), cases = {
    { NIL, "missing option '--to'" },
    { "12", "to: phone number must have 8 to 15 digits including the country code, got 2" },
    { "+44 7700 900123 4567", "to: phone number must have 8 to 15 digits including the country code, got 16" },
    { "call me", "to: phone number contains the letter 'c'" },
  } },
  { input = "trigger whatsapp --status-url", cli = flag(WA, "--status-url"), cases = {
    { NIL, "missing option '--status-url'" },
    { "ftp://example.com/s", "status_url must be an http:// or https:// URL without spaces" },
    { "example.com/s", "status_url must be an http:// or https:// URL without spaces" },
  } },
  { input = "trigger whatsapp --header-param", cli = flag(WA, "--header-param"), cases = {
    { string.rep("x", 61), "components.header[1] is 61 characters long; WhatsApp allows at most 60 in a header "
      .. "parameter", "61 characters" },
    { "a\tb", "components.header[1] must not contain line breaks or tabs" },
    { "", "components.header[1] must be a non-empty string" },
  } },
  { input = "trigger whatsapp --body-param", cli = flag(WA, "--body-param"), cases = {
    { string.rep("y", 1025), "components.body[1] is 1025 characters long; WhatsApp allows at most 1024 in a body "
      .. "parameter", "1025 characters" },
    { "line\nbreak", "components.body[1] must not contain line breaks or tabs" },
  } },
  { input = "trigger whatsapp --session-param", cli = flag(WA, "--session-param"), cases = {
    { "novalue", '--session-param must be NAME=VALUE, got "novalue"' },
    { "=v", '--session-param must be NAME=VALUE, got "=v"' },
  } },
  { input = "CONVAI_VONAGE_URL, CONVAI_VONAGE_REGION", cli = function(v)
    return WA, { CONVAI_VONAGE_URL = v[1], CONVAI_VONAGE_REGION = v[2] }
  end, cases = {
    { { "", "" }, 'give region ("eu" or "us", the agent\'s region) or base_url (set CONVAI_VONAGE_REGION or '
      .. "CONVAI_VONAGE_URL)", "both unset" },
    { { "", "ap" }, 'region must be "eu" or "us", got "ap"', "region ap" },
    { { "studio-api-eu.ai.vonage.com", "" }, "base_url (CONVAI_VONAGE_URL) must be an http:// or https:// URL",
      "URL without scheme" },
  } },
  { input = "trigger whatsapp --limits", cli = flag(WA, "--limits"), cases = {
    { "proces", '--limits: unknown limit store "proces" (known: ' },
    { "a b", "--limits must be host (this machine's processes share the limit), process (this process only) or a "
      .. 'store URL such as redis://HOST:6379/0, got "a b"' },
    { "memcached://u:pw@h:1", "--limits: unknown limit store scheme memcached:// (known: " },
  } },
  { input = "CONVAI_LIMITS", cli = env_of(WA, "CONVAI_LIMITS"), cases = {
    { "hosst", 'CONVAI_LIMITS: unknown limit store "hosst" (known: ' },
    { "redis:/h", "CONVAI_LIMITS must be host (this machine's processes share the limit), process (this process "
      .. "only) or a store URL such as redis://HOST:6379/0, got a value that is not a URL (SCHEME://...)" },
    { "memcached://u:pw@h:1", "CONVAI_LIMITS: unknown limit store scheme memcached:// (known: " },
  } },
  { input = "CONVAI_VONAGE_RATES", cli = env_of(WA, "CONVAI_VONAGE_RATES"), cases = {
    { "bad-input=fast", "CONVAI_VONAGE_RATES must be AGENT=RATE pairs separated by commas, each rate a positive "
      .. 'number of sessions per second (e.g. agent=5,other=3), got "bad-input=fast"' },
    { "a=0", 'CONVAI_VONAGE_RATES must be AGENT=RATE pairs separated by commas, each rate a positive number of '
      .. 'sessions per second (e.g. agent=5,other=3), got "a=0"' },
    { "a:5", 'got "a:5"' },
    { "a=5,,b=3", 'got ""' },
  } },
  { input = "XDG_STATE_HOME (the host limit store)", cli = function(v, tmp)
    if v == "under a file" then
      assert(io.open(tmp .. "/file", "w")):close()
      return WA, { XDG_STATE_HOME = tmp .. "/file" }
    end
    os.execute("mkdir -p '" .. tmp .. "/s/convai/limits' && chmod 777 '" .. tmp .. "/s/convai/limits'")
    return WA, { XDG_STATE_HOME = tmp .. "/s" }
  end, cases = {
    { "under a file", "the host limit store cannot use its directory: cannot create directory '" },
    { "writable by others", "/s/convai/limits' is writable by group or others: chmod go-w '" },
  } },
  { input = "CONVAI_VONAGE_KEY", cli = env_of(WA, "CONVAI_VONAGE_KEY"), cases = {
    { "", "api_key is required: a non-empty string (set CONVAI_VONAGE_KEY)" },
    { "key\r\nX-Injected: 1", "api_key contains a space or a control character" },
  } },
  -- flags and environment of every API command
  { input = "--format", commands = API, cli = flag(nil, "--format"), cases = {
    { "xml", "argument for option '--format' must be one of 'table', 'json'" },
  } },
  { input = "--timeout", commands = API, cli = flag(nil, "--timeout"), cases = {
    { "abc", "--timeout" .. POSITIVE_SECONDS .. ' (e.g. 30 or 0.5), got "abc"' },
    { "0", "--timeout" .. POSITIVE_SECONDS },
    { "-1", "--timeout" .. POSITIVE_SECONDS },
    { "1e999", "--timeout" .. POSITIVE_SECONDS },
  } },
  { input = "--connect-timeout", commands = API, cli = flag(nil, "--connect-timeout"), cases = {
    { "soon", "--connect-timeout" .. POSITIVE_SECONDS },
    { "0", "--connect-timeout" .. POSITIVE_SECONDS },
  } },
  { input = "--verbose", commands = API, cli = function(v, _, cmd) return append(cmd, "--verbose=" .. v) end,
    cases = { { "yes", "option '--verbose' does not take arguments" } } },
  { input = "other arguments", commands = API, cli = function(v, _, cmd) return append(cmd, table.unpack(v)) end,
    cases = {
      { { "--api-key", "k" }, "--api-key: credentials come from the environment (or a profile), never from "
        .. "arguments: set CONVAI_", "--api-key k (credentials come from the environment)" },
      { { "--token=k" }, "--token: credentials come from the environment (or a profile), never from arguments",
        "--token=k (the value is not shown)" },
      { { "extra" }, "too many arguments", "an extra argument" },
    } },
  { input = "CONVAI_CAFILE", commands = API, cli = function(v, _, cmd) return cmd, { CONVAI_CAFILE = v } end,
    cases = { { "/nonexistent/ca.pem", "option 'cafile': cannot read '/nonexistent/ca.pem'" } } },
  -- sandbox start
  { input = "sandbox start --port", cli = flag(SB, "--port"), cases = {
    { "http", '--port must be an integer from 1 to 65535 (0: any free port), got "http"' },
    { "70000", "--port must be an integer from 1 to 65535 (0: any free port)" },
    { "-1", "--port must be an integer from 1 to 65535 (0: any free port)" },
    { "80.5", "--port must be an integer from 1 to 65535 (0: any free port)" },
  } },
  { input = "sandbox start --dir", cli = function(v, tmp)
    return with_flag(SB, "--dir", v == "" and v or tmp .. "/" .. v)
  end, cases = {
    { "", "--dir must be a non-empty path" },
    { "a;b", "--dir must not contain spaces, control characters or any of ; { } \" ' \\ $ # (they would break "
      .. "the nginx configuration); choose another path" },
    { "a b", "--dir must not contain spaces" },
    { "a{b", "--dir must not contain spaces" },
  } },
  { input = "CONVAI_SANDBOX_DIR", cli = function(v, tmp) return SB, { CONVAI_SANDBOX_DIR = tmp .. "/" .. v } end,
    cases = { { "x;y", "CONVAI_SANDBOX_DIR must not contain spaces, control characters" } } },
  { input = "sandbox start --tls", cli = function(v) return append(SB, "--tls=" .. v) end, cases = {
    { "yes", "option '--tls' does not take arguments" },
  } },
  { input = "sandbox start --tls-port", cli = function(v) return append(SB, table.unpack(v)) end, cases = {
    { { "--tls", "--tls-port", "https" }, '--tls-port must be an integer from 1 to 65535 other than --port, got "https"',
      "https" },
    { { "--tls", "--tls-port", "0" }, "--tls-port must be an integer from 1 to 65535 other than --port", "0" },
    { { "--tls-port", "9443" }, "--tls-port needs --tls", "without --tls" },
    { { "--tls", "--port", "65535" }, "--port 65535 leaves no port after it for HTTPS; give --tls-port",
      "--port 65535 and no --tls-port" },
  } },
  -- receive start
  { input = "receive start --port", cli = function(v, tmp)
    return { "receive", "start", "--dir", tmp .. "/rcv", "--store", tmp .. "/s.jsonl", "--port", v }
  end, cases = {
    { "http", '--port must be an integer from 1 to 65535 (0: any free port), got "http"' },
    { "70000", "--port must be an integer from 1 to 65535 (0: any free port)" },
  } },
  { input = "receive start --dir", cli = function(v, tmp)
    return { "receive", "start", "--port", "0", "--store", tmp .. "/s.jsonl", "--dir",
      v == "" and v or tmp .. "/" .. v }
  end, cases = {
    { "", "--dir must be a non-empty path" },
    { "a;b", "--dir must not contain spaces, control characters or any of ; { } \" ' \\ $ # (they would break "
      .. "the nginx configuration); choose another path" },
  } },
  { input = "receive start --store", cli = function(v, tmp)
    return { "receive", "start", "--port", "0", "--dir", tmp .. "/rcv", "--store", v }
  end, cases = {
    { "nosuch://h/0", "unknown status store scheme nosuch:// (known: file, redis)" },
    { "redis://:pw@h:99999/0", "status store: invalid Redis URL 'redis://:***@h:99999/0': the port must be" },
  } },
  -- campaign report, reconcile
  { input = "campaign report --journal", cli = function(v, tmp)
    if v == "not a journal" then
      local f = assert(io.open(tmp .. "/j", "w")) f:write("x") f:close()
      v = "j"
    end
    return { "campaign", "report", "--journal", tmp .. "/" .. v }
  end, cases = {
    { "absent", "no campaign journal at " },
    { "not a journal", "no campaign journal at " },
  } },
  { input = "campaign report --statuses", cli = function(v, tmp)
    local f = assert(io.open(tmp .. "/j", "w"))
    f:write('{"journal":"convai.campaign","version":1,"campaign":{"provider":"vonage"}}\n')
    f:close()
    return { "campaign", "report", "--journal", tmp .. "/j", "--statuses", v }
  end, cases = {
    { "nosuch://x", "unknown status store scheme nosuch:// (known: file, redis)" },
  } },
  { input = "campaign report --store", cli = function(v, tmp)
    local args = { "campaign", "report", "--store", v, "--agent-id", "A", "--namespace", "ns", "--template",
      "welcome", "--locale", "en_US" }
    if v == "with --journal" then args[4], args[#args + 1], args[#args + 2] = "redis://127.0.0.1:1/0", "--journal",
      tmp .. "/j" end
    return args
  end, cases = {
    { "with --journal", "give exactly one of --journal FILE and --store URL" },
  } },
  { input = "campaign reconcile --journal", cli = function(v)
    return { "campaign", "reconcile", "--journal", v }
  end, cases = {
    { "redis://127.0.0.1:1/0", "reconcile writes a journal file; a campaign kept in a store is not reconciled" },
  } },
  { input = "campaign report --format", cli = function(v, tmp)
    return { "campaign", "report", "--journal", tmp .. "/j", "--format", v }
  end, cases = {
    { "xml", "argument for option '--format' must be one of 'table', 'csv', 'json'" },
  } },
  -- campaign run
  { input = "campaign run RECIPIENTS", cli = campaign_cli(GOOD_CSV, function(args, v, tmp)
    args[3] = tmp .. "/" .. v
    return args
  end), cases = {
    { "missing.csv", "cannot read the recipients file" },
  } },
  { input = "campaign run --journal", cli = campaign_cli(GOOD_CSV, function(args, v, tmp)
    return with_flag(args, "--journal", v == "DIR" and tmp or v)
  end), cases = {
    { NIL, "give exactly one of --journal FILE (this machine) and --store URL" },
    { "DIR", "cannot open journal" },
    { "/nonexistent-convai/c.journal", "cannot write journal /nonexistent-convai/c.journal: directory "
      .. "/nonexistent-convai does not exist" },
  } },
  { input = "campaign run --store", cli = campaign_cli(GOOD_CSV, function(args, v)
    return with_flag(with_flag(args, "--journal", NIL), "--store", v)
  end), cases = {
    { "redis://:pw@127.0.0.1:99999/0", "invalid_argument: --store: campaign store: invalid Redis URL" },
    { "memcached://127.0.0.1/0", "unknown journal store scheme memcached://" },
    { "127.0.0.1:6379", "--store must be a URL such as redis://HOST:6379/0" },
    { "redis://127.0.0.1:1/0", "--store: campaign store redis://127.0.0.1:1/0: Redis at 127.0.0.1:1" },
  } },
  { input = "campaign run --statuses", cli = campaign_flag("--statuses"), cases = {
    { "nosuch://x", "unknown status store scheme nosuch:// (known: file, redis)" },
  } },
  { input = "campaign run --store-timeout", cli = campaign_flag("--store-timeout"), cases = {
    { "0", "--store-timeout must be a positive number" },
  } },
  { input = "campaign run --channel", cli = campaign_flag("--channel"), cases = {
    { "fax", "argument for option '--channel' must be one of 'whatsapp', 'sms', 'voice'" },
  } },
  { input = "campaign run --provider", cli = campaign_cli(GOOD_CSV, function(args, v)
    args = with_flag(args, "--provider", v)
    if v == "voicebot" then args = with_flag(with_flag(args, "--channel", "sms"), "--namespace", NIL) end
    return args
  end), cases = {
    { "twilio", "argument for option '--provider' must be one of 'vonage', 'voicebot'" },
    { "voicebot", "--provider voicebot sends WhatsApp templates only; use --channel whatsapp" },
  } },
  { input = "campaign run --agent-id", cli = campaign_flag("--agent-id"), cases = {
    { NIL, "--agent-id is required for vonage whatsapp campaigns" },
    { "1/../../x", "agent_id must contain only letters, digits, '-' and '_'" },
  } },
  { input = "campaign run --template", cli = campaign_flag("--template"), cases = {
    { NIL, "--template is required for vonage whatsapp campaigns" },
    { "Order_Update", 'template "Order_Update" is not a WhatsApp template name' },
  } },
  { input = "campaign run --status-url", cli = campaign_flag("--status-url"), cases = {
    { NIL, "--status-url is required for vonage whatsapp campaigns" },
    { "example.com/s", "status_url must be an http:// or https:// URL without spaces" },
  } },
  { input = "campaign run --rate", cli = campaign_flag("--rate"), cases = {
    { "0", '--rate must be a positive number, got "0"' },
    { "-5", '--rate must be a positive number, got "-5"' },
    { "fast", '--rate must be a positive number, got "fast"' },
  } },
  { input = "campaign run --limits", cli = campaign_flag("--limits"), cases = {
    { "proces", '--limits: unknown limit store "proces" (known: ' },
    { "http://h", "--limits: unknown limit store scheme http:// (known: " },
  } },
  { input = "campaign run --gate-voicebot-agent", cli = campaign_flag("--gate-voicebot-agent"), cases = {
    { "x", '--gate-voicebot-agent must be a positive integer (a voicebot.studio WhatsApp agent), got "x"' },
    { "0", '--gate-voicebot-agent must be a positive integer (a voicebot.studio WhatsApp agent), got "0"' },
  } },
  { input = "campaign run --report", cli = campaign_flag("--report"), cases = {
    { "out.txt", '--report must name a .csv or .json file, got "out.txt"' },
    { "/nonexistent-convai/r.json", "cannot write the report /nonexistent-convai/r.json: directory "
      .. "/nonexistent-convai does not exist" },
  } },
  { input = "CSV column to", cli = campaign_cli(csv_with("to,body.1", "VALUE,x")), cases = {
    { "123", "recipients line 2: to: phone number must have 8 to 15 digits" },
    { "call me", "recipients line 2: to: phone number contains the letter 'c'" },
    { "", "recipients line 2: to" },
  } },
  { input = "CSV columns header.N", cli = campaign_cli(csv_with("to,header.1", "+447700900123,VALUE")), cases = {
    { "", "recipients line 2: header.1 is empty (the template needs 1 header parameter)" },
    { string.rep("x", 61), "recipients line 2: header.1 is 61 characters long; WhatsApp allows at most 60 in a "
      .. "header parameter" },
  } },
  { input = "CSV columns body.N", cli = campaign_cli(csv_with("to,body.1", "+447700900123,VALUE")), cases = {
    { "", "recipients line 2: body.1 is empty (the template needs 1 body parameter)" },
    { string.rep("x", 1025), "recipients line 2: body.1 is 1025 characters long; WhatsApp allows at most 1024 in "
      .. "a body parameter" },
    { "a\tb", "must not contain line breaks or tabs" },
  } },
  { input = "CSV column name", cli = campaign_cli(csv_with("to,name", "+447700900123,VALUE"), function(args)
    args = with_flag(with_flag(with_flag(args, "--namespace", NIL), "--locale", NIL), "--status-url", NIL)
    return with_flag(with_flag(args, "--provider", "voicebot"), "--agent-id", "7")
  end), cases = {
    { "", "recipients line 2: name is required (the recipient's name, a non-empty string)" },
  } },
  { input = "CSV header", cli = campaign_cli(function(v) return v .. "\n+447700900123,x\n" end), cases = {
    { "to,colour", 'recipients CSV line 1: unknown column "colour"' },
    { "phone,body.1", 'recipients CSV line 1: unknown column "phone"' },
    { "to,body.2", "recipients CSV line 1: column body.1 is missing" },
    { "name,body.1", 'recipients CSV line 1: there is no "to" column (the phone numbers)' },
  } },
  { input = "CSV structure", cli = campaign_cli(function(v) return v end), cases = {
    { "to,body.1\n+447700900123,\"open\n", "recipients CSV: line 2" },
    { "to,body.1\n+447700900123,a,b\n", "recipients CSV: line 2: 3 fields, but the header (line 1) has 2 columns" },
    { "", "recipients CSV" },
  } },
}

-- Clients on the sandbox (valid), for the rows about request arguments.
local function vb() return assert(voicebot.new { base_url = VB_URL, token = VB_TOKEN }) end
local function av() return assert(avaamo.new { base_url = AV_URL, access_token = AV_TOKEN }) end
local function vg() return assert(vonage.new { base_url = VG_URL, api_key = VG_KEY }) end

-- voicebot.new / avaamo.new / vonage.new with one option changed.
local function new_with(new, base, key)
  return function(v)
    local o = {}
    for k, x in pairs(base) do o[k] = x end
    o[key] = v_or_nil(v)
    return new(o)
  end
end
local VB_OPTS = { base_url = VB_URL, token = VB_TOKEN }
local AV_OPTS = { base_url = AV_URL, access_token = AV_TOKEN }
local VG_OPTS = { base_url = VG_URL, api_key = VG_KEY }

local AV_Q = { agent_id = 20123, from_date = "10/04/2020", to_date = "13/04/2020", utc_offset = -25200 }
local function av_usage(key)
  return function(v)
    local q = {}
    for k, x in pairs(AV_Q) do q[k] = x end
    q[key] = v_or_nil(v)
    return av():usage(q)
  end
end

local WA_T = { agent_id = "bad-input", namespace = "ns", template = "order_update", locale = "en",
  to = "+44 7700 900123", status_url = "https://example.com/s" }
local function trigger(key)
  return function(v)
    local t = {}
    for k, x in pairs(WA_T) do t[k] = x end
    t[key] = v_or_nil(v)
    return vg():trigger_whatsapp(t)
  end
end

local SECONDS = "must be a positive number of seconds"

local LUA_ROWS = {
  { input = "voicebot.new{}", call = function(v) return voicebot.new(v_or_nil(v)) end, cases = {
    { NIL, "voicebot.new expects an options table" }, { "token", "voicebot.new expects an options table" },
  } },
  { input = "voicebot.new{base_url=}", call = new_with(voicebot.new, VB_OPTS, "base_url"), cases = {
    { NIL, "base_url (CONVAI_VOICEBOT_URL) is required (an http:// or https:// URL)" },
    { "1-acme.eu.healvi-chat/third-party/v1", "base_url (CONVAI_VOICEBOT_URL) must be an http:// or https:// "
      .. 'URL without spaces, got "1-acme.eu.healvi-chat/third-party/v1"' },
    { "http://x/v1\r\nX: 1", "base_url (CONVAI_VOICEBOT_URL) must be an http:// or https:// URL without spaces" },
    { "http://x/v1?a=1", "must not contain a query (?) or a fragment (#)" },
    { "https://u:pw@x/v1", "must not contain user:password@ (convai sends the credential in a header)" },
  } },
  { input = "voicebot.new{token=}", call = new_with(voicebot.new, VB_OPTS, "token"), cases = {
    { NIL, "token is required: a non-empty string (set CONVAI_VOICEBOT_TOKEN)" },
    { 42, "token is required: a non-empty string" },
    { "a b", "token contains a space or a control character (CR, LF, NUL...); copy the credential again "
      .. "without line breaks" },
    { "t\0", "token contains a space or a control character" },
  } },
  { input = "timeout= (every client)", call = new_with(voicebot.new, VB_OPTS, "timeout"), cases = {
    { 0, "timeout " .. SECONDS .. ", got 0" }, { -1, "timeout " .. SECONDS }, { "30", 'timeout ' .. SECONDS
      .. ', got "30"' }, { 1 / 0, "timeout " .. SECONDS },
  } },
  { input = "connect_timeout= (every client)", call = new_with(avaamo.new, AV_OPTS, "connect_timeout"), cases = {
    { 0, "connect_timeout " .. SECONDS }, { "10", "connect_timeout " .. SECONDS },
  } },
  { input = "cafile= (every client)", call = new_with(vonage.new, VG_OPTS, "cafile"), cases = {
    { 3, "cafile must be a path to a PEM file" },
    { "/nonexistent/ca.pem", "option 'cafile': cannot read '/nonexistent/ca.pem'" },
  } },
  { input = "trace= (every client)", call = new_with(voicebot.new, VB_OPTS, "trace"), cases = {
    { true, "trace must be a function" },
  } },
  { input = "voicebot:whatsapp_usage(agent_id)", call = function(v) return vb():whatsapp_usage(v) end, cases = {
    { 0, "agent_id must be a positive integer, got 0" }, { -1, "agent_id must be a positive integer" },
    { 1.5, "agent_id must be a positive integer, got 1.5" }, { "x", 'agent_id must be a positive integer, got "x"' },
    { "1/../../x", 'agent_id must be a positive integer, got "1/../../x"' },
    { "7\r\n", 'agent_id must be a positive integer, got "7??"' }, { {}, "agent_id must be a positive integer, got a table" },
  } },
  { input = "avaamo.new{}", call = function(v) return avaamo.new(v_or_nil(v)) end, cases = {
    { NIL, "avaamo.new expects an options table" },
  } },
  { input = "avaamo.new{access_token=}", call = new_with(avaamo.new, AV_OPTS, "access_token"), cases = {
    { NIL, "access_token is required: a non-empty string (set CONVAI_AVAAMO_TOKEN)" },
    { "tok\n", "access_token contains a space or a control character" },
  } },
  { input = "avaamo.new{base_url=}", call = new_with(avaamo.new, AV_OPTS, "base_url"), cases = {
    { "cx.avaamo.com", "base_url (CONVAI_AVAAMO_URL) must be an http:// or https:// URL without spaces" },
    { "", "base_url (CONVAI_AVAAMO_URL) is required" },
  } },
  { input = "avaamo:usage{}", call = function(v) return av():usage(v_or_nil(v)) end, cases = {
    { NIL, "usage expects a table {agent_id=, from_date=, to_date=, utc_offset=}" },
    { 20123, "usage expects a table" },
  } },
  { input = "avaamo:usage{agent_id=}", call = av_usage("agent_id"), cases = {
    { NIL, "agent_id must be a positive integer (from the agent URL), got nil" },
    { 0, "agent_id must be a positive integer (from the agent URL), got 0" },
    { "1/../../x", 'agent_id must be a positive integer (from the agent URL), got "1/../../x"' },
    { "20123 ", "agent_id must be a positive integer" },
  } },
  { input = "avaamo:usage{utc_offset=}", call = av_usage("utc_offset"), cases = {
    { 50401, BAD_OFFSET .. "50401" },
    { -43201, "utc_offset must be an integer number of seconds from -43200 to 50400" },
    { 3600.5, "utc_offset must be an integer number of seconds from -43200 to 50400" },
    { "+5:3", BAD_OFFSET .. '"+5:3"' },
    { "05:30", BAD_OFFSET .. '"05:30"' },
  } },
  { input = "avaamo:usage{from_date=, to_date=}", call = function(v)
    return av():usage { agent_id = 20123, from_date = v[1], to_date = v[2] }
  end, cases = {
    { { "31/02/2024" }, 'from_date: "31/02/2024" is not a calendar date (expected dd/mm/yyyy)', "from 31/02/2024" },
    { { nil, "2024-04-31" }, 'to_date: "2024-04-31" is not a calendar date', "to 2024-04-31" },
    { { nil, "13-04-2024" }, 'to_date: "13-04-2024"' .. BAD_DATE, "to 13-04-2024" },
    { { 20200410 }, "from_date must be a date string, yyyy-mm-dd or dd/mm/yyyy, got number", "from 20200410 (a number)" },
    { { "13/04/2020", "10/04/2020" }, "To Date cannot be before From Date", "from after to" },
    { { "01/01/2023", "02/01/2024" }, "the range 01/01/2023 to 02/01/2024 spans 367 days; at most 366 are "
      .. "accepted (query shorter ranges)", "over 366 days" },
  } },
  { input = "avaamo:usage{split=}", call = av_usage("split"), cases = {
    { "no", 'split must be true or false, got "no"' }, { 0, "split must be true or false, got 0" },
  } },
  { input = "avaamo.date_range(from_date, to_date, utc_offset)", call = function(v)
    return avaamo.date_range(v[1], v[2], 0)
  end, cases = {
    { { "29/02/2023" }, 'from_date: "29/02/2023" is not a calendar date', "from 29/02/2023" },
    { { nil, "10/4/2020" }, 'to_date: "10/4/2020"' .. BAD_DATE, "to 10/4/2020" },
    { { "02/01/2020", "01/01/2020" }, "To Date cannot be before From Date", "from after to" },
  } },
  { input = "avaamo.range{}", call = function(v) return avaamo.range(v_or_nil(v)) end, cases = {
    { NIL, "range expects a table {from_date=, to_date=, last=, utc_offset=}" },
    { { last = "7d", from_date = "2024-01-01" }, "give last or from_date, not both (last counts back from to_date)",
      "last and from_date" },
    { { last = "-7d" }, 'last must be a number of days, weeks or months ending today, e.g. 7d, 4w or 3m, got "-7d"',
      "last -7d" },
    { { last = 7 }, "last must be a number of days, weeks or months ending today, e.g. 7d, 4w or 3m, got 7",
      "last 7 (a number)" },
    { { utc_offset = "+14:30" }, 'got "+14:30"', "utc_offset +14:30" },
  } },
  { input = "avaamo:usage{last=}", call = function(v)
    return av():usage { agent_id = 20123, to_date = "13/04/2020", last = v }
  end, cases = {
    { "1w2d", 'last must be a number of days, weeks or months ending today, e.g. 7d, 4w or 3m, got "1w2d"' },
    { "24m", "at most 366 are accepted (query shorter ranges)" },
  } },
  { input = "vonage.new{}", call = function(v) return vonage.new(v_or_nil(v)) end, cases = {
    { NIL, "vonage.new expects an options table" },
    { { api_key = VG_KEY }, 'give region ("eu" or "us", the agent\'s region) or base_url (set '
      .. "CONVAI_VONAGE_REGION or CONVAI_VONAGE_URL)", "neither region nor base_url" },
  } },
  { input = "vonage.new{limits=}", call = new_with(vonage.new, VG_OPTS, "limits"), cases = {
    { "nowhere", 'limits: unknown limit store "nowhere" (known: ' },
    { 5, "limits must be host, process, a store URL, a convai.limit or a table of convai.limit.new options, got "
      .. "number" },
    { { store = "process", burst = 2 }, "unknown limit option burst for store process", "{burst = 2}" },
  } },
  { input = "vonage.new{rates=}", call = new_with(vonage.new, VG_OPTS, "rates"), cases = {
    { "A=5", "rates must be a table {[agent_id] = rate}" },
    { { A = 0 }, "rates[A] must be a positive number of sessions per second", "{A = 0}" },
  } },
  { input = "vonage.new{region=}", call = function(v) return vonage.new { region = v, api_key = VG_KEY } end, cases = {
    { "ap", 'region must be "eu" or "us", got "ap"' }, { "EU", 'region must be "eu" or "us", got "EU"' },
  } },
  { input = "vonage.new{api_key=}", call = new_with(vonage.new, VG_OPTS, "api_key"), cases = {
    { NIL, "api_key is required: a non-empty string (set CONVAI_VONAGE_KEY)" },
    { "key\r\nX-Injected: 1", "api_key contains a space or a control character" },
  } },
  { input = "vonage.new{base_url=}", call = new_with(vonage.new, VG_OPTS, "base_url"), cases = {
    { "studio-api-eu.ai.vonage.com", "base_url (CONVAI_VONAGE_URL) must be an http:// or https:// URL" },
  } },
  { input = "vonage:trigger_whatsapp{}", call = function(v) return vg():trigger_whatsapp(v_or_nil(v)) end, cases = {
    { NIL, "trigger_whatsapp expects a table of fields" },
    { { agent_id = "a", namespace = "n", template = "t", locale = "en", to = "+447700900123",
      status_url = "https://x.example/s", templat = "t" }, "unknown field templat", "an unknown field" },
  } },
  { input = "vonage:trigger_whatsapp{agent_id=}", call = trigger("agent_id"), cases = {
    { NIL, "agent_id is required (the AI Studio agent ID)" },
    { "1/../../x", "agent_id must contain only letters, digits, '-' and '_'" },
    { "agent 1", "agent_id must not contain spaces or control characters" },
  } },
  { input = "vonage:trigger_whatsapp{namespace=}", call = trigger("namespace"), cases = {
    { NIL, "namespace is required (the WhatsApp template namespace)" },
    { "ns\n", "namespace must not contain spaces or control characters" },
  } },
  { input = "vonage:trigger_whatsapp{template=}", call = trigger("template"), cases = {
    { NIL, "template is required (the approved WhatsApp template name)" },
    { "Order-Update", 'template "Order-Update" is not a WhatsApp template name (lowercase letters, digits and _ only)' },
  } },
  { input = "vonage:trigger_whatsapp{locale=}", call = trigger("locale"), cases = {
    { NIL, "locale is required (the template language, e.g. en or en_US)" },
    { "en_gb", 'locale "en_gb" is not a WhatsApp language code (e.g. en, en_US, pt_BR)' },
  } },
  { input = "vonage:trigger_whatsapp{to=}", call = trigger("to"), cases = {
    { NIL, "to is required (the recipient's phone number)" },
    { "+1 555", "to: phone number must have 8 to 15 digits including the country code, got 4" },
    { "+44 7700 9OO123", "to: phone number contains the letter 'O'" },
    { {}, 'to must be a phone number string, e.g. "+44 7700 900123"' },
  } },
  { input = "vonage:trigger_whatsapp{status_url=}", call = trigger("status_url"), cases = {
    { NIL, "status_url is required (the URL that receives message statuses)" },
    { "https://example.com/a b", "status_url must be an http:// or https:// URL without spaces" },
  } },
  { input = "vonage.components(components)", call = trigger("components"), cases = {
    { "Ann", "components must be the WhatsApp components array or {header={...}, body={...}}" },
    { { footer = { "x" } }, "components shorthand takes only header= and body= lists, got footer=", "footer=" },
    { { header = "Ann" }, "components.header must be a list of strings", "header = a string" },
    { { header = { string.rep("h", 61) } }, "components.header[1] is 61 characters long; WhatsApp allows at most "
      .. "60 in a header parameter", "a 61-character header parameter" },
    { { body = { "ok", string.rep("b", 1025) } }, "components.body[2] is 1025 characters long; WhatsApp allows at "
      .. "most 1024 in a body parameter", "a 1025-character body parameter" },
    { { body = { "tab\there" } }, "components.body[1] must not contain line breaks or tabs (WhatsApp rejects them "
      .. "in parameters)", "a tab" },
    { { body = { "" } }, "components.body[1] must be a non-empty string", "an empty parameter" },
    { { { type = "footer" } }, 'components[1].type must be "header", "body" or "button", got footer', "raw: type footer" },
    { { { type = "body", parameters = { { type = "emoji" } } } }, "components[1].parameters[1] must be a table with "
      .. "type text, currency, date_time, image, document, video or payload", "raw: parameter type emoji" },
    { { { type = "button", sub_type = "call" } }, 'components[1].sub_type must be "quick_reply" or "url"',
      "raw: button sub_type call" },
    { { { type = "button", sub_type = "url", index = 10 } }, "components[1].index must be an integer from 0 to 9",
      "raw: button index 10" },
  } },
  { input = "vonage.session_parameters(session_parameters)", call = trigger("session_parameters"), cases = {
    { "id=1", "session_parameters must be an array of {name=, value=} or a table {name = value}" },
    { { { value = "v" } }, "session_parameters[1] needs a non-empty string name", "an entry without name" },
    { { patient = { id = 1 } }, 'session_parameters "patient" needs a string value, got table', "a table value" },
  } },
}

local function show(case)
  local v = case[3] or case[1]
  if type(v) == "string" and #v > 60 then v = v:sub(1, 60) .. "..." end
  return tostring(v)
end

local function run(cmd)
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  p:close()
  return out
end

local function listing(dir)
  return run("cd '" .. dir .. "' && find . | sort")
end

local function assert_nothing_sent(what)
  local log = helper.log()
  assert.same({}, log, what .. ": something was sent")
end

-- One line (or argparse's two: the error and the hint), no Lua traceback.
local function assert_clear(err, what)
  assert.is_nil(err:find("traceback", 1, true), what .. ": a Lua traceback\n" .. err)
  assert.matches("^convai: ", err, 1, false, what)
end

describe("bad input", function()
  before_each(helper.reset)

  describe("from the CLI: exit 2, a clear message, nothing sent, nothing written", function()
    for _, row in ipairs(CLI_ROWS) do
      it(row.input, function()
        for _, cmd in ipairs(row.commands or { false }) do
          for _, case in ipairs(row.cases) do
            local tmp = run("mktemp -d"):gsub("%s+$", "")
            local args, env = row.cli(case[1], tmp, cmd or nil)
            env = env or {}
            if env.CONVAI_SANDBOX_DIR == nil then env.CONVAI_SANDBOX_DIR = tmp .. "/sandbox" end
            local what = row.input .. " " .. show(case) .. " (" .. table.concat(args, " ", 1, 2) .. ")"
            local before = listing(tmp)
            local code, out, err = helper.cli(args, env)
            if code == 0 and args[1] == "sandbox" then helper.cli({ "sandbox", "stop" }, env) end
            assert.equal(2, code, what .. "\n" .. out .. err)
            assert.equal("", out, what)
            assert.truthy(err:find(case[2], 1, true), what .. ": expected\n  " .. case[2] .. "\ngot\n  " .. err)
            assert_clear(err, what)
            assert.equal(before, listing(tmp), what .. ": something was written")
            assert_nothing_sent(what)
            os.execute("rm -rf '" .. tmp .. "'")
          end
        end
      end)
    end
  end)

  describe("from Lua: nil and an invalid_argument error with a clear message, nothing sent", function()
    for _, row in ipairs(LUA_ROWS) do
      it(row.input, function()
        for _, case in ipairs(row.cases) do
          local what = row.input .. " " .. show(case)
          local res, err = row.call(case[1])
          assert.is_nil(res, what)
          assert.is_table(err, what)
          assert.equal("invalid_argument", err.kind, what)
          assert.truthy(err.message:find(case[2], 1, true), what .. ": expected\n  " .. case[2] .. "\ngot\n  "
            .. err.message)
          assert.is_nil(err.message:find("[%c]"), what .. ": the message is not one clean line")
          assert_nothing_sent(what)
        end
      end)
    end
  end)

  it("the Bad input tables of docs/errors.md have exactly these rows", function()
    local f = assert(io.open(helper.root .. "/docs/errors.md"))
    local text = f:read("a")
    f:close()
    local section = text:match("\n## Bad input\n(.-)\n## ") or text:match("\n## Bad input\n(.*)$")
    assert.truthy(section, "docs/errors.md has no '## Bad input' section")
    local documented, tested = {}, {}
    for line in section:gmatch("[^\n]+") do
      local input = line:match("^| `([^`]+)`")
      if input then documented[#documented + 1] = input end
    end
    for _, rows in ipairs { CLI_ROWS, LUA_ROWS } do
      for _, row in ipairs(rows) do tested[#tested + 1] = row.input end
    end
    table.sort(documented)
    table.sort(tested)
    assert.same(tested, documented)
  end)
end)
