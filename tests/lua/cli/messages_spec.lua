-- Messages that say how to fix it (issue 13 §5): one `convai: KIND: MESSAGE` prefix, the command's
-- `Try '... --help'` hint on every usage error, the variable of a failing credential, credentials never
-- from arguments, the plain-HTTP and endpoint-path hints, the subcommands of a group, a sandbox port in
-- use. Real process, real sandbox; the messages are compared whole.
local helper = require "helper"
local cli_helper = require "cli_helper"

local cli = helper.cli
local refused = cli_helper.refused
local URL = helper.env("CONVAI_VOICEBOT_URL")
local PORT = helper.url:match(":(%d+)$")

describe("convai CLI messages", function()
  before_each(helper.reset)

  it("a group without its subcommand lists the subcommands", function()
    refused({ "usage" }, "convai: invalid_argument: 'convai usage' needs a subcommand:\n"
      .. "  voicebot   WhatsApp agent usage at voicebot.studio: business-initiated conversations in the rolling "
      .. "24 h window.\n"
      .. "  avaamo     Avaamo agent usage statistics over a date range.\n"
      .. "Try 'convai usage --help'.\n")
    local _, _, err = cli { "trigger" }
    assert.matches("\n  whatsapp .*\n  sms .*\n  call .*\nTry 'convai trigger %-%-help'%.\n$", err)
  end)

  it("every usage error ends with the hint of the command typed", function()
    refused({ "usage", "avaamo", "--agent-id", "1", "--bogus" }, "convai: invalid_argument: unknown option "
      .. "'--bogus'\nTry 'convai usage avaamo --help'.\n")
    refused({ "frobnicate" }, "convai: invalid_argument: unknown command 'frobnicate'\nTry 'convai --help'.\n")
    refused({ "usage", "voicebot", "--timeout", "soon" }, "convai: invalid_argument: --timeout must be a "
      .. "positive number of seconds (e.g. 30 or 0.5), got \"soon\"\nTry 'convai usage voicebot --help'.\n")
  end)

  it("a credential given as an option is refused, naming the variable that holds it", function()
    refused({ "usage", "voicebot", "--token", "x" }, "convai: invalid_argument: --token: credentials come from "
      .. "the environment (or a profile), never from arguments: set CONVAI_VOICEBOT_TOKEN\n"
      .. "Try 'convai usage voicebot --help'.\n")
    refused({ "usage", "avaamo", "--agent-id", "1", "--access-token", "x" }, "convai: invalid_argument: "
      .. "--access-token: credentials come from the environment (or a profile), never from arguments: set "
      .. "CONVAI_AVAAMO_TOKEN\nTry 'convai usage avaamo --help'.\n")
  end)

  it("a token written as 'Bearer xxx' is refused before sending, the value never echoed", function()
    refused({ "usage", "voicebot" }, "convai: invalid_argument: CONVAI_VOICEBOT_TOKEN starts with 'Bearer ': "
      .. "drop the prefix and give the token alone (convai sends the 'Bearer ' header itself)\n"
      .. "Try 'convai usage voicebot --help'.\n", { CONVAI_VOICEBOT_TOKEN = "Bearer SECRET-x1" })
  end)

  it("an auth error names the variable of the credential", function()
    local code, out, err = cli({ "usage", "voicebot" }, { CONVAI_VOICEBOT_TOKEN = "wrong-SECRET-9" })
    assert.equal(1, code)
    assert.equal("", out)
    assert.equal("convai: auth: voicebot.studio: Unauthenticated. (check CONVAI_VOICEBOT_TOKEN) (HTTP 401)\n", err)
    local _
    code, _, err = cli({ "trigger", "call", "--agent-id", "a", "--to", "+44 7700 900123" },
      { CONVAI_VONAGE_KEY = "wrong-SECRET-9" })
    assert.equal(1, code)
    assert.matches("^convai: auth: .*%(check CONVAI_VONAGE_KEY%) %(HTTP 401%)\n$", err)
  end)

  it("https:// on a plain-HTTP port says the URL should probably be http://", function()
    local code, _, err = cli({ "usage", "voicebot", "--timeout", "5" },
      { CONVAI_VOICEBOT_URL = URL:gsub("^http:", "https:") })
    assert.equal(1, code)
    assert.matches("^convai: tls: .*wrong version number %(the server answers plain HTTP there: "
      .. "CONVAI_VOICEBOT_URL should probably start with http://%)", err)
  end)

  it("a base URL that holds the endpoint path says so on the 404", function()
    local code, _, err = cli({ "usage", "voicebot" }, { CONVAI_VOICEBOT_URL = URL .. "/whatsapp/agent-usage" })
    assert.equal(1, code)
    assert.equal("convai: not_found: voicebot.studio: Not Found. (CONVAI_VOICEBOT_URL holds an endpoint path; "
      .. "give the base URL only, e.g. https://1-client.server.healvi-chat/third-party/v1) (HTTP 404)\n", err)
  end)

  it("a network error has the same prefix", function()
    local code, _, err = cli({ "usage", "voicebot" }, { CONVAI_VOICEBOT_URL = "http://127.0.0.1:1/v1" })
    assert.equal(1, code)
    assert.matches("^convai: network: [^\n]+\n$", err)
  end)

  it("a sandbox port in use is one line suggesting --port 0", function()
    local dir = os.tmpname()
    os.remove(dir)
    local code, out, err = cli { "sandbox", "start", "--port", PORT, "--dir", dir }
    os.execute("rm -rf '" .. dir .. "'")
    assert.equal(1, code)
    assert.equal("", out)
    assert.equal("convai: sandbox: port " .. PORT .. " is in use (another program, or a sandbox started with "
      .. "another --dir, listens there); choose another --port, or --port 0 for any free port\n", err)
  end)

  describe("retries", function()
    local USAGE_PATH = "/voicebot/third-party/v1/whatsapp/agent-usage"

    it("-v shows each pause before a retry and why", function()
      helper.add_fault { path = USAGE_PATH, fault = "status", status = 503, count = 2 }
      local code, out, err = cli { "usage", "voicebot", "-v" }
      assert.equal(0, code, err)
      assert.matches("250%s+false\n$", out)
      local pauses = {}
      for s in err:gmatch("%* retrying GET http://[^ ]+/whatsapp/agent%-usage in (%d+%.%d%d) s: HTTP 503\n") do
        pauses[#pauses + 1] = tonumber(s)
      end
      assert.equal(2, #pauses, err)
      assert.matches("< HTTP 503 .*\n%* retrying GET [^\n]* in [%d.]+ s: HTTP 503\n> GET ", err)
    end)

    it("-v shows a paced send's wait for its agent's next slot after a 429, with why", function()
      helper.add_fault { path = "/vonage/messaging/conversation", fault = "status", status = 429,
        retry_after = 1, count = 1 }
      local code, out, err = cli { "trigger", "whatsapp", "--agent-id", "agent-wait", "--namespace", "ns",
        "--template", "order_update", "--locale", "en", "--to", "+44 7700 900123", "--status-url",
        "https://example.com/s", "--limits", "process", "-v" }
      assert.equal(0, code, err)
      assert.truthy(out ~= "")
      local s = err:match("< HTTP 429 %(%d+ ms%)\n%* waiting (%d+%.%d%d) s for agent agent%-wait's next slot: "
        .. "HTTP 429\n> POST ")
      assert.is_truthy(s, err)
      assert.is_true(tonumber(s) > 0.5 and tonumber(s) <= 2.5, s)
      assert.is_nil(err:find("* retrying", 1, true), err) -- the slot paces it, not the retry policy
      assert.equal(2, #helper.log())
    end)

    it("--deadline bounds the whole call, retries included; --timeout each attempt", function()
      helper.add_fault { path = USAGE_PATH, fault = "delay", delay_ms = 3000, count = 3 }
      local t0 = os.time()
      local code, _, err = cli { "usage", "voicebot", "--timeout", "2", "--deadline", "1" }
      assert.is_true(os.time() - t0 <= 2, "--deadline 1 took " .. (os.time() - t0) .. " s")
      assert.equal(1, code)
      assert.matches("^convai: timeout: ", err)
    end)

    it("refuses a bad --deadline, sending nothing", function()
      refused({ "usage", "voicebot", "--deadline", "-1" }, "convai: invalid_argument: --deadline must be a "
        .. "positive number of seconds (e.g. 30 or 0.5), got \"-1\"\nTry 'convai usage voicebot --help'.\n")
      refused({ "trigger", "call", "--agent-id", "a", "--to", "+44 7700 900123", "--deadline", "soon" },
        "convai: invalid_argument: --deadline must be a positive number of seconds (e.g. 30 or 0.5), got "
        .. "\"soon\"\nTry 'convai trigger call --help'.\n")
    end)
  end)

  describe("campaign run", function()
    local function tmpdir()
      local d = os.tmpname()
      os.remove(d)
      assert(os.execute("mkdir -p '" .. d .. "'"))
      return d
    end
    local function write(path, text)
      local f = assert(io.open(path, "w"))
      f:write(text)
      f:close()
    end
    local function exists(path)
      local f = io.open(path)
      if f then f:close() end
      return f ~= nil
    end
    local function run(csv, journal, more)
      local args = { "campaign", "run", csv, "--agent-id", "a", "--namespace", "n", "--template", "t",
        "--locale", "en", "--status-url", "https://example.com/s", "--journal", journal, "--limits", "process" }
      for _, a in ipairs(more or {}) do args[#args + 1] = a end
      return cli(args)
    end

    it("a directory given as the recipients file says so", function()
      local d = tmpdir()
      local code, out, err = run(d, d .. "/j")
      assert.equal(2, code)
      assert.equal("", out)
      assert.equal("convai: invalid_argument: cannot read the recipients file " .. d .. ": Is a directory (give the "
        .. "CSV file)\nTry 'convai campaign run --help'.\n", err)
      assert.is_false(exists(d .. "/j"))
      os.execute("rm -rf '" .. d .. "'")
    end)

    it("a CSV with only a header exits 2 before creating a journal, unless --allow-empty", function()
      local d = tmpdir()
      write(d .. "/r.csv", "to,name\n")
      local code, out, err = run(d .. "/r.csv", d .. "/j")
      assert.equal(2, code)
      assert.equal("", out)
      assert.equal("convai: invalid_argument: " .. d .. "/r.csv has a header and no recipient rows: nothing to "
        .. "send (pass --allow-empty to run it anyway)\nTry 'convai campaign run --help'.\n", err)
      assert.is_false(exists(d .. "/j"))
      code, out, err = run(d .. "/r.csv", d .. "/j", { "--allow-empty" })
      assert.equal(0, code, err)
      assert.matches("recipients%s+0\n", out)
      os.execute("rm -rf '" .. d .. "'")
    end)

    it("invalid rows are told in the CSV's column names, not Lua field paths", function()
      local d = tmpdir()
      write(d .. "/r.csv", "to,name,header.1\n+44 7700 900123,Ann," .. string.rep("y", 61) .. "\n")
      local code, _, err = run(d .. "/r.csv", d .. "/j")
      assert.equal(2, code)
      assert.matches("^convai: invalid_argument: recipients line 2: header%.1 is 61 characters long;", err)
      assert.is_nil(err:find("components", 1, true), err)
      assert.same({}, helper.log())
      os.execute("rm -rf '" .. d .. "'")
    end)

    it("a failed recipient is one `convai: KIND:` line in the CSV's column names, as in the report file",
      function()
      local d = tmpdir()
      write(d .. "/r.csv", "to,name,header.1\n+44 7700 900123,Ann,x\n")
      helper.add_fault { path = "/vonage/messaging/conversation", fault = "status", status = 422, count = 1,
        body = '{"message":"components.header[1] is not in the approved template"}',
        content_type = "application/json" }
      local code, _, err = run(d .. "/r.csv", d .. "/j", { "--report", d .. "/rep.csv" })
      assert.equal(1, code, err)
      local line = err:match("[^\n]*recipients line 2[^\n]*")
      assert.matches("^convai: unprocessable: recipients line 2 %(447700900123%): failed: .*header%.1 is not in "
        .. "the approved template.* %(HTTP 422%)$", line)
      assert.is_nil(err:find("components", 1, true), err)
      local f = assert(io.open(d .. "/rep.csv"))
      local text = f:read("a")
      f:close()
      assert.matches("header%.1 is not in the approved template", text)
      assert.is_nil(text:find("components", 1, true), text)
      os.execute("rm -rf '" .. d .. "'")
    end)

    it("a campaign stopped by a refused credential says so with the one prefix, every line", function()
      local d = tmpdir()
      write(d .. "/r.csv", "to,name\n+44 7700 900123,Ann\n+44 7700 900124,Bob\n")
      helper.add_fault { path = "/vonage/messaging/conversation", fault = "status", status = 401, count = 2 }
      local code, _, err = run(d .. "/r.csv", d .. "/j")
      assert.equal(1, code, err)
      for l in err:gmatch("[^\n]+") do
        assert.matches("^convai: [%w_]+: ", l)
      end
      assert.matches("\nconvai: auth: campaign stopped: ", "\n" .. err)
      os.execute("rm -rf '" .. d .. "'")
    end)
  end)
end)
