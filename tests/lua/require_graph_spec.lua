-- The require graph of the Lua sources (lua/, and sandbox/ when it exists), read from the files: no
-- module requires itself through others (a cycle), and no `require` hides inside a function body
-- unless the module it loads is optional, said by a comment `-- optional: why` on the line of the
-- require. (A require inside a function either dodges a cycle, which is the design problem, or hides
-- a dependency from a reader of the module's first lines.)
local helper = require "helper"

-- The Lua files under a directory, sorted.
local function lua_files(dir)
  local p = assert(io.popen("find -L '" .. dir .. "' -name '*.lua' -type f 2>/dev/null | sort"))
  local out = {}
  for line in p:lines() do out[#out + 1] = line end
  p:close()
  return out
end

local function is_dir(path)
  local p = assert(io.popen("test -d '" .. path .. "' && echo yes"))
  local yes = p:read("*l") == "yes"
  p:close()
  return yes
end

-- Module name of a file below a root: lua/convai/http/init.lua -> convai.http.
local function module_name(root, file)
  local rel = file:sub(#root + 2):gsub("%.lua$", ""):gsub("/init$", "")
  return (rel:gsub("/", "."))
end

-- ------------------------------------------------------------------ a small Lua scanner

-- The level of a long bracket opening at `pos` ("[[", "[=[", ...), or nil.
local function long_bracket(src, pos)
  local eq = src:match("^%[(=*)%[", pos)
  return eq and #eq or nil
end

-- The tokens of a Lua source that matter here: names (keywords included), strings (their value) and
-- punctuation, each with its line; comments are kept apart, by line.
local function tokenize(src)
  local tokens, comments = {}, {}
  local pos, line, n = 1, 1, #src
  local function add(kind, value) tokens[#tokens + 1] = { kind = kind, value = value, line = line } end
  local function advance(to) -- move to `to`, counting the lines passed
    local _, breaks = src:sub(pos, to - 1):gsub("\n", "")
    line = line + breaks
    pos = to
  end
  while pos <= n do
    local c = src:sub(pos, pos)
    if c == "\n" then
      line, pos = line + 1, pos + 1
    elseif c:match("%s") then
      pos = pos + 1
    elseif src:sub(pos, pos + 1) == "--" then
      local level = long_bracket(src, pos + 2)
      local stop
      if level then
        local close = "]" .. string.rep("=", level) .. "]"
        stop = select(2, src:find(close, pos, true)) or n
      else
        stop = (src:find("\n", pos, true) or n + 1) - 1
      end
      comments[line] = (comments[line] or "") .. src:sub(pos, stop)
      advance(stop + 1)
    elseif c == "[" and long_bracket(src, pos) then
      local level = long_bracket(src, pos)
      local close = "]" .. string.rep("=", level) .. "]"
      local body_start = pos + level + 2
      local stop = src:find(close, body_start, true) or n
      add("string", src:sub(body_start, stop - 1))
      advance(stop + #close)
    elseif c == '"' or c == "'" then
      local i, buf = pos + 1, {}
      while i <= n do
        local d = src:sub(i, i)
        if d == "\\" then
          buf[#buf + 1] = src:sub(i, i + 1)
          i = i + 2
        elseif d == c then
          break
        else
          buf[#buf + 1] = d
          i = i + 1
        end
      end
      add("string", table.concat(buf))
      advance(i + 1)
    elseif c:match("[%a_]") then
      local name = src:match("^[%w_]+", pos)
      add("name", name)
      pos = pos + #name
    elseif c:match("%d") then
      pos = pos + #src:match("^[%w_%.]+", pos)
    else
      add("punct", c)
      pos = pos + 1
    end
  end
  return tokens, comments
end

local OPENS = { ["function"] = true, ["if"] = true, ["do"] = true, ["repeat"] = true }
local CLOSES = { ["end"] = true, ["until"] = true }

-- The requires of a source: `{line, module (nil when not a string literal), in_function, optional}`.
local function requires_of(src)
  local tokens, comments = tokenize(src)
  local out, blocks, functions = {}, {}, 0
  for i, t in ipairs(tokens) do
    if t.kind == "name" then
      local v = t.value
      if OPENS[v] then
        blocks[#blocks + 1] = v
        if v == "function" then functions = functions + 1 end
      elseif CLOSES[v] then
        local top = table.remove(blocks)
        if top == "function" then functions = functions - 1 end
      elseif v == "require" then
        local prev = tokens[i - 1]
        local called = not (prev and prev.kind == "punct" and (prev.value == "." or prev.value == ":"))
          and not (prev and prev.kind == "name" and prev.value == "function")
        if called then
          local arg = tokens[i + 1]
          if arg and arg.kind == "punct" and arg.value == "(" then
            arg = tokens[i + 2]
          elseif arg and arg.kind == "punct" and arg.value == "," then -- pcall(require, "name")
            arg = tokens[i + 2]
          end
          local comment = comments[t.line] or ""
          out[#out + 1] = {
            line = t.line, module = arg and arg.kind == "string" and arg.value or nil,
            in_function = functions > 0, optional = comment:find("optional:", 1, true) ~= nil,
          }
        end
      end
    end
  end
  return out, #blocks
end

-- ------------------------------------------------------------------ the graph

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

-- Every module of the roots: name -> {file, requires, unbalanced}.
local function modules()
  local roots = { "lua" }
  if is_dir(helper.root .. "/sandbox/lua") then
    roots[#roots + 1] = "sandbox/lua"
  elseif is_dir(helper.root .. "/sandbox") then
    roots[#roots + 1] = "sandbox"
  end
  local out = {}
  for _, root in ipairs(roots) do
    for _, file in ipairs(lua_files(helper.root .. "/" .. root)) do
      local rel = file:sub(#helper.root + 2)
      local reqs, open = requires_of(read(file))
      out[module_name(root, rel)] = { file = rel, requires = reqs, unbalanced = open }
    end
  end
  return out
end

-- The first cycle found from each module, as the list of its modules (sorted, space-separated) and the
-- path that shows it.
local function cycles(mods)
  local found, state, stack = {}, {}, {}
  local function visit(name)
    state[name] = "open"
    stack[#stack + 1] = name
    for _, r in ipairs(mods[name].requires) do
      local to = r.module
      if to and mods[to] then
        if state[to] == "open" then
          local path, members = {}, {}
          for k = #stack, 1, -1 do
            table.insert(path, 1, stack[k])
            members[#members + 1] = stack[k]
            if stack[k] == to then break end
          end
          path[#path + 1] = to
          table.sort(members)
          found[table.concat(members, " ")] = table.concat(path, " -> ")
        elseif not state[to] then
          visit(to)
        end
      end
    end
    stack[#stack] = nil
    state[name] = "done"
  end
  local names = {}
  for name in pairs(mods) do names[#names + 1] = name end
  table.sort(names)
  for _, name in ipairs(names) do
    if not state[name] then visit(name) end
  end
  return found
end

describe("the require graph of lua/ (and sandbox/)", function()
  local mods = modules()

  it("reads every module (each file's blocks balance, so its functions are where the scanner thinks)", function()
    assert.is_not_nil(mods["convai.http"])
    assert.is_not_nil(mods["convai.runtime"])
    for name, m in pairs(mods) do
      assert.equal(0, m.unbalanced, name .. " (" .. m.file .. "): unbalanced blocks")
    end
  end)

  it("has no cycle", function()
    local bad = {}
    for _, path in pairs(cycles(mods)) do bad[#bad + 1] = path end
    table.sort(bad)
    assert.same({}, bad)
  end)

  it("has no require inside a function but of an optional module, marked -- optional: on its line", function()
    local bad = {}
    for _, m in pairs(mods) do
      for _, r in ipairs(m.requires) do
        if r.in_function and not r.optional then
          bad[#bad + 1] = string.format("%s:%d requires %s inside a function", m.file, r.line,
            r.module or "a computed name")
        end
      end
    end
    table.sort(bad)
    assert.same({}, bad)
  end)

  it("finds what it looks for: a require in a function, a marked one, a cycle", function()
    local reqs = requires_of(table.concat({
      'local a = require "m.a"',
      'local t = { f = function() return require("m.b") end }',
      'local function g() local c = require "m.c" -- optional: only in nginx',
      '  if x then do return require [[m.d]] end end',
      'end',
      '-- require "m.comment"',
      'local s = "require \'m.string\'"',
      'parser:require_command(true)',
      'local e = x and require "m.e" or nil',
      'local function h() return pcall(require, "m.f") end',
    }, "\n"))
    local seen = {}
    for _, r in ipairs(reqs) do
      seen[#seen + 1] = string.format("%s %s%s", r.module, r.in_function and "in" or "top",
        r.optional and " optional" or "")
    end
    assert.same({ "m.a top", "m.b in", "m.c in optional", "m.d in", "m.e top", "m.f in" }, seen)
    local fake = {
      x = { requires = { { module = "y" } } }, y = { requires = { { module = "z" } } },
      z = { requires = { { module = "x" } } }, w = { requires = { { module = "x" } } },
    }
    assert.same({ ["x y z"] = "x -> y -> z -> x" }, cycles(fake))
  end)
end)
