/*
** ljson.h - JSON for convai: decoding on the core's decoder (jsondec.h),
** encoding on lua-cjson.
**
** Decoding is one pass into Lua values (jsondec.c): integral numbers
** within +-2^53 become Lua integers (5.4), and JSON null becomes nil (the
** key/index is absent).  Encoding uses an independent cjson.safe instance
** (cjson.safe.new(), so global cjson settings do not leak in) and fixes
** what cjson 2.1.0 gets wrong for an HTTP API client:
**  - tables marked with core.array(t) encode as [] even when empty,
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

/* When the function at index fidx is core.json_decode, decode text[0..n)
** with it (text[n] must be '\0'), as calling it with that text would, push
** its results and return how many (1 or 2); else push nothing and return
** -1.  Raises only a memory error. */
int cv_json_decode_call(lua_State *L, int fidx, const char *text, size_t n);

#endif
