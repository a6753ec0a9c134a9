/*
** status.h - the error kind for an HTTP status code.
**
** One table shared by the C core and (through core.error_for_status) the
** Lua layer, so both classify responses the same way.  Pure C.
*/
#ifndef CONVAI_STATUS_H
#define CONVAI_STATUS_H

/*
** 401/403 "auth", 404 "not_found", 429 "rate_limited",
** 400/409/422 "unprocessable", 5xx "server", other non-2xx "http";
** NULL for 2xx (success is not an error).
*/
const char *cv_status_kind(long status);

#endif
