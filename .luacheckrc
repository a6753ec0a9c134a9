-- luacheck configuration: the Lua layer runs on Lua 5.4 and on LuaJIT (OpenResty).
std = "max"
max_line_length = 110
files["sandbox/lua/convai/sandbox"] = { read_globals = { "ngx" } } -- the emulator, run by nginx
-- The cosocket transport is an nginx library (convai.runtime loads it only inside nginx).
files["lua/convai/http/cosocket.lua"] = { read_globals = { "ngx" } }
-- The status_url receiver is a content handler: it runs only inside nginx and uses its API.
files["lua/convai/ngx/status.lua"] = { read_globals = { ngx = { other_fields = true, fields = {
  status = { read_only = false }, header = { read_only = false, other_fields = true } } } } }
files["tests"] = { std = "+busted", max_line_length = 130 }
files["tests/nginx"] = { globals = { "ngx" } } -- run by nginx (tests/lua/openresty_spec.lua)
files["bench"] = { std = "max" }
exclude_files = { "build", ".install" }
