/*
** httpcheck.c - request validation (see httpcheck.h).
*/
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ascii.h"
#include "httpcheck.h"
#include "quote.h"

/* tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
**         "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA */
static int is_tchar(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' ||
      (c >= '0' && c <= '9'))
    return 1;
  return c != '\0' && strchr("!#$%&'*+.^_`|~", c) != NULL;
}

int cv_is_token(const char *s, size_t len) {
  size_t i;
  if (len == 0) return 0;
  for (i = 0; i < len; i++)
    if (!is_tchar((unsigned char)s[i])) return 0;
  return 1;
}

int cv_check_method(const char *s, size_t len, char *err, size_t errlen) {
  char q[CV_QUOTE_SIZE];
  if (cv_is_token(s, len)) return 1;
  if (len == 0) {
    snprintf(err, errlen, "method is empty");
  } else {
    cv_quote(s, len, q);
    snprintf(err, errlen, "method %s is not a valid HTTP method token", q);
  }
  return 0;
}

/* The offset of the first byte of s[0..len) outside 0x21-0x7E (the bytes a
** URL may hold as they are), len when there is none.  Eight bytes at a
** time: a word has such a byte when one of its bytes is below 0x21 (the
** borrow of byte - 0x21 sets the top bit of a byte that had it clear) or
** above 0x7E (byte + 1, or the byte itself, has the top bit set); a
** borrow or carry only reaches a byte above one that matched, so a word
** is flagged exactly when it holds such a byte, which the byte loop then
** finds. */
static size_t plain_prefix(const unsigned char *s, size_t len) {
  const uint64_t ones = 0x0101010101010101u, tops = 0x8080808080808080u;
  size_t i = 0;
  for (; i + 8 <= len; i += 8) {
    uint64_t w;
    memcpy(&w, s + i, 8);
    if (((w - 0x21 * ones) & ~w & tops) | (((w + ones) | w) & tops)) break;
  }
  while (i < len && (unsigned char)(s[i] - 0x21) <= 0x7e - 0x21) i++;
  return i;
}

int cv_check_url(const char *s, size_t len, char *err, size_t errlen) {
  const unsigned char *u = (const unsigned char *)s;
  size_t i = plain_prefix(u, len), rest;
  if (i < len) {
    unsigned char c = u[i];
    if (c <= 0x20 || c == 0x7f) {
      snprintf(err, errlen,
               "url contains %s at position %lu; remove it or "
               "percent-encode it",
               c == '\r' || c == '\n' ? "a line break"
               : c == ' '             ? "a space"
               : c == '\0'            ? "a NUL byte"
                                      : "a control character",
               (unsigned long)i + 1);
      return 0;
    }
    if (c >= 0x80) { /* libcurl would send it raw: servers disagree on it */
      snprintf(err, errlen,
               "url contains a non-ASCII byte at position %lu; "
               "percent-encode it (each UTF-8 byte as %%XX)",
               (unsigned long)i + 1);
      return 0;
    }
  }
  if (cv_has_prefix_ci(s, len, "http://"))
    rest = len - 7;
  else if (cv_has_prefix_ci(s, len, "https://"))
    rest = len - 8;
  else {
    snprintf(err, errlen, "url must start with http:// or https://");
    return 0;
  }
  if (rest == 0 || s[len - rest] == '/') {
    snprintf(err, errlen, "url has no host");
    return 0;
  }
  return 1;
}

int cv_check_header(const char *name, size_t nlen, const char *value,
                    size_t vlen, char *err, size_t errlen) {
  char q[CV_QUOTE_SIZE];
  if (nlen == 0) {
    snprintf(err, errlen, "header name is empty");
    return 0;
  }
  if (!cv_is_token(name, nlen)) {
    cv_quote(name, nlen, q);
    snprintf(err, errlen,
             "header name %s is not a valid token (letters, digits and "
             "!#$%%&'*+-.^_`|~ only)", q);
    return 0;
  }
  if (memchr(value, '\r', vlen) || memchr(value, '\n', vlen) ||
      memchr(value, '\0', vlen)) {
    /* name is a valid token here, so it is safe to show verbatim; cap it */
    int shown = nlen > CV_QUOTE_MAX ? CV_QUOTE_MAX : (int)nlen;
    snprintf(err, errlen,
             "header '%.*s%s' value contains CR, LF or NUL; remove line "
             "breaks from the value", shown, name,
             nlen > CV_QUOTE_MAX ? "..." : "");
    return 0;
  }
  return 1;
}
