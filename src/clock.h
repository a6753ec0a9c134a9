/*
** clock.h - a monotonic clock (seconds, as a double).
**
** For measuring elapsed time and, later, pacing requests: it never jumps
** when the wall clock is set.
*/
#ifndef CONVAI_CLOCK_H
#define CONVAI_CLOCK_H

/* Seconds since an arbitrary fixed point (CLOCK_MONOTONIC). */
double cv_monotonic(void);

#endif
