/*
** lerror.c - convai error objects (see lerror.h).
*/
/*** @module convai.core */

/*** Errors.
Every failure convai reports is a value, not a raised error: the function
returns `nil` and an error object, a table with the metatable `error_mt` and
these fields:

 - `kind` (string): one of the kinds below;
 - `message` (string): what went wrong and, where it helps, how to fix it;
 - depending on where the error comes from: `status` (integer HTTP status),
   `retry_after` (integer seconds, from `Retry-After`, see `retry_after`),
   `body` (the decoded body of an HTTP error), `curl_code` (integer libcurl
   code) and `request_sent` (boolean), see `session:request`.

The kinds, a fixed set:

 - `invalid_argument`: bad input, found before anything was sent;
 - `auth` (HTTP 401, 403), `not_found` (404), `rate_limited` (429),
   `unprocessable` (400, 409, 422), `server` (5xx), `http` (any other
   non-2xx): see `error_for_status`;
 - `timeout`, `network`, `tls`: the transfer failed, see `session:request`;
 - `decode`: a response is not JSON or not the documented shape (made by the
   Lua clients);
 - `too_large`: a response over the session's `max_body`, or headers over
   256 KiB;
 - `journal`: a campaign journal cannot be read, written or used (another
   campaign's, or in use by another run), see `convai.campaign`;
 - `internal`: a Lua error raised inside a batch or campaign task (a bug),
   caught so that the other tasks go on.
@section errors
*/

#include <stdio.h>
#include <string.h>

#include "lerror.h"
#include "status.h"

static const char *const kinds[] = {
    "invalid_argument", "auth",    "not_found", "rate_limited",
    "unprocessable",    "server",  "http",      "timeout",
    "network",          "tls",     "decode",    "too_large",
    "journal",          "internal", NULL};

int cv_error_kind_valid(const char *kind) {
  int i;
  for (i = 0; kinds[i] != NULL; i++)
    if (strcmp(kind, kinds[i]) == 0) return 1;
  return 0;
}

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

/*** Make an error object.
@function error
@tparam string kind one of the kinds above, exactly (lower case)
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
  if (!cv_error_kind_valid(kind))
    return luaL_argerror(
        L, 1,
        lua_pushfstring(L, "unknown error kind '%s' (expected one of "
                           "invalid_argument, auth, not_found, rate_limited, "
                           "unprocessable, server, http, timeout, network, "
                           "tls, decode, too_large, journal, internal)",
                           kind));
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
mapping used by the C core and the Lua clients.
401 and 403 are `auth`; 404 `not_found`; 429 `rate_limited`; 400, 409 and
422 `unprocessable`; 500 to 599 `server`; any other code outside 200 to 299
(1xx, 3xx, the other 4xx, out-of-range numbers) `http`.
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

void cv_error_open(lua_State *L) {
  static const luaL_Reg funcs[] = {{"error", l_error},
                                   {"is_error", l_is_error},
                                   {"error_for_status", l_error_for_status},
                                   {NULL, NULL}};
  luaL_setfuncs(L, funcs, 0);
  luaL_newmetatable(L, CV_ERROR_MT);
  lua_pushcfunction(L, l_error_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_setfield(L, -2, "error_mt");
}
