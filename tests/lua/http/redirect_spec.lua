-- Redirects (lua/convai/http/redirect.lua, `follow_redirects`, docs/http.md "Redirects"): not followed by default; when a user
-- enables them, credential headers never go to another scheme, host or port ("localhost" and
-- "127.0.0.1" are two hosts for the sandbox), a POST never silently becomes a GET except on 303, and
-- the number of hops is bounded. What each hop carried is read back from the sandbox log, which shows
-- the sandbox's own credentials as they are and any other value as "<redacted>".
local helper = require "helper"
local cjson = require "cjson.safe"
local voicebot = require "convai.voicebot"
local avaamo = require "convai.avaamo"
local vonage = require "convai.vonage"

local PREFIX = "/voicebot/third-party/v1"
local VB_PATH = PREFIX .. "/whatsapp/agent-usage"
local VG_PATH = "/vonage/messaging/conversation"
local PORT = tonumber(helper.url:match(":(%d+)$"))
local SAME = "http://127.0.0.1:" .. PORT -- the host the clients are configured with
local OTHER = "http://localhost:" .. PORT -- the same server under another host name
local OWN_TOKEN = "Bearer " .. helper.env("CONVAI_VOICEBOT_TOKEN")

local function vb_client(opts) return helper.client("voicebot", { base_url = SAME .. PREFIX, timeout = 10 }, opts) end
local function vg_client(opts) return helper.client("vonage", { base_url = SAME .. "/vonage", timeout = 10 }, opts) end

local triggers = 0
local function fields()
  triggers = triggers + 1
  return {
    agent_id = "redirect-agent-" .. triggers, namespace = "ns_1", template = "appointment_reminder",
    locale = "en_GB", to = string.format("+44 7700 8%05d", triggers), status_url = "https://example.com/s",
  }
end

local function redirect(path, location, status, count)
  local body, code = helper.admin("POST", "/_sandbox/faults",
    { path = path, fault = "redirect", location = location, status = status, count = count })
  assert.equal(201, code, cjson.encode(body))
end

describe("redirects", function()
  before_each(function()
    helper.reset()
  end)

  it("are not followed by default: the 3xx is an http error with its status and Location", function()
    local target = OTHER .. VB_PATH
    for _, status in ipairs { 301, 302, 303, 307, 308 } do
      helper.reset()
      redirect(VB_PATH, target, status)
      local u, err = vb_client():whatsapp_usage()
      assert.is_nil(u)
      assert.equal("http", err.kind)
      assert.equal(status, err.status)
      assert.equal(target, err.location)
      assert.equal(1, err.attempts) -- and not retried
      assert.truthy(err.message:find("redirect to " .. target, 1, true), err.message)
      assert.truthy(err.message:find("see the follow_redirects option", 1, true), err.message)
      assert.equal(1, #helper.log()) -- nothing arrived at the target
    end
  end)

  it("refuses bad follow_redirects values on every client", function()
    for _, bad in ipairs { "yes", -1, 51, 1.5, {} } do
      for _, make in ipairs {
        function(o) return voicebot.new(o) end,
        function(o) o.access_token = "t"; return avaamo.new(o) end,
        function(o) o.api_key = "k"; return vonage.new(o) end,
      } do
        local o = { base_url = SAME, token = "t", follow_redirects = bad }
        local c, err = make(o)
        assert.is_nil(c)
        assert.equal("invalid_argument", err.kind)
        assert.truthy(err.message:find("follow_redirects must be", 1, true), err.message)
      end
    end
    assert.equal(5, vb_client({ follow_redirects = true }).http.follow_redirects)
    assert.equal(0, vb_client({ follow_redirects = false }).http.follow_redirects)
    assert.equal(2, vb_client({ follow_redirects = 2 }).http.follow_redirects)
  end)

  it("to another host: followed without the token (the sandbox log shows it did not travel)", function()
    redirect(VB_PATH, OTHER .. VB_PATH .. "?agent_id=3")
    local secret = "real-token-5ecret"
    local u, err = vb_client({ token = secret, follow_redirects = true }):whatsapp_usage()
    assert.is_nil(u)
    assert.equal("auth", err.kind) -- the target wanted the token it was not given
    assert.equal(1, err.redirects)
    assert.truthy(err.message:find("which was not sent the credentials", 1, true), err.message)
    assert.is_nil(tostring(err):find(secret, 1, true))
    local log = helper.log()
    assert.equal(2, #log)
    assert.equal("<redacted>", log[1].headers.authorization) -- present on the first hop
    assert.equal("127.0.0.1:" .. PORT, log[1].headers.host)
    assert.equal("localhost:" .. PORT, log[2].headers.host)
    assert.equal("3", log[2].query.agent_id)
    assert.is_nil(log[2].headers.authorization)
    -- the sandbox's own token is logged as it is: it went to the first host only
    helper.reset()
    redirect(VB_PATH, OTHER .. VB_PATH)
    vb_client({ follow_redirects = true }):whatsapp_usage()
    log = helper.log()
    assert.equal(OWN_TOKEN, log[1].headers.authorization)
    assert.is_nil(log[2].headers.authorization)
  end)

  it("to another host: Access-Token and X-Vgai-Key are dropped too (echo shows the headers)", function()
    local av = assert(avaamo.new { base_url = SAME .. "/avaamo", access_token = helper.env("CONVAI_AVAAMO_TOKEN"),
      follow_redirects = true })
    redirect("/avaamo/x", OTHER .. "/_sandbox/echo")
    local echo = assert(av.http:json("GET", "/x"))
    assert.equal("localhost:" .. PORT, echo.headers.host)
    assert.is_nil(echo.headers["access-token"])
    assert.equal("application/json", echo.headers.accept)
    local vg = vg_client { follow_redirects = 1 }
    redirect(VG_PATH, nil, 307) -- the default target: http://localhost:PORT/_sandbox/echo
    echo = assert(vg.http:json("POST", "/messaging/conversation", nil, '{"a":1}'))
    assert.equal("POST", echo.method) -- 307 keeps the method and the body
    assert.equal('{"a":1}', echo.body)
    assert.is_nil(echo.headers["x-vgai-key"])
    local log = helper.log() -- /_sandbox/echo is not logged: only the first hops
    assert.equal(2, #log)
    assert.equal(helper.env("CONVAI_AVAAMO_TOKEN"), log[1].headers["access-token"])
    assert.equal(helper.env("CONVAI_VONAGE_KEY"), log[2].headers["x-vgai-key"])
  end)

  it("another port or scheme is another host", function()
    -- same host name, another port: nothing listens on port 1, so the hop fails, without the token
    redirect(VB_PATH, "http://127.0.0.1:1" .. VB_PATH)
    local _, err = vb_client({ follow_redirects = true, retry = false }):whatsapp_usage()
    assert.equal("network", err.kind)
    assert.is_false(err.request_sent)
    assert.equal(1, err.redirects)
    -- https on the sandbox's plain port: the handshake fails (kind tls or network), nothing is read
    redirect(VB_PATH, "https://127.0.0.1:" .. PORT .. VB_PATH)
    _, err = vb_client({ follow_redirects = true, retry = false }):whatsapp_usage()
    assert.truthy(err.kind == "tls" or err.kind == "network", err.kind)
    assert.equal(2, #helper.log())
  end)

  it("on the same host keeps the credentials: relative, absolute-path and absolute Locations", function()
    local c = vb_client { follow_redirects = true }
    for i, location in ipairs {
      VB_PATH .. "?agent_id=2", -- absolute path
      "agent-usage?agent_id=3", -- relative to /voicebot/third-party/v1/whatsapp/
      "../whatsapp/./agent-usage?agent_id=4",
      SAME .. VB_PATH .. "?agent_id=5", -- absolute, same scheme, host and port
      "HTTP://127.0.0.1:" .. PORT .. VB_PATH .. "?agent_id=6#frag",
      "//127.0.0.1:" .. PORT .. VB_PATH .. "?agent_id=7", -- scheme-relative
    } do
      helper.reset()
      redirect(VB_PATH, location)
      local u, err = c:whatsapp_usage()
      assert.is_table(u, location .. ": " .. tostring(err))
      local log = helper.log()
      assert.equal(2, #log, location)
      assert.equal(VB_PATH, log[2].path)
      assert.equal(tostring(i + 1), log[2].query.agent_id, location)
      assert.equal(OWN_TOKEN, log[2].headers.authorization, location)
    end
    assert.equal(1, c.http.session:stats().connections) -- one kept-alive connection throughout
  end)

  it("once the chain has left the host, no later hop gets the credentials, even back home", function()
    redirect(VB_PATH, OTHER .. "/elsewhere")
    redirect("/elsewhere", SAME .. VB_PATH .. "?agent_id=9")
    local _, err = vb_client({ follow_redirects = true }):whatsapp_usage()
    assert.equal("auth", err.kind)
    assert.equal(2, err.redirects)
    local log = helper.log()
    assert.equal(3, #log)
    assert.equal(OWN_TOKEN, log[1].headers.authorization)
    assert.is_nil(log[2].headers.authorization)
    assert.is_nil(log[3].headers.authorization)
    assert.equal("9", log[3].query.agent_id)
  end)

  it("never turns a POST into a GET on 301 or 302: the 3xx comes back and says so", function()
    for _, status in ipairs { 301, 302 } do
      helper.reset()
      redirect(VG_PATH, VG_PATH, status)
      local r, err = vg_client({ follow_redirects = true }):trigger_whatsapp(fields())
      assert.is_nil(r)
      assert.equal("http", err.kind)
      assert.equal(status, err.status)
      assert.truthy(err.message:find("would turn the POST into a GET; not followed", 1, true), err.message)
      assert.equal(1, #helper.log())
    end
  end)

  it("follows a POST as a POST on 307 and 308, and as a GET without the body on 303", function()
    for _, status in ipairs { 307, 308 } do
      helper.reset()
      redirect(VG_PATH, VG_PATH, status) -- once: the second request reaches the emulation
      local r, err = vg_client({ follow_redirects = true }):trigger_whatsapp(fields())
      assert.is_table(r, tostring(err))
      assert.equal(200, r.status)
      local log = helper.log()
      assert.equal(2, #log)
      assert.equal("POST", log[2].method)
      assert.equal(log[1].body, log[2].body)
      assert.equal(helper.env("CONVAI_VONAGE_KEY"), log[2].headers["x-vgai-key"])
    end
    helper.reset()
    redirect(VG_PATH, "/_sandbox/echo", 303)
    local echo = assert(vg_client({ follow_redirects = true }).http:json("POST", "/messaging/conversation",
      nil, '{"a":1}'))
    assert.equal("GET", echo.method)
    assert.is_nil(echo.body)
    assert.is_nil(echo.headers["content-type"])
    assert.equal(helper.env("CONVAI_VONAGE_KEY"), echo.headers["x-vgai-key"]) -- same host
  end)

  it("stops after follow_redirects hops and returns the last 3xx", function()
    redirect(VB_PATH, VB_PATH, 302, 3)
    local _, err = vb_client({ follow_redirects = 2 }):whatsapp_usage()
    assert.equal("http", err.kind)
    assert.equal(302, err.status)
    assert.equal(2, err.redirects)
    assert.truthy(err.message:find("already followed 2 (follow_redirects = 2)", 1, true), err.message)
    assert.equal(3, #helper.log())
    -- follow_redirects = 0 follows none
    helper.reset()
    redirect(VB_PATH, VB_PATH)
    _, err = vb_client({ follow_redirects = 0 }):whatsapp_usage()
    assert.equal(302, err.status)
    assert.equal(1, #helper.log())
  end)

  it("does not follow a Location that is not an http(s) URL, or hides its host", function()
    for _, location in ipairs { "ftp://127.0.0.1/x", "file:///etc/passwd", "javascript:alert(1)", "http://",
      "http://localhost:" .. PORT .. "@127.0.0.1:" .. PORT .. VB_PATH, -- which host? not followed
      "http://localhost:" .. PORT .. "\\@127.0.0.1:" .. PORT .. VB_PATH } do
      helper.reset()
      redirect(VB_PATH, location)
      local _, err = vb_client({ follow_redirects = true }):whatsapp_usage()
      assert.equal("http", err.kind)
      assert.equal(302, err.status)
      assert.truthy(err.message:find("Location is not an http:// or https:// URL", 1, true), err.message)
      assert.equal(1, #helper.log())
    end
  end)
end)
