/*
** lparsers.c - Lua bindings of the pure C parsers (see lparsers.h).
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

/* core.normalize_phone(s) -> digits | nil, message */
static int l_normalize_phone(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  char out[CV_PHONE_MAX_DIGITS + 1], err[ERRLEN];
  if (!cv_normalize_phone(s, len, out, err, sizeof err)) return fail(L, err);
  lua_pushstring(L, out);
  return 1;
}

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
