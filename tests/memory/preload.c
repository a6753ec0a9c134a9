/*
** preload.c - loaded after libasan into each lua5.4 of scripts/test-memory's ASan run (LD_PRELOAD).
**
**  - Takes LD_PRELOAD out of the environment as the process starts, so that its children (sh, curl,
**    nginx, mktemp ...) run as built: they were not made for the ASan runtime (curl deadlocks in
**    setlocale under it). A child that is lua5.4 gets the runtime again from the lua5.4 wrapper that
**    scripts/test-memory puts first in PATH.
**  - Makes dlclose a no-op, so C modules stay mapped until the process ends: Lua unloads them in
**    lua_close, before LeakSanitizer looks, and a leak allocated in convai.core would otherwise be
**    reported with frames "<unknown module>" instead of file and line. (libasan intercepts dlclose
**    and calls the next definition, which is this one.)
*/
#include <stdlib.h>

int dlclose(void *handle);

__attribute__((constructor)) static void convai_unpreload(void) {
  unsetenv("LD_PRELOAD");
}

int dlclose(void *handle) {
  (void)handle;
  return 0;
}
