/*
** ltty.c - whether a descriptor is a terminal and how wide it is (see
** ltty.h): the CLI shows a campaign's progress line only on a terminal, and
** sizes `usage avaamo --chart` to its width.
*/

/*** @module convai.core */

/*** Terminals.
@section terminals
*/
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE /* TIOCGWINSZ, struct winsize */
#include <sys/ioctl.h>
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

/*** The width of the terminal a descriptor is (`TIOCGWINSZ`), in columns.
@function tty_columns
@tparam integer fd e.g. 1 (stdout)
@treturn integer|nil columns, or nil when `fd` is not a terminal or has no size
*/
static int l_tty_columns(lua_State *L) {
  lua_Integer fd = luaL_checkinteger(L, 1);
  struct winsize ws;
  if (fd < 0 || fd > 65535 || ioctl((int)fd, TIOCGWINSZ, &ws) != 0 ||
      ws.ws_col == 0) {
    lua_pushnil(L);
    return 1;
  }
  lua_pushinteger(L, (lua_Integer)ws.ws_col);
  return 1;
}

void cv_tty_open(lua_State *L) {
  lua_pushcfunction(L, l_isatty);
  lua_setfield(L, -2, "isatty");
  lua_pushcfunction(L, l_tty_columns);
  lua_setfield(L, -2, "tty_columns");
}
