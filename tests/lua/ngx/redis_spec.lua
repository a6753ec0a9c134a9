-- The redis store of convai.limit (and of convai.capacity) inside nginx (issue 11): a 4-worker nginx (ngx_lua, the LuaJIT core,
-- the resty Redis driver of lua-nginx-redis) on a Redis server of the test's own, its application in
-- tests/nginx/convai_test_app.lua, talking to the sandbox of CONVAI_TEST_SANDBOX (which enforces each
-- agent's sliding window and logs what it accepted). The plain-Lua side of the store has its own spec,
-- tests/lua/limit/redis_spec.lua; here the two share one agent.
local helper = require "helper"
local harness = require "nginx.harness"
local app = require "nginx.app_server"
local redis_helper = require "redis_helper"
local core = require "convai.core"
local capacity = require "convai.capacity"
local limit = require "convai.limit"
local voicebot = require "convai.voicebot"

local get, enc, eventually = app.get, app.enc, app.eventually

-- the resty Redis driver where LuaJIT (and so ngx_lua) looks for modules
local HAS_DRIVER = select(2, harness.run("luajit -e \"io.write(package.searchpath('nginx.redis', package.path) "
  .. "or package.searchpath('resty.redis', package.path) or '')\"")):find("redis.lua", 1, true) ~= nil
-- the URL parser both runtimes use, and the hiredis client of plain Lua (the C core)
local HAS_PARSER = type(core.parse_redis_url) == "function"
local HAS_CORE_REDIS = type(core.redis) == "function"

-- A password that must show nowhere: not in an error, a tostring, nor nginx's error log.
local PASSWORD = "Pw7Qz-convai-ngx-secret-91c4"
local WRONG = "Wr0ng-convai-ngx-secret-5e2a"

-- Nothing of `secret` in `text`.
local function hides(secret, text, what)
  assert.is_nil(tostring(text):find(secret, 1, true), what .. " shows the password: " .. tostring(text))
end

-- The conversations the sandbox logged for `agent`: their times, sorted, and their statuses.
local function conversations(agent)
  local times, statuses = {}, {}
  for _, e in ipairs(helper.log()) do
    if e.path == "/vonage/messaging/conversation" and helper.decode(e.body).agent_id == agent then
      times[#times + 1] = e.time
      statuses[e.status] = (statuses[e.status] or 0) + 1
    end
  end
  table.sort(times)
  return times, statuses
end

describe("the redis store of convai.limit inside nginx", function()
  if not (app.available() and HAS_DRIVER and HAS_PARSER and redis_helper.available()) then
    it("needs nginx with ngx_lua, the LuaJIT core with core.parse_redis_url, lua-nginx-redis and redis-server",
      function()
        pending("missing: nginx, ngx_lua, build/luajit/convai/core.so, core.parse_redis_url, the resty Redis "
          .. "driver or redis-server")
      end)
    return
  end

  local redis, four
  lazy_setup(function()
    helper.reset()
    redis = redis_helper.start { password = PASSWORD }
    four = app.start(4, redis.url .. "/2") -- database 2: the workers SELECT it
  end)
  lazy_teardown(function()
    if four then four.stop() end
    if redis then redis.stop() end
  end)
  before_each(function() helper.reset() end)

  it("4 workers x 5 paced triggers on one agent limited to 5/s: 20 accepted, no 429, no 6 within 1 s", function()
    helper.config { vonage = { agents = { R = { rate = 5 } } } }
    local result = app.burst(four, { n = 5, agent = "R", workers = 4, store = "redis", seconds = 60 })
    assert.are.same({ ["status:200"] = 20 }, result.outcomes)
    assert.are.same({ ["0"] = 5, ["1"] = 5, ["2"] = 5, ["3"] = 5 }, result.workers)
    local times, statuses = conversations("R")
    assert.are.same({ [200] = 20 }, statuses)
    for i = 1, #times - 5 do
      assert.is_true(times[i + 5] - times[i] >= 1.0, "6 sessions within 1 s at #" .. i)
    end
    -- the agent's key, under convai:, expires by itself shortly after its last slot
    local ok, keys = redis.cli("-n", "2", "KEYS", "convai:*")
    assert.is_true(ok)
    assert.matches("convai:limit:R", keys, 1, true)
    assert.are.equal("", (select(2, redis.cli("KEYS", "*")):gsub("%s+", "")), "a key in database 0")
    assert.is_truthy(eventually(function() return select(2, redis.cli("-n", "2", "KEYS", "convai:*")):match("^%s*$") end, 5),
      "the key did not expire")
  end)

  it("a plain-Lua limit and the nginx workers share one agent's slots: they interleave, never collide", function()
    if not HAS_CORE_REDIS then return pending("core.redis (the hiredis client of the C core) is not built yet") end
    local lim = assert(limit.new { store = redis.url .. "/2", rates = { S = 10 } }) -- as the app's: 0.11 s apart
    local _, interval = lim:rate("S")
    local bg = assert(io.popen("curl -s --max-time 30 " .. harness.quote(four.url .. "/t/claims?agent=S&n=10")))
    local all = {}
    for _ = 1, 10 do
      local t0 = core.realtime()
      local delay = assert(lim:acquire("S", 60))
      all[#all + 1] = { lo = t0 + delay, hi = core.realtime() + delay, who = "lua" }
      core.sleep(delay)
    end
    local theirs = helper.decode(bg:read("a"))
    bg:close()
    assert.is_true(theirs.ok, theirs.error and theirs.error.message)
    for _, s in ipairs(theirs.starts) do all[#all + 1] = { lo = s.lo, hi = s.hi, who = "nginx" } end
    assert.are.equal(20, #all)
    assert.is_true(helper.distinct_slots(all, interval))
    local switches = 0
    for i = 2, #all do
      if all[i].who ~= all[i - 1].who then switches = switches + 1 end
    end
    assert.is_true(switches >= 5, "the claims did not interleave: " .. switches .. " switches")
  end)

  it("goes on after a Redis restart (the pooled connections closed) and after SCRIPT FLUSH (NOSCRIPT)", function()
    for _ = 1, 8 do -- every worker gets a pooled connection
      local _, r = get(four, "/t/claims?agent=S&n=1")
      assert.is_true(r.ok, r.error and r.error.message)
    end
    redis.restart()
    for i = 1, 8 do
      local _, r = get(four, "/t/claims?agent=S&n=1")
      assert.is_true(r.ok, "claim " .. i .. " after the restart: " .. tostring(r.error and r.error.message))
    end
    assert.is_true(redis.cli("SCRIPT", "FLUSH"))
    for i = 1, 8 do
      local _, r = get(four, "/t/claims?agent=S&n=1")
      assert.is_true(r.ok, "claim " .. i .. " after SCRIPT FLUSH: " .. tostring(r.error and r.error.message))
    end
  end)

  it("refuses a claim where nginx has no cosockets (init_worker), reaching nothing", function()
    local _, err = get(four, "/t/redis_phase")
    assert.are.equal("invalid_argument", err.kind)
    assert.matches("cannot reach Redis in nginx's init_worker phase", err.message, 1, true)
  end)

  it("fails closed (kind store, nothing sent) on a wrong password or no server; never shows a password", function()
    local port = redis.port
    local _, out = get(four, "/t/redis_errors?wrong_password=" .. enc(("redis://:%s@127.0.0.1:%d/0"):format(WRONG, port))
      .. "&unreachable=" .. enc(("redis://:%s@127.0.0.1:1/0"):format(PASSWORD))
      .. "&malformed=" .. enc(("redis://:%s@127.0.0.1:notaport/0"):format(PASSWORD)))
    for _, name in ipairs { "wrong_password", "unreachable" } do
      local r = out[name]
      assert.are.equal("store", r.acquire.kind, name)
      assert.are.equal("store", r.paced.kind, name)
      assert.are.equal("convai.limit (redis, 1/s, margin 0.1)", r.tostring)
      for _, secret in ipairs { PASSWORD, WRONG } do
        hides(secret, r.acquire.message, name .. " error")
        hides(secret, r.paced.message, name .. " paced error")
      end
    end
    assert.matches("WRONGPASS", out.wrong_password.acquire.message, 1, true)
    assert.are.equal("invalid_argument", out.malformed.kind)
    hides(PASSWORD, out.malformed.message, "a malformed URL's error")
    assert.are.same({}, (conversations("E")))
    local log = four.error_log()
    hides(PASSWORD, log, "nginx's error log")
    hides(WRONG, log, "nginx's error log")
    assert.are.same({}, harness.problems(log))
  end)

  it("shares a voicebot agent's capacity between the nginx workers and a plain-Lua campaign gate", function()
    if not HAS_CORE_REDIS then return pending("core.redis is not built") end
    helper.config { voicebot = { agents = { ["11"] = { limit = 8, usage = 0 } } } }
    local vb = assert(voicebot.from_env())
    local cap = assert(capacity.new { store = redis.url .. "/2", client = vb })
    local _, r = get(four, "/t/redis_capacity?agent=11&read=1")
    assert.is_true(r.ok, r.error and r.error.message)
    assert.are.equal(8, r.result.capacity)
    -- 4 holds from the workers (one given back at once), then plain Lua takes what is left
    local held = 0
    for i = 1, 4 do
      _, r = get(four, "/t/redis_capacity?agent=11" .. (i == 1 and "&settle=unsent" or ""))
      assert.is_true(r.ok)
      assert.is_true(r.held)
      if i > 1 then held = held + 1 end
    end
    local mine = 0
    while cap:hold(11) do mine = mine + 1 end
    assert.are.equal(8 - held, mine)
    _, r = get(four, "/t/redis_capacity?agent=11")
    assert.is_false(r.held)
    assert.are.equal(0, r.usage.remaining)
    assert.are.equal(8, r.usage.reserved)
    vb:close()
  end)
end)
