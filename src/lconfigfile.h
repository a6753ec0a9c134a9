/*
** lconfigfile.h - core.read_config(path) -> text, mode | nil, message: a
** user's configuration file read whole, with its permission bits, so that
** a file holding credentials can be refused when others may read it.
*/
#ifndef CONVAI_LCONFIGFILE_H
#define CONVAI_LCONFIGFILE_H

#include "compat.h"

/* Add read_config to the table on top. */
void cv_configfile_open(lua_State *L);

#endif
