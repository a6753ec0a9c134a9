/*
** clock.h - the monotonic and the wall clock (seconds, as a double).
**
** For measuring elapsed time and, later, pacing requests: it never jumps
** when the wall clock is set.
*/
#ifndef CONVAI_CLOCK_H
#define CONVAI_CLOCK_H

/* Seconds since an arbitrary fixed point (CLOCK_MONOTONIC). */
double cv_monotonic(void);

/* Seconds since the epoch (CLOCK_REALTIME): the same for every process of
** the machine, for state shared between processes; it may jump. */
double cv_realtime(void);

#endif
