-- convai.batch (coroutine scheduler over core.multi) and client:batch, against the sandbox: results in
-- order and equal to the sequential ones, requests that really overlap (sandbox latency), limits,
-- failures and errors isolated to their call or task, sleeps that do not block, and the LuaJIT flavour.
local helper = require "helper"
local core = require "convai.core"
local http = require "convai.http"
local batch = require "convai.batch"

local AV_PATH = "/avaamo/bots/analytics/%d/usage.json"

local function vb_client(opts) return helper.client("voicebot", opts) end
local function av_client(opts) return helper.client("avaamo", opts) end
local function vg_client() return helper.client("vonage") end

local function usage_query(agent)
  return { agent_id = agent, from_date = "01/04/2020", to_date = "07/04/2020", utc_offset = 3600 }
end

local timed, add_fault = helper.timed, helper.add_fault

describe("convai.batch", function()
  before_each(function() helper.reset() end)
  after_each(function() helper.reset() end)

  describe("new", function()
    it("checks the options", function()
      for _, bad in ipairs { 0, -1, 1.5, "4", math.huge, 0 / 0 } do
        local s, err = batch.new { concurrency = bad }
        assert.is_nil(s)
        assert.equal("invalid_argument", err.kind)
        assert.matches("concurrency must be a positive integer", err.message)
      end
      local _
      local s, err = batch.new { timeout = -1 }
      assert.is_nil(s)
      assert.equal("invalid_argument", err.kind)
      assert.matches("^convai.batch: option 'timeout'", err.message)
      _, err = batch.new { nope = 1 }
      assert.matches("unknown option 'nope'", err.message)
      _, err = batch.new(5)
      assert.equal("invalid_argument", err.kind)
      s = assert(batch.new())
      assert.equal(16, s.concurrency)
      assert.equal("convai.batch (0 tasks, 0 requests in flight)", tostring(s))
      s:close()
      assert.equal("convai.batch (closed)", tostring(s))
      s:close()
    end)
  end)

  describe("scheduler", function()
    it("runs tasks to their packed results; step returns the tasks that finished", function()
      local s = assert(batch.new())
      local a = s:spawn(function(x, y) return x + y, nil, "z" end, 1, 2)
      local b = s:spawn(function() end)
      assert.is_false(a.done)
      assert.equal(2, s:active())
      local finished = s:step(0)
      assert.equal(2, #finished)
      assert.equal(0, s:active())
      assert.is_true(a.done)
      assert.same({ n = 3, 3, nil, "z" }, a.results)
      assert.same({ n = 0 }, b.results)
      assert.same({}, s:step(0))
      assert.has_error(function() s:spawn("nope") end)
      s:close()
      assert.has_error(function() s:spawn(function() end) end)
    end)

    it("runs client requests of many tasks concurrently, each getting its own answer", function()
      helper.config { latency_ms = 300 }
      local c = av_client()
      local s = assert(batch.new { concurrency = 16 })
      local tasks = {}
      for i = 1, 16 do
        tasks[i] = s:spawn(function() return c:usage(usage_query(100 + i)) end)
      end
      local _, _, dt = timed(s.run, s)
      assert.is_true(dt < 2.4, "elapsed " .. dt) -- one by one: 4.8 s
      helper.config { latency_ms = 0 }
      for i = 1, 16 do
        local want = assert(c:usage(usage_query(100 + i)))
        assert.same(want, tasks[i].results[1])
      end
      assert.equal(16, s.multi:stats().requests)
      s:close()
      c:close()
    end)

    it("keeps at most concurrency requests in flight", function()
      helper.config { latency_ms = 300 }
      local c = vb_client()
      local s = assert(batch.new { concurrency = 2 })
      local most = 0
      for _ = 1, 6 do
        s:spawn(function()
          local u = assert(c:whatsapp_usage())
          return u
        end)
      end
      local _, _, dt = timed(function()
        while s:active() > 0 do
          s:step(0.05)
          if s.inflight > most then most = s.inflight end
        end
      end)
      assert.equal(2, most)
      assert.is_true(dt >= 0.85, "elapsed " .. dt) -- three rounds of two
      assert.is_true(s.multi:stats().connections <= 2)
      s:close()
      c:close()
    end)

    it("a task that raises fails alone, with a traceback", function()
      local c = vb_client()
      local s = assert(batch.new())
      local good1 = s:spawn(function() return assert(c:whatsapp_usage()).current_limit end)
      local bad = s:spawn(function()
        assert(c:whatsapp_usage())
        error("boom")
      end)
      local bad2 = s:spawn(function() error({ code = 7 }) end)
      local good2 = s:spawn(function() return assert(c:whatsapp_usage()).current_limit end)
      s:run()
      assert.same({ n = 1, 250 }, good1.results)
      assert.same({ n = 1, 250 }, good2.results)
      assert.is_true(bad.done)
      assert.is_nil(bad.results)
      assert.matches("boom", bad.error)
      assert.matches("stack traceback", bad.error)
      assert.same({ code = 7 }, bad2.error)
      assert.matches("stack traceback", bad2.traceback)
      s:close()
      c:close()
    end)

    it("sleeps in tasks (convai.http.sleep) do not block the others", function()
      helper.config { latency_ms = 100 }
      local c = vb_client()
      local s = assert(batch.new())
      local order = {}
      s:spawn(function()
        http.sleep(0.6)
        order[#order + 1] = "sleeper"
      end)
      s:spawn(function()
        for _ = 1, 3 do assert(c:whatsapp_usage()) end
        order[#order + 1] = "requests"
      end)
      local _, _, dt = timed(s.run, s)
      assert.same({ "requests", "sleeper" }, order)
      assert.is_true(dt >= 0.59 and dt < 1.5, "elapsed " .. dt) -- not 0.6 + 0.3
      -- sleeps wake in time order
      order = {}
      for _, d in ipairs { 0.3, 0.1, 0.2 } do
        s:spawn(function() http.sleep(d); order[#order + 1] = d end)
      end
      s:run()
      assert.same({ 0.1, 0.2, 0.3 }, order)
      s:close()
      c:close()
    end)

    it("lets requests inside pcall yield, and a plain coroutine.yield pass a turn", function()
      local c = vb_client()
      local s = assert(batch.new())
      local t = s:spawn(function()
        local ok, u = pcall(function() return assert(c:whatsapp_usage()) end)
        coroutine.yield()
        return ok, u.current_limit
      end)
      s:run()
      assert.same({ n = 2, true, 250 }, t.results)
      s:close()
      c:close()
    end)

    it("gives requests the client's timeout", function()
      local c = vb_client { timeout = 0.3, retry = false }
      add_fault { path = "/voicebot/third-party/v1/whatsapp/agent-usage", fault = "delay", delay_ms = 2000 }
      local s = assert(batch.new { timeout = 30 })
      local t = s:spawn(function() return c:whatsapp_usage() end)
      local _, _, dt = timed(s.run, s)
      assert.is_nil(t.results[1])
      assert.equal("timeout", t.results[2].kind)
      assert.is_true(dt < 1.5, "elapsed " .. dt)
      s:close()
      c:close()
    end)

    it("step(wait) with nothing in flight waits instead of returning at once (no busy loop)", function()
      local sched = assert(batch.new {})
      local cpu0, t0 = os.clock(), core.monotonic()
      for _ = 1, 5 do assert.same({}, sched:step(0.05)) end
      local elapsed, cpu = core.monotonic() - t0, os.clock() - cpu0
      sched:close()
      assert.is_true(elapsed >= 0.24, "5 steps of 0.05 s took " .. elapsed)
      assert.is_true(cpu < elapsed / 2, ("%.3f s of CPU in %.3f s"):format(cpu, elapsed))
    end)

    it("refuses step from inside a task", function()
      local s = assert(batch.new())
      local t = s:spawn(function() s:step(0) end)
      s:run()
      assert.matches("from inside a task", t.error)
      s:close()
    end)

    it("close drops unfinished tasks and aborts their requests", function()
      -- a delay fault, not latency: the sandbox's reset (after_each) ends the request it holds, so it
      -- is never logged during a later test
      add_fault { path = "/voicebot/third-party/v1/whatsapp/agent-usage", fault = "delay", delay_ms = 2000 }
      local c = vb_client()
      local s = assert(batch.new())
      local t = s:spawn(function() return c:whatsapp_usage() end)
      s:step(0.1)
      assert.is_false(t.done)
      local _, _, dt = timed(s.close, s)
      assert.is_true(dt < 1)
      assert.is_true(t.done)
      assert.matches("closed before the task finished", t.error)
      assert.equal(0, s:active())
      assert.same({}, s:step(0))
      c:close()
    end)
  end)

  describe("run", function()
    it("returns packed results in input order, errors in place", function()
      local c = vb_client()
      local out = assert(batch.run({
        function() return assert(c:whatsapp_usage()).current_limit end,
        { function(a, b) return a * b end, 6, 7 },
        function() error("nope") end,
        { c.whatsapp_usage, c },
      }, { concurrency = 2 }))
      assert.equal(4, #out)
      assert.same({ n = 1, 250 }, out[1])
      assert.same({ n = 1, 42 }, out[2])
      assert.equal(0, out[3].n)
      assert.matches("nope", out[3].error)
      assert.equal(250, out[4][1].current_limit)
      local r, err = batch.run({ function() end, "x" })
      assert.is_nil(r)
      assert.equal("invalid_argument", err.kind)
      assert.matches("entry 2", err.message)
      r, err = batch.run({}, { concurrency = 0 })
      assert.is_nil(r)
      assert.equal("invalid_argument", err.kind)
      c:close()
    end)
  end)
end)

describe("client:batch", function()
  before_each(function() helper.reset() end)
  after_each(function() helper.reset() end)

  it("returns each call's result in input order, equal to the sequential calls", function()
    local c = av_client()
    local calls, want = {}, {}
    for i = 1, 40 do
      calls[i] = { "usage", usage_query(1000 + (i * 7) % 13) }
      want[i] = assert(c:usage(calls[i][2]))
    end
    local out = assert(c:batch(calls))
    assert.equal(40, #out)
    for i = 1, 40 do
      assert.is_nil(out[i].err)
      assert.same(want[i], out[i].value)
    end
    c:close()
  end)

  it("overlaps the requests (sandbox latency 300 ms)", function()
    helper.config { latency_ms = 300 }
    local c = vb_client()
    local calls = {}
    for i = 1, 32 do calls[i] = { "whatsapp_usage" } end
    local out, _, dt = timed(c.batch, c, calls, { concurrency = 16 })
    assert.equal(32, #out)
    for i = 1, 32 do assert.equal(250, out[i].value.current_limit) end
    assert.is_true(dt >= 0.59 and dt < 3, "elapsed " .. dt) -- two rounds; one by one: 9.6 s
    _, _, dt = timed(c.batch, c, { { "whatsapp_usage" }, { "whatsapp_usage" }, { "whatsapp_usage" },
      { "whatsapp_usage" } }, { concurrency = 1 })
    assert.is_true(dt >= 1.15, "elapsed " .. dt) -- concurrency 1: one by one
    c:close()
  end)

  it("a failing call does not affect the others", function()
    local c = av_client()
    add_fault { path = AV_PATH:format(2002), fault = "status", status = 404 }
    local out = assert(c:batch {
      { "usage", usage_query(2001) },
      { "usage", usage_query(2002) },                                       -- 404 from the sandbox
      { "usage", { agent_id = 2003, from_date = "31/02/2020", to_date = "01/03/2020" } }, -- bad date
      { "nope", 1 },                                                        -- not a method
      { "close" },                                                          -- not a request method
      "usage",                                                              -- not a table
      { "usage", 5 },                                                       -- bad argument
      { "usage", usage_query(2004) },
    })
    assert.equal(8, #out)
    assert.is_table(out[1].value)
    assert.is_nil(out[1].err)
    assert.equal("not_found", out[2].err.kind)
    assert.is_nil(out[2].value)
    assert.equal("invalid_argument", out[3].err.kind)
    assert.equal("invalid_argument", out[4].err.kind)
    assert.matches('call 4 must be {"method_name", args...}', out[4].err.message, 1, true)
    assert.equal("invalid_argument", out[5].err.kind)
    assert.equal("invalid_argument", out[6].err.kind)
    assert.equal("invalid_argument", out[7].err.kind)
    assert.is_table(out[8].value)
    -- only the valid calls reached the sandbox
    local paths = {}
    for _, e in ipairs(helper.log()) do paths[#paths + 1] = e.path end
    table.sort(paths)
    assert.same({ AV_PATH:format(2001), AV_PATH:format(2002), AV_PATH:format(2004) }, paths)
    -- the client is still usable, closed only by close
    assert.is_table(assert(c:usage(usage_query(2001))))
    c:close()
  end)

  describe("on_result", function()
    local calls = {
      { "usage", usage_query(2001) }, { "nope" }, { "usage", usage_query(2002) }, { "usage", 5 },
      { "usage", usage_query(2003) }, { "usage", usage_query(2004) },
    }

    it("hands each outcome over as it comes, keeps none, and returns the count", function()
      local c = av_client()
      local kept = assert(c:batch(calls, { concurrency = 2 }))
      local seen, order = {}, {}
      local n = assert(c:batch(calls, { concurrency = 2, on_result = function(i, value, err)
        assert.is_nil(seen[i])
        seen[i] = { value = value, err = err }
        order[#order + 1] = i
      end }))
      assert.equal(#calls, n)
      assert.equal(#calls, #order)
      for i = 1, #calls do
        assert.same(kept[i].value, seen[i].value)
        assert.equal(kept[i].err and kept[i].err.kind, seen[i].err and seen[i].err.kind)
      end
      assert.equal("invalid_argument", seen[2].err.kind) -- not a method: handed over, not sent
      assert.equal("invalid_argument", seen[4].err.kind) -- raised on a bad argument
      assert.is_table(seen[6].value.aggregate_stats)
      c:close()
    end)

    it("an on_result that raises stops the batch: no other call starts, the error comes out", function()
      local c = av_client()
      helper.config { latency_ms = 100 }
      local handed = 0
      local ok, err = pcall(c.batch, c, calls, { concurrency = 2, on_result = function()
        handed = handed + 1
        error("stop here")
      end })
      assert.is_false(ok)
      assert.matches("stop here", tostring(err))
      assert.equal(1, handed)
      local sent = 0
      for _, e in ipairs(helper.log()) do if e.path:find("/usage.json", 1, true) then sent = sent + 1 end end
      assert.is_true(sent <= 2, sent .. " requests sent") -- the first two in flight, no more
      c:close()
    end)

    it("must be a function; nothing is sent otherwise", function()
      local c = av_client()
      local out, err = c:batch(calls, { on_result = "print" })
      assert.is_nil(out)
      assert.equal("invalid_argument", err.kind)
      assert.matches("on_result must be a function", err.message)
      assert.same({}, helper.log())
      c:close()
    end)
  end)

  it("sends nothing for a client already closed: each call fails as it would alone", function()
    local c = vb_client()
    local alone_res, alone = (function() c:close(); return c:whatsapp_usage(1) end)()
    assert.is_nil(alone_res)
    assert.equal("invalid_argument", alone.kind)
    local out = assert(c:batch { { "whatsapp_usage", 1 }, { "whatsapp_usage", 2 } })
    for i = 1, 2 do
      assert.is_nil(out[i].value)
      assert.equal("invalid_argument", out[i].err.kind)
      assert.equal(alone.message, out[i].err.message)
      assert.is_false(out[i].err.request_sent)
    end
    -- a copy of the transport with other retry options shares the closed session
    local again = assert(c.http:with_retry(false))
    local r = assert(batch.run { function() return again:json("GET", "/whatsapp/agent-usage", "?agent_id=1") end })
    assert.is_nil(r[1][1])
    assert.equal("invalid_argument", r[1][2].kind)
    assert.same({}, helper.log())
  end)

  it("refuses a calls argument that is not a table, or bad options; an empty batch is empty", function()
    local c = vb_client()
    local out, err = c:batch("whatsapp_usage")
    assert.is_nil(out)
    assert.equal("invalid_argument", err.kind)
    out, err = c:batch({ { "whatsapp_usage" } }, { concurrency = 0 })
    assert.is_nil(out)
    assert.equal("invalid_argument", err.kind)
    out, err = c:batch({ { "whatsapp_usage" } }, 5)
    assert.is_nil(out)
    assert.equal("invalid_argument", err.kind)
    assert.same({}, assert(c:batch {}))
    assert.equal(0, #helper.log())
    c:close()
  end)

  it("works for every client: voicebot, avaamo and vonage (POST triggers, each sent once)", function()
    local vb, av, vg = vb_client(), av_client(), vg_client()
    local out = assert(vb:batch { { "whatsapp_usage" }, { "whatsapp_usage", 3 } })
    assert.equal(250, out[1].value.current_limit)
    assert.is_table(out[2].value)
    out = assert(av:batch { { "usage", usage_query(5) } })
    assert.is_table(out[1].value.aggregate_stats)
    local calls = {}
    for i = 1, 6 do
      calls[i] = { "trigger_whatsapp", { agent_id = "batch-agent-" .. i, namespace = "ns_1",
        template = "appointment_reminder", locale = "en_GB", to = string.format("+44 7700 9%05d", i),
        status_url = "https://example.com/s" } }
    end
    out = assert(vg:batch(calls))
    local triggered = 0
    for i = 1, 6 do
      assert.is_nil(out[i].err, out[i].err and tostring(out[i].err))
      assert.is_table(out[i].value)
    end
    for _, e in ipairs(helper.log()) do
      if e.method == "POST" then triggered = triggered + 1 end
    end
    assert.equal(6, triggered)
    vb:close()
    av:close()
    vg:close()
  end)

  it("runs under LuaJIT", function()
    local cmd = "luajit -e " .. string.format("%q", [[
      package.cpath = "build/luajit/?.so;" .. package.cpath
      package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
      local voicebot = require "convai.voicebot"
      local c = assert(voicebot.new { base_url = os.getenv("CONVAI_VOICEBOT_URL"),
        token = os.getenv("CONVAI_VOICEBOT_TOKEN") })
      local out = assert(c:batch({ { "whatsapp_usage" }, { "whatsapp_usage", 2 }, { "nope" } },
        { concurrency = 2 }))
      local t = require("convai.batch").run { function() return pcall(c.whatsapp_usage, c) end }
      io.write(out[1].value.current_limit, " ", type(out[2].value), " ", out[3].err.kind, " ",
        tostring(t[1][1]), " ", t[1][2].current_limit)
    ]]) .. " 2>&1"
    local p = assert(io.popen(cmd))
    local text = p:read("a")
    p:close()
    assert.equal("250 table invalid_argument true 250", text)
  end)
end)
