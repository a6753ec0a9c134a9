-- luacheck configuration: the Lua layer runs on Lua 5.4 and on LuaJIT (OpenResty).
std = "max"
max_line_length = 110
files["sandbox/lua/convai/sandbox"] = { read_globals = { "ngx" } } -- the emulator, run by nginx
files["tests"] = { std = "+busted", max_line_length = 130 }
files["tests/nginx"] = { globals = { "ngx" } } -- run by nginx (tests/lua/openresty_spec.lua)
files["bench"] = { std = "max" }
exclude_files = { "build", ".install" }
