/*
** test_ratelimit.c - the strict-window token bucket (ratelimit.c), with
** injected time: no clock, no sleeping.
**
** The central property, checked by simulate(): clients that retry exactly
** when told are granted at most `burst` requests in any half-open interval
** of burst/rate seconds, and, over a long run, `rate` per second.
*/
#include <float.h>
#include <math.h>
#include <string.h>

#include "check.h"
#include "ratelimit.h"

static char err[256];

/* Grant `count` takes of n tokens each, each as soon as allowed, starting at
** t0; grant times go to g (one entry per token).  Returns the tokens. */
static int simulate(cv_bucket *b, double t0, int count, int n, double *g) {
  double now = t0, w;
  int k = 0, guard = 0;
  while (count > 0 && guard++ < 100000) {
    w = cv_bucket_take(b, now, n);
    if (w == 0) {
      int i;
      for (i = 0; i < n; i++) g[k++] = now;
      count--;
    } else {
      CHECK_AT(w > 0, __FILE__, __LINE__, "take returned %g", w);
      if (!(w > 0)) break;
      now += w;
    }
  }
  return k;
}

/* At most burst grants in any [t, t + burst/rate): the grant burst places
** later is at least a window after. */
static int strict(const double *g, int k, int burst, double window) {
  int j;
  for (j = 0; j + burst < k; j++)
    if (!(g[j] + window <= g[j + burst])) return 0;
  return 1;
}

static void test_check(void) {
  CHECK(cv_bucket_check(1, 1, err, sizeof err));
  CHECK(cv_bucket_check(0.5, 1, err, sizeof err));
  CHECK(cv_bucket_check(1e-300, 1, err, sizeof err));
  CHECK(cv_bucket_check(DBL_MAX, CV_BUCKET_MAX_BURST, err, sizeof err));
  CHECK(cv_bucket_check(5, CV_BUCKET_MAX_BURST, err, sizeof err));
  CHECK(!cv_bucket_check(0, 1, err, sizeof err));
  CHECK_STR(err, "rate must be a positive number of requests per second, "
                 "got 0");
  CHECK(!cv_bucket_check(-3, 1, err, sizeof err));
  CHECK_STR(err, "rate must be a positive number of requests per second, "
                 "got -3");
  CHECK(!cv_bucket_check(NAN, 1, err, sizeof err));
  CHECK_HAS(err, "rate must be a positive number");
  CHECK_HAS(err, "nan");
  CHECK(!cv_bucket_check(HUGE_VAL, 1, err, sizeof err));
  CHECK_HAS(err, "got inf");
  CHECK(!cv_bucket_check(1e-307, 256, err, sizeof err)); /* window overflows */
  CHECK_HAS(err, "too small for a burst of 256");
  CHECK(!cv_bucket_check(1, 0, err, sizeof err));
  CHECK_STR(err, "burst must be an integer from 1 to 256, got 0");
  CHECK(!cv_bucket_check(1, 1.5, err, sizeof err));
  CHECK_STR(err, "burst must be an integer from 1 to 256, got 1.5");
  CHECK(!cv_bucket_check(1, 257, err, sizeof err));
  CHECK(!cv_bucket_check(1, NAN, err, sizeof err));
  CHECK(!cv_bucket_check(1, 1e300, err, sizeof err));
  {
    char small[8];
    CHECK(!cv_bucket_check(0, 1, small, sizeof small));
    CHECK_INT(strlen(small), 7);
  }
}

static void test_init(void) {
  cv_bucket b;
  memset(&b, 0x5a, sizeof b);
  CHECK(!cv_bucket_init(&b, 0, 1));
  CHECK(!cv_bucket_init(&b, 1, 0));
  CHECK(!cv_bucket_init(&b, 1, CV_BUCKET_MAX_BURST + 1));
  CHECK(!cv_bucket_init(&b, NAN, 1));
  CHECK(cv_bucket_init(&b, 2, 3));
  CHECK(b.rate == 2);
  CHECK_INT(b.burst, 3);
  CHECK(b.window == 1.5);
  CHECK_INT(cv_bucket_available(&b, 0), 3);
  CHECK_INT(cv_bucket_available(&b, -1e9), 3);
}

/* Default: 1 per second, exactly one second apart. */
static void test_one_per_second(void) {
  cv_bucket b;
  double g[20];
  int k, i;
  CHECK(cv_bucket_init(&b, 1, 1));
  CHECK(cv_bucket_take(&b, 100.0, 1) == 0);
  CHECK(cv_bucket_take(&b, 100.0, 1) == 1.0);
  CHECK(cv_bucket_take(&b, 100.25, 1) == 0.75);
  CHECK(cv_bucket_take(&b, 100.75, 1) == 0.25);
  CHECK(cv_bucket_take(&b, 101.0, 1) == 0); /* exactly one second later */
  CHECK(cv_bucket_take(&b, 101.5, 1) == 0.5);
  CHECK(cv_bucket_take(&b, 105.0, 1) == 0); /* idle: no credit saved up */
  CHECK(cv_bucket_take(&b, 105.0, 1) == 1.0);
  CHECK_INT(cv_bucket_available(&b, 105.5), 0);
  CHECK_INT(cv_bucket_available(&b, 106.0), 1);
  CHECK_INT(cv_bucket_available(&b, 1000.0), 1);

  CHECK(cv_bucket_init(&b, 1, 1));
  k = simulate(&b, 0, 10, 1, g);
  CHECK_INT(k, 10);
  for (i = 0; i < k; i++) CHECK(g[i] == (double)i);
}

/* 5 per second: burst 1 spaces them 0.2 s apart; burst 5 lets 5 through at
** once, then the next 5 a full second after. */
static void test_five_per_second(void) {
  cv_bucket b;
  double g[100];
  int k, i;
  CHECK(cv_bucket_init(&b, 5, 1));
  k = simulate(&b, 10, 26, 1, g);
  CHECK_INT(k, 26);
  CHECK(strict(g, k, 1, b.window));
  CHECK(fabs(g[25] - g[0] - 5.0) < 1e-9); /* 25 intervals of 0.2 s */
  for (i = 1; i < k; i++) CHECK(fabs(g[i] - g[i - 1] - 0.2) < 1e-9);

  CHECK(cv_bucket_init(&b, 5, 5));
  CHECK_INT(cv_bucket_available(&b, 0), 5);
  for (i = 0; i < 5; i++) CHECK(cv_bucket_take(&b, 0, 1) == 0);
  CHECK_INT(cv_bucket_available(&b, 0), 0);
  CHECK(cv_bucket_take(&b, 0, 1) == 1.0);
  CHECK(cv_bucket_take(&b, 0.2, 1) == 0.8); /* not 0: no trickle refill */
  CHECK_INT(cv_bucket_available(&b, 0.999), 0);
  CHECK_INT(cv_bucket_available(&b, 1.0), 5);
  CHECK(cv_bucket_take(&b, 1.0, 1) == 0);
  CHECK_INT(cv_bucket_available(&b, 1.0), 4);

  CHECK(cv_bucket_init(&b, 5, 5));
  k = simulate(&b, 0, 50, 1, g);
  CHECK_INT(k, 50);
  CHECK(strict(g, k, 5, b.window));
  for (i = 0; i < k; i++) CHECK(g[i] == (double)(i / 5)); /* 5 each second */
}

/* The classic bucket would let 2 * burst - 1 through in under burst/rate
** seconds; this one never more than burst, whatever the arrival pattern. */
static void test_burst_strict(void) {
  cv_bucket b;
  double g[400], now, w;
  int k = 0, i, burst;
  unsigned seed = 12345;
  CHECK(cv_bucket_init(&b, 3, 3));
  CHECK(cv_bucket_take(&b, 0.0, 1) == 0);
  CHECK(cv_bucket_take(&b, 0.5, 1) == 0);
  CHECK(cv_bucket_take(&b, 0.9, 1) == 0);
  w = cv_bucket_take(&b, 0.95, 1); /* first token back at 1.0 */
  CHECK(fabs(w - 0.05) < 1e-12);
  CHECK(cv_bucket_take(&b, 1.0, 1) == 0);
  CHECK(cv_bucket_take(&b, 1.0, 1) == 0.5);
  CHECK(cv_bucket_take(&b, 1.5, 1) == 0);
  CHECK_INT(cv_bucket_available(&b, 1.9), 1); /* the 0.9 one */

  /* random arrivals, several bursts: the window property always holds */
  for (burst = 1; burst <= 7; burst += 3) {
    CHECK(cv_bucket_init(&b, 4, burst));
    k = 0;
    now = 0;
    for (i = 0; i < 5000 && k < 400; i++) {
      seed = seed * 1103515245u + 12345u;
      now += (double)((seed >> 16) % 1000) / 4000.0; /* 0 .. 0.25 s */
      if (cv_bucket_take(&b, now, 1) == 0) g[k++] = now;
    }
    CHECK(k > 100);
    CHECK(strict(g, k, burst, b.window));
  }
}

static void test_take_n(void) {
  cv_bucket b;
  double g[64];
  int k;
  CHECK(cv_bucket_init(&b, 2, 4));
  CHECK(cv_bucket_take(&b, 0, 0) == -1);
  CHECK(cv_bucket_take(&b, 0, -1) == -1);
  CHECK(cv_bucket_take(&b, 0, 5) == -1); /* more than burst: never */
  CHECK(cv_bucket_take(&b, NAN, 1) == -1);
  CHECK(cv_bucket_take(&b, HUGE_VAL, 1) == -1);
  CHECK_INT(cv_bucket_available(&b, 0), 4); /* refusals took nothing */
  CHECK(cv_bucket_take(&b, 0, 3) == 0);
  CHECK(cv_bucket_take(&b, 0.5, 2) == 1.5); /* needs one taken at 0 back */
  CHECK(cv_bucket_take(&b, 0.5, 1) == 0);
  CHECK(cv_bucket_take(&b, 0.5, 4) == 2.0); /* ... the one at 0.5 at 2.5 */
  CHECK(cv_bucket_take(&b, 2.0, 3) == 0);
  CHECK_INT(cv_bucket_available(&b, 2.0), 0);
  CHECK_INT(cv_bucket_available(&b, 2.5), 1);
  CHECK_INT(cv_bucket_available(&b, 4.0), 4);

  CHECK(cv_bucket_init(&b, 2, 4));
  k = simulate(&b, 0, 16, 2, g);
  CHECK_INT(k, 32);
  CHECK(strict(g, k, 4, b.window));
  CHECK(g[31] == 14.0); /* 4 every 2 s: 2 tokens a second */
}

static void test_penalize(void) {
  cv_bucket b;
  CHECK(cv_bucket_init(&b, 5, 1));
  CHECK(cv_bucket_take(&b, 0, 1) == 0);
  CHECK(cv_bucket_penalize(&b, 0.1, 30)); /* 429 with Retry-After: 30 */
  CHECK(fabs(cv_bucket_take(&b, 0.2, 1) - 29.9) < 1e-9);
  CHECK_INT(cv_bucket_available(&b, 20), 0);
  CHECK(cv_bucket_penalize(&b, 1, 2)); /* shorter: the longer one stays */
  CHECK(fabs(cv_bucket_take(&b, 10, 1) - 20.1) < 1e-9);
  CHECK(cv_bucket_take(&b, 30.1, 1) == 0);
  CHECK(fabs(cv_bucket_take(&b, 30.1, 1) - 0.2) < 1e-9);
  CHECK(cv_bucket_penalize(&b, 40, 0)); /* zero: nothing to wait */
  CHECK(cv_bucket_take(&b, 40, 1) == 0);
  CHECK(!cv_bucket_penalize(&b, 40, -1));
  CHECK(!cv_bucket_penalize(&b, 40, NAN));
  CHECK(!cv_bucket_penalize(&b, 40, HUGE_VAL));
  CHECK(!cv_bucket_penalize(&b, NAN, 1));
  CHECK(!cv_bucket_penalize(&b, 1e308, 1e308));
  CHECK(fabs(cv_bucket_take(&b, 40, 1) - 0.2) < 1e-9); /* refusals: no-op */

  /* a penalty on a burst bucket blocks every token, then all come back */
  CHECK(cv_bucket_init(&b, 3, 3));
  CHECK(cv_bucket_penalize(&b, 0, 1.5));
  CHECK_INT(cv_bucket_available(&b, 1.4), 0);
  CHECK(cv_bucket_take(&b, 1.0, 1) == 0.5);
  CHECK_INT(cv_bucket_available(&b, 1.5), 3);
}

static void test_fractional_and_huge_rates(void) {
  cv_bucket b;
  double g[16];
  int k, i;
  CHECK(cv_bucket_init(&b, 0.5, 1)); /* one every two seconds */
  k = simulate(&b, 0, 5, 1, g);
  for (i = 0; i < k; i++) CHECK(g[i] == 2.0 * i);
  CHECK(cv_bucket_init(&b, 0.25, 2)); /* two every eight seconds */
  k = simulate(&b, 0, 6, 1, g);
  CHECK_INT(k, 6);
  CHECK(g[0] == 0 && g[1] == 0 && g[2] == 8 && g[3] == 8 && g[4] == 16);
  CHECK(cv_bucket_init(&b, 1.0 / 3600, 1)); /* one an hour */
  CHECK(cv_bucket_take(&b, 0, 1) == 0);
  CHECK(fabs(cv_bucket_take(&b, 600, 1) - 3000) < 1e-6);
  CHECK(cv_bucket_init(&b, 1e-300, 1)); /* practically never again */
  CHECK(cv_bucket_take(&b, 0, 1) == 0);
  CHECK(cv_bucket_take(&b, 1e9, 1) > 1e299);

  /* huge rates: a window below the clock's resolution never waits */
  CHECK(cv_bucket_init(&b, 1e12, 1));
  CHECK(cv_bucket_take(&b, 1000.0, 1) == 0);
  CHECK(cv_bucket_take(&b, 1000.0, 1) > 0); /* same instant: 1e-12 s */
  CHECK(cv_bucket_take(&b, 1000.001, 1) == 0);
  CHECK(cv_bucket_init(&b, DBL_MAX, CV_BUCKET_MAX_BURST));
  for (i = 0; i < 1000; i++)
    CHECK_AT(cv_bucket_take(&b, 1e6 + i, 1) == 0, __FILE__, __LINE__,
             "take %d", i);
  CHECK_INT(cv_bucket_available(&b, 1e6 + 1000), CV_BUCKET_MAX_BURST);
}

/* Time going backwards (not with a monotonic clock, but the functions must
** stay sane): treated as the latest take. */
static void test_clock_backwards(void) {
  cv_bucket b;
  CHECK(cv_bucket_init(&b, 1, 2));
  CHECK(cv_bucket_take(&b, 10, 1) == 0);
  CHECK(cv_bucket_take(&b, 5, 1) == 0); /* recorded at 10 */
  CHECK(cv_bucket_take(&b, 5, 1) == 2.0); /* from 10: back at 12 */
  CHECK(cv_bucket_take(&b, 12, 2) == 0);
}

static void test_set(void) {
  cv_bucket b;
  double g[40];
  int k;
  CHECK(cv_bucket_init(&b, 1, 1));
  CHECK(cv_bucket_take(&b, 0, 1) == 0);
  CHECK(!cv_bucket_set(&b, 0, 1));
  CHECK(!cv_bucket_set(&b, 5, 0));
  CHECK(b.rate == 1 && b.burst == 1);
  CHECK(cv_bucket_set(&b, 5, 1)); /* raised to 5/s: the take at 0 counts */
  CHECK(fabs(cv_bucket_take(&b, 0.1, 1) - 0.1) < 1e-12);
  CHECK(cv_bucket_take(&b, 0.2, 1) == 0);
  CHECK(cv_bucket_set(&b, 5, 5)); /* 1 of 5 taken (at 0.2) */
  CHECK_INT(cv_bucket_available(&b, 0.2), 4);
  CHECK(cv_bucket_take(&b, 0.2, 4) == 0);
  CHECK(fabs(cv_bucket_take(&b, 0.2, 1) - 1.0) < 1e-12);
  CHECK(cv_bucket_set(&b, 3, 3)); /* keeps the 3 most recent takes */
  CHECK_INT(b.count, 3);
  CHECK_INT(cv_bucket_available(&b, 1.1), 0);
  CHECK_INT(cv_bucket_available(&b, 1.2), 3);
  CHECK(cv_bucket_set(&b, 1, 1));
  k = simulate(&b, 1.2, 5, 1, g);
  CHECK_INT(k, 5);
  CHECK(g[0] == 1.2 && fabs(g[4] - 5.2) < 1e-9);
  /* burst grown after wrapping the ring: order is kept */
  CHECK(cv_bucket_init(&b, 10, 3));
  k = simulate(&b, 0, 7, 1, g);
  CHECK(cv_bucket_set(&b, 10, 6));
  CHECK_INT(b.count, 3);
  CHECK(b.taken[0] <= b.taken[1] && b.taken[1] <= b.taken[2]);
  CHECK(b.taken[2] == g[6]);
}

int main(void) {
  test_check();
  test_init();
  test_one_per_second();
  test_five_per_second();
  test_burst_strict();
  test_take_n();
  test_penalize();
  test_fractional_and_huge_rates();
  test_clock_backwards();
  test_set();
  return check_done("ratelimit");
}
