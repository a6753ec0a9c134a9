/*
** lsignal.h - trapping SIGINT and SIGTERM, so that the campaign runner
** stops cleanly after the step in progress.
**
** core.trap_interrupts(on) -> true;  core.interrupted() -> count
*/
#ifndef CONVAI_LSIGNAL_H
#define CONVAI_LSIGNAL_H

#include "compat.h"

/* Add trap_interrupts and interrupted to the table on top. */
void cv_signal_open(lua_State *L);

#endif
