--- convai.errors: the Lua side of convai's error convention.
--
-- Every fallible call of convai returns `nil, err` where `err` is a `convai.error` value made by the
-- core (`core.error(kind, message, fields)`: `kind`, `message`, `status`, `retry_after`, `request_sent`,
-- `body`, ...; `tostring` gives one line). The kinds are listed in docs/errors.md and docs/core.md.
-- This module holds the one helper every module uses for bad input, so that the message style and the
-- kind are the same everywhere.
--
-- @module convai.errors
local core = require "convai.core"

local select, format = select, string.format

local _M = {}

--- Make an error value (see `core.error`).
-- @function new
-- @tparam string kind one of the kinds of docs/errors.md
-- @tparam string message one line: what is wrong and how to fix it
-- @tparam[opt] table fields more fields (`status`, `request_sent`, ...)
-- @treturn convai.error
_M.new = core.error

--- Refuse bad input: `nil` and an `invalid_argument` error (nothing was sent).
-- @tparam string fmt the message, what is wrong and how to fix it, in the user's terms; a
--   `string.format` pattern when more arguments follow (used as is otherwise)
-- @param ... the pattern's values
-- @treturn nil
-- @treturn convai.error kind `invalid_argument`
function _M.invalid(fmt, ...)
  if select("#", ...) > 0 then fmt = format(fmt, ...) end
  return nil, core.error("invalid_argument", fmt)
end

--- The C core's error table (`core.errors`, generated from src/errors.h; see docs/core.md): `kinds`,
-- `status_kind(status)`, `curl` (libcurl codes by their `CURLE_` name without the prefix) and
-- `curl_kind`. The one taxonomy; the Lua layer keeps no copy of it.
_M.table = core.errors

--- libcurl's codes by name (`COULDNT_CONNECT = 7`, ...; `core.errors.curl`), so that `curl_code`
-- means the same from every transport (the cosocket transport reports these) and the retry policy can
-- name the transient ones.
_M.CURL = core.errors.curl

return _M
