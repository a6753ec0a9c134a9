/*
** test_buffer.c - the growable byte buffer of responses (buffer.c).
*/
#include <string.h>

#include "buffer.h"
#include "check.h"

static void test_buffer(void) {
  cv_buf b;
  int i;
  cv_buf_init(&b);
  CHECK(b.data == NULL && b.len == 0);
  CHECK(cv_buf_append(&b, "", 0) && b.len == 0);
  {
    int ok = 1;
    for (i = 0; i < 1000; i++) ok &= cv_buf_append(&b, "0123456789", 10);
    CHECK(ok);
  }
  CHECK_INT(b.len, 10000);
  CHECK(b.cap >= b.len && memcmp(b.data + 9990, "0123456789", 10) == 0);
  cv_buf_clear(&b);
  CHECK(b.len == 0 && b.data != NULL);
  CHECK(cv_buf_append(&b, "abc", 3));
  CHECK(!cv_buf_append(&b, "x", (size_t)-2)); /* size overflow: refused */
  CHECK_INT(b.len, 3);
  cv_buf_free(&b);
  CHECK(b.data == NULL && b.cap == 0);
}

int main(void) {
  test_buffer();
  return check_done("buffer");
}
