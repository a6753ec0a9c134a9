/*
** clock.c - the clocks of clock.h (POSIX clock_gettime).
*/
#define _POSIX_C_SOURCE 199309L
#include <time.h>

#include "clock.h"

double cv_monotonic(void) {
  struct timespec ts;
  if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) return 0.0;
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double cv_realtime(void) {
  struct timespec ts;
  if (clock_gettime(CLOCK_REALTIME, &ts) != 0) return 0.0;
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
