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

#include <stdint.h>

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

/* A shape: what a vendor documents for a response, checked (and typed)
** while decoding.  Node 0 is the root.  Leaf kinds are field_checker's:
** 'i' integer, 'n' number, 'o' number or absent, 'f' number or absent
** (an integer there is made a float), 's' string, 'b' boolean, 't' any
** table; 'O' an object with the fields fields[first .. first + nfields)
** (each a name and its node; the fields in required must be present),
** 'A' an array whose elements have the node elem, len of them (or any
** number when len < 0).  Keys not in the shape are decoded as usual,
** except in a closed object, where they are dropped.  An 'O' whose pick
** is a field index (else -1) stands for that field's value: while the
** value has the shape so far, the object is not made, its field's value
** takes its place (a decoder's `pick` path; cv_jsondec's result is then
** that value, meaningful only when *typed). */
#define CV_JSONSHAPE_MAXFIELDS 64
typedef struct cv_jsonfield {
  const char *name;
  size_t len;
  int node;
} cv_jsonfield;
typedef struct cv_jsonnode {
  char kind;
  char closed;        /* 'O': keys not in the shape are dropped */
  int first, nfields; /* 'O' */
  int pick;           /* 'O': -1, or the field standing for the object */
  uint64_t required;  /* 'O': bit i for fields[first + i] */
  int elem, len;      /* 'A' */
} cv_jsonnode;
typedef struct cv_jsonshape {
  const cv_jsonnode *nodes;
  const cv_jsonfield *fields;
} cv_jsonshape;

/* Decode text[0..len) (text[len] must be '\0', as in every Lua string:
** the scanning loops stop there).  On success, push the value (nil
** for the text null) and return 1; on bad JSON, push the message "invalid
** JSON: <reason> at character <n>" and return 0.  keys (and the table at
** stack index anchor, which must be a table with CV_JSONDEC_SLOTS array
** slots, given as an absolute or pseudo index) may be NULL / 0: no cache.
** With a shape (else NULL), *typed tells whether the value has it; when it
** has not, 'f' integers may have been made floats already (decode again
** without the shape for the plain value).  Raises only a Lua memory
** error. */
int cv_jsondec(lua_State *L, const char *text, size_t len,
               cv_jsondec_keys *keys, int anchor, const cv_jsonshape *shape,
               int *typed);

/* Push a new key cache: the userdata (a cv_jsondec_keys, cleared) and
** then its anchor table.  Both must stay alive as long as the cache is
** used (e.g. as upvalues of the decoding closure). */
cv_jsondec_keys *cv_jsondec_newkeys(lua_State *L);

#endif
