/*
** date.h - the dd/mm/yyyy dates of the Avaamo API.
**
** Strict parsing (exactly 2/2/4 digits, a real calendar date, years
** CV_DATE_MIN_YEAR..CV_DATE_MAX_YEAR) into days since 1970-01-01, and the
** inverse formatting.  Pure C; error messages are written into a caller
** buffer and say what is wrong and what format is expected.
*/
#ifndef CONVAI_DATE_H
#define CONVAI_DATE_H

#include <stddef.h>
#include <stdint.h>

#define CV_DATE_MIN_YEAR 1970
#define CV_DATE_MAX_YEAR 9999
#define CV_DATE_LEN 10 /* strlen("dd/mm/yyyy") */

/*
** Parse s[0..len) as dd/mm/yyyy.  Returns 1 and sets *days, or 0 and
** writes a NUL-terminated message (truncated to errlen) into err.
*/
int cv_parse_date(const char *s, size_t len, int64_t *days, char *err,
                  size_t errlen);

/*
** Format a day number as "dd/mm/yyyy" into out (CV_DATE_LEN + 1 bytes).
** Returns 0 (and writes "") when the year is outside the supported range.
*/
int cv_format_date(int64_t days, char out[CV_DATE_LEN + 1]);

/* Smallest and largest day numbers cv_format_date accepts. */
int64_t cv_date_min_days(void);
int64_t cv_date_max_days(void);

#endif
