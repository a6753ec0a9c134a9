-- convai.limit: the per-agent slot interface, through its "process" backend (core.ratelimit), its
-- wrap of a vendor client (a convai.vonage client on the sandbox), and a backend plugged in with
-- register. The "shared_dict" backend is run inside nginx by tests/lua/ngx/openresty_spec.lua.
local helper = require "helper"
local core = require "convai.core"
local limit = require "convai.limit"
local vonage = require "convai.vonage"

local monotonic = core.monotonic

-- Under the memory checks (helper.slow) the time between two claims, which a claim's delay reflects,
-- grows: tolerances widen by SLOW seconds there.
local SLOW = helper.slow and 0.05 or 0

local function near(expected, got, tol, what)
  tol = tol + SLOW
  assert.is_true(math.abs(got - expected) <= tol, ("%s: expected %.4f, got %.4f"):format(what, expected, got))
end

describe("convai.limit", function()
  describe("new", function()
    it("defaults to the process store, 1 per second, margin 0.1", function()
      local lim = assert(limit.new {})
      assert.equal("convai.limit (process, 1/s, margin 0.1)", tostring(lim))
      local rate, interval = lim:rate("A")
      assert.equal(1, rate)
      near(1.1, interval, 1e-12, "interval")
    end)

    it("gives each agent of rates its own rate, the others the default", function()
      local lim = assert(limit.new { rate = 2, rates = { fast = 5, [7] = 3 }, margin = 0 })
      assert.same({ 5, 0.2 }, { lim:rate("fast") })
      assert.same({ 3, 1 / 3 }, { lim:rate(7) })
      assert.same({ 2, 0.5 }, { lim:rate("other") })
    end)

    it("refuses bad and unknown options, naming them", function()
      local cases = {
        { { rate = 0 }, "rate must be a positive number of sessions per second" },
        { { rate = "1" }, "rate must be a positive number of sessions per second" },
        { { margin = -0.1 }, "margin must be a number of seconds from 0 to 10" },
        { { max_wait = 0 }, "max_wait must be a positive number of seconds" },
        { { rates = 5 }, "rates must be a table {[agent_id] = rate}" },
        { { rates = { A = 0 } }, "rates[A] must be a positive number of sessions per second" },
        { { dict = "x" }, "unknown limit option dict for store process (known: margin, max_wait, rate, rates, setting, store)" },
        { { store = "nowhere" }, 'unknown limit store "nowhere" (known: host, process, redis, rediss, shared_dict)' },
        { { store = "shared_dict", dict = "d" }, 'no lua_shared_dict "d"' },
      }
      for _, c in ipairs(cases) do
        local lim, err = limit.new(c[1])
        assert.is_nil(lim)
        assert.equal("invalid_argument", err.kind)
        assert.is_truthy(err.message:find(c[2], 1, true), err.message)
      end
      local _, err = limit.new "process"
      assert.equal("invalid_argument", err.kind)
    end)

    it("never quotes a store URL, which may carry a password", function()
      local lim, err = limit.new { store = "memcached://user:s3cret@127.0.0.1:6379/0" }
      assert.is_nil(lim)
      assert.equal("invalid_argument", err.kind)
      assert.is_truthy(err.message:find("unknown limit store scheme memcached://", 1, true), err.message)
      assert.is_nil(err.message:find("s3cret", 1, true))
    end)
  end)

  describe("acquire (process store)", function()
    it("claims distinct slots one interval apart, the first at once", function()
      local lim = assert(limit.new { rate = 10, margin = 0 })
      assert.equal(0, assert(lim:acquire("A")))
      near(0.1, assert(lim:acquire("A")), 0.01, "second slot")
      near(0.2, assert(lim:acquire("A")), 0.01, "third slot")
      assert.equal(0, assert(lim:acquire("B")), "another agent has its own slots")
    end)

    it("counts an integer agent as its decimal text", function()
      local lim = assert(limit.new { rate = 10, margin = 0 })
      assert.equal(0, assert(lim:acquire(7)))
      assert.is_true(assert(lim:acquire("7")) > 0.05)
    end)

    it("claims nothing beyond within: rate_limited with the exact wait", function()
      local lim = assert(limit.new { rate = 10, margin = 0 })
      assert(lim:acquire("A"))
      local d, err = lim:acquire("A", 0.01)
      assert.is_nil(d)
      assert.equal("rate_limited", err.kind)
      near(0.1, err.wait, 0.01, "wait")
      assert.equal(1, err.retry_after)
      -- nothing was claimed: the same slot is still the next one
      near(0.1, assert(lim:acquire("A")), 0.01, "the slot refused is still free")
      local _
      _, err = lim:acquire("A", -1)
      assert.equal("invalid_argument", err.kind)
    end)

    it("within 0 claims only a slot that starts now", function()
      local lim = assert(limit.new { rate = 10, margin = 0 })
      assert.equal(0, assert(lim:acquire("A", 0)))
      local d, err = lim:acquire("A", 0)
      assert.is_nil(d)
      assert.equal("rate_limited", err.kind)
      near(0.1, err.wait, 0.01, "wait")
      core.sleep(err.wait)
      assert.equal(0, assert(lim:acquire("A", 0)))
    end)

    it("refuses a slot further than max_wait, claiming nothing", function()
      local lim = assert(limit.new { rate = 1, margin = 0, max_wait = 0.5 })
      assert(lim:acquire("A"))
      local d, err = lim:acquire("A")
      assert.is_nil(d)
      assert.equal("rate_limited", err.kind)
      assert.is_truthy(err.message:find("no free slot within max_wait (0.5 s); 1 sessions per second", 1, true),
        err.message)
      assert.equal(1, err.retry_after)
    end)

    it("refuses an agent that is not a non-empty string or an integer", function()
      local lim = assert(limit.new {})
      for _, bad in ipairs { "", false, {}, 1.5 } do
        local d, err = lim:acquire(bad)
        assert.is_nil(d)
        assert.equal("invalid_argument", err.kind)
        assert.equal("agent must be a non-empty string (the agent ID)", err.message)
      end
    end)
  end)

  describe("wait (process store)", function()
    it("returns the seconds waited: three slots at 10/s take at least two intervals", function()
      local lim = assert(limit.new { rate = 10, margin = 0 })
      local t0 = monotonic()
      local waited = {}
      for i = 1, 3 do waited[i] = assert(lim:wait("A")) end
      local elapsed = monotonic() - t0
      assert.is_true(elapsed >= 0.2 - 0.001, "three slots took " .. elapsed)
      assert.is_true(waited[1] < 0.01)
      assert.is_true(waited[2] >= 0.099 and waited[3] >= 0.099, "waits " .. waited[2] .. ", " .. waited[3])
    end)

    it("holds an agent back after penalize, by default one window", function()
      local lim = assert(limit.new { rate = 100, margin = 0.1 })
      assert(lim:penalize("A", 0.3))
      near(0.3, assert(lim:acquire("A")), 0.02, "after penalize(0.3)")
      assert(lim:penalize("B"))
      near(1.1, assert(lim:acquire("B")), 0.02, "after penalize() (1 + margin)")
      local ok, err = lim:penalize("A", -1)
      assert.is_nil(ok)
      assert.equal("invalid_argument", err.kind)
      local _
      _, err = lim:penalize("", 1)
      assert.equal("invalid_argument", err.kind)
    end)

    it("fails at once when the slot is beyond max_wait", function()
      local lim = assert(limit.new { max_wait = 1 })
      assert(lim:penalize("C", 5))
      local t0 = monotonic()
      local w, err = lim:wait("C")
      assert.is_nil(w)
      assert.equal("rate_limited", err.kind)
      assert.is_true(err.retry_after >= 4)
      assert.is_true(monotonic() - t0 < 0.5)
    end)
  end)

  describe("wrap", function()
    -- A convai.vonage client on the sandbox: the wrap gives it this limit, so its sends (and their 429
    -- re-pacing) are the client's own sends on the limit.
    local run = tostring(os.time()) .. tostring(math.random(1000, 9999))
    local function client()
      return assert(vonage.new { base_url = helper.env("CONVAI_VONAGE_URL"), retry = false,
        api_key = helper.env("CONVAI_VONAGE_KEY"), limits = "process" })
    end
    local function fields(agent, i)
      return { agent_id = agent, namespace = "ns_1", template = "appointment_reminder", locale = "en_GB",
        to = "+44 7700 90" .. (1000 + i), status_url = "https://example.com/status" }
    end
    local function posts()
      local out = {}
      for _, e in ipairs(helper.log()) do
        if e.method == "POST" and e.path:find("/vonage/", 1, true) then out[#out + 1] = e end
      end
      return out
    end

    before_each(helper.reset)

    it("paces the methods of SENDS, each in a slot of this limit; the rest passes through", function()
      local lim = assert(limit.new { rate = 10, margin = 0 })
      local vg = client()
      local paced = assert(lim:wrap(vg))
      local agent = "wrap-" .. run
      helper.config { vonage = { agents = { [agent] = { rate = 10 } } } }
      local t0 = monotonic()
      for i = 1, 3 do assert(paced:trigger_whatsapp(fields(agent, i))) end
      assert.is_true(monotonic() - t0 >= 0.199, "3 sends at 10/s took " .. (monotonic() - t0))
      assert.equal(3, #posts())
      assert.equal(lim, paced.limit)
      assert.equal(vg.SENDS, paced.SENDS)
      assert.are_not.equal(lim, vg.limit, "the client itself keeps its own limit")
      assert.matches("^paced convai.vonage{", tostring(paced))
      assert.is_nil(tostring(paced):find(helper.env("CONVAI_VONAGE_KEY"), 1, true))
    end)

    it("claims no slot for a request that fails its checks", function()
      local lim = assert(limit.new { rate = 1 })
      local r, err = assert(lim:wrap(client())):trigger_whatsapp { agent_id = "A" }
      assert.is_nil(r)
      assert.equal("invalid_argument", err.kind)
      assert.same({}, posts())
      assert.equal(0, assert(lim:acquire("A")), "A's first slot is still free")
    end)

    it("sends again in a new slot after a 429, holding the agent for its Retry-After", function()
      helper.add_fault { path = "/vonage/messaging/conversation", fault = "status", status = 429, count = 1,
        retry_after = "1" }
      local lim = assert(limit.new { rate = 100, margin = 0 })
      local r = assert(assert(lim:wrap(client())):trigger_whatsapp(fields("wrap429-" .. run, 1)))
      assert.equal(200, r.status)
      local p = posts()
      assert.equal(2, #p)
      assert.is_true(p[2].time - p[1].time >= 0.95, "the second attempt waited the Retry-After")
    end)

    it("gives up after PACED_ATTEMPTS 429s with the last error, and holds the agent", function()
      helper.add_fault { path = "/vonage/messaging/conversation", fault = "status", status = 429, count = 5 }
      local lim = assert(limit.new { rate = 100, margin = 0 })
      local agent = "wrapgive-" .. run
      local r, err = assert(lim:wrap(client())):trigger_whatsapp(fields(agent, 1))
      assert.is_nil(r)
      assert.equal("rate_limited", err.kind)
      assert.equal(limit.PACED_ATTEMPTS, #posts())
      local _, aerr = lim:acquire(agent, 0)
      assert.equal("rate_limited", aerr.kind, "held for the other senders")
    end)

    it("passes a client without SENDS through, and refuses one it cannot give the limit", function()
      local lim = assert(limit.new {})
      local c = { x = function(_, v) return v * 2 end }
      assert.equal(4, lim:wrap(c):x(2))
      local _, err = lim:wrap { SENDS = { trigger_x = { channel = "x", agent = "agent_id" } } }
      assert.equal("invalid_argument", err.kind)
      assert.matches("with_limit", err.message)
    end)
  end)

  describe("stores and derived limits", function()
    it("outside nginx, a sender given no store uses host; a limit is recognised", function()
      assert.same({ store = "host" }, limit.default())
      assert.is_true(limit.is_limit(assert(limit.new {})))
      assert.is_false(limit.is_limit({ acquire = function() end }))
    end)

    it("starts the errors about the store with the setting that named it", function()
      local _, err = limit.new { store = "nowhere", setting = "CONVAI_LIMITS" }
      assert.matches('^CONVAI_LIMITS: unknown limit store "nowhere"', err.message)
      _, err = limit.new { store = "process", setting = 5 }
      assert.equal("setting must be a string", err.message)
      _, err = limit.new { rate = 0, setting = "--limits" }
      assert.matches("^rate must be", err.message) -- not about the store
    end)

    it("derives a limit with other rates on the same slots", function()
      local base = assert(limit.new { rate = 10, margin = 0, rates = { A = 20 } })
      local slow = assert(base:derive { rates = { B = 2 }, margin = 0.5 })
      assert.same({ 20, 0.075 }, { slow:rate("A") })
      assert.same({ 2, 0.75 }, { slow:rate("B") })
      assert.same({ 10, 0.15 }, { slow:rate("C") })
      assert.same({ 10, 0.1 }, { base:rate("C") }, "the base is unchanged")
      assert.equal(0, assert(slow:acquire("C", 0)))
      local _, err = base:acquire("C", 0)
      assert.equal("rate_limited", err.kind, "the derived limit's claim holds the base's slot")
      _, err = base:derive { margin = -1 }
      assert.equal("invalid_argument", err.kind)
    end)

    it("takes the slot of each attempt of a send, holding the agent after a 429", function()
      local lim = assert(limit.new { rate = 100, margin = 0 })
      assert.is_true(assert(lim:slot("S")) < 0.05)
      local t0 = monotonic()
      assert(lim:slot("S", core.error("rate_limited", "429", { status = 429, retry_after = 0.3 })))
      near(0.3, monotonic() - t0, 0.05, "held for Retry-After")
      t0 = monotonic()
      assert(lim:slot("S", core.error("server", "503", { status = 503 })))
      assert.is_true(monotonic() - t0 < 0.05, "another failure holds nothing")
    end)
  end)

  describe("register", function()
    it("plugs in a backend, chosen by name or by URL scheme", function()
      local calls = {}
      local backend = {
        OPTIONS = { url = true },
        new = function(opts)
          return {
            acquire = function(_, id, interval, within)
              calls[#calls + 1] = { id = id, interval = interval, within = within, store = opts.store }
              return 0.25, true
            end,
            penalize = function() return true end,
          }
        end,
      }
      assert(limit.register("teststore", backend))
      local lim = assert(limit.new { store = "teststore://h/0", rate = 4, margin = 0 })
      assert.equal(0.25, assert(lim:acquire("A", 1)))
      assert.same({ { id = "A", interval = 0.25, within = 1, store = "teststore://h/0" } }, calls)
      assert(limit.new { store = "teststore" })
      local ok, err = limit.register("teststore", {})
      assert.is_nil(ok)
      assert.equal("invalid_argument", err.kind)
    end)
  end)
end)
