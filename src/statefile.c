/*
** statefile.c - a small state file shared by the processes of one user,
** and its private directory (see statefile.h).
*/
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "statefile.h"

static void say(char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

/* Refuse what another user owns or others may write: 0, or -1 and err.
** `what` is "directory" or "state file". */
static int private_enough(const struct stat *st, const char *what,
                          const char *path, char *err, size_t errlen) {
  uid_t me = geteuid();
  if (st->st_uid != me) {
    say(err, errlen,
        "%s '%s' is owned by uid %ld, not by this user (uid %ld): "
        "chown %ld '%s' (or remove it)",
        what, path, (long)st->st_uid, (long)me, (long)me, path);
    return -1;
  }
  if (st->st_mode & (S_IWGRP | S_IWOTH)) {
    say(err, errlen,
        "%s '%s' is writable by group or others: chmod go-w '%s'", what,
        path, path);
    return -1;
  }
  return 0;
}

/* mkdir that accepts an existing entry (checked afterwards). */
static int make(const char *path, char *err, size_t errlen) {
  if (mkdir(path, 0700) == 0 || errno == EEXIST) return 0;
  say(err, errlen, "cannot create directory '%s': %s", path,
      strerror(errno));
  return -1;
}

int cv_private_dir(const char *path, char *err, size_t errlen) {
  size_t len = strlen(path), i;
  char *p;
  int fd, rc;
  struct stat st;
  if (len == 0) {
    say(err, errlen, "the state directory must be a non-empty path");
    return -1;
  }
  p = (char *)malloc(len + 1);
  if (p == NULL) {
    say(err, errlen, "out of memory");
    return -1;
  }
  memcpy(p, path, len + 1);
  /* The missing parents, then the directory itself. */
  for (i = 1; i < len; i++) {
    if (p[i] != '/') continue;
    p[i] = '\0';
    rc = make(p, err, errlen);
    p[i] = '/';
    if (rc != 0) {
      free(p);
      return -1;
    }
  }
  free(p);
  if (make(path, err, errlen) != 0) return -1;
  fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ELOOP || errno == ENOTDIR)
      say(err, errlen,
          "'%s' is not a directory (or is a symbolic link): remove it or "
          "choose another state directory",
          path);
    else
      say(err, errlen, "cannot open directory '%s': %s", path,
          strerror(errno));
    return -1;
  }
  rc = fstat(fd, &st);
  close(fd);
  if (rc != 0) {
    say(err, errlen, "cannot stat directory '%s': %s", path,
        strerror(errno));
    return -1;
  }
  return private_enough(&st, "directory", path, err, errlen);
}

int cv_state_open(const char *path, char *err, size_t errlen) {
  struct stat st;
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    if (errno == ELOOP)
      say(err, errlen, "state file '%s' is a symbolic link: remove it",
          path);
    else
      say(err, errlen, "cannot open state file '%s': %s", path,
          strerror(errno));
    return -1;
  }
  if (fstat(fd, &st) != 0) {
    say(err, errlen, "cannot stat state file '%s': %s", path,
        strerror(errno));
    close(fd);
    return -1;
  }
  if (!S_ISREG(st.st_mode)) {
    say(err, errlen, "state file '%s' is not a regular file: remove it",
        path);
    close(fd);
    return -1;
  }
  if (private_enough(&st, "state file", path, err, errlen) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

int cv_state_lock(int fd, const char *path, int wait, char *err,
                  size_t errlen) {
  struct stat mine, named;
  while (flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) != 0) {
    if (errno == EINTR) continue;
    if (errno == EWOULDBLOCK) return CV_STATE_BUSY;
    say(err, errlen, "cannot lock state file '%s': %s", path,
        strerror(errno));
    return CV_STATE_ERROR;
  }
  /* Someone may have removed or replaced the file since it was opened: the
  ** others then lock the new one, so this lock protects nothing. */
  if (fstat(fd, &mine) != 0 || lstat(path, &named) != 0 ||
      mine.st_ino != named.st_ino || mine.st_dev != named.st_dev) {
    flock(fd, LOCK_UN);
    return CV_STATE_STALE;
  }
  return CV_STATE_LOCKED;
}

int cv_state_unlock(int fd, char *err, size_t errlen) {
  if (flock(fd, LOCK_UN) == 0) return 0;
  say(err, errlen, "cannot unlock state file: %s", strerror(errno));
  return -1;
}

long cv_state_read(int fd, char *buf, size_t cap, char *err,
                   size_t errlen) {
  size_t got = 0;
  while (got < cap) {
    ssize_t n = pread(fd, buf + got, cap - got, (off_t)got);
    if (n < 0) {
      if (errno == EINTR) continue;
      say(err, errlen, "cannot read state file: %s", strerror(errno));
      return -1;
    }
    if (n == 0) break;
    got += (size_t)n;
  }
  return (long)got;
}

int cv_state_write(int fd, const char *s, size_t len, char *err,
                   size_t errlen) {
  size_t off = 0;
  while (off < len) {
    ssize_t n = pwrite(fd, s + off, len - off, (off_t)off);
    if (n < 0) {
      if (errno == EINTR) continue;
      say(err, errlen, "cannot write state file: %s", strerror(errno));
      return -1;
    }
    off += (size_t)n;
  }
  while (ftruncate(fd, (off_t)len) != 0) {
    if (errno == EINTR) continue;
    say(err, errlen, "cannot truncate state file: %s", strerror(errno));
    return -1;
  }
  return 0;
}
