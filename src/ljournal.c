/*
** ljournal.c - campaign journal files, and the digest that recognises a
** campaign's input (see ljournal.h).
**
** The file is opened with O_APPEND, locked with flock (a second process
** running the same campaign is refused rather than interleaving records),
** and its directory is fsync'd once after the file is created so the new
** name itself survives a power loss.  Each record goes out in write()
** calls looped until every byte is written, then fsync(): when append()
** returns true the record is on the disk.  A failed write leaves at most a
** partial last line, which readers skip (records are lines) and
** truncate() removes before the next append.
**
** The digest lives here because a journal is what it serves: the journal
** records the digest of the recipients the campaign was started with, so
** that a resumed run can tell it is given the same input.
*/

/*** @module convai.core */

/*** Campaign journals.
An append-only file whose records reach the disk before `append` returns,
locked against a second process; and a digest to recognise the same input.
Failures are `nil` and a message string (`convai.campaign` reports them as
`journal` errors).
@section journal
*/
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ljournal.h"

typedef struct journal {
  int fd; /* -1 once closed */
} journal;

static int fail_errno(lua_State *L, const char *what, const char *path) {
  int e = errno;
  luaL_pushfail(L);
  lua_pushfstring(L, "%s '%s': %s", what, path, strerror(e));
  return 2;
}

static journal *check_open(lua_State *L) {
  journal *j = (journal *)luaL_checkudata(L, 1, CV_JOURNAL_MT);
  if (j->fd < 0) luaL_error(L, "journal is closed");
  return j;
}

/* fsync the directory holding path (so a newly created name is durable). */
static int sync_dir(const char *path) {
  const char *slash = strrchr(path, '/');
  char *dir;
  int fd, rc;
  if (slash == NULL) return 0;
  if (slash == path) return 0; /* "/name": the root is not ours to sync */
  dir = (char *)malloc((size_t)(slash - path) + 1);
  if (dir == NULL) return -1;
  memcpy(dir, path, (size_t)(slash - path));
  dir[slash - path] = '\0';
  fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  free(dir);
  if (fd < 0) return -1;
  rc = fsync(fd);
  close(fd);
  return rc;
}

/*** Open (creating if needed) an append-only journal file.
The file is locked (`flock`, exclusive, non-blocking) for as long as the
journal is open: a second process opening the same file gets an error.
Records are written with `journal:append`, each reaching the disk before it
returns.
@function journal
@tparam string path the file (created with mode 0644 if missing)
@treturn[1] userdata the journal (`append`, `size`, `truncate`, `close`; `__gc`, `__close`)
@treturn[2] nil
@treturn[2] string what failed: "cannot open journal 'PATH': REASON", or "journal 'PATH' is in use by
another process"
*/
static int l_journal(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  journal *j;
  struct stat st;
  int created, fd;
  created = stat(path, &st) != 0;
  fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return fail_errno(L, "cannot open journal", path);
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int e = errno;
    close(fd);
    luaL_pushfail(L);
    if (e == EWOULDBLOCK)
      lua_pushfstring(L, "journal '%s' is in use by another process", path);
    else
      lua_pushfstring(L, "cannot lock journal '%s': %s", path, strerror(e));
    return 2;
  }
  if (created && sync_dir(path) != 0) {
    int e = errno;
    close(fd);
    errno = e;
    return fail_errno(L, "cannot sync the directory of journal", path);
  }
  j = (journal *)lua_newuserdatauv(L, sizeof(journal), 0);
  j->fd = fd;
  luaL_setmetatable(L, CV_JOURNAL_MT);
  return 1;
}

/*** Append a record and make it durable (write, then `fsync`).
@function journal:append
@tparam string record the bytes to append (a campaign record is one JSON line ending in "\n")
@treturn[1] boolean true once the record is on the disk
@treturn[2] nil
@treturn[2] string "cannot write journal: REASON" (e.g. no space left); the
file may then end with part of the record, which `truncate` removes
*/
static int l_append(lua_State *L) {
  journal *j = check_open(L);
  size_t len, off = 0;
  const char *s = luaL_checklstring(L, 2, &len);
  while (off < len) {
    ssize_t n = write(j->fd, s + off, len - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail_errno(L, "cannot write", "journal");
    }
    off += (size_t)n;
  }
  while (fsync(j->fd) != 0) {
    if (errno != EINTR) return fail_errno(L, "cannot sync", "journal");
  }
  lua_pushboolean(L, 1);
  return 1;
}

/*** Size of the journal file.
@function journal:size
@treturn integer bytes
*/
static int l_size(lua_State *L) {
  journal *j = check_open(L);
  struct stat st;
  if (fstat(j->fd, &st) != 0) return fail_errno(L, "cannot stat", "journal");
  lua_pushinteger(L, (lua_Integer)st.st_size);
  return 1;
}

/*** Cut the journal to `bytes` (dropping a partial last record), durably.
@function journal:truncate
@tparam integer bytes the new size, at most the current size
@treturn[1] boolean true
@treturn[2] nil
@treturn[2] string what failed
*/
static int l_truncate(lua_State *L) {
  journal *j = check_open(L);
  lua_Number n = luaL_checknumber(L, 2);
  if (!(n >= 0)) return luaL_argerror(L, 2, "size must be >= 0");
  if (ftruncate(j->fd, (off_t)n) != 0 || fsync(j->fd) != 0)
    return fail_errno(L, "cannot truncate", "journal");
  lua_pushboolean(L, 1);
  return 1;
}

/*** Close the journal (releasing its lock). Idempotent; also run by `__gc` and `__close`.
@function journal:close
*/
static int l_close(lua_State *L) {
  journal *j = (journal *)luaL_checkudata(L, 1, CV_JOURNAL_MT);
  if (j->fd >= 0) {
    close(j->fd); /* releases the flock */
    j->fd = -1;
  }
  return 0;
}

static int l_tostring(lua_State *L) {
  journal *j = (journal *)luaL_checkudata(L, 1, CV_JOURNAL_MT);
  lua_pushstring(L, j->fd >= 0 ? "convai.journal (open)" : "convai.journal (closed)");
  return 1;
}

/*** A 64-bit FNV-1a digest of a string, as 16 lowercase hex digits.
For recognising the same input (a campaign's recipients file) again; not a
cryptographic hash.
@function digest
@tparam string s
@treturn string e.g. "cbf29ce484222325" for ""
*/
static int l_digest(lua_State *L) {
  size_t len, i;
  const unsigned char *s = (const unsigned char *)luaL_checklstring(L, 1, &len);
  unsigned long long h = 14695981039346656037ULL;
  char out[17];
  for (i = 0; i < len; i++) {
    h ^= s[i];
    h *= 1099511628211ULL;
  }
  snprintf(out, sizeof out, "%016llx", h);
  lua_pushstring(L, out);
  return 1;
}

void cv_journal_open(lua_State *L) {
  static const luaL_Reg methods[] = {
      {"append", l_append}, {"size", l_size}, {"truncate", l_truncate},
      {"close", l_close},   {NULL, NULL}};
  static const luaL_Reg meta[] = {{"__gc", l_close},
                                  {"__close", l_close},
                                  {"__tostring", l_tostring},
                                  {NULL, NULL}};
  static const luaL_Reg funcs[] = {
      {"journal", l_journal}, {"digest", l_digest}, {NULL, NULL}};
  if (luaL_newmetatable(L, CV_JOURNAL_MT)) {
    luaL_setfuncs(L, meta, 0);
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
  luaL_setfuncs(L, funcs, 0);
}
