/*
** compat.h - the one place where Lua versions differ.
**
** convai.core is compiled from the same sources against Lua 5.4 and against
** the Lua 5.1 ABI (LuaJIT 2.1, or plain Lua 5.1).  The rest of the code is
** written against the Lua 5.4 C API; this header supplies the 5.2+/5.4
** functions the code uses when building for 5.1, in the style of
** lua-compat-5.3: static inline implementations with a private prefix and a
** macro redirecting the standard name (so a declaration that LuaJIT already
** has, e.g. luaL_setfuncs, does not clash with ours).
**
** Rule: no other file tests LUA_VERSION_NUM.  Code that needs to know about
** integers asks CV_HAS_INTEGERS.
*/
#ifndef CONVAI_COMPAT_H
#define CONVAI_COMPAT_H

#include <stddef.h>

#include "lua.h"
#include "lauxlib.h"

#if !defined(LUA_VERSION_NUM) || LUA_VERSION_NUM < 501
#error "convai needs Lua 5.1 (LuaJIT 2.1) or Lua 5.4"
#endif

#if LUA_VERSION_NUM >= 503
/* Lua 5.3+: numbers have an integer subtype. */
#define CV_HAS_INTEGERS 1
#else
#define CV_HAS_INTEGERS 0
#endif

/* -------------------------------------------------------------------- */
#if LUA_VERSION_NUM == 501

#ifndef LUA_OK
#define LUA_OK 0
#endif

/* Largest magnitude for which every integer is exactly a double. */
#define CV_COMPAT_MAXSAFE 9007199254740992.0

#define lua_absindex(L, i) cv_compat_absindex(L, i)
static inline int cv_compat_absindex(lua_State *L, int i) {
  return (i > 0 || i <= LUA_REGISTRYINDEX) ? i : lua_gettop(L) + i + 1;
}

#define lua_rawlen(L, i) lua_objlen(L, i)

/* 5.1 userdata have an environment table instead of user values; convai
** uses none, so the count is ignored. */
#define lua_newuserdatauv(L, sz, nuv) ((void)(nuv), lua_newuserdata(L, sz))

/* No integer subtype: a number "is an integer" when it is integral and
** exactly representable (|n| <= 2^53). */
#define lua_isinteger(L, i) cv_compat_isinteger(L, i)
static inline int cv_compat_isinteger(lua_State *L, int i) {
  lua_Number n;
  if (lua_type(L, i) != LUA_TNUMBER) return 0;
  n = lua_tonumber(L, i);
  if (!(n >= -CV_COMPAT_MAXSAFE && n <= CV_COMPAT_MAXSAFE)) return 0;
  return n == (lua_Number)(long long)n;
}

#undef luaL_setfuncs
#define luaL_setfuncs(L, l, nup) cv_compat_setfuncs(L, l, nup)
static inline void cv_compat_setfuncs(lua_State *L, const luaL_Reg *l,
                                      int nup) {
  luaL_checkstack(L, nup + 1, "too many upvalues");
  for (; l->name != NULL; l++) {
    int i;
    for (i = 0; i < nup; i++) lua_pushvalue(L, -nup);
    lua_pushcclosure(L, l->func, nup);
    lua_setfield(L, -(nup + 2), l->name);
  }
  lua_pop(L, nup);
}

#undef luaL_newlibtable
#define luaL_newlibtable(L, l) \
  lua_createtable(L, 0, (int)(sizeof(l) / sizeof((l)[0]) - 1))
#undef luaL_newlib
#define luaL_newlib(L, l) (luaL_newlibtable(L, l), luaL_setfuncs(L, l, 0))

#undef luaL_setmetatable
#define luaL_setmetatable(L, tname) cv_compat_setmetatable(L, tname)
static inline void cv_compat_setmetatable(lua_State *L, const char *tname) {
  luaL_getmetatable(L, tname);
  lua_setmetatable(L, -2);
}

#undef luaL_testudata
#define luaL_testudata(L, i, tname) cv_compat_testudata(L, i, tname)
static inline void *cv_compat_testudata(lua_State *L, int i,
                                        const char *tname) {
  void *p = lua_touserdata(L, i);
  if (p == NULL || !lua_getmetatable(L, i)) return NULL;
  luaL_getmetatable(L, tname);
  if (!lua_rawequal(L, -1, -2)) p = NULL;
  lua_pop(L, 2);
  return p;
}

#define luaL_typeerror(L, arg, tname) cv_compat_typeerror(L, arg, tname)
static inline int cv_compat_typeerror(lua_State *L, int arg,
                                      const char *tname) {
  const char *msg = lua_pushfstring(L, "%s expected, got %s", tname,
                                    luaL_typename(L, arg));
  return luaL_argerror(L, arg, msg);
}

#endif /* LUA_VERSION_NUM == 501 */
/* -------------------------------------------------------------------- */

#ifndef luaL_pushfail /* 5.4 names the "failure" value; before it was nil */
#define luaL_pushfail(L) lua_pushnil(L)
#endif

#endif /* CONVAI_COMPAT_H */
