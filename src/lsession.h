/*
** lsession.h - HTTP sessions: one reusable libcurl easy handle each.
**
** core.session(opts) -> session | nil, err
** session:request{method=, url=, headers=, body=, timeout=,
**                 connect_timeout=} -> {status=, headers=, body=} | nil, err
** session:stats() -> {requests=, connections=}
** session:close(), __gc, __close, __tostring
*/
#ifndef CONVAI_LSESSION_H
#define CONVAI_LSESSION_H

#include "compat.h"

#define CV_SESSION_MT "convai.session"

/* Initialise libcurl and add `session` to the table on top. */
void cv_session_open(lua_State *L);

#endif
