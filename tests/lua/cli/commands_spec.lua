-- Every client call from the CLI (issue 13 §1): `trigger sms`, `trigger call`, `send-template`, `usage`
-- with several agents, `--format table|json|csv` with deterministic JSON, `--version`, `completion`.
-- Real process, real sandbox: exit status, stdout, stderr and what the sandbox received.
local helper = require "helper"
local cli_helper = require "cli_helper"

local cli = helper.cli
local with, no_secret, refused = cli_helper.with, cli_helper.no_secret, cli_helper.refused

local TO = "+44 7700 900123"
local SMS = { "trigger", "sms", "--agent-id", "agent-sms", "--to", TO, "--status-url", "https://example.com/s" }
local CALL = { "trigger", "call", "--agent-id", "agent-call", "--to", TO }
local TEMPLATE = { "send-template", "--to", TO, "--name", "Ann", "--template", "order_update" }
local AVAAMO = { "usage", "avaamo", "--agent-id", "5", "--agent-id", "6", "--from", "10/04/2020", "--to",
  "13/04/2020" }

-- The one request the sandbox received: its path and decoded body.
local function sent()
  local log = helper.log()
  assert.equal(1, #log)
  return log[1].path, helper.decode(log[1].body)
end

describe("convai CLI: every client call", function()
  before_each(helper.reset)

  describe("trigger sms", function()
    it("starts an SMS session with the Lua method's body and prints status and body", function()
      local code, out, err = cli(with(SMS, { "--session-param", "order=A-1" }))
      assert.equal(0, code, err)
      assert.matches("^status%s+body\n200%s+{.*\"session_id\"", out)
      local path, body = sent()
      assert.equal("/vonage/messaging/conversation", path)
      assert.same({ to = "447700900123", agent_id = "agent-sms", channel = "sms",
        status_url = "https://example.com/s", session_parameters = { { name = "order", value = "A-1" } } }, body)
      no_secret(out, err)
    end)

    it("refuses bad input with the Lua method's message and the hint, sending nothing", function()
      local TRY = "Try 'convai trigger sms --help'.\n"
      refused(with(SMS, { "--to", "12" }), "convai: invalid_argument: to: phone number must have 8 to 15 digits "
        .. "including the country code, got 2\n" .. TRY)
      refused(with(SMS, { "--status-url", "ftp://x" }),
        "convai: invalid_argument: status_url must be an http:// or https:// URL without spaces\n" .. TRY)
      refused({ "trigger", "sms", "--agent-id", "a", "--to", TO },
        "convai: invalid_argument: missing option '--status-url'\n" .. TRY)
      refused(with(SMS, { "--format", "xml" }), "convai: invalid_argument: argument for option '--format' must "
        .. "be one of 'table', 'json', 'csv'\n" .. TRY)
      refused(with(SMS, { "--timeout", "0" }), "convai: invalid_argument: --timeout must be a positive number "
        .. "of seconds (e.g. 30 or 0.5), got \"0\"\n" .. TRY)
    end)

    it("exits 1 naming the kind and HTTP status when the vendor refuses", function()
      local code, out, err = cli(SMS, { CONVAI_VONAGE_KEY = "wrong-SECRET-7" })
      assert.equal(1, code)
      assert.equal("", out)
      assert.matches("^convai: auth: .*%(HTTP 401%)\n$", err)
      assert.is_nil(err:find("wrong-SECRET-7", 1, true))
    end)
  end)

  describe("trigger call", function()
    it("starts a voice call, status URL optional, and prints JSON with sorted keys", function()
      local code, out, err = cli(with(CALL, { "--format", "json" }))
      assert.equal(0, code, err)
      assert.matches('^{"body":{.*},"status":200}\n$', out)
      local path, body = sent()
      assert.equal("/vonage/telephony/make-call", path)
      assert.same({ to = "447700900123", agent_id = "agent-call" }, body)
    end)

    it("refuses a bad agent id and a bad session parameter, sending nothing", function()
      local TRY = "Try 'convai trigger call --help'.\n"
      refused({ "trigger", "call", "--agent-id", "1/../x", "--to", TO },
        "convai: invalid_argument: agent_id must contain only letters, digits, '-' and '_'\n" .. TRY)
      refused(with(CALL, { "--session-param", "x" }),
        "convai: invalid_argument: --session-param must be NAME=VALUE, got \"x\"\n" .. TRY)
    end)
  end)

  describe("send-template", function()
    it("sends a template through voicebot.studio with its components, CSV output", function()
      local code, out, err = cli(with(TEMPLATE, { "--body-param", "A-1", "--agent-id", "1", "--format", "csv" }))
      assert.equal(0, code, err)
      assert.matches('^status,body\n200,"{""data"":{', out)
      local path, body = sent()
      assert.equal("/voicebot/third-party/v1/whatsapp/send-template", path)
      assert.equal("447700900123", body.phone_number)
      assert.equal("Ann", body.customer_name)
      assert.equal("order_update", body.template_name)
      assert.equal(1, body.agent_id)
      assert.same({ { type = "body", parameters = { { type = "text", text = "A-1" } } } },
        body.template_components)
      no_secret(out, err)
    end)

    it("refuses bad input with the Lua method's message, the value echoed as typed", function()
      local TRY = "Try 'convai send-template --help'.\n"
      refused(with(TEMPLATE, { "--template", "Order" }), "convai: invalid_argument: template_name \"Order\" is "
        .. "not a WhatsApp template name (lowercase letters, digits and _ only)\n" .. TRY)
      refused(with(TEMPLATE, { "--agent-id", "99999999999999999999" }), "convai: invalid_argument: agent_id must "
        .. "be a positive integer (or nil for the first WhatsApp agent), got 99999999999999999999\n" .. TRY)
      refused({ "send-template", "--to", TO, "--template", "t" },
        "convai: invalid_argument: missing option '--name'\n" .. TRY)
    end)
  end)

  describe("usage with several --agent-id", function()
    it("voicebot: one request per agent, one row per agent with its ID", function()
      helper.config { voicebot = { agents = { ["1"] = { limit = 20, usage = 4 }, ["2"] = { limit = 9, usage = 9 } } } }
      local code, out, err = cli { "usage", "voicebot", "--agent-id", "1", "--agent-id", "2" }
      assert.equal(0, code, err)
      assert.equal("agent_id  current_usage  current_limit  remaining  limit_exhausted\n"
        .. "1         4              20             16         false\n"
        .. "2         9              9              0          true\n", out)
      assert.equal(2, #helper.log())
    end)

    it("voicebot: JSON is an array of objects in the order given, CSV a header and a row each", function()
      helper.config { voicebot = { agents = { ["1"] = { limit = 20, usage = 4 }, ["2"] = { limit = 9, usage = 9 } } } }
      local code, out = cli { "usage", "voicebot", "--agent-id", "2", "--agent-id", "1", "--format", "json" }
      assert.equal(0, code)
      assert.equal('[{"agent_id":2,"current_limit":9,"current_usage":9,"limit_exhausted":true,"remaining":0},'
        .. '{"agent_id":1,"current_limit":20,"current_usage":4,"limit_exhausted":false,"remaining":16}]\n', out)
      code, out = cli { "usage", "voicebot", "--agent-id", "1", "--format", "csv" }
      assert.equal(0, code)
      assert.equal("agent_id,current_usage,current_limit,remaining,limit_exhausted\n1,4,20,16,false\n", out)
    end)

    it("avaamo: the rows of each agent, the agent ID in the first column", function()
      local code, out, err = cli(AVAAMO)
      assert.equal(0, code, err)
      assert.matches("^agent_id%s+interval%s+start %(UTC%)", out)
      assert.matches("\n5%s+aggregate%s+2020%-04%-10 00:00:00", out)
      assert.matches("\n6%s+aggregate%s+2020%-04%-10 00:00:00", out)
      assert.matches("\n6%s+slice 9%s", out)
      assert.equal(1 + 2 * 11, select(2, out:gsub("\n", "")))
      assert.equal(2, #helper.log())
    end)

    it("avaamo: JSON is byte-identical for the same input, an array with each agent_id", function()
      local code, out1 = cli(with(AVAAMO, { "--format", "json" }))
      assert.equal(0, code)
      local _, out2 = cli(with(AVAAMO, { "--format", "json" }))
      assert.equal(out1, out2)
      local r = helper.decode(out1)
      assert.equal(2, #r)
      assert.equal(5, r[1].agent_id)
      assert.equal(6, r[2].agent_id)
      assert.matches('^%[{"agent_id":5,"aggregate_stats":{"ambiguous_messages_count":', out1)
    end)

    it("a failing agent is named on stderr, the others printed, exit 1", function()
      local code, out, err = cli { "usage", "voicebot", "--agent-id", "1", "--agent-id", "5000" }
      assert.equal(1, code)
      assert.matches("^agent_id.*\n1%s+0%s+250%s+250%s+false\n$", out)
      assert.matches("^convai: not_found: agent 5000: .*%(HTTP 404%)\n$", err)
    end)

    it("refuses a bad agent id as typed, sending nothing", function()
      refused({ "usage", "voicebot", "--agent-id", "1", "--agent-id", "99999999999999999999" },
        "convai: invalid_argument: agent_id must be a positive integer, got \"99999999999999999999\"\n"
        .. "Try 'convai usage voicebot --help'.\n")
      refused({ "usage", "avaamo", "--agent-id", "1", "--agent-id", "x" },
        "convai: invalid_argument: agent_id must be a positive integer (from the agent URL), got \"x\"\n"
        .. "Try 'convai usage avaamo --help'.\n")
      refused({ "usage", "avaamo", "--agent-id", "1", "--agent-id", "2", "--from", "31/02/2024" },
        "convai: invalid_argument: from_date: \"31/02/2024\" is not a calendar date (expected dd/mm/yyyy)\n"
        .. "Try 'convai usage avaamo --help'.\n")
    end)
  end)

  describe("--version", function()
    it("prints convai X.Y.Z, and with -v the libcurl and Lua versions", function()
      local code, out = cli { "--version" }
      assert.equal(0, code)
      assert.matches("^convai %d+%.%d+%.%d+\n$", out)
      code, out = cli { "--version", "-v" }
      assert.equal(0, code)
      assert.matches("^convai %d+%.%d+%.%d+\nlibcurl/%d[^\n]*\nLua 5%.%d\n$", out)
    end)
  end)

  describe("completion", function()
    it("prints a bash script that bash parses, naming every command", function()
      local code, out = cli { "completion", "bash" }
      assert.equal(0, code)
      local path = os.tmpname()
      local f = assert(io.open(path, "w"))
      f:write(out)
      f:close()
      assert.is_true(os.execute("bash -n " .. path), "bash cannot parse the script")
      os.remove(path)
      for _, word in ipairs { "usage", "trigger", "send-template", "sms", "call", "completion", "--agent-id" } do
        assert.truthy(out:find(word, 1, true), word)
      end
    end)

    it("prints zsh and fish scripts", function()
      local code, out = cli { "completion", "zsh" }
      assert.equal(0, code)
      assert.matches("^#compdef convai", out)
      code, out = cli { "completion", "fish" }
      assert.equal(0, code)
      assert.matches("complete %-c convai", out)
    end)

    it("refuses an unknown shell", function()
      refused({ "completion", "powershell" }, "convai: invalid_argument: argument 'shell' must be one of 'bash', "
        .. "'zsh', 'fish'\nTry 'convai completion --help'.\n")
    end)
  end)
end)
