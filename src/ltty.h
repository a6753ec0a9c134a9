/*
** ltty.h - core.isatty(fd) -> boolean; core.tty_columns(fd) -> integer | nil.
*/
#ifndef CONVAI_LTTY_H
#define CONVAI_LTTY_H

#include "compat.h"

/* Add isatty and tty_columns to the table on top. */
void cv_tty_open(lua_State *L);

#endif
