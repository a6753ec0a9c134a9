--- convai.output_path: can a file be written where it is to go? Checked before any work is done, and
-- without writing anything (so that a dry run checks the same places as the real run, and leaves no
-- trace): the directory exists and is writable, and a file already there is writable. Inside nginx,
-- where a worker must not start a shell, only the directory's existence is checked.
--
-- @module convai.output_path
local runtime = require "convai.runtime"

local format, match, gsub = string.format, string.match, string.gsub
local open, execute = io.open, os.execute

local _M = {}

--- The directory of a path (`.` for a bare file name).
-- @tparam string path
-- @treturn string
function _M.dir_of(path)
  local dir = match(path, "^(.*)/[^/]*$")
  if dir == nil then return "." end
  if dir == "" then return "/" end
  return dir
end

-- access(2) W_OK through test(1): Lua has no access(); runs once per checked path (not inside nginx).
local function writable(path)
  if runtime.in_nginx then return true end
  local quoted = "'" .. gsub(path, "'", "'\\''") .. "'"
  local ok = execute("test -w " .. quoted)
  return ok == true or ok == 0
end

--- Check that `path` can be written (created in its directory, or replaced there atomically).
-- @tparam string path the file
-- @tparam[opt=false] boolean in_place the file itself is appended to (a journal): an existing file
--   must be writable too
-- @treturn boolean|nil true
-- @treturn[2] string what is wrong: `directory D does not exist`, `D is not a directory`, `directory D is
--   not writable`, `F is not writable`
function _M.check(path, in_place)
  local dir = _M.dir_of(path)
  local probe, err = open(dir .. "/.", "rb")
  if not probe then
    if match(err or "", "Not a directory") then return nil, format("%s is not a directory", dir) end
    return nil, format("directory %s does not exist", dir)
  end
  probe:close()
  if in_place then
    local f = open(path, "rb")
    if f then
      f:close()
      if not writable(path) then return nil, format("%s is not writable", path) end
      return true
    end
  end
  if not writable(dir) then return nil, format("directory %s is not writable", dir) end
  return true
end

return _M
