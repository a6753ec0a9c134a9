/*
** lformats.c - Lua bindings of the parsers of the vendors' data formats
** (see lformats.h): Avaamo's dd/mm/yyyy dates (date.c) and the phone
** numbers Vonage wants (phone.c).
*/
/*** @module convai.core */

/*** Vendor formats.
Strict parsers for the data formats of the vendors' APIs, in plain C (no
locale, no libc time conversion). A value that does not parse gives `nil`
and a message saying what is wrong, quoting the input; an argument of the
wrong type raises.
@section formats
*/

#include <stdint.h>

#include "date.h"
#include "lerror.h"
#include "lformats.h"
#include "phone.h"

#define ERRLEN 256

/*** Parse a `dd/mm/yyyy` date of the Avaamo API into a day number.
The date format of the Avaamo analytics usage API (`from_date`, `to_date`;
docs/api-notes.md §2). Strict: a 2-digit
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
  if (!cv_parse_date(s, len, &days, err, sizeof err)) return cv_fail_msg(L, err);
  lua_pushinteger(L, (lua_Integer)days);
  return 1;
}

/*** Format a day number as a `dd/mm/yyyy` date of the Avaamo API; the
inverse of `parse_date` (docs/api-notes.md §2).
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
    return cv_fail_msg(L, lua_tostring(L, -1));
  }
  lua_pushstring(L, out);
  return 1;
}

/*** Normalise a phone number typed by a person into the digits Vonage
wants.
Vonage AI Studio takes `to` as an E.164 number written as digits only:
country code first, no `+`, no `00` (docs/api-notes.md §3). Accepted: an
optional `+` as the very first character, or without it a leading `00`
international prefix (dropped); spaces, dots, hyphens and parentheses as
separators; spaces and tabs around the number. Then 8 to 15 digits must remain
(E.164 allows 15), the first not 0: a number in national format such as
`07700 900123` is refused, as there is no default country.
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
  if (!cv_normalize_phone(s, len, out, err, sizeof err)) return cv_fail_msg(L, err);
  lua_pushstring(L, out);
  return 1;
}

void cv_formats_open(lua_State *L) {
  static const luaL_Reg funcs[] = {{"parse_date", l_parse_date},
                                   {"format_date", l_format_date},
                                   {"normalize_phone", l_normalize_phone},
                                   {NULL, NULL}};
  luaL_setfuncs(L, funcs, 0);
}
