/*
** method.h - what the HTTP method of a request allows a client to do.
**
** libcurl 7.88 silently sends a request again, on a new connection, when
** a kept-alive connection it reused dies before any byte of the response
** arrives.  For a request that is not idempotent (RFC 9110 section 9.2.2)
** that second copy may act twice (a WhatsApp template sent twice), so such
** requests get a new connection of their own (CURLOPT_FRESH_CONNECT), on
** which libcurl never retries.  Pure C.
*/
#ifndef CONVAI_METHOD_H
#define CONVAI_METHOD_H

#include <stddef.h>

/* 1 if m[0..len) is one of the methods RFC 9110 defines as idempotent:
** GET, HEAD, OPTIONS, TRACE (safe), PUT and DELETE.  Methods are
** case-sensitive; anything else (POST, PATCH, CONNECT, extension methods,
** "get") is treated as not idempotent. */
int cv_method_idempotent(const char *m, size_t len);

#endif
