-- convai.campaign.pace (issue 12 §6): AIMD on 429s without Retry-After, never above the campaign's rate,
-- one warning with the rate the vendor accepted.
local pace = require "convai.campaign.pace"

describe("convai.campaign.pace", function()
  it("cuts on repeated 429s (not on one), at most once per two intervals, never under the floor", function()
    local p = pace.new(5)
    assert.is_nil(p:throttled(0.0)) -- one 429 is not repeated
    assert.equal(5 * pace.DECREASE, p:throttled(0.2))
    assert.is_nil(p:throttled(0.3))
    assert.is_nil(p:throttled(0.4)) -- within two intervals of the cut (2 / 3.5 s)
    local r = p:throttled(1.0)
    assert.equal(5 * pace.DECREASE ^ 2, r)
    for i = 1, 200 do p:throttled(1 + i * 100) p:throttled(1 + i * 100 + 1e-3) end
    assert.equal(pace.FLOOR, p.rate)
    -- 429s further apart than WINDOW are not repeated
    local q = pace.new(5)
    q:throttled(0)
    assert.is_nil(q:throttled(pace.WINDOW + 1))
  end)

  it("raises the pace additively (INCREASE per second of sends), never above the campaign's rate", function()
    local p = pace.new(2)
    assert.is_nil(p:accepted(0)) -- at its rate: nothing to raise
    p:throttled(0.1)
    p:throttled(0.2)
    assert.equal(1.4, p.rate)
    local t = 1
    for _ = 1, 4 do p:accepted(t) t = t + 1 / p.rate end -- about 3 s of sends: about 0.3 more
    assert.is_true(math.abs(p.rate - 1.7) < 0.05, p.rate)
    for _ = 1, 100 do p:accepted(t) t = t + 1 end
    assert.equal(2, p.rate)
    assert.is_nil(p:accepted(t))
  end)

  it("warns once after a cut, with (k - 1) / (t_last - t_first) of the sends accepted while refused", function()
    local p = pace.new(5)
    assert.is_nil(p:warning("A", true)) -- never cut: no warning
    p:throttled(0.1)
    p:throttled(0.3)
    for i = 1, 3 do p:accepted(i) p:throttled(i + 0.5) end -- accepted at 1, 2, 3 while 429s went on
    assert.is_nil(p:warning("A", false)) -- fewer than WARN_AFTER accepted since the first 429
    p:accepted(3.7) -- after the last 429: not counted in the vendor's rate
    assert.equal("agent A accepted about 1.0/s; --rate 5 is above its limit (ask the vendor to raise it, or use "
      .. "--rate 1)", p:warning("A", false))
    assert.is_nil(p:warning("A", true))
    assert.is_true(p:adapted() < 5)
  end)
end)
