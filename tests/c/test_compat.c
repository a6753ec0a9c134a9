/*
** test_compat.c - the compat.h layer in a real lua_State.
**
** Built twice, against Lua 5.4 and against LuaJIT (Lua 5.1 ABI), so every
** function compat.h provides or passes through is exercised on both.
*/
#include <string.h>

#include "check.h"
#include "compat.h"
#include "lualib.h"

static int l_upvalue(lua_State *L) {
  lua_pushvalue(L, lua_upvalueindex(1));
  return 1;
}

static int l_answer(lua_State *L) {
  lua_pushinteger(L, 42);
  return 1;
}

static int l_typeerror(lua_State *L) {
  return luaL_typeerror(L, 1, "string");
}

static void test_indices(lua_State *L) {
  int top = lua_gettop(L);
  lua_pushinteger(L, 1);
  lua_pushinteger(L, 2);
  CHECK_INT(lua_absindex(L, -1), top + 2);
  CHECK_INT(lua_absindex(L, -2), top + 1);
  CHECK_INT(lua_absindex(L, 1), 1);
  CHECK_INT(lua_absindex(L, LUA_REGISTRYINDEX), LUA_REGISTRYINDEX);
  CHECK(lua_absindex(L, lua_upvalueindex(1)) == lua_upvalueindex(1));
  lua_settop(L, top);
}

static void test_rawlen(lua_State *L) {
  luaL_dostring(L, "return {10, 20, 30}, 'hello', {}");
  CHECK_INT(lua_rawlen(L, -3), 3);
  CHECK_INT(lua_rawlen(L, -2), 5);
  CHECK_INT(lua_rawlen(L, -1), 0);
  lua_pop(L, 3);
}

static void test_userdata(lua_State *L) {
  int *p = (int *)lua_newuserdatauv(L, sizeof(int) * 4, 0);
  int *q;
  CHECK(p != NULL);
  p[0] = 7;
  p[3] = 9;
  CHECK(lua_type(L, -1) == LUA_TUSERDATA);
  CHECK_INT(lua_rawlen(L, -1), sizeof(int) * 4);

  CHECK(luaL_newmetatable(L, "convai.test.a"));
  lua_pop(L, 1);
  CHECK(luaL_newmetatable(L, "convai.test.b"));
  lua_pop(L, 1);
  luaL_setmetatable(L, "convai.test.a");
  q = (int *)luaL_testudata(L, -1, "convai.test.a");
  CHECK(q == p && q[0] == 7 && q[3] == 9);
  CHECK(luaL_testudata(L, -1, "convai.test.b") == NULL);
  CHECK(luaL_testudata(L, -1, "convai.test.none") == NULL);
  lua_newtable(L);
  CHECK(luaL_testudata(L, -1, "convai.test.a") == NULL); /* a table */
  lua_pop(L, 1);
  lua_pushinteger(L, 1);
  CHECK(luaL_testudata(L, -1, "convai.test.a") == NULL);
  lua_pop(L, 1);
  lua_newuserdatauv(L, 1, 0); /* no metatable */
  CHECK(luaL_testudata(L, -1, "convai.test.a") == NULL);
  lua_pop(L, 2);
}

static void test_setfuncs(lua_State *L) {
  static const luaL_Reg funcs[] = {{"up", l_upvalue}, {"up2", l_upvalue},
                                   {NULL, NULL}};
  static const luaL_Reg lib[] = {{"answer", l_answer}, {NULL, NULL}};
  int top = lua_gettop(L);
  lua_newtable(L);
  lua_pushliteral(L, "shared");
  luaL_setfuncs(L, funcs, 1);
  CHECK_INT(lua_gettop(L), top + 1); /* upvalue popped */
  lua_getfield(L, -1, "up2");
  lua_call(L, 0, 1);
  CHECK_STR(lua_tostring(L, -1), "shared");
  lua_pop(L, 2);

  luaL_newlib(L, lib);
  CHECK(lua_istable(L, -1));
  lua_getfield(L, -1, "answer");
  lua_call(L, 0, 1);
  CHECK_INT(lua_tointeger(L, -1), 42);
  lua_pop(L, 2);
  CHECK_INT(lua_gettop(L), top);
}

static void test_integers(lua_State *L) {
  luaL_dostring(L, "return 3, 3.5, 'x', 2^60, -0.0, 2^53, 1e300, 0/0");
  CHECK(lua_isinteger(L, 1));
  CHECK(!lua_isinteger(L, 2));
  CHECK(!lua_isinteger(L, 3));
  CHECK(!lua_isinteger(L, 4));   /* a float on 5.4; beyond 2^53 on 5.1 */
  CHECK(!lua_isinteger(L, 7));
  CHECK(!lua_isinteger(L, 8));   /* NaN */
  /* CV_HAS_INTEGERS agrees with the running Lua (math.type is 5.3+) */
  luaL_dostring(L, "return math.type ~= nil");
  CHECK_INT(CV_HAS_INTEGERS, lua_toboolean(L, -1));
  lua_pop(L, 1);
  if (CV_HAS_INTEGERS) {
    CHECK(!lua_isinteger(L, 5)); /* floats are floats on 5.4 */
    CHECK(!lua_isinteger(L, 6));
  } else {
    CHECK(lua_isinteger(L, 5));  /* integral doubles count on 5.1 */
    CHECK(lua_isinteger(L, 6));
  }
  lua_settop(L, 0);
  lua_pushinteger(L, 123456789);
  CHECK(lua_isinteger(L, -1));
  CHECK_INT(lua_tointeger(L, -1), 123456789);
  lua_settop(L, 0);
}

static void test_errors(lua_State *L) {
  CHECK_INT(LUA_OK, 0);
  luaL_pushfail(L);
  CHECK(lua_isnil(L, -1));
  lua_pop(L, 1);
  lua_pushcfunction(L, l_typeerror);
  lua_pushinteger(L, 5);
  CHECK(lua_pcall(L, 1, 0, 0) != LUA_OK);
  CHECK_HAS(lua_tostring(L, -1), "bad argument #1");
  CHECK_HAS(lua_tostring(L, -1), "string expected, got number");
  lua_pop(L, 1);
}

int main(void) {
  lua_State *L = luaL_newstate();
  if (L == NULL) return 1;
  luaL_openlibs(L);
  test_indices(L);
  test_rawlen(L);
  test_userdata(L);
  test_setfuncs(L);
  test_integers(L);
  test_errors(L);
  CHECK_INT(lua_gettop(L), 0);
  lua_close(L);
  return check_done(CV_HAS_INTEGERS ? "compat_lua54" : "compat_lua51");
}
