/*
** test_statefile.c - the private directory and the shared state file
** (statefile.c), on real files in a scratch directory: creation modes,
** what is refused (another owner, writable by group or others, symbolic
** links), content replaced whole, the lock between processes (a second
** holder is refused; a holder killed with SIGKILL releases it), and a file
** removed or replaced under an open descriptor (stale).
**
** The ownership cases need root (chown to nobody); as another user they
** are skipped.
*/
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "statefile.h"

static char base[64], err[CV_STATE_ERRLEN];

static const char *at(const char *name) {
  static char p[2][256];
  static int k;
  k = !k;
  snprintf(p[k], sizeof p[k], "%s/%s", base, name);
  return p[k];
}

static int mode_of(const char *path) {
  struct stat st;
  if (stat(path, &st) != 0) return -1;
  return (int)(st.st_mode & 0777);
}

static void test_private_dir(void) {
  CHECK_INT(cv_private_dir(at("a/b/c"), err, sizeof err), 0);
  CHECK_INT(mode_of(at("a")), 0700);
  CHECK_INT(mode_of(at("a/b/c")), 0700);
  CHECK_INT(cv_private_dir(at("a/b/c"), err, sizeof err), 0); /* exists */
  CHECK_INT(cv_private_dir(at("a/b/c/"), err, sizeof err), 0);

  CHECK(chmod(at("a/b/c"), 0770) == 0);
  CHECK_INT(cv_private_dir(at("a/b/c"), err, sizeof err), -1);
  CHECK_HAS(err, "is writable by group or others: chmod go-w '");
  CHECK_HAS(err, "/a/b/c'");
  CHECK(chmod(at("a/b/c"), 0755) == 0); /* readable by others is fine */
  CHECK_INT(cv_private_dir(at("a/b/c"), err, sizeof err), 0);

  CHECK(symlink(at("a/b/c"), at("link")) == 0);
  CHECK_INT(cv_private_dir(at("link"), err, sizeof err), -1);
  CHECK_HAS(err, "is not a directory (or is a symbolic link)");
  CHECK(close(open(at("file"), O_CREAT | O_WRONLY, 0600)) == 0);
  CHECK_INT(cv_private_dir(at("file"), err, sizeof err), -1);
  CHECK_HAS(err, "is not a directory");
  CHECK_INT(cv_private_dir(at("file/under"), err, sizeof err), -1);
  CHECK_HAS(err, "cannot create directory '");
  CHECK_INT(cv_private_dir("", err, sizeof err), -1);
  CHECK_HAS(err, "non-empty path");

  if (geteuid() == 0) {
    CHECK(chown(at("a/b/c"), 65534, 65534) == 0);
    CHECK_INT(cv_private_dir(at("a/b/c"), err, sizeof err), -1);
    CHECK_HAS(err, "is owned by uid 65534, not by this user (uid 0): chown 0 '");
    CHECK(chown(at("a/b/c"), 0, 0) == 0);
  }
}

static void test_open_read_write(void) {
  char buf[64];
  long n;
  int fd = cv_state_open(at("s1"), err, sizeof err);
  CHECK(fd >= 0);
  CHECK_INT(mode_of(at("s1")), 0600);
  CHECK_INT(cv_state_read(fd, buf, sizeof buf, err, sizeof err), 0);
  CHECK_INT(cv_state_lock(fd, at("s1"), 1, err, sizeof err), CV_STATE_LOCKED);
  CHECK_INT(cv_state_write(fd, "tat 12.5 at 3\n", 14, err, sizeof err), 0);
  CHECK_INT(cv_state_write(fd, "tat 9\n", 6, err, sizeof err), 0);
  n = cv_state_read(fd, buf, sizeof buf - 1, err, sizeof err);
  CHECK_INT(n, 6); /* replaced whole: the longer old content is gone */
  buf[n < 0 ? 0 : n] = '\0';
  CHECK_STR(buf, "tat 9\n");
  n = cv_state_read(fd, buf, 3, err, sizeof err); /* at most cap bytes */
  CHECK_INT(n, 3);
  CHECK_INT(cv_state_unlock(fd, err, sizeof err), 0);
  close(fd);

  fd = cv_state_open(at("s1"), err, sizeof err); /* again: same content */
  CHECK(fd >= 0);
  CHECK_INT(cv_state_read(fd, buf, sizeof buf, err, sizeof err), 6);
  close(fd);

  CHECK(chmod(at("s1"), 0620) == 0);
  CHECK_INT(cv_state_open(at("s1"), err, sizeof err), -1);
  CHECK_HAS(err, "state file '");
  CHECK_HAS(err, "/s1' is writable by group or others: chmod go-w '");
  CHECK(chmod(at("s1"), 0602) == 0);
  CHECK_INT(cv_state_open(at("s1"), err, sizeof err), -1);
  CHECK(chmod(at("s1"), 0644) == 0);
  fd = cv_state_open(at("s1"), err, sizeof err);
  CHECK(fd >= 0);
  close(fd);

  CHECK(symlink(at("s1"), at("s1link")) == 0);
  CHECK_INT(cv_state_open(at("s1link"), err, sizeof err), -1);
  CHECK_HAS(err, "/s1link' is a symbolic link: remove it");
  CHECK(symlink(at("nowhere"), at("dangling")) == 0);
  CHECK_INT(cv_state_open(at("dangling"), err, sizeof err), -1);
  CHECK_HAS(err, "is a symbolic link");
  CHECK(access(at("nowhere"), F_OK) != 0); /* nothing created through it */
  CHECK(mkfifo(at("fifo"), 0600) == 0);
  CHECK_INT(cv_state_open(at("fifo"), err, sizeof err), -1);
  CHECK_HAS(err, "/fifo' is not a regular file: remove it");
  CHECK_INT(cv_state_open(at("a"), err, sizeof err), -1);
  CHECK_HAS(err, "cannot open state file '");
  CHECK_INT(cv_state_open(at("nodir/x"), err, sizeof err), -1);
  CHECK_HAS(err, "No such file or directory");

  if (geteuid() == 0) {
    CHECK(chown(at("s1"), 65534, 65534) == 0);
    CHECK_INT(cv_state_open(at("s1"), err, sizeof err), -1);
    CHECK_HAS(err, "/s1' is owned by uid 65534, not by this user (uid 0): chown 0 '");
  }
}

/* A child that takes the lock of `path`, says so on the pipe and waits to
** be killed. */
static pid_t holder(const char *path) {
  int p[2];
  char c = 0;
  pid_t pid;
  if (pipe(p) != 0) return -1;
  pid = fork();
  if (pid == 0) {
    char e[CV_STATE_ERRLEN];
    int fd = cv_state_open(path, e, sizeof e);
    if (fd < 0 || cv_state_lock(fd, path, 1, e, sizeof e) != CV_STATE_LOCKED)
      _exit(1);
    if (write(p[1], "L", 1) != 1) _exit(1);
    for (;;) pause();
  }
  close(p[1]);
  if (pid > 0 && read(p[0], &c, 1) != 1) c = 0;
  close(p[0]);
  return c == 'L' ? pid : -1;
}

static void test_lock(void) {
  const char *path = at("s2");
  int fd = cv_state_open(path, err, sizeof err), fd2, status = 0;
  pid_t pid;
  CHECK(fd >= 0);
  /* Two open descriptions of one file exclude each other, even in one
  ** process. */
  fd2 = cv_state_open(path, err, sizeof err);
  CHECK_INT(cv_state_lock(fd, path, 1, err, sizeof err), CV_STATE_LOCKED);
  CHECK_INT(cv_state_lock(fd2, path, 0, err, sizeof err), CV_STATE_BUSY);
  CHECK_INT(cv_state_unlock(fd, err, sizeof err), 0);
  CHECK_INT(cv_state_lock(fd2, path, 0, err, sizeof err), CV_STATE_LOCKED);
  CHECK_INT(cv_state_unlock(fd2, err, sizeof err), 0);
  close(fd2);

  /* Another process holds it; killed, it holds nothing. */
  pid = holder(path);
  CHECK(pid > 0);
  CHECK_INT(cv_state_lock(fd, path, 0, err, sizeof err), CV_STATE_BUSY);
  if (pid > 0) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  }
  CHECK_INT(cv_state_lock(fd, path, 0, err, sizeof err), CV_STATE_LOCKED);
  CHECK_INT(cv_state_unlock(fd, err, sizeof err), 0);

  /* Removed, then replaced, under the open descriptor: stale, not locked. */
  CHECK(unlink(path) == 0);
  CHECK_INT(cv_state_lock(fd, path, 1, err, sizeof err), CV_STATE_STALE);
  fd2 = cv_state_open(path, err, sizeof err); /* a new file at the path */
  CHECK(fd2 >= 0);
  CHECK_INT(cv_state_lock(fd, path, 1, err, sizeof err), CV_STATE_STALE);
  CHECK_INT(cv_state_lock(fd2, path, 0, err, sizeof err), CV_STATE_LOCKED);
  close(fd2);
  close(fd);
}

int main(void) {
  int rc;
  snprintf(base, sizeof base, "/tmp/convai-test-statefile-XXXXXX");
  if (mkdtemp(base) == NULL) {
    perror("mkdtemp");
    return 1;
  }
  test_private_dir();
  test_open_read_write();
  test_lock();
  rc = check_done("statefile");
  {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", base);
  }
  return rc;
}
