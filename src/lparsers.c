/*
** lparsers.c - Lua bindings of the pure C parsers (see lparsers.h).
*/
/*** @module convai.core */

/*** Parsers.
Strict parsers for HTTP fields and the vendors' formats, written in plain C
(no locale, no libc time conversion). A value that does not parse gives
`nil` and a message saying what is wrong (`retry_after` gives just `nil`); an
argument of the wrong type raises.
@section parsers
*/

#include <math.h>
#include <stdint.h>
#include <time.h>

#include "date.h"
#include "httpcheck.h"
#include "lparsers.h"
#include "phone.h"
#include "retry_after.h"

#define ERRLEN 256
#define MAX_NOW 1e15 /* epoch seconds; ~31 million years */

static int fail(lua_State *L, const char *msg) {
  luaL_pushfail(L);
  lua_pushstring(L, msg);
  return 2;
}

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

/*** Parse a `dd/mm/yyyy` date of the Avaamo API into a day number.
The date format of the Avaamo analytics usage API (`from_date`, `to_date`;
seeds/avaamo-analytics-usage.md, API-NOTES section 2). Strict: a 2-digit
day, a 2-digit month and a 4-digit year separated by `/`, nothing around
them; a real calendar date (leap years checked); years 1970 to 9999.
@function parse_date
@tparam string s the date, e.g. `"29/02/2024"`
@treturn[1] integer days since 1970-01-01 (0 for `"01/01/1970"`; times
86400, the epoch seconds of its 00:00 UTC)
@treturn[2] nil
@treturn[2] string what is wrong, quoting the input and naming the
expected format, e.g. `"31/02/2024" is not a calendar date (expected
dd/mm/yyyy)`; a month over 12 with a day from 1 to 12 adds "(day and month
swapped?)"
@raise if `s` is not a string (or number)
*/
/* core.parse_date("dd/mm/yyyy") -> days since 1970-01-01 | nil, message */
static int l_parse_date(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  char err[ERRLEN];
  int64_t days;
  if (!cv_parse_date(s, len, &days, err, sizeof err)) return fail(L, err);
  lua_pushinteger(L, (lua_Integer)days);
  return 1;
}

/*** Format a day number as a `dd/mm/yyyy` date of the Avaamo API; the
inverse of `parse_date` (API-NOTES section 2).
@function format_date
@tparam integer days days since 1970-01-01, from 0 (`01/01/1970`) to
2932896 (`31/12/9999`)
@treturn[1] string the date, e.g. `"29/02/2024"` for 19782
@treturn[2] nil
@treturn[2] string `"day number N is outside the years 1970 to 9999"`
@raise if `days` is not an integer (an integral float is accepted)
*/
/* core.format_date(days) -> "dd/mm/yyyy" | nil, message */
static int l_format_date(lua_State *L) {
  lua_Integer days = luaL_checkinteger(L, 1);
  char out[CV_DATE_LEN + 1];
  if (!cv_format_date((int64_t)days, out)) {
    lua_pushfstring(L, "day number %d is outside the years %d to %d",
                    (int)(days < -INT32_MAX  ? -INT32_MAX
                          : days > INT32_MAX ? INT32_MAX
                                             : days),
                    CV_DATE_MIN_YEAR, CV_DATE_MAX_YEAR);
    return fail(L, lua_tostring(L, -1));
  }
  lua_pushstring(L, out);
  return 1;
}

/*** Normalise a phone number typed by a person into the digits Vonage
wants.
Vonage AI Studio takes `to` as an E.164 number written as digits only:
country code first, no `+`, no `00` (seeds/vonage-ai-studio-outbound-whatsapp.md,
API-NOTES section 3). Accepted: an optional `+` as the very first
character, or without it a leading `00` international prefix (dropped);
spaces, dots, hyphens and parentheses as separators; spaces and tabs around
the number. Then 8 to 15 digits must remain (E.164 allows 15), the
first not 0: a number in national format such as `07700 900123` is refused,
as there is no default country.
@function normalize_phone
@tparam string s the number as typed, e.g. `"+44 7700 900123"`,
`"0044 7700 900123"`, `"(44) 7700-900123"`
@treturn[1] string the digits, e.g. `"447700900123"`
@treturn[2] nil
@treturn[2] string what is wrong: empty; a letter or another character
that is not allowed (named); `+` not at the start; not 8 to 15 digits
(with the count); starting with 0
@raise if `s` is not a string (or number)
*/
/* core.normalize_phone(s) -> digits | nil, message */
static int l_normalize_phone(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  char out[CV_PHONE_MAX_DIGITS + 1], err[ERRLEN];
  if (!cv_normalize_phone(s, len, out, err, sizeof err)) return fail(L, err);
  lua_pushstring(L, out);
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
    return fail(L, err);
  lua_pushboolean(L, 1);
  return 1;
}

void cv_parsers_open(lua_State *L) {
  static const luaL_Reg funcs[] = {{"retry_after", l_retry_after},
                                   {"parse_date", l_parse_date},
                                   {"format_date", l_format_date},
                                   {"normalize_phone", l_normalize_phone},
                                   {"check_header", l_check_header},
                                   {NULL, NULL}};
  luaL_setfuncs(L, funcs, 0);
}
