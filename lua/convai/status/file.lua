--- convai.status.file: the status store in a JSON-lines file, one status callback a line.
--
-- Each status is appended as one line by one `write` on a file opened in append mode (`O_APPEND`), so
-- lines written by several nginx workers, or by several receivers, never interleave; a line cut by a
-- crash (no final newline) is skipped when the file is read. The file is the default store of
-- `convai receive` (`convai.config.statuses_file`).
--
-- @module convai.status.file
local core = require "convai.core"

local type, tostring, setmetatable = type, tostring, setmetatable
local sub, find = string.sub, string.find

local _M = {}

local function store_error(fmt, ...)
  return nil, core.error("store", fmt:format(...))
end

local appender = {}
appender.__index = appender

--- Open a file for appending statuses (created when missing; its directory must exist).
-- @tparam string path
-- @treturn table|nil the appender: `append(status)`, `close()`
-- @treturn[2] convai.error kind `store` (the file cannot be opened for writing)
function _M.open(path)
  local f, err = io.open(path, "a")
  if not f then return store_error("status store %s: cannot open for appending: %s", path, tostring(err)) end
  f:setvbuf("full", 1024 * 1024) -- each line leaves in one write(2), at the flush
  return setmetatable({ f = f, path = path }, appender)
end

--- Append one status (a table, written as a JSON line).
-- @tparam table s the status
-- @treturn boolean|nil true
-- @treturn[2] convai.error kind `store` (not JSON-encodable, or the write failed: disk full)
function appender:append(s)
  local line, err = core.json_encode(s)
  if not line then return store_error("status store %s: %s", self.path, tostring(err)) end
  local ok, werr = self.f:write(line, "\n")
  if ok then ok, werr = self.f:flush() end
  if not ok then return store_error("status store %s: cannot write: %s", self.path, tostring(werr)) end
  return true
end

--- Close the file (idempotent).
function appender:close()
  if self.f then self.f:close() end
  self.f = nil
end

--- Every status of a file, oldest first; a line that is not a JSON object (cut by a crash) is skipped.
-- An absent file holds no status.
-- @tparam string path
-- @treturn table|nil the list of statuses (tables, as appended)
-- @treturn[2] convai.error kind `store` (the file exists but cannot be read)
function _M.read(path)
  local f, err = io.open(path, "rb")
  if not f then
    if find(tostring(err), "No such file", 1, true) then return {} end
    return store_error("status store %s: cannot read: %s", path, tostring(err))
  end
  local text = f:read("a") or ""
  f:close()
  local out = {}
  for line in text:gmatch("[^\n]+") do
    if sub(line, 1, 1) == "{" then
      local s = core.json_decode(line)
      if type(s) == "table" then out[#out + 1] = s end
    end
  end
  return out
end

return _M
