--- Where the Lua VM spends its instructions in a bench script: runs the script under a count hook
-- (every 100 VM instructions) and prints, per function and per line, the share of samples, with the
-- calls made to each function per query. Only Lua code is seen; time inside C functions is not (the
-- CPU case's callgrind split by library covers that).
-- Usage: lua5.4 bench/lua/profile_lua.lua SCRIPT ARGS... (e.g. bench/lua/seq_convai.lua voicebot 2000)
local script = assert(arg[1], "usage: profile_lua.lua SCRIPT ARGS...")
local args = table.pack(table.unpack(arg, 2))
local getinfo, sethook = debug.getinfo, debug.sethook

local by_line, by_fn, calls, samples = {}, {}, {}, 0
local function where(info) return info.short_src .. ":" .. (info.linedefined or 0) end
sethook(function(event)
  local info = getinfo(2, "Sl")
  if not info then return end
  if event == "call" then
    local f = getinfo(2, "Sn")
    local k = (f.what == "C" and "[C] " .. tostring(f.name) or where(f))
    calls[k] = (calls[k] or 0) + 1
    return
  end
  samples = samples + 1
  local fk = where(info)
  by_fn[fk] = (by_fn[fk] or 0) + 1
  local lk = info.short_src .. ":" .. tostring(info.currentline)
  by_line[lk] = (by_line[lk] or 0) + 1
end, "c", tonumber(os.getenv("PROFILE_EVERY") or 100))

local chunk = assert(loadfile(script))
_G.arg = { [0] = script, table.unpack(args, 1, args.n) }
local real_exit = os.exit
os.exit = function() end -- luacheck: ignore (report before leaving)
chunk(table.unpack(args, 1, args.n))
sethook()
os.exit = real_exit -- luacheck: ignore

local n = tonumber(args[2] or args[1]) or 1
local function top(t, count, label)
  local rows = {}
  for k, v in pairs(t) do rows[#rows + 1] = { k, v } end
  table.sort(rows, function(a, b) return a[2] > b[2] end)
  io.stderr:write(label, "\n")
  for i = 1, math.min(count, #rows) do
    io.stderr:write(string.format("  %5.1f%%  %s\n", rows[i][2] * 100 / samples, rows[i][1]))
  end
end
top(by_fn, 15, "VM instructions by function (defined at):")
top(by_line, 25, "VM instructions by line:")
local rows = {}
for k, v in pairs(calls) do rows[#rows + 1] = { k, v } end
table.sort(rows, function(a, b) return a[2] > b[2] end)
io.stderr:write("calls per query:\n")
for i = 1, math.min(30, #rows) do
  io.stderr:write(string.format("  %6.2f  %s\n", rows[i][2] / n, rows[i][1]))
end
