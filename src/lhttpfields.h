/*
** lhttpfields.h - Lua bindings of the HTTP field parsers: the value of a
** Retry-After header (retry_after.c) and the check of a request header
** field (httpcheck.c).
**
** core.retry_after(value [, now]) -> seconds | nil
** core.check_header(name, value) -> true | nil, message
** Wrong argument types raise.
*/
#ifndef CONVAI_LHTTPFIELDS_H
#define CONVAI_LHTTPFIELDS_H

#include "compat.h"

/* Add retry_after and check_header to the table on top. */
void cv_httpfields_open(lua_State *L);

#endif
