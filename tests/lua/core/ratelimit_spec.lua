-- ratelimit_spec.lua - core.ratelimit: per-agent strict-window token buckets on the monotonic clock.
--
-- Runs under Lua 5.4 and LuaJIT (tests/core_helper.lua).
-- The exact arithmetic is covered by tests/c/test_ratelimit.c with injected time; here real time is
-- measured with core.monotonic, with generous bounds (a loaded machine only makes waits longer).

local core = require("core_helper").core

local RATE_MSG = "rate must be a positive number of requests per second, got "

describe("core.ratelimit", function()
  it("defaults to 1 per second, burst 1", function()
    local lim = assert(core.ratelimit())
    assert.equal("convai.ratelimit (1/s, burst 1)", tostring(lim))
    local rate, burst = lim:rate("agent")
    assert.equal(1, rate)
    assert.equal(1, burst)
    assert.equal(0, lim:take("agent"))
    local w = lim:take("agent")
    assert.is_true(w > 0.9 and w <= 1, "wait " .. w)
    assert.same({ 1, 1 }, { core.ratelimit({}):rate("x") })
  end)

  it("keeps one bucket per agent; integers are their decimal text", function()
    local lim = assert(core.ratelimit { rate = 5 })
    assert.equal(0, lim:take("A"))
    assert.equal(0, lim:take("B"))
    assert.equal(0, lim:take(7))
    local w = lim:take("7")
    assert.is_true(w > 0.15 and w <= 0.2, "wait " .. w)
    assert.is_true(lim:take(7.0) > 0)
    assert.equal(0, lim:take(-7))
    assert.equal(0, lim:take(""))
    assert.is_true(lim:take("A") > 0)
  end)

  it("refuses bad rates and bursts with a message", function()
    local cases = {
      { { rate = 0 }, RATE_MSG .. "0" },
      { { rate = -5 }, RATE_MSG .. "-5" },
      { { rate = 0 / 0 }, RATE_MSG },
      { { rate = math.huge }, RATE_MSG .. "inf" },
      { { rate = "5" }, RATE_MSG .. '"5" (a string)' },
      { { rate = true }, RATE_MSG .. "a boolean" },
      { { rate = {} }, RATE_MSG .. "a table" },
      { { burst = 0 }, "burst must be an integer from 1 to 256, got 0" },
      { { burst = 1.5 }, "burst must be an integer from 1 to 256, got 1.5" },
      { { burst = 257 }, "burst must be an integer from 1 to 256, got 257" },
      { { burst = "2" }, 'burst must be an integer from 1 to 256, got "2" (a string)' },
      { { rate = 1, brust = 2 }, 'unknown option "brust" (known: rate, burst)' },
      { { 5 }, "option names must be strings (known: rate, burst)" },
    }
    for _, c in ipairs(cases) do
      local lim, msg = core.ratelimit(c[1])
      assert.is_nil(lim)
      assert.equal(c[2], msg:sub(1, #c[2]))
    end
    assert.has_error(function() core.ratelimit(5) end)
    assert.has_error(function() core.ratelimit("fast") end)
  end)

  it("accepts any positive rate", function()
    for _, r in ipairs { 0.5, 1, 3, 5, 1 / 3600, 1e-300, 1e12, 1.7e308 } do
      local lim = assert(core.ratelimit { rate = r })
      assert.equal(r, (lim:rate("a")))
      assert.equal(0, lim:take("a"))
    end
    local lim = assert(core.ratelimit { rate = 1e12, burst = 256 })
    for _ = 1, 1000 do assert.equal(0, lim:take("a")) end
    lim = assert(core.ratelimit { rate = 0.5 })
    assert.equal(0, lim:take("a"))
    local w = lim:take("a")
    assert.is_true(w > 1.9 and w <= 2, "wait " .. w)
  end)

  it("lets a burst through at once, then none until the window has passed", function()
    local lim = assert(core.ratelimit { rate = 5, burst = 5 })
    for _ = 1, 5 do assert.equal(0, lim:take("a")) end
    local w = lim:take("a")
    assert.is_true(w > 0.9 and w <= 1, "wait " .. w) -- not 0.2: no trickle refill
    lim = assert(core.ratelimit { rate = 2, burst = 4 })
    assert.equal(0, lim:take("a", 3))
    assert.is_true(lim:take("a", 2) > 1.5)
    assert.equal(0, lim:take("a", 1))
    local v, msg = lim:take("a", 5)
    assert.is_nil(v)
    assert.equal("n must be an integer from 1 to 4 (the agent's burst), got 5", msg)
    for _, n in ipairs { 0, -1, 1.5, "1" } do
      v, msg = lim:take("a", n)
      assert.is_nil(v)
      assert.truthy(msg:find("n must be an integer from 1 to 4", 1, true))
    end
  end)

  it("paces wait(): 11 takes at 20/s span at least 0.5 s", function()
    local lim = assert(core.ratelimit { rate = 20 })
    local t0 = core.monotonic()
    local slept = 0
    for _ = 1, 11 do slept = slept + lim:wait("agent") end
    local dt = core.monotonic() - t0
    assert.is_true(dt >= 0.5, "11 takes in " .. dt .. " s")
    assert.is_true(dt < 1.0, "11 takes in " .. dt .. " s")
    assert.is_true(slept >= 0.45 and slept <= dt + 1e-6, "slept " .. slept)
    assert.is_true(lim:take("agent") > 0)
  end)

  it("wait() returns 0 when a token is there", function()
    local lim = assert(core.ratelimit { rate = 1 })
    assert.equal(0, lim:wait("a"))
    assert.equal(0, lim:wait("b"))
    local v, msg = lim:wait("a", 2)
    assert.is_nil(v)
    assert.truthy(msg:find("n must be an integer from 1 to 1", 1, true))
  end)

  it("penalize() blocks an agent for the given seconds, or one window", function()
    local lim = assert(core.ratelimit { rate = 5 })
    assert.is_true(lim:penalize("a", 30))
    local w = lim:take("a")
    assert.is_true(w > 29.9 and w <= 30, "wait " .. w)
    assert.equal(0, lim:take("b"))
    assert.is_true(lim:penalize("a", 1)) -- the longer penalty stays
    assert.is_true(lim:take("a") > 29)
    assert.is_true(lim:penalize("c")) -- no Retry-After: one window, 1/5 s
    w = lim:take("c")
    assert.is_true(w > 0.15 and w <= 0.2, "wait " .. w)
    assert.is_true(lim:penalize("d", 0))
    assert.equal(0, lim:take("d"))
    assert.is_true(lim:penalize("e", 0.1))
    local t0 = core.monotonic()
    assert.is_true(lim:wait("e") >= 0.09)
    assert.is_true(core.monotonic() - t0 >= 0.09)
    for _, s in ipairs { -1, 0 / 0, math.huge, "10", {} } do
      local v, msg = lim:penalize("a", s)
      assert.is_nil(v)
      assert.truthy(msg:find("^seconds must be a non%-negative number, got "))
    end
  end)

  it("set_rate() changes one agent's rate and burst", function()
    local lim = assert(core.ratelimit { rate = 1 })
    assert.equal(0, lim:take("a"))
    assert.is_true(lim:set_rate("a", 5))
    assert.same({ 5, 1 }, { lim:rate("a") })
    assert.same({ 1, 1 }, { lim:rate("b") })
    local w = lim:take("a") -- the take at rate 1 now counts against 1/5 s
    assert.is_true(w > 0.15 and w <= 0.2, "wait " .. w)
    assert.is_true(lim:set_rate("new", 3, 3))
    for _ = 1, 3 do assert.equal(0, lim:take("new")) end
    assert.is_true(lim:take("new") > 0.9)
    assert.same({ 3, 3 }, { lim:rate("new") })
    assert.is_true(lim:set_rate(42, 0.5))
    assert.same({ 0.5, 1 }, { lim:rate("42") })
    local v, msg = lim:set_rate("a", 0)
    assert.is_nil(v)
    assert.equal(RATE_MSG .. "0", msg)
    v, msg = lim:set_rate("a")
    assert.is_nil(v)
    assert.equal(RATE_MSG .. "nil", msg)
    v, msg = lim:set_rate("a", 5, 0)
    assert.is_nil(v)
    assert.equal("burst must be an integer from 1 to 256, got 0", msg)
    assert.same({ 5, 1 }, { lim:rate("a") }) -- unchanged
  end)

  it("raises on agents that are neither strings nor integers", function()
    local lim = assert(core.ratelimit())
    for _, a in ipairs { 1.5, {}, true, 0 / 0, math.huge } do
      assert.has_error(function() lim:take(a) end)
      assert.has_error(function() lim:wait(a) end)
      assert.has_error(function() lim:penalize(a, 1) end)
      assert.has_error(function() lim:set_rate(a, 1) end)
      assert.has_error(function() lim:rate(a) end)
    end
    assert.has_error(function() lim:take() end)
    assert.has_error(function() lim.take({}, "a") end)
  end)

  it("closes: close(), __gc, and <close> on Lua 5.4", function()
    local lim = assert(core.ratelimit())
    lim:take("a")
    lim:close()
    lim:close()
    assert.equal("convai.ratelimit (closed)", tostring(lim))
    assert.has_error(function() lim:take("a") end, "convai.ratelimit: the limiter is closed")
    assert.has_error(function() lim:set_rate("a", 1) end)
    for _ = 1, 200 do
      local l = core.ratelimit { rate = 3, burst = 3 }
      for i = 1, 20 do l:take(i) end
    end
    collectgarbage()
    collectgarbage()
    if _VERSION == "Lua 5.4" then
      local f = assert(load([[
        local core = ...
        local l <close> = assert(core.ratelimit())
        l:take("a")
        return l
      ]]))
      assert.equal("convai.ratelimit (closed)", tostring(f(core)))
    end
  end)
end)
