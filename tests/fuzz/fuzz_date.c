/*
** fuzz_date.c - cv_parse_date and cv_format_date (src/date.c), the
** dd/mm/yyyy dates of the Avaamo API.
**
** Input: the text to parse; its first 8 bytes are also read as a day
** number for the formatter, and its length picks the size of the message
** buffer (1 to 300 bytes, allocated to the byte so ASan sees an overflow).
** Properties:
**  - an accepted date is in the supported range and formats back to the
**    very same text (the format is strict, so the round trip is exact);
**  - a refused date leaves a non-empty, one-line, printable message;
**  - a day number formats iff it is within the range, and the text parses
**    back to the same day.
*/
#include <string.h>

#include "date.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *s = fuzz_copy(data, size), out[CV_DATE_LEN + 1], *err;
  size_t errlen = 1 + size % 300, i;
  int64_t days = 0, back = 0;
  uint64_t raw = 0;

  err = (char *)malloc(errlen);
  if (err == NULL) abort();
  if (cv_parse_date(s, size, &days, err, errlen)) {
    FUZZ_CHECK(days >= cv_date_min_days() && days <= cv_date_max_days(),
               "day %lld out of range", (long long)days);
    FUZZ_CHECK(cv_format_date(days, out) && size == CV_DATE_LEN &&
                   memcmp(out, s, CV_DATE_LEN) == 0,
               "%.*s -> %lld -> %s", (int)size, s, (long long)days, out);
  } else {
    FUZZ_CHECK(fuzz_message_ok(err, errlen), "bad message for %.*s",
               (int)size, s);
  }
  free(err);

  for (i = 0; i < 8 && i < size; i++) raw = raw << 8 | data[i];
  /* half the time a day near the supported range, to hit its edges */
  days = (raw & 1) ? (int64_t)raw
                   : cv_date_min_days() - 10 +
                         (int64_t)((raw >> 1) % (uint64_t)(cv_date_max_days() -
                                                           cv_date_min_days() + 20));
  if (cv_format_date(days, out)) {
    char e2[128];
    FUZZ_CHECK(days >= cv_date_min_days() && days <= cv_date_max_days(),
               "formatted %lld", (long long)days);
    FUZZ_CHECK(strlen(out) == CV_DATE_LEN &&
                   cv_parse_date(out, CV_DATE_LEN, &back, e2, sizeof e2) &&
                   back == days,
               "%lld -> %s -> %lld", (long long)days, out, (long long)back);
  } else {
    FUZZ_CHECK(out[0] == '\0' && (days < cv_date_min_days() ||
                                  days > cv_date_max_days()),
               "refused %lld", (long long)days);
  }
  free(s);
  return 0;
}
