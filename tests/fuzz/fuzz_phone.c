/*
** fuzz_phone.c - cv_normalize_phone (src/phone.c).
**
** Input: the phone number as typed; its length picks the size of the
** message buffer (1 to 300 bytes, allocated to the byte).  Properties of
** an accepted number:
**  - the result has 8 to 15 digits and does not start with 0;
**  - it is the input's digits in order, less a "00" international prefix
**    when the input has no '+' (nothing is invented or reordered);
**  - normalising is idempotent: the result, and "+" and the result, give
**    the result again.
** A number is accepted exactly when a reference written here from the
** rules of phone.h accepts it, with the same digits; a refused number
** leaves a non-empty, one-line, printable message.
*/
#include <string.h>

#include "fuzz.h"
#include "phone.h"

/* The rules of phone.h, written plainly: 1 and the digits, or 0. */
static int reference(const char *s, size_t n, char out[CV_PHONE_MAX_DIGITS + 1]) {
  size_t b = 0, e = n, i, nd = 0, skip = 0;
  char d[CV_PHONE_MAX_DIGITS + 3];
  int plus = 0;
  while (b < e && (s[b] == ' ' || s[b] == '\t')) b++;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t')) e--;
  if (b == e) return 0;
  for (i = b; i < e; i++) {
    char c = s[i];
    if (c >= '0' && c <= '9') {
      if (nd == sizeof d) return 0; /* too many digits in any case */
      d[nd++] = c;
    } else if (c == '+' && i == b) {
      plus = 1;
    } else if (c != ' ' && c != '.' && c != '-' && c != '(' && c != ')') {
      return 0;
    }
  }
  if (!plus && nd >= 2 && d[0] == '0' && d[1] == '0') skip = 2;
  if (nd - skip < CV_PHONE_MIN_DIGITS || nd - skip > CV_PHONE_MAX_DIGITS) return 0;
  if (d[skip] == '0') return 0;
  memcpy(out, d + skip, nd - skip);
  out[nd - skip] = '\0';
  return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *s = fuzz_copy(data, size), out[CV_PHONE_MAX_DIGITS + 1], *err;
  char again[CV_PHONE_MAX_DIGITS + 1], plus[CV_PHONE_MAX_DIGITS + 2];
  char e2[256], digits[CV_PHONE_MAX_DIGITS + 2], ref[CV_PHONE_MAX_DIGITS + 1];
  size_t errlen = 1 + size % 300, i, n, nd = 0;
  int has_plus = 0, ok, ref_ok;

  err = (char *)malloc(errlen);
  if (err == NULL) abort();
  ok = cv_normalize_phone(s, size, out, err, errlen);
  ref_ok = reference(s, size, ref);
  FUZZ_CHECK(ok == ref_ok && (!ok || strcmp(out, ref) == 0),
             "%.*s: convai %d %s, reference %d %s", (int)size, s, ok,
             ok ? out : err, ref_ok, ref_ok ? ref : "");
  if (ok) {
    n = strlen(out);
    FUZZ_CHECK(n >= CV_PHONE_MIN_DIGITS && n <= CV_PHONE_MAX_DIGITS,
               "%lu digits: %s", (unsigned long)n, out);
    FUZZ_CHECK(out[0] != '0', "leading 0: %s", out);
    for (i = 0; i < n; i++)
      FUZZ_CHECK(out[i] >= '0' && out[i] <= '9', "not a digit in %s", out);
    /* the input's digits, less "00" when there is no '+' */
    for (i = 0; i < size; i++) {
      if (s[i] == '+') has_plus = 1;
      if (s[i] >= '0' && s[i] <= '9') {
        FUZZ_CHECK(nd < n + 2, "more digits in %.*s than in %s", (int)size,
                   s, out);
        digits[nd++] = s[i];
      }
    }
    FUZZ_CHECK((nd == n && memcmp(digits, out, n) == 0) ||
                   (!has_plus && nd == n + 2 && digits[0] == '0' &&
                    digits[1] == '0' && memcmp(digits + 2, out, n) == 0),
               "%.*s gave %s", (int)size, s, out);
    FUZZ_CHECK(cv_normalize_phone(out, n, again, e2, sizeof e2) &&
                   strcmp(again, out) == 0,
               "not idempotent: %s -> %s", out, again);
    plus[0] = '+';
    memcpy(plus + 1, out, n);
    FUZZ_CHECK(cv_normalize_phone(plus, n + 1, again, e2, sizeof e2) &&
                   strcmp(again, out) == 0,
               "+%s -> %s", out, again);
  } else {
    FUZZ_CHECK(fuzz_message_ok(err, errlen), "bad message for %.*s",
               (int)size, s);
  }
  free(err);
  free(s);
  return 0;
}
