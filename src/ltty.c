/*
** ltty.c - whether a descriptor is a terminal (see ltty.h): the CLI shows
** a campaign's progress line only on a terminal.
*/

/*** @module convai.core */

/*** Terminals.
@section terminals
*/
#define _POSIX_C_SOURCE 200809L
#include <unistd.h>

#include "ltty.h"

/*** Whether a file descriptor is a terminal (`isatty`).
@function isatty
@tparam integer fd 0 (stdin), 1 (stdout) or 2 (stderr), or any descriptor
@treturn boolean
*/
static int l_isatty(lua_State *L) {
  lua_Integer fd = luaL_checkinteger(L, 1);
  lua_pushboolean(L, fd >= 0 && fd <= 65535 && isatty((int)fd));
  return 1;
}

void cv_tty_open(lua_State *L) {
  lua_pushcfunction(L, l_isatty);
  lua_setfield(L, -2, "isatty");
}
