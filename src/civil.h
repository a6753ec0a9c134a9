/*
** civil.h - proleptic Gregorian calendar arithmetic.
**
** Used by the HTTP-date parser (retry_after.c) and the dd/mm/yyyy date
** parser (date.c).  Pure C, no locale, no timegm/mktime: day numbers are
** days since 1970-01-01 (the Unix epoch), negative before it.  Algorithms
** after Howard Hinnant's "chrono-Compatible Low-Level Date Algorithms".
*/
#ifndef CONVAI_CIVIL_H
#define CONVAI_CIVIL_H

#include <stdint.h>

/* 1 if y is a leap year. */
int cv_is_leap(int64_t y);

/* Days in month m (1..12) of year y; 0 if m is out of range. */
int cv_days_in_month(int64_t y, int m);

/* Day number of y-m-d; m in 1..12, d in 1..31 (not range checked). */
int64_t cv_days_from_civil(int64_t y, int m, int d);

/* Inverse of cv_days_from_civil. */
void cv_civil_from_days(int64_t z, int64_t *y, int *m, int *d);

#endif
