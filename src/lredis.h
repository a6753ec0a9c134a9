/*
** lredis.h - a blocking Redis client on hiredis, for the limits, capacity
** and campaign stores shared across processes and hosts (outside nginx;
** inside nginx the same scripts run on cosockets through resty.redis).
**
** core.parse_redis_url(url) -> {scheme=, host=, port=, db=, user=?,
**                               password=?} | nil, message
** core.redis(url [, opts]) | core.redis(opts) -> conn | nil, err (store,
**                                                 invalid_argument)
** conn:command(name, ...) -> reply | nil, err (store)
** conn:eval(script, keys, args) -> reply | nil, err (store)
** conn:status() -> "open" | "broken" | "closed"
** conn:close(), __gc, __close, __tostring
*/
#ifndef CONVAI_LREDIS_H
#define CONVAI_LREDIS_H

#include "compat.h"

#define CV_REDIS_MT "convai.redis"

/* Add redis and parse_redis_url to the table on top. */
void cv_redis_open(lua_State *L);

#endif
