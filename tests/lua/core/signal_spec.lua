-- signal_spec.lua - the interrupt trap (src/lsignal.c): core.trap_interrupts and core.interrupted, in a
-- fresh interpreter that sends SIGTERM to itself (SIGINT would be ignored while os.execute waits).

local helper = require "core_helper"
local core = helper.core

describe("core.trap_interrupts", function()
  it("counts the first signal, and the second one ends the process", function()
    local out = helper.run_script([[
local core = require "convai.core"
print("before", core.interrupted())
assert(core.trap_interrupts(true) == true)
os.execute("kill -TERM $PPID")
print("trapped", core.interrupted())
core.trap_interrupts(false)
print("reset", core.interrupted())
core.trap_interrupts(true)
os.execute("kill -TERM $PPID")
io.stdout:flush()
os.execute("kill -TERM $PPID")
print("survived")
]])
    if not out then return pending("interpreter unknown") end
    assert.truthy(out:find("before\t0\ntrapped\t1\nreset\t0\n", 1, true), out)
    assert.falsy(out:find("survived", 1, true), out)
  end)

  it("reads 0 when nothing was trapped", function()
    assert.equal(0, core.interrupted())
  end)
end)
