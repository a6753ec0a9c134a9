/*
** lfieldcheck.c - core.field_checker: one call that tells whether the
** fields of decoded JSON objects have the types a client expects (see
** lfieldcheck.h).  The checker is a C closure over the field names (an
** array) and their types (a string, one letter per field), so a check is
** a loop of rawgets with no Lua call.
*/
/*** @module convai.core */

/*** Response shapes.
The clients check that a vendor's response has the documented shape before
they use it; `field_checker` makes that check cheap in the common case.
@section shapes
*/

#include <string.h>

#include "lfieldcheck.h"

/*** Make a fast check of the types of a decoded object's fields.
For the clients' checks of the documented shape of a response: the
returned function tells, in one call, whether every field listed has its
type, so that the common case (the vendor sent what it documents) costs
little; when it says no, the caller finds out which field is wrong and how
(and makes its message) the slow way. Fields are read with `rawget`.
@function field_checker
@tparam table fields an array of `{name, type}`: `name` a string, `type`
one of `"integer"` (a Lua integer; on LuaJIT an integral number within
+-2^53), `"number"`, `"number?"` (a number or nil), `"float?"` (a number or
nil, and an integer found there is made a float in place: for a vendor's
decimal field that `json_decode` made an integer because its value was
integral), `"string"`, `"boolean"`, `"table"`
@treturn function `check(t, ...)`: true when `t` (and each further
argument) is a table whose every listed field has its type, else false
(never raises). The `"float?"` conversions are made only when every table
passes: on false, no table has been changed
@raise if `fields` is not such an array
@usage local ok_usage = core.field_checker {
  { "current_usage", "integer" }, { "limit_exhausted", "boolean" } }
if not ok_usage(bi) then ... find the field at fault ... end
*/
/* upvalues: 1 the names (an array), 2 the kinds (a string, one letter
** per field) */
static int l_field_check(lua_State *L) {
  size_t n, i;
  int a, top = lua_gettop(L), floats = 0;
  const char *kinds = lua_tolstring(L, lua_upvalueindex(2), &n);
  if (top == 0) top = 1; /* check() is check(nil) */
  for (a = 1; a <= top; a++) {
    if (lua_type(L, a) != LUA_TTABLE) {
      lua_pushboolean(L, 0);
      return 1;
    }
    for (i = 0; i < n; i++) {
      int t, ok;
      lua_rawgeti(L, lua_upvalueindex(1), (int)i + 1);
      lua_rawget(L, a);
      t = lua_type(L, -1);
      switch (kinds[i]) {
        case 'i': ok = t == LUA_TNUMBER && lua_isinteger(L, -1); break;
        case 'n': ok = t == LUA_TNUMBER; break;
        case 'o': ok = t == LUA_TNUMBER || t == LUA_TNIL; break;
        case 'f':
          ok = t == LUA_TNUMBER || t == LUA_TNIL;
          if (CV_HAS_INTEGERS && t == LUA_TNUMBER && lua_isinteger(L, -1))
            floats = 1;
          break;
        case 's': ok = t == LUA_TSTRING; break;
        case 'b': ok = t == LUA_TBOOLEAN; break;
        default: ok = t == LUA_TTABLE; break;
      }
      lua_settop(L, top);
      if (!ok) {
        lua_pushboolean(L, 0);
        return 1;
      }
    }
  }
  /* Every table passed: now (and only now) make the integers of "float?"
  ** fields floats. */
  for (a = 1; floats && a <= top; a++) {
    for (i = 0; i < n; i++) {
      if (kinds[i] != 'f') continue;
      lua_rawgeti(L, lua_upvalueindex(1), (int)i + 1); /* the name */
      lua_pushvalue(L, -1);
      lua_rawget(L, a);
      if (lua_isinteger(L, -1)) {
        lua_Number v = (lua_Number)lua_tointeger(L, -1);
        lua_pop(L, 1);
        lua_pushnumber(L, v);
        lua_rawset(L, a);
      }
      lua_settop(L, top);
    }
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* core.field_checker(fields) -> check */
static int l_field_checker(lua_State *L) {
  static const char *const names[] = {"integer", "number", "number?",
                                      "float?",  "string", "boolean",
                                      "table",   NULL};
  static const char codes[] = "inofsbt";
  luaL_Buffer b;
  int i, n;
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  n = (int)lua_rawlen(L, 1);
  lua_createtable(L, n, 0); /* 2: names */
  luaL_buffinit(L, &b);
  for (i = 1; i <= n; i++) {
    int k;
    const char *kind;
    lua_rawgeti(L, 1, i);
    if (lua_type(L, -1) != LUA_TTABLE)
      luaL_argerror(L, 1, lua_pushfstring(L, "entry %d must be a table "
                                             "{name, type}", i));
    lua_rawgeti(L, -1, 1);
    if (lua_type(L, -1) != LUA_TSTRING)
      luaL_argerror(L, 1, lua_pushfstring(L, "entry %d: the name must be "
                                             "a string", i));
    lua_rawseti(L, 2, i);
    lua_rawgeti(L, -1, 2);
    kind = lua_tostring(L, -1);
    for (k = 0; kind != NULL && lua_type(L, -1) == LUA_TSTRING &&
                names[k] != NULL; k++)
      if (strcmp(kind, names[k]) == 0) break;
    if (kind == NULL || lua_type(L, -1) != LUA_TSTRING || names[k] == NULL)
      luaL_argerror(L, 1, lua_pushfstring(L, "entry %d: the type must be "
                         "integer, number, number?, float?, string, "
                         "boolean or table", i));
    lua_pop(L, 2);
    luaL_addchar(&b, codes[k]);
  }
  luaL_pushresult(&b); /* 3: kinds */
  lua_pushcclosure(L, l_field_check, 2);
  return 1;
}

void cv_fieldcheck_open(lua_State *L) {
  lua_pushcfunction(L, l_field_checker);
  lua_setfield(L, -2, "field_checker");
}
