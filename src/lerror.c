/*
** lerror.c - convai error objects and the export of the error table (see
** lerror.h).  The kinds, the status mapping and the libcurl codes come
** from errors.h (through errors.c); nothing here lists them.
*/
/*** @module convai.core */

/*** Errors.
Every failure convai reports is a value, not a raised error: the function
returns `nil` and an error object, a table with the metatable `error_mt` and
these fields:

 - `kind` (string): one of `errors.kinds`;
 - `message` (string): what went wrong and, where it helps, how to fix it;
 - depending on where the error comes from: `status` (integer HTTP status),
   `retry_after` (integer seconds, from `Retry-After`, see `retry_after`),
   `body` (the decoded body of an HTTP error), `curl_code` (integer libcurl
   code) and `request_sent` (boolean), see `session:request`.

The kinds, what each means, the HTTP statuses and the libcurl codes of each
are one table in the C source (src/errors.h), exported as `errors` (see
the error table below) and printed in docs/core.md. Which functions of `convai.core` fail with an error
object and which with a message string: docs/core.md.
@section errors
*/

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "errors.h"
#include "lerror.h"

/* Set kind and message on the table on top and give it the metatable. */
static void finish(lua_State *L, const char *kind, int msg_idx) {
  msg_idx = lua_absindex(L, msg_idx);
  lua_pushstring(L, kind);
  lua_setfield(L, -2, "kind");
  lua_pushvalue(L, msg_idx);
  lua_setfield(L, -2, "message");
  luaL_setmetatable(L, CV_ERROR_MT);
}

void cv_error_push(lua_State *L, const char *kind, const char *msg) {
  lua_pushstring(L, msg);
  lua_createtable(L, 0, 4);
  finish(L, kind, -2);
  lua_remove(L, -2);
}

int cv_error_fail(lua_State *L, const char *kind, const char *msg) {
  luaL_pushfail(L);
  cv_error_push(L, kind, msg);
  return 2;
}

int cv_fail_msg(lua_State *L, const char *msg) {
  luaL_pushfail(L);
  lua_pushstring(L, msg);
  return 2;
}

/*** Make an error object.
@function error
@tparam string kind one of `errors.kinds`, exactly (lower case)
@tparam string message what went wrong (a number is converted to a string)
@tparam[opt] table fields extra fields, copied (shallow, raw) into the new
error, e.g. `{status = 429, retry_after = 30}`; they cannot override `kind`
or `message`
@treturn convai.error a new table `{kind = kind, message = message, ...}`
with the metatable `error_mt`
@raise if `kind` is not a string or not one of the kinds, if `message` is
not a string or number, or if `fields` is neither nil nor a table
@usage return nil, core.error("invalid_argument", "agent_id must be a positive integer")
*/
/* core.error(kind, message [, fields]) */
static int l_error(lua_State *L) {
  const char *kind = luaL_checkstring(L, 1);
  luaL_checkstring(L, 2);
  if (!cv_kind_valid(kind)) {
    luaL_Buffer b;
    int i;
    luaL_buffinit(L, &b);
    lua_pushfstring(L, "unknown error kind '%s' (expected one of ", kind);
    luaL_addvalue(&b);
    for (i = 0; i < CV_KIND_COUNT; i++) {
      if (i > 0) luaL_addstring(&b, ", ");
      luaL_addstring(&b, cv_kind_names[i]);
    }
    luaL_addchar(&b, ')');
    luaL_pushresult(&b);
    return luaL_argerror(L, 1, lua_tostring(L, -1));
  }
  if (!lua_isnoneornil(L, 3)) luaL_checktype(L, 3, LUA_TTABLE);
  lua_settop(L, 3);
  lua_createtable(L, 0, 4);
  if (!lua_isnil(L, 3)) {
    lua_pushnil(L);
    while (lua_next(L, 3)) {
      lua_pushvalue(L, -2);
      lua_insert(L, -2);
      lua_rawset(L, 4);
    }
  }
  finish(L, kind, 2);
  return 1;
}

/* Append s with CR and LF replaced by spaces (keep it one line). */
static void add_oneline(luaL_Buffer *b, const char *s, size_t len) {
  size_t i;
  for (i = 0; i < len; i++)
    luaL_addchar(b, (s[i] == '\r' || s[i] == '\n') ? ' ' : s[i]);
}

/* Copy field f of the table at 1 as text into out; 0 if absent/unusable */
static int field_text(lua_State *L, const char *f, char *out, size_t n) {
  int ok = 0;
  lua_getfield(L, 1, f);
  if (lua_type(L, -1) == LUA_TNUMBER) {
    if (lua_isinteger(L, -1))
      snprintf(out, n, "%lld", (long long)lua_tointeger(L, -1));
    else
      snprintf(out, n, "%.14g", (double)lua_tonumber(L, -1));
    ok = 1;
  } else if (lua_type(L, -1) == LUA_TSTRING) {
    snprintf(out, n, "%s", lua_tostring(L, -1));
    ok = 1;
  }
  lua_pop(L, 1);
  return ok;
}

/*** The metatable of error objects, registered as `"convai.error"`.
Compare with it (or use `is_error`) to recognise an error object.
@table error_mt
@field __tostring `tostring(err)` is one line, `convai: KIND error (HTTP
STATUS): MESSAGE`, e.g. `"convai: auth error (HTTP 401): bad token"`; the
`(HTTP STATUS)` part only when `status` is set; CR and LF in the text
become spaces; `"(no message)"` when `message` is not a string or number
*/
/* __tostring: "convai: <kind> error (HTTP <status>): <message>" */
static int l_error_tostring(lua_State *L) {
  luaL_Buffer b;
  char kind[64], status[32];
  const char *msg;
  size_t len;
  luaL_checktype(L, 1, LUA_TTABLE);
  if (!field_text(L, "kind", kind, sizeof kind)) strcpy(kind, "unknown");
  lua_settop(L, 1);
  lua_getfield(L, 1, "message"); /* 2 */
  msg = (lua_type(L, 2) == LUA_TSTRING || lua_type(L, 2) == LUA_TNUMBER)
            ? lua_tolstring(L, 2, &len)
            : NULL;
  luaL_buffinit(L, &b);
  luaL_addstring(&b, "convai: ");
  add_oneline(&b, kind, strlen(kind));
  luaL_addstring(&b, " error");
  if (field_text(L, "status", status, sizeof status)) {
    luaL_addstring(&b, " (HTTP ");
    add_oneline(&b, status, strlen(status));
    luaL_addstring(&b, ")");
  }
  luaL_addstring(&b, ": ");
  if (msg != NULL)
    add_oneline(&b, msg, len);
  else
    luaL_addstring(&b, "(no message)");
  luaL_pushresult(&b);
  return 1;
}

/*** Whether a value is an error object.
@function is_error
@param v any value
@treturn boolean true only for a table whose metatable is `error_mt` (a
plain table with a `kind` field is not an error object)
@raise if called without an argument
*/
static int l_is_error(lua_State *L) {
  int yes = 0;
  luaL_checkany(L, 1);
  if (lua_type(L, 1) == LUA_TTABLE && lua_getmetatable(L, 1)) {
    luaL_getmetatable(L, CV_ERROR_MT);
    yes = lua_rawequal(L, -1, -2);
  }
  lua_pushboolean(L, yes);
  return 1;
}

/*** The error kind for an HTTP status code (RFC 9110 section 15); the one
mapping used by the C core and the Lua clients (the table of src/errors.h:
see `errors`). E.g. 401 is `auth`, 503 `server`; any code outside 200 to
299 that the table does not name (1xx, 3xx, other 4xx, out-of-range
numbers) is `errors.status_other`. Also `errors.status_kind`.
@function error_for_status
@tparam integer status HTTP status code, e.g. `resp.status`
@treturn string|nil the kind, or nil for 2xx (success is not an error)
@raise if `status` is not an integer (an integral float or a numeric string
is accepted)
@usage local kind = core.error_for_status(resp.status)
if kind then
  return nil, core.error(kind, "HTTP " .. resp.status, { status = resp.status })
end
*/
static int l_error_for_status(lua_State *L) {
  const char *kind = cv_status_kind((long)luaL_checkinteger(L, 1));
  if (kind == NULL)
    lua_pushnil(L);
  else
    lua_pushstring(L, kind);
  return 1;
}

/* __index of errors.curl_kind: the kind of a code the table does not name
** (CURL_OTHER), as the core classifies it; nil for anything but a
** positive integer. */
static int l_curl_kind_other(lua_State *L) {
  lua_Integer code;
  if (!lua_isinteger(L, 2)) return 0;
  code = lua_tointeger(L, 2);
  if (code < 1 || code > INT_MAX) return 0;
  lua_pushstring(L, cv_curl_kind((int)code));
  return 1;
}

/* t[k] = v for the table on top. */
static void set_int(lua_State *L, const char *k, lua_Integer v) {
  lua_pushinteger(L, v);
  lua_setfield(L, -2, k);
}
static void set_kind(lua_State *L, lua_Integer k, const char *kind) {
  lua_pushstring(L, kind);
  lua_rawseti(L, -2, (int)k);
}

/* {first, last, kind} appended to the array on top. */
static void add_range(lua_State *L, int first, int last, const char *kind) {
  lua_createtable(L, 3, 0);
  lua_pushinteger(L, first);
  lua_rawseti(L, -2, 1);
  lua_pushinteger(L, last);
  lua_rawseti(L, -2, 2);
  lua_pushstring(L, kind);
  lua_rawseti(L, -2, 3);
  lua_rawseti(L, -2, (int)lua_rawlen(L, -2) + 1);
}

/*** The error table.
`errors` holds the table of src/errors.h (the kinds, their HTTP statuses and
libcurl codes) as Lua values, for code that classifies failures the way the
core does (the cosocket transport of `convai.ngx`) and for the documentation
(docs/core.md, printed by scripts/errors-doc). Made once when the module
loads; do not modify it.
@section errortable
@usage local E = core.errors
return nil, core.error(E.curl_kind[E.curl.COULDNT_CONNECT], "refused",
  { curl_code = E.curl.COULDNT_CONNECT, request_sent = false })
*/

/*** The kind names, in the table's order (`"invalid_argument"`, `"auth"`,
...): the kinds `error` accepts.
@table errors.kinds
*/

/*** `{[kind] = string}`: what each kind means, one line.
@table errors.about
*/

/*** `{[status] = kind}`: the HTTP statuses named one by one (`[401] =
"auth"`, `[429] = "rate_limited"`, ...).
@table errors.status
*/

/*** Array of `{first, last, kind}`: the statuses from `first` to `last`
that `errors.status` does not name (`{500, 599, "server"}`).
@table errors.status_range
*/

/*** The kind of any other status outside 200 to 299 (`"http"`).
@field errors.status_other
*/

/*** The kind of an HTTP status by `errors.status`, `errors.status_range` and
`errors.status_other`; the same function as `error_for_status`.
@function errors.status_kind
@tparam integer status HTTP status code
@treturn string|nil the kind, or nil for 2xx
*/

/*** `{[NAME] = integer}`: each libcurl code the table names, by its `CURLE_`
name without the prefix (`COULDNT_CONNECT = 7`, `OPERATION_TIMEDOUT = 28`,
...), with the value of the libcurl the core was built with.
@table errors.curl
*/

/*** `{[code] = kind}`: the kind the core gives a failed transfer's
`curl_code`. The codes of `errors.curl` are in the table; any other positive
code reads as `errors.curl_other` (through a metatable), 0 (success) as nil.
A body or header section refused for its size ends with code 23
(`WRITE_ERROR`) and is `too_large`, not `curl_kind[23]`: the core knows its
own refusal.
@table errors.curl_kind
*/

/*** The kind of a libcurl failure that `errors.curl` does not name
(`"network"`).
@field errors.curl_other
*/
static void push_errors(lua_State *L) {
  int i; /* below the new table: the module table, with error_for_status */
  lua_createtable(L, 0, 10);
  lua_createtable(L, CV_KIND_COUNT, 0);
  for (i = 0; i < CV_KIND_COUNT; i++) set_kind(L, i + 1, cv_kind_names[i]);
  lua_setfield(L, -2, "kinds");
  lua_createtable(L, 0, CV_KIND_COUNT);
  for (i = 0; i < CV_KIND_COUNT; i++) {
    lua_pushstring(L, cv_kind_about[i]);
    lua_setfield(L, -2, cv_kind_names[i]);
  }
  lua_setfield(L, -2, "about");

#define STATUS(kind, code) set_kind(L, code, #kind);
#define RANGE(kind, first, last) add_range(L, first, last, #kind);
#define OTHER(kind) lua_pushliteral(L, #kind);
  lua_newtable(L);
  CV_ERRORS(CV_ERR_SKIP2, STATUS, CV_ERR_SKIP3, CV_ERR_SKIP1, CV_ERR_SKIP2,
            CV_ERR_SKIP1)
  lua_setfield(L, -2, "status");
  lua_newtable(L);
  CV_ERRORS(CV_ERR_SKIP2, CV_ERR_SKIP2, RANGE, CV_ERR_SKIP1, CV_ERR_SKIP2,
            CV_ERR_SKIP1)
  lua_setfield(L, -2, "status_range");
  CV_ERRORS(CV_ERR_SKIP2, CV_ERR_SKIP2, CV_ERR_SKIP3, OTHER, CV_ERR_SKIP2,
            CV_ERR_SKIP1)
  lua_setfield(L, -2, "status_other");
  lua_getfield(L, -2, "error_for_status"); /* the same function object */
  lua_setfield(L, -2, "status_kind");

#define CURL(kind, name) set_int(L, #name, CURLE_##name);
  lua_newtable(L);
  CV_ERRORS(CV_ERR_SKIP2, CV_ERR_SKIP2, CV_ERR_SKIP3, CV_ERR_SKIP1, CURL,
            CV_ERR_SKIP1)
  lua_setfield(L, -2, "curl");
#undef CURL
#define CURL(kind, name) set_kind(L, CURLE_##name, #kind);
  lua_newtable(L);
  CV_ERRORS(CV_ERR_SKIP2, CV_ERR_SKIP2, CV_ERR_SKIP3, CV_ERR_SKIP1, CURL,
            CV_ERR_SKIP1)
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, l_curl_kind_other);
  lua_setfield(L, -2, "__index");
  lua_setmetatable(L, -2);
  lua_setfield(L, -2, "curl_kind");
  CV_ERRORS(CV_ERR_SKIP2, CV_ERR_SKIP2, CV_ERR_SKIP3, CV_ERR_SKIP1,
            CV_ERR_SKIP2, OTHER)
  lua_setfield(L, -2, "curl_other");
#undef STATUS
#undef RANGE
#undef OTHER
#undef CURL
}

void cv_error_open(lua_State *L) {
  static const luaL_Reg funcs[] = {{"error", l_error},
                                   {"is_error", l_is_error},
                                   {"error_for_status", l_error_for_status},
                                   {NULL, NULL}};
  luaL_setfuncs(L, funcs, 0);
  push_errors(L);
  lua_setfield(L, -2, "errors");
  luaL_newmetatable(L, CV_ERROR_MT);
  lua_pushcfunction(L, l_error_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_setfield(L, -2, "error_mt");
}
