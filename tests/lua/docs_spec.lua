-- The documentation holds: every relative link of a Markdown page (README.md, docs/, bench/RESULTS.md...)
-- names a file of the repository and, with a #fragment, a heading of it; every citation of a docs/ page
-- in the code (`docs/api-notes.md §3`, `docs/http.md "Retries"`) names a page, section or heading that
-- exists; the README stays short, keeps the test command CI runs, and its Lua example runs as it is;
-- every Lua block of the README and docs/ compiles, and runs against the sandbox unless it is a reference
-- sketch (listed below, with why); every `convai ...` example parses, its options exist, and the
-- read-only ones run.
local helper = require "helper"

local ROOT = helper.root

-- Pages linked before they exist: written on other branches of the same change. Remove a name once its
-- page is in the tree (the last test fails until then, so that the list cannot hide a broken link).

-- The content of a file of the repository (a path relative to its root), or nil when there is none.
local function read(path)
  local f = io.open(ROOT .. "/" .. path, "rb")
  local text = f and f:read("a")
  if f then f:close() end
  return text
end

local function exists(path) return read(path) ~= nil end

-- `words` and then `extra`, as one new list.
local function helper_words(words, extra)
  local t = {}
  for i, w in ipairs(words) do t[i] = w end
  t[#t + 1] = extra
  return t
end

-- Lines of a shell command's output.
local function lines_of(cmd)
  local p = assert(io.popen("cd '" .. ROOT .. "' && " .. cmd))
  local out = {}
  for line in p:lines() do out[#out + 1] = line end
  p:close()
  return out
end

-- The Markdown pages of the repository (not the build tree, not fuzz corpora).
local function pages()
  -- -L: under the memory checks the checkout is a tree of symbolic links (scripts/test-memory)
  local list = lines_of("find -L . -name '*.md' -not -path './build*' -not -path './.git/*' "
    .. "-not -path './.install/*' -not -path './tests/fuzz/corpus/*' | sed 's|^\\./||' | sort")
  assert.is_true(#list > 0, "no Markdown page found under " .. ROOT)
  return list
end

-- The text of a page without its fenced code blocks and inline code (where brackets are code).
local function prose(text)
  text = text:gsub("\n```.-\n```", "\n")
  return (text:gsub("`[^`]*`", ""))
end

-- GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens.
local function slug(heading)
  heading = heading:gsub("`", ""):lower()
  heading = heading:gsub("[^%w%s%-_\128-\255]", "")
  return (heading:gsub("%s", "-"))
end

-- The headings of a page: `{[slug] = true}` and the list of their texts.
local function headings(text)
  local slugs, texts = {}, {}
  for line in (text:gsub("\n```.-\n```", "\n") .. "\n"):gmatch("([^\n]*)\n") do
    local h = line:match("^#+%s+(.-)%s*$")
    if h then
      slugs[slug(h)] = true
      texts[h] = true
    end
  end
  return slugs, texts
end

-- "a/b/../c.md" -> "a/c.md"
local function normalise(path)
  local parts = {}
  for part in path:gmatch("[^/]+") do
    if part == ".." then
      if #parts == 0 then return nil end
      parts[#parts] = nil
    elseif part ~= "." then
      parts[#parts + 1] = part
    end
  end
  return table.concat(parts, "/")
end

describe("documentation", function()
  it("every relative link of a Markdown page names a file of the repository, and its #heading", function()
    local broken, checked = {}, 0
    for _, page in ipairs(pages()) do
      local text = assert(read(page))
      local dir = page:match("^(.*)/[^/]*$")
      for target in prose(text):gmatch("%]%(([^%)%s]+)[^%)]*%)") do
        if not target:match("^%a[%w+.-]*:") then -- not http:, https:, mailto:
          checked = checked + 1
          local file, fragment = target:match("^([^#]*)#?(.*)$")
          local path = file == "" and page or normalise((dir and dir .. "/" or "") .. file)
          if not path or not exists(path) then
            broken[#broken + 1] = page .. ": " .. target .. " (no such file)"
          elseif fragment ~= "" and path:match("%.md$") and exists(path) then
            if not headings(assert(read(path)))[fragment] then
              broken[#broken + 1] = page .. ": " .. target .. " (no such heading in " .. path .. ")"
            end
          end
        end
      end
    end
    assert.is_true(checked > 20, "only " .. checked .. " links found: is the link pattern still right?")
    assert.same({}, broken)
  end)

  it("every citation of a docs/ page in the code names a page, section and heading that exist", function()
    local dirs = "lua src tests bin bench examples scripts sandbox"
    local broken = {}
    local function check(where, page, section, heading)
      if not exists(page) then
        broken[#broken + 1] = where .. ": " .. page .. " (no such page)"
        return
      end
      local text = assert(read(page))
      local _, texts = headings(text)
      if section and not text:find("\n## " .. section .. ". ", 1, true) then
        broken[#broken + 1] = where .. ": " .. page .. " §" .. section .. " (no '## " .. section .. ".' heading)"
      end
      if heading and not texts[heading] then
        broken[#broken + 1] = where .. ": " .. page .. ' "' .. heading .. '" (no such heading)'
      end
    end
    local grep = "grep -rnoE --exclude-dir=corpus 'docs/[a-z0-9_-]+\\.md(,? \"[^\"]+\"| §[0-9]+( and §[0-9]+)?)?' "
      .. dirs .. " 2>/dev/null"
    for _, hit in ipairs(lines_of(grep)) do
      local where, cite = hit:match("^([^:]+:%d+):(.*)$")
      local page = cite:match("^(docs/[%w_-]+%.md)")
      local heading = cite:match('^docs/[%w_-]+%.md,? "([^"]+)"')
      if heading then
        check(where, page, nil, heading)
      else
        local any = false
        for n in cite:gmatch("§(%d+)") do
          check(where, page, n)
          any = true
        end
        if not any then check(where, page) end
      end
    end
    assert.same({}, broken)
  end)

  it("the README stays short and keeps the test command CI runs", function()
    local readme = assert(read("README.md"))
    local _, n = readme:gsub("\n", "")
    assert.is_true(n <= 250, "README.md has " .. n .. " lines; move the details into docs/")
    local ci = assert(read(".ci/run"))
    local command = ci:match("\n(%./scripts/[%w_-]+)%s*$")
    assert.truthy(command, ".ci/run does not end with a ./scripts/ command")
    assert.truthy(readme:find("\n" .. command .. " ", 1, true), "README.md does not show " .. command)
    assert.truthy(readme:find("\n./scripts/quickstart ", 1, true), "README.md does not show ./scripts/quickstart")
  end)

  it("the README's Lua example runs as it is against the sandbox", function()
    helper.reset()
    local readme = assert(read("README.md"))
    local code = readme:match("\n## A first script\n.-\n```lua\n(.-)\n```")
    assert.truthy(code, "README.md has no Lua block under '## A first script'")
    local out = {}
    local env = setmetatable({ print = function(...)
      local t = table.pack(...)
      for i = 1, t.n do t[i] = tostring(t[i]) end
      out[#out + 1] = table.concat(t, "\t")
    end }, { __index = _G })
    local chunk = assert(load(code, "=README.md", "t", env))
    chunk()
    assert.equal(2, #out, table.concat(out, "\n"))
    assert.matches("^%d+\t%d+\t%d+$", out[1])
    assert.equal("triggered: HTTP 200", out[2])
  end)

  -- The Lua blocks of a page: `{text, first}` (its first line), in order.
  local function lua_blocks(text)
    local out = {}
    for block in ("\n" .. text):gmatch("\n```lua\n(.-)\n```") do
      out[#out + 1] = { text = block, first = block:match("^[^\n]*") }
    end
    return out
  end

  -- The pages whose Lua blocks are checked.
  local function doc_pages()
    local list = { "README.md" }
    for _, page in ipairs(pages()) do
      if page:match("^docs/") then list[#list + 1] = page end
    end
    return list
  end

  -- Blocks that are reference sketches, not programs: they compile, but do not run as they are.
  -- Page -> {first line of the block (a prefix) = why}.
  local SKETCHES = {
    ["docs/coordination.md"] = {
      ["local limit = require"] = "the limit API, one call a line with its results",
      ["local lim = assert(limit.new { store = \"redis://[user"] = "a URL template and nginx's limiter",
      ["local capacity = require"] = "the capacity API, one call a line",
      ["local journal = require"] = "the journal API, one call a line",
      ["limit.register("] = "registering application modules that do not exist here",
    },
    ["docs/clients.md"] = {
      ["local vg = assert(vonage.from_env { rates"] = "fields elided with ...",
      ["avaamo.range { last"] = "one call a line; the range depends on today (client/avaamo_spec.lua checks it)",
    },
    ["docs/statuses.md"] = {
      ["local status = require"] = "a Redis at a fixed address; status/receiver_spec.lua runs one of its own",
    },
    ["docs/openresty.md"] = { ["-- myapp.lua"] = "an nginx module: tests/lua/ngx/openresty_spec.lua runs nginx" },
  }

  local function sketch(page, first)
    for prefix, why in pairs(SKETCHES[page] or {}) do
      if first:sub(1, #prefix) == prefix then return why end
    end
  end

  it("every Lua block of the README and docs/ compiles", function()
    local broken, n = {}, 0
    for _, page in ipairs(doc_pages()) do
      for i, b in ipairs(lua_blocks(assert(read(page)))) do
        n = n + 1
        local _, err = load(b.text, "=" .. page .. " block " .. i, "t", {})
        if err then broken[#broken + 1] = err end
      end
    end
    assert.is_true(n >= 10, "only " .. n .. " Lua blocks found")
    assert.same({}, broken)
  end)

  it("every Lua block that is not a sketch runs against the sandbox, its documented output checked", function()
    local failed, ran, used = {}, 0, {}
    for _, page in ipairs(doc_pages()) do
      -- A page's runnable blocks run as one program, in order (a later block uses an earlier one's locals).
      local parts = {}
      for _, b in ipairs(lua_blocks(assert(read(page)))) do
        local why = sketch(page, b.first)
        if why then used[page .. ": " .. b.first] = true else parts[#parts + 1] = b.text end
      end
      if #parts > 0 then
        helper.reset()
        ran = ran + 1
        local dir = os.tmpname()
        os.remove(dir)
        assert(os.execute(("mkdir -p '%s' && cp '%s/examples/recipients.csv' '%s/'"):format(dir, ROOT, dir)))
        local f = assert(io.open(dir .. "/snippet.lua", "w"))
        f:write(table.concat(parts, "\n"))
        f:close()
        local p = assert(io.popen(("cd '%s' && lua5.4 '%s/tests/docs_runner.lua' snippet.lua 2>&1; echo \"exit $?\"")
          :format(dir, ROOT)))
        local out = p:read("a")
        p:close()
        if not out:match("exit 0\n$") then failed[#failed + 1] = page .. ":\n" .. out end
        os.execute("rm -rf '" .. dir .. "'")
      end
    end
    assert.is_true(ran >= 4, "only " .. ran .. " pages with runnable Lua blocks")
    assert.same({}, failed)
    -- every sketch listed is still in the docs (the list cannot hide a block that became runnable)
    for page, list in pairs(SKETCHES) do
      for prefix in pairs(list) do
        local found = false
        for k in pairs(used) do
          if k:sub(1, #page + 2 + #prefix) == page .. ": " .. prefix then found = true end
        end
        assert.is_true(found, page .. ": no block starts with " .. prefix)
      end
    end
  end)

  -- The `convai ...` examples of the README and docs/: inline code and lines of code blocks.
  local function cli_examples()
    local out = {}
    for _, page in ipairs(doc_pages()) do
      local text = assert(read(page))
      for code in text:gmatch("`(convai [^`\n]+)`") do out[#out + 1] = { page = page, text = code } end
      for block in ("\n" .. text):gmatch("\n```[%w]*\n(.-)\n```") do
        for line in (block .. "\n"):gmatch("([^\n]*)\n") do
          local cmd = line:match("^%$?%s*(convai %S.-)%s*\\?$")
          -- without the shell's redirection and comment: `convai completion bash > FILE  # ...`
          if cmd then out[#out + 1] = { page = page, text = (cmd:gsub("%s+[>#].*$", "")) } end
        end
      end
    end
    return out
  end

  -- The help of a command and of all its subcommands, one text.
  local function help_of(words)
    local code, out = helper.cli(helper_words(words, "--help"))
    if code ~= 0 then return nil end
    local all = { out }
    local commands = out:match("\nCommands:\n(.*)$")
    for sub in (commands or ""):gmatch("\n?%s%s%s(%S+)") do
      local w = {}
      for i, x in ipairs(words) do w[i] = x end
      w[#w + 1] = sub
      all[#all + 1] = help_of(w) or ""
    end
    return table.concat(all, "\n")
  end

  -- Commands run for real (they only read, or print settings; never `sandbox start` or `stop`):
  -- by prefix. Every other example is parsed only (`--help` appended).
  local REAL = { "convai usage ", "convai sandbox status", "convai sandbox env",
    "convai --version", "convai completion " }
  local function real(text)
    for _, prefix in ipairs(REAL) do
      if text == prefix or text:sub(1, #prefix) == prefix then return true end
    end
    return false
  end

  it("every convai example of the README and docs/ parses, names options that exist, and runs if it reads", function()
    local broken, n = {}, 0
    for _, ex in ipairs(cli_examples()) do
      n = n + 1
      local words, rest = {}, ex.text:gsub("^convai%s*", "")
      for w in rest:gmatch("%S+") do words[#words + 1] = w end
      local synopsis = ex.text:find("[%[|…]") or ex.text:find("%.%.%.") or ex.text:find("%f[%w]%u[%u_]*%f[%W]")
        or ex.text:find("%u%u+%.csv")
      if real(ex.text) and not synopsis then
        local code, _, err = helper.cli(words)
        if code ~= 0 then broken[#broken + 1] = ex.page .. ": " .. ex.text .. ": exit " .. code .. ": " .. err end
      elseif not synopsis then
        local code, _, err = helper.cli(helper_words(words, "--help"))
        if code ~= 0 then broken[#broken + 1] = ex.page .. ": " .. ex.text .. " --help: " .. err end
      else
        local path = {}
        for _, w in ipairs(words) do
          if not w:match("^[a-z][a-z-]*$") then break end
          path[#path + 1] = w
        end
        local help = help_of(path)
        if not help then
          broken[#broken + 1] = ex.page .. ": " .. ex.text .. ": no command convai " .. table.concat(path, " ")
        else
          for flag in ex.text:gmatch("%-%-[%w-]+") do
            if not help:find(flag:gsub("%p", "%%%0") .. "%f[^%w-]") then
              broken[#broken + 1] = ex.page .. ": " .. ex.text .. ": convai " .. table.concat(path, " ")
                .. " has no option " .. flag
            end
          end
        end
      end
    end
    assert.is_true(n >= 10, "only " .. n .. " convai examples found")
    assert.same({}, broken)
  end)
end)
