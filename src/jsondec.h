/*
** jsondec.h - the core's one-pass JSON decoder: JSON text straight into
** Lua values on the Lua stack (issue 14).
**
** Each array and object is created at its closing bracket with its exact
** size (lua_createtable), its elements having waited on the Lua stack;
** integer literals are converted without strtod; object keys met often
** are pushed from a small cache of interned strings.  The result is what
** lua-cjson 2.1.0 decodes, normalised as core.json_decode documents it:
** null is nil (an absent key, a hole in an array), an integral number
** within +-2^53 is an integer (Lua 5.4), the nesting limit is 1000, a
** duplicate key keeps its last value.  Where it departs from cjson
** (docs/core.md, "JSON decoding"): a raw NUL byte anywhere is refused
** (cjson takes it as the end of the text), and numbers never depend on
** the C locale.
**
** Only Lua values are made while decoding (no C heap), so a Lua error
** (out of memory) raised in the middle leaks nothing: the caller's
** lua_pcall or lua_error unwinds the stack as usual.
*/
#ifndef CONVAI_JSONDEC_H
#define CONVAI_JSONDEC_H

#include "compat.h"

/* Keys up to this length are cached; the cache has CV_JSONDEC_SLOTS. */
#define CV_JSONDEC_KEYLEN 40
#define CV_JSONDEC_SLOTS 128

/* The key cache: slot i holds a pointer to the bytes of a Lua string kept
** alive in an anchor table at index i + 1 (see cv_jsondec). */
typedef struct cv_jsondec_keys {
  const char *s[CV_JSONDEC_SLOTS];
  size_t n[CV_JSONDEC_SLOTS];
} cv_jsondec_keys;

/* Decode text[0..len) (text[len] must be readable and not a digit, as in
** every Lua string, which ends with '\0').  On success, push the value (nil
** for the text null) and return 1; on bad JSON, push the message "invalid
** JSON: <reason> at character <n>" and return 0.  keys (and the table at
** stack index anchor, which must be a table with CV_JSONDEC_SLOTS array
** slots, given as an absolute or pseudo index) may be NULL / 0: no cache.
** Raises only a Lua memory error. */
int cv_jsondec(lua_State *L, const char *text, size_t len,
               cv_jsondec_keys *keys, int anchor);

/* Push a new key cache: the userdata (a cv_jsondec_keys, cleared) and
** then its anchor table.  Both must stay alive as long as the cache is
** used (e.g. as upvalues of the decoding closure). */
cv_jsondec_keys *cv_jsondec_newkeys(lua_State *L);

#endif
