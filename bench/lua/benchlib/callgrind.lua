--- Read a callgrind output file (valgrind --tool=callgrind, with or without --dump-instr=yes) into
-- self costs (instructions executed, Ir) by object file and by function: the format's name
-- compression, relative positions and call lines (whose cost is inclusive and so skipped) are handled.
-- Used by the CPU case to split instructions per query by library when the libraries carry no symbols.
local _M = {}

--- Parse a callgrind file.
-- @tparam string path
-- @treturn table `{total = Ir, objects = {[object] = Ir}, functions = {["object function"] = Ir}}`
function _M.read(path)
  local f = assert(io.open(path))
  local names = { ob = {}, fn = {}, fl = {} }
  local kind_of = { ob = "ob", cob = "ob", fn = "fn", cfn = "fn", fl = "fl", fi = "fl", fe = "fl",
                    cfi = "fl", cfl = "fl" }
  local npos = 1
  local ob, fn = "?", "?"
  local skip_next = false
  local total, summary = 0, nil
  local objects, functions = {}, {}
  for line in f:lines() do
    local c = line:byte(1)
    if c and (c >= 48 and c <= 57 or c == 43 or c == 45 or c == 42) then -- digit, +, -, *
      if skip_next then
        skip_next = false
      else
        local fields, i = {}, 0
        for w in line:gmatch("%S+") do i = i + 1; fields[i] = w end
        local ir = tonumber(fields[npos + 1]) or 0
        total = total + ir
        objects[ob] = (objects[ob] or 0) + ir
        local key = ob .. " " .. fn
        functions[key] = (functions[key] or 0) + ir
      end
    else
      local key, rest = line:match("^(%a+)=(.*)$")
      if key == "calls" then
        skip_next = true
      elseif key and kind_of[key] then
        local t = names[kind_of[key]]
        local id, name = rest:match("^%((%d+)%)%s*(.*)$")
        if id then
          if name ~= "" then t[id] = name else name = t[id] or "?" end
        else
          name = rest
        end
        if key == "ob" then ob = name elseif key == "fn" then fn = name end
      elseif line:match("^positions:") then
        npos = select(2, line:gsub("%S+", "")) - 1
      elseif line:match("^summary:") or line:match("^totals:") then
        summary = tonumber(line:match("(%d+)"))
      end
    end
  end
  f:close()
  return { total = summary or total, objects = objects, functions = functions }
end

--- Instructions per operation from two runs of the same program doing n1 and n2 operations (start-up
-- cancels out), in all and by object file (short names, see `short`).
-- @tparam string file1 the callgrind file of the run of n1
-- @tparam string file2 the callgrind file of the run of n2
-- @treturn table `{total = Ir, objects = {[short name] = Ir}}`, per operation
function _M.per_operation(file1, file2, n1, n2)
  local a, b = _M.read(file1), _M.read(file2)
  local objs = {}
  for obj, v in pairs(b.objects) do
    local short = _M.short(obj)
    objs[short] = (objs[short] or 0) + (v - (a.objects[obj] or 0)) / (n2 - n1)
  end
  return { total = (b.total - a.total) / (n2 - n1), objects = objs }
end

--- Short name of an object file: the library without directory and version ("libcurl", "lua5.4"); a
-- Lua C module keeps its directory ("convai/core", "socket/core").
function _M.short(object)
  local dir, base = object:match("([^/]*)/([^/]+)$")
  base = base or object
  local name = base:gsub("%.so[%.%d]*$", ""):gsub("^ld%-linux.*", "ld.so")
  if name == "core" and dir then name = dir .. "/core" end
  return name
end

return _M
