-- convai.limit's "host" store (lua/convai/limit/host.lua on core.state_file), with real processes and real
-- files: lua5.4 children claiming one agent's slots at once never share one, a child SIGKILLed while it
-- holds the lock blocks nobody, the stored time outlives the processes, and a directory or file that is
-- not private (another owner, writable by group or others, a symbolic link) is refused with its fix.
-- No HTTP here.
local ch = require "campaign_helper"
local core = require "convai.core"
local config = require "convai.config"
local limit = require "convai.limit"
local host = require "convai.limit.host"

local format = string.format

local function sh(cmd)
  local ok = os.execute(cmd)
  return ok
end

-- A scratch directory (campaign_helper's): the store's directory is DIR/limits (created by the store).
local scratch_dir
local function scratch()
  scratch_dir = ch.scratch()
  assert(sh("chmod 700 " .. scratch_dir.dir))
  return scratch_dir.dir
end
local function read_file(path) return scratch_dir.read(path) end
local function write_file(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

local function store(dir, more)
  local o = { store = "host", dir = dir .. "/limits", margin = 0 }
  for k, v in pairs(more or {}) do o[k] = v end
  return limit.new(o)
end

-- A Lua script run by lua5.4 children (LUA_PATH and LUA_CPATH come from the environment).
local function script(dir, source)
  local path = dir .. "/child.lua"
  write_file(path, source)
  return path
end

local is_root = (io.popen("id -u"):read("l")) == "0"

describe("convai.limit host store", function()
  local dir
  before_each(function() dir = scratch() end)
  after_each(function() scratch_dir.remove() end)

  it("lives under $XDG_STATE_HOME/convai/limits (else ~/.local/state/convai/limits), created 0700", function()
    assert.equal("/x/convai/limits", config.limits_dir(function(n) return ({ XDG_STATE_HOME = "/x", HOME = "/h" })[n] end))
    assert.equal("/h/.local/state/convai/limits",
      config.limits_dir(function(n) return ({ XDG_STATE_HOME = "rel", HOME = "/h" })[n] end))
    local _, err = config.limits_dir(function() return nil end)
    assert.equal("invalid_argument", err.kind)
    assert.matches("set XDG_STATE_HOME or HOME", err.message)
    -- the suite's scripts point XDG_STATE_HOME at a scratch directory
    local lim = assert(limit.new { store = "host" })
    assert.equal("convai.limit (host, 1/s, margin 0.1)", tostring(lim))
    local p = io.popen("stat -c %a '" .. assert(config.limits_dir()) .. "'")
    assert.equal("700", p:read("l"))
    p:close()
    assert(store(dir))
    p = io.popen(format("stat -c %%a '%s/limits'", dir))
    assert.equal("700", p:read("l"))
    p:close()
  end)

  it("keeps one file per agent, its ID made a safe file name", function()
    assert.equal("agent-1_B", host.file_name("agent-1_B"))
    assert.equal("voicebot%3A7", host.file_name("voicebot:7"))
    assert.equal("a%2F%2E%2E%2Fb%20c", host.file_name("a/../b c"))
    local long = host.file_name(string.rep("é", 200))
    assert.is_true(#long <= 200)
    assert.is_nil(long:find("/", 1, true))
    assert.not_equal(long, host.file_name(string.rep("é", 199) .. "e"))
    local lim = assert(store(dir, { rate = 2 }))
    assert.equal(0, assert(lim:acquire("voicebot:7")))
    local text = read_file(dir .. "/limits/voicebot%3A7")
    local tat, written = text:match("^tat=(%d+%.%d+) written=(%d+%.%d+)\n$")
    assert.is_truthy(tat, text)
    assert.is_true(math.abs(tonumber(tat) - tonumber(written) - 0.5) < 1e-5, text)
    local p = io.popen(format("stat -c %%a '%s/limits/voicebot%%3A7'", dir))
    assert.equal("600", p:read("l"))
    p:close()
  end)

  it("claims slots one interval apart and holds an agent after penalize", function()
    local lim = assert(store(dir, { rate = 10 }))
    assert.equal(0, assert(lim:acquire("A")))
    local d = assert(lim:acquire("A"))
    assert.is_true(d > 0.09 and d <= 0.1, "second slot in " .. d)
    local _, err = lim:acquire("A", 0)
    assert.equal("rate_limited", err.kind)
    assert.is_true(err.wait > 0.19 and err.wait <= 0.2, "nothing claimed: " .. err.wait)
    assert.equal(0, assert(lim:acquire("B")), "another agent has its own slots")
    assert(lim:penalize("B", 5))
    _, err = lim:acquire("B", 1)
    assert.is_true(err.wait > 4.9, "held: " .. err.wait)
    assert(lim:penalize("B", 1)) -- a shorter hold keeps the longer one
    _, err = lim:acquire("B", 1)
    assert.is_true(err.wait > 4.9)
  end)

  it("gives two processes claiming one agent at once never the same slot", function()
    -- Slots 10 s apart, claimed far ahead (within = huge): no claim waits, and each slot is the file's
    -- time plus a whole number of intervals, so a shared slot would show as a lost update.
    local lim = assert(store(dir, { rate = 0.1 }))
    assert.equal(0, assert(lim:acquire("shared")))
    local tat0 = tonumber(read_file(dir .. "/limits/shared"):match("^tat=(%S+)"))
    local child = script(dir, [[
      local core, limit = require "convai.core", require "convai.limit"
      local lim = assert(limit.new { store = "host", dir = arg[1], rate = 0.1, margin = 0 })
      local go = tonumber(arg[2])
      while core.realtime() < go do end
      for _ = 1, 20 do print(string.format("%.6f", core.realtime() + assert(lim:acquire("shared", math.huge)))) end
    ]])
    local go = core.realtime() + 0.3
    assert(sh(format("lua5.4 %s %s/limits %.6f > %s/a.out 2>&1 & lua5.4 %s %s/limits %.6f > %s/b.out 2>&1; wait",
      child, dir, go, dir, child, dir, go, dir)))
    local seen, n = {}, 0
    for _, who in ipairs { "a", "b" } do
      local out = read_file(dir .. "/" .. who .. ".out")
      for line in out:gmatch("[^\n]+") do
        local at = assert(tonumber(line), out)
        local k = math.floor((at - tat0) / 10 + 0.5)
        assert.is_nil(seen[k], "slot " .. k .. " claimed twice")
        seen[k] = who
        n = n + 1
      end
    end
    assert.equal(40, n)
    for k = 0, 39 do assert.is_truthy(seen[k], "slot " .. k) end
    local tat = tonumber(read_file(dir .. "/limits/shared"):match("^tat=(%S+)"))
    assert.is_true(math.abs(tat - (tat0 + 400)) < 1e-5, "40 claims moved the time by 400 s: " .. (tat - tat0))
  end)

  it("is not blocked by a process SIGKILLed while it holds the lock; its time stays valid", function()
    local child = script(dir, [[
      local core, limit = require "convai.core", require "convai.limit"
      local lim = assert(limit.new { store = "host", dir = arg[1], rate = 0.2, margin = 0 })
      assert(lim:acquire("K"))    -- the next slot is 5 s away
      local f = assert(core.state_file(arg[1] .. "/K"))
      assert(f:lock())
      io.stdout:write("locked\n")
      io.stdout:flush()
      core.sleep(60)
    ]])
    local p = io.popen(format("lua5.4 %s %s/limits > %s/k.out 2>&1 & echo $!", child, dir, dir))
    local pid = assert(tonumber(p:read("l")))
    p:close()
    local t0 = core.monotonic()
    while not (read_file(dir .. "/k.out") or ""):find("locked") do
      assert.is_true(core.monotonic() - t0 < 10, "the child did not lock: " .. tostring(read_file(dir .. "/k.out")))
      core.sleep(0.01)
    end
    local f = assert(core.state_file(dir .. "/limits/K"))
    assert.same({ false, "busy" }, { f:lock(false) })
    assert(sh("kill -KILL " .. pid))
    t0 = core.monotonic()
    while f:lock(false) ~= true do
      assert.is_true(core.monotonic() - t0 < 5, "the lock was not released")
      core.sleep(0.01)
    end
    f:close()
    local lim = assert(store(dir, { rate = 0.2 }))
    local d = assert(lim:acquire("K", 10))
    assert.is_true(d > 4 and d <= 5, "the killed process's slot is still taken: next in " .. d)
  end)

  it("keeps an agent's time across process restarts", function()
    local child = script(dir, [[
      local limit = require "convai.limit"
      local lim = assert(limit.new { store = "host", dir = arg[1], rate = 0.1, margin = 0 })
      print(assert(lim:acquire("R", 0)))
    ]])
    local p = io.popen(format("lua5.4 %s %s/limits", child, dir))
    assert.equal(0, tonumber(p:read("a"):match("^(%S+)")))
    p:close()
    p = io.popen(format("lua5.4 %s %s/limits 2>&1", child, dir))
    local out = p:read("a")
    p:close()
    assert.matches("rate_limited", out, 1, true)
    local _, err = assert(store(dir, { rate = 0.1 })):acquire("R", 0)
    assert.equal("rate_limited", err.kind)
    assert.is_true(err.wait > 9 and err.wait <= 10, "the first process's slot holds: " .. err.wait)
  end)

  it("absorbs a clock set back, and refuses a file that is not its own", function()
    local lim = assert(store(dir, { rate = 1 }))
    local now = core.realtime()
    -- written 100 s "in the future": the clock went back 100 s since; the slot 100.5 s ahead is 0.5 s
    write_file(dir .. "/limits/C", format("tat=%.6f written=%.6f\n", now + 100.5, now + 100))
    local _, err = lim:acquire("C", 0)
    assert.is_true(err.wait > 0.3 and err.wait <= 0.5, "wait " .. err.wait)
    write_file(dir .. "/limits/J", "{}\n")
    _, err = lim:acquire("J")
    assert.equal("store", err.kind)
    assert.matches("/limits/J' is not a convai limit file: remove it", err.message, 1, true)
    assert.equal("{}\n", read_file(dir .. "/limits/J"))
  end)

  describe("refuses what is not private", function()
    local function refused(kind, fragment, lim, agent)
      local _, err
      if lim then _, err = lim:acquire(agent) else _, err = store(dir) end
      assert.is_table(err)
      assert.equal(kind, err.kind)
      assert.is_truthy(err.message:find(fragment, 1, true), err.message)
      return err
    end

    it("a directory writable by group or others, or a symbolic link, with the fix", function()
      assert(sh(format("mkdir -m 777 %s/limits && chmod 777 %s/limits", dir, dir)))
      local err = refused("invalid_argument", format("directory '%s/limits' is writable by group or others: "
        .. "chmod go-w '%s/limits'", dir, dir))
      assert.matches("choose another store (CONVAI_LIMITS, --limits or the limits option", err.message, 1, true)
      assert(sh(format("rmdir %s/limits && mkdir -m 700 %s/real && ln -s %s/real %s/limits", dir, dir, dir, dir)))
      refused("invalid_argument", "is not a directory (or is a symbolic link)")
      local _, lerr = limit.new { store = "host", dir = dir .. "/limits", setting = "CONVAI_LIMITS" }
      assert.matches("^CONVAI_LIMITS: the host limit store cannot use its directory", lerr.message)
    end)

    it("a directory or a file owned by another user (root chowns them to nobody)", function()
      if not is_root then pending("needs root (chown)") return end
      assert(sh(format("mkdir -m 700 %s/limits && chown nobody %s/limits", dir, dir)))
      refused("invalid_argument", format("directory '%s/limits' is owned by uid 65534, not by this user (uid 0): "
        .. "chown 0 '%s/limits'", dir, dir))
      assert(sh(format("chown root %s/limits", dir)))
      local lim = assert(store(dir))
      write_file(dir .. "/limits/N", "")
      assert(sh(format("chmod 600 %s/limits/N && chown nobody %s/limits/N", dir, dir)))
      refused("store", format("host limit store: state file '%s/limits/N' is owned by uid 65534", dir), lim, "N")
      assert.equal("", read_file(dir .. "/limits/N"), "nothing written")
    end)

    it("a file writable by group or others, or a symbolic link", function()
      local lim = assert(store(dir))
      write_file(dir .. "/limits/W", "")
      assert(sh(format("chmod 666 %s/limits/W", dir)))
      refused("store", format("state file '%s/limits/W' is writable by group or others: chmod go-w '%s/limits/W'",
        dir, dir), lim, "W")
      assert.equal("", read_file(dir .. "/limits/W"), "nothing written")
      assert(sh(format("ln -s %s/elsewhere %s/limits/L", dir, dir)))
      refused("store", "/limits/L' is a symbolic link: remove it", lim, "L")
      assert.is_nil(read_file(dir .. "/elsewhere"), "nothing created through the link")
    end)
  end)

  it("opens a removed or replaced file again, so that every process locks the same one", function()
    local lim = assert(store(dir, { rate = 0.1 }))
    assert.equal(0, assert(lim:acquire("X")))
    os.remove(dir .. "/limits/X") -- an operator resets the agent
    assert.equal(0, assert(lim:acquire("X")), "the new file holds no time")
    local other = assert(store(dir, { rate = 0.1 }))
    local _, err = other:acquire("X", 0)
    assert.is_true(err.wait > 9, "both processes use the new file")
  end)
end)
