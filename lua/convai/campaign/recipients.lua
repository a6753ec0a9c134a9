--- convai.campaign.recipients: the recipients CSV read into rows, and each row checked once.
--
-- The file as a whole is refused when it is not well-formed CSV (RFC 4180) or its header names an
-- unknown column; each row is then checked on its own: its template parameters here, its fields by the
-- sender (`prepare`), which builds the request body sent later. Numbers are compared after the sender
-- normalised them: a number seen before is a duplicate.
--
-- @module convai.campaign.recipients
local core = require "convai.core"
local errors = require "convai.errors"

local type, tostring, tonumber, ipairs = type, tostring, tonumber, ipairs
local format, match, find, gsub = string.format, string.match, string.find, string.gsub
local max, min = math.max, math.min
local concat = table.concat

local _M = {}

local invalid = errors.invalid

--- CSV columns: `to`, `name`, `header.N`, `body.N`, `session.NAME`.
local function column_kind(name)
  if name == "to" or name == "name" then return name end
  local part, n = match(name, "^(%a+)%.(%d+)$")
  if (part == "header" or part == "body") and tonumber(n) >= 1 then return part, tonumber(n) end
  local sname = match(name, "^session%.(.+)$")
  if sname and not find(sname, "[%s%c]") then return "session", sname end
  return nil
end

-- The header: one column table per field; refused with line 1 when a column is unknown, twice, or a
-- parameter column is missing.
local function check_header(header)
  local cols, seen = {}, {}
  local counts = { header = 0, body = 0 }
  for i, name in ipairs(header) do
    local kind, arg = column_kind(name)
    if not kind then
      return invalid("recipients CSV line 1: unknown column %q (the columns are to, name, header.1..n, "
        .. "body.1..n and session.NAME)", name)
    end
    if seen[name] then return invalid("recipients CSV line 1: column %q appears twice", name) end
    seen[name] = true
    cols[i] = { kind = kind, arg = arg, name = name }
    if kind == "header" or kind == "body" then counts[kind] = max(counts[kind], arg) end
  end
  if not seen.to then
    return invalid("recipients CSV line 1: there is no \"to\" column (the phone numbers)")
  end
  for _, part in ipairs { "header", "body" } do
    for n = 1, counts[part] do
      if not seen[part .. "." .. n] then
        return invalid("recipients CSV line 1: column %s.%d is missing (there is a %s.%d; parameters are "
          .. "numbered from 1 without gaps)", part, n, part, counts[part])
      end
    end
  end
  return cols, counts
end

local function row_of(r, cols)
  local row = { line = r.line, header = {}, body = {}, session = {}, fields = {} }
  for i, col in ipairs(cols) do
    local v = r.fields[i]
    row.fields[col.name] = v
    if col.kind == "to" then row.to = v
    elseif col.kind == "name" then row.name = v
    elseif col.kind == "session" then
      if v ~= "" then row.session[col.arg] = v end
    else
      row[col.kind][col.arg] = v
    end
  end
  return row
end

--- Read the recipients CSV (RFC 4180; UTF-8; CRLF or LF; a UTF-8 byte-order mark is ignored) into rows.
-- @tparam string text the file's content
-- @treturn table|nil `{columns = {...}, params = {header = n, body = n}, rows = { {line = n, to = s,
--   name = s, header = {...}, body = {...}, session = {name = value}, fields = {column = value}}, ... }}`
-- @treturn[2] nil
-- @treturn[2] convai.error kind `invalid_argument`: the message starts with the line number
function _M.parse_csv(text)
  if type(text) ~= "string" then return invalid("recipients must be CSV text") end
  local rows, header = core.csv.parse(text)
  if not rows then return invalid("recipients CSV: %s", header) end
  local cols, counts = check_header(header)
  if not cols then return nil, counts end
  local out = {}
  for _, r in ipairs(rows) do out[#out + 1] = row_of(r, cols) end
  return { columns = header, rows = out, params = counts }
end

--- Check the template parameters of a row: every parameter column is filled in, valid UTF-8.
-- @tparam table row from `parse_csv`
-- @tparam table counts `params` of `parse_csv`
-- @treturn boolean|nil true, or nil and a message
function _M.check_params(row, counts)
  for _, part in ipairs { "header", "body" } do
    for n = 1, counts[part] do
      local v = row[part][n]
      if v == nil or v == "" then
        return nil, format("%s.%d is empty (the template needs %d %s parameter%s)", part, n, counts[part],
          part, counts[part] == 1 and "" or "s")
      end
      if utf8 and not utf8.len(v) then return nil, format("%s.%d is not valid UTF-8", part, n) end
    end
  end
  return true
end

--- The template parameters of a row in the shorthand of the clients: `{header = {...}, body = {...}}`
-- (only the parts the template has).
-- @tparam table row
-- @tparam table counts
-- @treturn table
function _M.components(row, counts)
  local c = {}
  if counts.header > 0 then c.header = row.header end
  if counts.body > 0 then c.body = row.body end
  return c
end

-- Lua field path (a Lua pattern) -> the CSV column it comes from, in the order they are tried.
local PATHS = {
  { "template_components%.(%a+)%[(%d+)%]", "%1.%2" },
  { "components%.(%a+)%[(%d+)%]", "%1.%2" },
  { "%f[%w_]customer_name%f[^%w_]", "name" },
  { "%f[%w_]phone_number%f[^%w_]", "to" },
  { "%f[%w_]session_parameters%f[^%w_]", "session.NAME" },
}

--- A message in the recipients CSV's terms: the Lua field paths that the clients' checks name
-- (`components.header[1]`, `template_components.body[2]`, `customer_name`, `phone_number`,
-- `session_parameters`) replaced by the CSV columns they come from (`header.1`, `body.2`, `name`, `to`,
-- `session.NAME`). Used for every message about a recipient: invalid rows, failed sends, the report.
-- @tparam string|nil msg
-- @treturn string|nil the message rewritten; nil for nil
function _M.csv_names(msg)
  if msg == nil then return nil end
  msg = tostring(msg)
  for _, p in ipairs(PATHS) do msg = gsub(msg, p[1], p[2]) end
  return msg
end

local function message_of(err)
  if type(err) == "table" then return _M.csv_names(err.message or tostring(err)) end
  return _M.csv_names(err)
end

-- The refusal of a campaign with invalid rows: the first three named, all of them in `err.invalid`.
local function refusal(invalid_rows)
  local parts = {}
  for i = 1, min(#invalid_rows, 3) do
    parts[i] = format("line %d: %s", invalid_rows[i].line, invalid_rows[i].message)
  end
  local n = #invalid_rows
  local e = core.error("invalid_argument", format("recipients CSV: %d invalid row%s (%s%s); nothing was "
    .. "sent: fix them, or skip them with skip_invalid (--skip-invalid)", n, n == 1 and "" or "s",
    concat(parts, "; "), n > 3 and "; ..." or ""))
  e.invalid = invalid_rows
  return e
end

--- Check every row with the sender, once: each valid row gets its finished request body.
-- @tparam table input from `parse_csv`
-- @tparam table sender from `convai.campaign.senders`
-- @tparam[opt=false] boolean skip_invalid keep the valid rows when some are invalid
-- @treturn table|nil `{recipients = { {line, to (normalised), request (the body to send)}, ... },
--   invalid = { {line, to, message}, ... }, duplicates = { {line, to, first_line}, ... }}`
-- @treturn[2] nil
-- @treturn[2] convai.error kind `invalid_argument` (the first three invalid rows in the message, every
--   one in `err.invalid`), or a CSV with template parameters for a sender that has none
function _M.check(input, sender, skip_invalid)
  if not sender.uses_templates and (input.params.header > 0 or input.params.body > 0) then
    return invalid("recipients CSV line 1: header./body. columns are template parameters, which this channel "
      .. "does not use; remove them")
  end
  local out = { recipients = {}, invalid = {}, duplicates = {} }
  local by_to = {}
  for _, row in ipairs(input.rows) do
    local ok, why = _M.check_params(row, input.params)
    why = _M.csv_names(why)
    local request, to
    if ok then
      request, to = sender.prepare(row, input.params)
      if not request then why = message_of(to) end
    end
    if not request then
      out.invalid[#out.invalid + 1] = { line = row.line, to = row.to, message = why }
    elseif by_to[to] then
      out.duplicates[#out.duplicates + 1] = { line = row.line, to = to, first_line = by_to[to].line }
    else
      local r = { line = row.line, to = to, request = request }
      by_to[to] = r
      out.recipients[#out.recipients + 1] = r
    end
  end
  if #out.invalid > 0 and not skip_invalid then return nil, refusal(out.invalid) end
  return out
end

return _M
