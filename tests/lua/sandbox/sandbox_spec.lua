-- Tests of the vendor-API sandbox (sandbox/lua/convai/sandbox/): starts real sandboxes (nginx + ngx_lua)
-- on random ports in temporary directories and talks to them with the curl CLI.
-- Run from the repository root: scripts/spec tests/lua/sandbox/sandbox_spec.lua

local cjson = require("cjson")
local sh = require("sandbox_helper")
local sandbox = require("convai.sandbox")
local avaamo_sample = require("convai.sandbox.avaamo_sample")

local VOICEBOT = "/voicebot/third-party/v1/whatsapp/agent-usage"
local AVAAMO_SAMPLE_QUERY = "from_date=10/04/2020&to_date=13/04/2020&utc_offset=-25200"
local DAY = 86400

local quote, read_file, write_file = sh.quote, sh.read_file, sh.write_file

local function shell(cmd)
  return (sh.shell(cmd))
end

local function mktemp_dir()
  return sh.mktemp_dir("sandbox-spec")
end

-- One HTTP request with curl. opts: headers (table), body (string), json (table, sent as the body).
-- Returns {status, body, headers (lower-cased names), json (decoded body or nil), time (s)}.
local function request(base, method, path, opts)
  opts = opts or {}
  local hfile, bfile = os.tmpname(), os.tmpname()
  local cmd = { "curl -s -X", method, "-D", quote(hfile), "-o", quote(bfile),
    "-w '%{http_code} %{time_total}'" }
  local headers = opts.headers or {}
  local body = opts.body
  if opts.json then
    body = cjson.encode(opts.json)
    headers["Content-Type"] = "application/json"
  end
  for name, value in pairs(headers) do
    cmd[#cmd + 1] = "-H " .. quote(name .. ": " .. value)
  end
  local infile
  if body then
    infile = os.tmpname()
    write_file(infile, body)
    cmd[#cmd + 1] = "--data-binary @" .. quote(infile)
  end
  cmd[#cmd + 1] = quote(base .. path)
  local out = shell(table.concat(cmd, " "))
  local res = { headers = {} }
  local status, time = out:match("^(%d+) ([%d.]+)")
  res.status, res.time = tonumber(status), tonumber(time)
  res.body = read_file(bfile) or ""
  for line in (read_file(hfile) or ""):gmatch("[^\r\n]+") do
    local k, v = line:match("^([^:]+):%s*(.*)$")
    if k then
      res.headers[k:lower()] = v
    end
  end
  if res.headers["content-type"] == "application/json" and res.body ~= "" then
    res.json = cjson.decode(res.body)
  end
  os.remove(hfile)
  os.remove(bfile)
  if infile then
    os.remove(infile)
  end
  return res
end

-- Several POSTs of the same JSON body over one curl process (one keep-alive connection).
-- Returns the list of statuses.
local function burst(base, path, headers, json, n)
  local infile = os.tmpname()
  write_file(infile, cjson.encode(json))
  local one = { "-s -o /dev/null -w '%{http_code}\\n' -X POST", "-H 'Content-Type: application/json'" }
  for name, value in pairs(headers) do
    one[#one + 1] = "-H " .. quote(name .. ": " .. value)
  end
  one[#one + 1] = "--data-binary @" .. quote(infile) .. " " .. quote(base .. path)
  local segments = {}
  for i = 1, n do
    segments[i] = table.concat(one, " ")
  end
  local out = shell("curl " .. table.concat(segments, " --next "))
  os.remove(infile)
  local statuses = {}
  for code in out:gmatch("%d+") do
    statuses[#statuses + 1] = tonumber(code)
  end
  return statuses
end

local function is_count(v)
  return type(v) == "number" and v >= 0 and v == math.floor(v)
end

-- Every documented relation of one Avaamo stats object.
local function check_stats(s, where)
  for _, k in ipairs({ "session_count", "messages_count", "unhandled_messages_count",
    "successful_responses_count", "ambiguous_messages_count", "interventions_count",
    "success_rate_count" }) do
    assert.is_true(is_count(s[k]), where .. "." .. k .. " = " .. tostring(s[k]))
  end
  assert.are.equal(s.messages_count - s.unhandled_messages_count - s.ambiguous_messages_count,
    s.successful_responses_count, where .. " successful")
  if s.messages_count == 0 then
    assert.are.equal(cjson.null, s.success_rate, where .. " success_rate null")
  else
    local expected = math.floor(s.successful_responses_count / s.messages_count * 10000 + 0.5) / 100
    assert.is_true(math.abs(s.success_rate - expected) < 1e-9, where .. " success_rate")
  end
  -- success_rate_count = successful + ambiguous - mismatched, 0 <= mismatched <= ambiguous
  local mismatched = s.successful_responses_count + s.ambiguous_messages_count - s.success_rate_count
  assert.is_true(mismatched >= 0 and mismatched <= s.ambiguous_messages_count, where .. " mismatched")
  assert.is_true(s.end_time > s.start_time, where .. " window")
end

describe("convai.sandbox", function()
  local dir, info, base
  local vb_auth = { Authorization = "Bearer " .. sandbox.credentials.voicebot.token }
  local av_auth = { ["Access-Token"] = sandbox.credentials.avaamo.token }
  local vg_auth = { ["X-Vgai-Key"] = sandbox.credentials.vonage.key }

  local function get(path, headers)
    return request(base, "GET", path, { headers = headers })
  end

  local function post(path, json, headers)
    return request(base, "POST", path, { json = json, headers = headers })
  end

  local function config(cfg)
    local res = post("/_sandbox/config", cfg)
    assert.are.equal(200, res.status, res.body)
    return res.json
  end

  local function usage(agent)
    local res = get(VOICEBOT .. (agent and "?agent_id=" .. agent or ""), vb_auth)
    assert.are.equal(200, res.status, res.body)
    return res.json.data.business_initiated
  end

  local function trigger(fields)
    local body = {
      namespace = "ns-1", template = "appointment_reminder", locale = "en", to = "447700900123",
      agent_id = "agent-a", channel = "whatsapp", status_url = "https://example.com/status",
      components = {
        { type = "header", parameters = { { type = "text", text = "Hello" } } },
        { type = "body", parameters = { { type = "text", text = "Your appointment is at 10:00" } } },
      },
      session_parameters = { { name = "customer", value = "Ann" } },
    }
    for k, v in pairs(fields or {}) do
      body[k] = v
    end
    return post("/vonage/messaging/conversation", body, vg_auth)
  end

  local function avaamo(agent, query)
    return get("/avaamo/bots/analytics/" .. agent .. "/usage.json" .. (query and "?" .. query or ""),
      av_auth)
  end

  setup(function()
    dir = mktemp_dir()
    local err
    info, err = sandbox.start({ port = 0, dir = dir })
    assert(info, err)
    base = info.url
  end)

  teardown(function()
    sandbox.stop({ dir = dir })
    os.execute("rm -rf " .. quote(dir))
  end)

  before_each(function()
    assert.are.equal(200, request(base, "POST", "/_sandbox/reset").status)
  end)

  describe("control", function()
    it("reports status and the env exports", function()
      local st = sandbox.status({ dir = dir })
      assert.is_true(st.running)
      assert.are.equal(info.pid, st.pid)
      assert.are.equal(info.port, st.port)
      assert.are.equal("http://127.0.0.1:" .. info.port, st.url)
      local env = sandbox.env(st)
      assert.are.same({
        { "CONVAI_VOICEBOT_URL", st.url .. "/voicebot/third-party/v1" },
        { "CONVAI_VOICEBOT_TOKEN", "sandbox-voicebot-token" },
        { "CONVAI_AVAAMO_URL", st.url .. "/avaamo" },
        { "CONVAI_AVAAMO_TOKEN", "sandbox-avaamo-token" },
        { "CONVAI_VONAGE_URL", st.url .. "/vonage" },
        { "CONVAI_VONAGE_KEY", "sandbox-vonage-key" },
      }, env)
    end)

    it("writes a self-contained nginx.conf", function()
      local conf = read_file(dir .. "/nginx.conf")
      assert.truthy(conf:find("listen 127.0.0.1:" .. info.port .. ";", 1, true))
      assert.truthy(conf:find("pid " .. dir .. "/nginx.pid;", 1, true))
      assert.truthy(conf:find("client_body_temp_path " .. dir .. "/", 1, true))
      assert.truthy(conf:find("worker_processes 1;", 1, true))
      assert.truthy(conf:find("init_by_lua_block", 1, true))
    end)

    it("refuses to start twice in one directory", function()
      local again, err, current = sandbox.start({ port = 0, dir = dir })
      assert.is_nil(again)
      assert.truthy(err:find("already running", 1, true))
      assert.are.equal(info.pid, current.pid)
    end)

    it("runs a second sandbox beside the first, and stops it", function()
      local dir2 = mktemp_dir()
      local info2, err = sandbox.start({ port = 0, dir = dir2 })
      local ok, failure = pcall(function()
        assert(info2, err)
        assert.are_not.equal(info.port, info2.port)
        -- the port of the first one is taken: nginx fails and says why
        local dup, derr = sandbox.start({ port = info.port, dir = dir2 .. "/dup" })
        assert.is_nil(dup)
        assert.truthy(derr:find("in use", 1, true), derr)
        -- independent state
        assert.are.equal(401, request(info2.url, "GET", VOICEBOT).status)
        local log2 = request(info2.url, "GET", "/_sandbox/log").json.requests
        assert.are.equal(1, #log2)
        assert.are.equal(0, #get("/_sandbox/log").json.requests)
        assert.is_true(sandbox.stop({ dir = dir2 }))
        assert.is_false(sandbox.status({ dir = dir2 }).running)
        assert.are.equal("000", shell("curl -s -o /dev/null -w '%{http_code}' "
          .. quote(info2.url .. "/_sandbox/health")))
        local again, serr = sandbox.stop({ dir = dir2 })
        assert.is_nil(again)
        assert.truthy(serr:find("no sandbox running", 1, true))
      end)
      sandbox.stop({ dir = dir2 })
      os.execute("rm -rf " .. quote(dir2))
      assert(ok, failure)
    end)

    it("serves modules from a directory only root may read (workers run as nobody)", function()
      local private = mktemp_dir() -- mode 0700
      os.execute("cp -r sandbox/lua sandbox/conf " .. quote(private .. "/"))
      local saved = package.path
      package.path = private .. "/lua/?.lua;" .. saved
      local info3, err = sandbox.start({ port = 0, dir = private .. "/run" })
      package.path = saved
      local ok, failure = pcall(function()
        assert(info3, err)
        assert.truthy(read_file(private .. "/run/nginx.conf"):find(private .. "/lua/?.lua", 1, true))
        local res = request(info3.url, "GET", "/avaamo/bots/analytics/1/usage.json?" .. AVAAMO_SAMPLE_QUERY,
          { headers = av_auth })
        assert.are.equal(200, res.status)
        assert.are.equal(avaamo_sample, res.body)
      end)
      sandbox.stop({ dir = private .. "/run" })
      os.execute("rm -rf " .. quote(private))
      assert(ok, failure)
    end)
  end)

  describe("admin", function()
    it("answers health, echo, bytes, delay, redirect and 404", function()
      assert.are.same({ ok = true }, get("/_sandbox/health").json)
      local echo = request(base, "POST", "/_sandbox/echo?a=1&b=x",
        { body = "raw body", headers = { ["X-Test"] = "yes" } })
      assert.are.equal("POST", echo.json.method)
      assert.are.equal("/_sandbox/echo", echo.json.path)
      assert.are.same({ a = "1", b = "x" }, echo.json.query)
      assert.are.equal("yes", echo.json.headers["x-test"])
      assert.are.equal("raw body", echo.json.body)
      local bytes = get("/_sandbox/bytes?n=100000")
      assert.are.equal(200, bytes.status)
      assert.are.equal(100000, #bytes.body)
      local delay = get("/_sandbox/delay?ms=200")
      assert.are.equal(200, delay.status)
      assert.is_true(delay.time >= 0.19)
      local redirect = get("/_sandbox/redirect")
      assert.are.equal(302, redirect.status)
      assert.are.equal("http://localhost:" .. info.port .. "/_sandbox/echo", redirect.headers.location)
      local missing = get("/nowhere")
      assert.are.equal(404, missing.status)
      assert.are.equal("application/json", missing.headers["content-type"])
      assert.are.same({ error = "Not Found" }, missing.json)
    end)

    it("logs vendor requests only, in order, and clears the log", function()
      get(VOICEBOT .. "?agent_id=3", vb_auth)
      get("/_sandbox/health")
      trigger({ agent_id = "log-agent" })
      local log = get("/_sandbox/log")
      assert.are.equal(200, log.status)
      local entries = log.json.requests
      assert.are.equal(2, #entries)
      local first, second = entries[1], entries[2]
      assert.are.equal("GET", first.method)
      assert.are.equal(VOICEBOT, first.path)
      assert.are.same({ agent_id = "3" }, first.query)
      assert.are.equal("Bearer sandbox-voicebot-token", first.headers.authorization)
      assert.are.equal(cjson.null, first.body)
      assert.are.equal(200, first.status)
      assert.is_true(second.seq > first.seq)
      assert.is_true(second.time >= first.time and math.abs(second.time - os.time()) < 60)
      assert.are.equal("POST", second.method)
      assert.are.equal("sandbox-vonage-key", second.headers["x-vgai-key"])
      assert.are.equal("log-agent", cjson.decode(second.body).agent_id)
      assert.are.equal(200, second.status)

      assert.are.equal(200, request(base, "DELETE", "/_sandbox/log").status)
      local empty = get("/_sandbox/log")
      assert.truthy(empty.body:find('"requests":[]', 1, true), empty.body)
    end)

    it("merges config, returns it, and reset restores the defaults", function()
      local cfg = config({
        voicebot = { agents = { ["7"] = { limit = 30, usage = 10 } } },
        vonage = { agents = { AGENT = { rate = 5, voicebot_agent = 7 } } },
        latency_ms = 0,
      })
      assert.are.same({ limit = 30, usage = 10 }, cfg.voicebot.agents["7"])
      assert.are.same({ rate = 5, voicebot_agent = 7 }, cfg.vonage.agents.AGENT)
      assert.are.equal(250, cfg.voicebot.default_limit)
      assert.are.same(cfg, get("/_sandbox/config").json)
      assert.are.same({ current_usage = 10, current_limit = 30, limit_exhausted = false }, usage(7))

      local bad = post("/_sandbox/config", { voicebot = { agents = { ["7"] = { limit = -1 } } } })
      assert.are.equal(400, bad.status)
      assert.are.equal(400, post("/_sandbox/config", { nonsense = true }).status)

      get(VOICEBOT, vb_auth)
      assert.are.equal(200, request(base, "POST", "/_sandbox/reset").status)
      local defaults = get("/_sandbox/config").json
      assert.are.same({}, defaults.voicebot.agents)
      assert.are.same({}, defaults.vonage.agents)
      assert.are.equal(0, defaults.clock_offset)
      assert.are.equal(0, #get("/_sandbox/log").json.requests)
      assert.are.equal(0, usage(7).current_usage)
    end)

    it("delays vendor responses by latency_ms", function()
      config({ latency_ms = 300 })
      local res = get(VOICEBOT, vb_auth)
      assert.are.equal(200, res.status)
      assert.is_true(res.time >= 0.29, tostring(res.time))
      assert.is_true(get("/_sandbox/health").time < 0.25)
    end)
  end)

  describe("voicebot.studio agent usage", function()
    it("requires the Bearer token", function()
      for _, headers in ipairs({ {}, { Authorization = "Bearer wrong" },
        { Authorization = "sandbox-voicebot-token" } }) do
        local res = get(VOICEBOT, headers)
        assert.are.equal(401, res.status)
        assert.are.same({ message = "Unauthenticated." }, res.json)
      end
    end)

    it("reports the first agent by default and an explicit agent", function()
      config({ voicebot = { agents = { ["1"] = { limit = 100, usage = 4 } } } })
      local res = get(VOICEBOT, vb_auth)
      assert.are.equal(200, res.status)
      assert.are.equal("application/json", res.headers["content-type"])
      assert.are.same({ data = { business_initiated = {
        current_usage = 4, current_limit = 100, limit_exhausted = false } } }, res.json)
      assert.are.same({ current_usage = 0, current_limit = 250, limit_exhausted = false }, usage(1000))
    end)

    it("rejects a non-integer agent_id with 422 and an unknown agent with 404", function()
      local res = get(VOICEBOT .. "?agent_id=abc", vb_auth)
      assert.are.equal(422, res.status)
      assert.are.same({ message = "The agent id must be an integer.",
        errors = { agent_id = { "The agent id must be an integer." } } }, res.json)
      assert.are.equal(422, get(VOICEBOT .. "?agent_id=1.5", vb_auth).status)
      res = get(VOICEBOT .. "?agent_id=1001", vb_auth)
      assert.are.equal(404, res.status)
      assert.are.same({ message = "Agent not found." }, res.json)
      assert.are.equal(404, get(VOICEBOT .. "?agent_id=0", vb_auth).status)
    end)

    it("allows only GET", function()
      local res = request(base, "POST", VOICEBOT, { headers = vb_auth, body = "{}" })
      assert.are.equal(405, res.status)
      assert.are.equal("GET, HEAD", res.headers.allow)
    end)
  end)

  describe("Avaamo agent usage", function()
    it("requires the Access-Token", function()
      local res = request(base, "GET", "/avaamo/bots/analytics/20123/usage.json")
      assert.are.equal(401, res.status)
      assert.are.same({ error = "Unauthorized" }, res.json)
      res = request(base, "GET", "/avaamo/bots/analytics/20123/usage.json",
        { headers = { ["Access-Token"] = "nope" } })
      assert.are.equal(401, res.status)
    end)

    it("answers the documented query with the documented sample", function()
      local res = avaamo(20123, AVAAMO_SAMPLE_QUERY)
      assert.are.equal(200, res.status)
      assert.are.equal(avaamo_sample, res.body)
      -- the vendor document's sample, kept in the repository as tests/fixtures/avaamo-usage-sample.json
      local doc = cjson.decode((assert(read_file("tests/fixtures/avaamo-usage-sample.json"))))
      assert.are.same(doc, cjson.decode(avaamo_sample))
      assert.are.same(doc, res.json)
      assert.are.equal(1586502000, res.json.aggregate_stats.start_time)
      assert.are.equal(91.22, res.json.aggregate_stats.success_rate)
      -- any agent, and the same query spelled differently
      assert.are.same(doc, avaamo(7, "utc_offset=-25200&to_date=13/4/2020&from_date=10/04/2020").json)
    end)

    it("keeps every documented relation, with 9 slices on the right bounds", function()
      local cases = {
        { agent = 1, query = "from_date=01/03/2021&to_date=03/03/2021&utc_offset=19800",
          start = 1614556800 - 19800, finish = 1614556800 + 3 * DAY - 1 - 19800 },
        { agent = 20123, query = "from_date=10/04/2020&to_date=13/04/2020",
          start = 1586476800, finish = 1586476800 + 4 * DAY - 1 },
        { agent = 42, query = "from_date=29/02/2024&to_date=29/02/2024&utc_offset=-18000",
          start = 1709164800 + 18000, finish = 1709164800 + DAY - 1 + 18000 },
        { agent = 987654, query = "from_date=01/12/2022&to_date=07/12/2022&utc_offset=3600",
          start = 1669852800 - 3600, finish = 1669852800 + 7 * DAY - 1 - 3600 },
        -- before the synthetic traffic begins (2015): every object empty, success_rate null
        { agent = 3, query = "from_date=01/01/2010&to_date=02/01/2010", empty = true,
          start = 1262304000, finish = 1262304000 + 2 * DAY - 1 },
      }
      local empty_slices = 0
      for _, c in ipairs(cases) do
        local res = avaamo(c.agent, c.query)
        assert.are.equal(200, res.status, res.body)
        -- counts are JSON integers, never 123.0
        assert.is_nil(res.body:find('_count":%-?%d+%.'), res.body)
        local r = res.json
        local agg, prev = r.aggregate_stats, r.previous_interval_stats
        assert.are.equal(c.start, agg.start_time, c.query)
        assert.are.equal(c.finish, agg.end_time, c.query)
        assert.are.equal(agg.start_time, prev.end_time)
        assert.are.equal(agg.start_time - (agg.end_time - agg.start_time), prev.start_time)
        check_stats(agg, c.query .. " aggregate")
        check_stats(prev, c.query .. " previous")
        assert.are.equal(not c.empty, agg.messages_count > 0, c.query)
        assert.are.equal(9, #r.stats)
        local d = (agg.end_time - agg.start_time) / 9
        for i, s in ipairs(r.stats) do
          check_stats(s, c.query .. " stats[" .. i .. "]")
          assert.is_true(math.abs(s.start_time - (agg.start_time + (i - 1) * d)) < 1e-3)
          if i < 9 then
            assert.are.equal(r.stats[i + 1].start_time, s.end_time)
          end
          if s.messages_count == 0 then
            empty_slices = empty_slices + 1
          end
        end
        assert.are.equal(agg.start_time, r.stats[1].start_time)
        assert.are.equal(agg.end_time, r.stats[9].end_time)
        -- deterministic: the same query gives the same answer
        assert.are.same(r, avaamo(c.agent, c.query).json)
      end
      assert.is_true(empty_slices >= 9 and empty_slices < 45)
      -- another agent, another answer
      assert.are_not.same(avaamo(1, cases[1].query).json.aggregate_stats,
        avaamo(2, cases[1].query).json.aggregate_stats)
    end)

    it("defaults to_date to today in the utc_offset zone and from_date to three days before", function()
      for _, offset in ipairs({ 0, 19800, -25200 }) do
        local today = math.floor((os.time() + offset) / DAY)
        local res = avaamo(5, offset ~= 0 and "utc_offset=" .. offset or nil)
        assert.are.equal(200, res.status)
        assert.are.equal((today - 3) * DAY - offset, res.json.aggregate_stats.start_time)
        assert.are.equal((today + 1) * DAY - 1 - offset, res.json.aggregate_stats.end_time)
      end
      local res = avaamo(5, "to_date=13/04/2020") -- from 10/04/2020
      assert.are.equal(1586476800, res.json.aggregate_stats.start_time)
      assert.are.equal(1586476800 + 4 * DAY - 1, res.json.aggregate_stats.end_time)
    end)

    it("rejects bad input with 422 and unknown agents with 404", function()
      local res = avaamo(5, "from_date=14/04/2020&to_date=13/04/2020")
      assert.are.equal(422, res.status)
      assert.are.same({ error = "To Date cannot be before From Date" }, res.json)
      for _, q in ipairs({ "from_date=31/02/2021&to_date=03/03/2021", "to_date=2021-03-03",
        "utc_offset=abc", "from_date=1/13/2021" }) do
        res = avaamo(5, q)
        assert.are.equal(422, res.status, q)
        assert.are.equal("string", type(res.json.error), q)
      end
      assert.are.equal(404, avaamo("abc").status)
      assert.are.equal(404, avaamo(0).status)
    end)
  end)

  describe("Vonage AI Studio outbound trigger", function()
    local path = "/vonage/messaging/conversation"

    it("requires the X-Vgai-Key", function()
      local res = request(base, "POST", path, { json = { to = "447700900123" } })
      assert.are.equal(401, res.status)
      assert.are.same({ error = "Unauthorized", message = "Missing or invalid X-Vgai-Key" }, res.json)
    end)

    it("accepts a documented WhatsApp trigger", function()
      local res = trigger()
      assert.are.equal(200, res.status, res.body)
      assert.are.equal("application/json", res.headers["content-type"])
      assert.truthy(res.json.session_id:match("^%x+%-%x+%-%x+%-%x+%-%x+$"))
    end)

    it("lists the missing mandatory fields", function()
      local res = post(path, { to = "447700900123" }, vg_auth)
      assert.are.equal(400, res.status)
      assert.are.equal("Bad Request", res.json.error)
      assert.are.same({ "namespace", "template", "locale", "agent_id", "channel", "status_url" },
        res.json.missing)
      res = post(path, { channel = "sms", to = "447700900123" }, vg_auth)
      assert.are.same({ "agent_id", "status_url" }, res.json.missing)
      res = post(path, { channel = "sms", to = "447700900123", agent_id = "sms-agent",
        status_url = "https://example.com/s" }, vg_auth)
      assert.are.equal(200, res.status, res.body)
      assert.are.equal(400, request(base, "POST", path, { headers = vg_auth, body = "{not json" }).status)
    end)

    it("rejects a `to` that is not 8-15 digits", function()
      for i, to in ipairs({ "+447700900123", "00447700900123", "44 7700 900123", "1234567",
        "1234567890123456", "07700900123" }) do
        local res = trigger({ to = to, agent_id = "to-" .. i })
        assert.are.equal(400, res.status, to)
        assert.is_nil(res.json.missing)
      end
      assert.are.equal(200, trigger({ to = "12345678", agent_id = "to-ok" }).status)
    end)

    it("limits header text to 60 and body text to 1024 characters", function()
      local function with(ctype, text, agent)
        return trigger({ agent_id = agent,
          components = { { type = ctype, parameters = { { type = "text", text = text } } } } })
      end
      assert.are.equal(200, with("header", ("é"):rep(60), "len-1").status)
      assert.are.equal(400, with("header", ("a"):rep(61), "len-2").status)
      assert.are.equal(200, with("body", ("€"):rep(1024), "len-3").status)
      local res = with("body", ("a"):rep(1025), "len-4")
      assert.are.equal(400, res.status)
      assert.truthy(res.json.message:find("1024", 1, true))
      assert.are.equal(400, with("footer", "x", "len-5").status)
      assert.are.equal(400, trigger({ agent_id = "len-6", status_url = "not a url" }).status)
      assert.are.equal(400, trigger({ agent_id = "len-7",
        session_parameters = { { name = "n" } } }).status)
    end)

    it("allows 1 session per second per agent, then 429 without Retry-After", function()
      assert.are.equal(200, trigger({ agent_id = "rate-1" }).status)
      local res = trigger({ agent_id = "rate-1" })
      assert.are.equal(429, res.status)
      assert.are.same({ error = "Too Many Requests" }, res.json)
      assert.is_nil(res.headers["retry-after"])
      assert.are.equal(200, trigger({ agent_id = "rate-2" }).status) -- per agent
      os.execute("sleep 1.05")
      assert.are.equal(200, trigger({ agent_id = "rate-1" }).status)
    end)

    it("allows the configured rate", function()
      config({ vonage = { agents = { fast = { rate = 5 } } } })
      local body = {
        namespace = "ns", template = "t", locale = "en", to = "447700900123", agent_id = "fast",
        channel = "whatsapp", status_url = "https://example.com/s",
      }
      assert.are.same({ 200, 200, 200, 200, 200, 429 }, burst(base, path, vg_auth, body, 6))
    end)

    it("opens one business-initiated conversation per new number on the linked agent", function()
      config({ vonage = { agents = { ["7"] = { rate = 100 } } } })
      for _, to in ipairs({ "447700900001", "447700900002", "447700900003", "447700900001" }) do
        assert.are.equal(200, trigger({ agent_id = "7", to = to }).status)
      end
      assert.are.same({ current_usage = 3, current_limit = 250, limit_exhausted = false }, usage(7))
      assert.are.equal(0, usage(1).current_usage)
      -- SMS triggers open no WhatsApp conversation
      assert.are.equal(200, trigger({ agent_id = "7", channel = "sms", to = "447700900009" }).status)
      assert.are.equal(3, usage(7).current_usage)
    end)

    it("keeps accepting when the limit is exhausted, without counting", function()
      config({
        voicebot = { agents = { ["8"] = { limit = 2 } } },
        vonage = { agents = { X = { rate = 100, voicebot_agent = 8 } } },
      })
      for _, to in ipairs({ "447700900001", "447700900002", "447700900003" }) do
        assert.are.equal(200, trigger({ agent_id = "X", to = to }).status)
      end
      assert.are.same({ current_usage = 2, current_limit = 2, limit_exhausted = true }, usage(8))
    end)

    it("forgets conversations after the rolling 24 h window", function()
      config({ vonage = { agents = { ["9"] = { rate = 100 } } } })
      assert.are.equal(200, trigger({ agent_id = "9", to = "447700900001" }).status)
      assert.are.equal(200, trigger({ agent_id = "9", to = "447700900002" }).status)
      assert.are.equal(2, usage(9).current_usage)
      config({ clock_offset = 86399 })
      assert.are.equal(2, usage(9).current_usage)
      config({ clock_offset = 86401 })
      assert.are.equal(0, usage(9).current_usage)
      -- the same number opens a new conversation once its window has passed
      assert.are.equal(200, trigger({ agent_id = "9", to = "447700900001" }).status)
      assert.are.equal(1, usage(9).current_usage)
    end)
  end)
end)
