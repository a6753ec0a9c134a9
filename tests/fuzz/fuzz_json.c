/*
** fuzz_json.c - JSON result normalisation (src/ljson.c) in a real Lua 5.4
** state: core.json_decode of arbitrary bytes (the core's decoder against
** lua-cjson + normalisation: the differential harness of issue 14), a
** json_decoder of the Avaamo shape on the same bytes, then
** core.json_encode and json_decode again.  The properties are written in Lua, in json_check.lua
** (beside this file; its path is compiled in as FUZZ_JSON_CHECK, or given
** by $CONVAI_FUZZ_JSON_CHECK): agreement with plain cjson.safe, nulls
** removed, integral numbers as integers, and round trips that keep values
** and types.  cjson.safe is Debian's lua-cjson, found on package.cpath.
*/
#include <string.h>

#include "compat.h"
#include "fuzz.h"
#include "lfieldcheck.h"
#include "ljson.h"
#include "ljsondecoder.h"
#include "lualib.h"

static lua_State *L;
static int runs;

/* Stack after init: 1 the check function, 2 the json table (core). */
static void init(void) {
  const char *path = getenv("CONVAI_FUZZ_JSON_CHECK");
  L = luaL_newstate();
  if (L == NULL) abort();
  luaL_openlibs(L);
  if (path == NULL || *path == '\0') path = FUZZ_JSON_CHECK;
  if (luaL_loadfile(L, path) != LUA_OK) {
    fprintf(stderr, "fuzz_json: %s\n", lua_tostring(L, -1));
    abort();
  }
  lua_newtable(L);
  cv_json_open(L);
  cv_fieldcheck_open(L);
  cv_jsondecoder_open(L);
  lua_pushvalue(L, -1);
  lua_insert(L, 1); /* core, chunk, core */
  lua_getglobal(L, "require");
  lua_pushliteral(L, "cjson.safe");
  lua_call(L, 1, 1); /* core, chunk, core, cjson.safe */
  if (lua_pcall(L, 2, 1, 0) != LUA_OK) {
    fprintf(stderr, "fuzz_json: %s\n", lua_tostring(L, -1));
    abort();
  }
  lua_insert(L, 1); /* check, core */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (L == NULL) init();
  lua_settop(L, 2);
  lua_pushvalue(L, 1);
  lua_pushlstring(L, (const char *)data, size);
  if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
    fprintf(stderr, "fuzz_json: property failed: %s\n  input: %.*s\n",
            lua_tostring(L, -1), (int)(size > 300 ? 300 : size),
            (const char *)data);
    abort();
  }
  if (++runs % 1000 == 0) lua_gc(L, LUA_GCCOLLECT, 0);
  return 0;
}
