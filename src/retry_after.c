/*
** retry_after.c - Retry-After / HTTP-date parsing (see retry_after.h).
**
** Strict: field widths, separators, names ("GMT", day and month names are
** case-sensitive per RFC 9110) and ranges are all checked; the day-of-week
** is checked for form but not for consistency with the date, as RFC 9110
** asks nothing more of recipients.
*/
#include <string.h>

#include "civil.h"
#include "retry_after.h"

static const char *const day_short[7] = {"Mon", "Tue", "Wed", "Thu",
                                         "Fri", "Sat", "Sun"};
static const char *const day_long[7] = {"Monday", "Tuesday", "Wednesday",
                                        "Thursday", "Friday", "Saturday",
                                        "Sunday"};
static const char *const month_names[12] = {"Jan", "Feb", "Mar", "Apr",
                                            "May", "Jun", "Jul", "Aug",
                                            "Sep", "Oct", "Nov", "Dec"};

/* A cursor over the input; every reader fails (returns 0) at the end. */
typedef struct {
  const char *p, *end;
} cursor;

static int is_digit(char c) { return c >= '0' && c <= '9'; }

static int lit(cursor *c, const char *s) {
  size_t n = strlen(s);
  if ((size_t)(c->end - c->p) < n || memcmp(c->p, s, n) != 0) return 0;
  c->p += n;
  return 1;
}

/* Exactly n digits. */
static int digits(cursor *c, int n, int *out) {
  int v = 0;
  if (c->end - c->p < n) return 0;
  while (n-- > 0) {
    if (!is_digit(*c->p)) return 0;
    v = v * 10 + (*c->p++ - '0');
  }
  *out = v;
  return 1;
}

/* One of names[0..count-1]; returns the index + 1, or 0. */
static int name(cursor *c, const char *const *names, int count) {
  int i;
  for (i = 0; i < count; i++)
    if (lit(c, names[i])) return i + 1;
  return 0;
}

/* time-of-day = hour ":" minute ":" second */
static int time_of_day(cursor *c, int64_t *secs) {
  int h, m, s;
  if (!digits(c, 2, &h) || !lit(c, ":") || !digits(c, 2, &m) ||
      !lit(c, ":") || !digits(c, 2, &s))
    return 0;
  if (h > 23 || m > 59 || s > 60) return 0; /* 60: leap second */
  *secs = (int64_t)h * 3600 + m * 60 + s;
  return 1;
}

static int make_epoch(int64_t y, int m, int d, int64_t tod, int64_t *epoch) {
  if (m < 1 || d < 1 || d > cv_days_in_month(y, m)) return 0;
  *epoch = cv_days_from_civil(y, m, d) * 86400 + tod;
  return 1;
}

/* IMF-fixdate after the day name: ", 06 Nov 1994 08:49:37 GMT" */
static int imf_fixdate(cursor *c, int64_t *epoch) {
  int d, m, y;
  int64_t tod;
  if (!lit(c, ", ") || !digits(c, 2, &d) || !lit(c, " ") ||
      !(m = name(c, month_names, 12)) || !lit(c, " ") ||
      !digits(c, 4, &y) || !lit(c, " ") || !time_of_day(c, &tod) ||
      !lit(c, " GMT") || c->p != c->end)
    return 0;
  return make_epoch(y, m, d, tod, epoch);
}

/* asctime after the day name: " Nov  6 08:49:37 1994" */
static int asctime_date(cursor *c, int64_t *epoch) {
  int d, m, y;
  int64_t tod;
  if (!lit(c, " ") || !(m = name(c, month_names, 12)) || !lit(c, " "))
    return 0;
  if (lit(c, " ")) {
    if (!digits(c, 1, &d)) return 0;
  } else if (!digits(c, 2, &d)) {
    return 0;
  }
  if (!lit(c, " ") || !time_of_day(c, &tod) || !lit(c, " ") ||
      !digits(c, 4, &y) || c->p != c->end)
    return 0;
  return make_epoch(y, m, d, tod, epoch);
}

/* RFC 850 after the long day name: ", 06-Nov-94 08:49:37 GMT" */
static int rfc850_date(cursor *c, int64_t now, int64_t *epoch) {
  int d, m, yy;
  int64_t tod, now_year, year;
  int now_m, now_d;
  if (!lit(c, ", ") || !digits(c, 2, &d) || !lit(c, "-") ||
      !(m = name(c, month_names, 12)) || !lit(c, "-") ||
      !digits(c, 2, &yy) || !lit(c, " ") || !time_of_day(c, &tod) ||
      !lit(c, " GMT") || c->p != c->end)
    return 0;
  /* RFC 9110: a two-digit year that appears to be more than 50 years in
  ** the future means the most recent past year with those digits. */
  cv_civil_from_days(now / 86400 - (now % 86400 < 0), &now_year, &now_m,
                     &now_d);
  year = now_year - now_year % 100 + yy;
  if (year > now_year + 50)
    year -= 100;
  else if (year < now_year - 49) /* e.g. "30" in 2080 is 2130, not 2030 */
    year += 100;
  return make_epoch(year, m, d, tod, epoch);
}

int cv_http_date(const char *s, size_t len, int64_t now, int64_t *epoch) {
  cursor c;
  const char *start;
  c.p = s;
  c.end = s + len;
  start = c.p;
  if (name(&c, day_short, 7)) {
    if (c.p < c.end && *c.p == ',') return imf_fixdate(&c, epoch);
    if (c.p < c.end && *c.p == ' ') return asctime_date(&c, epoch);
  }
  c.p = start;
  if (name(&c, day_long, 7)) return rfc850_date(&c, now, epoch);
  return 0;
}

int cv_retry_after(const char *s, size_t len, int64_t now, int64_t *seconds) {
  const char *end = s + len;
  int64_t epoch;
  while (s < end && (*s == ' ' || *s == '\t')) s++;
  while (end > s && (end[-1] == ' ' || end[-1] == '\t')) end--;
  if (s == end) return 0;
  if (is_digit(*s)) {
    int64_t v = 0;
    for (; s < end; s++) {
      if (!is_digit(*s)) return 0;
      if (v < CV_RETRY_AFTER_MAX) v = v * 10 + (*s - '0');
    }
    *seconds = v < CV_RETRY_AFTER_MAX ? v : CV_RETRY_AFTER_MAX;
    return 1;
  }
  if (!cv_http_date(s, (size_t)(end - s), now, &epoch)) return 0;
  *seconds = epoch > now ? epoch - now : 0;
  return 1;
}
