--- convai.journal.redis: the Redis backend of `convai.journal`: one campaign's state shared by all its
-- workers (processes on one or many hosts running the same campaign with the same `redis://` journal).
--
--     local c = assert(campaign.new { sender = sender, csv = csv, journal = "redis://:s3cret@10.0.0.5/0" })
--
-- The campaign's keys (`convai:campaign:{DIGEST}:...`, DIGEST from the campaign's fingerprint, its
-- parameters (provider, channel, agent, template, namespace, locale; never the recipients), so that every
-- worker started with the same options finds the same campaign, and a run with a corrected or extended
-- CSV amends it):
--
--  - `header`: the campaign record (`{"journal":"convai.campaign","version":2,"campaign":{...}}`), written
--    by the first worker; its absence mid-run means the state is lost (see below);
--  - `state`: a hash, recipient (`to`) → its last record (JSON, as in the file journal, with `w`, the
--    worker that wrote it);
--  - `pending`: a hash, recipient → the worker holding its claim;
--  - `worker:ID`: one per running worker, expiring `WORKER_TTL` seconds after the worker's last call
--    (claims, writes, and a heartbeat while idle keep it).
--
-- A claim is one round trip: the script of `convai.journal.redis_script` claims the recipient only if
-- nobody else holds it and it has no final outcome, and records the pending with the worker's ID before
-- the request leaves. A pending whose worker's key has expired (the worker was killed) becomes `unknown`,
-- never re-sent: at open, at a claim of that recipient, and when a run ends (`settle`). A live worker's
-- pendings are never settled by another. Every key expires `IDLE_EXPIRY` seconds after the campaign's
-- last call.
--
-- Faults: every failure is `nil` and an error of kind `store` (never holding the password). When the
-- header is gone (Redis restarted empty, the keys deleted or evicted) a claim refuses with `err.gone` set:
-- the campaign stops rather than risk messaging anyone twice. With AOF `appendfsync always` nothing a
-- worker was told is lost on a Redis crash; with `everysec` the last second may be (a claim lost with it
-- could be sent again by a worker started after the restart).
--
-- @module convai.journal.redis
local core = require "convai.core"
local file = require "convai.journal.file"
local redis_script = require "convai.journal.redis_script"
local redis_link = require "convai.redis_link"

local type, tostring, tonumber, pairs, ipairs, setmetatable = type, tostring, tonumber, pairs, ipairs,
  setmetatable
local unpack = table.unpack or unpack -- luacheck: ignore 143
local format, sub = string.format, string.sub
local sort, concat = table.sort, table.concat
local random = math.random
local floor = math.floor

local _M = {
  --- Seconds a worker counts as alive after its last call to Redis.
  WORKER_TTL = 10,
  --- Seconds after the campaign's last call when all its keys expire (30 days).
  IDLE_EXPIRY = 30 * 24 * 3600,
  --- The prefix of every key.
  PREFIX = "convai:",
}

local SCRIPT = redis_script.SCRIPT

-- The campaign's identity as one string: the fingerprint's fields, sorted.
local function identity(fingerprint)
  local keys = {}
  for k in pairs(fingerprint) do keys[#keys + 1] = tostring(k) end
  sort(keys)
  local parts = {}
  for i, k in pairs(keys) do parts[i] = k .. "=" .. tostring(fingerprint[k]) end
  return concat(parts, "\n")
end

--- The key prefix of a campaign: `convai:campaign:{DIGEST}:`.
-- @tparam table fingerprint the campaign's identity
-- @treturn string
function _M.keys_of(fingerprint)
  return format("%scampaign:{%s}:", _M.PREFIX, core.digest(identity(fingerprint)))
end

local function connect(where)
  return redis_link.new(where, { what = "campaign store" })
end

local function decode_state(store, flat)
  local state = {}
  for i = 1, #flat, 2 do
    local rec = core.json_decode(flat[i + 1])
    if type(rec) ~= "table" then
      return nil, core.error("store", format("campaign store %s: the record of %s is not JSON", store.where,
        tostring(flat[i])))
    end
    state[flat[i]] = rec
  end
  return state
end

-- The header and the state: `{exists, header, state}` | nil, err.
local function read(store, base)
  local h, err = store:command("GET", base .. "header")
  if h == nil then return nil, err end
  local header = h and core.json_decode(h)
  if h and type(header) ~= "table" then
    return nil, core.error("store", format("campaign store %s: %sheader is not a campaign record",
      store.where, base))
  end
  local flat
  flat, err = store:command("HGETALL", base .. "state")
  if flat == nil then return nil, err end
  local state
  state, err = decode_state(store, flat or {})
  if not state then return nil, err end
  return { exists = header ~= false and header ~= nil, header = header or nil, state = state }
end

local function check_campaign(store, base, header, fingerprint)
  if not header then return true end
  if type(header.campaign) ~= "table" then
    return nil, format("campaign store %s: %sheader is not a campaign record", store.where, base)
  end
  local same, why, diff = file.same_campaign(header, fingerprint)
  if not same then
    return nil, file.another_campaign(format("campaign store %s: %s", store.where, base), why, diff)
  end
  return true
end

--- Read a campaign's state, changing nothing.
-- @tparam string where `redis://[user:password@]host[:port][/db]`
-- @tparam table fingerprint the campaign's identity
-- @treturn table|nil `{exists = boolean, header = table|nil, state = {[to] = last record}}`
-- @treturn[2] nil
-- @treturn[2] convai.error kind `store` (unreachable, refused password, not a campaign's keys) or
--   `invalid_argument` (a malformed URL), or a message (another campaign's keys)
function _M.load(where, fingerprint)
  local store, err = connect(where)
  if not store then return nil, err end
  local base = _M.keys_of(fingerprint)
  local loaded
  loaded, err = read(store, base)
  store:close()
  if not loaded then return nil, err end
  local ok, why = check_campaign(store, base, loaded.header, fingerprint)
  if not ok then return nil, why end
  return loaded
end

local mt = {}
mt.__index = mt
mt.__tostring = function(self) return "convai.journal.redis " .. self.store.where .. " " .. self.base end

local function new_worker_id()
  return sub(core.digest(format("%s %.6f %s %d", tostring({}), core.realtime(), tostring(os.clock()),
    random(0, 2 ^ 30))), 1, 12)
end

-- Run the script: the reply | nil, err (a `gone` reply as a `store` error with `gone = true`).
local function call(self, op, ...)
  local reply, err = self.store:eval(SCRIPT, self.keys,
    { op, self.worker, floor(_M.WORKER_TTL * 1000), _M.IDLE_EXPIRY, ... })
  if reply == nil then return nil, err end
  if type(reply) ~= "table" then
    return nil, core.error("store", format("campaign store %s: unexpected reply from the journal script",
      self.store.where))
  end
  if reply[1] == "gone" then
    local e = core.error("store", format("campaign store %s: the campaign's state is gone from Redis "
      .. "(%sheader is missing: Redis restarted without persistence, or the keys were deleted or evicted); "
      .. "stopping so that nobody is messaged twice", self.store.where, self.base))
    e.gone = true
    return nil, e
  end
  return reply
end

--- Open the campaign for this worker: writes the header when the campaign is new (or checks that the
-- keys are this campaign's), and registers the worker as alive.
-- @tparam string where as for `load`
-- @tparam table fingerprint the campaign's identity
-- @treturn table|nil the journal: `claim`, `write`, `alive`, `settle`, `reload`, `close`, `worker` (its ID),
--   `worker_ttl` (seconds)
-- @treturn[2] nil
-- @treturn[2] convai.error kind `store`, `invalid_argument`, or a message, as `load`
function _M.open(where, fingerprint)
  local store, err = connect(where)
  if not store then return nil, err end
  local base = _M.keys_of(fingerprint)
  local line
  line, err = core.json_encode { journal = "convai.campaign", version = file.VERSION, campaign = fingerprint }
  if not line then store:close() return nil, "cannot encode the campaign record: " .. tostring(err) end
  local set
  set, err = store:command("SET", base .. "header", line, "NX", "EX", _M.IDLE_EXPIRY)
  if set == nil then store:close() return nil, err end
  local h
  h, err = store:command("GET", base .. "header")
  if h == nil then store:close() return nil, err end
  local ok, why = check_campaign(store, base, h and core.json_decode(h) or nil, fingerprint)
  if not ok then store:close() return nil, why end
  local self = setmetatable({ store = store, base = base, worker = new_worker_id(),
    worker_ttl = _M.WORKER_TTL,
    keys = { base .. "header", base .. "state", base .. "pending" } }, mt)
  ok, err = call(self, "alive")
  if not ok then store:close() return nil, err end
  return self
end

local function encode(self, record)
  record.w = self.worker
  local line, err = core.json_encode(record)
  record.w = nil
  if not line then return nil, "cannot encode journal record: " .. tostring(err) end
  return line
end

--- Claim a recipient before its request leaves (one round trip, atomic across every worker).
-- @tparam table record `{r = "pending", to = ..., line = ...}`
-- @tparam[opt] boolean retry_failed a `failed` recipient may be claimed again (unless a live worker
--   failed it)
-- @treturn boolean|nil true: claimed; false: another worker holds it, or it has a final outcome
-- @treturn[2] nil
-- @treturn[2] convai.error kind `store` (`gone` set when the campaign's state is lost)
function mt:claim(record, retry_failed)
  local line, err = encode(self, record)
  if not line then return nil, err end
  local reply
  reply, err = call(self, "claim", record.to, line, retry_failed and "1" or "0")
  if not reply then return nil, err end
  return reply[1] == "ok"
end

--- Claim the first of several recipients that can be claimed, in one round trip (the loop's next
-- recipients: when other workers hold the first ones, this worker's slot goes to the next free one
-- without a round trip per recipient held).
-- @tparam table records `{pending record, ...}` in the worker's order
-- @tparam[opt] boolean retry_failed as for `claim`
-- @treturn integer|nil the place in `records` (from 1) of the one claimed (those before it are held by
--   other workers or final), or 0 when none could be claimed
-- @treturn[2] convai.error kind `store` (`gone` as for `claim`)
function mt:claim_first(records, retry_failed)
  local args = { retry_failed and "1" or "0" }
  for _, rec in ipairs(records) do
    local line, err = encode(self, rec)
    if not line then return nil, err end
    args[#args + 1] = rec.to
    args[#args + 1] = line
  end
  local reply, err = call(self, "claim_first", unpack(args))
  if not reply then return nil, err end
  return reply[1] == "ok" and tonumber(reply[2]) or 0
end

--- Record an outcome (`sent`, `failed`, `throttled`, `unsent`, `unknown`); releases the claim.
-- @tparam table record
-- @treturn boolean|nil true
-- @treturn[2] convai.error kind `store` (`gone` as for `claim`)
function mt:write(record)
  local line, err = encode(self, record)
  if not line then return nil, err end
  local reply
  reply, err = call(self, "write", record.to, line)
  if not reply then return nil, err end
  return true
end

--- Keep this worker alive (a heartbeat while it has nothing to claim or write).
-- @treturn boolean|nil true, or nil and an error as `write`
function mt:alive()
  local reply, err = call(self, "alive")
  if not reply then return nil, err end
  return true
end

--- Make every pending of a dead worker `unknown`.
-- @treturn integer|nil how many were settled
-- @treturn integer how many pendings live other workers hold
-- @treturn[2] nil
-- @treturn[2] convai.error as `write`
function mt:settle()
  local reply, err = call(self, "settle")
  if not reply then return nil, err end
  return reply[2], reply[3]
end

--- The whole campaign's state, as every worker wrote it.
-- @treturn table|nil `{[to] = last record}`
-- @treturn[2] nil
-- @treturn[2] convai.error kind `store`
function mt:reload()
  local loaded, err = read(self.store, self.base)
  if not loaded then return nil, err end
  return loaded.state
end

--- Close: this worker's liveness key is removed (its pendings, if any are left, become `unknown` at the
-- next settle) and the connection closed. Idempotent.
function mt:close()
  if self.closed then return end
  self.closed = true
  self.store:command("DEL", self.base .. "worker:" .. self.worker)
  self.store:close()
end

mt.__close = mt.close

return _M
