-- convai.voicebot against the sandbox: typed WhatsApp agent usage, validation, errors, secrets.
local helper = require "helper"
local voicebot = require "convai.voicebot"
local core = require "convai.core"

local URL, TOKEN = helper.env("CONVAI_VOICEBOT_URL"), helper.env("CONVAI_VOICEBOT_TOKEN")

local function client(extra)
  local opts = { base_url = URL, token = TOKEN }
  for k, v in pairs(extra or {}) do opts[k] = v end
  return assert(voicebot.new(opts))
end

describe("convai.voicebot", function()
  before_each(helper.reset)

  describe("new", function()
    it("requires a token and names the variable that holds it", function()
      local c, err = voicebot.new { base_url = URL }
      assert.is_nil(c)
      assert.equal("invalid_argument", err.kind)
      assert.matches("CONVAI_VOICEBOT_TOKEN", err.message)
    end)

    it("requires an http(s) base_url", function()
      local _, err = voicebot.new { token = TOKEN }
      assert.equal("invalid_argument", err.kind)
      assert.matches("base_url", err.message)
      _, err = voicebot.new { token = TOKEN, base_url = "ftp://x/y" }
      assert.equal("invalid_argument", err.kind)
    end)

    it("refuses non-positive timeouts", function()
      for _, bad in ipairs { 0, -1, "5", 0 / 0 } do
        local _, err = voicebot.new { base_url = URL, token = TOKEN, timeout = bad }
        assert.equal("invalid_argument", err.kind)
        assert.matches("timeout", err.message)
      end
      local _, err = voicebot.new { base_url = URL, token = TOKEN, connect_timeout = -2 }
      assert.matches("connect_timeout", err.message)
    end)

    it("refuses a token with a line break without showing it", function()
      local secret = "tok-SECRET-123\r\nX-Evil: 1"
      local c, err = voicebot.new { base_url = URL, token = secret }
      assert.is_nil(c)
      assert.equal("invalid_argument", err.kind)
      assert.is_nil(tostring(err):find("SECRET", 1, true))
    end)

    it("never shows the token when printed", function()
      local c = client()
      assert.matches("<redacted>", tostring(c))
      assert.is_nil(tostring(c):find(TOKEN, 1, true))
      for _, v in pairs(c) do assert.is_nil(tostring(v):find(TOKEN, 1, true)) end
      for _, v in pairs(c.http) do assert.is_nil(tostring(v):find(TOKEN, 1, true)) end
    end)
  end)

  describe("whatsapp_usage", function()
    it("returns typed usage of the first WhatsApp agent", function()
      local u = assert(client():whatsapp_usage())
      assert.equal("integer", math.type(u.current_usage))
      assert.equal("integer", math.type(u.current_limit))
      assert.equal("integer", math.type(u.remaining))
      assert.equal(0, u.current_usage)
      assert.equal(250, u.current_limit)
      assert.equal(250, u.remaining)
      assert.is_false(u.limit_exhausted)
      local log = helper.log()
      assert.equal(1, #log)
      assert.equal("GET", log[1].method)
      assert.equal("/voicebot/third-party/v1/whatsapp/agent-usage", log[1].path)
      assert.is_nil(log[1].query.agent_id)
      assert.equal("Bearer " .. TOKEN, log[1].headers.authorization)
    end)

    it("queries one agent and computes remaining", function()
      helper.config { voicebot = { agents = { ["7"] = { limit = 30, usage = 12 } } } }
      local u = assert(client():whatsapp_usage(7))
      assert.same({ current_usage = 12, current_limit = 30, remaining = 18, limit_exhausted = false }, u)
      assert.equal("7", helper.log()[1].query.agent_id)
    end)

    it("reports an exhausted limit", function()
      helper.config { voicebot = { agents = { ["3"] = { limit = 5, usage = 5 } } } }
      local u = assert(client():whatsapp_usage(3))
      assert.is_true(u.limit_exhausted)
      assert.equal(0, u.remaining)
    end)

    it("accepts an agent_id given as digits", function()
      assert(client():whatsapp_usage("42"))
      assert.equal("42", helper.log()[1].query.agent_id)
    end)

    it("refuses a bad agent_id and sends nothing", function()
      local c = client()
      for _, bad in ipairs { 0, -1, 1.5, "abc", "1/../../x", {}, true } do
        local u, err = c:whatsapp_usage(bad)
        assert.is_nil(u)
        assert.equal("invalid_argument", err.kind)
        assert.matches("agent_id must be a positive integer", err.message)
      end
      assert.same({}, helper.log())
    end)

    it("maps a wrong token to an auth error without showing it", function()
      local c = client { token = "wrong-token-XYZ" }
      local u, err = c:whatsapp_usage()
      assert.is_nil(u)
      assert.equal("auth", err.kind)
      assert.equal(401, err.status)
      assert.is_nil(tostring(err):find("wrong-token-XYZ", 1, true))
      -- the sandbox's request log does not keep a credential that is not its own
      assert.equal("<redacted>", helper.log()[1].headers.authorization)
      assert.equal(1, select(2, tostring(err):gsub("\n", "\n")) + 1) -- one line
    end)

    it("maps an unknown agent to not_found", function()
      local _, err = client():whatsapp_usage(999999)
      assert.equal("not_found", err.kind)
      assert.equal(404, err.status)
      assert.is_table(err.body)
    end)

    it("fails with kind network when nothing listens", function()
      local c = assert(voicebot.new { base_url = "http://127.0.0.1:1/v1", token = TOKEN })
      local _, err = c:whatsapp_usage()
      assert.equal("network", err.kind)
      assert.is_nil(err.status)
    end)

    it("times out after the configured timeout", function()
      helper.config { latency_ms = 1500 }
      local c = client { timeout = 0.3, retry = false } -- one attempt: retries are in retry_spec
      local t0 = core.monotonic()
      local _, err = c:whatsapp_usage()
      local elapsed = core.monotonic() - t0
      assert.equal("timeout", err.kind)
      assert.is_nil(err.status)
      -- gave up at the timeout, well before the 1.5 s the sandbox waits
      assert.is_true(elapsed >= 0.29 and elapsed < 1.2, "elapsed " .. elapsed)
    end)

    it("reuses one kept-alive connection", function()
      local c = client()
      for _ = 1, 5 do assert(c:whatsapp_usage()) end
      assert.equal(1, c.http.session:stats().connections)
    end)

    it("closes with <close> and is unusable afterwards", function()
      local c = client()
      do
        local cc <close> = c
        assert(cc:whatsapp_usage())
      end
      local _, err = c:whatsapp_usage()
      assert.equal("invalid_argument", err.kind)
    end)
  end)
end)
