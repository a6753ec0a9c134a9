-- convai.capacity: the WhatsApp capacity of voicebot.studio agents through its "process" store, against
-- the sandbox: the campaign gate (a fresh read each time), the kept answer and its reservations. The
-- "shared_dict" store is run inside nginx by tests/lua/ngx/openresty_spec.lua.
local helper = require "helper"
local core = require "convai.core"
local capacity = require "convai.capacity"
local campaign = require "convai.campaign"
local process_store = require "convai.capacity.process"
local voicebot = require "convai.voicebot"

local function usage_reads(agent)
  local n = 0
  for _, e in ipairs(helper.log()) do
    if e.path:find("agent-usage", 1, true) and e.query.agent_id == agent then n = n + 1 end
  end
  return n
end

describe("convai.capacity", function()
  local vb
  before_each(function()
    helper.reset()
    helper.config { voicebot = { agents = { ["9"] = { limit = 10, usage = 7 } } } }
    vb = assert(voicebot.from_env())
  end)
  after_each(function() vb:close() end)

  describe("the campaign gate", function()
    it("reads current_limit - current_usage from the vendor on every read", function()
      local gate = campaign.voicebot_gate(vb, 9)
      assert.equal(9, gate.agent_id)
      for _ = 1, 2 do
        local g = assert(gate.read())
        assert.equal(3, g.capacity)
        assert.is_false(g.exhausted)
        assert.equal(7, g.usage.current_usage)
        assert.equal(10, g.usage.current_limit)
      end
      assert.equal(2, usage_reads("9"))
    end)

    it("says exhausted when nothing is left", function()
      helper.config { voicebot = { agents = { ["9"] = { limit = 5, usage = 5 } } } }
      local g = assert(campaign.voicebot_gate(vb, 9).read())
      assert.equal(0, g.capacity)
      assert.is_true(g.exhausted)
    end)

    it("hands a read's error back (the campaign stops with gate_error)", function()
      local g, err = campaign.voicebot_gate(vb, 1001).read()
      assert.is_nil(g)
      assert.equal("not_found", err.kind)
      g, err = campaign.voicebot_gate({}, 9).read()
      assert.is_nil(g)
      assert.equal("invalid_argument", err.kind)
    end)
  end)

  describe("get, reserve and invalidate (process store)", function()
    it("keeps the answer for ttl seconds: one vendor read for many gets", function()
      local cap = assert(capacity.new { client = vb, ttl = 30 })
      for _ = 1, 3 do assert.equal(3, assert(cap:get(9)).remaining) end
      assert.equal(1, usage_reads("9"))
      cap:invalidate(9)
      assert.equal(3, assert(cap:get(9)).remaining)
      assert.equal(2, usage_reads("9"))
    end)

    it("reserves against the remaining capacity, refusing what does not fit", function()
      local cap = assert(capacity.new { client = vb })
      local ok, u = cap:reserve(9, 2)
      assert.is_true(ok)
      assert.equal(1, u.remaining)
      assert.equal(2, u.reserved)
      ok, u = cap:reserve(9, 2)
      assert.is_false(ok)
      assert.equal(1, u.remaining, "nothing counted for a refused reservation")
      assert.is_true(cap:reserve(9))
      u = assert(cap:get(9))
      assert.equal(0, u.remaining)
      assert.is_true(u.limit_exhausted)
      -- a fresh read replaces the estimate and its reservations
      assert.equal(3, assert(cap:read(9)).capacity)
      local _, err = cap:reserve(9, 0)
      assert.equal("invalid_argument", err.kind)
    end)

    it("refuses bad options", function()
      local cases = {
        { { client = vb, ttl = 0 }, "ttl must be a number of seconds, more than 0 and at most 86400" },
        { { client = {} }, "client must be a convai.voicebot client" },
        { { client = vb, colour = 1 }, "unknown capacity option colour for store process (known: client, prefix, store, ttl)" },
        { { client = vb, store = "shared_dict", dict = "c" }, 'outside nginx use the "process" store' },
        { { client = vb, store = "memcached://:pw@h" }, "unknown capacity store scheme memcached://" },
      }
      for _, c in ipairs(cases) do
        local cap, err = capacity.new(c[1])
        assert.is_nil(cap)
        assert.equal("invalid_argument", err.kind)
        assert.is_truthy(err.message:find(c[2], 1, true), err.message)
      end
    end)
  end)

  describe("the process store", function()
    it("has the shared dict operations, with expiring entries", function()
      local s = process_store.new()
      assert.is_true(s:set("a", "x", 0.05))
      assert.equal("x", s:get("a"))
      assert.same({ false, "exists" }, { s:add("a", "y") })
      assert.equal(5, s:incr("n", 5, 0))
      assert.equal(3, s:incr("n", -2))
      assert.same({ nil, "not found" }, { s:incr("m", 1) })
      s:delete("n")
      assert.is_nil(s:get("n"))
      core.sleep(0.06)
      assert.is_nil(s:get("a"))
      assert.is_true(s:add("a", "z"))
    end)
  end)
end)
