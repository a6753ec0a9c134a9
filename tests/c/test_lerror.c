/*
** test_lerror.c - the error objects and the export of the error table
** (lerror.c) in the built convai.core module, in a real lua_State: every
** field of core.errors agrees with the C lookups (errors.c) and with the
** table itself (errors.h, expanded here once more).
**
** Usage: test_lerror "<build>/<flavour>/?.so"  (the module's cpath entry).
*/
#include <string.h>

#include <curl/curl.h>

#include "check.h"
#include "compat.h"
#include "errors.h"
#include "luacore.h"

static lua_State *L;
static int core;   /* stack index of the module table */
static int errors; /* stack index of core.errors */

/* The string at idx, or NULL when it is not a string. */
static const char *str(int idx) {
  return lua_type(L, idx) == LUA_TSTRING ? lua_tostring(L, idx) : NULL;
}

/* Both NULL, or both the same string. */
static int same(const char *a, const char *b) {
  return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static void test_kinds(void) {
  int i;
  lua_getfield(L, errors, "kinds");
  lua_getfield(L, errors, "about");
  CHECK_INT(lua_rawlen(L, -2), CV_KIND_COUNT);
  for (i = 0; i < CV_KIND_COUNT; i++) {
    lua_rawgeti(L, -2, i + 1);
    CHECK_STR(str(-1), cv_kind_names[i]);
    lua_getfield(L, -2, cv_kind_names[i]);
    CHECK_STR(str(-1), cv_kind_about[i]);
    lua_pop(L, 2);
    /* core.error accepts it */
    lua_getfield(L, core, "error");
    lua_pushstring(L, cv_kind_names[i]);
    lua_pushliteral(L, "m");
    CHECK(lua_pcall(L, 2, 1, 0) == LUA_OK);
    lua_getfield(L, -1, "kind");
    CHECK_STR(str(-1), cv_kind_names[i]);
    lua_pop(L, 2);
  }
  lua_pop(L, 2);
  /* an unknown kind raises, naming every kind in the table's order */
  lua_getfield(L, core, "error");
  lua_pushliteral(L, "bogus");
  lua_pushliteral(L, "m");
  CHECK(lua_pcall(L, 2, 1, 0) != LUA_OK);
  CHECK_HAS(str(-1), "unknown error kind 'bogus' (expected one of "
                     "invalid_argument, auth, not_found, rate_limited, "
                     "unprocessable, server, http, timeout, network, tls, "
                     "decode, too_large, journal, store, internal)");
  lua_pop(L, 1);
}

/* core.errors.status_kind(s) and core.error_for_status(s) are
** cv_status_kind(s) for every status, in range or not. */
static void test_status(void) {
  long s;
  int bad = 0;
  lua_getfield(L, errors, "status_kind");
  lua_getfield(L, core, "error_for_status");
  CHECK(lua_rawequal(L, -1, -2));
  lua_pop(L, 1);
  for (s = -5; s <= 1100 && bad < 5; s++) {
    lua_pushvalue(L, -1);
    lua_pushinteger(L, s);
    CHECK(lua_pcall(L, 1, 1, 0) == LUA_OK);
    if (!same(str(-1), cv_status_kind(s))) {
      CHECK_AT(0, __FILE__, __LINE__, "status %ld: %s, expected %s", s,
               str(-1) ? str(-1) : "nil",
               cv_status_kind(s) ? cv_status_kind(s) : "nil");
      bad++;
    }
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  CHECK_INT(bad, 0);

#define STATUS(kind, code)         \
  lua_rawgeti(L, -1, code);        \
  CHECK_STR(str(-1), #kind);       \
  lua_pop(L, 1);
  lua_getfield(L, errors, "status");
  CV_ERRORS(CV_ERR_SKIP2, STATUS, CV_ERR_SKIP3, CV_ERR_SKIP1, CV_ERR_SKIP2,
            CV_ERR_SKIP1)
  lua_pop(L, 1);
#undef STATUS
#define OTHER(kind) CHECK_STR(str(-1), #kind);
  lua_getfield(L, errors, "status_other");
  CV_ERRORS(CV_ERR_SKIP2, CV_ERR_SKIP2, CV_ERR_SKIP3, OTHER, CV_ERR_SKIP2,
            CV_ERR_SKIP1)
  lua_pop(L, 1);
  lua_getfield(L, errors, "curl_other");
  CV_ERRORS(CV_ERR_SKIP2, CV_ERR_SKIP2, CV_ERR_SKIP3, CV_ERR_SKIP1,
            CV_ERR_SKIP2, OTHER)
  lua_pop(L, 1);
#undef OTHER
}

/* core.errors.curl names each code of the table with libcurl's value, and
** core.errors.curl_kind[code] is cv_curl_kind(code) for every code. */
static void test_curl(void) {
  int code, n = 0;
  lua_getfield(L, errors, "curl");
#define CURL(kind, name)                                               \
  lua_getfield(L, -1, #name);                                          \
  CHECK_AT(lua_isinteger(L, -1) && lua_tointeger(L, -1) == CURLE_##name, \
           __FILE__, __LINE__, "errors.curl.%s", #name);               \
  lua_pop(L, 1);                                                       \
  n++;
  CV_ERRORS(CV_ERR_SKIP2, CV_ERR_SKIP2, CV_ERR_SKIP3, CV_ERR_SKIP1, CURL,
            CV_ERR_SKIP1)
#undef CURL
  {
    int count = 0; /* and nothing else */
    lua_pushnil(L);
    while (lua_next(L, -2)) {
      count++;
      lua_pop(L, 1);
    }
    CHECK_INT(count, n);
  }
  lua_pop(L, 1);
  lua_getfield(L, errors, "curl_kind");
  for (code = 0; code <= CURL_LAST + 10; code++) {
    lua_pushinteger(L, code);
    lua_gettable(L, -2);
    CHECK_AT(same(str(-1), cv_curl_kind(code)), __FILE__, __LINE__,
             "curl_kind[%d]: %s", code, str(-1) ? str(-1) : "nil");
    lua_pop(L, 1);
  }
  lua_pushinteger(L, -1);
  lua_gettable(L, -2);
  CHECK(lua_isnil(L, -1));
  lua_pushliteral(L, "7");
  lua_gettable(L, -3);
  CHECK(lua_isnil(L, -1));
  lua_pop(L, 3);
}

int main(int argc, char **argv) {
  L = luacore_open(argc, argv);
  if (L == NULL) return argc < 2 ? 2 : 1;
  core = lua_gettop(L);
  lua_getfield(L, core, "errors");
  errors = lua_gettop(L);
  CHECK(lua_istable(L, errors));
  if (lua_istable(L, errors)) {
    test_kinds();
    test_status();
    test_curl();
  }
  CHECK_INT(lua_gettop(L), errors);
  lua_close(L);
  return check_done(CV_HAS_INTEGERS ? "lerror_lua54" : "lerror_lua51");
}
