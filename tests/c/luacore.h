/*
** luacore.h - for the C tests that run in a real lua_State: a new state
** with the standard libraries and the built convai.core module.
**
** Such a test is run as  test_NAME "<build>/<flavour>/?.so"  (the
** module's package.cpath entry).
*/
#ifndef CONVAI_LUACORE_H
#define CONVAI_LUACORE_H

#include <stdio.h>

#include "compat.h"
#include "lualib.h"

/* A new lua_State with require("convai.core") on top of its stack, the
** module found through the cpath entry argv[1]; NULL (after a message on
** stderr) without that argument or when require fails. */
static lua_State *luacore_open(int argc, char **argv) {
  lua_State *L;
  if (argc < 2) {
    fprintf(stderr, "usage: %s '<dir>/?.so'\n", argv[0]);
    return NULL;
  }
  L = luaL_newstate();
  luaL_openlibs(L);
  lua_getglobal(L, "package");
  lua_pushstring(L, argv[1]);
  lua_pushliteral(L, ";");
  lua_getfield(L, -3, "cpath");
  lua_concat(L, 3);
  lua_setfield(L, -2, "cpath");
  lua_pop(L, 1);
  lua_getglobal(L, "require");
  lua_pushliteral(L, "convai.core");
  if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
    fprintf(stderr, "require 'convai.core' failed: %s\n",
            lua_tostring(L, -1));
    lua_close(L);
    return NULL;
  }
  return L;
}

#endif
