/*
** lstatefile.h - core.state_file and core.private_dir: a small state file
** shared by the processes of one user (statefile.h), for the host-wide
** limit store (convai.limit.host).
**
** core.private_dir(path) -> true | nil, message
**   creates the directory (and missing parents) mode 0700, or checks the
**   existing one: refused when another user owns it or group or others
**   may write it.
** core.state_file(path) -> file | nil, message
**   opened read-write, created 0600, never through a symbolic link;
**   refused as the directory is.
** file:lock([wait = true]) -> true | false, "busy" | false, "stale" |
**                             nil, message
** file:read() -> string | nil, message   (the whole file, up to 4 KiB)
** file:write(s) -> true | nil, message   (replaces the content; raises
**                                        unless locked)
** file:unlock() -> true | nil, message   (idempotent)
** file:close(), __gc, __close, __tostring
*/
#ifndef CONVAI_LSTATEFILE_H
#define CONVAI_LSTATEFILE_H

#include "compat.h"

#define CV_STATEFILE_MT "convai.state_file"

/* Add state_file and private_dir to the table on top. */
void cv_statefile_open(lua_State *L);

#endif
