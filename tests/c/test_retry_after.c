/*
** test_retry_after.c - Retry-After and HTTP-date parsing (retry_after.c)
** and the calendar arithmetic under it (civil.c).
*/
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "civil.h"
#include "retry_after.h"

#define T1994 INT64_C(784111777) /* Sun, 06 Nov 1994 08:49:37 GMT */
#define NOW2025 INT64_C(1735689600) /* Wed, 01 Jan 2025 00:00:00 GMT */

static int64_t ra(const char *s, int64_t now) {
  int64_t v = -12345;
  if (!cv_retry_after(s, strlen(s), now, &v)) return -1;
  return v;
}

static int64_t date(const char *s, int64_t now) {
  int64_t v = -12345;
  if (!cv_http_date(s, strlen(s), now, &v)) return -1;
  return v;
}

static void test_civil(void) {
  int64_t y;
  int m, d;
  int64_t z;
  CHECK_INT(cv_days_from_civil(1970, 1, 1), 0);
  CHECK_INT(cv_days_from_civil(1969, 12, 31), -1);
  CHECK_INT(cv_days_from_civil(2000, 3, 1), 11017);
  CHECK_INT(cv_days_from_civil(2024, 2, 29), 19782);
  CHECK_INT(cv_days_from_civil(1600, 1, 1), -135140);
  CHECK(cv_is_leap(2000) && cv_is_leap(2024) && !cv_is_leap(1900) &&
        !cv_is_leap(2023) && cv_is_leap(1600) && !cv_is_leap(2100));
  CHECK_INT(cv_days_in_month(2023, 2), 28);
  CHECK_INT(cv_days_in_month(2024, 2), 29);
  CHECK_INT(cv_days_in_month(1900, 2), 28);
  CHECK_INT(cv_days_in_month(2024, 4), 30);
  CHECK_INT(cv_days_in_month(2024, 12), 31);
  CHECK_INT(cv_days_in_month(2024, 0), 0);
  CHECK_INT(cv_days_in_month(2024, 13), 0);
  /* round trip over ~ -400 .. +10000 years, every 97 days */
  for (z = -1000000; z < 3000000; z += 97) {
    cv_civil_from_days(z, &y, &m, &d);
    if (cv_days_from_civil(y, m, d) != z || d < 1 ||
        d > cv_days_in_month(y, m)) {
      CHECK_AT(0, __FILE__, __LINE__, "civil round trip of day %lld",
               (long long)z);
      return;
    }
  }
  CHECK(1);
  cv_civil_from_days(-1, &y, &m, &d);
  CHECK(y == 1969 && m == 12 && d == 31);
  cv_civil_from_days(19782, &y, &m, &d);
  CHECK(y == 2024 && m == 2 && d == 29);
}

static void test_delta(void) {
  CHECK_INT(ra("0", NOW2025), 0);
  CHECK_INT(ra("120", NOW2025), 120);
  CHECK_INT(ra("  120\t", NOW2025), 120); /* OWS around the value */
  CHECK_INT(ra("007", NOW2025), 7);
  CHECK_INT(ra("2147483647", NOW2025), 2147483647);
  CHECK_INT(ra("2147483648", NOW2025), CV_RETRY_AFTER_MAX);
  CHECK_INT(ra("99999999999999999999999999999", NOW2025), CV_RETRY_AFTER_MAX);
  CHECK_INT(ra("-5", NOW2025), -1);
  CHECK_INT(ra("+5", NOW2025), -1);
  CHECK_INT(ra("1.5", NOW2025), -1);
  CHECK_INT(ra("12 34", NOW2025), -1);
  CHECK_INT(ra("12s", NOW2025), -1);
  CHECK_INT(ra("0x10", NOW2025), -1);
  CHECK_INT(ra("", NOW2025), -1);
  CHECK_INT(ra("   ", NOW2025), -1);
  CHECK_INT(ra("soon", NOW2025), -1);
  {
    int64_t v;
    CHECK(!cv_retry_after("12\0" "3", 4, NOW2025, &v)); /* embedded NUL */
  }
}

static void test_dates(void) {
  /* the three formats of RFC 9110 for the same instant */
  CHECK_INT(date("Sun, 06 Nov 1994 08:49:37 GMT", NOW2025), T1994);
  CHECK_INT(date("Sunday, 06-Nov-94 08:49:37 GMT", NOW2025), T1994);
  CHECK_INT(date("Sun Nov  6 08:49:37 1994", NOW2025), T1994);
  CHECK_INT(date("Sun Nov 16 08:49:37 1994", NOW2025), T1994 + 10 * 86400);
  CHECK_INT(date("Thu, 01 Jan 1970 00:00:00 GMT", NOW2025), 0);
  {
    int64_t v = 0; /* before the epoch: negative, still a valid date */
    CHECK(cv_http_date("Wed, 31 Dec 1969 23:59:59 GMT", 29, NOW2025, &v));
    CHECK_INT(v, -1);
  }
  CHECK_INT(date("Thu, 29 Feb 2024 12:00:00 GMT", NOW2025),
            INT64_C(1709208000));
  CHECK_INT(date("Fri, 31 Dec 9999 23:59:59 GMT", NOW2025),
            INT64_C(253402300799));
  CHECK_INT(date("Sat, 30 Jun 2012 23:59:60 GMT", NOW2025),
            INT64_C(1341100800)); /* leap second = next midnight */
  /* RFC 850 two-digit years: > 50 years ahead means the past century */
  CHECK_INT(date("Wednesday, 01-Jan-25 00:00:00 GMT", NOW2025), NOW2025);
  CHECK_INT(date("Monday, 01-Jan-75 00:00:00 GMT", NOW2025),
            INT64_C(3313526400)); /* 2075: exactly 50 years ahead */
  CHECK_INT(date("Friday, 01-Jan-76 00:00:00 GMT", NOW2025),
            INT64_C(189302400)); /* 1976 */
  /* ... and a year more than 50 years back means the next century */
  CHECK_INT(date("Thursday, 01-Jan-30 00:00:00 GMT", INT64_C(3471292800)),
            INT64_C(5049129600)); /* in 2080, "30" is 2130 */
  CHECK_INT(date("Friday, 01-Jan-29 00:00:00 GMT", INT64_C(3471292800)),
            INT64_C(5017593600)); /* in 2080, "29" is 2129, not 51 years back */
  CHECK_INT(date("Friday, 01-Jan-31 00:00:00 GMT", INT64_C(3471292800)),
            INT64_C(1924992000)); /* in 2080, "31" is 2031: 2131 is > 50 ahead */
  /* weekday is not checked against the date (RFC 9110 asks nothing) */
  CHECK_INT(date("Mon, 06 Nov 1994 08:49:37 GMT", NOW2025), T1994);
}

static void test_bad_dates(void) {
  static const char *const bad[] = {
      "Sun, 06 Nov 1994 08:49:37 UTC",   /* not GMT */
      "Sun, 06 Nov 1994 08:49:37 gmt",   /* case-sensitive */
      "sun, 06 Nov 1994 08:49:37 GMT",
      "Sun, 06 nov 1994 08:49:37 GMT",
      "Sun, 6 Nov 1994 08:49:37 GMT",    /* 2DIGIT day */
      "Sun, 06 Nov 94 08:49:37 GMT",     /* 4DIGIT year */
      "Sun, 06 Nov 1994 8:49:37 GMT",
      "Sun, 06 Nov 1994 08:49:37 GMT ",  /* trailing garbage after trim? */
      "Sun, 06 Nov 1994 08:49:37",
      "Sun, 31 Nov 1994 08:49:37 GMT",   /* November has 30 days */
      "Sun, 29 Feb 2023 08:49:37 GMT",   /* not a leap year */
      "Sun, 00 Nov 1994 08:49:37 GMT",
      "Sun, 06 Nov 1994 24:00:00 GMT",
      "Sun, 06 Nov 1994 08:60:00 GMT",
      "Sun, 06 Nov 1994 08:49:61 GMT",
      "Sun, 06 Xyz 1994 08:49:37 GMT",
      "Sunday, 06 Nov 1994 08:49:37 GMT", /* long name, IMF layout */
      "Sun, 06-Nov-94 08:49:37 GMT",      /* short name, RFC 850 layout */
      "Sunday, 06-Nov-1994 08:49:37 GMT",
      "Sun Nov 6 08:49:37 1994",          /* asctime needs 2 chars of day */
      "Sun Nov 06 08:49:37 94",
      "Sun Nov  6 08:49:37 1994 GMT",
      "Funday, 06-Nov-94 08:49:37 GMT",
      "Sun",
      "Sun,",
      "",
      NULL};
  int i;
  for (i = 0; bad[i] != NULL; i++) {
    int64_t v;
    CHECK_AT(!cv_http_date(bad[i], strlen(bad[i]), NOW2025, &v), __FILE__,
             __LINE__, "accepted bad date \"%s\"", bad[i]);
  }
  /* as Retry-After values, surrounding whitespace is trimmed first */
  CHECK_INT(ra("Sun, 06 Nov 1994 08:49:37 GMT ", T1994 - 5), 5);
  /* every prefix of a valid date is invalid (no reads past the end) */
  {
    const char *ok = "Sunday, 06-Nov-94 08:49:37 GMT";
    size_t n;
    int64_t v;
    for (n = 0; n < strlen(ok); n++)
      CHECK(!cv_http_date(ok, n, NOW2025, &v));
  }
}

static void test_retry_dates(void) {
  CHECK_INT(ra("Sun, 06 Nov 1994 08:49:37 GMT", T1994 - 100), 100);
  CHECK_INT(ra("Sunday, 06-Nov-94 08:49:37 GMT", T1994 - 1), 1);
  CHECK_INT(ra("Sun Nov  6 08:49:37 1994", T1994 - 3600), 3600);
  /* dates in the past (or now) mean "retry now" */
  CHECK_INT(ra("Sun, 06 Nov 1994 08:49:37 GMT", T1994), 0);
  CHECK_INT(ra("Sun, 06 Nov 1994 08:49:37 GMT", NOW2025), 0);
  CHECK_INT(ra("Sun Nov  6 08:49:37 1994", NOW2025), 0);
  CHECK_INT(ra("Thu, 01 Jan 1970 00:00:00 GMT", NOW2025), 0);
  CHECK_INT(ra("Sun, 06 Nov 1994 08:49:37 GMT junk", T1994 - 1), -1);
}

int main(void) {
  test_civil();
  test_delta();
  test_dates();
  test_bad_dates();
  test_retry_dates();
  return check_done("retry_after");
}
