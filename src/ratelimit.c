/*
** ratelimit.c - the strict-window token bucket of ratelimit.h.
**
** Design note: the ring `taken` holds the times of the last `count` takes
** (count <= burst), oldest at `head`; tokens never taken are the
** `burst - count` first ones available.  Because takes are appended at
** non-decreasing times, the k-th oldest taken token is always the next to
** come back, so taking n tokens only needs one look at the ring (O(1)),
** and counting the available ones is a scan from the oldest (O(burst)).
** Every function checks its inputs (a fuzz harness may pass anything) and
** leaves the bucket untouched when it refuses them.
*/
#include <math.h>
#include <stdio.h>

#include "ratelimit.h"

static int bad_rate(double rate) { return !(rate > 0) || !isfinite(rate); }

int cv_bucket_check(double rate, double burst, char *err, size_t errlen) {
  if (bad_rate(rate)) {
    snprintf(err, errlen,
             "rate must be a positive number of requests per second, got %g",
             rate);
    return 0;
  }
  if (!(burst >= 1 && burst <= CV_BUCKET_MAX_BURST) ||
      burst != (double)(int)burst) {
    snprintf(err, errlen, "burst must be an integer from 1 to %d, got %g",
             CV_BUCKET_MAX_BURST, burst);
    return 0;
  }
  if (!isfinite(burst / rate)) {
    snprintf(err, errlen,
             "rate must be a positive number of requests per second, got %g "
             "(too small for a burst of %d)", rate, (int)burst);
    return 0;
  }
  return 1;
}

static int valid(double rate, int burst) {
  return !bad_rate(rate) && burst >= 1 && burst <= CV_BUCKET_MAX_BURST &&
         isfinite((double)burst / rate);
}

int cv_bucket_init(cv_bucket *b, double rate, int burst) {
  int i;
  if (!valid(rate, burst)) return 0;
  b->rate = rate;
  b->burst = burst;
  b->window = (double)burst / rate;
  b->blocked_until = -HUGE_VAL;
  b->head = b->count = 0;
  for (i = 0; i < CV_BUCKET_MAX_BURST; i++) b->taken[i] = 0.0;
  return 1;
}

int cv_bucket_set(cv_bucket *b, double rate, int burst) {
  double keep[CV_BUCKET_MAX_BURST];
  int n, i;
  if (!valid(rate, burst)) return 0;
  n = b->count < burst ? b->count : burst; /* the n most recent takes */
  for (i = 0; i < n; i++)
    keep[i] = b->taken[(b->head + b->count - n + i) % b->burst];
  for (i = 0; i < n; i++) b->taken[i] = keep[i];
  b->rate = rate;
  b->burst = burst;
  b->window = (double)burst / rate;
  b->head = 0;
  b->count = n;
  return 1;
}

/* Time of the most recent take (the ring is in time order). */
static double latest(const cv_bucket *b) {
  return b->taken[(b->head + b->count - 1) % b->burst];
}

double cv_bucket_take(cv_bucket *b, double now, int n) {
  double ready = b->blocked_until;
  int unused = b->burst - b->count;
  if (n < 1 || n > b->burst || !isfinite(now)) return -1.0;
  if (b->count > 0 && now < latest(b)) now = latest(b);
  if (n > unused) { /* the (n - unused)-th oldest taken token must be back */
    double back = b->taken[(b->head + n - unused - 1) % b->burst] + b->window;
    if (back > ready) ready = back;
  }
  if (ready > now) return ready - now;
  while (n-- > 0) {
    if (b->count == b->burst) { /* reuse the oldest slot */
      b->head = (b->head + 1) % b->burst;
      b->count--;
    }
    b->taken[(b->head + b->count) % b->burst] = now;
    b->count++;
  }
  return 0.0;
}

int cv_bucket_available(const cv_bucket *b, double now) {
  int n = b->burst - b->count, i;
  if (!(now >= b->blocked_until)) return 0;
  for (i = 0; i < b->count; i++) {
    if (!(b->taken[(b->head + i) % b->burst] + b->window <= now)) break;
    n++;
  }
  return n;
}

int cv_bucket_penalize(cv_bucket *b, double now, double seconds) {
  double until = now + seconds;
  if (!(seconds >= 0) || !isfinite(until)) return 0;
  if (until > b->blocked_until) b->blocked_until = until;
  return 1;
}
