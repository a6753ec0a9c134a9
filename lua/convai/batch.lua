--- convai.batch: run many requests at once, each in its own coroutine, over one libcurl multi handle.
--
-- A scheduler runs tasks (Lua functions) in coroutines it drives (`convai.runtime.attach`): inside a
-- task every request of a `convai.voicebot`, `convai.avaamo` or `convai.vonage` client (or any
-- `convai.http` transport) is added to the scheduler's `core.multi` and the task waits, without blocking
-- the process, while the others run; `convai.http.sleep` inside a task is a timer of the scheduler. So
-- ordinary sequential client code becomes concurrent by running it as tasks:
--
--     local batch = require "convai.batch"
--     local results = batch.run({
--       { client.usage, client, { agent_id = 7, from_date = "01/04/2020", to_date = "07/04/2020" } },
--       { client.usage, client, { agent_id = 8, from_date = "01/04/2020", to_date = "07/04/2020" } },
--     }, { concurrency = 16 })
--     for i, r in ipairs(results) do print(i, r[1], r[2]) end -- value, err of each call
--
-- At most `concurrency` requests are in flight at once; more wait in first-come order. The clients'
-- `client:batch` (see `convai.http.client`) is built on this.
--
-- Inside nginx a scheduler would block the worker's event loop (libcurl waits in the worker's thread),
-- so `new` and `run` refuse there with `invalid_argument`, except in `init_by_lua` (nothing is served
-- yet); `client:batch` runs its calls as `ngx.thread` light threads on cosockets instead.
--
-- Tasks run on the Lua state of the caller, one at a time (coroutines, not threads): a task keeps
-- the process to itself until it makes a request, sleeps or finishes. A task that raises an error is
-- marked failed; the others carry on. Works on Lua 5.4 and LuaJIT (`pcall` in a task may surround
-- requests: both let a coroutine yield across it).
--
-- Longer than most modules (about 530 lines) because the scheduler is one state machine: its queues,
-- the sleepers' heap, the driver side of requests and pauses, and `step` share the counters of slots in
-- flight, and `client_batch` is its one user inside convai.
--
-- @module convai.batch
local core = require "convai.core"
local errors = require "convai.errors"
local runtime = require "convai.runtime"

local type, select, error, tostring, setmetatable = type, select, error, tostring, setmetatable
local co_create, co_resume, co_yield, co_status = coroutine.create, coroutine.resume, coroutine.yield,
  coroutine.status
local co_running = coroutine.running
local co_close = coroutine.close -- Lua 5.4 only
local traceback = debug.traceback
local monotonic = core.monotonic
local unpack = table.unpack or unpack -- luacheck: ignore 143
local floor, huge, min = math.floor, math.huge, math.min
local format = string.format

local _M = {}

--- Default number of requests in flight at once.
_M.DEFAULT_CONCURRENCY = 16

-- What a task yields to the scheduler (private markers).
local WAIT_SLOT, WAIT_REPLY, WAIT_SLEEP = {}, {}, {}

local function pack(...)
  return { n = select("#", ...), ... }
end

local invalid = errors.invalid

-- A FIFO queue: push at tail, pop at head.
local function queue()
  return { head = 1, tail = 0 }
end

local function push(q, v)
  q.tail = q.tail + 1
  q[q.tail] = v
end

local function pop(q)
  local h = q.head
  if h > q.tail then return nil end
  local v = q[h]
  q[h] = nil
  q.head = h + 1
  return v
end

local function qlen(q)
  return q.tail - q.head + 1
end

-- A binary min-heap of sleeping tasks by wake time (ties in arrival order).
local function heap_push(h, task)
  local n = #h + 1
  h[n] = task
  while n > 1 do
    local p = floor(n / 2)
    local a, b = h[p], h[n]
    if a.wake < b.wake or (a.wake == b.wake and a.seq < b.seq) then break end
    h[p], h[n] = b, a
    n = p
  end
end

local function heap_pop(h)
  local n = #h
  local top = h[1]
  h[1] = h[n]
  h[n] = nil
  n = n - 1
  local i = 1
  while true do
    local l, r, s = 2 * i, 2 * i + 1, i
    if l <= n and (h[l].wake < h[s].wake or (h[l].wake == h[s].wake and h[l].seq < h[s].seq)) then s = l end
    if r <= n and (h[r].wake < h[s].wake or (h[r].wake == h[s].wake and h[r].seq < h[s].seq)) then s = r end
    if s == i then break end
    h[i], h[s] = h[s], h[i]
    i = s
  end
  return top
end

local function positive_integer(v)
  return type(v) == "number" and v >= 1 and v == floor(v) and v < huge
end

-- The `concurrency` option (nil: the default), or nil and an `invalid_argument` error.
local function check_concurrency(v)
  if v == nil then return _M.DEFAULT_CONCURRENCY end
  if not positive_integer(v) then
    return invalid(format("convai.batch: concurrency must be a positive integer, got %s", tostring(v)))
  end
  return v
end

local Scheduler = {} -- the methods of a scheduler (documented below)
Scheduler.__index = Scheduler

--- Make a scheduler.
-- @tparam[opt] table opts options, all optional
-- @tparam[opt=16] integer opts.concurrency most requests in flight at once (a positive integer); more
--   wait in first-come order
-- @tparam[opt] number opts.timeout default total time per request, seconds (a request made through a
--   client has the client's `timeout`), as in `core.multi`
-- @tparam[opt] number opts.connect_timeout default connection time, seconds, as in `core.multi`
-- @tparam[opt] string opts.cafile default CA file (a client's `cafile` wins), as in `core.multi`
-- @tparam[opt] integer opts.max_body largest response body, bytes, as in `core.multi`
-- @tparam[opt] string opts.user_agent `User-Agent` of every request, as in `core.multi`
-- @tparam[opt] integer opts.max_host_connections connections to one host at once (default: `concurrency`)
-- @tparam[opt] integer opts.max_total_connections connections in all (default: `concurrency`)
-- @treturn[1] Scheduler the scheduler
-- @treturn[2] nil
-- @treturn[2] convai.error kind `invalid_argument` naming the bad option, or saying that a scheduler
--   would block nginx (inside nginx, outside `init_by_lua`)
-- @usage local sched = assert(batch.new { concurrency = 8 })
function _M.new(opts)
  local phase = runtime.phase()
  if phase and phase ~= "init" then
    return invalid(format("convai.batch: a scheduler drives libcurl, which would block nginx's event loop "
      .. "(%s phase); inside nginx use client:batch, which runs the calls as ngx.thread light threads on "
      .. "cosockets, or ngx.thread.spawn", phase))
  end
  if opts == nil then opts = {} end
  if type(opts) ~= "table" then return invalid("convai.batch: options must be a table") end
  local concurrency, cerr = check_concurrency(opts.concurrency)
  if not concurrency then return nil, cerr end
  local mopts = {}
  for k, v in pairs(opts) do
    if k ~= "concurrency" then mopts[k] = v end
  end
  mopts.max_host_connections = mopts.max_host_connections or min(concurrency, 65536)
  mopts.max_total_connections = mopts.max_total_connections or min(concurrency, 65536)
  local multi, err = core.multi(mopts)
  if not multi then
    err.message = "convai.batch: " .. err.message
    return nil, err
  end
  return setmetatable({
    multi = multi,
    concurrency = concurrency,
    inflight = 0,       -- requests added to the multi and not yet handed back
    reserved = 0,       -- slots granted to tasks not yet resumed
    tasks = 0,          -- tasks not finished
    seq = 0,
    ready = queue(),    -- tasks to resume now (new ones, and those granted a slot)
    later = queue(),    -- tasks that yielded on their own: resumed at the next step
    slots = queue(),    -- tasks waiting for a free slot
    waiting = {},       -- request id -> task
    sleepers = {},      -- heap by wake time
    by_co = {},         -- coroutine -> task, for the tasks not finished
  }, Scheduler)
end

--- Run functions concurrently and return their results in input order.
-- @tparam table fns an array; each entry is a function, or `{fn, arg1, arg2, ...}` (called as
--   `fn(arg1, arg2, ...)`)
-- @tparam[opt] table opts options of `new` (`concurrency` ...)
-- @treturn[1] table an array in the order of `fns`: for each, the values it returned, packed (`{n =
--   count, ...}`), or `{n = 0, error = e}` where it raised `e` (a string with the traceback appended)
-- @treturn[2] nil
-- @treturn[2] convai.error kind `invalid_argument`: a bad option, or an entry of `fns` that is not a
--   function or a table starting with one (nothing is run)
-- @usage local r = batch.run { function() return c:usage(q1) end, { c.usage, c, q2 } }
function _M.run(fns, opts)
  if type(fns) ~= "table" then return invalid("convai.batch.run: fns must be an array of functions") end
  for i = 1, #fns do
    local f = fns[i]
    if type(f) == "table" then f = f[1] end
    if type(f) ~= "function" then
      return invalid(format("convai.batch.run: entry %d must be a function or {function, args...}", i))
    end
  end
  local sched, err = _M.new(opts)
  if not sched then return nil, err end
  local tasks = {}
  for i = 1, #fns do
    local f = fns[i]
    if type(f) == "table" then
      tasks[i] = sched:spawn(f[1], unpack(f, 2, f.n or #f))
    else
      tasks[i] = sched:spawn(f)
    end
  end
  local ok, rerr = pcall(sched.run, sched)
  sched:close()
  if not ok then error(rerr, 0) end
  local out = {}
  for i = 1, #tasks do
    local t = tasks[i]
    out[i] = t.results or { n = 0, error = t.error }
  end
  return out
end

-- Client methods that are not requests.
local NOT_CALLS = { batch = true, close = true }

--- Run calls of a client's methods concurrently (what `client:batch` does; see `convai.http.client`).
-- @tparam table client a `convai.voicebot`, `convai.avaamo` or `convai.vonage` client
-- @tparam table calls an array of `{"method_name", arg1, ...}`
-- @tparam[opt] table opts options of `new` (`concurrency`, default 16, ...), and `on_result`
-- @treturn[1] table an array in the order of `calls`, each `{value = first return, err = convai.error
--   or nil}`; with `on_result`, the number of calls handed to it instead
-- @treturn[2] nil
-- @treturn[2] convai.error kind `invalid_argument`: `calls` is not a table or an option is bad
function _M.client_batch(client, calls, opts)
  if type(calls) ~= "table" then
    return invalid("batch: calls must be an array of {\"method_name\", args...}, got " .. type(calls))
  end
  if opts ~= nil and type(opts) ~= "table" then return invalid("batch: opts must be a table") end
  local on_result = opts and opts.on_result
  if on_result ~= nil then
    if type(on_result) ~= "function" then
      return invalid("batch: on_result must be a function(i, value, err), got " .. type(on_result))
    end
    local rest = {} -- the scheduler's options: all but on_result
    for k, v in pairs(opts) do if k ~= "on_result" then rest[k] = v end end
    opts = rest
  end
  local n = #calls
  local refused = {} -- call index -> invalid_argument error: not run
  for i = 1, n do
    local c = calls[i]
    local name = type(c) == "table" and c[1]
    if type(name) ~= "string" or NOT_CALLS[name] or name:sub(1, 1) == "_"
      or type(client[name]) ~= "function" then
      refused[i] = core.error("invalid_argument", format(
        "batch: call %d must be {\"method_name\", args...} naming a request method of the client, got %s", i,
        type(name) == "string" and format("%q", name) or type(c)))
    end
  end
  -- value, err of call i from what pcall(method, client, args...) returned (first two values only).
  local function outcome(i, c, ok, value, e)
    if ok then
      return value, core.is_error(e) and e or nil
    elseif core.is_error(value) then
      return nil, value
    else -- a raised error: a wrong argument type (see the conventions of the clients)
      return nil, core.error("invalid_argument", format("batch: call %d (%s) raised: %s", i, c[1],
        tostring(value)))
    end
  end
  local out, next_call, delivered, stop = {}, 0, 0, nil
  -- Hand over call i's outcome: to on_result (nothing kept), or into out.
  local function deliver(i, value, err)
    if on_result then
      if stop then return end
      local ok, e = pcall(on_result, i, value, err)
      if not ok then
        stop = { e } -- no other call starts; raised once the calls in flight have finished
        next_call = n
        return
      end
      delivered = delivered + 1
    else
      out[i] = { value = value, err = err }
    end
  end
  local function worker()
    while next_call < n do
      next_call = next_call + 1
      local i = next_call
      if refused[i] then
        deliver(i, nil, refused[i])
      else
        local c = calls[i]
        deliver(i, outcome(i, c, pcall(client[c[1]], client, unpack(c, 2, c.n or #c))))
      end
    end
  end
  local function result()
    if stop then error(stop[1], 0) end
    if on_result then return delivered end
    return out
  end
  if runtime.can_yield() then
    -- Inside nginx: the calls run in light threads, each request on the client's cosocket transport.
    local concurrency, cerr = check_concurrency(opts and opts.concurrency)
    if not concurrency then return nil, cerr end
    local _, first_err = runtime.spawn_threads(worker, min(concurrency, n))
    if first_err then error(first_err, 0) end
    return result()
  end
  local sched, err = _M.new(opts)
  if not sched then return nil, err end
  for _ = 1, min(sched.concurrency, n) do sched:spawn(worker) end
  local ok, rerr = pcall(sched.run, sched)
  sched:close()
  if not ok then error(rerr, 0) end
  return result()
end

--- A scheduler of tasks, made by `new`. Besides the methods below it is the driver of its tasks'
-- coroutines it attaches (`convai.runtime.attach`; `request` and `sleep`, called by
-- `convai.http.transport` and `convai.runtime.sleep`).
-- @type Scheduler

-- Finish a task: it returned (ok) or raised.
local function finish(self, task, finished, ok, ...)
  task.done = true
  self.tasks = self.tasks - 1
  runtime.detach(task.co)
  self.by_co[task.co] = nil
  if ok then
    task.results = pack(...)
  else
    local e = ...
    task.traceback = traceback(task.co, tostring(e))
    task.error = type(e) == "string" and task.traceback or e
  end
  finished[#finished + 1] = task
end

-- File a task that was resumed according to what coroutine.resume returned (`ok, ...`): finished,
-- or waiting for what it yielded. (Varargs, not a packed table: this runs once per request.)
local function filed(self, task, finished, ok, ...)
  if not ok or co_status(task.co) == "dead" then
    return finish(self, task, finished, ok, ...)
  end
  local what, wake = ...
  if what == WAIT_REPLY then
    return -- the request is in self.waiting
  elseif what == WAIT_SLOT then
    push(self.slots, task)
  elseif what == WAIT_SLEEP then
    self.seq = self.seq + 1
    task.wake, task.seq = wake, self.seq
    heap_push(self.sleepers, task)
  else -- a plain coroutine.yield() in the task: run it again at the next step
    push(self.later, task)
  end
end

-- Resume a task with values and file it according to what it yields next.
local function resume(self, task, finished, ...)
  return filed(self, task, finished, co_resume(task.co, ...))
end

-- Resume the ready tasks, granting free slots to waiting tasks as they come.
local function run_ready(self, finished)
  while true do
    while self.inflight + self.reserved < self.concurrency and qlen(self.slots) > 0 do
      self.reserved = self.reserved + 1
      push(self.ready, pop(self.slots))
    end
    local task = pop(self.ready)
    if not task then return end
    resume(self, task, finished)
  end
end

--- Run `fn(...)` as a new task. It starts at the next `step` (or `run`).
-- @tparam function fn the task's body
-- @param ... its arguments
-- @treturn table the task: `done` (boolean) is set when it has finished, then `results` (the values
--   `fn` returned, packed: `{n = count, ...}`) or, if it raised, `error` (the value raised; a string
--   gets the task's traceback appended) and `traceback` (string)
-- @raise if `fn` is not a function or the scheduler is closed
function Scheduler:spawn(fn, ...)
  if type(fn) ~= "function" then error("convai.batch: spawn expects a function, got " .. type(fn), 2) end
  if self.closed then error("convai.batch: the scheduler is closed", 2) end
  local args = pack(...)
  local co = co_create(function() return fn(unpack(args, 1, args.n)) end)
  local task = { done = false, co = co }
  runtime.attach(co, self)
  self.by_co[co] = task
  self.tasks = self.tasks + 1
  push(self.ready, task)
  return task
end

--- The driver side of a request made in a task (called by `convai.http.transport`, not by users): give the
-- request the transport's `timeout`, `connect_timeout` and `cafile`, wait for a slot, add it to the
-- multi and yield until it completes.
-- @tparam table transport a `convai.http.transport` transport
-- @tparam table req a `core` request table, made for this request (the transport's options are set in
--   it where it has none)
-- @treturn table|nil what `session:request` would return: the response, or nil and a `convai.error`
function Scheduler:request(transport, req)
  -- `req` is made by the transport for this request alone: completed in place, not copied.
  local r = req
  if r.timeout == nil then r.timeout = transport.timeout end
  if r.connect_timeout == nil then r.connect_timeout = transport.connect_timeout end
  if r.cafile == nil then r.cafile = transport.cafile end
  if self.inflight + self.reserved >= self.concurrency or qlen(self.slots) > 0 then
    co_yield(WAIT_SLOT) -- resumed with a slot reserved for this task
    self.reserved = self.reserved - 1
  end
  local id, err = self.multi:add(r)
  if not id then return nil, err end
  self.inflight = self.inflight + 1
  self.waiting[id] = self.by_co[co_running()]
  return co_yield(WAIT_REPLY)
end

--- The driver side of `convai.http.sleep` in a task (called by `convai.runtime.sleep`): yield until `seconds`
-- have passed; the other tasks run meanwhile.
-- @tparam number seconds
function Scheduler:sleep(seconds) -- luacheck: ignore 212 (self)
  co_yield(WAIT_SLEEP, monotonic() + seconds)
end

local step_body -- below: what step runs in a protected call

--- Drive the tasks once: resume the tasks that can run, start their requests (at most `concurrency`
-- in flight), wait for requests to complete (at most `wait` seconds, less when a sleeping task wakes
-- sooner; not at all when a task can run now) and resume the tasks whose request completed or whose
-- sleep ended.
-- @tparam[opt=0] number wait longest time to block, seconds
-- @treturn table the array of tasks that finished during this step (possibly empty)
-- @raise if called from inside one of this scheduler's tasks
function Scheduler:step(wait)
  if self.stepping then error("convai.batch: step or run called from inside a task", 2) end
  if self.closed then return {} end
  wait = wait or 0
  self.stepping = true
  local finished = {}
  local ok, err = pcall(step_body, self, wait, finished)
  self.stepping = false
  if not ok then error(err, 0) end
  return finished
end

step_body = function(self, wait, finished)
  while qlen(self.later) > 0 do push(self.ready, pop(self.later)) end
  run_ready(self, finished)
  local sleepers = self.sleepers
  local timeout = wait
  if qlen(self.later) > 0 then
    timeout = 0
  elseif sleepers[1] then
    timeout = min(timeout, sleepers[1].wake - monotonic())
    if timeout < 0 then timeout = 0 end
  end
  if self.multi:pending() > 0 then
    local done = assert(self.multi:perform(timeout))
    for i = 1, #done do
      local d = done[i]
      local task = self.waiting[d.id]
      self.waiting[d.id] = nil
      self.inflight = self.inflight - 1
      if task then
        if d.response then
          resume(self, task, finished, d.response)
        else
          resume(self, task, finished, nil, d.error)
        end
        run_ready(self, finished) -- the freed slot goes to the next request at once
      end
    end
  elseif timeout > 0 and timeout < huge and #finished == 0 then
    -- Nothing in flight: wait as asked (or until the nearest sleeper wakes) instead of returning at
    -- once, so that a caller's loop of step(wait) does not spin.
    core.sleep(timeout)
  end
  local now = monotonic()
  while sleepers[1] and sleepers[1].wake <= now do
    resume(self, heap_pop(sleepers), finished)
  end
  run_ready(self, finished)
end

--- How many tasks have not finished.
-- @treturn integer
function Scheduler:active()
  return self.tasks
end

--- Step until every task has finished.
-- @treturn table the scheduler
function Scheduler:run()
  while self.tasks > 0 and not self.closed do
    self:step(1)
  end
  return self
end

--- Close the scheduler: the requests in flight are aborted and the unfinished tasks are dropped (marked
-- `done` with `error` "convai.batch: closed before the task finished"). Idempotent.
function Scheduler:close()
  if self.closed then return end
  self.closed = true
  self.multi:close()
  for co, task in pairs(self.by_co) do
    if not task.done then
      task.done = true
      task.error = "convai.batch: closed before the task finished"
      runtime.detach(co)
      if co_close then co_close(co) end
    end
  end
  self.tasks = 0
end

Scheduler.__close = Scheduler.close

--- `tostring(scheduler)`: its state, e.g. `"convai.batch (3 tasks, 2 requests in flight)"`.
function Scheduler.__tostring(self)
  if self.closed then return "convai.batch (closed)" end
  return format("convai.batch (%d tasks, %d requests in flight)", self.tasks, self.inflight)
end

return _M
