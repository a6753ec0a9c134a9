-- tty_spec.lua - core.isatty and core.tty_columns (src/ltty.c): false or nil for pipes, closed and
-- out-of-range descriptors.

local helper = require "core_helper"
local core = helper.core

describe("core.isatty and core.tty_columns", function()
  it("are false and nil for a pipe and for descriptors that are not open", function()
    local out = helper.run_script([[
local core = require "convai.core"
print(core.isatty(1), core.isatty(2), core.isatty(-1), core.isatty(4000), core.isatty(70000))
print(core.tty_columns(1), core.tty_columns(-1), core.tty_columns(4000), core.tty_columns(70000))
]])
    if not out then return pending("interpreter unknown") end
    assert.equal("false\tfalse\tfalse\tfalse\tfalse\nnil\tnil\tnil\tnil\n", out)
  end)

  it("raises for a wrong argument type", function()
    assert.has_error(function() core.isatty("x") end)
    assert.has_error(function() core.isatty() end)
    assert.has_error(function() core.tty_columns("x") end)
    assert.is_boolean(core.isatty(0))
  end)
end)
