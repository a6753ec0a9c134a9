/*
** lstatefile.c - core.state_file and core.private_dir (see lstatefile.h):
** the Lua binding of statefile.c, for the host-wide limit store.
**
** The object keeps its descriptor and its path (the lock checks that the
** path still names the open file); `locked` records whether this object
** holds the lock, so that a write outside the lock is caught as the
** programming mistake it is.  Closing the descriptor (close, __gc,
** __close) releases the lock, as the kernel does when the process dies.
*/

/*** @module convai.core */

/*** State files.
A small file shared by every process of one user: locked (`flock`), read
and replaced whole; used only when it and its directory are private (owned
by this user, not writable by group or others). What the host-wide limit
store (`convai.limit.host`) keeps each agent's next free send time in.
Failures are `nil` and a message naming the path and the fix (the store
reports them as `store` or `invalid_argument` errors).
@section state_files
*/
#include <string.h>
#include <unistd.h>

#include "lerror.h"
#include "lstatefile.h"
#include "statefile.h"

/* Bytes a state file may hold: read() returns at most this much (an agent's
** capacity reservations, a few hundred of about 25 bytes, fit). */
#define STATE_MAX 16384

typedef struct state_file {
  int fd;     /* -1 once closed */
  int locked; /* this object holds the flock */
  char path[]; /* NUL-terminated */
} state_file;

static state_file *check_file(lua_State *L) {
  return (state_file *)luaL_checkudata(L, 1, CV_STATEFILE_MT);
}

static state_file *check_open(lua_State *L) {
  state_file *f = check_file(L);
  if (f->fd < 0) luaL_error(L, "state file is closed");
  return f;
}

/*** Make a private directory, or check one.
Creates `path` and its missing parents with mode 0700; an existing
directory is accepted when it is not a symbolic link, is owned by this
process's effective user and is not writable by group or others.
@function private_dir
@tparam string path
@treturn[1] boolean true
@treturn[2] nil
@treturn[2] string e.g. "directory '/x/convai/limits' is writable by group
or others: chmod go-w '/x/convai/limits'", "... is owned by uid 65534, not
by this user (uid 0): chown 0 '...' (or remove it)", "cannot create
directory '...': Permission denied"
*/
static int l_private_dir(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  char err[CV_STATE_ERRLEN];
  if (cv_private_dir(path, err, sizeof err) != 0) return cv_fail_msg(L, err);
  lua_pushboolean(L, 1);
  return 1;
}

/*** Open (creating if needed) a state file.
Opened read-write, created with mode 0600, never through a symbolic link,
closed on exec. Refused unless it is a regular file owned by this process's
effective user and not writable by group or others.
@function state_file
@tparam string path
@treturn[1] userdata the file (`lock`, `read`, `write`, `unlock`, `close`;
`__gc`, `__close`)
@treturn[2] nil
@treturn[2] string e.g. "state file '/x/A' is writable by group or others:
chmod go-w '/x/A'", "state file '/x/A' is a symbolic link: remove it",
"cannot open state file '/x/A': No such file or directory"
*/
static int l_state_file(lua_State *L) {
  size_t len;
  const char *path = luaL_checklstring(L, 1, &len);
  char err[CV_STATE_ERRLEN];
  state_file *f;
  int fd = cv_state_open(path, err, sizeof err);
  if (fd < 0) return cv_fail_msg(L, err);
  f = (state_file *)lua_newuserdatauv(L, sizeof(state_file) + len + 1, 0);
  f->fd = fd;
  f->locked = 0;
  memcpy(f->path, path, len + 1);
  luaL_setmetatable(L, CV_STATEFILE_MT);
  return 1;
}

/*** Take the file's exclusive lock.
The kernel releases it when the process dies (or the file is closed), so a
process killed while holding it blocks nobody.
@function state_file:lock
@tparam[opt=true] boolean wait wait for another holder to release it
(false: return at once)
@treturn[1] boolean true: this object holds the lock
@treturn[2] boolean false, nothing locked
@treturn[2] string `"busy"` (`wait` is false and another holder has it) or
`"stale"` (the path now names another file, or none: close this one and
open the path again)
@treturn[3] nil
@treturn[3] string what failed
*/
static int l_lock(lua_State *L) {
  state_file *f = check_open(L);
  int wait = lua_isnoneornil(L, 2) || lua_toboolean(L, 2);
  char err[CV_STATE_ERRLEN];
  switch (cv_state_lock(f->fd, f->path, wait, err, sizeof err)) {
    case CV_STATE_LOCKED:
      f->locked = 1;
      lua_pushboolean(L, 1);
      return 1;
    case CV_STATE_BUSY:
      lua_pushboolean(L, 0);
      lua_pushliteral(L, "busy");
      return 2;
    case CV_STATE_STALE:
      lua_pushboolean(L, 0);
      lua_pushliteral(L, "stale");
      return 2;
    default:
      return cv_fail_msg(L, err);
  }
}

/*** Release the lock (nothing to do when it is not held).
@function state_file:unlock
@treturn[1] boolean true
@treturn[2] nil
@treturn[2] string what failed
*/
static int l_unlock(lua_State *L) {
  state_file *f = check_open(L);
  char err[CV_STATE_ERRLEN];
  if (f->locked) {
    f->locked = 0;
    if (cv_state_unlock(f->fd, err, sizeof err) != 0)
      return cv_fail_msg(L, err);
  }
  lua_pushboolean(L, 1);
  return 1;
}

/*** The file's content (at most 16384 bytes; `""` for a new file).
@function state_file:read
@treturn[1] string
@treturn[2] nil
@treturn[2] string what failed
*/
static int l_read(lua_State *L) {
  state_file *f = check_open(L);
  char buf[STATE_MAX], err[CV_STATE_ERRLEN];
  long n = cv_state_read(f->fd, buf, sizeof buf, err, sizeof err);
  if (n < 0) return cv_fail_msg(L, err);
  lua_pushlstring(L, buf, (size_t)n);
  return 1;
}

/*** Replace the file's content, under the lock.
@function state_file:write
@tparam string s at most 16384 bytes
@treturn[1] boolean true
@treturn[2] nil
@treturn[2] string what failed (e.g. no space left on the device)
@raise when this object does not hold the lock, or `s` is too long
*/
static int l_write(lua_State *L) {
  state_file *f = check_open(L);
  size_t len;
  const char *s = luaL_checklstring(L, 2, &len);
  char err[CV_STATE_ERRLEN];
  if (!f->locked) return luaL_error(L, "state file is not locked");
  luaL_argcheck(L, len <= STATE_MAX, 2, "at most 16384 bytes");
  if (cv_state_write(f->fd, s, len, err, sizeof err) != 0)
    return cv_fail_msg(L, err);
  lua_pushboolean(L, 1);
  return 1;
}

/*** Close the file, releasing its lock. Idempotent; also run by `__gc` and
`__close`.
@function state_file:close
*/
static int l_close(lua_State *L) {
  state_file *f = check_file(L);
  if (f->fd >= 0) {
    close(f->fd); /* releases the flock */
    f->fd = -1;
    f->locked = 0;
  }
  return 0;
}

static int l_tostring(lua_State *L) {
  state_file *f = check_file(L);
  lua_pushfstring(L, "convai.state_file (%s%s)", f->path,
                  f->fd < 0 ? ", closed" : (f->locked ? ", locked" : ""));
  return 1;
}

void cv_statefile_open(lua_State *L) {
  static const luaL_Reg methods[] = {{"lock", l_lock},   {"unlock", l_unlock},
                                     {"read", l_read},   {"write", l_write},
                                     {"close", l_close}, {NULL, NULL}};
  static const luaL_Reg meta[] = {{"__gc", l_close},
                                  {"__close", l_close},
                                  {"__tostring", l_tostring},
                                  {NULL, NULL}};
  static const luaL_Reg funcs[] = {{"state_file", l_state_file},
                                   {"private_dir", l_private_dir},
                                   {NULL, NULL}};
  if (luaL_newmetatable(L, CV_STATEFILE_MT)) {
    luaL_setfuncs(L, meta, 0);
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
  luaL_setfuncs(L, funcs, 0);
}
