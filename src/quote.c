/*
** quote.c - quoting user input for error messages (see quote.h).
*/
#include "quote.h"

void cv_quote(const char *s, size_t len, char out[CV_QUOTE_SIZE]) {
  size_t i, n = len > CV_QUOTE_MAX ? CV_QUOTE_MAX : len;
  char *o = out;
  *o++ = '"';
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    *o++ = (c >= 0x20 && c < 0x7f && c != '"') ? (char)c : '?';
  }
  if (len > n) {
    *o++ = '.';
    *o++ = '.';
    *o++ = '.';
  }
  *o++ = '"';
  *o = '\0';
}
