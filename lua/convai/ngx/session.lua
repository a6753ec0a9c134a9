--- convai.ngx.session: the old name of `convai.http.cosocket`, the HTTP transport on nginx cosockets.
--
-- Kept so that code written against the name the README used (`require "convai.ngx.session"`) keeps
-- working; new code requires `convai.http.cosocket`, or opens a session with `convai.ngx.session(opts)`.
--
-- @module convai.ngx.session
local cosocket = require "convai.http.cosocket"

--- Open an HTTP session on nginx cosockets (see `convai.http.cosocket.new`).
-- @function new
-- @tparam[opt] table opts session options
-- @treturn table|nil the session
-- @treturn[2] nil
-- @treturn[2] convai.error kind `invalid_argument`

return cosocket
