-- Security end to end against the sandbox (docs/errors.md, "Credentials are never shown", and
-- docs/clients.md, "What is checked before sending"): header injection refused before anything is
-- sent, path and query parts escaped, and no key or token in any error, log line, printed object or CLI
-- output (stdout and stderr, --verbose included), nor in the sandbox's own logs.
local helper = require "helper"
local core = require "convai.core"
local http = require "convai.http"
local voicebot = require "convai.voicebot"
local avaamo = require "convai.avaamo"
local vonage = require "convai.vonage"

local VB_URL, AV_URL, VG_URL = helper.env("CONVAI_VOICEBOT_URL"), helper.env("CONVAI_AVAAMO_URL"),
  helper.env("CONVAI_VONAGE_URL")
local VB_TOKEN, AV_TOKEN, VG_KEY = helper.env("CONVAI_VOICEBOT_TOKEN"), helper.env("CONVAI_AVAAMO_TOKEN"),
  helper.env("CONVAI_VONAGE_KEY")
local VB_PATH = "/voicebot/third-party/v1/whatsapp/agent-usage"
local AV_PATH = "/avaamo/bots/analytics/20123/usage.json"
local VG_PATH = "/vonage/messaging/conversation"
local SANDBOX_DIR = os.getenv("CONVAI_SANDBOX_DIR")

--- A credential that is not the sandbox's: every output is searched for it.
local SECRET = "cvSECRETq7Zx4k9Lw2"
local SECRET_ENV = { CONVAI_VOICEBOT_TOKEN = SECRET, CONVAI_AVAAMO_TOKEN = SECRET, CONVAI_VONAGE_KEY = SECRET }
--- The sandbox's own credentials: searched for in the outputs of the commands that succeed.
local SANDBOX_SECRETS = { VB_TOKEN, AV_TOKEN, VG_KEY }

--- Control characters that would split a header or a request line.
local INJECTIONS = { "\r", "\n", "\0", "\r\nX-Injected: 1" }

-- Every string reachable from v (keys and values of tables, recursively).
local function strings(v, out, seen)
  out, seen = out or {}, seen or {}
  if type(v) == "string" then
    out[#out + 1] = v
  elseif type(v) == "table" and not seen[v] then
    seen[v] = true
    for k, x in pairs(v) do
      strings(k, out, seen)
      strings(x, out, seen)
    end
  end
  return out
end

-- Assert that none of `secrets` appears in `text` (a string or a table searched deeply).
local function assert_clean(where, text, secrets)
  for _, s in ipairs(type(text) == "table" and strings(text) or { text }) do
    for _, secret in ipairs(secrets or { SECRET }) do
      assert.is_nil(s:find(secret, 1, true), where .. " shows a secret: " .. s)
    end
  end
end

-- The content of a log file. A log that cannot be read fails the test: an empty string would pass
-- every "no secret in it" check without checking anything.
local function read(path)
  local f, err = io.open(path, "rb")
  assert(f, "cannot read the log " .. path .. " (" .. tostring(err) .. "): nothing to check")
  local s = f:read("a")
  f:close()
  return s
end

-- The sandbox's request log, error log and access log hold no secret. The files are in the sandbox's
-- directory, which scripts/spec and scripts/test name in CONVAI_SANDBOX_DIR.
local function assert_sandbox_logs_clean()
  assert_clean("sandbox request log", helper.log())
  assert(SANDBOX_DIR, "CONVAI_SANDBOX_DIR is not set: the sandbox's error.log and access.log cannot be "
    .. "checked (run the specs through scripts/spec)")
  assert_clean("sandbox error.log", read(SANDBOX_DIR .. "/error.log"))
  assert_clean("sandbox access.log", read(SANDBOX_DIR .. "/access.log"))
end

local add_fault = helper.add_fault

-- Assert that a call was refused as invalid_argument with a one-line message.
local function refused(what, res, err)
  assert.is_nil(res, what)
  assert.is_table(err, what)
  assert.equal("invalid_argument", err.kind, what)
  assert.is_nil(err.message:find("[\r\n%z]"), what .. ": the message is not one line")
end

-- (the Vonage clients that send here pace on their own, "process": the tests of this agent do not wait
-- for each other's slots)
local WA = { agent_id = "sec-agent", namespace = "ns_1", template = "appointment_reminder", locale = "en_GB",
  to = "+44 7700 900123", status_url = "https://example.com/s" }

local function wa(field, value)
  local t = {}
  for k, v in pairs(WA) do t[k] = v end
  t[field] = value
  return t
end

describe("security", function()
  before_each(helper.reset)
  after_each(function() helper.admin("DELETE", "/_sandbox/faults") end)

  describe("header injection: CR, LF or NUL is refused and nothing is sent", function()
    it("in a credential, for each client, without echoing it", function()
      for _, bad in ipairs(INJECTIONS) do
        local token = SECRET .. bad
        refused("voicebot token", voicebot.new { base_url = VB_URL, token = token })
        refused("avaamo token", avaamo.new { base_url = AV_URL, access_token = token })
        refused("vonage key", vonage.new { base_url = VG_URL, api_key = token })
        for _, make in ipairs { function() return voicebot.new { base_url = VB_URL, token = token } end,
          function() return avaamo.new { base_url = AV_URL, access_token = token } end,
          function() return vonage.new { base_url = VG_URL, api_key = token } end } do
          local _, err = make()
          assert_clean("error for a bad credential", tostring(err))
          assert_clean("error for a bad credential", err)
        end
      end
      -- The refused clients sent nothing: the sandbox's log holds exactly the three requests made now,
      -- with the secret as a well-formed credential (refused by the sandbox: 401), and shows no secret.
      for _, call in ipairs {
        function() return assert(voicebot.new { base_url = VB_URL, token = SECRET, retry = false }):whatsapp_usage(7) end,
        function() return assert(avaamo.new { base_url = AV_URL, access_token = SECRET, retry = false }):usage {
          agent_id = 20123, from_date = "10/04/2020", to_date = "13/04/2020" } end,
        function()
          return assert(vonage.new { base_url = VG_URL, api_key = SECRET, retry = false, limits = "process" })
            :trigger_whatsapp(WA)
        end,
      } do
        local res, err = call()
        assert.is_nil(res)
        assert.equal("auth", err.kind)
      end
      local log = helper.log()
      assert.equal(3, #log)
      assert.same({ VB_PATH, AV_PATH, VG_PATH }, { log[1].path, log[2].path, log[3].path })
      assert.equal("<redacted>", log[1].headers.authorization)
      assert.equal("<redacted>", log[2].headers["access-token"])
      assert.equal("<redacted>", log[3].headers["x-vgai-key"])
      assert_sandbox_logs_clean()
    end)

    it("in a base URL, for each client", function()
      for _, bad in ipairs(INJECTIONS) do
        refused("voicebot base_url", voicebot.new { base_url = VB_URL .. bad, token = VB_TOKEN })
        refused("avaamo base_url", avaamo.new { base_url = AV_URL .. bad, access_token = AV_TOKEN })
        refused("vonage base_url", vonage.new { base_url = VG_URL .. bad, api_key = VG_KEY })
        refused("vonage region", vonage.new { region = "eu" .. bad, api_key = VG_KEY })
      end
      -- The refused clients sent nothing: the log holds exactly the requests of clients made now on the
      -- same URLs without the injection (so a request would have been logged had one been sent).
      assert(assert(voicebot.new { base_url = VB_URL, token = VB_TOKEN, retry = false }):whatsapp_usage(7))
      assert(assert(avaamo.new { base_url = AV_URL, access_token = AV_TOKEN, retry = false }):usage {
        agent_id = 20123, from_date = "10/04/2020", to_date = "13/04/2020" })
      local log = helper.log()
      assert.equal(2, #log)
      assert.same({ VB_PATH, AV_PATH }, { log[1].path, log[2].path })
      assert.same({ "GET", "GET" }, { log[1].method, log[2].method })
    end)

    it("in every request field of each client", function()
      local vb = assert(voicebot.new { base_url = VB_URL, token = VB_TOKEN, retry = false })
      local av = assert(avaamo.new { base_url = AV_URL, access_token = AV_TOKEN, retry = false })
      local vg = assert(vonage.new { base_url = VG_URL, api_key = VG_KEY, retry = false, limits = "process" })
      for _, bad in ipairs(INJECTIONS) do
        refused("voicebot agent_id", vb:whatsapp_usage("7" .. bad))
        for _, q in ipairs {
          { agent_id = "20123" .. bad },
          { agent_id = 20123, from_date = "10/04/2020" .. bad },
          { agent_id = 20123, to_date = "13/04/2020" .. bad },
          { agent_id = 20123, utc_offset = "0" .. bad },
        } do
          refused("avaamo query", av:usage(q))
        end
        for _, field in ipairs { "agent_id", "namespace", "template", "locale", "to", "status_url" } do
          refused(field, vg:trigger_whatsapp(wa(field, WA[field] .. bad)))
        end
        refused("header param", vg:trigger_whatsapp(wa("components", { header = { "Ann" .. bad } })))
        refused("body param", vg:trigger_whatsapp(wa("components", { body = { "Ann" .. bad } })))
      end
      vb:close(); av:close(); vg:close()
      assert.same({}, helper.log())
    end)

    it("in raw core requests: header names and values, method and URL", function()
      local s = assert(core.session { timeout = 5 })
      local url = helper.url .. VB_PATH
      for _, bad in ipairs(INJECTIONS) do
        for _, req in ipairs {
          { url = url, headers = { ["X-Test"] = "v" .. bad } },
          { url = url, headers = { ["X-Test" .. bad] = "v" } },
          { url = url, headers = { Authorization = "Bearer " .. SECRET .. bad } },
          { url = url .. bad },
          { url = url .. "?q=" .. bad },
          { url = url, method = "GET" .. bad },
        } do
          local resp, err = s:request(req)
          refused("core request", resp, err)
          assert.is_false(err.request_sent)
          assert_clean("core error", tostring(err))
        end
      end
      -- A byte outside ASCII would go out raw (libcurl does not encode it): refused, with the fix.
      for _, u in ipairs { url .. "/caf\195\169", url .. "?name=Jos\195\169", (url:gsub("//127", "//\195\169127")) } do
        local resp, err = s:request { url = u }
        refused("core request", resp, err)
        assert.matches("non%-ASCII byte at position %d+; percent%-encode it", err.message)
        assert.is_false(err.request_sent)
      end
      s:close()
      assert.same({}, helper.log())
    end)
  end)

  describe("path and query parts", function()
    it("refuse an agent_id that is not a plain ID, for every client, before sending", function()
      local vb = assert(voicebot.new { base_url = VB_URL, token = VB_TOKEN })
      local av = assert(avaamo.new { base_url = AV_URL, access_token = AV_TOKEN })
      local vg = assert(vonage.new { base_url = VG_URL, api_key = VG_KEY, limits = "process" })
      for _, id in ipairs { "1/../../x", "../1", "1%2F..%2Fx", "1?x=1", "1#x", "1&agent_id=2", "1 2", "١" } do
        refused("voicebot " .. id, vb:whatsapp_usage(id))
        refused("avaamo " .. id, av:usage { agent_id = id })
        refused("vonage " .. id, vg:trigger_whatsapp(wa("agent_id", id)))
      end
      assert.same({}, helper.log())
    end)

    it("refuse base URLs with a query, a fragment or user:password@, without showing them", function()
      for _, url in ipairs { VB_URL .. "?x=1", VB_URL .. "#f", (VB_URL:gsub("://", "://u:" .. SECRET .. "@")) } do
        local c, err = voicebot.new { base_url = url, token = VB_TOKEN }
        refused(url, c, err)
        assert_clean("base_url error", tostring(err))
      end
    end)

    it("escape query values with &, #, spaces, '+', '%' and unicode (a round trip)", function()
      local t = assert(http.new { base_url = helper.url, vendor = "test", auth = {}, retry = false })
      for _, value in ipairs { "a&b=c", "#frag", "x y", "1+1", "100%", "héllo ✓", "/../?q=1&r" } do
        local body = assert(t:json("GET", "/_sandbox/echo", http.query { { "q", value }, { "k&=", "v" } }))
        assert.same({ q = value, ["k&="] = "v" }, body.query, value)
      end
      t:close()
    end)

    it("send the Avaamo dates and offset escaped as documented", function()
      local av = assert(avaamo.new { base_url = AV_URL, access_token = AV_TOKEN })
      assert(av:usage { agent_id = 20123, from_date = "10/04/2020", to_date = "13/04/2020", utc_offset = -25200 })
      local entry = helper.log()[1]
      assert.equal(AV_PATH, entry.path)
      assert.same({ from_date = "10/04/2020", to_date = "13/04/2020", utc_offset = "-25200" }, entry.query)
      av:close()
    end)
  end)

  describe("secrets are never printed", function()
    local clients = {
      { "convai.voicebot", function(o) return voicebot.new { base_url = VB_URL, token = SECRET, trace = o } end },
      { "convai.avaamo", function(o) return avaamo.new { base_url = AV_URL, access_token = SECRET, trace = o } end },
      { "convai.vonage", function(o)
        return vonage.new { base_url = VG_URL, api_key = SECRET, trace = o, limits = "process" }
      end },
    }

    it("redact_headers hides credential headers in any case; quote shows input on one line", function()
      local h = http.redact_headers({ authorization = "Bearer x", ["ACCESS-TOKEN"] = "y", ["X-Vgai-Key"] = "z",
        ["X-Custom-Secret"] = "w", Accept = "application/json" }, { ["x-custom-secret"] = "w" })
      assert.same({ authorization = "<redacted>", ["ACCESS-TOKEN"] = "<redacted>", ["X-Vgai-Key"] = "<redacted>",
        ["X-Custom-Secret"] = "<redacted>", Accept = "application/json" }, h)
      assert.equal('"a??b?"', http.quote('a\r\nb"'))
      assert.equal('"' .. string.rep("x", 40) .. '..."', http.quote(string.rep("x", 41)))
      assert.equal("a table", http.quote({}))
      assert.equal("nil", http.quote(nil))
      assert.equal("1.5", http.quote(1.5))
    end)

    it("by tostring of clients and transports, or a dump of their fields", function()
      for _, c in ipairs(clients) do
        local client = assert(c[2]())
        assert.matches("^" .. c[1]:gsub("%.", "%%.") .. "{base_url=.*=<redacted>}$", tostring(client))
        assert_clean("tostring(client)", tostring(client))
        assert_clean("tostring(transport)", tostring(client.http))
        assert_clean("client fields", client)
        client:close()
      end
    end)

    it("in trace events (what --verbose prints): credential headers are <redacted>", function()
      local events = {}
      local function trace(ev) events[#events + 1] = ev end
      for _, c in ipairs(clients) do
        local client = assert(c[2](trace))
        if c[1] == "convai.voicebot" then
          assert.is_nil(client:whatsapp_usage())
        elseif c[1] == "convai.avaamo" then
          assert.is_nil(client:usage { agent_id = 1 })
        else
          assert.is_nil(client:trigger_whatsapp(WA))
        end
        client:close()
      end
      assert.equal(6, #events)
      assert_clean("trace events", events)
      local names = {}
      for _, ev in ipairs(events) do
        if ev.phase == "request" then
          for name, value in pairs(ev.headers) do
            if http.CREDENTIAL_HEADERS[name:lower()] then
              names[#names + 1] = name
              assert.equal("<redacted>", value)
            end
          end
        else
          assert.equal(401, ev.status)
          assert.is_number(ev.elapsed_ms)
        end
      end
      table.sort(names)
      assert.same({ "Access-Token", "Authorization", "X-Vgai-Key" }, names)
      assert_sandbox_logs_clean()
    end)

    it("in tostring(err) of every error kind", function()
      local function vb(opts)
        local o = { base_url = VB_URL, token = SECRET, retry = false, timeout = 5 }
        for k, v in pairs(opts or {}) do o[k] = v end
        return assert(voicebot.new(o))
      end
      local seen = {}
      local function check(kind, res, err)
        assert.is_nil(res, kind)
        assert.equal(kind, err.kind)
        assert_clean(kind .. " error", tostring(err))
        assert_clean(kind .. " error fields", err)
        seen[kind] = true
      end
      check("invalid_argument", voicebot.new { base_url = VB_URL, token = SECRET .. "\r\n" })
      check("auth", vb():whatsapp_usage())
      for status, kind in pairs { [404] = "not_found", [429] = "rate_limited", [422] = "unprocessable",
        [500] = "server", [418] = "http" } do
        add_fault { path = VB_PATH, fault = "status", status = status, count = 5 }
        check(kind, vb():whatsapp_usage())
        helper.admin("DELETE", "/_sandbox/faults")
      end
      add_fault { path = VB_PATH, fault = "delay", delay_ms = 3000, count = 5 }
      check("timeout", vb({ timeout = 0.3 }):whatsapp_usage())
      helper.reset()
      check("network", vb({ base_url = "http://127.0.0.1:1/v1" }):whatsapp_usage())
      check("tls", vb({ base_url = (VB_URL:gsub("^http:", "https:")) }):whatsapp_usage())
      add_fault { path = VB_PATH, fault = "invalid_json", count = 5 }
      check("decode", vb():whatsapp_usage())
      helper.admin("DELETE", "/_sandbox/faults")
      add_fault { path = VB_PATH, fault = "oversize", count = 5 }
      check("too_large", vb():whatsapp_usage())
      helper.admin("DELETE", "/_sandbox/faults")
      add_fault { path = VG_PATH, fault = "redirect", count = 5 }
      local vg = assert(vonage.new { base_url = VG_URL, api_key = SECRET, limits = "process" })
      check("http", vg:trigger_whatsapp(WA)) -- a redirect, not followed
      local kinds = {}
      for k in pairs(seen) do kinds[#kinds + 1] = k end
      table.sort(kinds)
      assert.same({ "auth", "decode", "http", "invalid_argument", "network", "not_found", "rate_limited",
        "server", "timeout", "tls", "too_large", "unprocessable" }, kinds)
      assert_sandbox_logs_clean()
    end)

    describe("by the CLI", function()
      local runs = 0
      -- Every command that talks to an API, as a function of a run number (triggers need a new agent:
      -- the sandbox allows 1 session per second per agent), and the path it calls. The campaign command
      -- can be added here.
      local COMMANDS = {
        { path = VB_PATH, args = function() return { "usage", "voicebot", "--agent-id", "3" } end },
        { path = AV_PATH, args = function()
          return { "usage", "avaamo", "--agent-id", "20123", "--from", "10/04/2020", "--to", "13/04/2020",
            "--utc-offset", "-25200" }
        end },
        { path = VG_PATH, post = true, args = function(n)
          return { "trigger", "whatsapp", "--agent-id", "sec-cli-" .. n, "--namespace", "ns", "--template",
            "order_update", "--locale", "en", "--to", "+44 7700 900123", "--status-url", "https://example.com/s",
            "--header-param", "Ann", "--body-param", "A-1", "--session-param", "order=A-1" }
        end },
        { path = VG_PATH, post = true, summary = true, args = function(n)
          local csv = os.tmpname()
          local f = assert(io.open(csv, "wb"))
          f:write("to,header.1,body.1,session.order\n+44 7700 900123,Ann,A-1,A-1\n")
          f:close()
          local journal = os.tmpname()
          os.remove(journal)
          return { "campaign", "run", csv, "--journal", journal, "--agent-id", "sec-camp-" .. n,
            "--namespace", "ns", "--template", "order_update", "--locale", "en",
            "--status-url", "https://example.com/s" }
        end },
      }
      local ALL = { { "table", false }, { "json", false }, { "table", true }, { "json", true } }
      local SOME = { { "table", false }, { "json", true } }

      -- Run a command in each variant (--format, --verbose or not); `arm` runs before each run.
      local function each_variant(cmd, variants, env, extra, arm, f)
        for _, variant in ipairs(variants) do
          runs = runs + 1
          local args = cmd.args(runs)
          for _, a in ipairs(extra or {}) do args[#args + 1] = a end
          args[#args + 1] = "--format"
          args[#args + 1] = variant[1]
          if variant[2] then args[#args + 1] = "--verbose" end
          if arm then arm() end
          local code, out, err = helper.cli(args, env)
          helper.admin("DELETE", "/_sandbox/faults")
          f(code, out, err, variant[2], table.concat(args, " "))
        end
      end

      it("on success, with the sandbox's own credentials", function()
        for _, cmd in ipairs(COMMANDS) do
          each_variant(cmd, ALL, nil, nil, nil, function(code, out, err, verbose, what)
            assert.equal(0, code, what .. "\n" .. err)
            assert_clean(what .. " stdout", out, SANDBOX_SECRETS)
            assert_clean(what .. " stderr", err, SANDBOX_SECRETS)
            if verbose then
              assert.matches("> [GP][EO]S?T http://127%.0%.0%.1:%d+/", err, 1, false, what)
              assert.matches("> [%w-]+: <redacted>\n", err, 1, false, what)
              assert.matches("< HTTP 200 %(%d+ ms%)", err, 1, false, what)
            else
              assert.equal("", err, what)
            end
          end)
        end
      end)

      it("on failure of every kind, with a secret that is not the sandbox's", function()
        local function https(url) return (url:gsub("^http:", "https:")) end
        -- kind, which commands (all, "get" or "post": queries are retried on some, triggers are not),
        -- variants, and how: a fault on the command's path, environment, extra arguments
        local failures = {
          { "auth", "all", ALL, {} },
          { "invalid_argument", "all", SOME, { env = { CONVAI_VOICEBOT_TOKEN = SECRET .. "\r\n",
            CONVAI_AVAAMO_TOKEN = SECRET .. " x", CONVAI_VONAGE_KEY = SECRET .. "\n" } } },
          { "server", "post", ALL, { fault = { fault = "status", status = 503, count = 20 } } },
          { "rate_limited", "post", SOME, { fault = { fault = "status", status = 429, count = 20 } } },
          { "decode", "get", SOME, { fault = { fault = "invalid_json", count = 20 } } },
          { "timeout", "post", SOME, { fault = { fault = "delay", delay_ms = 3000, count = 20 },
            args = { "--timeout", "0.3" } } },
          { "network", "all", { { "json", true } }, { env = { CONVAI_VOICEBOT_URL = "http://127.0.0.1:1/v1",
            CONVAI_AVAAMO_URL = "http://127.0.0.1:1/a", CONVAI_VONAGE_URL = "http://127.0.0.1:1/v" } } },
          { "tls", "all", { { "table", true } }, { env = { CONVAI_VOICEBOT_URL = https(VB_URL),
            CONVAI_AVAAMO_URL = https(AV_URL), CONVAI_VONAGE_URL = https(VG_URL) } } },
        }
        for _, case in ipairs(failures) do
          local kind, which, variants, how = case[1], case[2], case[3], case[4]
          for _, cmd in ipairs(COMMANDS) do
            -- (a campaign retries a 429 itself: its rate_limited case ends in the next fault)
            if (which == "all" or (which == "post") == (cmd.post == true))
              and not (cmd.summary and kind == "rate_limited") then
              local env = {}
              for k, v in pairs(SECRET_ENV) do env[k] = v end
              for k, v in pairs(how.env or {}) do env[k] = v end
              local arm = how.fault and function()
                local spec = { path = cmd.path }
                for k, v in pairs(how.fault) do spec[k] = v end
                add_fault(spec)
              end
              each_variant(cmd, variants, env, how.args, arm, function(code, out, err, verbose, what)
                what = kind .. ": " .. what
                assert.equal(kind == "invalid_argument" and 2 or 1, code, what .. "\n" .. err)
                if not cmd.summary then assert.equal("", out, what) end -- a campaign prints its summary
                assert.truthy(err:find(kind, 1, true), what .. "\n" .. err)
                assert_clean(what .. " stdout", out)
                assert_clean(what .. " stderr", err)
                if verbose and kind ~= "invalid_argument" then
                  assert.matches("> [%w-]+: <redacted>\n", err, 1, false, what)
                end
              end)
            end
          end
        end
        assert_sandbox_logs_clean()
      end)

      it("in the sandbox and help commands", function()
        local dir = os.tmpname()
        os.remove(dir)
        finally(function()
          helper.cli { "sandbox", "stop", "--dir", dir }
          os.execute("rm -rf '" .. dir .. "'")
        end)
        for _, args in ipairs {
          { "--help" }, { "usage", "voicebot", "--help" }, { "usage", "avaamo", "--help" },
          { "trigger", "whatsapp", "--help" }, { "sandbox", "start", "--help" },
          { "sandbox", "start", "--port", "x" }, { "sandbox", "status", "--dir", dir },
          { "sandbox", "start", "--port", "0", "--dir", dir }, { "sandbox", "status", "--dir", dir },
          { "sandbox", "stop", "--dir", dir }, { "sandbox", "stop", "--dir", dir },
        } do
          local _, out, err = helper.cli(args, SECRET_ENV)
          assert_clean(table.concat(args, " "), out)
          assert_clean(table.concat(args, " "), err)
        end
        assert_clean("stopped sandbox error.log", read(dir .. "/error.log"))
      end)
    end)
  end)
end)
