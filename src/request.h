/*
** request.h - what core.session and core.multi accept from Lua: their
** options (read once, when the session or multi is made) and each request
** table, checked before anything reaches libcurl.
**
** Checking a request: wrong types raise (a programming mistake); bad
** values give a message, which the caller returns with cv_rejected as an
** invalid_argument error with request_sent = false.
*/
#ifndef CONVAI_REQUEST_H
#define CONVAI_REQUEST_H

#include "compat.h"
#include "transfer.h"

#define CV_DEFAULT_TIMEOUT 30.0
#define CV_DEFAULT_CONNECT_TIMEOUT 10.0
#define CV_DEFAULT_MAX_BODY 16777216.0 /* 16 MiB */
#define CV_MAX_SECONDS (86400.0 * 365) /* a year: milliseconds fit a long */

/* Read the options table at index 1: timeout, connect_timeout, max_body,
** cafile and user_agent, plus the names in `extra` (a NULL-terminated
** list: accepted here, read by the caller).  Returns NULL when they are
** fine (with *ca and *ua pointing to strings left on the stack, or NULL),
** else the message (pushed). */
const char *cv_http_read_opts(lua_State *L, cv_http_opts *o, const char **ca,
                              const char **ua, const char *const *extra);

/* Copy ca (may be NULL) and ua (NULL: the default User-Agent) into o.
** Returns 0 when out of memory (o is then safe to cv_http_opts_free). */
int cv_http_opts_own(cv_http_opts *o, const char *ca, const char *ua);
void cv_http_opts_free(cv_http_opts *o);

/* Check the request table at stack index `arg` (see session:request for
** the rules).  Wrong types raise.  Returns NULL when the request is fine,
** else the message of an invalid_argument error (pushed).  With
** allow_cafile, req.cafile is read too (a readable path).  `known` (may be
** NULL) is the transfer that will run the request: when the headers table
** holds exactly the headers of its last request (already checked then),
** they are not checked again and r->hdrs_same is set. */
const char *cv_request_read(lua_State *L, int arg, const cv_http_opts *o,
                            int allow_cafile, const cv_transfer *known,
                            cv_request *r);

/* nil, invalid_argument error with request_sent = false; returns 2. */
int cv_rejected(lua_State *L, const char *msg);

#endif
