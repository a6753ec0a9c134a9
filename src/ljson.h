/*
** ljson.h - JSON for convai, on top of lua-cjson.
**
** convai does not parse JSON itself: it uses an independent cjson.safe
** instance (cjson.safe.new(), so global cjson settings do not leak in) and
** fixes what cjson 2.1.0 gets wrong for an HTTP API client:
**  - decode: integral numbers within +-2^53 become Lua integers (5.4), and
**    JSON null becomes nil (the key/index is absent) instead of cjson.null;
**  - encode: tables marked with core.array(t) encode as [] even when empty,
**    and numbers that cjson's 14-digit "%.14g" would corrupt (large IDs,
**    0.1+0.2) are written with full precision.
*/
#ifndef CONVAI_LJSON_H
#define CONVAI_LJSON_H

#include "compat.h"

#define CV_ARRAY_MT "convai.array"

/* Add json_decode, json_encode, array, array_mt to the table on top.
** Raises a Lua error if cjson.safe cannot be loaded. */
void cv_json_open(lua_State *L);

#endif
