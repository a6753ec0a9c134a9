--- Small helpers of the benchmark runner: running commands, statistics, number formatting.
local cjson = require "cjson.safe"

local _M = {}

--- Quote a string for /bin/sh.
function _M.quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

--- Read a whole file, or nil.
function _M.read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

--- Write a whole file.
function _M.write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

--- Start a shell command with extra environment variables; it runs while the caller goes on.
-- @treturn table handle with `wait()` -> success, stdout, stderr, exit status (as `run`)
function _M.spawn(cmd, env)
  local parts = {}
  for k, v in pairs(env or {}) do parts[#parts + 1] = k .. "=" .. _M.quote(v) end
  table.sort(parts)
  local errfile = os.tmpname()
  local full = (#parts > 0 and "env " .. table.concat(parts, " ") .. " " or "") .. cmd
    .. " 2>" .. _M.quote(errfile) .. " </dev/null"
  local p = assert(io.popen(full, "r"))
  return {
    wait = function()
      local out = p:read("a")
      local _, _, code = p:close()
      local err = _M.read(errfile) or ""
      os.remove(errfile)
      return code == 0, out, err, code
    end,
  }
end

--- Run a shell command with extra environment variables and wait for it.
-- @tparam string cmd
-- @tparam[opt] table env `{NAME = value}`
-- @treturn boolean success (exit status 0)
-- @treturn string standard output
-- @treturn string standard error
-- @treturn integer exit status
function _M.run(cmd, env)
  return _M.spawn(cmd, env).wait()
end

--- The last line of `out` that is a JSON object, decoded; or nil.
function _M.json_line(out)
  local last
  for line in out:gmatch("[^\n]+") do
    if line:match("^%s*{") then last = line end
  end
  return last and cjson.decode(last)
end

--- First line of a command's output (stdout, else stderr), trimmed; or "?".
function _M.first_line(cmd)
  local _, out, err = _M.run(cmd)
  local text = out:match("%S") and out or err
  return text:match("^%s*([^\n]-)%s*\n") or text:match("^%s*(.-)%s*$") or "?"
end

--- Add the sandbox's log entries of Vonage conversations to `seen`, per agent: the arrival times of the
-- accepted ones and the count of 429s.
-- @tparam table requests the `requests` of the sandbox's `GET /_sandbox/log`
-- @tparam[opt] table seen `{[agent] = {times = {...}, r429 = n}}` to add to
-- @treturn table seen
function _M.conversations(requests, seen)
  seen = seen or {}
  for _, e in ipairs(requests or {}) do
    local body = type(e.body) == "string" and cjson.decode(e.body)
    local agent = type(body) == "table" and body.agent_id
    if agent and e.path:match("/messaging/conversation$") then
      local a = seen[agent] or { times = {}, r429 = 0 }
      seen[agent] = a
      if e.status == 200 then a.times[#a.times + 1] = e.time
      elseif e.status == 429 then a.r429 = a.r429 + 1 end
    end
  end
  return seen
end

--- Median of a list of numbers (nil when empty).
function _M.median(list)
  if #list == 0 then return nil end
  local t = {}
  for i, v in ipairs(list) do t[i] = v end
  table.sort(t)
  local m = (#t + 1) // 2
  if #t % 2 == 1 then return t[m] end
  return (t[m] + t[m + 1]) / 2
end

function _M.min_max(list)
  local lo, hi = math.huge, -math.huge
  for _, v in ipairs(list) do lo, hi = math.min(lo, v), math.max(hi, v) end
  return lo, hi
end

--- Integer with thousands separators: 12345.6 -> "12,346".
function _M.int(v)
  if v == nil then return "–" end
  local s = string.format("%d", math.floor(v + 0.5))
  local neg = s:sub(1, 1) == "-"
  if neg then s = s:sub(2) end
  s = s:reverse():gsub("(%d%d%d)", "%1,"):reverse():gsub("^,", "")
  return (neg and "-" or "") .. s
end

--- A ratio with two decimals, or "–".
function _M.ratio(v)
  if v == nil or v ~= v then return "–" end
  return string.format("%.2f", v)
end

--- Markdown table from a header list and rows (lists of strings).
-- @tparam[opt] string align one letter a column, "l" or "r" (default: the first left, the others right)
function _M.table(header, rows, align)
  local lines = { "| " .. table.concat(header, " | ") .. " |" }
  local sep = {}
  for i = 1, #header do
    local a = align and align:sub(i, i) or (i == 1 and "l" or "r")
    sep[i] = a == "l" and "---" or "--:"
  end
  lines[#lines + 1] = "|" .. table.concat(sep, "|") .. "|"
  for _, r in ipairs(rows) do lines[#lines + 1] = "| " .. table.concat(r, " | ") .. " |" end
  return table.concat(lines, "\n")
end

return _M
