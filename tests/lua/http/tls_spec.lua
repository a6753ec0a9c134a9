-- HTTPS against a sandbox of its own (own directory, own ports, started and stopped here) with a test CA
-- made now: convai refuses the certificate by default (`err.kind == "tls"`, nothing reaches the API),
-- accepts it with the CA file option (or CONVAI_CAFILE), and refuses it with another CA.
local helper = require "helper"
local core = require "convai.core"
local cjson = require "cjson.safe"
local sandbox = require "convai.sandbox"
local voicebot = require "convai.voicebot"
local avaamo = require "convai.avaamo"
local vonage = require "convai.vonage"

local function tmpdir()
  local d = os.tmpname()
  os.remove(d)
  return d
end

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

local function have_openssl()
  local p = io.popen("command -v openssl")
  local out = p:read("a")
  p:close()
  return out:match("%S") ~= nil
end

local creds = sandbox.credentials

describe("TLS", function()
  if not have_openssl() then
    it("needs the openssl command", function() pending("openssl missing") end)
    return
  end

  local dir, info, admin -- the TLS sandbox: its directory, its status, a session for its admin API
  local wrong -- another CA (and certificate), trusted by nobody here

  local function log()
    local resp = assert(admin:request { url = info.url .. "/_sandbox/log" })
    return cjson.decode(resp.body).requests
  end

  local function reset()
    assert(admin:request { method = "POST", url = info.url .. "/_sandbox/reset" })
  end

  -- The three clients on the sandbox's HTTPS URL, with `extra` options (e.g. cafile).
  local function clients(extra)
    local function opts(t)
      for k, v in pairs(extra or {}) do t[k] = v end
      t.retry = false
      return t
    end
    return {
      voicebot = function()
        local c, err = voicebot.new(opts { base_url = info.tls_url .. "/voicebot/third-party/v1",
          token = creds.voicebot.token })
        if not c then return nil, err end
        return c:whatsapp_usage(3)
      end,
      avaamo = function()
        local c, err = avaamo.new(opts { base_url = info.tls_url .. "/avaamo", access_token = creds.avaamo.token })
        if not c then return nil, err end
        return c:usage { agent_id = 20123, from_date = "10/04/2020", to_date = "13/04/2020", utc_offset = -25200 }
      end,
      vonage = function(n)
        -- (a limit of its own: a refused handshake has claimed its agent's slot in the host store)
        local c, err = vonage.new(opts { base_url = info.tls_url .. "/vonage", api_key = creds.vonage.key,
          limits = "process" })
        if not c then return nil, err end
        return c:trigger_whatsapp { agent_id = "tls-" .. n, namespace = "ns", template = "order_update",
          locale = "en", to = "+44 7700 900123", status_url = "https://example.com/s" }
      end,
    }
  end

  setup(function()
    dir = tmpdir()
    local err
    info, err = sandbox.start { port = 0, dir = dir, tls = true }
    assert(info, err)
    admin = assert(core.session { timeout = 10 })
    wrong = assert(sandbox.make_tls(tmpdir()))
  end)

  teardown(function()
    if admin then admin:close() end
    if info then sandbox.stop { dir = dir } end
    os.execute("rm -rf '" .. dir .. "'")
    if wrong then os.execute("rm -rf '" .. wrong.ca:match("^(.*)/[^/]+$") .. "'") end
  end)

  before_each(function() reset() end)

  it("serves HTTPS on a second port, with the CA in the state directory", function()
    assert.matches("^https://127%.0%.0%.1:%d+$", info.tls_url)
    assert.not_equal(info.port, info.tls_port)
    assert.equal(dir .. "/tls/ca.pem", info.cafile)
    assert.is_true(exists(info.cafile))
    local env = {}
    for _, kv in ipairs(sandbox.env(info)) do env[kv[1]] = kv[2] end
    assert.equal(info.cafile, env.CONVAI_CAFILE)
    assert.equal(info.tls_url .. "/voicebot/third-party/v1", env.CONVAI_VOICEBOT_URL)
    assert.same(info, sandbox.status { dir = dir })
  end)

  it("is refused without the CA file: kind tls, nothing sent, nothing reaches the API", function()
    for name, call in pairs(clients()) do
      local res, err = call(1)
      assert.is_nil(res, name)
      assert.equal("tls", err.kind, name .. ": " .. tostring(err))
      assert.is_false(err.request_sent, name)
      assert.truthy(err.message:find("CONVAI_CAFILE", 1, true), "the message says how to fix it")
    end
    assert.same({}, log())
  end)

  it("works with cafile = the sandbox's CA", function()
    local n = 0
    for name, call in pairs(clients { cafile = info.cafile }) do
      n = n + 1
      local res, err = call(n)
      assert.is_table(res, name .. ": " .. tostring(err))
    end
    local entries = log()
    assert.equal(3, #entries)
    for _, e in ipairs(entries) do assert.equal(200, e.status) end
  end)

  it("is refused with another CA: kind tls, nothing reaches the API", function()
    for name, call in pairs(clients { cafile = wrong.ca }) do
      local res, err = call(1)
      assert.is_nil(res, name)
      assert.equal("tls", err.kind, name .. ": " .. tostring(err))
      assert.is_false(err.request_sent, name)
      assert.truthy(err.message:find("check cafile", 1, true), tostring(err))
    end
    -- the certificate the other CA made is no substitute either
    local res, err = clients { cafile = wrong.cert }.voicebot()
    assert.is_nil(res)
    assert.equal("tls", err.kind)
    assert.same({}, log())
  end)

  it("from the CLI: --tls prints HTTPS export lines with CONVAI_CAFILE, and the CLI uses it", function()
    local d = tmpdir()
    finally(function()
      helper.cli { "sandbox", "stop", "--dir", d }
      os.execute("rm -rf '" .. d .. "'")
    end)
    local code, out, err = helper.cli { "sandbox", "start", "--port", "0", "--tls", "--dir", d }
    assert.equal(0, code, err)
    local env = {}
    for name, value in out:gmatch("export (CONVAI_[%w_]+)='([^']*)'\n") do env[name] = value end
    assert.equal(d .. "/tls/ca.pem", env.CONVAI_CAFILE)
    assert.matches("^https://127%.0%.0%.1:%d+/voicebot/third%-party/v1$", env.CONVAI_VOICEBOT_URL)
    assert.matches("# HTTPS at https://127%.0%.0%.1:%d+, certificate signed by the CA in " .. d:gsub("%p", "%%%0"),
      out)
    code, out = helper.cli({ "usage", "voicebot", "--format", "json" }, env)
    assert.equal(0, code, out)
    assert.equal(250, helper.decode(out).current_limit)
    env.CONVAI_CAFILE = "" -- empty is unset
    local stderr
    code, out, stderr = helper.cli({ "usage", "voicebot", "--verbose" }, env)
    assert.equal(1, code)
    assert.equal("", out)
    assert.matches("tls error", stderr)
    assert.matches("CONVAI_CAFILE", stderr)
    code, out = helper.cli { "sandbox", "status", "--dir", d }
    assert.equal(0, code)
    assert.matches("HTTPS at https://127%.0%.0%.1:%d+ %(CA " .. d:gsub("%p", "%%%0") .. "/tls/ca%.pem%)", out)
    assert.equal(0, (helper.cli { "sandbox", "stop", "--dir", d }))
  end)

  it("takes a certificate and key given by the caller, and its CA", function()
    local d = tmpdir()
    finally(function()
      sandbox.stop { dir = d }
      os.execute("rm -rf '" .. d .. "'")
    end)
    local own = assert(sandbox.make_tls(d .. "/own"))
    local st = assert(sandbox.start { port = 0, dir = d, tls = { cert = own.cert, key = own.key, ca = own.ca } })
    assert.equal(own.ca, st.cafile)
    local c = assert(voicebot.new { base_url = st.tls_url .. "/voicebot/third-party/v1",
      token = creds.voicebot.token, cafile = own.ca })
    assert.is_table(c:whatsapp_usage())
    c:close()
    local c2 = assert(voicebot.new { base_url = st.tls_url .. "/voicebot/third-party/v1",
      token = creds.voicebot.token, cafile = info.cafile, retry = false })
    local res, err = c2:whatsapp_usage()
    assert.is_nil(res)
    assert.equal("tls", err.kind)
    c2:close()
    assert(sandbox.stop { dir = d })
  end)

  it("refuses bad tls options before writing anything", function()
    local d = tmpdir()
    for _, opts in ipairs {
      { tls = "yes" },
      { tls = { cert = "/nonexistent/cert.pem", key = "/nonexistent/key.pem" } },
      { tls = { cert = info.cafile } },
      { tls = { cert = "/tmp/a b.pem", key = info.cafile } },
      { tls = true, port = 8000, tls_port = 8000 },
      { tls = true, tls_port = 70000 },
    } do
      opts.dir = d
      local st, err = sandbox.start(opts)
      assert.is_nil(st)
      assert.matches("tls", err)
      assert.is_false(exists(d), "nothing written")
    end
  end)
end)
