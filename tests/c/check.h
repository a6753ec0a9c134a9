/*
** check.h - a minimal test harness for convai's C tests.
**
** CHECK(cond) and the typed CHECK_* macros record a failure (with file,
** line and the values involved) and carry on; check_done() prints
** "N passed, N failed" and returns the exit status for main.
*/
#ifndef CONVAI_CHECK_H
#define CONVAI_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_passed, check_failed;

#define CHECK_AT(cond, file, line, ...)                       \
  do {                                                        \
    if (cond) {                                               \
      check_passed++;                                         \
    } else {                                                  \
      check_failed++;                                         \
      fprintf(stderr, "%s:%d: FAILED: ", file, line);         \
      fprintf(stderr, __VA_ARGS__);                           \
      fputc('\n', stderr);                                    \
    }                                                         \
  } while (0)

#define CHECK(cond) CHECK_AT(cond, __FILE__, __LINE__, "%s", #cond)

#define CHECK_INT(got, want)                                              \
  do {                                                                    \
    long long g_ = (long long)(got), w_ = (long long)(want);              \
    CHECK_AT(g_ == w_, __FILE__, __LINE__, "%s == %lld, expected %lld",   \
             #got, g_, w_);                                               \
  } while (0)

#define CHECK_STR(got, want)                                              \
  do {                                                                    \
    const char *g_ = (got), *w_ = (want);                                 \
    CHECK_AT(g_ != NULL && strcmp(g_, w_) == 0, __FILE__, __LINE__,       \
             "%s == \"%s\", expected \"%s\"", #got, g_ ? g_ : "(null)",   \
             w_);                                                         \
  } while (0)

/* s contains sub */
#define CHECK_HAS(s, sub)                                                 \
  do {                                                                    \
    const char *s_ = (s), *sub_ = (sub);                                  \
    CHECK_AT(s_ != NULL && strstr(s_, sub_) != NULL, __FILE__, __LINE__,  \
             "\"%s\" does not contain \"%s\"", s_ ? s_ : "(null)", sub_); \
  } while (0)

/* s does not contain sub */
#define CHECK_LACKS(s, sub)                                               \
  do {                                                                    \
    const char *s_ = (s), *sub_ = (sub);                                  \
    CHECK_AT(s_ != NULL && strstr(s_, sub_) == NULL, __FILE__, __LINE__,  \
             "\"%s\" contains \"%s\"", s_ ? s_ : "(null)", sub_);         \
  } while (0)

static int check_done(const char *suite) {
  printf("%s: %d passed, %d failed\n", suite, check_passed, check_failed);
  return check_failed == 0 && check_passed > 0 ? 0 : 1;
}

#endif
