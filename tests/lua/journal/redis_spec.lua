-- The redis backend of convai.journal (issue 11 §3, §4): one campaign's state in Redis shared by its
-- workers. Claims are atomic across connections and processes (at most once), a dead worker's pending
-- becomes unknown while a live worker's is left alone, a lost state is refused, the keys expire, and the
-- password shows nowhere. Runs against a Redis server of its own (tests/redis_helper.lua).
local redis_helper = require "redis_helper"
local core = require "convai.core"
local journal = require "convai.journal"
local jredis = require "convai.journal.redis"

local PASSWORD = "Jr7Qx-convai-journal-secret-a91c"

local function hides(text, what)
  assert.is_nil(tostring(text):find(PASSWORD, 1, true), what .. " shows the password: " .. tostring(text))
end

local function cli(r, ...) return r.reply(...) end

local run_id = tostring(os.time()) .. tostring(math.random(1000, 9999))

describe("the redis journal", function()
  if not (type(core.redis) == "function" and redis_helper.available()) then
    it("needs core.redis and redis-server", function() pending("no Redis") end)
    return
  end

  local r
  lazy_setup(function() r = redis_helper.start { password = PASSWORD } end)
  lazy_teardown(function() if r then r.stop() end end)
  before_each(function() cli(r, "FLUSHALL") end)

  local n = 0
  local function fingerprint()
    n = n + 1
    return { provider = "vonage", channel = "whatsapp", agent = "A", input = run_id .. "-" .. n, recipients = 3 }
  end

  local function open(fp)
    local loaded = assert(journal.load(r.url, fp))
    return assert(journal.open(r.url, fp, loaded))
  end

  it("keeps the campaign under convai:campaign:{DIGEST}: with its header, and loads it back", function()
    local fp = fingerprint()
    local before = assert(journal.load(r.url, fp))
    assert.is_false(before.exists)
    local j = open(fp)
    assert(j:claim { r = "pending", to = "447700900001", line = 2 })
    assert(j:write { r = "sent", to = "447700900001", line = 2, status = 200, body = { id = "x" } })
    assert(j:claim { r = "pending", to = "447700900002", line = 3 })
    local base = jredis.keys_of(fp)
    assert.matches("^convai:campaign:{%x+}:$", base)
    local header = core.json_decode(cli(r, "GET", base .. "header"))
    assert.equal("convai.campaign", header.journal)
    assert.same(fp, header.campaign)
    assert.equal(j.worker, cli(r, "HGET", base .. "pending", "447700900002"))
    local loaded = assert(journal.load(r.url, fp))
    assert.is_true(loaded.exists)
    assert.equal("sent", loaded.state["447700900001"].r)
    assert.equal("x", loaded.state["447700900001"].body.id)
    assert.equal("pending", loaded.state["447700900002"].r)
    -- every key expires by itself: the campaign's after IDLE_EXPIRY, the worker's after WORKER_TTL
    for _, k in ipairs { "header", "state", "pending" } do
      local ttl = tonumber(cli(r, "TTL", base .. k))
      assert.is_true(ttl > jredis.IDLE_EXPIRY - 60 and ttl <= jredis.IDLE_EXPIRY, k .. " ttl " .. ttl)
    end
    local wttl = tonumber(cli(r, "PTTL", base .. "worker:" .. j.worker))
    assert.is_true(wttl > 0 and wttl <= jredis.WORKER_TTL * 1000, "worker ttl " .. wttl)
    j:close()
    assert.equal("0", cli(r, "EXISTS", base .. "worker:" .. j.worker))
  end)

  it("claim_first takes the first recipient no other worker holds or finished, in one call", function()
    local fp = fingerprint()
    local a, b = open(fp), open(fp)
    local function recs(...)
      local list = {}
      for i, to in ipairs { ... } do list[i] = { r = "pending", to = to, line = i + 1 } end
      return list
    end
    assert.is_true(a:claim { r = "pending", to = "1", line = 2 })
    assert(a:claim { r = "pending", to = "2", line = 3 })
    assert(a:write { r = "sent", to = "2", line = 3, status = 200 })
    -- 1 is held by a, 2 is final: b gets 3, the third offered
    assert.equal(3, b:claim_first(recs("1", "2", "3", "4"), false))
    local base = jredis.keys_of(fp)
    assert.equal(b.worker, cli(r, "HGET", base .. "pending", "3"))
    assert.equal("0", cli(r, "HEXISTS", base .. "pending", "4"))
    assert.equal("pending", core.json_decode(cli(r, "HGET", base .. "state", "3")).r)
    -- nothing left among those offered: 0, and nothing written
    assert.equal(0, b:claim_first(recs("1", "2"), false))
    assert.equal(b.worker, cli(r, "HGET", base .. "pending", "3"))
    assert.equal(1, a:claim_first(recs("4"), false))
    a:close()
    b:close()
  end)

  it("gives a recipient to one worker only, and never again once it has an outcome", function()
    local fp = fingerprint()
    local a, b = open(fp), open(fp)
    assert.is_true(a:claim { r = "pending", to = "1", line = 2 })
    assert.is_false(b:claim { r = "pending", to = "1", line = 2 })
    assert(a:write { r = "throttled", to = "1", line = 2 })
    assert.is_true(b:claim { r = "pending", to = "1", line = 2 }) -- retryable: anyone may take it
    assert(b:write { r = "sent", to = "1", line = 2, status = 200 })
    assert.is_false(a:claim { r = "pending", to = "1", line = 2 })
    -- failed: final, unless retry_failed, and then not while the worker that failed it is alive
    assert(a:claim { r = "pending", to = "2", line = 3 })
    assert(a:write { r = "failed", to = "2", line = 3, kind = "server" })
    assert.is_false(b:claim({ r = "pending", to = "2", line = 3 }))
    assert.is_false(b:claim({ r = "pending", to = "2", line = 3 }, true))
    a:close()
    assert.is_true(b:claim({ r = "pending", to = "2", line = 3 }, true))
    b:close()
  end)

  it("claims each recipient exactly once across processes claiming at the same time", function()
    local fp = fingerprint()
    open(fp):close() -- the header
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. dir))
    local script = dir .. "/claim.lua"
    local f = assert(io.open(script, "wb"))
    f:write(([[
local journal = require "convai.journal"
local fp = %s
local j = assert(journal.open(arg[1], fp))
local out = {}
for i = 1, 200 do
  local ok, err = j:claim { r = "pending", to = tostring(i), line = i + 1 }
  if ok == nil then error(tostring(err)) end
  if ok then out[#out + 1] = tostring(i) end
end
io.write(table.concat(out, " "))
]]):format(("{provider=%q,channel=%q,agent=%q,input=%q,recipients=3}"):format(fp.provider, fp.channel,
      fp.agent, fp.input)))
    f:close()
    local jobs = {}
    for k = 1, 3 do
      jobs[#jobs + 1] = ("(lua5.4 %s '%s' >%s/out%d 2>&1) &"):format(script, r.url, dir, k)
    end
    assert(os.execute(table.concat(jobs, " ") .. " wait"))
    local seen, total = {}, 0
    for k = 1, 3 do
      local fh = assert(io.open(dir .. "/out" .. k))
      local text = fh:read("a")
      fh:close()
      hides(text, "a worker's output")
      for to in text:gmatch("%S+") do
        assert.is_nil(seen[to], to .. " claimed twice: " .. text)
        seen[to] = k
        total = total + 1
      end
    end
    os.execute("rm -rf " .. dir)
    assert.equal(200, total)
  end)

  it("settles a dead worker's pending as unknown, never a live worker's", function()
    local fp = fingerprint()
    local base = jredis.keys_of(fp)
    local dead, live, me = open(fp), open(fp), open(fp)
    assert(dead:claim { r = "pending", to = "1", line = 2 })
    assert(dead:claim { r = "pending", to = "3", line = 4 })
    assert(live:claim { r = "pending", to = "2", line = 3 })
    cli(r, "DEL", base .. "worker:" .. dead.worker) -- as if its key expired (killed WORKER_TTL ago)
    -- a claim of the dead worker's recipient settles it: unknown, not claimed
    assert.is_false(me:claim { r = "pending", to = "1", line = 2 })
    local settled, held = me:settle()
    assert.equal(1, settled)
    assert.equal(1, held)
    local state = assert(me:reload())
    assert.equal("unknown", state["1"].r)
    assert.equal(2, state["1"].line)
    assert.equal("unknown", state["3"].r)
    assert.equal("pending", state["2"].r)
    assert.is_false(me:claim { r = "pending", to = "2", line = 3 })
    assert(live:write { r = "sent", to = "2", line = 3, status = 200 })
    assert.equal("sent", assert(me:reload())["2"].r)
    for _, j in ipairs { dead, live, me } do j:close() end
  end)

  it("refuses a claim once the campaign's state is gone from Redis, writing nothing", function()
    local fp = fingerprint()
    local j = open(fp)
    assert(j:claim { r = "pending", to = "1", line = 2 })
    cli(r, "FLUSHALL") -- Redis restarted without persistence
    local ok, err = j:claim { r = "pending", to = "2", line = 3 }
    assert.is_nil(ok)
    assert.equal("store", err.kind)
    assert.is_true(err.gone)
    assert.matches("state is gone from Redis", err.message, 1, true)
    assert.matches("restarted without persistence", err.message, 1, true)
    ok, err = j:write { r = "sent", to = "1", line = 2 }
    assert.is_nil(ok)
    assert.is_true(err.gone)
    assert.equal("0", cli(r, "DBSIZE"))
    j:close()
  end)

  it("refuses another campaign's keys and an unreachable or refusing store, never showing the password",
    function()
      local fp = fingerprint()
      open(fp):close()
      local base = jredis.keys_of(fp)
      local other = {}
      for k, v in pairs(fp) do other[k] = v end
      other.agent = "B"
      -- the same keys holding another campaign (a digest collision, or keys written by hand)
      local conn = assert(core.redis(r.url))
      local header = assert(core.json_encode { journal = "convai.campaign", version = 1, campaign = fp })
      assert(conn:command("SET", jredis.keys_of(other) .. "header", header))
      conn:close()
      local ok, err = journal.load(r.url, other)
      assert.is_nil(ok)
      assert.equal("journal", err.kind)
      assert.matches("another campaign", err.message, 1, true)
      assert.truthy(base)
      local wrong = ("redis://:not-the-%s@127.0.0.1:%d/0"):format(PASSWORD, r.port)
      ok, err = journal.load(wrong, fp)
      assert.is_nil(ok)
      assert.equal("store", err.kind)
      hides(err.message, "a refused password's error")
      local port = r.port
      ok, err = journal.open(("redis://:%s@127.0.0.1:%d/0"):format(PASSWORD, port == 1 and 2 or 1), fp)
      assert.is_nil(ok)
      assert.equal("store", err.kind)
      hides(err.message, "an unreachable store's error")
      ok, err = journal.load("redis://:" .. PASSWORD .. "@127.0.0.1:99999/0", fp)
      assert.is_nil(ok)
      assert.equal("invalid_argument", err.kind)
      hides(err.message, "a malformed URL's error")
      local j = open(fp)
      hides(tostring(j), "tostring")
      hides(tostring(j.store), "the store's tostring")
      j:close()
    end)
end)
