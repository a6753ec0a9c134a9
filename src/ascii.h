/*
** ascii.h - ASCII helpers for the parsers of URLs (httpcheck.c,
** redisurl.c): their schemes are matched in any case (RFC 3986 section
** 3.1), whatever the C locale.
*/
#ifndef CONVAI_ASCII_H
#define CONVAI_ASCII_H

#include <stddef.h>
#include <string.h>

/* s[0..len) starts with the lowercase ASCII prefix, in any case. */
static inline int cv_has_prefix_ci(const char *s, size_t len,
                                   const char *prefix) {
  size_t i, n = strlen(prefix);
  if (len < n) return 0;
  for (i = 0; i < n; i++) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
    if (c != prefix[i]) return 0;
  }
  return 1;
}

#endif
