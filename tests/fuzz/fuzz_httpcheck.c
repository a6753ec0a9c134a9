/*
** fuzz_httpcheck.c - request validation (src/httpcheck.c): methods, URLs
** and headers, the checks that keep CR/LF/NUL and malformed values off
** the wire.
**
** Input: byte 0 picks where the header name ends (the rest is the value);
** the whole input after byte 0 is also tried as a method and as a URL.
** Properties:
**  - each check agrees with a reference written from RFC 9110 here
**    (tchar tokens; URL: only bytes 0x21 to 0x7e, http:// or https://
**    in any case, a host; header: token name, no CR, LF or NUL in the
**    value);
**  - a refusal leaves a non-empty, one-line, printable message;
**  - messages never show a URL or a header value: replacing their letters
**    and digits by others leaves the message unchanged (they may hold
**    secrets).
*/
#include <string.h>

#include "fuzz.h"
#include "httpcheck.h"

static int ref_tchar(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
         (c >= 'A' && c <= 'Z') ||
         (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static int ref_token(const char *s, size_t n) {
  size_t i;
  if (n == 0) return 0;
  for (i = 0; i < n; i++)
    if (!ref_tchar((unsigned char)s[i])) return 0;
  return 1;
}

static int prefix_ci(const char *s, size_t n, const char *p) {
  size_t i, pn = strlen(p);
  if (n < pn) return 0;
  for (i = 0; i < pn; i++) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = (char)(c + 32);
    if (c != p[i]) return 0;
  }
  return 1;
}

static int ref_url(const char *s, size_t n) {
  size_t i, scheme;
  for (i = 0; i < n; i++)
    if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f) return 0;
  scheme = prefix_ci(s, n, "http://") ? 7 : prefix_ci(s, n, "https://") ? 8 : 0;
  return scheme > 0 && n > scheme && s[scheme] != '/';
}

/* A copy of s with letters and digits from position `from` on rotated
** (a->b, z->a, 9->0 ...): same shape, different content. */
static char *rotate(const char *s, size_t n, size_t from) {
  char *r = fuzz_copy((const uint8_t *)s, n);
  if (from > n) from = n;
  size_t i;
  for (i = from; i < n; i++) {
    char c = r[i];
    if (c >= 'a' && c <= 'z') r[i] = c == 'z' ? 'a' : (char)(c + 1);
    else if (c >= 'A' && c <= 'Z') r[i] = c == 'Z' ? 'A' : (char)(c + 1);
    else if (c >= '0' && c <= '9') r[i] = c == '9' ? '0' : (char)(c + 1);
  }
  return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char err[256], err2[256], *s, *r;
  size_t n, nlen, i;
  int ok, bad_value = 0;
  if (size < 1) return 0;
  n = size - 1;
  s = fuzz_copy(data + 1, n);

  FUZZ_CHECK(cv_is_token(s, n) == ref_token(s, n), "token %.*s", (int)n, s);

  ok = cv_check_method(s, n, err, sizeof err);
  FUZZ_CHECK(ok == ref_token(s, n), "method");
  if (!ok) FUZZ_CHECK(fuzz_message_ok(err, sizeof err), "method message");

  ok = cv_check_url(s, n, err, sizeof err);
  FUZZ_CHECK(ok == ref_url(s, n), "url %.*s: %d", (int)n, s, ok);
  if (!ok) {
    /* the first 7 or 8 bytes decide the scheme: they stay */
    size_t from = prefix_ci(s, n, "http://") ? 7 : 8;
    FUZZ_CHECK(fuzz_message_ok(err, sizeof err), "url message");
    r = rotate(s, n, from);
    FUZZ_CHECK(!cv_check_url(r, n, err2, sizeof err2) && strcmp(err, err2) == 0,
               "url message depends on the url: %s / %s", err, err2);
    free(r);
  }

  nlen = n ? data[0] % (n + 1) : 0;
  for (i = nlen; i < n; i++)
    if (s[i] == '\r' || s[i] == '\n' || s[i] == '\0') bad_value = 1;
  ok = cv_check_header(s, nlen, s + nlen, n - nlen, err, sizeof err);
  FUZZ_CHECK(ok == (ref_token(s, nlen) && !bad_value), "header %d", ok);
  if (!ok) {
    FUZZ_CHECK(fuzz_message_ok(err, sizeof err), "header message");
    r = rotate(s, n, nlen); /* the name stays, the value changes */
    FUZZ_CHECK(!cv_check_header(r, nlen, r + nlen, n - nlen, err2, sizeof err2) &&
                   strcmp(err, err2) == 0,
               "header message depends on the value: %s / %s", err, err2);
    free(r);
  }
  free(s);
  return 0;
}
