/*
** buffer.h - a growable byte buffer on malloc/realloc.
**
** libcurl callbacks must never call into Lua (a Lua error would longjmp
** through libcurl), so response bodies and headers are collected here in
** plain C memory and handed to Lua after curl_easy_perform returns.
*/
#ifndef CONVAI_BUFFER_H
#define CONVAI_BUFFER_H

#include <stddef.h>

typedef struct cv_buf {
  char *data; /* NULL until something is appended */
  size_t len;
  size_t cap;
} cv_buf;

void cv_buf_init(cv_buf *b);
/* Append n bytes; returns 0 (buffer unchanged) if memory runs out. */
int cv_buf_append(cv_buf *b, const void *p, size_t n);
/* Forget the contents, keep the memory. */
/* Put a '\0' after the len bytes (not counted in len), for code that needs
** its text terminated.  Returns 0 when out of memory (b unchanged). */
int cv_buf_terminate(cv_buf *b);
void cv_buf_clear(cv_buf *b);
/* Release the memory; b is then empty and reusable. */
void cv_buf_free(cv_buf *b);

#endif
