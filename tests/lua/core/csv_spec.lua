-- csv_spec.lua - core.csv.parse: RFC 4180 CSV with a header line, read from real files.
--
-- Runs under Lua 5.4 and LuaJIT (tests/core_helper.lua).
-- The reader's edge cases are covered byte by byte in tests/c/test_csv.c; this spec checks the Lua
-- shape (rows, header, line numbers, messages) on files written to a temporary directory.

local core = require("core_helper").core

local dir

local function write_file(name, data)
  local path = dir .. "/" .. name
  local f = assert(io.open(path, "wb"))
  assert(f:write(data))
  f:close()
  return path
end

local function read_file(path)
  local f = assert(io.open(path, "rb"))
  local d = f:read("*a")
  f:close()
  return d
end

-- write `data` to a file, read it back and parse it
local function parse_file(name, data)
  return core.csv.parse(read_file(write_file(name, data)))
end

local function fails(name, data, want)
  local rows, msg = parse_file(name, data)
  assert.is_nil(rows)
  assert.equal(want, msg)
end

describe("core.csv.parse", function()
  setup(function()
    local p = assert(io.popen("mktemp -d"))
    dir = assert(p:read("*l"))
    p:close()
  end)

  teardown(function()
    if dir and dir:match("^/tmp/") then os.execute("rm -rf '" .. dir .. "'") end
  end)

  it("reads a campaign file with LF line ends", function()
    local rows, header = parse_file("lf.csv", table.concat({
      "to,name,header.1,body.1,body.2,session.patient_id",
      "+44 7700 900123,Alex,Dr. Smith,Alex,Tuesday 10:30,P-1042",
      "0044 7700 900124,Sam,Dr. Jones,Sam,Friday 09:00,P-1043",
    }, "\n") .. "\n")
    assert.same({ "to", "name", "header.1", "body.1", "body.2", "session.patient_id" }, header)
    assert.equal(2, #rows)
    assert.same({ line = 2, fields = { "+44 7700 900123", "Alex", "Dr. Smith", "Alex", "Tuesday 10:30",
      "P-1042" } }, rows[1])
    assert.equal(3, rows[2].line)
    assert.equal("P-1043", rows[2].fields[6])
  end)

  it("reads CRLF files, with or without a final line break", function()
    local rows, header = parse_file("crlf.csv", "to,name\r\n+447700900123,Alex\r\n+447700900124,Sam\r\n")
    assert.same({ "to", "name" }, header)
    assert.same({ { line = 2, fields = { "+447700900123", "Alex" } },
      { line = 3, fields = { "+447700900124", "Sam" } } }, rows)
    rows = parse_file("crlf-nofinal.csv", "to,name\r\n+447700900123,Alex")
    assert.same({ { line = 2, fields = { "+447700900123", "Alex" } } }, rows)
  end)

  it("skips a UTF-8 byte order mark (Excel's 'CSV UTF-8')", function()
    local rows, header = parse_file("bom.csv", "\239\187\191to,name\r\n+447700900123,Zoë\r\n")
    assert.same({ "to", "name" }, header)
    assert.equal("to", header[1]) -- not "\239\187\191to"
    assert.equal("Zoë", rows[1].fields[2])
  end)

  it("keeps UTF-8 names as they are", function()
    local rows = parse_file("utf8.csv", "to,name,body.1\n1,Zoë,Ünïcödé ✓\n2,日本語,😀\n3,\"Zoë, Élise\",x\n")
    assert.same({ "1", "Zoë", "Ünïcödé ✓" }, rows[1].fields)
    assert.same({ "2", "日本語", "😀" }, rows[2].fields)
    assert.same({ "3", "Zoë, Élise", "x" }, rows[3].fields)
  end)

  it("reads quoted fields: commas, quotes, line breaks; lines count physical lines", function()
    local rows = parse_file("quoted.csv", table.concat({
      'to,name,body.1',
      '1,"Smith, J","He said ""hi"""',
      '2,"two',
      'lines","crlf\r\ninside"',
      '3,"",""""',
    }, "\n") .. "\n")
    assert.equal(3, #rows)
    assert.same({ line = 2, fields = { "1", "Smith, J", 'He said "hi"' } }, rows[1])
    assert.same({ line = 3, fields = { "2", "two\nlines", "crlf\r\ninside" } }, rows[2])
    assert.same({ line = 6, fields = { "3", "", '"' } }, rows[3])
  end)

  it("skips empty lines and keeps spaces", function()
    local rows, header = parse_file("blank.csv", "\n\nto,name\n\n+447700900123, Alex \r\n\r\n\n+447700900124,Sam\n\n")
    assert.same({ "to", "name" }, header)
    assert.same({ { line = 5, fields = { "+447700900123", " Alex " } },
      { line = 8, fields = { "+447700900124", "Sam" } } }, rows)
  end)

  it("returns no rows for a header alone", function()
    local rows, header = parse_file("header.csv", "to\n")
    assert.same({}, rows)
    assert.same({ "to" }, header)
    rows, header = core.csv.parse("to,,name")
    assert.same({}, rows)
    assert.same({ "to", "", "name" }, header)
  end)

  it("refuses rows with another number of fields, naming the line", function()
    fails("short.csv", "to,name\n1,Alex\n\n2\n", "line 4: 1 field, but the header (line 1) has 2 columns")
    fails("long.csv", "\239\187\191to,name\r\n1,Alex\r\n2,Sam,extra\r\n",
      "line 3: 3 fields, but the header (line 1) has 2 columns")
    fails("trailing.csv", "to\n1,\n", "line 2: 2 fields, but the header (line 1) has 1 column")
    fails("late-header.csv", "\n\nto,name\n1\n", "line 4: 1 field, but the header (line 3) has 2 columns")
  end)

  it("refuses malformed CSV with line numbers", function()
    fails("quote.csv", 'to,name\n1,Smith "J"\n',
      'line 2, field 2: a quote (") in an unquoted field; quote the whole field and write its quotes twice ("")')
    fails("after.csv", 'to,name\n1,"Smith" J\n',
      'line 2, field 2: text after the closing quote of a quoted field (a quote inside a quoted field is '
      .. 'written twice: "")')
    fails("open.csv", 'to,name\n1,Alex\n2,"Sam\n3,Kim\n',
      "line 3, field 2: quoted field never closed (no closing quote before the end of the input)")
    fails("after-multiline.csv", 'to,name\n1,"a\nb"\n2,x"y\n', "line 4, field 2: a quote (\") in an unquoted field; "
      .. 'quote the whole field and write its quotes twice ("")')
  end)

  it("refuses files that are not UTF-8 text", function()
    fails("latin1.csv", "to,name\r\n1,Zo\235\r\n",
      "line 2: invalid UTF-8 (bytes 0xEB 0x0D); save the file as UTF-8")
    fails("latin1b.csv", "to,name\n1,\233lise\n", "line 2: invalid UTF-8 (bytes 0xE9 0x6C); save the file as UTF-8")
    fails("utf16.csv", "\255\254t\0o\0\n\0", "line 1: invalid UTF-8 (byte 0xFF); save the file as UTF-8")
    fails("nul.csv", "to,name\n1,Alex\n2,S\0m\n",
      "line 3: NUL byte (CSV must be UTF-8 text; is the file UTF-16 or binary?)")
    fails("truncated.csv", "to,name\n1,Zo\195",
      "line 2: invalid UTF-8 (the input ends inside a character); save the file as UTF-8")
  end)

  it("refuses empty input", function()
    fails("empty.csv", "", "the CSV is empty: no header line")
    fails("blank-only.csv", "\r\n\n\r\n", "the CSV is empty: no header line")
    fails("bom-only.csv", "\239\187\191", "the CSV is empty: no header line")
  end)

  it("limits fields to 1 MiB", function()
    local big = string.rep("x", 1024 * 1024)
    local rows = core.csv.parse("to,body.1\n1," .. big .. "\n")
    assert.equal(1024 * 1024, #rows[1].fields[2])
    local v, msg = core.csv.parse("to,body.1\n1," .. big .. "x\n")
    assert.is_nil(v)
    assert.equal("line 2, field 2: field longer than 1048576 bytes", msg)
  end)

  it("reads many rows", function()
    local lines = { "to,name" }
    for i = 1, 5000 do lines[#lines + 1] = ("+4477009%05d,\"Name %d, Jr.\""):format(i, i) end
    local rows = parse_file("many.csv", table.concat(lines, "\r\n"))
    assert.equal(5000, #rows)
    assert.same({ line = 5001, fields = { "+447700905000", "Name 5000, Jr." } }, rows[5000])
    -- the garbage collector cleans up after errors too
    for _ = 1, 50 do
      assert.is_nil(core.csv.parse(table.concat(lines, "\n") .. "\n\"open"))
    end
    collectgarbage()
  end)

  it("raises on a non-string argument", function()
    assert.has_error(function() core.csv.parse() end)
    assert.has_error(function() core.csv.parse({}) end)
  end)
end)
