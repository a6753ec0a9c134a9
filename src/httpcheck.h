/*
** httpcheck.h - validating what convai puts on the wire.
**
** Everything a request is built from (method, URL, header names and
** values) is checked before libcurl sees it, so a bad value from a user
** (a token pasted with a trailing newline, a URL with a space) becomes an
** invalid_argument error instead of a malformed or smuggled request.
** Messages never contain header values or URLs, which may hold secrets.
** Pure C.
*/
#ifndef CONVAI_HTTPCHECK_H
#define CONVAI_HTTPCHECK_H

#include <stddef.h>

/* 1 if s[0..len) is a non-empty RFC 9110 token (tchar+). */
int cv_is_token(const char *s, size_t len);

/* Each returns 1 if valid, else 0 with a message in err (errlen bytes). */
int cv_check_method(const char *s, size_t len, char *err, size_t errlen);
int cv_check_url(const char *s, size_t len, char *err, size_t errlen);
int cv_check_header(const char *name, size_t nlen, const char *value,
                    size_t vlen, char *err, size_t errlen);

#endif
