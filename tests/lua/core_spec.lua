-- core_spec.lua - the Lua-facing contract of the C module convai.core.
--
-- Run from the repository root after building:
--   lua5.4 /usr/bin/busted tests/lua/core_spec.lua
--   luajit /usr/bin/busted tests/lua/core_spec.lua
-- CONVAI_CPATH overrides where the module is looked for (ctest sets it).
--
-- Tests needing HTTP run against a throwaway nginx (Debian's nginx package)
-- started on 127.0.0.1 with a config in a temp dir, and stopped in
-- teardown; they are marked pending when nginx is not installed.  The TLS
-- tests also need the openssl command to make a self-signed certificate.

local default_cpath = _VERSION == "Lua 5.4" and "build/lua54/?.so"
  or "build/luajit/?.so"
package.cpath = (os.getenv("CONVAI_CPATH") or default_cpath) .. ";"
  .. package.cpath

local core = require "convai.core"

local HAS_INTEGERS = math.type ~= nil

local function is_integer(v)
  if HAS_INTEGERS then return math.type(v) == "integer" end
  return type(v) == "number" and v == math.floor(v)
end

-- os.execute's result is true/0 depending on the Lua version
local function run(cmd)
  local a, _, c = os.execute(cmd)
  if type(a) == "number" then return a == 0 end
  return a == true and (c == nil or c == 0)
end

local function which(prog)
  return run("command -v " .. prog .. " >/dev/null 2>&1")
end

local function write_file(path, data)
  local f = assert(io.open(path, "wb"))
  assert(f:write(data))
  f:close()
end

local function read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local d = f:read("*a")
  f:close()
  return d
end

local function no_line_break(s)
  return not s:find("[\r\n]")
end

-- a URL that refuses connections immediately
local REFUSED = "http://127.0.0.1:1/"

describe("convai.core", function()
  it("has versions", function()
    assert.equal("0.1.0", core.version)
    assert.is_string(core.curl_version)
    assert.truthy(core.curl_version:find("libcurl", 1, true))
  end)

  it("has a monotonic clock in seconds", function()
    local t0 = core.monotonic()
    os.execute("sleep 0.2")
    local dt = core.monotonic() - t0
    assert.is_true(dt >= 0.19 and dt < 5, "elapsed " .. dt)
  end)

  describe("errors", function()
    it("builds error objects with kind, message and fields", function()
      local e = core.error("rate_limited", "slow down",
        { status = 429, retry_after = 30, body = { x = 1 }, curl_code = 0 })
      assert.is_true(core.is_error(e))
      assert.equal(core.error_mt, getmetatable(e))
      assert.equal("rate_limited", e.kind)
      assert.equal("slow down", e.message)
      assert.equal(429, e.status)
      assert.equal(30, e.retry_after)
      assert.same({ x = 1 }, e.body)
      assert.equal(0, e.curl_code)
    end)

    it("accepts exactly the documented kinds", function()
      for _, k in ipairs { "invalid_argument", "auth", "not_found",
        "rate_limited", "unprocessable", "server", "http", "timeout",
        "network", "tls", "decode", "too_large" } do
        assert.equal(k, core.error(k, "m").kind)
      end
      assert.has_error(function() core.error("bogus", "m") end)
      assert.has_error(function() core.error("Auth", "m") end)
      assert.has_error(function() core.error(nil, "m") end)
      assert.has_error(function() core.error("auth") end)
      assert.has_error(function() core.error("auth", "m", 5) end)
    end)

    it("does not let fields override kind or message", function()
      local e = core.error("auth", "real", { kind = "server",
        message = "fake" })
      assert.equal("auth", e.kind)
      assert.equal("real", e.message)
    end)

    it("prints as one line", function()
      assert.equal("convai: auth error (HTTP 401): bad token",
        tostring(core.error("auth", "bad token", { status = 401 })))
      assert.equal("convai: network error: refused",
        tostring(core.error("network", "refused")))
      local s = tostring(core.error("server", "line1\r\nline2\nline3",
        { status = 503 }))
      assert.equal("convai: server error (HTTP 503): line1  line2 line3", s)
      assert.is_true(no_line_break(s))
    end)

    it("is_error is false for anything else", function()
      assert.is_false(core.is_error({ kind = "auth", message = "x" }))
      assert.is_false(core.is_error("convai: auth error"))
      assert.is_false(core.is_error(nil))
      assert.is_false(core.is_error(42))
      assert.is_false(core.is_error(setmetatable({}, {})))
    end)

    it("maps statuses to kinds", function()
      local want = { [401] = "auth", [403] = "auth", [404] = "not_found",
        [429] = "rate_limited", [400] = "unprocessable",
        [409] = "unprocessable", [422] = "unprocessable", [500] = "server",
        [502] = "server", [599] = "server", [405] = "http", [302] = "http",
        [418] = "http" }
      for status, kind in pairs(want) do
        assert.equal(kind, core.error_for_status(status))
      end
      assert.is_nil(core.error_for_status(200))
      assert.is_nil(core.error_for_status(204))
      assert.has_error(function() core.error_for_status("x") end)
    end)
  end)

  describe("retry_after", function()
    local T = 784111777 -- Sun, 06 Nov 1994 08:49:37 GMT
    it("parses delay-seconds", function()
      assert.equal(120, core.retry_after("120"))
      assert.equal(0, core.retry_after("0"))
      assert.equal(2 ^ 31, core.retry_after("99999999999999999999"))
      assert.is_true(is_integer(core.retry_after("5")))
    end)
    it("parses the three HTTP-date formats", function()
      assert.equal(60, core.retry_after("Sun, 06 Nov 1994 08:49:37 GMT",
        T - 60))
      assert.equal(60, core.retry_after("Sunday, 06-Nov-94 08:49:37 GMT",
        T - 60))
      assert.equal(60, core.retry_after("Sun Nov  6 08:49:37 1994", T - 60))
    end)
    it("gives 0 for dates in the past", function()
      assert.equal(0, core.retry_after("Sun, 06 Nov 1994 08:49:37 GMT"))
      assert.equal(0, core.retry_after("Sun, 06 Nov 1994 08:49:37 GMT",
        T + 1))
    end)
    it("gives nil for anything else", function()
      for _, v in ipairs { "", "-1", "1.5", "soon", "12 s",
        "Sun, 31 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 25:00:00 GMT" } do
        assert.is_nil(core.retry_after(v))
      end
      assert.is_nil(core.retry_after(nil))
      assert.has_error(function() core.retry_after({}) end)
      assert.has_error(function() core.retry_after("1", "now") end)
    end)
  end)

  describe("dates", function()
    it("parses dd/mm/yyyy to days since 1970-01-01", function()
      assert.equal(0, core.parse_date("01/01/1970"))
      assert.equal(19782, core.parse_date("29/02/2024"))
      assert.is_true(is_integer(core.parse_date("29/02/2024")))
    end)
    it("rejects non-dates with a helpful message", function()
      local v, msg = core.parse_date("31/02/2024")
      assert.is_nil(v)
      assert.equal('"31/02/2024" is not a calendar date (expected '
        .. 'dd/mm/yyyy)', msg)
      v, msg = core.parse_date("29/02/2023")
      assert.is_nil(v)
      assert.truthy(msg:find("not a calendar date", 1, true))
      v, msg = core.parse_date("31/04/2024")
      assert.is_nil(v)
      assert.equal('"31/04/2024" is not a calendar date (expected '
        .. 'dd/mm/yyyy)', msg)
      v, msg = core.parse_date("1/2/2024")
      assert.is_nil(v)
      assert.truthy(msg:find("dd/mm/yyyy", 1, true))
      v, msg = core.parse_date("2024-02-01")
      assert.is_nil(v)
      assert.truthy(msg:find("dd/mm/yyyy", 1, true))
      assert.has_error(function() core.parse_date(nil) end)
    end)
    it("formats days back to dd/mm/yyyy", function()
      assert.equal("29/02/2024", core.format_date(19782))
      assert.equal("01/01/1970", core.format_date(0))
      local today = math.floor(os.time() / 86400)
      assert.equal(today, core.parse_date(core.format_date(today)))
      local v, msg = core.format_date(-1)
      assert.is_nil(v)
      assert.is_string(msg)
    end)
  end)

  describe("normalize_phone", function()
    it("accepts human input", function()
      for _, s in ipairs { "+44 7700 900123", "0044 7700 900123",
        "(44) 7700-900123", "447700900123", "+44.7700.900.123" } do
        assert.equal("447700900123", core.normalize_phone(s))
      end
    end)
    it("explains what is wrong", function()
      local v, msg = core.normalize_phone("12345")
      assert.is_nil(v)
      assert.equal("phone number must have 8 to 15 digits including the "
        .. "country code, got 5", msg)
      v, msg = core.normalize_phone("1234567890123456")
      assert.is_nil(v)
      assert.truthy(msg:find("got 16", 1, true))
      v, msg = core.normalize_phone("+44 7700 9001ab")
      assert.is_nil(v)
      assert.truthy(msg:find("letter", 1, true))
      v, msg = core.normalize_phone("44 7700 +900123")
      assert.is_nil(v)
      assert.truthy(msg:find("'+'", 1, true))
      v, msg = core.normalize_phone("44*7700*900123")
      assert.is_nil(v)
      assert.truthy(msg:find("'*'", 1, true))
    end)
  end)

  describe("check_header", function()
    it("accepts good headers", function()
      assert.is_true(core.check_header("Authorization", "Bearer abc"))
      assert.is_true(core.check_header("X-Empty", ""))
    end)
    it("rejects CR, LF, NUL without echoing the value", function()
      for _, v in ipairs { "Bearer SECRET\r\n", "SECRET\nX: y",
        "SECRET\rx", "SECRET\0x" } do
        local ok, msg = core.check_header("Authorization", v)
        assert.is_nil(ok)
        assert.equal("header 'Authorization' value contains CR, LF or NUL; "
          .. "remove line breaks from the value", msg)
        assert.falsy(msg:find("SECRET", 1, true))
      end
    end)
    it("rejects bad names", function()
      for _, n in ipairs { "", "Bad Name", "a:b", "x\ny", "é" } do
        local ok, msg = core.check_header(n, "v")
        assert.is_nil(ok)
        assert.is_string(msg)
        assert.is_true(no_line_break(msg))
      end
    end)
  end)

  describe("field_checker", function()
    local check = core.field_checker {
      { "n", "integer" }, { "x", "number" }, { "r", "number?" }, { "s", "string" }, { "b", "boolean" },
      { "t", "table" },
    }
    local function good() return { n = 1, x = 1.5, r = 2, s = "", b = false, t = {}, other = "x" } end

    it("says whether every field listed has its type", function()
      assert.is_true(check(good()))
      local t = good()
      t.r = nil
      assert.is_true(check(t))
      assert.is_true(check(core.json_decode('{"n":5,"x":1,"s":"a","b":true,"t":[]}')))
      for field, bad in pairs { n = 1.5, x = "1", r = "1", s = 1, b = 0, t = "t" } do
        t = good()
        t[field] = bad
        assert.is_false(check(t), field)
      end
      for _, field in ipairs { "n", "x", "s", "b", "t" } do
        t = good()
        t[field] = nil
        assert.is_false(check(t), field)
      end
      if HAS_INTEGERS then
        t = good()
        t.n = 1e17 -- an integral float is not an integer
        assert.is_false(check(t))
      end
      assert.is_false(check(nil))
      assert.is_false(check("x"))
      assert.is_true(core.field_checker {}({}))
    end)

    it("checks several tables in one call, stopping at the first that fails", function()
      assert.is_true(check(good(), good(), good()))
      local bad = good()
      bad.n = "1"
      assert.is_false(check(good(), bad, good()))
      assert.is_false(check(good(), nil))
      assert.is_false(check())
    end)

    it("float? takes a number or nil and makes an integer found there a float, in place", function()
      local f = core.field_checker { { "rate", "float?" }, { "n", "integer" } }
      local t = { rate = 100, n = 1 }
      assert.is_true(f(t))
      assert.equal(100, t.rate)
      if HAS_INTEGERS then assert.equal("float", math.type(t.rate)) end
      local u = { n = 2 }
      assert.is_true(f(u, { rate = 91.5, n = 3 }))
      assert.is_nil(u.rate)
      assert.is_false(f { rate = "100", n = 1 })
      assert.is_false(f { rate = 1.5, n = 1.5 })
      -- nothing is changed unless every table passes
      local a, b = { rate = 7, n = 1 }, { rate = 8, n = 1.5 }
      assert.is_false(f(a, b))
      if HAS_INTEGERS then assert.equal("integer", math.type(a.rate)) end
    end)

    it("raises for a bad list", function()
      assert.has_error(function() core.field_checker() end)
      assert.has_error(function() core.field_checker { "n" } end)
      assert.has_error(function() core.field_checker { { 1, "integer" } } end)
      assert.has_error(function() core.field_checker { { "n", "int" } } end)
      assert.has_error(function() core.field_checker { { "n" } } end)
    end)
  end)

  describe("json", function()
    it("decodes integers as integers and drops nulls", function()
      local v = core.json_decode(
        '{"a":1,"b":2.5,"c":null,"d":[1,null,3],"e":1e3}')
      assert.is_true(is_integer(v.a))
      assert.equal(1, v.a)
      assert.equal(2.5, v.b)
      assert.is_nil(v.c)
      assert.equal(1, v.d[1])
      assert.is_nil(v.d[2])
      assert.equal(3, v.d[3])
      assert.equal(1000, v.e)
      if HAS_INTEGERS then
        assert.equal("integer", math.type(v.e))
        assert.equal("float", math.type(v.b))
        assert.equal("float", math.type(core.json_decode("1e16")))
      end
      local n, err = core.json_decode("null")
      assert.is_nil(n)
      assert.is_nil(err)
    end)
    it("returns nil, message for bad JSON", function()
      local v, msg = core.json_decode("{")
      assert.is_nil(v)
      assert.truthy(msg:find("invalid JSON", 1, true))
      assert.is_nil((core.json_decode("NaN")))
      assert.has_error(function() core.json_decode(nil) end)
    end)
    it("encodes marked empty arrays as []", function()
      assert.equal("[]", core.json_encode(core.array()))
      assert.equal('{"to":[]}', core.json_encode({ to = core.array({}) }))
      assert.equal("{}", core.json_encode({}))
      assert.equal("[1,2]", core.json_encode(core.array({ 1, 2 })))
      local t = {}
      assert.equal(t, core.array(t))
      assert.equal(core.array_mt, getmetatable(t))
    end)
    it("keeps full number precision", function()
      assert.equal("[123456789012345,0.30000000000000004,0.5]",
        core.json_encode({ 123456789012345, 0.1 + 0.2, 0.5 }))
    end)
    it("round-trips", function()
      local doc = { name = "x", list = core.array(), n = 42,
        nested = { f = 1.25, s = "a\"b" } }
      local back = core.json_decode(core.json_encode(doc))
      assert.same({ name = "x", list = {}, n = 42,
        nested = { f = 1.25, s = "a\"b" } }, back)
    end)
    it("returns nil, message for unencodable values", function()
      local v, msg = core.json_encode({ f = print })
      assert.is_nil(v)
      assert.is_string(msg)
      local cyc = {}
      cyc.me = cyc
      v, msg = core.json_encode(cyc)
      assert.is_nil(v)
      assert.is_string(msg)
    end)
  end)

  describe("session (no server)", function()
    it("rejects bad options as invalid_argument", function()
      for _, opts in ipairs {
        { timeout = 0 }, { timeout = -1 }, { timeout = "10" },
        { timeout = 0 / 0 }, { connect_timeout = 0 }, { max_body = 0 },
        { max_body = 1.5 }, { max_body = "1" }, { cafile = 3 },
        { cafile = "/nonexistent/ca.pem" }, { user_agent = "a\r\nb" },
        { user_agent = "" }, { timout = 5 } } do
        local s, err = core.session(opts)
        assert.is_nil(s)
        assert.is_true(core.is_error(err))
        assert.equal("invalid_argument", err.kind)
      end
      assert.has_error(function() core.session("x") end)
    end)

    it("opens, prints and closes idempotently", function()
      local s = assert(core.session())
      assert.equal("convai.session (open)", tostring(s))
      s:close()
      assert.equal("convai.session (closed)", tostring(s))
      s:close()
      local resp, err = s:request { url = REFUSED }
      assert.is_nil(resp)
      assert.equal("invalid_argument", err.kind)
      assert.equal("session is closed", err.message)
      assert.same({ requests = 0, connections = 0 }, s:stats())
    end)

    it("closes with <close> on Lua 5.4", function()
      if not HAS_INTEGERS then return pending("Lua 5.4 only") end
      local chunk = assert(load([[
        local core = ...
        local keep
        do
          local s <close> = core.session()
          keep = s
        end
        return keep
      ]]))
      assert.equal("convai.session (closed)", tostring(chunk(core)))
    end)

    it("validates requests before sending anything", function()
      local s = assert(core.session())
      local cases = {
        { url = "ftp://127.0.0.1:1/" },
        { url = "127.0.0.1:1" },
        { url = "http://127.0.0.1:1/a b" },
        { url = "http://127.0.0.1:1/\r\nX: y" },
        { url = REFUSED, method = "GET /x HTTP/1.1" },
        { url = REFUSED, method = "" },
        { url = REFUSED, headers = { ["Bad Name"] = "v" } },
        { url = REFUSED, headers = { Authorization = "Bearer SECRET\r\n" } },
        { url = REFUSED, timeout = 0 },
        { url = REFUSED, connect_timeout = -1 },
      }
      for _, req in ipairs(cases) do
        local resp, err = s:request(req)
        assert.is_nil(resp)
        assert.equal("invalid_argument", err.kind)
        assert.is_false(err.request_sent)
        assert.falsy(err.message:find("SECRET", 1, true))
        assert.falsy(tostring(err):find("SECRET", 1, true))
        assert.is_true(no_line_break(tostring(err)))
      end
      assert.equal(0, s:stats().requests)
      s:close()
    end)

    it("raises for wrong argument types", function()
      local s = assert(core.session())
      assert.has_error(function() s:request() end)
      assert.has_error(function() s:request("http://x/") end)
      assert.has_error(function() s:request { url = 42 } end)
      assert.has_error(function() s:request { } end)
      assert.has_error(function() s:request { url = REFUSED, body = {} } end)
      assert.has_error(function()
        s:request { url = REFUSED, headers = "x" } end)
      assert.has_error(function()
        s:request { url = REFUSED, headers = { X = {} } } end)
      assert.has_error(function()
        s:request { url = REFUSED, headers = { "positional" } } end)
      assert.has_error(function()
        s:request { url = REFUSED, timeout = "1" } end)
      assert.has_error(function() core.session().request({}, {}) end)
      s:close()
    end)

    it("reports a refused connection as network, not sent", function()
      local s = assert(core.session())
      for _ = 1, 2 do -- and the session stays usable
        local resp, err = s:request { url = REFUSED }
        assert.is_nil(resp)
        assert.is_true(core.is_error(err))
        assert.equal("network", err.kind)
        assert.equal(7, err.curl_code) -- CURLE_COULDNT_CONNECT
        assert.is_false(err.request_sent)
        assert.is_true(no_line_break(tostring(err)))
      end
      assert.equal(2, s:stats().requests)
      s:close()
    end)

    -- Building a result allocates, so finalizers can run Lua that uses the
    -- same session; such requests must be refused, not free the buffers
    -- being read.  Run in a fresh interpreter: with busted's big heap the
    -- collector rarely finishes a cycle during the request.
    it("refuses use from a finalizer while building a result", function()
      if not HAS_INTEGERS then return pending("needs __gc on tables") end
      local lua = arg and arg[-1]
      if not lua then return pending("interpreter unknown") end
      local script = os.tmpname()
      write_file(script, ([[
package.cpath = %q
local core = require "convai.core"
local s = assert(core.session())
local seen = { busy = 0, other = 0, n = 0 }
local fin
fin = function()
  seen.n = seen.n + 1
  if seen.n < 5000 then
    for _ = 1, 3 do setmetatable({}, { __gc = fin }) end
  end
  local _, e = s:request { url = %q }
  if e and e.message:find("busy", 1, true) then
    seen.busy = seen.busy + 1
  else
    seen.other = seen.other + 1
  end
end
collectgarbage("incremental", 1, 1000)
setmetatable({}, { __gc = fin })
local bad = 0
for _ = 1, 200 do
  local resp, err = s:request { url = %q }
  if resp or err.kind ~= "network" then bad = bad + 1 end
end
print(seen.busy, seen.other, bad, tostring(s))
]]):format(package.cpath, REFUSED, REFUSED, REFUSED))
      local p = assert(io.popen(("'%s' '%s' 2>&1"):format(lua, script)))
      local out = p:read("*a")
      p:close()
      os.remove(script)
      local busy, other, bad, str = out:match(
        "^(%d+)\t(%d+)\t(%d+)\t([^\n]*)")
      assert.is_truthy(busy, out)
      assert.is_true(tonumber(busy) > 0)
      assert.is_true(tonumber(other) > 0)
      assert.equal("0", bad)
      assert.equal("convai.session (open)", str)
    end)

    it("reports a URL libcurl cannot parse as invalid_argument", function()
      local s = assert(core.session())
      local resp, err = s:request { url = "http://[::1/" }
      assert.is_nil(resp)
      assert.equal("invalid_argument", err.kind)
      assert.equal(3, err.curl_code) -- CURLE_URL_MALFORMAT
      assert.is_false(err.request_sent)
      s:close()
    end)
  end)
end)

-- ---------------------------------------------------------------- nginx

local NGINX = nil
for _, p in ipairs { "/usr/sbin/nginx", "/usr/bin/nginx" } do
  if read_file(p) then NGINX = p break end
end
if not NGINX and which("nginx") then NGINX = "nginx" end

local BIG = 2 * 1024 * 1024 -- served file bigger than max_body below
local MAX_BODY = 1024 * 1024

local function nginx_conf(dir, port, tls_port)
  local tls = ""
  if tls_port then
    tls = ([[
  server {
    listen 127.0.0.1:%d ssl;
    ssl_certificate %s/cert.pem;
    ssl_certificate_key %s/key.pem;
    root www;
  }]]):format(tls_port, dir, dir)
  end
  return ([[
daemon on;
master_process off;
pid nginx.pid;
error_log error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path tmp_body;
  proxy_temp_path tmp_proxy;
  fastcgi_temp_path tmp_fastcgi;
  uwsgi_temp_path tmp_uwsgi;
  scgi_temp_path tmp_scgi;
  default_type application/octet-stream;
  types { text/plain txt; text/html html; }
  keepalive_requests 1000;
  server {
    listen 127.0.0.1:%d;
    root www;
    location = /echo {
      client_max_body_size 10m;
      default_type text/plain;
      return 200 "$request_method|$http_expect|$content_length|$http_x_test|$http_user_agent";
    }
    location = /headers {
      add_header X-Multi one;
      add_header X-Multi two;
      add_header X-MiXeD-Case Yes;
      default_type text/plain;
      return 200 "ok";
    }
    location = /redirect { return 302 /index.txt; }
    location = /teapot { return 418 "short and stout"; }
    location /slow/ { limit_rate 1k; }
    location /chunked/ { ssi on; }
  }%s
}
]]):format(port, tls)
end

local server = nil -- { dir=, port=, base=, tls_base= }

local function start_server()
  local dir = os.tmpname()
  os.remove(dir)
  assert(run("mkdir -p '" .. dir .. "/www/slow' '" .. dir .. "/www/chunked'"))
  write_file(dir .. "/www/index.txt", "hello\n")
  write_file(dir .. "/www/big.bin", string.rep("x", BIG))
  write_file(dir .. "/www/slow/file.bin", string.rep("s", 256 * 1024))
  write_file(dir .. "/www/chunked/big.html", string.rep("<p>c</p>\n", math.floor(BIG / 9)))
  local tls = which("openssl") and run(("openssl req -x509 -newkey rsa:2048 "
    .. "-nodes -keyout '%s/key.pem' -out '%s/cert.pem' -days 2 "
    .. "-subj /CN=localhost -addext subjectAltName=DNS:localhost "
    .. ">/dev/null 2>&1"):format(dir, dir))
  math.randomseed(os.time() + math.floor(os.clock() * 1e6))
  for _ = 1, 8 do
    local port = math.random(20000, 59999)
    local tls_port = tls and port + 1 or nil
    write_file(dir .. "/nginx.conf", nginx_conf(dir, port, tls_port))
    if run(("%s -p '%s' -c '%s/nginx.conf' -e '%s/error.log' >/dev/null "
      .. "2>&1"):format(NGINX, dir, dir, dir)) then
      server = { dir = dir, port = port,
        base = ("http://127.0.0.1:%d"):format(port),
        tls_base = tls and ("https://localhost:%d"):format(tls_port) }
      return
    end
  end
  run("rm -rf '" .. dir .. "'")
  error("could not start nginx")
end

local function stop_server()
  if not server then return end
  local pid = read_file(server.dir .. "/nginx.pid")
  if pid and pid:match("^%d+") then run("kill " .. pid:match("^%d+")) end
  run("rm -rf '" .. server.dir .. "'")
  server = nil
end

describe("convai.core session (nginx)", function()
  if not NGINX then
    it("needs nginx", function() pending("nginx is not installed") end)
    return
  end

  lazy_setup(start_server)
  lazy_teardown(stop_server)

  local s
  before_each(function() s = assert(core.session { max_body = MAX_BODY }) end)
  after_each(function() s:close() end)

  it("gets a page", function()
    local resp = assert(s:request { url = server.base .. "/index.txt" })
    assert.equal(200, resp.status)
    assert.is_true(is_integer(resp.status))
    assert.equal("hello\n", resp.body)
    assert.equal("6", resp.headers["content-length"])
    assert.equal("text/plain", resp.headers["content-type"])
    assert.is_nil(resp.headers["Content-Type"])
  end)

  it("makes the headers table when it is first read, then the response is a plain table", function()
    local resp = assert(s:request { url = server.base .. "/index.txt" })
    assert.is_nil(rawget(resp, "headers"))
    assert.is_nil(resp.other)
    assert.is_table(getmetatable(resp))
    local h = resp.headers
    assert.equal("6", h["content-length"])
    assert.equal(h, rawget(resp, "headers"))
    assert.equal(h, resp.headers) -- the same table every time
    assert.is_nil(getmetatable(resp))
    local keys = {}
    for k in pairs(resp) do keys[#keys + 1] = k end
    table.sort(keys)
    assert.same({ "body", "headers", "status" }, keys)
    -- a response read after the next request on the same session still has its own headers
    local a = assert(s:request { url = server.base .. "/index.txt" })
    local b = assert(s:request { url = server.base .. "/headers" })
    assert.equal("text/plain", a.headers["content-type"])
    assert.is_nil(a.headers["x-multi"])
    assert.equal("one, two", b.headers["x-multi"])
  end)

  it("reuses one connection for many requests (keep-alive)", function()
    for i = 1, 10 do
      local resp = assert(s:request { url = server.base .. "/index.txt" })
      assert.equal(200, resp.status)
      assert.equal(i, s:stats().requests)
    end
    assert.same({ requests = 10, connections = 1 }, s:stats())
  end)

  it("lower-cases header names and joins repeated headers", function()
    local resp = assert(s:request { url = server.base .. "/headers" })
    assert.equal("one, two", resp.headers["x-multi"])
    assert.equal("Yes", resp.headers["x-mixed-case"])
    for name in pairs(resp.headers) do
      assert.equal(name:lower(), name)
    end
  end)

  it("sends method, headers and body, one round trip", function()
    local resp = assert(s:request { method = "POST",
      url = server.base .. "/echo", body = "abc",
      headers = { ["X-Test"] = "yes", ["Content-Type"] = "text/plain" } })
    -- no "Expect: 100-continue"; default user agent
    assert.equal("POST||3|yes|convai/0.1.0", resp.body)
    -- a GET after a POST is really a GET, without the old body/headers
    resp = assert(s:request { url = server.base .. "/echo" })
    assert.equal("GET||||convai/0.1.0", resp.body)
    -- libcurl would add "Expect: 100-continue" to bodies over 1 MiB
    local big = string.rep("b", 1100000)
    resp = assert(s:request { method = "POST", url = server.base .. "/echo",
      body = big })
    assert.equal("POST||1100000||convai/0.1.0", resp.body)
    resp = assert(s:request { method = "PUT", url = server.base .. "/echo",
      body = "12345" })
    assert.equal("PUT||5||convai/0.1.0", resp.body)
    resp = assert(s:request { method = "DELETE",
      url = server.base .. "/echo" })
    assert.equal("DELETE||||convai/0.1.0", resp.body)
    resp = assert(s:request { method = "POST", url = server.base .. "/echo" })
    assert.equal("POST||0||convai/0.1.0", resp.body)
    resp = assert(s:request { method = "HEAD",
      url = server.base .. "/index.txt" })
    assert.equal(200, resp.status)
    assert.equal("", resp.body)
    -- each POST on a connection of its own, closed after it (never
    -- re-sent by libcurl: see request), the others on one kept-alive
    -- connection: 3 POSTs, 4 connections
    assert.equal(4, s:stats().connections)
  end)

  it("sets every request up afresh: headers, method, body and timeouts never carry over", function()
    -- between two plain GETs only what differs is set again; the same header table (or an equal
    -- one) is not checked again, a changed one is
    local echo = server.base .. "/echo"
    local h = { ["X-Test"] = "a" }
    assert.equal("GET|||a|convai/0.1.0", assert(s:request { url = echo, headers = h }).body)
    h["X-Test"] = "a much longer value than before, for another allocation"
    local long = "GET|||a much longer value than before, for another allocation|convai/0.1.0"
    assert.equal(long, assert(s:request { url = echo, headers = h }).body)
    assert.equal(long, assert(s:request { url = echo, headers = h }).body)
    assert.equal("GET|||b|convai/0.1.0",
      assert(s:request { url = echo, headers = { ["X-Test"] = "b" } }).body)
    h["X-Test"] = "bad\r\nX-Evil: 1"
    local resp, err = s:request { url = echo, headers = h }
    assert.is_nil(resp)
    assert.equal("invalid_argument", err.kind)
    h["X-Test"] = "b"
    h[1] = "x"
    assert.has_error(function() s:request { url = echo, headers = h } end)
    h[1] = nil
    h["X-Test"] = ""
    assert.equal("GET||||convai/0.1.0", assert(s:request { url = echo, headers = h }).body)
    h["X-Test"] = "c"
    assert.equal("GET|||c|convai/0.1.0", assert(s:request { url = echo, headers = h }).body)
    assert.equal("GET||||convai/0.1.0", assert(s:request { url = echo, headers = {} }).body)
    assert.equal("GET|||c|convai/0.1.0", assert(s:request { url = echo, headers = h }).body)
    assert.equal("GET||||convai/0.1.0", assert(s:request { url = echo }).body)
    -- the same headers with a body, then without
    assert.equal("POST||3|c|convai/0.1.0",
      assert(s:request { method = "POST", url = echo, headers = h, body = "abc" }).body)
    assert.equal("GET|||c|convai/0.1.0", assert(s:request { url = echo, headers = h }).body)
    assert.equal("PUT||0|c|convai/0.1.0",
      assert(s:request { method = "PUT", url = echo, headers = h }).body)
    assert.equal("GET|||c|convai/0.1.0", assert(s:request { url = echo, headers = h }).body)
    -- HEAD, then a GET reads a body again; another method, then GET
    assert.equal("", assert(s:request { method = "HEAD", url = server.base .. "/index.txt" }).body)
    assert.equal("hello\n", assert(s:request { url = server.base .. "/index.txt" }).body)
    assert.equal("OPTIONS|||c|convai/0.1.0",
      assert(s:request { method = "OPTIONS", url = echo, headers = h }).body)
    assert.equal("GET|||c|convai/0.1.0", assert(s:request { url = echo, headers = h }).body)
    -- a timeout given after plain GETs with another one applies, and the default comes back
    assert(s:request { url = server.base .. "/index.txt", timeout = 60 })
    local t0 = core.monotonic()
    resp, err = s:request { url = server.base .. "/slow/file.bin", timeout = 0.3 }
    assert.is_nil(resp)
    assert.equal("timeout", err.kind)
    assert.is_true(core.monotonic() - t0 < 5)
    assert.equal("hello\n", assert(s:request { url = server.base .. "/index.txt" }).body)
  end)

  it("uses the user_agent option and per-request headers", function()
    local s2 = assert(core.session { user_agent = "test-agent/1" })
    local resp = assert(s2:request { url = server.base .. "/echo" })
    assert.equal("GET||||test-agent/1", resp.body)
    resp = assert(s2:request { url = server.base .. "/echo",
      headers = { ["User-Agent"] = "override" } })
    assert.equal("GET||||override", resp.body)
    -- back to no headers, then other headers: the session's agent again each time (the header list
    -- is kept between requests, the agent in it)
    resp = assert(s2:request { url = server.base .. "/echo" })
    assert.equal("GET||||test-agent/1", resp.body)
    resp = assert(s2:request { url = server.base .. "/echo", headers = { ["X-Test"] = "t" } })
    assert.equal("GET|||t|test-agent/1", resp.body)
    resp = assert(s2:request { url = server.base .. "/echo", headers = { ["user-agent"] = "lower" } })
    assert.equal("GET||||lower", resp.body)
    resp = assert(s2:request { url = server.base .. "/echo", headers = { ["X-Test"] = "t" } })
    assert.equal("GET|||t|test-agent/1", resp.body)
    s2:close()
  end)

  it("keeps only the final response's headers after 100 Continue", function()
    local resp = assert(s:request { method = "POST",
      url = server.base .. "/echo", body = "abc",
      headers = { Expect = "100-continue" } })
    assert.equal(200, resp.status)
    assert.equal("POST|100-continue|3||convai/0.1.0", resp.body)
    assert.equal("text/plain", resp.headers["content-type"])
  end)

  it("does not follow redirects", function()
    local resp = assert(s:request { url = server.base .. "/redirect" })
    assert.equal(302, resp.status)
    assert.truthy(resp.headers.location:find("/index.txt", 1, true))
  end)

  it("returns non-2xx responses as responses", function()
    local resp = assert(s:request { url = server.base .. "/teapot" })
    assert.equal(418, resp.status)
    assert.equal("short and stout", resp.body)
    resp = assert(s:request { url = server.base .. "/missing" })
    assert.equal(404, resp.status)
    assert.equal("not_found", core.error_for_status(resp.status))
  end)

  it("refuses bodies over max_body (Content-Length)", function()
    local resp, err = s:request { url = server.base .. "/big.bin" }
    assert.is_nil(resp)
    assert.equal("too_large", err.kind)
    assert.equal(63, err.curl_code) -- CURLE_FILESIZE_EXCEEDED
    assert.truthy(err.message:find(tostring(MAX_BODY), 1, true))
    -- still usable
    assert.equal(200, assert(s:request {
      url = server.base .. "/index.txt" }).status)
  end)

  it("refuses bodies over max_body (chunked, no length)", function()
    local resp, err = s:request { url = server.base .. "/chunked/big.html" }
    assert.is_nil(resp)
    assert.equal("too_large", err.kind)
    assert.equal(23, err.curl_code) -- CURLE_WRITE_ERROR from our cap
    assert.is_true(err.request_sent)
    local ok = assert(core.session { max_body = 4 * BIG })
    resp = assert(ok:request { url = server.base .. "/chunked/big.html" })
    assert.equal(200, resp.status)
    assert.is_nil(resp.headers["content-length"])
    assert.equal("chunked", resp.headers["transfer-encoding"])
    ok:close()
  end)

  it("times out", function()
    local t0 = os.time()
    local resp, err = s:request { url = server.base .. "/slow/file.bin",
      timeout = 0.5 }
    assert.is_nil(resp)
    assert.equal("timeout", err.kind)
    assert.equal(28, err.curl_code) -- CURLE_OPERATION_TIMEDOUT
    assert.is_true(err.request_sent)
    assert.is_true(os.time() - t0 <= 5)
    assert.equal(200, assert(s:request {
      url = server.base .. "/index.txt" }).status)
  end)

  describe("https", function()
    it("rejects an unknown certificate before sending", function()
      if not server.tls_base then return pending("openssl missing") end
      local resp, err = s:request { url = server.tls_base .. "/index.txt" }
      assert.is_nil(resp)
      assert.equal("tls", err.kind)
      assert.is_false(err.request_sent)
    end)

    it("trusts the cafile option", function()
      if not server.tls_base then return pending("openssl missing") end
      local t = assert(core.session { cafile = server.dir .. "/cert.pem" })
      local resp = assert(t:request { url = server.tls_base .. "/index.txt" })
      assert.equal(200, resp.status)
      assert.equal("hello\n", resp.body)
      -- the host name is verified too: the certificate names localhost only
      local url = server.tls_base:gsub("localhost", "127.0.0.1")
      local r2, err = t:request { url = url .. "/index.txt" }
      assert.is_nil(r2)
      assert.equal("tls", err.kind)
      assert.is_false(err.request_sent)
      t:close()
    end)
  end)
end)
