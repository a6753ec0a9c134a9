/*
** date.c - dd/mm/yyyy parsing and formatting (see date.h).
*/
#include <stdio.h>

#include "civil.h"
#include "date.h"
#include "quote.h"

#define EXPECTED "(expected dd/mm/yyyy)"

static int two(const char *p) { return (p[0] - '0') * 10 + (p[1] - '0'); }

static int is_digit(char c) { return c >= '0' && c <= '9'; }

int cv_parse_date(const char *s, size_t len, int64_t *days, char *err,
                  size_t errlen) {
  char q[CV_QUOTE_SIZE];
  int d, m, y, i;
  if (len == 0) {
    snprintf(err, errlen, "date is empty " EXPECTED);
    return 0;
  }
  cv_quote(s, len, q);
  if (len != CV_DATE_LEN || s[2] != '/' || s[5] != '/') goto bad_format;
  for (i = 0; i < CV_DATE_LEN; i++)
    if (i != 2 && i != 5 && !is_digit(s[i])) goto bad_format;
  d = two(s);
  m = two(s + 3);
  y = two(s + 6) * 100 + two(s + 8);
  if (m < 1 || m > 12) {
    snprintf(err, errlen, "%s has month %02d, which is not 01 to 12%s " EXPECTED,
             q, m, (m > 12 && d >= 1 && d <= 12) ? " (day and month swapped?)"
                                                  : "");
    return 0;
  }
  if (y < CV_DATE_MIN_YEAR || y > CV_DATE_MAX_YEAR) {
    snprintf(err, errlen, "%s has year %04d, which is not %d to %d " EXPECTED,
             q, y, CV_DATE_MIN_YEAR, CV_DATE_MAX_YEAR);
    return 0;
  }
  if (d < 1 || d > cv_days_in_month(y, m)) {
    snprintf(err, errlen, "%s is not a calendar date " EXPECTED, q);
    return 0;
  }
  *days = cv_days_from_civil(y, m, d);
  return 1;
bad_format:
  snprintf(err, errlen,
           "%s is not a date in the format dd/mm/yyyy (2-digit day, "
           "2-digit month, 4-digit year, e.g. 05/03/2024)", q);
  return 0;
}

int64_t cv_date_min_days(void) {
  return cv_days_from_civil(CV_DATE_MIN_YEAR, 1, 1);
}

int64_t cv_date_max_days(void) {
  return cv_days_from_civil(CV_DATE_MAX_YEAR, 12, 31);
}

int cv_format_date(int64_t days, char out[CV_DATE_LEN + 1]) {
  int64_t y;
  int m, d;
  out[0] = '\0';
  if (days < cv_date_min_days() || days > cv_date_max_days()) return 0;
  cv_civil_from_days(days, &y, &m, &d);
  snprintf(out, CV_DATE_LEN + 1, "%02d/%02d/%04d", d, m, (int)y);
  return 1;
}
