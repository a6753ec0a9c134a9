/*
** lhttpfields.c - Lua bindings of the HTTP field parsers (see
** lhttpfields.h): Retry-After (retry_after.c) and request header fields
** (httpcheck.c).
*/
/*** @module convai.core */

/*** HTTP fields.
Strict parsers for the HTTP header values convai reads and writes (RFC
9110), in plain C (no locale, no libc time conversion). A value that does
not parse gives `nil` and a message saying what is wrong (`retry_after`
gives just `nil`); an argument of the wrong type raises.
@section httpfields
*/

#include <math.h>
#include <stdint.h>
#include <time.h>

#include "httpcheck.h"
#include "lerror.h"
#include "lhttpfields.h"
#include "retry_after.h"

#define ERRLEN 256
#define MAX_NOW 1e15 /* epoch seconds; ~31 million years */

/*** Seconds to wait, from the value of a `Retry-After` header (RFC 9110
section 10.2.3).
The value is either delay-seconds (digits only; values over 2^31 are
clamped to 2^31) or an HTTP-date in one of the three formats of RFC 9110
section 5.6.7: IMF-fixdate `Sun, 06 Nov 1994 08:49:37 GMT`, RFC 850
`Sunday, 06-Nov-94 08:49:37 GMT` (a two-digit year is taken in the century
of `now`, or in the century before when that would put it more than 50
years after the year of `now`) and asctime
`Sun Nov  6 08:49:37 1994`, all in UTC. Parsing is strict: day and month
names and `GMT` are case-sensitive, field widths, separators and ranges are
checked (second 60, a leap second, is allowed), the weekday is not checked
against the date. Spaces and tabs around the value are ignored.
@function retry_after
@tparam string|nil value the header value; nil gives nil, so
`core.retry_after(resp.headers["retry-after"])` needs no test
@tparam[opt=os.time()] number now the current time, epoch seconds (rounded
down to whole seconds; at most 10^15 in absolute value); used for HTTP-dates
@treturn integer|nil seconds to wait, 0 or more: the delay itself, or the
date minus `now` (0 for a date in the past); nil, with no message, when the
value is nil or neither delay-seconds nor an HTTP-date (`""`, `"-1"`,
`"1.5"`, `"soon"`, `"Sun, 31 Nov 1994 08:49:37 GMT"`)
@raise if `value` is not a string, number or nil, or `now` is not a number
or is out of range
@usage core.retry_after("120")                                   --> 120
core.retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784111717)  --> 60
*/
/* core.retry_after(value [, now]) -> seconds | nil */
static int l_retry_after(lua_State *L) {
  size_t len;
  const char *s;
  int64_t now, secs;
  if (lua_isnoneornil(L, 1)) {
    luaL_pushfail(L);
    return 1;
  }
  s = luaL_checklstring(L, 1, &len);
  if (lua_isnoneornil(L, 2)) {
    now = (int64_t)time(NULL);
  } else {
    lua_Number n = luaL_checknumber(L, 2);
    luaL_argcheck(L, n >= -MAX_NOW && n <= MAX_NOW, 2,
                  "epoch seconds out of range");
    now = (int64_t)floor(n);
  }
  if (!cv_retry_after(s, len, now, &secs)) {
    luaL_pushfail(L);
    return 1;
  }
  lua_pushinteger(L, (lua_Integer)secs);
  return 1;
}

/*** Check a request header field: the check `session:request` applies to
each of its `headers` before anything is sent.
The name must be an RFC 9110 token: letters, digits and
`! # $ % & ' * + - . ^ _ | ~` or a backquote. The value must not contain CR,
LF or NUL, which would end the field early and could smuggle another field
or request into the connection; other control characters and surrounding
spaces are not refused (libcurl sends the value as given). The message
names the field but never shows its value, which may be a credential.
@function check_header
@tparam string name field name, e.g. `"Authorization"`
@tparam string value field value (may be empty)
@treturn[1] boolean true
@treturn[2] nil
@treturn[2] string what is wrong, e.g. `"header 'Authorization' value
contains CR, LF or NUL; remove line breaks from the value"`
@raise if `name` or `value` is not a string (or number)
*/
/* core.check_header(name, value) -> true | nil, message */
static int l_check_header(lua_State *L) {
  size_t nlen, vlen;
  const char *name = luaL_checklstring(L, 1, &nlen);
  const char *value = luaL_checklstring(L, 2, &vlen);
  char err[ERRLEN];
  if (!cv_check_header(name, nlen, value, vlen, err, sizeof err))
    return cv_fail_msg(L, err);
  lua_pushboolean(L, 1);
  return 1;
}

void cv_httpfields_open(lua_State *L) {
  static const luaL_Reg funcs[] = {{"retry_after", l_retry_after},
                                   {"check_header", l_check_header},
                                   {NULL, NULL}};
  luaL_setfuncs(L, funcs, 0);
}
