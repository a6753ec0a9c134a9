--- The test application run by nginx for tests/lua/ngx/openresty_spec.lua (LuaJIT, ngx_lua). Each location
-- of tests/lua/ngx/openresty_spec.lua's nginx.conf calls one function here; answers are JSON. The sandbox
-- is CONVAI_TEST_SANDBOX, read by the master in init_by_lua.
local core = require "convai.core"
local http = require "convai.http"
local runtime = require "convai.runtime"
local voicebot = require "convai.voicebot"
local vonage = require "convai.vonage"
local limit = require "convai.limit"
local cngx = require "convai.ngx"
local nsession = require "convai.http.cosocket"
local status = require "convai.ngx.status"

local _M = {}
local cfg = {}

local VOICEBOT_TOKEN, VONAGE_KEY = "sandbox-voicebot-token", "sandbox-vonage-key"

local function plain_error(err)
  if type(err) ~= "table" then return { kind = "?", message = tostring(err) } end
  return { kind = err.kind, message = err.message, status = err.status, curl_code = err.curl_code,
    request_sent = err.request_sent, retry_after = err.retry_after }
end

local function send(value, code)
  ngx.status = code or 200
  ngx.header["Content-Type"] = "application/json"
  ngx.print(core.json_encode(value))
end

local function outcome(res, err, extra)
  local out = extra or {}
  if res then out.ok, out.result = true, res else out.ok, out.error = false, plain_error(err) end
  return out
end

local function voicebot_client(args)
  return voicebot.new { base_url = cfg.sandbox .. "/voicebot/third-party/v1",
    token = args.token or VOICEBOT_TOKEN, timeout = tonumber(args.timeout),
    retry = args.retry == "1" }
end

--- init_by_lua (the master): clients made here are copied into every worker; a request made here
-- goes through the blocking libcurl core.
-- @tparam[opt] table opts `redis` (a Redis URL: a limit on it is made too, tests/lua/ngx/redis_spec.lua)
function _M.init(opts)
  cfg.sandbox = assert(os.getenv("CONVAI_TEST_SANDBOX"), "CONVAI_TEST_SANDBOX is not set")
  local vb = assert(voicebot_client {})
  local u, err = vb:whatsapp_usage(1)
  cfg.init = outcome(u, err, { stats = vb.http.session:stats(), session = tostring(vb.http.session) })
  vb:close()
  cfg.shared_vb = assert(voicebot_client {})
  -- The unpaced routes' client: its own limit lets 100 sessions per second through (the sandbox's window
  -- is reset before each test); the paced routes wrap it in a limiter.
  cfg.vg = assert(vonage.new { base_url = cfg.sandbox .. "/vonage", api_key = VONAGE_KEY, retry = false,
    limits = { store = "process", rate = 100 } })
  cfg.limiter = assert(cngx.limiter { dict = "limits", rates = { A = 5 } })
  cfg.limiters = { shared_dict = cfg.limiter }
  cfg.redis = opts and opts.redis
  if cfg.redis then
    cfg.limiters.redis = assert(cngx.limiter { store = cfg.redis, rates = { R = 5, S = 10 } })
    cfg.redis_capacity = assert(cngx.capacity { store = cfg.redis, client = cfg.shared_vb })
    -- agent T paced as a CLI campaign paces its agent (margin 0.02): tests/lua/ngx/combined_limits_spec.lua
    cfg.limiters.redis_campaign = assert(cngx.limiter { store = cfg.redis, rates = { T = 5 }, margin = 0.02 })
  end
  cfg.capacity = assert(cngx.capacity { dict = "cache", client = cfg.shared_vb, ttl = 30 })
end

-- One paced trigger of a burst (on the limit of `store`); records its outcome in the dict.
local function burst_one(gen, agent, i, store)
  local dict = ngx.shared.results
  local w = ngx.worker.id()
  local res, err = cfg.limiters[store]:wrap(cfg.vg):trigger_whatsapp {
    agent_id = agent, namespace = "ns", template = "burst_test", locale = "en",
    to = string.format("+44770%d%05d%d", w, i, gen % 10), status_url = "http://127.0.0.1:9/status",
  }
  local key = res and ("status:" .. res.status) or ("error:" .. tostring(err.kind))
  dict:incr(("burst:%d:%s"):format(gen, key), 1, 0)
  dict:incr(("burst:%d:w%d"):format(gen, w), 1, 0)
end

local last_gen = 0
local function burst_poll(premature)
  if premature then return end
  local go = ngx.shared.results:get("burst:go")
  if not go then return end
  local spec = core.json_decode(go)
  if spec.gen == last_gen then return end
  last_gen = spec.gen
  ngx.timer.at(0, function()
    local threads = {}
    for i = 1, spec.n do threads[i] = ngx.thread.spawn(burst_one, spec.gen, spec.agent, i, spec.store) end
    for i = 1, spec.n do ngx.thread.wait(threads[i]) end
  end)
end

--- init_worker_by_lua: every worker polls for a burst to run (tests of the shared limiter).
function _M.init_worker()
  local ok, err = ngx.timer.every(0.05, burst_poll)
  if not ok then ngx.log(ngx.ERR, "cannot start the burst poller: ", err) end
  if cfg.limiters.redis then -- a claim where nginx has no cosockets: refused (see ROUTES.redis_phase)
    local _, aerr = cfg.limiters.redis:acquire("X")
    ngx.shared.results:set("redis_phase", core.json_encode(plain_error(aerr)))
  end
end

local function record(s)
  ngx.shared.statuses:rpush("list", core.json_encode(s))
end

local RECEIVERS = {
  plain = function() return status.handler(record) end,
  small = function() return status.handler(record, { max_body = 4096 }) end,
  slow = function()
    return status.handler(function(s)
      ngx.sleep(1)
      record(s)
    end)
  end,
  after = function()
    return status.handler(function(s)
      if s.message_uuid == "fail-me" then return nil, "convai-test-expected failure" end
      record(s)
    end, { ack = "after" })
  end,
  raises = function()
    return status.handler(function(s)
      if s.message_uuid == "fail-me" then error("convai-test-expected failure") end
      record(s)
    end)
  end,
}

--- content_by_lua of /status/<kind>: the status_url receivers.
function _M.receiver(kind)
  return RECEIVERS[kind]()
end

--- set_by_lua: a request where nginx has no cosockets.
function _M.set_phase()
  local s = assert(nsession.new {})
  local resp, err = s:request { url = cfg.sandbox .. "/_sandbox/health" }
  return resp and "sent" or (err.kind .. ":" .. tostring(err.request_sent))
end

local function raw_request(args)
  local s, err = nsession.new { max_body = tonumber(args.max_body), timeout = tonumber(args.timeout) or 10 }
  if not s then return outcome(nil, err) end
  local t0 = ngx.now()
  local url = args.url or (cfg.sandbox .. (args.path or "/_sandbox/health"))
  local resp
  resp, err = s:request { url = url, method = args.method }
  ngx.update_time()
  return outcome(resp and { status = resp.status, body = resp.body, headers = resp.headers }, err,
    { elapsed = ngx.now() - t0, stats = s:stats() })
end

local ROUTES = {}

function ROUTES.load()
  return {
    core_version = core.version, ngx_lua_version = ngx.config.ngx_lua_version,
    jit = jit and jit.version or nil, factory_is_cosocket = runtime.session == nsession.new,
    in_nginx = cngx.in_nginx(), session = tostring(cfg.shared_vb.http.session), init = cfg.init,
    worker = ngx.worker.id(),
  }
end

function ROUTES.ping() return { pong = true } end

function ROUTES.raw(args) return raw_request(args) end

-- A client whose base URL is a TLS server of the test configuration (port given).
function ROUTES.tls_usage(args)
  local vb = assert(voicebot.new { base_url = "https://127.0.0.1:" .. args.port, token = VOICEBOT_TOKEN,
    retry = false })
  return outcome(vb:whatsapp_usage(1))
end

function ROUTES.usage(args)
  local vb = args.shared == "1" and cfg.shared_vb or assert(voicebot_client(args))
  local u, err = vb:whatsapp_usage(args.agent)
  return outcome(u, err, { stats = vb.http.session:stats() })
end

-- client:batch of n usage queries (agents 1..n) at concurrency c on the shared client: light threads.
function ROUTES.batch(args)
  local n, c = tonumber(args.n) or 8, tonumber(args.c) or 4
  local calls = {}
  for i = 1, n do calls[i] = { "whatsapp_usage", i } end
  ngx.update_time()
  local t0 = ngx.now()
  local out, err = cfg.shared_vb:batch(calls, { concurrency = c })
  ngx.update_time()
  if not out then return outcome(nil, err) end
  local results = {}
  for i = 1, n do
    results[i] = out[i].value and out[i].value.current_limit or plain_error(out[i].err)
  end
  return { ok = true, elapsed = ngx.now() - t0, results = results }
end

-- convai.batch's libcurl scheduler, refused inside nginx.
function ROUTES.scheduler()
  local sched, err = require("convai.batch").new { concurrency = 2 }
  return { made = sched ~= nil, error = err and plain_error(err) }
end

-- A campaign run inside nginx: refused before anything is sent or written.
function ROUTES.campaign()
  local campaign = require "convai.campaign"
  local path = string.format("/tmp/convai-ngx-campaign-%d-%d.journal", ngx.worker.pid(), ngx.now() * 1000)
  local sender = assert(campaign.senders.vonage_whatsapp(cfg.vg, { agent_id = "A", namespace = "ns",
    template = "welcome", locale = "en_US", status_url = "https://example.com/s" }))
  local c = assert(campaign.new { sender = sender, journal = path, rate = 5,
    csv = "to,body.1\n+44 7700 900001,Hello\n" })
  local report, err = c:run()
  local f = io.open(path, "rb")
  if f then f:close() os.remove(path) end
  return { ran = report ~= nil, error = err and plain_error(err), journal_written = f ~= nil }
end

function ROUTES.sleep(args)
  local t0 = ngx.now()
  http.sleep(tonumber(args.s))
  ngx.update_time()
  return { slept = ngx.now() - t0 }
end

function ROUTES.timer(args)
  local id = args.id
  local ok, err = ngx.timer.at(0, function(premature)
    if premature then return end
    ngx.shared.results:set("timer:" .. id, core.json_encode(raw_request(args)))
  end)
  return { scheduled = ok and true or false, error = err }
end

function ROUTES.result(args)
  local v = ngx.shared.results:get("timer:" .. args.id)
  return v and core.json_decode(v) or { pending = true }
end

function ROUTES.trigger(args)
  ngx.req.read_body()
  local fields = core.json_decode(ngx.req.get_body_data() or "{}")
  local client = args.paced == "1" and cfg.limiter:wrap(cfg.vg) or cfg.vg
  return outcome(client:trigger_whatsapp(fields))
end

function ROUTES.burst_start(args)
  local gen = tonumber(args.gen)
  ngx.shared.results:set("burst:go", core.json_encode { gen = gen, n = tonumber(args.n), agent = args.agent,
    store = args.store or "shared_dict" })
  return { started = gen }
end

function ROUTES.burst_result(args)
  local dict = ngx.shared.results
  local out = { workers = {}, outcomes = {} }
  for _, key in ipairs(dict:get_keys(0)) do
    local rest = key:match("^burst:" .. args.gen .. ":(.+)$")
    if rest then
      local w = rest:match("^w(%d+)$")
      if w then out.workers[w] = dict:get(key) else out.outcomes[rest] = dict:get(key) end
    end
  end
  return out
end

function ROUTES.statuses()
  local dict = ngx.shared.statuses
  local list = {}
  while true do
    local v = dict:lpop("list")
    if not v then break end
    list[#list + 1] = core.json_decode(v)
  end
  return { statuses = core.array(list) }
end

-- A paced trigger that meets one 429 (a sandbox fault set by the spec): sent again in a slot of its own.
function ROUTES.paced429()
  local lim = assert(cngx.limiter { dict = "limits", rate = 2, prefix = "p429:" })
  local paced = lim:wrap(cfg.vg)
  ngx.update_time()
  local t0 = ngx.now()
  local res, err = paced:trigger_sms { agent_id = "F", to = "+447700900301", status_url = "https://e.com/s" }
  ngx.update_time()
  return { status = res and res.status, err = plain_error(err), elapsed = ngx.now() - t0 }
end

-- The host store inside nginx (workers run as nobody: the spec names a directory this worker creates):
-- its lock is taken without blocking the worker.
function ROUTES.host_store(args)
  local lim, err = limit.new { store = "host", dir = args.dir, rate = 0.1, margin = 0 }
  if not lim then return { error = plain_error(err) } end
  local delays = {}
  for i = 1, 3 do delays[i] = assert(lim:acquire("N", 100)) end
  local _, aerr = lim:acquire("N", 0)
  return { delays = delays, refused = plain_error(aerr), store = lim.store }
end

function ROUTES.limiter()
  local out = {}
  -- a client given no store: this nginx.conf declares no lua_shared_dict convai_limits, so each worker
  -- paces on its own ("process"); never the host store's file lock
  out.default_store = limit.default().store
  out.bare_client_store = assert(vonage.new { base_url = cfg.sandbox .. "/vonage", api_key = VONAGE_KEY }).limit.store
  out.limiter_limits = assert(cngx.limiter { limits = "process", rate = 3 }).store
  local _, lerr = cngx.limiter { limits = "nowhere" }
  out.limiter_bad_limits = plain_error(lerr)
  local _, err = cngx.limiter { dict = "nope" }
  out.no_dict = plain_error(err)
  _, err = cngx.limiter { dict = "limits", rate = 0 }
  out.bad_rate = plain_error(err)
  local lim = assert(cngx.limiter { dict = "limits", rate = 2, max_wait = 1, prefix = "check:" })
  ngx.update_time()
  local t0 = ngx.now()
  for _ = 1, 3 do assert(lim:wait("B")) end
  ngx.update_time()
  out.three_at_2_per_s = ngx.now() - t0            -- slots 0.55 s apart: at least 1.1 s
  local _, werr = lim:wait("")
  out.bad_agent = plain_error(werr)
  assert(lim:penalize("C", 5))
  _, werr = lim:wait("C")                           -- held for 5 s > max_wait
  out.held = plain_error(werr)
  local rate, interval = lim:rate("B")
  out.rate, out.interval = rate, interval
  assert(lim:penalize("W", 0.3))
  local _, aerr = lim:acquire("W", 0)               -- W is held: no slot now, nothing claimed
  out.within = plain_error(aerr)
  out.within_wait = aerr and aerr.wait
  out.after_within = lim:acquire("W", 5)            -- so it is still the next free slot
  local paced = lim:wrap(cfg.vg)
  ngx.update_time()
  t0 = ngx.now()
  out.calls = {}
  for i = 1, 2 do -- voice calls count against the same limit
    local res, cerr = paced:make_call { agent_id = "E", to = "+44770090020" .. i }
    out.calls[i] = res and res.status or plain_error(cerr)
  end
  ngx.update_time()
  out.two_calls = ngx.now() - t0                    -- at least one interval, 0.55 s
  out.tostring = tostring(paced)
  local _, verr = paced:trigger_whatsapp { agent_id = "D", template = "x" }
  out.invalid_trigger = plain_error(verr)
  out.claimed_for_invalid = false
  for _, key in ipairs(ngx.shared.limits:get_keys(0)) do
    if key:find("check:D:", 1, true) == 1 then out.claimed_for_invalid = true end
  end
  return out
end

-- n slots of an agent claimed one after the other on the Redis limit, each awaited: the bounds of their
-- starts on the wall clock ({lo, hi}: before and after the call, plus the delay; ngx.now counts whole
-- milliseconds), for tests/lua/ngx/redis_spec.lua to compare with another process's claims.
function ROUTES.claims(args)
  local starts = {}
  for i = 1, tonumber(args.n) or 1 do
    ngx.update_time()
    local t0 = ngx.now()
    local delay, err = cfg.limiters.redis:acquire(args.agent, 60)
    if not delay then return outcome(nil, err, { starts = core.array(starts) }) end
    ngx.update_time()
    starts[i] = { lo = t0 + delay, hi = ngx.now() + 0.001 + delay }
    if delay > 0 then ngx.sleep(delay) end
  end
  return { ok = true, starts = core.array(starts), worker = ngx.worker.id() }
end

-- Redis limits that cannot work (URLs given by the spec): their errors, their tostring, and a paced
-- trigger through each (it must send nothing).
function ROUTES.redis_errors(args)
  local out = {}
  for _, name in ipairs { "wrong_password", "unreachable" } do
    local lim = assert(cngx.limiter { store = args[name], connect_timeout = 0.5, timeout = 0.5 })
    local _, err = lim:acquire("E")
    local _, perr = lim:wrap(cfg.vg):trigger_whatsapp { agent_id = "E", namespace = "ns", template = "t",
      locale = "en", to = "+447700900401", status_url = "http://127.0.0.1:9/status" }
    out[name] = { acquire = plain_error(err), paced = plain_error(perr), tostring = tostring(lim) }
  end
  local _, merr = cngx.limiter { store = args.malformed }
  out.malformed = plain_error(merr)
  return out
end

function ROUTES.redis_phase()
  return core.json_decode(ngx.shared.results:get("redis_phase"))
end

-- The capacity on Redis (tests/lua/ngx/redis_spec.lua): `read=1` asks the vendor, else one `hold`
-- (settled at once as `settle=sent|unsent` when given).
function ROUTES.redis_capacity(args)
  local agent = tonumber(args.agent)
  if args.read then return outcome(cfg.redis_capacity:read(agent)) end
  local ticket, fig = cfg.redis_capacity:hold(agent)
  if ticket == nil then return outcome(nil, fig) end
  if ticket and args.settle then assert(cfg.redis_capacity:settle(ticket, args.settle == "sent")) end
  return { ok = true, held = ticket and true or false, usage = fig or nil, worker = ngx.worker.id() }
end

function ROUTES.capacity(args)
  local agent = tonumber(args.agent)
  if args.reserve then
    local ok, usage = cfg.capacity:reserve(agent, tonumber(args.reserve))
    return { reserved = ok, usage = usage }
  end
  if args.invalidate then
    cfg.capacity:invalidate(agent)
    return { invalidated = true }
  end
  return outcome(cfg.capacity:get(agent))
end

--- content_by_lua of /t/<name>.
function _M.handle(name)
  local route = ROUTES[name]
  if not route then return send({ error = "no route " .. tostring(name) }, 404) end
  send(route(ngx.req.get_uri_args()))
end

return _M
