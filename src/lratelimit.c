/*
** lratelimit.c - core.ratelimit (see lratelimit.h).
**
** Design note: a limiter is a small userdata (the default rate and burst)
** plus a plain Lua table {agent key -> bucket}, where each bucket is a
** userdata holding a cv_bucket (fixed size, no pointers, no finalizer).
** The table is anchored in the registry by the limiter; close() and __gc
** drop that reference, after which the table and its buckets are ordinary
** garbage.  So nothing is malloc'd and nothing can leak, even when a Lua
** error (out of memory) interrupts a call half-way.
**
** Agent keys are strings; integers are converted to their decimal text
** so that agent 7 and agent "7" share one bucket.  wait() looks the bucket
** up, then loops take/nanosleep without calling Lua in between: the
** bucket stays referenced by the table all along, and nothing else can run
** on this Lua state while it sleeps.  EINTR resumes the sleep.
*/

/*** @module convai.core */
#define _POSIX_C_SOURCE 199309L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "lerror.h"
#include "lratelimit.h"
#include "quote.h"
#include "ratelimit.h"

#define ERRLEN 256
#define MAX_NAP 86400.0 /* one nanosleep: at most a day, then look again */
#define MAX_SAFE 9007199254740992.0 /* 2^53 */

#define RATE_MSG "rate must be a positive number of requests per second"

typedef struct limiter {
  int agents; /* registry ref of {agent -> bucket}; LUA_NOREF once closed */
  double rate;
  int burst;
} limiter;

/* The value at idx for "got ...": 0, -1.5, "fast" (a string), a table. */
static void describe(lua_State *L, int idx, char *out, size_t n) {
  switch (lua_type(L, idx)) {
  case LUA_TNUMBER:
    snprintf(out, n, "%.14g", (double)lua_tonumber(L, idx));
    break;
  case LUA_TSTRING: {
    char q[CV_QUOTE_SIZE];
    size_t len;
    const char *s = lua_tolstring(L, idx, &len);
    cv_quote(s, len, q);
    snprintf(out, n, "%s (a string)", q);
    break;
  }
  case LUA_TNIL:
  case LUA_TNONE:
    snprintf(out, n, "nil");
    break;
  default:
    snprintf(out, n, "a %s", luaL_typename(L, idx));
  }
}

/* Rate at ridx (nil: defrate, unless defrate is 0) and burst at bidx (nil:
** defburst).  Returns 1, or 0 with the message pushed. */
static int read_params(lua_State *L, int ridx, double defrate, int bidx,
                       int defburst, double *rate, int *burst) {
  char err[ERRLEN], got[ERRLEN];
  double r = defrate, b = defburst;
  if (lua_type(L, ridx) == LUA_TNUMBER) {
    r = lua_tonumber(L, ridx);
  } else if (!lua_isnoneornil(L, ridx) || defrate == 0) {
    describe(L, ridx, got, sizeof got);
    lua_pushfstring(L, RATE_MSG ", got %s", got);
    return 0;
  }
  if (lua_type(L, bidx) == LUA_TNUMBER) {
    b = lua_tonumber(L, bidx);
  } else if (!lua_isnoneornil(L, bidx)) {
    describe(L, bidx, got, sizeof got);
    lua_pushfstring(L, "burst must be an integer from 1 to %d, got %s",
                    CV_BUCKET_MAX_BURST, got);
    return 0;
  }
  if (!cv_bucket_check(r, b, err, sizeof err)) {
    lua_pushstring(L, err);
    return 0;
  }
  *rate = r;
  *burst = (int)b;
  return 1;
}

static limiter *check_limiter(lua_State *L) {
  limiter *lim = (limiter *)luaL_checkudata(L, 1, CV_RATELIMIT_MT);
  if (lim->agents == LUA_NOREF)
    luaL_error(L, "convai.ratelimit: the limiter is closed");
  return lim;
}

/* Push the key of the agent at idx: a string as it is, an integer (or an
** integral float up to 2^53) in decimal; anything else raises. */
static void push_agent(lua_State *L, int idx) {
  char buf[32];
  if (lua_type(L, idx) == LUA_TSTRING) {
    lua_pushvalue(L, idx);
    return;
  }
  if (lua_type(L, idx) == LUA_TNUMBER) {
    lua_Number v = lua_tonumber(L, idx);
    if (lua_isinteger(L, idx)) {
      snprintf(buf, sizeof buf, "%lld", (long long)lua_tointeger(L, idx));
      lua_pushstring(L, buf);
      return;
    }
    if (v >= -MAX_SAFE && v <= MAX_SAFE && v == floor(v)) {
      snprintf(buf, sizeof buf, "%lld", (long long)v);
      lua_pushstring(L, buf);
      return;
    }
  }
  luaL_argerror(L, idx, "agent must be a string or an integer");
}

/* The bucket of the agent at idx, created with the limiter's rate and
** burst if need be (else NULL when there is none).  Stack unchanged. */
static cv_bucket *get_bucket(lua_State *L, limiter *lim, int idx,
                             int create) {
  cv_bucket *b;
  lua_rawgeti(L, LUA_REGISTRYINDEX, lim->agents); /* agents */
  push_agent(L, idx);                             /* agents key */
  lua_pushvalue(L, -1);
  lua_rawget(L, -3); /* agents key bucket|nil */
  b = (cv_bucket *)lua_touserdata(L, -1);
  lua_pop(L, 1);
  if (b == NULL && create) {
    b = (cv_bucket *)lua_newuserdatauv(L, sizeof *b, 0);
    cv_bucket_init(b, lim->rate, lim->burst); /* values checked before */
    lua_rawset(L, -3);                        /* agents[key] = bucket */
    lua_pop(L, 1);
    return b;
  }
  lua_pop(L, 2);
  return b;
}

/* n at idx: nil (1) or an integer 1..burst.  0 with the message pushed. */
static int opt_n(lua_State *L, int idx, const cv_bucket *b, int *n) {
  char got[ERRLEN];
  lua_Number v;
  *n = 1;
  if (lua_isnoneornil(L, idx)) return 1;
  v = lua_type(L, idx) == LUA_TNUMBER ? lua_tonumber(L, idx) : 0;
  if (v >= 1 && v <= b->burst && v == floor(v)) {
    *n = (int)v;
    return 1;
  }
  describe(L, idx, got, sizeof got);
  lua_pushfstring(L, "n must be an integer from 1 to %d (the agent's "
                     "burst), got %s", b->burst, got);
  return 0;
}

/* ------------------------------------------------------------ methods */

/*** Rate limiting.
Per-agent limits for outbound triggers: Vonage AI Studio allows 1 session per
second per agent (3 or 5 when raised) and answers 429 beyond it.
@section ratelimit
*/

/*** Create a per-agent rate limiter on the monotonic clock.
Each agent (a string; integers are converted to their decimal text) gets its
own bucket of `burst` tokens; a token comes back `burst/rate` seconds after it
was taken, so no agent ever gets more than `burst` requests through in any
`burst/rate` seconds (the vendor's window is strict).
@function ratelimit
@tparam[opt] table opts
@tparam[opt=1] number opts.rate requests per second per agent (any positive number; 3 or 5 as the vendor grants)
@tparam[opt=1] integer opts.burst tokens per agent, 1 to 256
@treturn userdata|nil the limiter (`take`, `wait`, `penalize`, `set_rate`, `rate`, `close`; `__gc`, `__close`)
@treturn string a message saying which option is wrong
*/
static int l_ratelimit(lua_State *L) {
  limiter *lim;
  double rate;
  int burst;
  if (lua_isnoneornil(L, 1)) {
    lua_settop(L, 0);
    lua_newtable(L);
  }
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  lua_pushnil(L);
  while (lua_next(L, 1)) {
    const char *k;
    lua_pop(L, 1);
    if (lua_type(L, -1) != LUA_TSTRING)
      return cv_fail_msg(L, "option names must be strings (known: rate, burst)");
    k = lua_tostring(L, -1);
    if (strcmp(k, "rate") != 0 && strcmp(k, "burst") != 0) {
      char q[CV_QUOTE_SIZE];
      size_t len;
      k = lua_tolstring(L, -1, &len);
      cv_quote(k, len, q);
      lua_pushfstring(L, "unknown option %s (known: rate, burst)", q);
      return cv_fail_msg(L, lua_tostring(L, -1));
    }
  }
  lua_getfield(L, 1, "rate");
  lua_getfield(L, 1, "burst");
  if (!read_params(L, 2, 1.0, 3, 1, &rate, &burst))
    return cv_fail_msg(L, lua_tostring(L, -1));
  lim = (limiter *)lua_newuserdatauv(L, sizeof *lim, 0);
  lim->agents = LUA_NOREF;
  lim->rate = rate;
  lim->burst = burst;
  luaL_setmetatable(L, CV_RATELIMIT_MT);
  lua_newtable(L);
  lim->agents = luaL_ref(L, LUA_REGISTRYINDEX);
  return 1;
}

/*** Take `n` tokens of an agent without waiting.
@function limiter:take
@tparam string agent the agent ID
@tparam[opt=1] integer n tokens, 1 to the agent's burst
@treturn number 0 when taken, else the seconds to wait before they are available (nothing taken)
*/
static int l_take(lua_State *L) {
  limiter *lim = check_limiter(L);
  cv_bucket *b = get_bucket(L, lim, 2, 1);
  double w;
  int n;
  if (!opt_n(L, 3, b, &n)) return cv_fail_msg(L, lua_tostring(L, -1));
  w = cv_bucket_take(b, cv_monotonic(), n);
  if (w == 0)
    lua_pushinteger(L, 0);
  else
    lua_pushnumber(L, w);
  return 1;
}

/* Sleep s seconds (at most MAX_NAP; rounded up to the nanosecond). */
static void nap(double s) {
  struct timespec ts, rem;
  double whole;
  if (!(s > 0)) return;
  if (s > MAX_NAP) s = MAX_NAP;
  whole = floor(s);
  ts.tv_sec = (time_t)whole;
  ts.tv_nsec = (long)ceil((s - whole) * 1e9);
  if (ts.tv_nsec > 999999999L) ts.tv_nsec = 999999999L;
  if (ts.tv_sec == 0 && ts.tv_nsec == 0) ts.tv_nsec = 1;
  while (nanosleep(&ts, &rem) != 0 && errno == EINTR) ts = rem;
}

/* limiter:wait(agent [, n]) -> seconds slept */
/*** Wait (sleeping the whole Lua state; in OpenResty use `take` and `ngx.sleep`) and take a token.
@function limiter:wait
@tparam string agent the agent ID
@tparam[opt=1] integer n tokens
@treturn number the seconds slept
*/
static int l_wait(lua_State *L) {
  limiter *lim = check_limiter(L);
  cv_bucket *b = get_bucket(L, lim, 2, 1);
  double start, w;
  int n, slept = 0;
  if (!opt_n(L, 3, b, &n)) return cv_fail_msg(L, lua_tostring(L, -1));
  start = cv_monotonic();
  while ((w = cv_bucket_take(b, cv_monotonic(), n)) > 0) {
    nap(w);
    slept = 1;
  }
  if (slept)
    lua_pushnumber(L, cv_monotonic() - start);
  else
    lua_pushinteger(L, 0);
  return 1;
}

/* limiter:penalize(agent [, seconds]) -> true; seconds defaults to the
** agent's window (burst / rate), for a 429 without Retry-After. */
/*** Give an agent no tokens for a while, e.g. after a 429 (`Retry-After`).
@function limiter:penalize
@tparam string agent the agent ID
@tparam[opt] number seconds how long; default one window (`burst/rate`)
@treturn boolean|nil true, or nil and a message when seconds is negative
*/
static int l_penalize(lua_State *L) {
  limiter *lim = check_limiter(L);
  cv_bucket *b = get_bucket(L, lim, 2, 1);
  double secs = b->window;
  if (!lua_isnoneornil(L, 3))
    secs = lua_type(L, 3) == LUA_TNUMBER ? lua_tonumber(L, 3) : -1;
  if (!cv_bucket_penalize(b, cv_monotonic(), secs)) {
    char got[ERRLEN];
    describe(L, 3, got, sizeof got);
    lua_pushfstring(L, "seconds must be a non-negative number, got %s", got);
    return cv_fail_msg(L, lua_tostring(L, -1));
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* limiter:set_rate(agent, rate [, burst]) -> true */
/*** Set one agent's rate (e.g. 3 or 5 sessions per second once the vendor raised it).
@function limiter:set_rate
@tparam string agent the agent ID
@tparam number rate requests per second
@tparam[opt] integer burst default the limiter's
@treturn boolean|nil true, or nil and a message
*/
static int l_set_rate(lua_State *L) {
  limiter *lim = check_limiter(L);
  double rate;
  int burst;
  push_agent(L, 2); /* a bad agent raises before anything else */
  lua_pop(L, 1);
  if (!read_params(L, 3, 0, 4, lim->burst, &rate, &burst))
    return cv_fail_msg(L, lua_tostring(L, -1));
  cv_bucket_set(get_bucket(L, lim, 2, 1), rate, burst);
  lua_pushboolean(L, 1);
  return 1;
}

/* limiter:rate(agent) -> rate, burst */
/*** An agent's rate and burst.
@function limiter:rate
@tparam string agent the agent ID
@treturn number rate, requests per second
@treturn integer burst
*/
static int l_rate(lua_State *L) {
  limiter *lim = check_limiter(L);
  cv_bucket *b = get_bucket(L, lim, 2, 0);
  lua_pushnumber(L, b != NULL ? b->rate : lim->rate);
  lua_pushinteger(L, b != NULL ? b->burst : lim->burst);
  return 2;
}

static int l_close(lua_State *L) {
  limiter *lim = (limiter *)luaL_checkudata(L, 1, CV_RATELIMIT_MT);
  luaL_unref(L, LUA_REGISTRYINDEX, lim->agents);
  lim->agents = LUA_NOREF;
  return 0;
}

static int l_tostring(lua_State *L) {
  limiter *lim = (limiter *)luaL_checkudata(L, 1, CV_RATELIMIT_MT);
  char buf[96];
  if (lim->agents == LUA_NOREF)
    snprintf(buf, sizeof buf, "convai.ratelimit (closed)");
  else
    snprintf(buf, sizeof buf, "convai.ratelimit (%g/s, burst %d)",
             lim->rate, lim->burst);
  lua_pushstring(L, buf);
  return 1;
}

void cv_ratelimit_open(lua_State *L) {
  static const luaL_Reg methods[] = {
      {"take", l_take},         {"wait", l_wait}, {"penalize", l_penalize},
      {"set_rate", l_set_rate}, {"rate", l_rate}, {"close", l_close},
      {NULL, NULL}};
  static const luaL_Reg meta[] = {{"__gc", l_close},
                                  {"__close", l_close},
                                  {"__tostring", l_tostring},
                                  {NULL, NULL}};
  luaL_newmetatable(L, CV_RATELIMIT_MT);
  luaL_setfuncs(L, meta, 0);
  luaL_newlib(L, methods);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  lua_pushcfunction(L, l_ratelimit);
  lua_setfield(L, -2, "ratelimit");
}
