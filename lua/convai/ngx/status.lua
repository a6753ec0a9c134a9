--- convai.ngx.status: a ready content handler for Vonage AI Studio `status_url` callbacks.
--
-- AI Studio posts the status of each message it sends for a triggered session to the trigger's
-- `status_url`. The vendor's trigger document does not show the callback's body; the nearest documented
-- shape is the Vonage Messages API status webhook (docs/api-notes.md §3): a JSON object with `message_uuid`,
-- `to`, `from`, `timestamp`, `status` (`submitted`, `delivered`, `read`, `rejected`, `undeliverable`)
-- and, optionally, `error`, `usage` and `channel`. This handler accepts one such object or a JSON array
-- of them, checks every one, and hands each to a function of the application:
--
--     location = /vonage/status {
--       content_by_lua_block {
--         require("convai.ngx.status").handler(function(s)
--           ngx.log(ngx.INFO, s.message_uuid, " ", s.status)
--         end)
--       }
--     }
--
-- Answers: `200 {"received": N}` once the body is valid; `400 {"error": "Bad Request", "message": ...}`
-- naming the first problem, without calling the function for any status of the body (a body is taken
-- whole or not at all); `405` (with `Allow: POST`) for another method; `413` for a body over
-- `max_body`. When to answer: by default (`ack = "before"`) the 200 is sent and the connection released
-- (`ngx.eof`) before the function runs, so a slow function (a database write, a cosocket call) never
-- delays the vendor, and an error the function raises is logged (error level, with the message_uuid)
-- and not reported to the vendor: its callbacks are not delivered twice. With `ack = "after"` the
-- function runs first and a failure (it raises, or returns `false` or `nil, err`) answers 500, so that a
-- sender that retries delivers the callback again: for applications that must not lose one.
--
-- @module convai.ngx.status
local core = require "convai.core"

local type, tostring, pairs, ipairs, pcall = type, tostring, pairs, ipairs, pcall
local format, match = string.format, string.match

local _M = {}

--- The statuses of the Vonage Messages API, in their usual order.
_M.STATUSES = { "submitted", "delivered", "read", "rejected", "undeliverable" }
local IS_STATUS = {}
for _, s in ipairs(_M.STATUSES) do IS_STATUS[s] = true end

--- Default largest body, bytes.
_M.MAX_BODY = 1024 * 1024

local function is_array(t)
  local n = #t
  if n == 0 then return false end
  for k in pairs(t) do
    if type(k) ~= "number" or k < 1 or k > n or k % 1 ~= 0 then return false end
  end
  return true
end

local function non_empty_string(v)
  return type(v) == "string" and v ~= ""
end

--- Check one status object.
-- @param s the decoded JSON value
-- @tparam[opt] string where name of the value in messages, e.g. `"statuses[2]"` (default "status")
-- @treturn boolean|nil true when valid
-- @treturn string what is wrong, naming the field
function _M.check(s, where)
  where = where or "status"
  if type(s) ~= "table" or is_array(s) or next(s) == nil then
    return nil, where .. " must be a JSON object with message_uuid, to, timestamp and status"
  end
  if not non_empty_string(s.message_uuid) then
    return nil, where .. ".message_uuid must be a non-empty string"
  end
  if not non_empty_string(s.to) then
    return nil, where .. ".to must be a non-empty string (the recipient)"
  end
  if not non_empty_string(s.timestamp)
      or not match(s.timestamp, "^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d") then
    return nil, where .. ".timestamp must be an ISO 8601 date and time, e.g. 2020-01-01T14:00:00.000Z"
  end
  if not IS_STATUS[s.status] then
    return nil, format("%s.status must be one of %s, got %s", where, table.concat(_M.STATUSES, ", "),
      type(s.status) == "string" and format("%q", s.status:sub(1, 40)) or type(s.status))
  end
  if s.from ~= nil and not non_empty_string(s.from) then
    return nil, where .. ".from must be a non-empty string when present"
  end
  if s.channel ~= nil and not non_empty_string(s.channel) then
    return nil, where .. ".channel must be a non-empty string when present"
  end
  if s.error ~= nil and (type(s.error) ~= "table" or is_array(s.error)) then
    return nil, where .. ".error must be a JSON object (type, title, detail, instance) when present"
  end
  if s.usage ~= nil and (type(s.usage) ~= "table" or is_array(s.usage)) then
    return nil, where .. ".usage must be a JSON object (currency, price) when present"
  end
  return true
end

--- Decode and check a callback body.
-- @tparam string body the request body
-- @treturn table|nil the list of statuses (a single object becomes a list of one)
-- @treturn string what is wrong
function _M.parse(body)
  if type(body) ~= "string" or body == "" then
    return nil, "the body is empty: expected a JSON status"
  end
  local value, err = core.json_decode(body)
  if value == nil then return nil, "the body is not JSON: " .. tostring(err) end
  if type(value) ~= "table" then return nil, "the body must be a JSON object or an array of objects" end
  if is_array(value) then
    for i, s in ipairs(value) do
      local ok, msg = _M.check(s, format("statuses[%d]", i))
      if not ok then return nil, msg end
    end
    return value
  end
  if next(value) == nil then return nil, "the body is empty ({} or []): expected a JSON status" end
  local ok, msg = _M.check(value)
  if not ok then return nil, msg end
  return { value }
end

local function reply(status, body, headers)
  ngx.status = status
  ngx.header["Content-Type"] = "application/json"
  ngx.header["Cache-Control"] = "no-store"
  for k, v in pairs(headers or {}) do ngx.header[k] = v end
  ngx.print(core.json_encode(body))
  return status
end

local function read_body(max)
  ngx.req.read_body()
  local body = ngx.req.get_body_data()
  if body == nil then
    local path = ngx.req.get_body_file() -- the body outgrew client_body_buffer_size
    if path then
      local f, err = io.open(path, "rb")
      if not f then return nil, "cannot read the buffered body: " .. tostring(err) end
      body = f:read(max + 1)
      f:close()
    end
  end
  return body or ""
end

local function run(fn, s)
  local ok, res, err = pcall(fn, s)
  if not ok then return nil, res end
  if res == false or (res == nil and err ~= nil) then return nil, err or "returned false" end
  return true
end

--- Handle the current request as a `status_url` callback (call it in a `content_by_lua` block).
-- @tparam function fn called with each status, a table with the fields of the callback (`message_uuid`,
--   `to`, `timestamp`, `status`, and `from`, `channel`, `error`, `usage` and any other field when sent),
--   in the order of the body
-- @tparam[opt] table opts
-- @tparam[opt=1048576] integer opts.max_body largest body, bytes (nginx's `client_max_body_size`, 1m by
--   default, applies too)
-- @tparam[opt="before"] string opts.ack `"before"`: answer 200, then call `fn`; `"after"`: call `fn`
--   first, answer 500 when a call fails
-- @treturn integer the HTTP status answered (200, 400, 405, 413 or 500)
-- @raise when `fn` is not a function or an option is wrong (a mistake in nginx.conf)
function _M.handler(fn, opts)
  opts = opts or {}
  if type(fn) ~= "function" then error("convai.ngx.status.handler: fn must be a function", 2) end
  local max = opts.max_body or _M.MAX_BODY
  if type(max) ~= "number" or max < 1 then
    error("convai.ngx.status.handler: max_body must be a positive number of bytes", 2)
  end
  local ack = opts.ack or "before"
  if ack ~= "before" and ack ~= "after" then
    error("convai.ngx.status.handler: ack must be \"before\" or \"after\"", 2)
  end
  if ngx.req.get_method() ~= "POST" then
    return reply(405, { error = "Method Not Allowed", message = "status callbacks are POSTed" },
      { Allow = "POST" })
  end
  local length = tonumber(ngx.var.http_content_length or "")
  if length and length > max then
    return reply(413, { error = "Payload Too Large", message = format("the body is over %d bytes", max) })
  end
  local body, rerr = read_body(max)
  if not body then
    ngx.log(ngx.ERR, "convai.ngx.status: ", rerr)
    return reply(500, { error = "Internal Server Error" })
  end
  if #body > max then
    return reply(413, { error = "Payload Too Large", message = format("the body is over %d bytes", max) })
  end
  local statuses, err = _M.parse(body)
  if not statuses then return reply(400, { error = "Bad Request", message = err }) end
  if ack == "after" then
    for _, s in ipairs(statuses) do
      local ok, ferr = run(fn, s)
      if not ok then
        ngx.log(ngx.ERR, "convai.ngx.status: the status function failed for message ", s.message_uuid,
          " (", s.status, "): ", tostring(ferr))
        return reply(500, { error = "Internal Server Error" })
      end
    end
    return reply(200, { received = #statuses })
  end
  reply(200, { received = #statuses })
  ngx.eof()
  for _, s in ipairs(statuses) do
    local ok, ferr = run(fn, s)
    if not ok then
      ngx.log(ngx.ERR, "convai.ngx.status: the status function failed for message ", s.message_uuid,
        " (", s.status, "): ", tostring(ferr))
    end
  end
  return 200
end

return _M
