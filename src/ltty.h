/*
** ltty.h - core.isatty(fd) -> boolean.
*/
#ifndef CONVAI_LTTY_H
#define CONVAI_LTTY_H

#include "compat.h"

/* Add isatty to the table on top. */
void cv_tty_open(lua_State *L);

#endif
