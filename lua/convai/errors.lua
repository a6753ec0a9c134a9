--- convai.errors: the Lua side of convai's error convention.
--
-- Every fallible call of convai returns `nil, err` where `err` is a `convai.error` value made by the
-- core (`core.error(kind, message, fields)`: `kind`, `message`, `status`, `retry_after`, `request_sent`,
-- `body`, ...; `tostring` gives one line). The kinds are listed in docs/errors.md. This module holds the
-- one helper every module uses for bad input, so that the message style and the kind are the same
-- everywhere.
--
-- @module convai.errors
local core = require "convai.core"

local type, select, format = type, select, string.format

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

-- core.errors: the C core's error table, where it exports one (`core.errors`, made from src/errors.h);
-- until then the copy below, the only one in Lua (drop it once every build has the export).
local exported = type(core.errors) == "table" and core.errors or nil

--- libcurl's codes by their `CURLE_` name without the prefix (`COULDNT_CONNECT = 7`, ...), so that
-- `curl_code` means the same from every transport (the cosocket transport reports these) and the
-- retry policy can name the transient ones: `core.errors.curl`.
_M.CURL = exported and exported.curl or {
  UNSUPPORTED_PROTOCOL = 1, URL_MALFORMAT = 3, COULDNT_RESOLVE_HOST = 6, COULDNT_CONNECT = 7,
  WEIRD_SERVER_REPLY = 8, PARTIAL_FILE = 18, WRITE_ERROR = 23, OPERATION_TIMEDOUT = 28,
  SSL_CONNECT_ERROR = 35, GOT_NOTHING = 52, SEND_ERROR = 55, RECV_ERROR = 56,
  PEER_FAILED_VERIFICATION = 60, FILESIZE_EXCEEDED = 63,
}

return _M
