--- Test helper for the CLI specs (tests/lua/cli/): argument lists, and the checks every CLI spec makes.
local helper = require "helper"
local assert = require "luassert"

local _M = {}

--- A new list: `base`, then `extra`.
function _M.with(base, extra)
  local t = {}
  for i, v in ipairs(base) do t[i] = v end
  for _, v in ipairs(extra) do t[#t + 1] = v end
  return t
end

--- Assert that no credential of the sandbox appears in any of the strings.
function _M.no_secret(...)
  local secrets = { helper.env("CONVAI_VOICEBOT_TOKEN"), helper.env("CONVAI_VONAGE_KEY"),
    helper.env("CONVAI_AVAAMO_TOKEN") }
  for _, s in ipairs { ... } do
    for _, secret in ipairs(secrets) do assert.is_nil(s:find(secret, 1, true), "a secret was printed") end
  end
end

--- Run a command that must be refused: exit 2, nothing on stdout, stderr exactly `err`, nothing sent.
-- @tparam table args the arguments
-- @tparam string err the whole of stderr
-- @tparam[opt] table env as for `helper.cli`
function _M.refused(args, err, env)
  local code, out, e = helper.cli(args, env)
  local line = table.concat(args, " ")
  assert.equal(2, code, line)
  assert.equal("", out, line)
  assert.equal(err, e, line)
  assert.same({}, helper.log(), line)
end

return _M
