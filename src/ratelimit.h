/*
** ratelimit.h - a token bucket that never exceeds a strict window.
**
** Design note.  Vonage AI Studio allows N sessions per second per agent
** and answers 429 as soon as a sliding window sees more (the sandbox
** models it the same way).  The limiter must therefore guarantee: never
** more than `burst` grants in any half-open interval [t, t + burst/rate).
**
** A classic token bucket (capacity b, refilled continuously at r tokens
** per second) does not: it grants b at once and then one every 1/r
** seconds, i.e. 2b - 1 grants in less than b/r seconds.  So the tokens of
** this bucket come back one by one, each exactly `burst/rate` seconds
** after it was taken (a "sliding window log"): the bucket remembers when
** each of its `burst` tokens was last taken, in a ring ordered oldest
** first.  A token is available when it was never taken or was taken at
** least burst/rate seconds ago.  With burst 1 (the default) this is the
** plain token bucket: one grant every 1/rate seconds.  The long-run rate
** is `rate` either way; burst only decides how bunched grants may be.
**
** Time is injected (`now`, seconds on any monotonic clock), so the
** functions are pure and deterministic: no clock, no sleep, no malloc, no
** Lua.  The struct has a fixed size (CV_BUCKET_MAX_BURST slots) so that it
** can live in a Lua userdata or on the stack of a fuzz harness.
**
** After a 429, cv_bucket_penalize blocks the bucket until now + seconds
** (Retry-After); tokens taken before stay taken.
*/
#ifndef CONVAI_RATELIMIT_H
#define CONVAI_RATELIMIT_H

#include <stddef.h>

#define CV_BUCKET_MAX_BURST 256

typedef struct cv_bucket {
  double rate;          /* tokens per second: finite, > 0 */
  double window;        /* burst / rate: how long a taken token is away */
  double blocked_until; /* no token before this time (cv_bucket_penalize) */
  int burst;            /* capacity: 1 .. CV_BUCKET_MAX_BURST */
  int head;             /* ring index of the oldest taken token */
  int count;            /* tokens ever taken, at most burst */
  double taken[CV_BUCKET_MAX_BURST]; /* when, oldest first from head */
} cv_bucket;

/*
** Check a rate and a burst (a double, so that 1.5 can be reported).
** Returns 1, or 0 and writes a NUL-terminated message (truncated to
** errlen) naming the wrong value: rate must be finite and > 0, burst an
** integer from 1 to CV_BUCKET_MAX_BURST.
*/
int cv_bucket_check(double rate, double burst, char *err, size_t errlen);

/*
** A full bucket.  Returns 0 (b untouched) if cv_bucket_check would refuse
** rate or burst.
*/
int cv_bucket_init(cv_bucket *b, double rate, int burst);

/*
** Change rate and burst, keeping the history: the most recent taken
** tokens (up to the new burst) stay taken, and now count against the new
** window.  Returns 0 (b untouched) on bad values.
*/
int cv_bucket_set(cv_bucket *b, double rate, int burst);

/*
** Take n tokens (1 <= n <= burst) at time now.  Returns 0 when they were
** taken, else the seconds to wait until n tokens are available (nothing
** taken), or -1 if n is out of range.  A `now` earlier than the latest
** take is treated as that time (the ring stays ordered).
*/
double cv_bucket_take(cv_bucket *b, double now, int n);

/* Tokens available at time now (0 .. burst; 0 while penalized). */
int cv_bucket_available(const cv_bucket *b, double now);

/*
** After a refusal (HTTP 429): no token before now + seconds (seconds
** finite and >= 0; a longer earlier penalty is kept).  Returns 0 on a bad
** seconds value.
*/
int cv_bucket_penalize(cv_bucket *b, double now, double seconds);

#endif
