/*
** convai.h - the exported entry point of the convai.core Lua module.
**
** Everything else in the module is static or hidden (-fvisibility=hidden);
** only luaopen_convai_core is visible to the Lua host's require.
*/
#ifndef CONVAI_H
#define CONVAI_H

#include "compat.h"

#define CONVAI_VERSION "0.1.0"

#if defined(__GNUC__)
#define CONVAI_EXPORT __attribute__((visibility("default")))
#else
#define CONVAI_EXPORT
#endif

CONVAI_EXPORT int luaopen_convai_core(lua_State *L);

#endif
