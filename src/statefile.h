/*
** statefile.h - a small state file shared by the processes of one user,
** and the private directory that holds such files.  Pure POSIX: no Lua.
**
** What it is for: convai's host-wide limit store keeps each agent's next
** free send time in one such file, which every convai process of the
** machine locks (flock), reads and rewrites.  Since whoever can write the
** file or its directory decides when convai sends, both are used only when
** they are private: owned by this process's effective user and not
** writable by group or others.  Anything else is refused with a message
** naming the path and the fix (chmod go-w, chown).
**
** The lock is flock(2) on the open file: the kernel releases it when the
** process dies, so a process killed while holding it blocks nobody.  A
** write replaces the content in place (pwrite at 0, then ftruncate to the
** new length): a process killed between the two leaves the new content
** followed by the tail of the old one, so a reader uses the first line.
** Nothing is fsync'd: after a power loss the file may hold an older
** content (or none), which for a rate limit costs at most one window.
**
** Every function that can fail writes a one-line message into err
** (errlen bytes, always NUL-terminated).
*/
#ifndef CONVAI_STATEFILE_H
#define CONVAI_STATEFILE_H

#include <stddef.h>

/* Room for a message: the path (up to PATH_MAX) is quoted in it. */
#define CV_STATE_ERRLEN 4500

/* Results of cv_state_lock. */
enum {
  CV_STATE_ERROR = -1,  /* a system error; see err */
  CV_STATE_LOCKED = 0,  /* the caller holds the lock */
  CV_STATE_BUSY = 1,    /* wait == 0 and another holder has it */
  CV_STATE_STALE = 2    /* the path now names another file, or none:
                            ** not locked; close and open the path again */
};

/* Make the directory `path` (and its missing parents, each mode 0700) or
** check the existing one: a directory (not a symbolic link), owned by the
** effective user, not writable by group or others.  0, or -1 and err. */
int cv_private_dir(const char *path, char *err, size_t errlen);

/* Open `path` read-write, creating it with mode 0600, never through a
** symbolic link, close-on-exec; refused unless it is a regular file owned
** by the effective user and not writable by group or others.  The file
** descriptor, or -1 and err. */
int cv_state_open(const char *path, char *err, size_t errlen);

/* Take the exclusive lock of an open state file (waiting for it when
** `wait`), then check that `path` still names this file.  One of the
** CV_STATE_* results above. */
int cv_state_lock(int fd, const char *path, int wait, char *err,
                  size_t errlen);

/* Release the lock.  0, or -1 and err. */
int cv_state_unlock(int fd, char *err, size_t errlen);

/* Read the file from its start into buf (at most cap bytes).  The number of
** bytes read, or -1 and err. */
long cv_state_read(int fd, char *buf, size_t cap, char *err,
                   size_t errlen);

/* Replace the content with the len bytes at s.  0, or -1 and err. */
int cv_state_write(int fd, const char *s, size_t len, char *err,
                   size_t errlen);

#endif
