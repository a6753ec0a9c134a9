-- The `convai` CLI as a user runs it: real process, real sandbox, exit status, stdout and stderr.
local helper = require "helper"
local cli_helper = require "cli_helper"

local cli = helper.cli
local with, no_secret = cli_helper.with, cli_helper.no_secret

local TRIGGER = { "trigger", "whatsapp", "--agent-id", "agent-cli", "--namespace", "ns", "--template",
  "order_update", "--locale", "en", "--to", "+44 7700 900123", "--status-url", "https://example.com/s" }

describe("convai CLI", function()
  before_each(helper.reset)

  it("has --help on every command", function()
    for _, args in ipairs { { "--help" }, { "usage", "--help" }, { "usage", "voicebot", "--help" },
      { "usage", "avaamo", "--help" }, { "trigger", "--help" }, { "trigger", "whatsapp", "--help" },
      { "sandbox", "--help" }, { "sandbox", "start", "--help" },
      { "sandbox", "stop", "--help" }, { "sandbox", "status", "--help" }, { "sandbox", "env", "--help" },
      { "trigger", "sms", "--help" }, { "trigger", "call", "--help" }, { "send-template", "--help" },
      { "completion", "--help" } } do
      local code, out = cli(args)
      assert.equal(0, code, table.concat(args, " "))
      assert.matches("Usage: convai", out)
    end
  end)

  describe("usage voicebot", function()
    it("prints a table, one row per agent, the agent ID first", function()
      local code, out, err = cli { "usage", "voicebot" }
      assert.equal(0, code, err)
      assert.equal("agent_id  current_usage  current_limit  remaining  limit_exhausted\n"
        .. "(first)   0              250            250        false\n", out)
      no_secret(out, err)
    end)

    it("prints the typed result as JSON", function()
      helper.config { voicebot = { agents = { ["9"] = { limit = 20, usage = 4 } } } }
      local code, out = cli { "usage", "voicebot", "--agent-id", "9", "--format", "json" }
      assert.equal(0, code)
      assert.same({ agent_id = 9, current_usage = 4, current_limit = 20, remaining = 16,
        limit_exhausted = false }, helper.decode(out))
      assert.is_nil(out:find("%.0"), "counts must print as integers")
    end)

    it("exits 2 on a bad agent id and sends nothing", function()
      local code, out, err = cli { "usage", "voicebot", "--agent-id", "x1" }
      assert.equal(2, code)
      assert.equal("", out)
      assert.matches("agent_id must be a positive integer", err)
      assert.same({}, helper.log())
    end)

    it("exits 2 without credentials, naming the variable", function()
      local code, _, err = cli({ "usage", "voicebot" }, { CONVAI_VOICEBOT_TOKEN = false })
      assert.equal(2, code)
      assert.matches("CONVAI_VOICEBOT_TOKEN", err)
      assert.same({}, helper.log())
    end)

    it("exits 1 naming the kind and HTTP status when the API refuses", function()
      local code, _, err = cli({ "usage", "voicebot" }, { CONVAI_VOICEBOT_TOKEN = "wrong-SECRET-9" })
      assert.equal(1, code)
      assert.matches("auth", err)
      assert.matches("HTTP 401", err)
      assert.is_nil(err:find("wrong-SECRET-9", 1, true))
    end)

    it("exits 1 with kind network when the API is unreachable", function()
      local code, _, err = cli({ "usage", "voicebot" }, { CONVAI_VOICEBOT_URL = "http://127.0.0.1:1/v1" })
      assert.equal(1, code)
      assert.matches("network", err)
    end)
  end)

  describe("usage avaamo", function()
    local SAMPLE = { "usage", "avaamo", "--agent-id", "20123", "--from", "10/04/2020", "--to", "13/04/2020",
      "--utc-offset", "-25200" }

    it("prints JSON with integer counts and a null success_rate", function()
      local code, out, err = cli(with(SAMPLE, { "--format", "json" }))
      assert.equal(0, code, err)
      local r = helper.decode(out)
      assert.equal(50138, r.aggregate_stats.messages_count)
      assert.equal(91.22, r.aggregate_stats.success_rate)
      assert.equal(9, #r.stats)
      assert.matches('"success_rate":null', out)
      assert.matches('"messages_count":50138[,}]', out)
      assert.equal(1586540399.8888888, r.stats[1].end_time)
    end)

    it("prints a table with one row per interval, times in the requested zone", function()
      local code, out = cli(SAMPLE)
      assert.equal(0, code)
      assert.matches("start %(UTC%-07:00%)%s+end %(UTC%-07:00%)", out)
      assert.matches("aggregate%s+2020%-04%-10 00:00:00%s+2020%-04%-13 23:59:59%s+8123%s+50138", out)
      assert.matches("slice 9 .* %-\n", out)
      local rows = select(2, out:gsub("\n", ""))
      assert.equal(12, rows)
    end)

    it("queries a range over 7 days in windows and merges them; --no-split sends it as one request", function()
      local long = { "usage", "avaamo", "--agent-id", "7", "--from", "01/03/2024", "--to", "10/03/2024",
        "--format", "json" }
      local code, out, err = cli(long)
      assert.equal(0, code, err)
      local r = helper.decode(out)
      assert.same({ { from_date = "01/03/2024", to_date = "07/03/2024" },
        { from_date = "08/03/2024", to_date = "10/03/2024" } }, r.windows)
      assert.equal(18, #r.stats)
      assert.equal(4, #helper.log()) -- two windows, and two for the previous interval
      helper.reset()
      code, out, err = cli(with(long, { "--no-split" }))
      assert.equal(0, code, err)
      r = helper.decode(out)
      assert.is_nil(r.windows)
      assert.equal(9, #r.stats)
      assert.equal(1, #helper.log())
    end)

    it("exits 2 for bad dates or a reversed range and sends nothing", function()
      for _, args in ipairs {
        { "usage", "avaamo", "--agent-id", "1", "--from", "31/02/2024" },
        { "usage", "avaamo", "--agent-id", "1", "--from", "13/04/2020", "--to", "10/04/2020" },
        { "usage", "avaamo", "--agent-id", "1", "--utc-offset", "99999" },
        { "usage", "avaamo" },
        { "usage", "avaamo", "--agent-id", "1", "--format", "xml" },
      } do
        local code, out = cli(args)
        assert.equal(2, code, table.concat(args, " "))
        assert.equal("", out)
      end
      local _, _, err = cli { "usage", "avaamo", "--agent-id", "1", "--from", "13/04/2020", "--to", "10/04/2020" }
      assert.matches("To Date cannot be before From Date", err)
      assert.same({}, helper.log())
    end)
  end)

  describe("trigger whatsapp", function()
    it("triggers a session with parameters", function()
      local code, out, err = cli(with(TRIGGER, { "--header-param", "Ann", "--body-param", "A-1",
        "--body-param", "Friday", "--session-param", "order=A-1", "--format", "json" }))
      assert.equal(0, code, err)
      assert.equal(200, helper.decode(out).status)
      local body = helper.decode(helper.log()[1].body)
      assert.equal("447700900123", body.to)
      assert.same({ { type = "text", text = "A-1" }, { type = "text", text = "Friday" } },
        body.components[2].parameters)
      assert.same({ { name = "order", value = "A-1" } }, body.session_parameters)
      no_secret(out, err)
    end)

    it("exits 2 on invalid arguments, saying what is wrong, and sends nothing", function()
      local TRY = "Try 'convai trigger whatsapp --help'.\n"
      for _, case in ipairs {
        { with(TRIGGER, { "--to", "12" }), "convai: invalid_argument: to: phone number must have 8 to "
          .. "15 digits including the country code, got 2\n" .. TRY },
        { { "trigger", "whatsapp", "--agent-id", "a" }, "convai: invalid_argument: missing option "
          .. "'--namespace'\n" .. TRY },
        { with(TRIGGER, { "--session-param", "novalue" }),
          'convai: invalid_argument: --session-param must be NAME=VALUE, got "novalue"\n' .. TRY },
        { with(TRIGGER, { "--header-param", string.rep("x", 61) }), "convai: invalid_argument: "
          .. "components.header[1] is 61 characters long; WhatsApp allows at most 60 in a header parameter\n"
          .. TRY },
        { with(TRIGGER, { "--api-key", "k" }), "convai: invalid_argument: --api-key: credentials come from the "
          .. "environment (or a profile), never from arguments: set CONVAI_VONAGE_KEY\n" .. TRY },
      } do
        local code, out, err = cli(case[1])
        local line = table.concat(case[1], " ")
        assert.equal(2, code, line)
        assert.equal("", out, line)
        assert.equal(case[2], err, line)
      end
      assert.same({}, helper.log())
    end)

    it("exits 1 with rate_limited and HTTP 429 when the vendor refuses every attempt", function()
      assert.equal(0, (cli(TRIGGER)))
      -- the client retries a 429 (3 attempts), which could pass once the vendor's second is over
      helper.admin("POST", "/_sandbox/faults",
        { path = "/vonage/messaging/conversation", fault = "status", status = 429, count = 3 })
      -- (this command's own slots: not after the one above, which the host store would make it wait for)
      local code, _, err = cli(with(TRIGGER, { "--limits", "process" }))
      assert.equal(1, code)
      assert.matches("rate_limited", err)
      assert.matches("HTTP 429", err)
    end)
  end)

  describe("sandbox", function()
    it("starts, reports status, prints export lines, and stops", function()
      local dir = os.tmpname()
      os.remove(dir)
      local code, out, err = cli { "sandbox", "start", "--port", "0", "--dir", dir }
      assert.equal(0, code, err)
      local port = out:match("export CONVAI_VOICEBOT_URL='http://127%.0%.0%.1:(%d+)/voicebot/third%-party/v1'")
      assert.truthy(port, out)
      assert.matches("export CONVAI_VONAGE_KEY=", out)
      code, out = cli { "sandbox", "status", "--dir", dir }
      assert.equal(0, code)
      assert.matches("running at http://127.0.0.1:" .. port, out)
      local out2, err2
      code, out2, err2 = cli { "sandbox", "start", "--port", "0", "--dir", dir }
      assert.equal(0, code, "a second start in the same directory prints the running one's settings")
      assert.equal("", err2)
      assert.matches("^# already running: these are its settings\n", out2)
      assert.matches("export CONVAI_VOICEBOT_URL='http://127%.0%.0%.1:" .. port .. "/voicebot/third%-party/v1'", out2)
      code, out2 = cli { "sandbox", "env", "--dir", dir }
      assert.equal(0, code)
      assert.matches("export CONVAI_VONAGE_URL='http://127%.0%.0%.1:" .. port .. "/vonage'", out2)
      code = cli { "sandbox", "stop", "--dir", dir }
      assert.equal(0, code)
      code, out = cli { "sandbox", "status", "--dir", dir }
      assert.equal(3, code)
      assert.matches("not running", out)
      code, out, err = cli { "sandbox", "env", "--dir", dir }
      assert.equal(3, code)
      assert.equal("", out)
      assert.equal("convai: sandbox: no sandbox is running in " .. dir .. "; start one with: eval \"$(convai "
        .. "sandbox start)\"\n", err)
      os.execute("rm -rf '" .. dir .. "'")
    end)

    it("exits 2 on a bad port", function()
      assert.equal(2, (cli { "sandbox", "start", "--port", "http" }))
    end)

    it("says how to install the sandbox when it is not installed (exit 2); the other commands work", function()
      -- A checkout without the sandbox launcher (convai.sandbox): bin/convai, lua/convai but its sandbox/,
      -- the build, and a Lua path that holds nothing else but argparse and cjson.
      local root = os.tmpname()
      os.remove(root)
      local pwd = assert(io.popen("pwd"))
      local here = pwd:read("l")
      pwd:close()
      local function sh(cmd) assert(os.execute(cmd), cmd) end
      sh(("mkdir -p %s/bin %s/lua/convai %s/clib"):format(root, root, root))
      sh(("ln -s %s/bin/convai %s/bin/convai && ln -s %s/build %s/build"):format(here, root, here, root))
      sh(("for e in %s/lua/convai/*; do [ \"${e##*/}\" = sandbox ] || ln -s \"$e\" %s/lua/convai/; done")
        :format(here, root))
      sh(("ln -s %s %s/lua/argparse.lua && ln -s %s %s/clib/cjson.so"):format(
        assert(package.searchpath("argparse", package.path)), root,
        assert(package.searchpath("cjson", package.cpath)), root))
      -- Nothing on the Lua path but that checkout's lua/ (argparse and cjson linked into it).
      local function run(...)
        return cli({ ... }, { LUA_PATH = root .. "/lua/?.lua", LUA_CPATH = root .. "/clib/?.so",
          LUA_PATH_5_4 = false, LUA_CPATH_5_4 = false, LUA_INIT = false, LUA_INIT_5_4 = false }, root)
      end
      local MISSING = "convai: sandbox: the sandbox is not installed (no Lua module convai.sandbox); install it "
        .. "with 'luarocks install convai-sandbox', or run ./scripts/quickstart from a clone of convai\n"
      for _, target in ipairs { "start", "stop", "status", "env" } do
        local code, out, err = run("sandbox", target)
        assert.equal(2, code, target)
        assert.equal("", out, target)
        assert.equal(MISSING, err, target)
      end
      local code, out, err = run("usage", "voicebot")
      assert.equal(0, code, err)
      assert.matches("250%s+250%s+false\n", out)
      code, out = run("sandbox", "--help")
      assert.equal(0, code)
      assert.matches("Usage: convai sandbox", out)
      os.execute("rm -rf '" .. root .. "'")
    end)
  end)
end)
