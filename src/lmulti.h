/*
** lmulti.h - concurrent HTTP requests on one libcurl multi handle.
**
** core.multi(opts) -> multi | nil, err
** multi:add(req) -> id | nil, err        (req as session:request, + cafile)
** multi:perform([wait]) -> {{id=, response=} | {id=, error=}, ...} | nil, err
** multi:pending() -> n;  multi:stats() -> {requests=, connections=}
** multi:close(), __gc, __close, __tostring
*/
#ifndef CONVAI_LMULTI_H
#define CONVAI_LMULTI_H

#include "compat.h"

#define CV_MULTI_MT "convai.multi"

/* Add `multi` to the table on top. */
void cv_multi_open(lua_State *L);

#endif
