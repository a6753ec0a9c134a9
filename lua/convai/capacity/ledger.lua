--- convai.capacity.ledger: the rules of an agent's capacity reservations, kept in one document per agent
-- by the stores that can change a document atomically (`process`, `shared_dict`, `host`; the `redis`
-- store runs the same rules as a server-side script, `convai.capacity.redis_script`).
--
-- An agent's document holds the last read of the vendor (`current_limit`, `current_usage`,
-- `limit_exhausted`, when the read started and when it answered) and the reservations made since:
--
--  - a reservation in flight (a send about to leave or on its way) counts until it is settled, and at
--    most `EXPIRY` seconds after it was made (its process died);
--  - settled as not sent (the vendor opened no conversation: 429, refused, not connected) it is removed;
--  - settled as sent, it is done at that time: it counts until a read that STARTED after that time is
--    recorded (that read's `current_usage` counts the conversation), and at most `EXPIRY` seconds after;
--  - `reserve`'s `done` reservations (a trigger endpoint that counts a conversation and does not settle
--    it) are done when made.
--
-- The room left is `current_limit - current_usage - live reservations`; a reservation of `n` is made only
-- when `n` fit, in the same atomic step as the check, so that every user of the store together never
-- goes beyond the last read. Of two reads, the one that started later is kept (it counts more). Times are
-- the store's clock in seconds (the real clock, shared by the processes of the machine).
--
-- The operations (`ops`, what `convai.capacity` calls; the `redis` backend has its own):
-- `read_begin(key) -> token`, `read_end(key, token, usage) -> figures`, `reserve(key, n, done) -> true,
-- figures, ids | false, figures (no room) | false, nil (no read kept)`, `settle(key, ids, sent) -> true`,
-- `figures(key) -> figures | false`, `forget(key) -> true`; each may return `nil` and a `store` error.
--
-- @module convai.capacity.ledger
local core = require "convai.core"
local errors = require "convai.errors"
local runtime = require "convai.runtime"

local type, tostring, pairs, ipairs, next, setmetatable = type, tostring, pairs, ipairs, next, setmetatable
local max = math.max

local _M = {}

--- Seconds a reservation counts at most (in flight since it was made, or done since it was sent): a
-- bound for one whose process died before settling it, or whose conversation no read has counted.
_M.EXPIRY = 600

--- Seconds the `process` and `shared_dict` stores wait for another user's change of the same agent
-- before failing with `store`.
_M.LOCK_PATIENCE = 1

-- Drop what no longer counts: in flight for EXPIRY, done for EXPIRY or before the kept read started.
local function prune(doc, now)
  local cut = now - _M.EXPIRY
  for id, t in pairs(doc.fl) do
    if t <= cut then doc.fl[id] = nil end
  end
  local at = doc.read and doc.read.at
  for id, t in pairs(doc.dn) do
    if t <= cut or (at and t < at) then doc.dn[id] = nil end
  end
end

local function count(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n
end

--- The figures of a document at `now`, or false when it keeps no read.
-- @tparam table doc
-- @tparam number now seconds (the store's clock)
-- @treturn table|boolean `{current_limit, current_usage, limit_exhausted, remaining, reserved, fetched_at,
--   age, read_at}` (`reserved`: live reservations; `remaining = max(0, limit - usage - reserved)`)
function _M.figures_of(doc, now)
  local r = doc.read
  if not r then return false end
  local reserved = count(doc.fl) + count(doc.dn)
  local room = r.l - r.u - reserved
  return { current_limit = r.l, current_usage = r.u, limit_exhausted = r.x or room <= 0,
    remaining = max(room, 0), reserved = reserved, fetched_at = r.f, age = now - r.f, read_at = r.at }
end

-- The operations on a document (`doc` is changed in place; each returns what the op returns).
local RULES = {}

function RULES.read_begin(_, now)
  return now
end

function RULES.read_end(doc, now, token, usage)
  if not doc.read or token >= doc.read.at then
    doc.read = { l = usage.current_limit, u = usage.current_usage, x = usage.limit_exhausted == true,
      at = token, f = now }
  end
  prune(doc, now)
  return _M.figures_of(doc, now)
end

function RULES.reserve(doc, now, n, done)
  prune(doc, now)
  local fig = _M.figures_of(doc, now)
  if not fig then return false, nil end
  if fig.limit_exhausted or fig.current_limit - fig.current_usage - fig.reserved < n then
    return false, fig
  end
  local ids = {}
  for i = 1, n do
    doc.seq = (doc.seq or 0) + 1
    local id = tostring(doc.seq)
    if done then doc.dn[id] = now else doc.fl[id] = now end
    ids[i] = id
  end
  return true, _M.figures_of(doc, now), ids
end

function RULES.settle(doc, now, ids, sent)
  for _, id in ipairs(ids) do
    if doc.fl[id] then
      doc.fl[id] = nil
      if sent then doc.dn[id] = now end
    end
  end
  return true
end

function RULES.figures(doc, now)
  prune(doc, now)
  return _M.figures_of(doc, now)
end

function RULES.forget(doc)
  doc.read = nil
  return true
end

-- A document decoded (a new one for nil or ""), or nil when the text is not one.
local function decode(text)
  if text == nil or text == "" then return { fl = {}, dn = {} } end
  local doc = core.json_decode(text)
  if type(doc) ~= "table" then return nil end
  doc.fl = type(doc.fl) == "table" and doc.fl or {}
  doc.dn = type(doc.dn) == "table" and doc.dn or {}
  return doc
end

-- A document as text (empty tables as objects).
local function encode(doc)
  return core.json_encode { read = doc.read, seq = doc.seq,
    fl = next(doc.fl) and doc.fl or nil, dn = next(doc.dn) and doc.dn or nil }
end

local ops_mt = {}
ops_mt.__index = ops_mt
for name, rule in pairs(RULES) do
  ops_mt[name] = function(self, key, a, b)
    return self.change(key, function(doc, now) return rule(doc, now, a, b) end)
  end
end

--- The operations over a store that changes a document atomically.
-- @tparam function change `change(key, fn) -> results of fn | nil, err`: runs `fn(doc, now)` with the
--   key's document (decoded; a new one when absent) under the store's lock, writes it back, and returns
--   what `fn` returned
-- @treturn table the operations (see the module's header)
function _M.ops(change)
  return setmetatable({ change = change }, ops_mt)
end

--- The document of a text (nil or "": a new one), or nil when the text is not a document.
-- @function decode
-- @tparam string|nil text
-- @treturn table|nil
_M.decode = decode

--- A document as text (JSON).
-- @function encode
-- @tparam table doc
-- @treturn string
_M.encode = encode

--- The `change` of a store with the operations of an nginx shared dict (`get`, `set`, `add`, `delete`):
-- the document is the JSON text at `key` (kept `EXPIRY` seconds after its last change), changed under a
-- lock key `key .. ":mutex"` (taken with `add`; waited for up to `LOCK_PATIENCE`, sleeping 1 ms where
-- the caller may yield).
-- @tparam table kv the store
-- @treturn function `change(key, fn)` for `ops`
function _M.on_dict(kv)
  return function(key, fn)
    local mutex = key .. ":mutex"
    local deadline
    while not kv:add(mutex, true, _M.LOCK_PATIENCE) do
      deadline = deadline or runtime.monotonic() + _M.LOCK_PATIENCE
      if runtime.monotonic() > deadline then
        return nil, errors.new("store", "capacity store: " .. key .. " stayed locked for "
          .. _M.LOCK_PATIENCE .. " s")
      end
      if runtime.can_yield() then runtime.sleep(0.001) end
    end
    local doc = decode(kv:get(key))
    if not doc then kv:delete(mutex) return nil, errors.new("store", "capacity store: " .. key
      .. " holds something else than a convai capacity document") end
    local r1, r2, r3 = fn(doc, runtime.now())
    local ok, err = kv:set(key, encode(doc), _M.EXPIRY)
    kv:delete(mutex)
    if not ok then
      return nil, errors.new("store", "capacity store: " .. tostring(err) .. " (make it larger)")
    end
    return r1, r2, r3
  end
end

return _M
