--- Test helper of the sandbox specs (tests/lua/sandbox/): files, shell commands and temporary
-- directories, for specs that start sandboxes of their own or look at the installed files. The file and
-- quoting functions are the launcher's own (convai.launch.system).
local system = require "convai.launch.system"

local _M = {}

--- Quote a string for /bin/sh (single quotes).
_M.quote = system.quote

--- The content of a file, or nil when it cannot be read.
_M.read_file = system.read_file

--- Write a file (raises on failure).
function _M.write_file(path, text)
  assert(system.write_file(path, text))
end

--- Run a command with /bin/sh.
-- @treturn string its standard output
-- @treturn integer its exit status
function _M.shell(cmd)
  local p = assert(io.popen(cmd, "r"))
  local out = p:read("a")
  local ok, _, code = p:close()
  return out, ok and 0 or code
end

--- A new private directory under /tmp (mode 0700), named after `name`.
function _M.mktemp_dir(name)
  return (_M.shell("mktemp -d /tmp/convai-" .. name .. ".XXXXXX"):gsub("%s+$", ""))
end

return _M
