/*
** retry_after.h - the Retry-After header (RFC 9110 section 10.2.3).
**
** A value is either delay-seconds (1*DIGIT) or an HTTP-date in one of the
** three formats of RFC 9110 section 5.6.7:
**   IMF-fixdate  "Sun, 06 Nov 1994 08:49:37 GMT"
**   RFC 850      "Sunday, 06-Nov-94 08:49:37 GMT"
**   asctime      "Sun Nov  6 08:49:37 1994"
** Pure C (no Lua, no locale, no libc time conversion) so the functions can
** be unit tested and fuzzed directly.
*/
#ifndef CONVAI_RETRY_AFTER_H
#define CONVAI_RETRY_AFTER_H

#include <stddef.h>
#include <stdint.h>

/* delay-seconds larger than this are clamped to it. */
#define CV_RETRY_AFTER_MAX INT64_C(2147483648) /* 2^31 */

/*
** Parse an HTTP-date into seconds since the epoch.  now (epoch seconds) is
** only used to resolve the two-digit year of the RFC 850 format.
** Returns 1 and sets *epoch, or 0 if s is not a valid HTTP-date.
*/
int cv_http_date(const char *s, size_t len, int64_t now, int64_t *epoch);

/*
** Parse a Retry-After value (optional surrounding spaces/tabs allowed).
** On success returns 1 and sets *seconds to the delay, >= 0: the number
** itself (clamped to CV_RETRY_AFTER_MAX) or max(0, date - now).
** Returns 0 for anything else.
*/
int cv_retry_after(const char *s, size_t len, int64_t now, int64_t *seconds);

#endif
