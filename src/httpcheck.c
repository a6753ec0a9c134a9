/*
** httpcheck.c - request validation (see httpcheck.h).
*/
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

int cv_check_url(const char *s, size_t len, char *err, size_t errlen) {
  size_t i, rest;
  for (i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
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
