-- redis_spec.lua - core.redis (src/lredis.c, on hiredis) against real Redis servers started by
-- tests/redis_helper.lua: connecting (URL or options, AUTH, ACL users, SELECT), the reply of each type,
-- binary-safe arguments, eval with its NOSCRIPT fallback, failures (error replies, refused and
-- unreachable servers, timeouts, a server killed mid-use) and the life of a connection. No message,
-- tostring or field ever shows a password.

local helper = require "core_helper" -- first: it points package.cpath at this checkout's build
local core = helper.core
local redis_helper = require "redis_helper"

local SECRET = "Zq9-distinctive-PW"
local slow = os.getenv("CONVAI_TEST_SLOW") and 4 or 1 -- under valgrind everything takes longer

local function no_secret(s)
  s = tostring(s)
  assert.falsy(s:find(SECRET, 1, true), s)
  assert.falsy(s:find("distinctive", 1, true), s)
end

-- The calls and failed calls of a command since CONFIG RESETSTAT (INFO commandstats).
local function stats(conn, name)
  local info = assert(conn:command("INFO", "commandstats"))
  local line = info:match("cmdstat_" .. name .. ":([^\r\n]*)") or ""
  return tonumber(line:match("calls=(%d+)") or 0), tonumber(line:match("failed_calls=(%d+)") or 0)
end

assert(redis_helper.available(), "redis-server is not installed (scripts/deps)")

describe("core.redis", function()
  local server, conn
  setup(function()
    server = redis_helper.start { password = SECRET }
  end)
  teardown(function()
    if server then server.stop() end
  end)
  before_each(function()
    conn = assert(core.redis(server.url))
  end)
  after_each(function()
    conn:close()
  end)

  describe("connecting", function()
    it("takes a URL, an options table, or what parse_redis_url returns, with timeouts", function()
      assert.equal("convai.redis 127.0.0.1:" .. server.port .. "/0 (open)", tostring(conn))
      assert.equal("open", conn:status())
      local c2 = assert(core.redis { host = "127.0.0.1", port = server.port, password = SECRET, db = 3,
        connect_timeout = 0.5, timeout = 2 })
      assert.equal("convai.redis 127.0.0.1:" .. server.port .. "/3 (open)", tostring(c2))
      c2:close()
      local opts = assert(core.parse_redis_url(server.url .. "/2"))
      opts.timeout = 0.25
      local c3 = assert(core.redis(opts))
      assert.equal("PONG", c3:command("PING"))
      c3:close()
      local c4 = assert(core.redis(server.url .. "/1", { timeout = 5, connect_timeout = 5 }))
      c4:close()
    end)

    it("selects the database of the URL", function()
      local c1 = assert(core.redis(server.url .. "/1"))
      assert.equal("OK", c1:command("SET", "convai:db", "one"))
      assert.is_false(conn:command("GET", "convai:db"))
      assert.equal("OK", conn:command("SELECT", 1))
      assert.equal("one", conn:command("GET", "convai:db"))
      c1:close()
    end)

    it("refuses a wrong password with a store error naming AUTH, never the password", function()
      local c, err = core.redis("redis://:wrong-" .. SECRET .. "@127.0.0.1:" .. server.port)
      assert.is_nil(c)
      assert.is_true(core.is_error(err))
      assert.equal("store", err.kind)
      assert.equal("Redis at 127.0.0.1:" .. server.port .. ": AUTH refused: " .. err.redis, err.message)
      assert.truthy(err.redis:find("^WRONGPASS"), err.redis)
      no_secret(err.message)
      no_secret(err)
    end)

    it("refuses a connection without the password that the server requires", function()
      local c, err = core.redis { host = "127.0.0.1", port = server.port }
      assert.is_nil(c)
      assert.equal("store", err.kind)
      assert.truthy(err.redis:find("^NOAUTH"), err.redis)
      assert.truthy(err.message:find("PING refused: NOAUTH", 1, true), err.message)
    end)

    it("refuses a database the server does not have", function()
      local c, err = core.redis(server.url .. "/99")
      assert.is_nil(c)
      assert.equal("store", err.kind)
      assert.truthy(err.message:find("SELECT refused: ERR", 1, true), err.message)
    end)

    it("checks its options: invalid_argument, never quoting the password", function()
      local cases = {
        { { host = "127.0.0.1", pasword = SECRET }, "unknown option 'pasword'" },
        { { port = 6379 }, "option 'host' is missing" },
        { { host = "h", port = 0 }, "option 'port' must be an integer from 1 to 65535" },
        { { host = "h", port = "6379" }, "option 'port' must be" },
        { { host = "h", db = -1 }, "option 'db' must be" },
        { { host = "h", timeout = 0 }, "option 'timeout' must be a positive number of seconds" },
        { { host = "h", connect_timeout = -1 }, "option 'connect_timeout'" },
        { { host = "h", password = 1234 }, "option 'password' must be a string" },
        { { host = "h", scheme = "rediss" }, "rediss:// is not supported" },
        { { host = "h\0x" }, "option 'host' must be" },
      }
      for _, case in ipairs(cases) do
        local c, err = core.redis(case[1])
        assert.is_nil(c)
        assert.equal("invalid_argument", err.kind)
        assert.truthy(err.message:find(case[2], 1, true), err.message)
        no_secret(err)
      end
      local c, err = core.redis("redis://:" .. SECRET .. "@127.0.0.1:0")
      assert.is_nil(c)
      assert.equal("invalid_argument", err.kind)
      assert.equal("invalid Redis URL 'redis://:***@127.0.0.1:0': the port must be a number from 1 to 65535",
        err.message)
      c, err = core.redis("rediss://127.0.0.1")
      assert.is_nil(c)
      assert.truthy(err.message:find("TLS", 1, true))
      c, err = core.redis(server.url, { host = "elsewhere" })
      assert.is_nil(c)
      assert.truthy(err.message:find("unknown option 'host' (known: connect_timeout, timeout; the rest is in the URL)",
        1, true), err.message)
    end)

    it("raises for arguments of the wrong type", function()
      assert.has_error(function() core.redis() end)
      assert.has_error(function() core.redis(6379) end)
      assert.has_error(function() core.redis(server.url, "timeout") end)
      assert.has_error(function() core.redis({ host = "h" }, {}) end)
    end)

    it("keeps no password: not in tostring, not in a field", function()
      no_secret(tostring(conn))
      assert.is_nil(conn.password)
      assert.is_nil(conn.user)
      assert.equal("userdata", type(conn))
    end)
  end)

  describe("replies", function()
    it("maps status, bulk, integer, nil and array replies", function()
      assert.equal("PONG", conn:command("PING"))
      assert.equal("OK", conn:command("SET", "convai:s", "value"))
      assert.equal("value", conn:command("GET", "convai:s"))
      assert.is_false(conn:command("GET", "convai:missing"))
      local n = conn:command("INCR", "convai:n")
      assert.equal(1, n)
      assert.is_true(helper.is_integer(n))
      assert.equal(3, conn:command("RPUSH", "convai:l", "a", "b", "c"))
      assert.same({ "a", "b", "c" }, conn:command("LRANGE", "convai:l", 0, -1))
      assert.same({}, conn:command("LRANGE", "convai:none", 0, -1))
      assert.same({ "value", false, "1" }, conn:command("MGET", "convai:s", "convai:missing", "convai:n"))
      assert.same({ 1, { "x", false, { 2 } }, "ok" },
        conn:eval("return {1, {'x', false, {2}}, redis.status_reply('ok')}"))
      assert.equal(-9007199254740991, conn:command("INCRBY", "convai:big", -9007199254740991))
    end)

    it("sends numbers as their text, integral ones as integers", function()
      assert.equal(5, conn:command("INCRBY", "convai:i", 5.0))
      assert.equal(7, conn:command("INCRBY", "convai:i", 2))
      assert.equal(2.5, tonumber(conn:command("INCRBYFLOAT", "convai:f", 2.5)))
      assert.equal("OK", conn:command("SET", "convai:num", 0.1))
      assert.equal(0.1, tonumber(conn:command("GET", "convai:num")))
    end)

    it("is binary-safe in keys, values and replies", function()
      local value = "a\0b\r\n\255\0" .. ("x"):rep(1024 * 1024)
      local key = "convai:\0\r\nkey"
      assert.equal("OK", conn:command("SET", key, value))
      assert.equal(value, conn:command("GET", key))
      assert.equal(#value, conn:command("STRLEN", key))
      assert.same({ key }, conn:command("KEYS", "convai:\0*"))
    end)

    it("returns an error reply as a store error with its line, the connection staying open", function()
      conn:command("SET", "convai:text", "abc")
      local r, err = conn:command("INCR", "convai:text")
      assert.is_nil(r)
      assert.is_true(core.is_error(err))
      assert.equal("store", err.kind)
      assert.equal("ERR value is not an integer or out of range", err.redis)
      assert.equal("Redis at 127.0.0.1:" .. server.port .. ": " .. err.redis, err.message)
      assert.equal("open", conn:status())
      r, err = conn:command("NOSUCHCOMMAND", "x")
      assert.is_nil(r)
      assert.truthy(err.redis:find("^ERR unknown command"), err.redis)
      assert.equal("PONG", conn:command("PING"))
    end)

    it("gives an error inside an array (EXEC) as an error object in its place", function()
      conn:command("SET", "convai:text", "abc")
      assert.equal("OK", conn:command("MULTI"))
      assert.equal("QUEUED", conn:command("SET", "convai:t2", "x"))
      assert.equal("QUEUED", conn:command("INCR", "convai:text"))
      local r = assert(conn:command("EXEC"))
      assert.equal("OK", r[1])
      assert.is_true(core.is_error(r[2]))
      assert.equal("store", r[2].kind)
      assert.equal("ERR value is not an integer or out of range", r[2].redis)
    end)

    it("raises for arguments of the wrong type, before anything is sent", function()
      assert.has_error(function() conn:command() end)
      assert.has_error(function() conn:command("SET", "k", {}) end)
      assert.has_error(function() conn:command("SET", "k", true) end)
      assert.has_error(function() conn:command("SET", nil, "v") end)
      assert.has_error(function() conn:eval() end)
      assert.has_error(function() conn:eval("return 1", "k") end)
      assert.has_error(function() conn:eval("return 1", { {} }) end, "bad key #1 (string or number expected, got table)")
      assert.has_error(function() conn:eval("return 1", {}, { "a", false }) end)
      assert.equal("PONG", conn:command("PING"))
    end)

    it("takes many arguments", function()
      local args = {}
      for i = 1, 500 do args[#args + 1] = "convai:k" .. i; args[#args + 1] = i end
      assert.equal("OK", conn:command("MSET", (table.unpack or unpack)(args)))
      assert.equal(500, conn:command("GET", "convai:k500") + 0)
      local keys = {}
      for i = 1, 300 do keys[i] = "convai:k" .. i end
      assert.equal(300, conn:eval("return #KEYS + #ARGV", keys, {}))
      assert.equal(600, conn:eval("return #KEYS + #ARGV", keys, keys))
    end)
  end)

  describe("eval", function()
    local script = "return {KEYS[1], ARGV[1], redis.call('INCRBY', KEYS[1], ARGV[2])}"

    it("runs a script with keys and args", function()
      assert.same({ "convai:e", "hello", 3 }, conn:eval(script, { "convai:e" }, { "hello", 3 }))
      assert.equal(42, conn:eval("return 42"))
      assert.equal(42, conn:eval("return 42", nil, nil))
      assert.is_false(conn:eval("return false"))
    end)

    it("sends EVALSHA, and EVAL only when the server does not know the script (SCRIPT FLUSH)", function()
      local admin = assert(core.redis(server.url))
      assert.equal("OK", admin:command("SCRIPT", "FLUSH"))
      assert.equal("OK", admin:command("CONFIG", "RESETSTAT"))
      assert.same({ "convai:e2", "a", 1 }, conn:eval(script, { "convai:e2" }, { "a", 1 }))
      assert.same({ 1, 1 }, { stats(admin, "evalsha") }) -- NOSCRIPT
      assert.same({ 1, 0 }, { stats(admin, "eval") })
      for i = 2, 5 do
        assert.same({ "convai:e2", "a", i }, conn:eval(script, { "convai:e2" }, { "a", 1 }))
      end
      assert.same({ 5, 1 }, { stats(admin, "evalsha") }) -- our SHA-1 is the server's
      assert.same({ 1, 0 }, { stats(admin, "eval") })
      assert.equal("OK", admin:command("SCRIPT", "FLUSH"))
      assert.same({ "convai:e2", "a", 6 }, conn:eval(script, { "convai:e2" }, { "a", 1 }))
      assert.same({ 6, 2 }, { stats(admin, "evalsha") })
      assert.same({ 2, 0 }, { stats(admin, "eval") })
      admin:close()
    end)

    it("runs many different scripts (beyond its cache of their names)", function()
      for i = 1, 300 do assert.equal(i, conn:eval("return " .. i)) end
      for i = 1, 300, 37 do assert.equal(i, conn:eval("return " .. i)) end
    end)

    it("returns a script's error as a store error with its line", function()
      assert.equal(1, conn:eval("return redis.call('INCR', KEYS[1])", { "convai:txt" }))
      conn:command("SET", "convai:txt", "abc")
      local r, err = conn:eval("return redis.call('INCR', KEYS[1])", { "convai:txt" })
      assert.is_nil(r)
      assert.equal("store", err.kind)
      assert.truthy(err.redis:find("^ERR"), err.redis)
      r, err = conn:eval("return redis.error_reply('CONVAI custom failure')")
      assert.is_nil(r)
      assert.equal("CONVAI custom failure", err.redis)
      r, err = conn:eval("this is not lua")
      assert.is_nil(r)
      assert.truthy(err.redis:find("^ERR"), err.redis)
      assert.equal("open", conn:status())
    end)
  end)

  describe("life", function()
    it("closes: idempotent, then commands raise", function()
      local c = assert(core.redis(server.url))
      c:close()
      c:close()
      assert.equal("closed", c:status())
      assert.equal("convai.redis 127.0.0.1:" .. server.port .. "/0 (closed)", tostring(c))
      assert.has_error(function() c:command("PING") end, "convai.redis: the connection is closed")
      assert.has_error(function() c:eval("return 1") end, "convai.redis: the connection is closed")
    end)

    -- Building a reply allocates, so finalizers can run Lua that uses the same connection: such a
    -- command is refused ("busy"), and a close waits for the reply, rather than freeing the reply
    -- being read. In a fresh interpreter: with busted's big heap the collector rarely runs then.
    it("refuses use from a finalizer while a reply is being built", function()
      if not helper.HAS_INTEGERS then return pending("needs __gc on tables (Lua 5.4)") end
      local out = helper.run_script(([[
local core = require "convai.core"
local conn = assert(core.redis(%q))
local items = {}
for i = 1, 2000 do items[i] = "item" .. i end
conn:command("DEL", "convai:list")
conn:command("RPUSH", "convai:list", table.unpack(items))
local seen = { busy = 0, other = 0, n = 0 }
local closing -- the finalizer closes the connection during the 20th refused PING
local fin
fin = function()
  seen.n = seen.n + 1
  if seen.n < 5000 then
    for _ = 1, 3 do setmetatable({}, { __gc = fin }) end
  end
  if closing then return end
  local r, e = conn:command("PING")
  if e and e.message:find("busy", 1, true) then
    seen.busy = seen.busy + 1
    if seen.busy == 20 then
      conn:close()
      closing = conn:status()
    end
  elseif r == "PONG" then
    seen.other = seen.other + 1
  end
end
collectgarbage("incremental", 1, 1000)
setmetatable({}, { __gc = fin })
local bad, last = 0, nil
for _ = 1, 200 do
  local r = conn:command("LRANGE", "convai:list", 0, -1)
  if type(r) ~= "table" or #r ~= 2000 or r[2000] ~= "item2000" then bad = bad + 1 end
  if closing then last = r break end
end
local raised = not pcall(conn.command, conn, "PING")
print(seen.busy, seen.other, bad, closing, last and #last, conn:status(), raised)
]]):format(server.url))
      if not out then return pending("interpreter unknown") end
      local busy, other, bad, closing, n, status, raised =
        out:match("^(%d+)\t(%d+)\t(%d+)\t(%a+)\t(%d+)\t(%a+)\t(%a+)")
      assert.is_truthy(busy, out)
      assert.equal("20", busy)
      assert.truthy(other) -- PINGs between commands (not busy) answer, if the collector ran then
      assert.equal("0", bad)
      assert.equal("closed", closing) -- closed as far as Lua can tell at once ...
      assert.equal("2000", n)          -- ... and the reply being built when it was closed is whole
      assert.equal("closed", status)
      assert.equal("true", raised)
    end)

    it("is not inherited by the programs the process starts", function()
      local function child_sockets()
        local p = assert(io.popen("ls -l /proc/self/fd 2>/dev/null"))
        local n = select(2, p:read("*a"):gsub("socket:", ""))
        p:close()
        return n
      end
      local before = child_sockets()
      local conns = {}
      for i = 1, 3 do conns[i] = assert(core.redis(server.url)) end
      assert.equal(before, child_sockets())
      for i = 1, 3 do conns[i]:close() end
    end)

    it("is closed by <close> (Lua 5.4) and by the collector", function()
      local function clients()
        return tonumber(conn:command("INFO", "clients"):match("connected_clients:(%d+)"))
      end
      local before = clients()
      if _VERSION == "Lua 5.4" then
        local run = assert(load([[
          local core, url = ...
          local c <close> = assert(core.redis(url))
          return c
        ]]))
        local c = run(core, server.url)
        assert.equal("closed", c:status())
      end
      local function open_five() -- in a frame of its own, so no stack slot keeps one
        for _ = 1, 5 do assert(core.redis(server.url)) end
      end
      open_five()
      assert.equal(before + 5, clients())
      collectgarbage()
      collectgarbage()
      local deadline = core.monotonic() + 2 * slow -- the server sees the closes when it reads them
      while clients() ~= before and core.monotonic() < deadline do core.sleep(0.01) end
      assert.equal(before, clients())
    end)
  end)
end)

describe("core.redis failures of the connection", function()
  it("fails fast with a store error for a port where nothing listens", function()
    local probe = redis_helper.start()
    local port = probe.port
    probe.stop()
    local t0 = core.monotonic()
    local c, err = core.redis { host = "127.0.0.1", port = port }
    assert.is_nil(c)
    assert.equal("store", err.kind)
    assert.equal("Redis at 127.0.0.1:" .. port .. ": connection refused", err.message)
    assert.is_nil(err.redis)
    assert.is_true(core.monotonic() - t0 < 0.5 * slow)
    c, err = core.redis("redis://[::1]:" .. port)
    assert.is_nil(c)
    assert.equal("store", err.kind)
    assert.truthy(err.message:find("^Redis at %[::1%]:" .. port .. ": "), err.message)
  end)

  it("names a host that does not resolve", function()
    local c, err = core.redis { host = "no-such-host.invalid", port = 6379, connect_timeout = 2 }
    assert.is_nil(c)
    assert.equal("store", err.kind)
    assert.truthy(err.message:find("^Redis at no%-such%-host%.invalid:6379: "), err.message)
  end)

  describe("against a server that stops answering", function()
    local server
    setup(function() server = redis_helper.start { args = { "enable-debug-command yes" } } end)
    teardown(function()
      os.execute("kill -CONT " .. server.pid() .. " 2>/dev/null")
      server.stop()
    end)

    it("gives up the handshake after connect_timeout", function()
      assert(os.execute("kill -STOP " .. server.pid()))
      local t0 = core.monotonic()
      local c, err = core.redis { host = "127.0.0.1", port = server.port, connect_timeout = 0.3 }
      local took = core.monotonic() - t0
      os.execute("kill -CONT " .. server.pid())
      assert.is_nil(c)
      assert.equal("store", err.kind)
      assert.equal("Redis at 127.0.0.1:" .. server.port .. ": no reply within 0.3 s (connect_timeout)", err.message)
      assert.is_true(took >= 0.29 and took < 1 * slow, took)
    end)

    it("gives up a command after timeout; the connection is then broken and fails fast", function()
      local conn = assert(core.redis { host = "127.0.0.1", port = server.port, timeout = 0.3 })
      local other = assert(core.redis { host = "127.0.0.1", port = server.port })
      assert.equal("OK", other:command("CLIENT", "PAUSE", 700, "ALL")) -- CLIENT UNPAUSE would wait too
      local t0 = core.monotonic()
      local r, err = conn:command("PING")
      local took = core.monotonic() - t0
      assert.is_nil(r)
      assert.equal("store", err.kind)
      assert.equal("Redis at 127.0.0.1:" .. server.port .. ": no reply within 0.3 s (timeout)", err.message)
      assert.is_true(took >= 0.29 and took < 1 * slow, took)
      assert.equal("broken", conn:status())
      assert.equal("convai.redis 127.0.0.1:" .. server.port .. "/0 (broken)", tostring(conn))
      t0 = core.monotonic()
      r, err = conn:eval("return 1")
      assert.is_nil(r)
      assert.equal("store", err.kind)
      assert.equal("Redis at 127.0.0.1:" .. server.port .. ": the connection is broken (no reply within 0.3 s "
        .. "(timeout)); make a new connection", err.message)
      assert.is_true(core.monotonic() - t0 < 0.05 * slow)
      conn:close()
      assert.equal("closed", conn:status())
      other:close()
      core.sleep(0.8) -- the end of the pause
    end)

    it("gives up a command the server takes too long to run (DEBUG SLEEP)", function()
      local conn = assert(core.redis { host = "127.0.0.1", port = server.port, timeout = 0.2 })
      local r, err = conn:command("DEBUG", "SLEEP", 0.6)
      assert.is_nil(r)
      assert.equal("Redis at 127.0.0.1:" .. server.port .. ": no reply within 0.2 s (timeout)", err.message)
      assert.equal("broken", conn:status())
      conn:close()
      core.sleep(0.5) -- let the server finish its sleep
    end)
  end)

  it("reports a server killed mid-use as a store error, and works again with a new connection", function()
    local server = redis_helper.start { password = SECRET }
    local conn = assert(core.redis(server.url))
    assert.equal("OK", conn:command("SET", "convai:k", "v"))
    server.kill()
    local r, err = conn:command("GET", "convai:k")
    assert.is_nil(r)
    assert.equal("store", err.kind)
    assert.truthy(err.message:find("^Redis at 127%.0%.0%.1:" .. server.port .. ": "), err.message)
    assert.is_nil(err.redis)
    no_secret(err)
    assert.equal("broken", conn:status())
    r, err = conn:command("PING")
    assert.is_nil(r)
    assert.truthy(err.message:find("the connection is broken", 1, true), err.message)
    local c, cerr = core.redis(server.url)
    assert.is_nil(c)
    assert.equal("Redis at 127.0.0.1:" .. server.port .. ": connection refused", cerr.message)
    server.restart()
    local fresh = assert(core.redis(server.url))
    assert.is_false(fresh:command("GET", "convai:k")) -- restarted empty
    assert.equal("OK", fresh:command("SET", "convai:k", "v2"))
    assert.equal("broken", conn:status())
    fresh:close()
    conn:close()
    server.stop()
  end)
end)

describe("core.redis with an ACL user", function()
  local server
  setup(function() server = redis_helper.start { user = "convai", user_password = SECRET } end)
  teardown(function() server.stop() end)

  it("logs in as the user, by URL or by options", function()
    local conn = assert(core.redis("redis://convai:" .. SECRET .. "@127.0.0.1:" .. server.port .. "/0"))
    assert.equal("convai", conn:command("ACL", "WHOAMI"))
    no_secret(tostring(conn))
    conn:close()
    conn = assert(core.redis { host = "127.0.0.1", port = server.port, user = "convai", password = SECRET })
    assert.equal("convai", conn:command("ACL", "WHOAMI"))
    conn:close()
  end)

  it("refuses the user's wrong password, never showing it", function()
    local c, err = core.redis { host = "127.0.0.1", port = server.port, user = "convai", password = "x" .. SECRET }
    assert.is_nil(c)
    assert.equal("store", err.kind)
    assert.truthy(err.redis:find("^WRONGPASS"), err.redis)
    no_secret(err)
  end)

  it("does not show a password sent to a server that has none", function()
    local conn = assert(core.redis { host = "127.0.0.1", port = server.port }) -- the default user, no password
    assert.equal("default", conn:command("ACL", "WHOAMI"))
    conn:close()
    local c, err = core.redis { host = "127.0.0.1", port = server.port, user = "nobody", password = SECRET }
    assert.is_nil(c)
    assert.equal("store", err.kind)
    no_secret(err)
  end)
end)
