/*
** test_json.c - JSON normalisation of the built convai.core module, in a
** real lua_State, checked through the C API (lua_isinteger = math.type).
**
** Usage: test_json "<build>/<flavour>/?.so"  (the module's cpath entry).
** Built against Lua 5.4 (integers expected) and LuaJIT (numbers stay
** numbers).
*/
#include <string.h>

#include "check.h"
#include "compat.h"
#include "luacore.h"

static lua_State *L;
static int core; /* stack index of the module table */

/* Call core.<fn>(arg) with nret results left on the stack. */
static void call(const char *fn, int nret) {
  lua_getfield(L, core, fn);
  lua_insert(L, -2);
  if (lua_pcall(L, 1, nret, 0) != LUA_OK) {
    CHECK_AT(0, __FILE__, __LINE__, "%s raised: %s", fn,
             lua_tostring(L, -1));
    lua_pop(L, 1);
    while (nret-- > 0) lua_pushnil(L);
  }
}

static void decode(const char *text) {
  lua_pushstring(L, text);
  call("json_decode", 2);
}

/* Field f of the table on top must be an integer (5.4) / number (5.1)
** equal to v. */
static void check_int_field(const char *f, long long v, int line) {
  lua_getfield(L, -1, f);
  CHECK_AT(lua_type(L, -1) == LUA_TNUMBER &&
               (!CV_HAS_INTEGERS || lua_isinteger(L, -1)) &&
               (long long)lua_tonumber(L, -1) == v,
           __FILE__, line, "field %s: %s %g, expected integer %lld", f,
           luaL_typename(L, -1), (double)lua_tonumber(L, -1), v);
  lua_pop(L, 1);
}

static void check_float_field(const char *f, double v, int line) {
  lua_getfield(L, -1, f);
  CHECK_AT(lua_type(L, -1) == LUA_TNUMBER && !lua_isinteger(L, -1) &&
               lua_tonumber(L, -1) == v,
           __FILE__, line, "field %s: %s %g, expected float %g", f,
           luaL_typename(L, -1), (double)lua_tonumber(L, -1), v);
  lua_pop(L, 1);
}

static void test_decode(void) {
  decode("{\"a\":1,\"b\":2.5,\"c\":null,\"d\":[1,null,3],"
         "\"e\":{\"f\":-0,\"g\":null},\"exp\":1e3,\"neg\":-42,"
         "\"max\":9007199254740992,\"min\":-9007199254740992,"
         "\"big\":1e16,\"s\":\"1\",\"t\":true}");
  CHECK(lua_isnil(L, -1)); /* no message */
  lua_pop(L, 1);
  CHECK(lua_istable(L, -1));
  check_int_field("a", 1, __LINE__);
  check_float_field("b", 2.5, __LINE__);
  lua_getfield(L, -1, "c");
  CHECK(lua_isnil(L, -1)); /* null is gone, not cjson.null */
  lua_pop(L, 1);
  check_int_field("exp", 1000, __LINE__);
  check_int_field("neg", -42, __LINE__);
  check_int_field("max", 9007199254740992LL, __LINE__);
  check_int_field("min", -9007199254740992LL, __LINE__);
  if (CV_HAS_INTEGERS) check_float_field("big", 1e16, __LINE__);
  lua_getfield(L, -1, "s");
  CHECK(lua_type(L, -1) == LUA_TSTRING);
  lua_pop(L, 1);
  lua_getfield(L, -1, "t");
  CHECK(lua_type(L, -1) == LUA_TBOOLEAN && lua_toboolean(L, -1));
  lua_pop(L, 1);

  lua_getfield(L, -1, "d"); /* [1, null, 3]: a hole, positions kept */
  lua_rawgeti(L, -1, 1);
  CHECK(lua_isinteger(L, -1) && lua_tointeger(L, -1) == 1);
  lua_rawgeti(L, -2, 2);
  CHECK(lua_isnil(L, -1));
  lua_rawgeti(L, -3, 3);
  CHECK(lua_isinteger(L, -1) && lua_tointeger(L, -1) == 3);
  lua_pop(L, 4);

  lua_getfield(L, -1, "e");
  check_int_field("f", 0, __LINE__);
  lua_getfield(L, -1, "g");
  CHECK(lua_isnil(L, -1));
  lua_pop(L, 2);
  {
    int n = 0; /* e has exactly one key left */
    lua_getfield(L, -1, "e");
    lua_pushnil(L);
    while (lua_next(L, -2)) {
      n++;
      lua_pop(L, 1);
    }
    CHECK_INT(n, 1);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);

  /* scalars at the top level */
  decode("5");
  lua_pop(L, 1);
  CHECK(lua_type(L, -1) == LUA_TNUMBER && lua_isinteger(L, -1) &&
        lua_tointeger(L, -1) == 5);
  lua_pop(L, 1);
  decode("0.5");
  lua_pop(L, 1);
  CHECK(lua_type(L, -1) == LUA_TNUMBER && !lua_isinteger(L, -1));
  lua_pop(L, 1);
  decode("null");
  CHECK(lua_isnil(L, -1) && lua_isnil(L, -2));
  lua_pop(L, 2);

  /* nested deeply (within cjson's limit) */
  {
    char deep[2 * 900 + 2];
    memset(deep, '[', 900);
    deep[900] = '7';
    memset(deep + 901, ']', 900);
    deep[1801] = '\0';
    decode(deep);
    CHECK(lua_isnil(L, -1));
    CHECK(lua_istable(L, -2));
    lua_pop(L, 2);
  }

  /* errors are values */
  static const char *const bad[] = {"{", "[1,2", "{\"a\":}", "", "nul",
                                    "NaN", "Infinity", "0x10", "[1]x",
                                    NULL};
  {
    int i;
    for (i = 0; bad[i] != NULL; i++) {
      decode(bad[i]);
      CHECK_AT(lua_isnil(L, -2) && lua_type(L, -1) == LUA_TSTRING,
               __FILE__, __LINE__, "decoding '%s' did not fail", bad[i]);
      if (lua_type(L, -1) == LUA_TSTRING)
        CHECK_HAS(lua_tostring(L, -1), "invalid JSON");
      lua_pop(L, 2);
    }
  }
}

/* Run a Lua chunk that gets `core` and must return true; report msg. */
static void lua_check(const char *chunk, int line) {
  int ok = luaL_loadstring(L, chunk) == LUA_OK;
  if (ok) {
    lua_pushvalue(L, core);
    ok = lua_pcall(L, 1, 1, 0) == LUA_OK;
  }
  CHECK_AT(ok && lua_toboolean(L, -1), __FILE__, line, "%s -> %s", chunk,
           lua_isstring(L, -1) ? lua_tostring(L, -1)
                               : luaL_typename(L, -1));
  lua_pop(L, 1);
}

static void test_encode(void) {
  lua_check("local c = ... return c.json_encode(c.array()) == '[]'",
            __LINE__);
  lua_check("local c = ... return c.json_encode({}) == '{}'", __LINE__);
  lua_check("local c = ... return c.json_encode({list = c.array({})}) == "
            "'{\"list\":[]}'", __LINE__);
  lua_check("local c = ... return c.json_encode(c.array{1, 2}) == '[1,2]'",
            __LINE__);
  lua_check("local c = ... return c.json_encode({c.array(), {c.array()}}) "
            "== '[[],[[]]]'", __LINE__);
  lua_check("local c = ... local t = {a = c.array()} c.json_encode(t) "
            "return getmetatable(t.a) == c.array_mt and next(t.a) == nil",
            __LINE__);
  lua_check("local c = ... return c.json_encode({n = 123456789012345}) "
            "== '{\"n\":123456789012345}'", __LINE__);
  lua_check("local c = ... return c.json_encode(2^53) == "
            "'9007199254740992'", __LINE__);
  lua_check("local c = ... return c.json_encode(0.1 + 0.2) == "
            "'0.30000000000000004'", __LINE__);
  lua_check("local c = ... return c.json_encode({0.1, 0.5, 42, -7}) == "
            "'[0.1,0.5,42,-7]'", __LINE__);
  lua_check("local c = ... local s = '~cvjson' return "
            "c.json_encode({s, c.array()}) == '[\"~cvjson\",[]]'", __LINE__);
  lua_check("local c = ... local v, e = c.json_encode({f = print}) return "
            "v == nil and e:find('cannot encode JSON', 1, true) ~= nil",
            __LINE__);
  lua_check("local c = ... local t = {} t.self = t local v, e = "
            "c.json_encode(t) return v == nil and type(e) == 'string'",
            __LINE__);
  lua_check("local c = ... local v, e = c.json_encode(0/0) return "
            "v == nil and type(e) == 'string'", __LINE__);
  lua_check("local c = ... local big = {} for i = 1, 1000 do big[i] = "
            "{id = 1e15 + i, tags = c.array()} end local s = "
            "c.json_encode(big) local back = c.json_decode(s) return "
            "#back == 1000 and back[1000].id == 1e15 + 1000 and "
            "type(back[7].tags) == 'table' and s:find('\"tags\":[]', 1, "
            "true) ~= nil", __LINE__);
  lua_check("local c = ... local ok = pcall(c.array, setmetatable({}, {})) "
            "return not ok", __LINE__);
}

int main(int argc, char **argv) {
  L = luacore_open(argc, argv);
  if (L == NULL) return argc < 2 ? 2 : 1;
  core = lua_gettop(L);
  test_decode();
  test_encode();
  CHECK_INT(lua_gettop(L), core);
  lua_close(L);
  return check_done(CV_HAS_INTEGERS ? "json_lua54" : "json_lua51");
}
