-- journal_spec.lua - campaign journal files and the digest (src/ljournal.c): core.journal (append-only,
-- written whole and fsync'd, locked against a second opener), core.digest (FNV-1a 64). Campaigns use
-- them through convai.journal (tests/lua/campaign_spec.lua).

local helper = require "core_helper"
local core = helper.core

describe("core.journal", function()
  local dir
  before_each(function()
    dir = os.tmpname()
    os.remove(dir)
    assert(helper.run("mkdir -p '" .. dir .. "'"))
  end)
  after_each(function() helper.run("rm -rf '" .. dir .. "'") end)

  it("appends records, reports its size, truncates and closes", function()
    local path = dir .. "/j.log"
    local j = assert(core.journal(path))
    assert.equal("convai.journal (open)", tostring(j))
    assert.equal(0, j:size())
    assert.is_true(j:append("one\n"))
    assert.is_true(j:append("two, partial"))
    assert.equal(16, j:size())
    assert.is_true(helper.is_integer(j:size()))
    assert.is_true(j:truncate(4))
    assert.equal(4, j:size())
    assert.is_true(j:append("three\n"))
    assert.equal("one\nthree\n", helper.read_file(path))
    j:close()
    j:close()
    assert.equal("convai.journal (closed)", tostring(j))
    assert.has_error(function() j:append("x") end, "journal is closed")
    assert.has_error(function() j:size() end, "journal is closed")
  end)

  it("is locked: a second opener is refused until it is closed", function()
    local path = dir .. "/j.log"
    local j = assert(core.journal(path))
    local again, msg = core.journal(path)
    assert.is_nil(again)
    assert.equal("journal '" .. path .. "' is in use by another process", msg)
    j:close()
    again = assert(core.journal(path))
    again:close()
  end)

  it("fails with a message for a path it cannot open, and raises for bad arguments", function()
    local j, msg = core.journal(dir .. "/missing/j.log")
    assert.is_nil(j)
    assert.truthy(msg:find("cannot open journal '" .. dir .. "/missing/j.log': ", 1, true))
    assert.has_error(function() core.journal() end)
    j = assert(core.journal(dir .. "/j.log"))
    assert.has_error(function() j:append({}) end)
    assert.has_error(function() j:truncate(-1) end)
    j:close()
  end)
end)

describe("core.digest", function()
  it("is FNV-1a 64 as 16 lowercase hex digits", function()
    assert.equal("cbf29ce484222325", core.digest(""))
    assert.equal("af63dc4c8601ec8c", core.digest("a"))
    assert.equal("04331a76167f7541", core.digest("convai"))
    assert.equal(core.digest("to\n1\n"), core.digest("to\n1\n"))
    assert.not_equal(core.digest("to\n1\n"), core.digest("to\n2\n"))
    assert.has_error(function() core.digest() end)
  end)
end)
