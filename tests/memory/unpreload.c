/*
** unpreload.c - preloaded after libasan into each lua5.4 of scripts/test-memory's ASan run: removes
** LD_PRELOAD from the environment as the process starts, so that its children (sh, curl, nginx,
** mktemp ...) run without the ASan runtime, which they were not built for (curl deadlocks in
** setlocale under it).  A child that is lua5.4 gets the runtime again from the lua5.4 wrapper that
** scripts/test-memory puts first in PATH.
*/
#include <stdlib.h>

__attribute__((constructor)) static void convai_unpreload(void) {
  unsetenv("LD_PRELOAD");
}
