/*
** phone.c - phone number normalisation (see phone.h).
**
** Rules, in the order they are checked:
**  - surrounding spaces/tabs are ignored; an empty number is an error;
**  - only digits, spaces, '.', '-', '(' and ')' are allowed, plus one '+'
**    as the very first character;
**  - without '+', a leading "00" is the international prefix and dropped;
**  - 8 to 15 digits must remain (E.164 allows at most 15);
**  - the first remaining digit must not be 0: country codes never start
**    with 0, so such a number is in national format (e.g. UK 07700...).
*/
#include <stdio.h>

#include "phone.h"

#define ALLOWED "use digits, with an optional leading '+', spaces, dots, " \
                "hyphens and parentheses"

static int is_digit(char c) { return c >= '0' && c <= '9'; }

static int is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

int cv_normalize_phone(const char *s, size_t len,
                       char out[CV_PHONE_MAX_DIGITS + 1], char *err,
                       size_t errlen) {
  const char *end = s + len, *p;
  char digits[CV_PHONE_MAX_DIGITS + 3]; /* room for a "00" prefix */
  size_t n = 0, skip = 0, i;
  int plus = 0;
  while (s < end && (*s == ' ' || *s == '\t')) s++;
  while (end > s && (end[-1] == ' ' || end[-1] == '\t')) end--;
  if (s == end) {
    snprintf(err, errlen, "phone number is empty");
    return 0;
  }
  for (p = s; p < end; p++) {
    char c = *p;
    if (is_digit(c)) {
      if (n < sizeof(digits)) digits[n] = c;
      n++;
    } else if (c == '+') {
      if (p != s) {
        snprintf(err, errlen,
                 "'+' is only allowed at the start of a phone number");
        return 0;
      }
      plus = 1;
    } else if (c == ' ' || c == '.' || c == '-' || c == '(' || c == ')') {
      continue;
    } else if (is_alpha(c)) {
      snprintf(err, errlen, "phone number contains the letter '%c'; " ALLOWED,
               c);
      return 0;
    } else if ((unsigned char)c > 0x20 && (unsigned char)c < 0x7f) {
      snprintf(err, errlen,
               "phone number contains the character '%c', which is not "
               "allowed; " ALLOWED, c);
      return 0;
    } else {
      snprintf(err, errlen,
               "phone number contains the byte 0x%02X, which is not "
               "allowed; " ALLOWED, (unsigned)(unsigned char)c);
      return 0;
    }
  }
  if (!plus && n >= 2 && digits[0] == '0' && digits[1] == '0') skip = 2;
  n -= skip;
  if (n < CV_PHONE_MIN_DIGITS || n > CV_PHONE_MAX_DIGITS) {
    snprintf(err, errlen,
             "phone number must have %d to %d digits including the country "
             "code, got %lu", CV_PHONE_MIN_DIGITS, CV_PHONE_MAX_DIGITS,
             (unsigned long)n);
    return 0;
  }
  if (digits[skip] == '0') {
    snprintf(err, errlen,
             "phone number must start with the country code, not 0 "
             "(e.g. 447700900123 rather than 07700900123)");
    return 0;
  }
  for (i = 0; i < n; i++) out[i] = digits[skip + i];
  out[n] = '\0';
  return 1;
}
