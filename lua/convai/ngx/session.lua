--- convai.ngx.session: the old name of `convai.http.cosocket`, the HTTP transport on nginx cosockets.
--
-- Kept so that code written against the name the README used (`require "convai.ngx.session"`) keeps
-- working; new code requires `convai.http.cosocket`, or opens a session with `convai.ngx.session(opts)`.
--
-- @module convai.ngx.session
return require "convai.http.cosocket"
