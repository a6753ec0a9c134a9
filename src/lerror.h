/*
** lerror.h - convai error objects.
**
** Every failure convai reports to Lua is a value, not a raised error: a
** table with metatable "convai.error" and fields kind, message and
** optionally status, retry_after, body and any extra (curl_code,
** request_sent ...).  The kinds are the table of errors.h.  This file owns
** the constructor (core.error), the one-line __tostring, core.is_error,
** core.error_for_status, the table's export core.errors, and the C helpers
** the other bindings use to fail.
*/
#ifndef CONVAI_LERROR_H
#define CONVAI_LERROR_H

#include "compat.h"

#define CV_ERROR_MT "convai.error"

/* Push a new error object {kind=kind, message=msg}; kind must be one of
** errors.h. */
void cv_error_push(lua_State *L, const char *kind, const char *msg);

/* Push fail (nil) and a new error object; returns 2 (for "return"). */
int cv_error_fail(lua_State *L, const char *kind, const char *msg);

/* Push fail (nil) and the message msg; returns 2.  For the functions that
** fail with a message string rather than an error object (see lcore.c). */
int cv_fail_msg(lua_State *L, const char *msg);

/* Add error, error_mt, is_error, error_for_status and errors to the table
** on top. */
void cv_error_open(lua_State *L);

#endif
