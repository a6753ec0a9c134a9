/*
** lratelimit.h - core.ratelimit: per-agent strict-window token buckets
** (ratelimit.h) on the monotonic clock.
**
** core.ratelimit([{rate = 1, burst = 1}]) -> limiter | nil, message
**   rate: requests per second, any finite number > 0 (default 1);
**   burst: an integer 1..256 (default 1): at most `burst` requests in any
**   burst/rate seconds.  Unknown options are refused.
** limiter:take(agent [, n])  -> 0 (taken) | seconds to wait (nothing taken)
** limiter:wait(agent [, n])  -> seconds slept (0 if none): sleeps until n
**                              tokens are available and takes them
** limiter:penalize(agent, seconds) -> true  (e.g. after a 429: no token
**                              before now + seconds)
** limiter:set_rate(agent, rate [, burst]) -> true  (burst defaults to the
**                              limiter's)
** limiter:rate(agent)        -> rate, burst (the agent's, or the defaults)
** limiter:close(), __gc, __close, __tostring
**
** agent is a string, or an integer (7 and "7" are the same agent); n is
** an integer 1..burst (default 1).  Bad values (rate, burst, n, seconds)
** return nil, message; a wrong agent type or a closed limiter raises.
** wait() blocks the whole Lua state (nanosleep): fine for scripts and the
** CLI; in OpenResty use take() and ngx.sleep instead.
*/
#ifndef CONVAI_LRATELIMIT_H
#define CONVAI_LRATELIMIT_H

#include "compat.h"

#define CV_RATELIMIT_MT "convai.ratelimit"

/* Add `ratelimit` to the table on top. */
void cv_ratelimit_open(lua_State *L);

#endif
