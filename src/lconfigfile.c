/*
** lconfigfile.c - core.read_config (see lconfigfile.h): the profiles file
** of `convai.config`, read through one descriptor so that the permission
** bits returned are those of the bytes returned (no stat-then-open race).
*/

/*** @module convai.core */

/*** Configuration files.
@section config_files
*/
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lconfigfile.h"
#include "lerror.h"

/* A configuration file larger than this is refused (profiles are small). */
#define CONFIG_MAX (1024 * 1024)

static int fail_path(lua_State *L, const char *what, const char *path,
                     const char *why) {
  char msg[512];
  snprintf(msg, sizeof msg, "%s '%s': %s", what, path, why);
  return cv_fail_msg(L, msg);
}

/*** Read a configuration file whole, with its permission bits.
@function read_config
@tparam string path
@treturn string|nil the content, or nil and a message naming the path (it
does not exist, is not a regular file, is over 1 MiB, cannot be read)
@treturn integer the permission bits (`st_mode & 07777`, e.g. `0600`)
@treturn boolean whether this user owns the file
*/
static int l_read_config(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  struct stat st;
  char *p;
  ssize_t n = 0;
  size_t got = 0, cap;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail_path(L, "cannot open", path, strerror(errno));
  if (fstat(fd, &st) != 0) {
    int e = errno;
    close(fd);
    return fail_path(L, "cannot read", path, strerror(e));
  }
  if (!S_ISREG(st.st_mode) || st.st_size > CONFIG_MAX) {
    close(fd);
    return fail_path(L, "cannot read", path,
                     S_ISREG(st.st_mode) ? "larger than 1 MiB"
                                         : "not a regular file");
  }
  cap = (size_t)st.st_size + 1; /* one more byte: a file that grew */
  p = malloc(cap);
  if (p == NULL) {
    close(fd);
    return luaL_error(L, "not enough memory");
  }
  while (got < cap) {
    n = read(fd, p + got, cap - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += (size_t)n;
  }
  if (n < 0 || got == cap) {
    const char *why = n < 0 ? strerror(errno) : "it changed while read";
    free(p);
    close(fd);
    return fail_path(L, "cannot read", path, why);
  }
  close(fd);
  lua_pushlstring(L, p, got);
  free(p);
  lua_pushinteger(L, (lua_Integer)(st.st_mode & 07777));
  lua_pushboolean(L, st.st_uid == geteuid());
  return 3;
}

void cv_configfile_open(lua_State *L) {
  lua_pushcfunction(L, l_read_config);
  lua_setfield(L, -2, "read_config");
}
