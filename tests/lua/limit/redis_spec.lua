-- The redis store of convai.limit in plain Lua (issue 11): the C core's hiredis client (core.redis) on
-- a Redis server of the test's own (tests/redis_helper.lua), several limits and processes on one agent,
-- the server's clock, the keys and their expiry, NOSCRIPT, failures that claim and send nothing, and a
-- password that shows nowhere. Inside nginx the same store runs in tests/lua/ngx/redis_spec.lua.
local helper = require "helper"
local redis_helper = require "redis_helper"
local core = require "convai.core"
local limit = require "convai.limit"
local runtime = require "convai.runtime"
local redis_script = require "convai.limit.redis_script"

-- A password that must show nowhere: not in an error, nor a tostring.
local PASSWORD = "Pw5Kd-convai-lua-secret-3f8b"

-- Under the memory checks (helper.slow: valgrind runs the client about 30 times slower) the time between
-- two claims, which the second claim's delay reflects, grows: tolerances widen by SLOW seconds there.
local SLOW = helper.slow and 0.05 or 0

local function near(expected, got, tol, what, unit)
  tol = tol + SLOW * (unit or 1) -- unit: 1000 when the figures are milliseconds
  assert.is_true(math.abs(got - expected) <= tol, ("%s: expected %.4f, got %.4f"):format(what, expected, got))
end

local function hides(text, what)
  assert.is_nil(tostring(text):find(PASSWORD, 1, true), what .. " shows the password: " .. tostring(text))
end

local function cli(r, ...) return r.reply(...) end

describe("the redis store of convai.limit (plain Lua, hiredis)", function()
  if not (type(core.redis) == "function" and type(core.parse_redis_url) == "function") then
    it("needs core.redis and core.parse_redis_url (the C core's hiredis client)", function()
      pending("core.redis is not built yet")
    end)
    return
  end
  if not redis_helper.available() then
    it("needs redis-server", function() pending("redis-server is not installed") end)
    return
  end

  local r
  lazy_setup(function() r = redis_helper.start { password = PASSWORD } end)
  lazy_teardown(function() if r then r.stop() end end)
  before_each(function() cli(r, "FLUSHALL") end)

  local function new(opts)
    local o = { store = r.url, rate = 10, margin = 0 }
    for k, v in pairs(opts or {}) do o[k] = v end
    return assert(limit.new(o))
  end

  describe("claims", function()
    it("gives two limits (two connections) distinct slots one interval apart, on one schedule", function()
      local a, b = new(), new()
      assert.equal("convai.limit (redis, 10/s, margin 0)", tostring(a))
      near(0, assert(a:acquire("A")), 0.005, "first slot")
      near(0.1, assert(b:acquire("A")), 0.01, "second slot, other connection")
      near(0.2, assert(a:acquire("A")), 0.01, "third slot")
      near(0, assert(b:acquire("B")), 0.005, "another agent has its own slots")
    end)

    it("claims nothing beyond within: rate_limited with the exact wait", function()
      local lim = new()
      assert(lim:acquire("A", 0))
      local d, err = lim:acquire("A", 0)
      assert.is_nil(d)
      assert.equal("rate_limited", err.kind)
      near(0.1, err.wait, 0.01, "wait")
      near(0.1, assert(lim:acquire("A", 1)), 0.01, "the slot refused is still free")
    end)

    it("penalize holds the agent on the server; slots already claimed keep their time", function()
      local lim = new()
      assert(lim:acquire("A"))
      assert.is_true(lim:penalize("A", 0.5))
      local _, err = lim:acquire("A", 0)
      assert.equal("rate_limited", err.kind)
      near(0.5, err.wait, 0.01, "held")
      assert.is_true(lim:penalize("A", 0.1), "a shorter hold changes nothing")
      near(0.5, assert(lim:acquire("A", 1)), 0.01, "first slot after the hold")
    end)

    it("shares an agent's slots between processes: they interleave, never two within an interval", function()
      local script = os.tmpname()
      local f = assert(io.open(script, "w"))
      f:write(([[
local core, limit = require "convai.core", require "convai.limit"
local lim = assert(limit.new { store = %q, rate = 20, margin = 0 })
for _ = 1, 10 do
  local t0 = core.realtime()
  local d = assert(lim:acquire("P", 60))
  io.write(("%%.6f %%.6f\n"):format(t0 + d, core.realtime() + d))
  io.flush()
  core.sleep(d)
end
]]):format(r.url))
      f:close()
      local procs = {}
      for i = 1, 3 do procs[i] = assert(io.popen("lua5.4 " .. script)) end
      local all = {}
      for i, p in ipairs(procs) do
        for line in p:lines() do
          local lo, hi = line:match("^(%S+) (%S+)$")
          all[#all + 1] = { lo = tonumber(lo), hi = tonumber(hi), who = i }
        end
        assert.is_true(p:close(), "process " .. i .. " failed")
      end
      os.remove(script)
      assert.equal(30, #all)
      assert.is_true(helper.distinct_slots(all, 0.05))
      local switches = 0
      for i = 2, #all do
        if all[i].who ~= all[i - 1].who then switches = switches + 1 end
      end
      assert.is_true(switches >= 10, "the processes did not interleave: " .. switches .. " switches")
    end)

    it("keeps time by the server's clock: a client clock an hour off changes nothing", function()
      local realtime, now = core.realtime, runtime.now
      core.realtime = function() return realtime() + 3600 end
      runtime.now = core.realtime
      local ok, err = pcall(function()
        local lim = new()
        near(0, assert(lim:acquire("A")), 0.005, "first slot")
        near(0.1, assert(lim:acquire("A")), 0.01, "second slot")
      end)
      core.realtime, runtime.now = realtime, now
      assert(ok, err)
      -- the agent's next free time is the server's TIME (ms) plus two intervals, whatever the client's clock
      local sec, usec = cli(r, "TIME"):match("^(%d+)%s+(%d+)$")
      local server_ms = tonumber(sec) * 1000 + tonumber(usec) / 1000
      near(server_ms + 200, tonumber(cli(r, "GET", "convai:limit:A")), 20, "tat (ms)", 1000)
    end)
  end)

  describe("keys", function()
    it("are PREFIX limit:AGENT (prefix convai: by default) and expire by themselves after the last slot", function()
      local lim = new()
      assert(lim:acquire("A"))
      assert(lim:acquire("A"))
      assert.equal("convai:limit:A", cli(r, "KEYS", "*"))
      local ttl = tonumber(cli(r, "PTTL", "convai:limit:A"))
      assert.is_true(ttl > 0 and ttl <= 200 + redis_script.EXPIRE_AFTER_MS, "PTTL " .. ttl)
      local other = new { prefix = "myapp:" }
      near(0, assert(other:acquire("A")), 0.005, "another prefix, another schedule")
      assert.equal("myapp:limit:A", cli(r, "KEYS", "myapp:*"))
      core.sleep((200 + redis_script.EXPIRE_AFTER_MS) / 1000 + 0.1)
      assert.equal("", cli(r, "KEYS", "*"))
    end)

    it("live in the URL's database", function()
      local lim = assert(limit.new { store = r.url .. "/3" })
      assert(lim:acquire("A"))
      assert.equal("", cli(r, "KEYS", "*"))
      assert.equal("convai:limit:A", cli(r, "-n", "3", "KEYS", "*"))
    end)
  end)

  describe("the connection", function()
    it("runs the script again after SCRIPT FLUSH (NOSCRIPT), and keeps using EVALSHA", function()
      local lim = new()
      local t0 = runtime.monotonic()
      assert(lim:acquire("A"))
      cli(r, "SCRIPT", "FLUSH") -- a redis-cli process: its time passes between the two claims
      local d = assert(lim:acquire("A"))
      local elapsed = runtime.monotonic() - t0
      -- the second slot starts one interval (0.1 s) after the first: what is left of it now
      assert.is_true(d <= 0.1 + 0.001 and d >= 0.1 - elapsed - 0.001,
        ("claim after SCRIPT FLUSH: %.4f s, expected 0.1 s less the %.4f s between the claims"):format(d, elapsed))
      cli(r, "CONFIG", "RESETSTAT")
      assert(lim:acquire("A"))
      local stats = cli(r, "INFO", "commandstats")
      assert.matches("cmdstat_evalsha:calls=1,", stats, 1, true)
      assert.is_nil(stats:find("cmdstat_eval:", 1, true), "one round trip: EVALSHA only")
    end)

    it("reconnects once when the kept connection broke (a Redis restart)", function()
      local lim = new()
      assert(lim:acquire("A"))
      r.restart()
      near(0, assert(lim:acquire("A")), 0.005, "first slot of an emptied Redis")
    end)
  end)

  describe("fails closed", function()
    local vonage
    lazy_setup(function() vonage = helper.client("vonage", { retry = false }) end)
    before_each(function() helper.reset() end)

    local function fails(lim, what)
      local d, err = lim:acquire("F")
      assert.is_nil(d, what)
      assert.equal("store", err.kind, what)
      hides(err.message, what .. " error")
      hides(tostring(err), what .. " tostring(err)")
      hides(tostring(lim), what .. " tostring(limit)")
      local _, perr = lim:penalize("F", 1)
      assert.equal("store", perr.kind, what .. " penalize")
      local res, serr = lim:wrap(vonage):trigger_whatsapp { agent_id = "F", namespace = "ns_1",
        template = "appointment_reminder", locale = "en_GB", to = "+44 7700 900501",
        status_url = "https://example.com/s" }
      assert.is_nil(res, what)
      assert.equal("store", serr.kind, what .. " paced send")
      hides(serr.message, what .. " paced send")
      assert.are.same({}, helper.log(), what .. ": something was sent")
      return err
    end

    it("a wrong password, no password, no server, a server gone: kind store, nothing claimed or sent", function()
      local port = r.port
      local wrong = fails(assert(limit.new { store = ("redis://:x%s@127.0.0.1:%d"):format(PASSWORD, port) }),
        "wrong password")
      assert.matches("WRONGPASS", wrong.message, 1, true)
      local none = fails(assert(limit.new { store = ("redis://127.0.0.1:%d"):format(port) }), "no password")
      assert.matches("NOAUTH", none.message, 1, true)
      fails(assert(limit.new { store = ("redis://:%s@127.0.0.1:1/0"):format(PASSWORD) }), "no server")
      local lim = new()
      assert(lim:acquire("F"))
      r.halt()
      local ok, err = pcall(fails, lim, "server stopped")
      r.restart()
      assert(ok, err)
      assert.equal("", cli(r, "KEYS", "*"), "nothing claimed while it was down")
      near(0, assert(lim:acquire("F")), 0.005, "back once the server is")
    end)

    it("a server that stops answering: kind store after about the timeout", function()
      local lim = new { timeout = 0.3 }
      assert(lim:acquire("A"))
      local pause = assert(io.popen(("redis-cli -h 127.0.0.1 -p %d --no-auth-warning -a %s CLIENT PAUSE 1500 ALL")
        :format(r.port, PASSWORD)))
      pause:close()
      local d, err, took = helper.timed(lim.acquire, lim, "A")
      assert.is_nil(d)
      assert.equal("store", err.kind)
      assert.is_true(took < 1.4, "took " .. took .. " s")
      core.sleep(1.6)
    end)
  end)

  describe("URLs and options", function()
    it("refuses malformed URLs and rediss:// (no TLS in hiredis) without quoting the password", function()
      for _, url in ipairs {
        ("redis://:%s@127.0.0.1:notaport/0"):format(PASSWORD),
        ("redis://:%s@127.0.0.1:6379/notadb"):format(PASSWORD),
        ("redis://:%s@127.0.0.1:99999"):format(PASSWORD),
      } do
        local lim, err = limit.new { store = url }
        assert.is_nil(lim, url)
        assert.equal("invalid_argument", err.kind)
        hides(err.message, "a malformed URL's error")
      end
      local lim, err = limit.new { store = ("rediss://:%s@127.0.0.1:6380"):format(PASSWORD) }
      assert.is_nil(lim)
      assert.equal("invalid_argument", err.kind)
      assert.matches("tls", err.message:lower(), 1, true)
      hides(err.message, "rediss:// error")
    end)

    it("refuses bad options, naming them", function()
      for _, c in ipairs {
        { { prefix = 5 }, "prefix must be a string" },
        { { timeout = 0 }, "timeout must be a positive number of seconds" },
        { { connect_timeout = "1" }, "connect_timeout must be a positive number of seconds" },
        { { dict = "x" }, "unknown limit option dict for store redis" },
      } do
        local o = { store = r.url }
        for k, v in pairs(c[1]) do o[k] = v end
        local lim, err = limit.new(o)
        assert.is_nil(lim)
        assert.equal("invalid_argument", err.kind)
        assert.is_truthy(err.message:find(c[2], 1, true), err.message)
        hides(err.message, "an option's error")
      end
    end)

    it("takes an ACL user and its password", function()
      local u = redis_helper.start { user = "convai", user_password = PASSWORD }
      local ok, err = pcall(function()
        local lim = assert(limit.new { store = ("redis://convai:%s@127.0.0.1:%d"):format(PASSWORD, u.port) })
        near(0, assert(lim:acquire("A")), 0.005, "first slot")
        local bad = assert(limit.new { store = ("redis://convai:x%s@127.0.0.1:%d"):format(PASSWORD, u.port) })
        local _, berr = bad:acquire("A")
        assert.equal("store", berr.kind)
        hides(berr.message, "a refused user's error")
      end)
      u.stop()
      assert(ok, err)
    end)
  end)
end)
