/*
** fuzz.h - shared by the libFuzzer harnesses of tests/fuzz/.
**
** Each harness feeds one C parser arbitrary bytes and checks properties
** that must hold for every input (round trips, ranges, agreement with a
** simple reference), not only that nothing crashes.  A broken property
** prints what was expected and aborts, which libFuzzer reports as a crash
** and saves the input as an artifact.  Build and run: scripts/fuzz.
*/
#ifndef CONVAI_FUZZ_H
#define CONVAI_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond, ...)                                          \
  do {                                                                 \
    if (!(cond)) {                                                     \
      fprintf(stderr, "%s:%d: property failed: %s\n  ", __FILE__,      \
              __LINE__, #cond);                                        \
      fprintf(stderr, __VA_ARGS__);                                    \
      fputc('\n', stderr);                                             \
      abort();                                                         \
    }                                                                  \
  } while (0)

/* A malloc'ed copy of data[0..size) (NULL-safe for size 0), so that ASan
** sees a read one byte past the end of the input. */
static inline char *fuzz_copy(const uint8_t *data, size_t size) {
  char *p = (char *)malloc(size ? size : 1);
  size_t i;
  if (p == NULL) abort();
  for (i = 0; i < size; i++) p[i] = (char)data[i];
  return p;
}

/* 1 if err[0..errlen) holds a NUL-terminated, non-empty, single-line
** message of printable ASCII (what the parsers promise for messages). */
static inline int fuzz_message_ok(const char *err, size_t errlen) {
  size_t i;
  for (i = 0; i < errlen; i++) {
    unsigned char c = (unsigned char)err[i];
    if (c == '\0') return i > 0 || errlen == 1;
    if (c < 0x20 || c >= 0x7f) return 0;
  }
  return 0; /* not terminated */
}

#endif
