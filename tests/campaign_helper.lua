--- Helpers shared by the campaign specs: a scratch directory, recipients CSVs, and the triggers the
-- sandbox received per number.
local helper = require "helper"
local system = require "convai.launch.system"

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

--- Recipients +44 7700 900001.. as CSV with one body parameter; `extra` is appended as a last row;
-- `offset` (default 0) is added to the numbers (+44 7700 9 and offset + 1, ..., as 5 digits).
function _M.numbers_csv(n, extra, offset)
  local lines = { "to,body.1" }
  for i = 1, n do lines[#lines + 1] = string.format("+44 7700 9%05d,Hello %d", (offset or 0) + i, i) end
  if extra then lines[#lines + 1] = extra end
  return table.concat(lines, "\n") .. "\n"
end

--- Recipients +44 7700 9KNNNN (K the campaign, N 1..n) as CSV; `column` is the second column
-- (default `body.1`, "Hello N"; `name`: "Person N").
function _M.campaign_csv(k, n, column)
  column = column or "body.1"
  local lines = { "to," .. column }
  local value = column == "name" and "Person %d" or "Hello %d"
  for i = 1, n do lines[#lines + 1] = ("+44 7700 9%d%04d," .. value):format(k, i, i) end
  return table.concat(lines, "\n") .. "\n"
end

--- The Vonage triggers the sandbox received, per number: `{[to] = {total = n, accepted = n}}`.
-- @tparam[opt] table log entries of the sandbox's log (default: all of it)
function _M.triggers(log)
  local per = {}
  for _, e in ipairs(log or helper.log()) do
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

--- Quote a string for /bin/sh (the launcher's `convai.launch.system.quote`).
_M.shell_quote = system.quote

--- A shell command running the CLI (`lua5.4 bin/convai ARGS`, from the checkout) with the variables of
-- `env` added, its standard output to the file `out` and its standard error to `err`: for tests that
-- start several CLI processes at once (`(cmd1) & (cmd2) & wait`).
-- @tparam table args the CLI's arguments
-- @tparam table env `{NAME = value}`
-- @tparam string out a file path
-- @tparam string err a file path
-- @treturn string the command
function _M.cli_command(args, env, out, err)
  local vars, quoted = {}, {}
  for k, v in pairs(env) do vars[#vars + 1] = k .. "=" .. _M.shell_quote(v) end
  for i, a in ipairs(args) do quoted[i] = _M.shell_quote(a) end
  return ("env %s lua5.4 bin/convai %s >%s 2>%s </dev/null"):format(table.concat(vars, " "),
    table.concat(quoted, " "), out, err)
end

-- The arguments of a Vonage WhatsApp `campaign run` (`json`: with a JSON summary), `extra` appended.
local function whatsapp_args(csv, state, where, agent, extra, json)
  local args = { "campaign", "run", csv, state, where, "--agent-id", agent, "--namespace", "ns",
    "--template", "welcome", "--locale", "en_US", "--status-url", "https://example.com/status" }
  if json then
    args[#args + 1] = "--format"
    args[#args + 1] = "json"
  end
  for _, a in ipairs(extra or {}) do args[#args + 1] = a end
  return args
end

--- The arguments of a Vonage WhatsApp `campaign run` with a JSON summary.
-- @tparam string csv the recipients file
-- @tparam string state `"--journal"` or `"--store"`
-- @tparam string where its value
-- @tparam string agent
-- @tparam[opt] table extra more arguments
function _M.campaign_args(csv, state, where, agent, extra)
  return whatsapp_args(csv, state, where, agent, extra, true)
end

--- The arguments of a Vonage WhatsApp `campaign run` of agent A on the journal file `journal` (the
-- summary as a table), `extra` appended.
function _M.run_args(csv, journal, extra)
  return whatsapp_args(csv, "--journal", journal, "A", extra, false)
end

return _M
