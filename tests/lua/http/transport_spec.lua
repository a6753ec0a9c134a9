-- convai.http.transport: errors from non-2xx answers (the transport over HTTP is in faults_spec,
-- retry_spec, redirect_spec and tls_spec).
local transport = require "convai.http.transport"

local function resp(status, body, headers)
  return { status = status, body = body or "", headers = headers or {} }
end

describe("convai.http.transport", function()
  describe("response_error", function()
    it("maps statuses to kinds", function()
      local cases = { [400] = "unprocessable", [401] = "auth", [403] = "auth", [404] = "not_found",
        [409] = "unprocessable", [418] = "http", [422] = "unprocessable", [429] = "rate_limited",
        [500] = "server", [503] = "server", [302] = "http" }
      for status, kind in pairs(cases) do
        local err = transport.response_error(resp(status), "V")
        assert.equal(kind, err.kind, tostring(status))
        assert.equal(status, err.status)
      end
    end)

    it("keeps the vendor's words and the decoded body", function()
      local err = transport.response_error(resp(422, '{"error":"To Date cannot be before From Date"}'), "Avaamo")
      assert.same({ error = "To Date cannot be before From Date" }, err.body)
      assert.equal("Avaamo: To Date cannot be before From Date", err.message)
      err = transport.response_error(resp(401, '{"message":"Unauthenticated."}'), "voicebot.studio")
      assert.matches("Unauthenticated%.", err.message)
      err = transport.response_error(resp(502, "<html>bad gateway</html>"), "V")
      assert.equal("<html>bad gateway</html>", err.body)
      assert.equal("V: HTTP 502", err.message)
    end)

    it("reads Retry-After as delta-seconds or an HTTP-date", function()
      local err = transport.response_error(resp(429, "", { ["retry-after"] = "120" }), "V")
      assert.equal(120, err.retry_after)
      local date = os.date("!%a, %d %b %Y %H:%M:%S GMT", os.time() + 60)
      err = transport.response_error(resp(503, "", { ["retry-after"] = date }), "V")
      assert.is_true(err.retry_after >= 55 and err.retry_after <= 61, tostring(err.retry_after))
      err = transport.response_error(resp(429, "", { ["retry-after"] = "soon" }), "V")
      assert.is_nil(err.retry_after)
    end)

    it("prints as one line", function()
      local err = transport.response_error(resp(500, '{"message":"line one\\nline two"}'), "V")
      assert.is_nil(tostring(err):find("\n"))
      assert.matches("^convai: server error %(HTTP 500%): V: line one line two", tostring(err))
    end)
  end)

end)
