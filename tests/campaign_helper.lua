--- Helpers shared by the campaign specs: a scratch directory, recipients CSVs, and the triggers the
-- sandbox received per number.
local helper = require "helper"

local _M = {}

_M.TRIGGER = "/vonage/messaging/conversation"

--- A new scratch directory: returns `dir`, and `path(name)`, `write(name, text) -> path`,
-- `read(path) -> text | nil`, `remove()`.
function _M.scratch()
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -p " .. dir))
  local s = { dir = dir }
  function s.path(name) return dir .. "/" .. name end
  function s.write(name, text)
    local f = assert(io.open(s.path(name), "wb"))
    f:write(text)
    f:close()
    return s.path(name)
  end
  function s.read(p)
    local f = io.open(p, "rb")
    if not f then return nil end
    local text = f:read("a")
    f:close()
    return text
  end
  function s.remove() os.execute("rm -rf " .. dir) end
  return s
end

--- Recipients +44 7700 900001.. as CSV with one body parameter; `extra` is appended as a last row.
function _M.numbers_csv(n, extra)
  local lines = { "to,body.1" }
  for i = 1, n do lines[#lines + 1] = string.format("+44 7700 9%05d,Hello %d", i, i) end
  if extra then lines[#lines + 1] = extra end
  return table.concat(lines, "\n") .. "\n"
end

--- The Vonage triggers the sandbox received, per number: `{[to] = {total = n, accepted = n}}`.
function _M.triggers()
  local per = {}
  for _, e in ipairs(helper.log()) do
    if e.method == "POST" and e.path == _M.TRIGGER then
      local to = helper.decode(e.body).to
      local p = per[to] or { total = 0, accepted = 0 }
      p.total = p.total + 1
      if e.status == 200 then p.accepted = p.accepted + 1 end
      per[to] = p
    end
  end
  return per
end

return _M
