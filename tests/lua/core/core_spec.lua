-- core_spec.lua - what src/lcore.c adds to convai.core: the version strings and the clocks
-- (core.monotonic, core.realtime, core.sleep).

local helper = require "core_helper"
local core = helper.core

describe("convai.core", function()
  it("has versions", function()
    assert.equal("0.1.0", core.version)
    assert.is_string(core.curl_version)
    assert.truthy(core.curl_version:find("libcurl", 1, true))
  end)

  it("has a monotonic clock in seconds", function()
    local t0 = core.monotonic()
    os.execute("sleep 0.2")
    local dt = core.monotonic() - t0
    assert.is_true(dt >= 0.19 and dt < 5, "elapsed " .. dt)
  end)

  it("has the wall clock in seconds since the epoch (the clock os.time reads)", function()
    local before = os.time()
    local t = core.realtime()
    local after = os.time()
    assert.is_number(t)
    -- the same clock as os.time (within its whole seconds, and the few ms by which time(2)'s coarse
    -- clock lags clock_gettime's: realtime 256.002 was seen with os.time 255 read after it); should the
    -- machine's clock be set between the readings, one of the two still agrees with t
    assert.is_true(math.abs(t - before) <= 1.1 or math.abs(t - after) <= 1.1,
      ("realtime %.3f, os.time %d then %d"):format(t, before, after))
  end)
end)

describe("core.sleep", function()
  it("pauses for the given seconds", function()
    local t0 = core.monotonic()
    core.sleep(0.2)
    local dt = core.monotonic() - t0
    assert.is_true(dt >= 0.2 and dt < 2, "elapsed " .. dt)
    t0 = core.monotonic()
    core.sleep(0)
    assert.is_true(core.monotonic() - t0 < 0.5)
  end)

  it("raises for a bad argument", function()
    for _, v in ipairs { -1, 0 / 0, math.huge, 31536001 } do
      assert.has_error(function() core.sleep(v) end)
    end
    assert.has_error(function() core.sleep("soon") end)
    assert.has_error(function() core.sleep() end)
    assert.has_error(function() core.sleep({}) end)
  end)
end)
