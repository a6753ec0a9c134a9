/*
** lsys.h - operating-system helpers for the campaign runner: an
** append-only journal file whose records reach the disk (write + fsync),
** a terminal test, an interrupt (SIGINT/SIGTERM) trap and a digest.
**
** core.journal(path) -> journal | nil, message
** journal:append(record) -> true | nil, message   (written whole, fsync'd)
** journal:size() -> bytes;  journal:truncate(bytes) -> true | nil, message
** journal:close(), __gc, __close, __tostring
** core.isatty(fd) -> boolean
** core.trap_interrupts(on) -> true;  core.interrupted() -> count
** core.digest(s) -> 16 hex digits (FNV-1a 64)
*/
#ifndef CONVAI_LSYS_H
#define CONVAI_LSYS_H

#include "compat.h"

#define CV_JOURNAL_MT "convai.journal"

/* Add journal, isatty, trap_interrupts, interrupted and digest to the
** table on top. */
void cv_sys_open(lua_State *L);

#endif
