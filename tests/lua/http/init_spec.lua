-- convai.http, the public entry of the HTTP layer: the names users and the README know, each the
-- function of the module that does that job.
local http = require "convai.http"
local runtime = require "convai.runtime"
local errors = require "convai.errors"
local check = require "convai.http.check"
local transport = require "convai.http.transport"
local client = require "convai.http.client"
local core = require "convai.core"

describe("convai.http", function()
  it("offers the functions of the layer's modules under the names it always had", function()
    local names = {
      new = transport.new, sleep = runtime.sleep, invalid = errors.invalid, quote = check.quote,
      check_base_url = check.base_url, check_secret = check.secret, escape = check.escape,
      query = check.query, count = check.count, positive_integer = check.positive_integer,
      sorted_keys = check.sorted_keys, CREDENTIAL_HEADERS = transport.CREDENTIAL_HEADERS,
      redact_headers = transport.redact_headers, response_error = transport.response_error,
      client_methods = client.methods, client = client.new, env_options = client.env_options,
      shape_error = client.shape_error,
    }
    for name, f in pairs(names) do
      assert.is_not_nil(f, name)
      assert.equal(f, http[name], name)
    end
    assert.equal(core.version, http._VERSION)
  end)

  it("makes a transport that prints its base URL and never its credentials", function()
    local t = assert(http.new { base_url = "http://127.0.0.1:1/v1/", vendor = "V",
      auth = { Authorization = "Bearer secret-token" }, retry = false })
    assert.equal("convai.http{http://127.0.0.1:1/v1}", tostring(t))
    for k, v in pairs(t) do
      assert.is_nil(tostring(v):find("secret-token", 1, true), k)
    end
    t:close()
  end)
end)
