/*
** ljsondecoder.c - core.json_decoder: a decoder for one documented
** response shape, which decodes and types the body in one pass (issue 14).
** The shape, given as a Lua table, is compiled into the node array of
** jsondec.h, kept in a userdata upvalue of the returned closure with the
** anchor table of its field names and its key cache.
*/
/*** @module convai.core */

#include <string.h>

#include "jsondec.h"
#include "ljsondecoder.h"

#define MAX_SPEC_DEPTH 32

/* upvalues of the decoding closure */
#define UV_SHAPE lua_upvalueindex(1)
#define UV_KEYS lua_upvalueindex(2)
#define UV_ANCHOR lua_upvalueindex(3)
#define UV_NAMES lua_upvalueindex(4)

typedef struct compiled {
  cv_jsonshape shape;
  int nnodes, nfields;
  /* then the nodes, then the fields */
} compiled;

static const char *const leaf_names[] = {"integer", "number", "number?",
                                         "float?",  "string", "boolean",
                                         "table",   NULL};
static const char leaf_codes[] = "inofsbt";

/* Count the nodes and fields of the spec at idx (raises when it is bad). */
static void count(lua_State *L, int idx, int depth, int *nodes, int *fields) {
  (*nodes)++;
  if (lua_type(L, idx) == LUA_TSTRING) {
    luaL_checkoption(L, idx, NULL, leaf_names);
    return;
  }
  if (lua_type(L, idx) != LUA_TTABLE || depth > MAX_SPEC_DEPTH)
    luaL_error(L, "json_decoder: a shape is a type name, {field = shape, "
                  "...} or {shape, n = length} (nested at most %d deep)",
               MAX_SPEC_DEPTH);
  luaL_checkstack(L, 4, "json_decoder: shape too deep");
  lua_rawgeti(L, idx, 1);
  if (!lua_isnil(L, -1)) { /* an array */
    count(L, lua_gettop(L), depth + 1, nodes, fields);
    lua_pop(L, 1);
    return;
  }
  lua_pop(L, 1);
  {
    int n = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
      if (lua_type(L, -2) != LUA_TSTRING)
        luaL_error(L, "json_decoder: field names must be strings");
      if (++n > CV_JSONSHAPE_MAXFIELDS)
        luaL_error(L, "json_decoder: more than %d fields in an object",
                   CV_JSONSHAPE_MAXFIELDS);
      count(L, lua_gettop(L), depth + 1, nodes, fields);
      lua_pop(L, 1);
    }
    *fields += n;
  }
}

typedef struct builder {
  cv_jsonnode *nodes;
  cv_jsonfield *fields;
  int nnodes, nfields;
  int names; /* stack index of the names table (anchors field names) */
} builder;

/* Fill the node for the (checked) spec at idx; its index. */
static int build(lua_State *L, builder *b, int idx) {
  int me = b->nnodes++;
  cv_jsonnode *nd = &b->nodes[me];
  memset(nd, 0, sizeof *nd);
  nd->pick = -1;
  if (lua_type(L, idx) == LUA_TSTRING) {
    nd->kind = leaf_codes[luaL_checkoption(L, idx, NULL, leaf_names)];
    return me;
  }
  lua_rawgeti(L, idx, 1);
  if (!lua_isnil(L, -1)) {
    int elem;
    nd->kind = 'A';
    elem = build(L, b, lua_gettop(L));
    nd = &b->nodes[me];
    nd->elem = elem;
    lua_getfield(L, idx, "n");
    nd->len = lua_isnil(L, -1) ? -1 : (int)luaL_checkinteger(L, -1);
    lua_pop(L, 2);
    return me;
  }
  lua_pop(L, 1);
  nd->kind = 'O';
  nd->first = b->nfields;
  lua_pushnil(L);
  while (lua_next(L, idx)) nd->nfields++, lua_pop(L, 1);
  b->nfields += nd->nfields;
  {
    int i = 0, top = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
      cv_jsonfield *f = &b->fields[b->nodes[me].first + i];
      int child;
      char kind;
      lua_pushvalue(L, -2); /* anchor the name */
      lua_rawseti(L, b->names, (int)lua_rawlen(L, b->names) + 1);
      f->name = lua_tolstring(L, -2, &f->len);
      child = build(L, b, lua_gettop(L));
      f->node = child;
      kind = b->nodes[child].kind;
      if (kind != 'o' && kind != 'f' && kind != 't')
        b->nodes[me].required |= (uint64_t)1 << i;
      i++;
      lua_settop(L, top + 1); /* the key */
    }
    lua_settop(L, top);
  }
  return me;
}

/*** Make a decoder for one documented response shape: it decodes a body
and checks (and types) it against the shape in the same pass.
Decoding is exactly `json_decode`'s. The shape says what the vendor
documents: a type name as for `field_checker` (`"integer"`, `"number"`,
`"number?"`, `"float?"`, `"string"`, `"boolean"`, `"table"`), an object
`{field = shape, ...}` (fields other than `number?`, `float?` and `table`
must be present; other keys are allowed), or an array `{shape, n = length}`
(`n` optional). When the body has the shape, every `float?` field holding
an integer is made a float, and the second result is true. When it has not,
the value is exactly `json_decode`'s and the second result is false: the
caller then finds the field at fault the slow way.


With `opts.pick`, a list of field names from the root, the decoder returns,
when the body has the shape, only the value at the end of that path (the
objects on the way are never made), and an object there holds only the
fields of its shape (the vendor's other keys are dropped): what a client
returns of an answer, without copying it. When the body has not the shape,
the value is still the whole body, as above.
@function json_decoder
@tparam table shape the root shape (an object or an array)
@tparam[opt] table opts `{pick = {name, ...}}`; each name a field of the
object shape at its step (else this raises)
@treturn function `decode(text)`: the value and true or false (the shape
held), or nil and the message of `json_decode` (nil alone for `null`)
@raise if `shape` is not such a table, or `opts.pick` not such a path
@usage local decode = core.json_decoder { data = { business_initiated = {
  current_usage = "integer", current_limit = "integer",
  limit_exhausted = "boolean" } } }
local body, typed = decode(text)
*/
/* Decode text[0..n) (text[n] == '\0') with compiled shape c, the key cache
** keys and its anchor table at index anchor; push value, typed | nil,
** message | nil (for null) and return how many. */
static int decode_text(lua_State *L, const char *text, size_t n, compiled *c,
                       cv_jsondec_keys *keys, int anchor) {
  int typed = 0, top = lua_gettop(L);
  if (!cv_jsondec(L, text, n, keys, anchor, &c->shape, &typed)) {
    luaL_pushfail(L);
    lua_insert(L, -2);
    return 2;
  }
  if (lua_isnil(L, -1)) return 1; /* the text null: nil alone */
  if (!typed) { /* the plain value: no float? conversion made */
    lua_settop(L, top);
    cv_jsondec(L, text, n, keys, anchor, NULL, NULL);
  }
  lua_pushboolean(L, typed);
  return 2;
}

/* decode(text) -> value, typed | nil, message */
static int l_decode(lua_State *L) {
  size_t n;
  const char *text = luaL_checklstring(L, 1, &n);
  lua_settop(L, 1);
  return decode_text(L, text, n, (compiled *)lua_touserdata(L, UV_SHAPE),
                     (cv_jsondec_keys *)lua_touserdata(L, UV_KEYS), UV_ANCHOR);
}

int cv_jsondecoder_call(lua_State *L, int fidx, const char *text, size_t n) {
  int base, results;
  if (lua_tocfunction(L, fidx) != l_decode) return -1;
  fidx = lua_absindex(L, fidx);
  luaL_checkstack(L, 8, NULL);
  lua_getupvalue(L, fidx, 1); /* shape */
  lua_getupvalue(L, fidx, 2); /* keys */
  lua_getupvalue(L, fidx, 3); /* anchor */
  base = lua_gettop(L) - 2;
  results = decode_text(L, text, n, (compiled *)lua_touserdata(L, base),
                        (cv_jsondec_keys *)lua_touserdata(L, base + 1),
                        base + 2);
  lua_remove(L, base); /* the upvalues go, the results stay */
  lua_remove(L, base);
  lua_remove(L, base);
  return results;
}

/* core.json_decoder(shape) -> decode */
/* Apply the pick path of opts (stack index 2) to the built nodes: each
** name must be a field of the object at that step; the objects on the way
** stand for the field named, and an object at the end is closed (raises
** when the path is bad). */
static void apply_pick(lua_State *L, builder *b) {
  int node = 0, n = 0, i;
  lua_getfield(L, 2, "pick");
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    return;
  }
  if (!lua_istable(L, -1) || (n = (int)lua_rawlen(L, -1)) == 0)
    luaL_error(L, "json_decoder: pick must be a list of field names, "
                  "from the root (e.g. {\"data\", \"item\"})");
  for (i = 1; i <= n; i++) {
    cv_jsonnode *o = &b->nodes[node];
    size_t len;
    const char *name;
    int f;
    lua_rawgeti(L, -1, i);
    name = lua_tolstring(L, -1, &len);
    if (name == NULL || o->kind != 'O')
      luaL_error(L, "json_decoder: pick[%d] is not a field of an object of "
                    "the shape", i);
    for (f = 0; f < o->nfields; f++) {
      const cv_jsonfield *fd = &b->fields[o->first + f];
      if (fd->len == len && memcmp(fd->name, name, len) == 0) break;
    }
    if (f == o->nfields)
      luaL_error(L, "json_decoder: pick[%d] '%s' is not a field of the "
                    "shape there", i, name);
    o->pick = f;
    node = b->fields[o->first + f].node;
    lua_pop(L, 1);
  }
  if (b->nodes[node].kind == 'O') b->nodes[node].closed = 1;
  lua_pop(L, 1);
}

static int l_json_decoder(lua_State *L) {
  int nodes = 0, fields = 0;
  compiled *c;
  builder b;
  luaL_checktype(L, 1, LUA_TTABLE);
  if (!lua_isnoneornil(L, 2)) luaL_checktype(L, 2, LUA_TTABLE);
  lua_settop(L, 2);
  if (lua_isnil(L, 2)) {
    lua_newtable(L);
    lua_replace(L, 2);
  }
  count(L, 1, 0, &nodes, &fields);
  c = (compiled *)lua_newuserdatauv(
      L, sizeof *c + (size_t)nodes * sizeof(cv_jsonnode) +
             (size_t)fields * sizeof(cv_jsonfield), 0); /* 3 */
  b.nodes = (cv_jsonnode *)(void *)(c + 1);
  b.fields = (cv_jsonfield *)(void *)(b.nodes + nodes);
  b.nnodes = b.nfields = 0;
  c->shape.nodes = b.nodes;
  c->shape.fields = b.fields;
  c->nnodes = nodes;
  c->nfields = fields;
  cv_jsondec_newkeys(L); /* 4 keys, 5 anchor */
  lua_newtable(L);       /* 6 names */
  b.names = 6;
  build(L, &b, 1);
  apply_pick(L, &b);
  lua_remove(L, 2); /* opts: the upvalues are shape, keys, anchor, names */
  lua_pushcclosure(L, l_decode, 4);
  return 1;
}

void cv_jsondecoder_open(lua_State *L) {
  lua_pushcfunction(L, l_json_decoder);
  lua_setfield(L, -2, "json_decoder");
}
