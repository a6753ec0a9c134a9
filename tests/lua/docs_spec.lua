-- The documentation holds: every relative link of a Markdown page (README.md, docs/, bench/RESULTS.md...)
-- names a file of the repository and, with a #fragment, a heading of it; every citation of a docs/ page
-- in the code (`docs/api-notes.md §3`, `docs/http.md "Retries"`) names a page, section or heading that
-- exists; the README stays short, keeps the test command CI runs, and its Lua example runs as it is.
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
  local list = lines_of("find . -name '*.md' -not -path './build*' -not -path './.git/*' "
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

end)
