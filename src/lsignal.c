/*
** lsignal.c - the interrupt trap of the campaign runner (see lsignal.h).
**
** The handlers only bump a sig_atomic_t counter.  A second signal while
** one is already pending restores the default action and re-raises, so a
** user can always kill a stuck run with a second Ctrl-C.  Sleeps
** interrupted by the signal (nanosleep in the limiter, poll in libcurl)
** return early, so a loop that looks at core.interrupted() between steps
** reacts at once.
*/

/*** @module convai.core */

/*** Interrupts.
A campaign stops cleanly on the first Ctrl-C (or SIGTERM) and dies on the
second.
@section interrupts
*/
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <string.h>

#include "lsignal.h"

static volatile sig_atomic_t interrupts = 0;

static void on_signal(int sig) {
  if (interrupts > 0) { /* second signal: give up gracefully stopping */
    signal(sig, SIG_DFL);
    raise(sig);
    return;
  }
  interrupts = interrupts + 1;
}

/*** Trap SIGINT and SIGTERM (or restore their default actions).
While trapped, the first signal only increments the count that
`interrupted` returns, so a loop can stop cleanly; a second signal while the
first is still counted takes the default action (the process ends).
@function trap_interrupts
@tparam boolean on true to trap, false to restore the defaults (and reset the count)
@treturn boolean true
*/
static int l_trap(lua_State *L) {
  struct sigaction sa;
  int on = lua_toboolean(L, 1);
  memset(&sa, 0, sizeof sa);
  sigemptyset(&sa.sa_mask);
  sa.sa_handler = on ? on_signal : SIG_DFL;
  sa.sa_flags = 0; /* no SA_RESTART: sleeps end early on the signal */
  interrupts = 0;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  lua_pushboolean(L, 1);
  return 1;
}

/*** How many trapped SIGINT/SIGTERM arrived since `trap_interrupts(true)`.
@function interrupted
@treturn integer 0 when none
*/
static int l_interrupted(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)interrupts);
  return 1;
}

void cv_signal_open(lua_State *L) {
  static const luaL_Reg funcs[] = {{"trap_interrupts", l_trap},
                                   {"interrupted", l_interrupted},
                                   {NULL, NULL}};
  luaL_setfuncs(L, funcs, 0);
}
