-- session_spec.lua - core.session without a server (src/lsession.c, src/request.c): options, checks
-- before anything is sent, refused connections, closing, and use from a finalizer.

local helper = require "core_helper"
local core = helper.core
local HAS_INTEGERS = helper.HAS_INTEGERS
local REFUSED = helper.REFUSED
local no_line_break = helper.no_line_break

describe("core.session (no server)", function()
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
    local out = helper.run_script(([[
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
]]):format(REFUSED, REFUSED))
    if not out then return pending("interpreter unknown") end
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
