/*
** fuzz_retry_after.c - cv_retry_after and cv_http_date (src/retry_after.c).
**
** Input: 5 bytes that choose "now" (any second from 1970 to 9999), then
** the header value.  Properties:
**  - delay-seconds: an all-digit value (after trimming spaces/tabs) is
**    accepted and gives the number, clamped to CV_RETRY_AFTER_MAX;
**  - an accepted HTTP-date formats back (IMF-fixdate, computed here with
**    the calendar functions) to a string that parses to the same instant,
**    and an IMF-fixdate input reads back as the same text (leap second
**    60 aside, which rolls over);
**  - RFC 850 two-digit years resolve within [now - 49 y, now + 50 y];
**  - a date gives max(0, date - now), never a negative delay;
**  - surrounding spaces and tabs never change the result;
**  - an instant within 40 years of now (chosen from the input), written
**    in each of the three formats here, parses back to that instant.
*/
#include <string.h>

#include "civil.h"
#include "fuzz.h"
#include "retry_after.h"

#define MAX_NOW INT64_C(253402300799) /* 9999-12-31T23:59:59Z */

static const char *const days[7] = {"Thu", "Fri", "Sat", "Sun",
                                    "Mon", "Tue", "Wed"}; /* 1970-01-01 */
static const char *const long_days[7] = {"Thursday", "Friday", "Saturday",
                                         "Sunday", "Monday", "Tuesday",
                                         "Wednesday"};
static const char *const months[12] = {"Jan", "Feb", "Mar", "Apr",
                                       "May", "Jun", "Jul", "Aug",
                                       "Sep", "Oct", "Nov", "Dec"};

/* IMF-fixdate of epoch (year 0..9999 only); returns its length. */
static size_t imf(int64_t epoch, char out[64]) {
  int64_t d = epoch / 86400 - (epoch % 86400 < 0), s = epoch - d * 86400, y;
  int m, day, w = (int)(((d % 7) + 7) % 7);
  cv_civil_from_days(d, &y, &m, &day);
  return (size_t)snprintf(out, 64, "%s, %02d %s %04d %02d:%02d:%02d GMT",
                          days[w], day, months[m - 1], (int)y,
                          (int)(s / 3600), (int)(s / 60 % 60), (int)(s % 60));
}

/* epoch in the RFC 850 format (fmt 1) or asctime (fmt 2). */
static size_t other_format(int64_t epoch, int fmt, char out[64]) {
  int64_t d = epoch / 86400, s = epoch - d * 86400, y;
  int m, day, w = (int)(d % 7);
  cv_civil_from_days(d, &y, &m, &day);
  if (fmt == 1)
    return (size_t)snprintf(out, 64, "%s, %02d-%s-%02d %02d:%02d:%02d GMT",
                            long_days[w], day, months[m - 1], (int)(y % 100),
                            (int)(s / 3600), (int)(s / 60 % 60), (int)(s % 60));
  return (size_t)snprintf(out, 64, "%s %s %2d %02d:%02d:%02d %04d", days[w],
                          months[m - 1], day, (int)(s / 3600),
                          (int)(s / 60 % 60), (int)(s % 60), (int)y);
}

/* Every format of an instant near now parses back to it. */
static void formats_parse(int64_t now, int64_t instant) {
  char text[64];
  size_t n;
  int64_t epoch = -1, secs = -1;
  int fmt;
  for (fmt = 0; fmt < 3; fmt++) {
    n = fmt == 0 ? imf(instant, text) : other_format(instant, fmt, text);
    FUZZ_CHECK(cv_http_date(text, n, now, &epoch) && epoch == instant,
               "%s at %lld: %lld, expected %lld", text, (long long)now,
               (long long)epoch, (long long)instant);
    FUZZ_CHECK(cv_retry_after(text, n, now, &secs) &&
                   secs == (instant > now ? instant - now : 0),
               "Retry-After %s at %lld: %lld", text, (long long)now,
               (long long)secs);
  }
}

static int year_of(int64_t epoch) {
  int64_t y;
  int m, d;
  cv_civil_from_days(epoch / 86400 - (epoch % 86400 < 0), &y, &m, &d);
  return (int)y;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  int64_t now = 0, secs = 0, secs2 = 0, epoch = 0, epoch2 = 0;
  size_t i, len, b, e;
  char *s, *padded, canon[64];
  int ok, all_digits;
  if (size < 5) return 0;
  for (i = 0; i < 5; i++) now = now * 256 + data[i];
  now %= MAX_NOW + 1;
  data += 5;
  len = size - 5;
  s = fuzz_copy(data, len);

  ok = cv_retry_after(s, len, now, &secs);

  /* delay-seconds, against a reference */
  for (b = 0; b < len && (s[b] == ' ' || s[b] == '\t'); b++) {}
  for (e = len; e > b && (s[e - 1] == ' ' || s[e - 1] == '\t'); e--) {}
  all_digits = e > b;
  for (i = b; i < e; i++)
    if (s[i] < '0' || s[i] > '9') all_digits = 0;
  if (all_digits) {
    int64_t v = 0;
    for (i = b; i < e && v < CV_RETRY_AFTER_MAX; i++) v = v * 10 + (s[i] - '0');
    if (v > CV_RETRY_AFTER_MAX) v = CV_RETRY_AFTER_MAX;
    FUZZ_CHECK(ok && secs == v, "delay-seconds: ok %d, %lld, expected %lld",
               ok, (long long)secs, (long long)v);
  }
  if (ok) FUZZ_CHECK(secs >= 0, "negative delay %lld", (long long)secs);

  /* HTTP-dates */
  if (!all_digits && e > b) {
    int date_ok = cv_http_date(s + b, e - b, now, &epoch);
    FUZZ_CHECK(date_ok == ok, "cv_retry_after %d but cv_http_date %d", ok,
               date_ok);
    if (date_ok) {
      size_t n;
      FUZZ_CHECK(secs == (epoch > now ? epoch - now : 0),
                 "delay %lld for date %lld at %lld", (long long)secs,
                 (long long)epoch, (long long)now);
      FUZZ_CHECK(year_of(epoch) >= 0 && year_of(epoch) <= 10099,
                 "year %d", year_of(epoch));
      if (s[b + 3] == ',' || s[b + 3] == ' ') { /* IMF-fixdate, asctime */
        /* (23:59:60 on 31 Dec 9999 is the first second of 10000) */
        FUZZ_CHECK(year_of(epoch - 1) <= 9999, "4-digit year %d",
                   year_of(epoch));
      } else { /* RFC 850: a two-digit year near now */
        int y = year_of(epoch), ny = year_of(now);
        /* 31 Dec 23:59:60 is the next year's first second */
        FUZZ_CHECK(y >= ny - 49 && y <= ny + 51, "RFC 850 year %d at %d", y,
                   ny);
      }
      if (year_of(epoch) <= 9999) {
        n = imf(epoch, canon);
        FUZZ_CHECK(cv_http_date(canon, n, now, &epoch2) && epoch2 == epoch,
                   "%.*s -> %lld -> %s -> %lld", (int)(e - b), s + b,
                   (long long)epoch, canon, (long long)epoch2);
        if (e - b == n && s[b + 3] == ',' && s[b + 23] != '6')
          FUZZ_CHECK(memcmp(canon + 5, s + b + 5, n - 5) == 0,
                     "%.*s formats back as %s", (int)n, s + b, canon);
      }
    }
  }

  /* an instant within 40 years of now, in years 1970..9999 */
  {
    const int64_t span = INT64_C(40) * 365 * 86400;
    uint64_t r = 0;
    int64_t off, instant;
    for (i = 0; i < len && i < 8; i++) r = r << 8 | (unsigned char)s[i];
    off = (int64_t)(r % (uint64_t)(2 * span + 1)) - span;
    instant = now + off;
    if (instant < 0 || instant > MAX_NOW) instant = now - off;
    formats_parse(now, instant);
  }

  /* surrounding whitespace is ignored */
  padded = (char *)malloc(len + 4);
  if (padded == NULL) abort();
  memcpy(padded, " \t", 2);
  if (len) memcpy(padded + 2, s, len);
  memcpy(padded + 2 + len, "\t ", 2);
  FUZZ_CHECK(cv_retry_after(padded, len + 4, now, &secs2) == ok &&
                 (!ok || secs2 == secs),
             "padding changed the result");
  free(padded);
  free(s);
  return 0;
}
