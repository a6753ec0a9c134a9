/*
** buffer.c - growable byte buffer (see buffer.h).
*/
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buffer.h"

void cv_buf_init(cv_buf *b) {
  b->data = NULL;
  b->len = b->cap = 0;
}

int cv_buf_append(cv_buf *b, const void *p, size_t n) {
  if (n == 0) return 1;
  if (n > SIZE_MAX - b->len) return 0;
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    char *d;
    while (cap < b->len + n) cap = cap > SIZE_MAX / 2 ? b->len + n : cap * 2;
    d = (char *)realloc(b->data, cap);
    if (d == NULL) return 0;
    b->data = d;
    b->cap = cap;
  }
  memcpy(b->data + b->len, p, n);
  b->len += n;
  return 1;
}

int cv_buf_terminate(cv_buf *b) {
  if (b->len == b->cap) {
    if (!cv_buf_append(b, "", 1)) return 0;
    b->len--;
  }
  b->data[b->len] = '\0';
  return 1;
}

void cv_buf_clear(cv_buf *b) { b->len = 0; }

void cv_buf_free(cv_buf *b) {
  free(b->data);
  cv_buf_init(b);
}
