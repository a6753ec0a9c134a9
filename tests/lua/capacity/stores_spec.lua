-- convai.capacity's stores shared between users (issue 11 §2): the same rules on `process`, `host` (one
-- flock'ed file per agent) and `redis://` (one server-side script per operation, a Redis of the test's
-- own): a reservation is counted against the capacity last read until it is settled (given back when
-- nothing was sent) or, sent, until a read that started after it; reservations are atomic across real
-- processes; they expire; a store that fails reserves nothing (kind `store`) and never shows a password.
-- The vendor is a stand-in client here (its figures set by the test), except for a campaign whose Redis
-- goes down after its read (against the sandbox); the CLI campaigns are in tests/lua/cli/capacity_spec.lua.
local helper = require "helper"
local ch = require "campaign_helper"
local redis_helper = require "redis_helper"
local core = require "convai.core"
local campaign = require "convai.campaign"
local capacity = require "convai.capacity"
local ledger = require "convai.capacity.ledger"
local voicebot = require "convai.voicebot"
local vonage = require "convai.vonage"

local format = string.format

local PASSWORD = "Cap7-convai-capacity-secret-91ac"

local function hides(text, what)
  assert.is_nil(tostring(text):find(PASSWORD, 1, true), what .. " shows the password: " .. tostring(text))
end

-- A stand-in voicebot client whose answer is `vendor.usage` (the test changes it).
local function stand_in(limit, usage)
  local vendor = { reads = 0, usage = { current_limit = limit, current_usage = usage, limit_exhausted = false } }
  function vendor.whatsapp_usage(_, _)
    vendor.reads = vendor.reads + 1
    local u = vendor.usage
    return { current_limit = u.current_limit, current_usage = u.current_usage,
      limit_exhausted = u.current_usage >= u.current_limit }
  end
  return vendor
end

local scratch = ch.scratch()
assert(os.execute("chmod 700 " .. scratch.dir))
local r -- the Redis server, started on demand

-- The store values to run the shared behaviours on (redis only when redis-server is installed).
local function stores()
  local list = { { name = "process", opts = { store = "process" } },
    { name = "host", opts = { store = "host", dir = scratch.path("capacity") } } }
  if redis_helper.available() and type(core.redis) == "function" then
    list[#list + 1] = { name = "redis", opts = function() return { store = r.url } end }
  end
  return list
end

local function new(store, client, agent_prefix)
  local o = type(store.opts) == "function" and store.opts() or store.opts
  local copy = { client = client, prefix = "convai:capacity:" .. agent_prefix .. ":" }
  for k, v in pairs(o) do copy[k] = v end
  return assert(capacity.new(copy))
end

describe("capacity stores", function()
  lazy_setup(function()
    if redis_helper.available() then r = redis_helper.start { password = PASSWORD } end
  end)
  lazy_teardown(function()
    if r then r.stop() end
    scratch.remove()
  end)

  for _, store in ipairs(stores()) do
    describe(store.name, function()
      local run = tostring(os.time()) .. math.random(1000, 9999)

      it("holds up to the capacity read, gives back what was not sent, and counts what was until a later read",
        function()
          local vendor = stand_in(5, 2)
          local cap = new(store, vendor, "a" .. run)
          local g = assert(cap:read(9))
          assert.equal(3, g.capacity)
          local t1, f = cap:hold(9)
          assert.is_table(t1)
          assert.equal(2, f.remaining)
          local t2 = assert(cap:hold(9))
          local t3 = assert(cap:hold(9))
          local no, fig = cap:hold(9)
          assert.is_false(no)
          assert.equal(0, fig.remaining)
          assert.equal(3, fig.reserved)
          -- t1 was not sent (a 429): its room comes back
          assert(cap:settle(t1, false))
          local t4 = assert(cap:hold(9))
          -- t2 and t3 were sent, the vendor counts them from now; t4 is still in flight
          assert(cap:settle(t2, true))
          assert(cap:settle(t3, true))
          vendor.usage.current_usage = 4
          g = assert(cap:read(9))
          assert.equal(0, g.capacity, "limit 5 - usage 4 - t4 in flight")
          assert.equal(1, g.usage.reserved)
          assert(cap:settle(t4, false))
          assert.equal(1, assert(cap:get(9)).remaining)
          assert.equal(2, vendor.reads)
        end)

      it("keeps counting a send that ended after the read started (the read may not count it)", function()
        local vendor = stand_in(3, 0)
        local cap = new(store, vendor, "b" .. run)
        assert(cap:read(9))
        local t = assert(cap:hold(9))
        local key = "convai:capacity:b" .. run .. ":9"
        local token = assert(cap.ops:read_begin(key))
        core.sleep(0.01)
        assert(cap:settle(t, true)) -- sent after the read started
        local fig = assert(cap.ops:read_end(key, token, vendor.whatsapp_usage()))
        assert.equal(1, fig.reserved)
        assert.equal(2, fig.remaining)
        -- an older read never replaces a newer one
        local old = token - 5
        fig = assert(cap.ops:read_end(key, old, { current_limit = 3, current_usage = 3 }))
        assert.equal(2, fig.remaining)
        -- a read that starts now counts it: the reservation stops counting
        vendor.usage.current_usage = 1
        assert.equal(2, assert(cap:read(9)).capacity)
      end)

      it("reserve (trigger endpoints) counts conversations until the next read", function()
        local vendor = stand_in(4, 1)
        local cap = new(store, vendor, "c" .. run)
        assert.is_true((cap:reserve(9, 2)))
        local ok, u = cap:reserve(9, 2)
        assert.is_false(ok)
        assert.equal(1, u.remaining)
        assert.equal(3, assert(cap:read(9)).capacity)
      end)

      it("gives several processes holding at once exactly the capacity, never more", function()
        if store.name == "process" then return end -- one process's own: nothing to share
        local vendor = stand_in(7, 0)
        local prefix = "d" .. run
        local cap = new(store, vendor, prefix)
        assert.equal(7, assert(cap:read(9)).capacity)
        local o = type(store.opts) == "function" and store.opts() or store.opts
        local child = scratch.write("hold_" .. store.name .. ".lua", format([[
local core, capacity = require "convai.core", require "convai.capacity"
local o = { client = { whatsapp_usage = function() end }, prefix = %q, store = %q, dir = %s }
local cap = assert(capacity.new(o))
local go = tonumber(arg[1])
while core.realtime() < go do end
local n = 0
for _ = 1, 10 do
  local t, err = cap:hold(9)
  assert(t ~= nil, tostring(err))
  if t then n = n + 1 end
end
print(n)
]], "convai:capacity:" .. prefix .. ":", o.store, o.dir and format("%q", o.dir) or "nil"))
        local go = core.realtime() + 0.3
        local procs = {}
        for i = 1, 3 do procs[i] = assert(io.popen(format("lua5.4 %s %.6f 2>&1", child, go))) end
        local total = 0
        for i, p in ipairs(procs) do
          local out = p:read("a")
          assert.is_true(p:close(), "process " .. i .. ": " .. out)
          total = total + assert(tonumber(out:match("%d+")), out)
        end
        assert.equal(7, total)
        local no, fig = cap:hold(9)
        assert.is_false(no)
        assert.equal(7, fig.reserved)
      end)

      it("lets a reservation in flight expire (its process died)", function()
        local vendor = stand_in(2, 0)
        local prefix = "e" .. run
        local cap = new(store, vendor, prefix)
        assert(cap:read(9))
        assert(cap:hold(9))
        assert(cap:hold(9))
        assert.is_false((cap:hold(9)))
        if store.name == "redis" then
          -- the script's EXPIRY is fixed: age the reservations on the server instead
          local k = "convai:capacity:" .. prefix .. ":9:flight"
          local ok, out = r.cli("ZRANGE", k, "0", "-1", "WITHSCORES")
          assert(ok, out)
          for id, score in out:gmatch("(%S+)\n(%S+)") do
            assert(r.cli("ZADD", k, format("%.0f", tonumber(score) - ledger.EXPIRY * 1e6 - 1), id))
          end
          local pttl = select(2, r.cli("PTTL", k))
          assert.is_true(tonumber(pttl) > (ledger.EXPIRY - 5) * 1000, "keys expire by themselves: " .. pttl)
        else
          local saved = ledger.EXPIRY
          ledger.EXPIRY = 0.05
          core.sleep(0.06)
          local t = cap:hold(9)
          ledger.EXPIRY = saved
          assert.is_table(t)
          return
        end
        assert.is_table((cap:hold(9)))
      end)
    end)
  end

  describe("redis", function()
    if not (redis_helper.available() and type(core.redis) == "function") then
      it("needs redis-server and core.redis", function() pending("redis-server or core.redis missing") end)
      return
    end

    it("fails closed when Redis is down or refuses the password: kind store, nothing reserved", function()
      local vendor = stand_in(5, 0)
      local cap = assert(capacity.new { client = vendor, store = r.url })
      assert(cap:read(5))
      assert(cap:hold(5))
      r.halt()
      local t, err = cap:hold(5)
      local t2, err2 = cap:read(5)
      r.restart()
      assert.is_nil(t)
      assert.equal("store", err.kind)
      hides(err.message, "hold error")
      hides(tostring(cap.store), "tostring(store)")
      assert.is_nil(t2)
      assert.equal("store", err2.kind)
      local wrong = assert(capacity.new { client = vendor,
        store = format("redis://:x%s@127.0.0.1:%d", PASSWORD, r.port) })
      t, err = wrong:hold(5)
      assert.is_nil(t)
      assert.equal("store", err.kind)
      hides(err.message, "wrong password")
      -- restarted empty: no read kept, so nothing is held until one is made
      local no, fig = cap:hold(5)
      assert.is_false(no)
      assert.is_nil(fig)
      assert.equal(5, assert(cap:read(5)).capacity)
    end)

    it("waits out a Redis gone down after the read, then stops the gated campaign: nothing sent, no password shown", function()
      helper.reset()
      helper.config { voicebot = { agents = { ["12"] = { limit = 5 } } },
        vonage = { agents = { C = { rate = 50, voicebot_agent = 12 } } } }
      local vb = assert(voicebot.from_env())
      local gate = campaign.voicebot_gate(vb, 12, { store = r.url })
      local waits = {}
      local read = gate.read
      gate.read = function()
        local g, err = read()
        r.halt() -- the store fails at the first reservation
        return g, err
      end
      local client = assert(vonage.from_env { retry = false, limits = "process", rates = { C = 50 } })
      local c = assert(campaign.new { sender = assert(campaign.senders.vonage_whatsapp(client, { agent_id = "C",
        namespace = "ns", template = "welcome", locale = "en_US", status_url = "https://example.com/s" })),
        gate = gate, journal = scratch.path("down.journal"), csv = ch.numbers_csv(3), rate = 50,
        store_timeout = 1, on_store_wait = function(w) waits[#waits + 1] = w end })
      local report = assert(c:run())
      r.restart()
      assert.equal("store_error", report.summary.stopped)
      assert.equal(0, report.summary.sent)
      assert.equal(3, report.summary.pending)
      assert.is_true(#waits >= 1)
      assert.equal("store", waits[1].error.kind)
      assert.matches("^store: capacity store", report.summary.stop_error)
      hides(report.summary.stop_error, "the summary's stop error")
      assert.same({}, ch.triggers())
      vb:close()
      client:close()
    end)

    it("refuses a malformed URL and rediss:// without the password", function()
      for _, url in ipairs { "redis://:" .. PASSWORD .. "@", "rediss://:" .. PASSWORD .. "@h:1" } do
        local cap, err = capacity.new { client = stand_in(1, 0), store = url }
        assert.is_nil(cap)
        assert.equal("invalid_argument", err.kind)
        hides(err.message, url)
      end
      local _, err = capacity.new { client = stand_in(1, 0), store = "rediss://h:1" }
      assert.matches("TLS", err.message, 1, true)
    end)
  end)

  describe("host", function()
    it("keeps one private file per agent beside the limits' and refuses a directory writable by others",
      function()
        local dir = scratch.path("host2")
        local cap = assert(capacity.new { client = stand_in(3, 1), store = "host", dir = dir })
        assert(cap:read(9))
        local p = assert(io.popen("stat -c %a " .. dir .. " " .. dir .. "/convai%3Acapacity%3A9"))
        assert.equal("700\n600\n", p:read("a"))
        p:close()
        assert(os.execute("chmod 777 " .. dir))
        local bad, err = capacity.new { client = stand_in(3, 1), store = "host", dir = dir }
        assert.is_nil(bad)
        assert.equal("invalid_argument", err.kind)
        assert.matches("chmod go-w", err.message, 1, true)
      end)
  end)
end)
