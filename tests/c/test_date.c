/*
** test_date.c - dd/mm/yyyy parsing and formatting (date.c).
*/
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "date.h"

static char err[256];

static int64_t parse(const char *s) {
  int64_t d = -999999;
  err[0] = '\0';
  if (!cv_parse_date(s, strlen(s), &d, err, sizeof err)) return -999999;
  return d;
}

static void test_valid(void) {
  CHECK_INT(parse("01/01/1970"), 0);
  CHECK_INT(parse("02/01/1970"), 1);
  CHECK_INT(parse("29/02/2024"), 19782);
  CHECK_INT(parse("29/02/2000"), 11016);
  CHECK_INT(parse("31/12/9999"), 2932896);
  CHECK_INT(parse("30/04/2024"), 19843);
  CHECK_INT(parse("31/01/2024"), 19753);
  CHECK_INT(parse("28/02/2023"), 19416);
}

static void test_invalid(void) {
  CHECK_INT(parse("29/02/2023"), -999999); /* not a leap year */
  CHECK_STR(err, "\"29/02/2023\" is not a calendar date (expected "
                 "dd/mm/yyyy)");
  CHECK_INT(parse("29/02/1900"), -999999); /* below range anyway */
  CHECK_INT(parse("29/02/2100"), -999999); /* century, not leap */
  CHECK_HAS(err, "not a calendar date");
  CHECK_INT(parse("31/04/2024"), -999999); /* April has 30 days */
  CHECK_STR(err, "\"31/04/2024\" is not a calendar date (expected "
                 "dd/mm/yyyy)");
  CHECK_INT(parse("31/02/2024"), -999999);
  CHECK_INT(parse("00/01/2024"), -999999);
  CHECK_HAS(err, "not a calendar date");
  CHECK_INT(parse("32/01/2024"), -999999);
  CHECK_INT(parse("15/13/2024"), -999999);
  CHECK_HAS(err, "month 13");
  CHECK_HAS(err, "dd/mm/yyyy");
  CHECK_INT(parse("12/25/2024"), -999999); /* US order */
  CHECK_HAS(err, "swapped");
  CHECK_INT(parse("15/00/2024"), -999999);
  CHECK_HAS(err, "month 00");
  CHECK_INT(parse("31/12/1969"), -999999);
  CHECK_HAS(err, "year 1969");
  CHECK_INT(parse("01/01/0000"), -999999);
}

static void test_format_errors(void) {
  static const char *const bad[] = {
      "1/2/2024", "01/2/2024", "01/02/24", "2024-02-01", "01-02-2024",
      "01/02/2024 ", " 01/02/2024", "01/02/20245", "aa/bb/cccc",
      "01/02/202x", "+1/02/2024", "01//2/2024", "01/02/-024", NULL};
  int i;
  for (i = 0; bad[i] != NULL; i++) {
    CHECK_AT(parse(bad[i]) == -999999, __FILE__, __LINE__,
             "accepted \"%s\"", bad[i]);
    CHECK_HAS(err, "format dd/mm/yyyy");
  }
  CHECK_INT(parse(""), -999999);
  CHECK_STR(err, "date is empty (expected dd/mm/yyyy)");
  {
    int64_t d;
    CHECK(cv_parse_date("01/02/2024", 10, &d, err, sizeof err));
    CHECK(!cv_parse_date("01/02\0/024", 10, &d, err, sizeof err));
    CHECK_HAS(err, "\"01/02?/024\""); /* NUL shown as '?' */
  }
  /* long input is truncated in the message */
  CHECK_INT(parse("0123456789012345678901234567890123456789012345678901234"),
            -999999);
  CHECK_HAS(err, "...\"");
  CHECK(strlen(err) < 200);
  /* small error buffers truncate, never overflow */
  {
    char small[8];
    int64_t d;
    CHECK(!cv_parse_date("xx", 2, &d, small, sizeof small));
    CHECK_INT(strlen(small), 7);
  }
}

static void test_format(void) {
  char out[CV_DATE_LEN + 1];
  int64_t z;
  CHECK(cv_format_date(0, out));
  CHECK_STR(out, "01/01/1970");
  CHECK(cv_format_date(19782, out));
  CHECK_STR(out, "29/02/2024");
  CHECK(cv_format_date(2932896, out));
  CHECK_STR(out, "31/12/9999");
  CHECK(!cv_format_date(-1, out));
  CHECK_STR(out, "");
  CHECK(!cv_format_date(2932897, out));
  CHECK(!cv_format_date(INT64_MAX, out));
  CHECK(!cv_format_date(INT64_MIN, out));
  CHECK_INT(cv_date_min_days(), 0);
  CHECK_INT(cv_date_max_days(), 2932896);
  /* round trip over the whole supported range */
  for (z = cv_date_min_days(); z <= cv_date_max_days(); z += 1) {
    int64_t back;
    if (!cv_format_date(z, out) ||
        !cv_parse_date(out, strlen(out), &back, err, sizeof err) ||
        back != z) {
      CHECK_AT(0, __FILE__, __LINE__, "round trip of day %lld (%s)",
               (long long)z, out);
      return;
    }
  }
  CHECK(1);
}

int main(void) {
  test_valid();
  test_invalid();
  test_format_errors();
  test_format();
  return check_done("date");
}
