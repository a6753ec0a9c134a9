/*
** ljson.c - core.json_decode (on the core's decoder, jsondec.c) and
** core.json_encode around cjson.safe (see ljson.h).
**
** Encoding works on a copy of the value, so the caller's tables are never
** touched: in the copy, each empty marked array and each number cjson
** would print imprecisely is replaced by a sentinel string
** "~cvjson<nonce>_<i>", the copy is encoded by cjson, and every quoted
** sentinel in the output is replaced by its fragment ("[]" or the number).
** The nonce is re-chosen until no string (key or value) in the input
** contains the sentinel prefix, so user data can never be mistaken for a
** sentinel.  cjson escapes neither '~' nor '_' nor alphanumerics.
*/
/*** @module convai.core */

/*** JSON.
JSON (RFC 8259). Decoding is the core's own one-pass decoder; encoding goes
through lua-cjson 2.1.0, with what it gets wrong for an HTTP API client
fixed. An independent cjson instance is used (`require("cjson.safe").new()`),
so settings made on the global `cjson` module do not apply.
@section json
*/

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsondec.h"
#include "ljson.h"

#define MAX_DEPTH 1000      /* same as cjson's default nesting limit */
#define FRAG_INT_MIN 1e14   /* "%.14g" is exact below this magnitude */

/* upvalue indices */
#define UV_KEYS lua_upvalueindex(1)
#define UV_ANCHOR lua_upvalueindex(2)
#define UV_ENCODE lua_upvalueindex(1)
#define UV_ARRAY_MT lua_upvalueindex(2)

/* ---------------------------------------------------------------- decode */

/*** Decode JSON text into a Lua value.
Objects become tables with string keys, arrays tables with the keys 1 to n.
`null` becomes nil: the key or index is absent, so an array with nulls has
holes (iterate it with its indices, not `#` or `ipairs`). On Lua 5.4 a
number that is integral and within +-2^53 becomes an integer (`1`, `1.0` and
`1e3` alike); other numbers are floats, so integers beyond 2^53 lose
precision. `NaN`, `Infinity` and hexadecimal numbers are refused, and so is
nesting deeper than 1000 and a NUL byte outside a `\u0000` escape. A
duplicate key keeps its last value. Numbers never depend on the C locale.
Decoded arrays are plain tables: an empty one encodes back as `{}` unless
marked with `array`. The decoder is the core's own (src/jsondec.c), one
pass into Lua values; it accepts what lua-cjson 2.1.0 accepts and gives the
same values (docs/core.md, "JSON decoding", says where it departs).
@function json_decode
@tparam string text JSON text, UTF-8 (a number is converted to a string)
@return[1] the value: a table, string, number or boolean; nil (and no
second result) for the text `null`
@treturn[2] nil
@treturn[2] string `"invalid JSON: "` followed by the reason and the
character position (cjson's wording: `Expected value but found T_END at
character 1`)
@raise if `text` is not a string or number; when out of memory
@usage local v, err = core.json_decode(resp.body)
if v == nil and err then return nil, core.error("decode", err) end
*/
/* Decode text[0..n) with the key cache keys (anchor table at index
** anchor): push value | nil, message and return how many. */
static int decode_text(lua_State *L, const char *text, size_t n,
                       cv_jsondec_keys *keys, int anchor) {
  if (cv_jsondec(L, text, n, keys, anchor, NULL, NULL)) return 1;
  luaL_pushfail(L);
  lua_insert(L, -2);
  return 2;
}

/* core.json_decode(text) -> value | nil, message */
static int l_json_decode(lua_State *L) {
  size_t n;
  const char *text = luaL_checklstring(L, 1, &n);
  lua_settop(L, 1);
  return decode_text(L, text, n, (cv_jsondec_keys *)lua_touserdata(L, UV_KEYS),
                     UV_ANCHOR);
}

int cv_json_decode_call(lua_State *L, int fidx, const char *text, size_t n) {
  int base, results;
  if (lua_tocfunction(L, fidx) != l_json_decode) return -1;
  fidx = lua_absindex(L, fidx);
  luaL_checkstack(L, 6, NULL);
  lua_getupvalue(L, fidx, 1); /* keys */
  lua_getupvalue(L, fidx, 2); /* anchor */
  base = lua_gettop(L) - 1;
  results = decode_text(L, text, n,
                        (cv_jsondec_keys *)lua_touserdata(L, base), base + 1);
  lua_remove(L, base); /* the upvalues go, the results stay */
  lua_remove(L, base);
  return results;
}

/* ---------------------------------------------------------------- encode */

typedef struct encoder {
  lua_State *L;
  int frags;          /* stack index of the fragment list */
  int nfrags;
  const char *prefix; /* sentinel prefix, e.g. "~cvjson1a2b_" */
  size_t plen;
  int collision;      /* an input string contains the prefix */
  int too_deep;
} encoder;

static int contains(const char *s, size_t n, const char *p, size_t pn) {
  size_t i;
  if (pn > n) return 0;
  for (i = 0; i + pn <= n; i++)
    if (s[i] == p[0] && memcmp(s + i, p, pn) == 0) return 1;
  return 0;
}

/* Pop the fragment (JSON text) on top into the fragment list and push the
** sentinel string that stands for it. */
static void push_sentinel(encoder *e) {
  lua_State *L = e->L;
  lua_rawseti(L, e->frags, ++e->nfrags); /* pops the fragment */
  lua_pushfstring(L, "%s%d", e->prefix, e->nfrags);
}

/* Format d with the fewest digits (14..17) that read back exactly; the
** result always uses '.' whatever the C locale says. */
static void format_double(double d, char *out, size_t n) {
  char point[8];
  int prec;
  char *p;
  for (prec = 14; prec <= 17; prec++) {
    snprintf(out, n, "%.*g", prec, d);
    if (strtod(out, NULL) == d) break;
  }
  snprintf(point, sizeof point, "%.1f", 0.5); /* "0.5" or "0,5" ... */
  if (point[1] != '.' && (p = strchr(out, point[1])) != NULL) *p = '.';
}

/* Push the encodable replacement of the number at idx, or a copy of it if
** cjson prints it exactly. */
static void copy_number(encoder *e, int idx) {
  lua_State *L = e->L;
  char buf[64];
  lua_Number d = lua_tonumber(L, idx);
  if (lua_isinteger(L, idx)) {
    lua_Integer i = lua_tointeger(L, idx);
    if (i > -FRAG_INT_MIN && i < FRAG_INT_MIN) {
      lua_pushvalue(L, idx);
      return;
    }
    snprintf(buf, sizeof buf, "%lld", (long long)i);
  } else {
    if (!isfinite(d)) { /* let cjson report it */
      lua_pushvalue(L, idx);
      return;
    }
    snprintf(buf, sizeof buf, "%.14g", (double)d);
    if (strtod(buf, NULL) == d) {
      lua_pushvalue(L, idx);
      return;
    }
    format_double((double)d, buf, sizeof buf);
  }
  lua_pushstring(L, buf);
  push_sentinel(e);
}

static void check_string(encoder *e, int idx) {
  size_t n;
  const char *s = lua_tolstring(e->L, idx, &n);
  if (contains(s, n, e->prefix, e->plen)) e->collision = 1;
}

/* Push the encodable copy of the value at idx. */
static void copy_value(encoder *e, int idx, int depth) {
  lua_State *L = e->L;
  int t = lua_type(L, idx);
  if (t == LUA_TNUMBER) {
    copy_number(e, idx);
    return;
  }
  if (t == LUA_TSTRING) check_string(e, idx);
  if (t != LUA_TTABLE || e->collision || e->too_deep) {
    lua_pushvalue(L, idx);
    return;
  }
  if (depth > MAX_DEPTH) {
    e->too_deep = 1;
    lua_pushnil(L);
    return;
  }
  luaL_checkstack(L, 6, "JSON value too deeply nested");
  if (lua_getmetatable(L, idx)) {
    int marked = lua_rawequal(L, -1, UV_ARRAY_MT);
    lua_pop(L, 1);
    lua_pushnil(L);
    if (marked && !lua_next(L, idx)) { /* empty marked array */
      lua_pushliteral(L, "[]");
      push_sentinel(e);
      return;
    }
    lua_settop(L, lua_gettop(L) - (marked ? 2 : 1));
  }
  lua_newtable(L);
  lua_pushnil(L);
  while (lua_next(L, idx)) { /* copy, key, value */
    int top = lua_gettop(L);
    if (lua_type(L, top - 1) == LUA_TSTRING) check_string(e, top - 1);
    copy_value(e, top, depth + 1);
    lua_remove(L, top);     /* copy, key, newvalue */
    lua_pushvalue(L, -2);   /* copy, key, newvalue, key */
    lua_insert(L, -2);      /* copy, key, key, newvalue */
    lua_rawset(L, top - 2); /* copy, key */
  }
}

/* Append s[0..n) to b, replacing quoted sentinels by their fragments. */
static void substitute(encoder *e, luaL_Buffer *b, const char *s, size_t n) {
  lua_State *L = e->L;
  size_t i = 0;
  while (i < n) {
    if (s[i] == '"' && n - i - 1 > e->plen &&
        memcmp(s + i + 1, e->prefix, e->plen) == 0) {
      size_t j = i + 1 + e->plen;
      long k = 0;
      while (j < n && s[j] >= '0' && s[j] <= '9' && k < 1000000000L)
        k = k * 10 + (s[j++] - '0');
      if (j < n && s[j] == '"' && k >= 1 && k <= e->nfrags) {
        lua_rawgeti(L, e->frags, (int)k);
        luaL_addvalue(b);
        i = j + 1;
        continue;
      }
    }
    luaL_addchar(b, s[i]);
    i++;
  }
}

/*** Encode a Lua value as compact JSON text.
Tables follow cjson's rules: a table whose keys are all positive integers is
an array (holes are written as `null`, unless the array is excessively
sparse: its largest index over 10 and over twice the number of entries,
which is an error); any other table is an object, its number keys written as
strings; an empty table is `{}` unless marked with `array`, which makes it
`[]`. Integers are written exactly and floats with the fewest digits (14 to
17) that read back as the same number (cjson alone prints 14 digits, which
corrupts `0.1 + 0.2` and large IDs), always with a `.` whatever the C
locale; number keys are written by cjson with 14 significant digits. Strings
are escaped by cjson (`/` becomes `\/`, control characters `\u00XX`; other
bytes, UTF-8 included, are copied). The value is not modified; metatables
other than `array_mt` are ignored (no `__pairs`, no `__tojson`).
@function json_encode
@param value a table, string, number, boolean, or nil (encoded as `null`)
@treturn[1] string the JSON text
@treturn[2] nil
@treturn[2] string `"cannot encode JSON: "` and the reason: a function,
userdata or thread; a boolean or table key; NaN or an infinity; an
excessively sparse array; tables nested more than 1000 levels deep or a
table that contains itself
@raise if called without an argument
@usage core.json_encode { to = core.array(), n = 0.1 + 0.2 }
--> '{"to":[],"n":0.30000000000000004}' (key order is not defined)
*/
/* core.json_encode(value) -> string | nil, message */
static int l_json_encode(lua_State *L) {
  encoder e;
  int attempt;
  luaL_checkany(L, 1);
  lua_settop(L, 1);
  e.L = L;
  for (attempt = 0;; attempt++) {
    lua_settop(L, 1);
    lua_newtable(L); /* 2: fragments */
    e.frags = 2;
    e.nfrags = 0;
    e.collision = e.too_deep = 0;
    e.prefix = lua_pushfstring(L, "~cvjson%d%p_", attempt, (void *)&e);
    e.plen = strlen(e.prefix); /* 3: prefix */
    copy_value(&e, 1, 0);      /* 4: copy */
    if (e.too_deep) {
      luaL_pushfail(L);
      lua_pushfstring(L, "cannot encode JSON: tables nested more than %d "
                         "levels deep (or a table contains itself)",
                      MAX_DEPTH);
      return 2;
    }
    if (!e.collision) break;
    if (attempt >= 16) return luaL_error(L, "json_encode: no free sentinel");
  }
  lua_pushvalue(L, UV_ENCODE);
  lua_insert(L, 4);
  lua_call(L, 1, 2); /* 4: text | nil, 5: message */
  if (lua_isnil(L, 4)) {
    luaL_pushfail(L);
    lua_pushfstring(L, "cannot encode JSON: %s",
                    lua_isstring(L, 5) ? lua_tostring(L, 5) : "?");
    return 2;
  }
  lua_settop(L, 4);
  if (e.nfrags > 0) {
    size_t n;
    const char *s = lua_tolstring(L, 4, &n);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    substitute(&e, &b, s, n);
    luaL_pushresult(&b);
  }
  return 1;
}

/*** Mark a table as a JSON array, so that it encodes as `[]` even when
empty (cjson alone writes an empty table as `{}`).
Sets the table's metatable to `array_mt`; marking a table twice is harmless.
@function array
@tparam[opt] table t the table to mark (nil: a new empty table)
@treturn table `t` itself, marked
@raise if `t` is neither nil nor a table, or already has another metatable
@usage local body = { components = core.array() }   -- encodes as {"components":[]}
*/
/*** The metatable set by `array`, registered as `"convai.array"`.
Test a table with `getmetatable(t) == core.array_mt`. Its field
`__jsontype = "array"` follows the dkjson convention, so other JSON encoders
that honour it also write `[]`.
@table array_mt
@field __jsontype `"array"`
*/
/* core.array([t]) -> t, marked to encode as a JSON array even if empty */
static int l_array(lua_State *L) {
  if (lua_isnoneornil(L, 1)) {
    lua_settop(L, 0);
    lua_newtable(L);
  }
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  if (lua_getmetatable(L, 1)) {
    if (!lua_rawequal(L, -1, lua_upvalueindex(1)))
      return luaL_argerror(L, 1, "table already has a metatable");
    lua_pop(L, 1);
  }
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_setmetatable(L, 1);
  return 1;
}

void cv_json_open(lua_State *L) {
  int lib = lua_gettop(L);
  /* an independent instance: require("cjson.safe").new() */
  lua_getglobal(L, "require");
  lua_pushliteral(L, "cjson.safe");
  lua_call(L, 1, 1);
  lua_getfield(L, -1, "new");
  lua_call(L, 0, 1); /* lib, cjson.safe, inst */

  cv_jsondec_newkeys(L); /* key cache, anchor */
  lua_pushcclosure(L, l_json_decode, 2);
  lua_setfield(L, lib, "json_decode");

  luaL_newmetatable(L, CV_ARRAY_MT);
  lua_pushliteral(L, "array");
  lua_setfield(L, -2, "__jsontype"); /* the dkjson convention, for others */
  lua_pushvalue(L, -1);
  lua_setfield(L, lib, "array_mt");
  lua_pushvalue(L, -1);
  lua_pushcclosure(L, l_array, 1);
  lua_setfield(L, lib, "array");

  lua_getfield(L, -2, "encode"); /* lib, cjson.safe, inst, mt, encode */
  lua_insert(L, -2);
  lua_pushcclosure(L, l_json_encode, 2);
  lua_setfield(L, lib, "json_encode");
  lua_settop(L, lib);
}
