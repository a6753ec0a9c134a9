/*
** jsondec.c - one-pass JSON decoder into Lua values (see jsondec.h).
**
** A recursive descent over the text.  The values of an open array or
** object wait on the Lua stack (an object's as key, value pairs); at the
** closing bracket the table is created with their exact count and they
** are moved in.  A container whose waiting values would make the stack
** too high (LuaJIT allows 65500 slots) gets its table early ("flushed")
** and goes on filling it, so any size decodes.
**
** Grammar accepted: lua-cjson 2.1.0's (the reference), which is RFC 8259
** plus what cjson lets through: raw control characters and invalid UTF-8
** inside strings (copied as they are), and numbers as strtod reads them
** once cjson's checks pass ("1.", "-.5", "1.e3": no leading '+', no
** leading zero, no hex, no inf or nan).  Refused beyond cjson: a NUL byte.
*/
#include <locale.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsondec.h"

#define MAX_DEPTH 1000  /* cjson's default decode_max_depth */
#define MAX_SAFE 9007199254740992.0 /* 2^53 */
#define STACK_BUDGET 16000 /* waiting values before a container flushes */
#define MAX_MANTISSA 19 /* significant digits that fit a uint64_t */

typedef struct parser {
  lua_State *L;
  const char *text, *p, *end;
  int depth;
  int base; /* stack top when decoding began */
  cv_jsondec_keys *keys;
  int anchor;
  const char *expected, *found; /* the error, when found != NULL */
  size_t at;                    /* its 0-based offset */
  const cv_jsonshape *shape;    /* or NULL */
  const char *key;              /* the bytes of the last key pushed from
                                   the key cache, else NULL */
  int typed;                    /* the value has the shape so far */
  int room;                     /* stack slots known to be free */
  char last; /* what the last value pushed is, for the shape's checks:
                'i' an integer (integral within +-2^53), 'n' another
                number, 's' string, 'b' boolean, 'z' nil, 't' table */
} parser;

/* ------------------------------------------------------------ errors */

static int fail(parser *P, const char *expected, const char *found,
                const char *at) {
  P->expected = expected;
  P->found = found;
  P->at = (size_t)(at - P->text);
  return 0;
}

static int parse_string(parser *P, int is_key);
static int parse_number(parser *P);

static int word(parser *P, const char *w, size_t n) {
  return (size_t)(P->end - P->p) >= n && memcmp(P->p, w, n) == 0;
}

/* Fail with "Expected <expected> but found <the token at P->p>", the
** token named as cjson's tokenizer names it (a string or number that is
** itself bad is reported as cjson reports it: its own error). */
static int unexpected(parser *P, const char *expected) {
  const char *p = P->p, *found;
  if (p >= P->end || *p == '\0') {
    found = "T_END";
  } else {
    switch (*p) {
      case '{': found = "T_OBJ_BEGIN"; break;
      case '}': found = "T_OBJ_END"; break;
      case '[': found = "T_ARR_BEGIN"; break;
      case ']': found = "T_ARR_END"; break;
      case ':': found = "T_COLON"; break;
      case ',': found = "T_COMMA"; break;
      case 't': found = word(P, "true", 4) ? "T_BOOLEAN" : "invalid token"; break;
      case 'f': found = word(P, "false", 5) ? "T_BOOLEAN" : "invalid token"; break;
      case 'n': found = word(P, "null", 4) ? "T_NULL" : "invalid token"; break;
      case '"':
        if (!parse_string(P, 0)) {
          P->expected = expected;
          return 0;
        }
        found = "T_STRING";
        break;
      default:
        if (*p != '-' && (*p < '0' || *p > '9')) {
          found = "invalid token";
        } else if (!parse_number(P)) {
          P->expected = expected;
          return 0;
        } else {
          found = "T_NUMBER";
        }
    }
  }
  return fail(P, expected, found, p);
}

/* ------------------------------------------------------------ helpers */

static void skip_space(parser *P) {
  const char *p = P->p, *e = P->end;
  while (p < e && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
    p++;
  P->p = p;
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* Push d as convai numbers are: an integer when integral within +-2^53
** (on LuaJIT a number, which field checks then call an integer too). */
static void push_number(parser *P, double d) {
  if (d >= -MAX_SAFE && d <= MAX_SAFE && d == (double)(long long)d) {
    P->last = 'i';
#if CV_HAS_INTEGERS
    lua_pushinteger(P->L, (lua_Integer)d);
    return;
#endif
  } else {
    P->last = 'n';
  }
  lua_pushnumber(P->L, (lua_Number)d);
}

/* ------------------------------------------------------------ numbers */

static const double powers[] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* strtod of s[0..n), '.' read as the decimal point whatever the locale. */
static double c_strtod(lua_State *L, const char *s, size_t n) {
  const char *point = localeconv()->decimal_point;
  size_t plen = strlen(point), i, k = 0;
  char small[128], *buf = small;
  if (plen == 1 && point[0] == '.') return strtod(s, NULL);
  if (n * plen + 1 > sizeof small)
    buf = (char *)lua_newuserdatauv(L, n * plen + 1, 0); /* popped below */
  for (i = 0; i < n; i++) {
    if (s[i] == '.') {
      memcpy(buf + k, point, plen);
      k += plen;
    } else {
      buf[k++] = s[i];
    }
  }
  buf[k] = '\0';
  {
    double d = strtod(buf, NULL);
    if (buf != small) lua_pop(L, 1);
    return d;
  }
}

/* A number (cjson's rules, see the top), pushed. */
static int parse_number(parser *P) {
  const char *s = P->p, *p = s, *d;
  uint64_t m = 0; /* the digits, exact when there are at most 19 */
  int neg = 0, point = 0;
  long exp10 = 0, ndig;
  if (*p == '-') {
    neg = 1;
    p++;
  }
  if (*p == '0' && (is_digit(p[1]) || (p[1] | 0x20) == 'x'))
    return fail(P, "value", "invalid number", s);
  /* the text ends with '\0' (jsondec.h): no end checks in these loops */
  for (d = p; is_digit(*p); p++) m = m * 10 + (uint64_t)(*p - '0');
  ndig = p - d;
  if (*p == '.') {
    point = 1;
    for (d = ++p; is_digit(*p); p++) m = m * 10 + (uint64_t)(*p - '0');
    exp10 = -(long)(p - d);
    ndig += p - d;
  }
  if (ndig == 0) return fail(P, "value", "invalid number", s);
  if ((*p | 0x20) == 'e') {
    const char *q = p + 1;
    int eneg = 0;
    long x = 0;
    if (*q == '+' || *q == '-') eneg = *q++ == '-';
    if (is_digit(*q)) { /* else strtod stops before the 'e' */
      point = 1;
      for (; is_digit(*q); q++)
        if (x < 100000) x = x * 10 + (*q - '0');
      exp10 += eneg ? -x : x;
      p = q;
    }
  }
  P->p = p;
  if (ndig <= MAX_MANTISSA) {
    if (!point && m <= (uint64_t)MAX_SAFE) {
      /* an integer literal: no floating point at all */
      P->last = 'i';
#if CV_HAS_INTEGERS
      lua_pushinteger(P->L, neg ? -(lua_Integer)m : (lua_Integer)m);
#else
      lua_pushnumber(P->L, neg ? -(lua_Number)m : (lua_Number)m);
#endif
      return 1;
    }
    if (m == 0 || exp10 == 0 ||
        (m <= (uint64_t)MAX_SAFE && exp10 >= -22 && exp10 <= 22)) {
      /* exact operands, one correctly rounded operation (Clinger) */
      double v = (double)m;
      if (m != 0 && exp10 != 0) v = exp10 < 0 ? v / powers[-exp10] : v * powers[exp10];
      push_number(P, neg ? -v : v);
      return 1;
    }
  }
  push_number(P, c_strtod(P->L, s, (size_t)(p - s)));
  return 1;
}

/* ------------------------------------------------------------ strings */

static int hex4(const char *p, const char *e) {
  int i, v = 0;
  if (e - p < 4) return -1;
  for (i = 0; i < 4; i++) {
    int c = p[i], d;
    if (c >= '0' && c <= '9') d = c - '0';
    else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') d = (c | 0x20) - 'a' + 10;
    else return -1;
    v = v * 16 + d;
  }
  return v;
}

/* Write the UTF-8 of code point c (< 0x110000) at out; its length. */
static size_t put_utf8(char *out, unsigned long c) {
  if (c < 0x80) {
    out[0] = (char)c;
    return 1;
  }
  if (c < 0x800) {
    out[0] = (char)(0xC0 | (c >> 6));
    out[1] = (char)(0x80 | (c & 0x3F));
    return 2;
  }
  if (c < 0x10000) {
    out[0] = (char)(0xE0 | (c >> 12));
    out[1] = (char)(0x80 | ((c >> 6) & 0x3F));
    out[2] = (char)(0x80 | (c & 0x3F));
    return 3;
  }
  out[0] = (char)(0xF0 | (c >> 18));
  out[1] = (char)(0x80 | ((c >> 12) & 0x3F));
  out[2] = (char)(0x80 | ((c >> 6) & 0x3F));
  out[3] = (char)(0x80 | (c & 0x3F));
  return 4;
}

/* A string with escapes, from its opening quote s; p is at its first '\'.
** Decoded into a scratch buffer (the C stack, or a userdata for a long
** one: a Lua value, so a memory error leaks nothing), never longer than
** the text up to the closing quote. */
static int parse_escaped(parser *P, const char *s, const char *p) {
  lua_State *L = P->L;
  const char *e = P->end, *q;
  char small[256], *out, *o;
  size_t room;
  for (q = p; q < e && *q != '"'; q++) /* room: up to the closing quote */
    if (*q == '\\' && q + 1 < e) q++;
  room = (size_t)(q - (s + 1));
  out = small;
  if (room > sizeof small)
    out = (char *)lua_newuserdatauv(L, room, 0); /* settop'd below */
  memcpy(out, s + 1, (size_t)(p - (s + 1)));
  o = out + (p - (s + 1));
  for (;;) {
    char c;
    if (p >= e || *p == '\0')
      return fail(P, "value", "unexpected end of string", p);
    c = *p;
    if (c == '"') break;
    if (c != '\\') {
      *o++ = c;
      p++;
      continue;
    }
    switch (p + 1 < e ? p[1] : '\0') {
      case '"': *o++ = '"'; break;
      case '\\': *o++ = '\\'; break;
      case '/': *o++ = '/'; break;
      case 'b': *o++ = '\b'; break;
      case 'f': *o++ = '\f'; break;
      case 'n': *o++ = '\n'; break;
      case 'r': *o++ = '\r'; break;
      case 't': *o++ = '\t'; break;
      case 'u': {
        long c1 = hex4(p + 2, e), c2;
        if (c1 < 0) return fail(P, "value", "invalid unicode escape code", p);
        if ((c1 & 0xF800) == 0xD800) { /* a surrogate: high, then low */
          if ((c1 & 0x400) || e - p < 12 || p[6] != '\\' || p[7] != 'u' ||
              (c2 = hex4(p + 8, e)) < 0 || (c2 & 0xFC00) != 0xDC00)
            return fail(P, "value", "invalid unicode escape code", p);
          o += put_utf8(o, (((unsigned long)c1 & 0x3FF) << 10 |
                            ((unsigned long)c2 & 0x3FF)) + 0x10000);
          p += 12;
        } else {
          o += put_utf8(o, (unsigned long)c1);
          p += 6;
        }
        continue;
      }
      default: return fail(P, "value", "invalid escape code", p);
    }
    p += 2;
  }
  P->p = p + 1;
  lua_pushlstring(L, out, (size_t)(o - out));
  if (out != small) lua_remove(L, -2);
  return 1;
}

/* The bytes that end the plain run of a string. */
static const unsigned char string_stop[256] = {1, ['"'] = 1, ['\\'] = 1};

/* A string, pushed; a key (is_key) goes through the key cache. */
static int parse_string(parser *P, int is_key) {
  const char *s = P->p, *p = s + 1;
  size_t n;
  while (!string_stop[(unsigned char)*p]) p++; /* stops at the final '\0' */
  if (*p == '\0')
    return fail(P, "value", "unexpected end of string", p);
  if (*p == '\\') return parse_escaped(P, s, p);
  P->p = p + 1;
  n = (size_t)(p - (s + 1));
  if (is_key && P->keys != NULL && n <= CV_JSONDEC_KEYLEN && n > 0) {
    cv_jsondec_keys *k = P->keys;
    unsigned h = ((unsigned)n * 31u + (unsigned char)s[1] * 7u +
                  (unsigned char)p[-1] + (unsigned char)s[1 + n / 2] * 3u) &
                 (CV_JSONDEC_SLOTS - 1);
    if (k->n[h] == n && memcmp(k->s[h], s + 1, n) == 0) {
      lua_rawgeti(P->L, P->anchor, (int)h + 1);
      P->key = k->s[h];
      return 1;
    }
    lua_pushlstring(P->L, s + 1, n);
    lua_pushvalue(P->L, -1);
    lua_rawseti(P->L, P->anchor, (int)h + 1);
    P->key = k->s[h] = lua_tostring(P->L, -1);
    k->n[h] = n;
    return 1;
  }
  if (is_key) P->key = NULL;
  lua_pushlstring(P->L, s + 1, n);
  return 1;
}

/* ------------------------------------------------------------ containers */

static int parse_value(parser *P, int node);

/* Move the waiting values (above *tbl, or from first) into the table,
** creating it (sized for count elements or pairs) if not made yet.  An
** object's pairs are set in order (the last of a duplicate key wins) from
** copies, the table on top, which then takes the place of the first key;
** an array's elements are popped into the table put below them. */
static void flush(parser *P, int first, int *tbl, int count, int is_object,
                  int *done) {
  lua_State *L = P->L;
  int i;
  if (is_object) {
    int top = lua_gettop(L), t = *tbl ? *tbl : -3;
    if (*tbl == 0) lua_createtable(L, 0, count); /* on top, below copies */
    for (i = *tbl ? *tbl + 1 : first; i < top; i += 2) {
      lua_pushvalue(L, i);
      lua_pushvalue(L, i + 1);
      lua_rawset(L, t);
    }
    if (*tbl == 0) {
      if (lua_gettop(L) != first) lua_replace(L, first);
      *tbl = first;
    }
    lua_settop(L, *tbl);
  } else {
    if (*tbl == 0) {
      lua_createtable(L, count, 0);
      lua_insert(L, first);
      *tbl = first;
    }
    for (i = count; i > *done; i--) lua_rawseti(L, *tbl, i);
  }
  *done = count;
}

/* Before each element: room on the stack for it (a key, a value and two
** temporaries), checked with Lua every ROOM_CHUNK / 4 elements; then too,
** a container whose waiting values make the stack too high is flushed. */
#define ROOM_CHUNK 64
static void make_room(parser *P, int first, int *tbl, int count,
                      int is_object, int *done) {
  if (P->room < 4) {
    if (lua_gettop(P->L) - P->base > STACK_BUDGET ||
        !lua_checkstack(P->L, ROOM_CHUNK)) {
      flush(P, first, tbl, count, is_object, done);
      luaL_checkstack(P->L, ROOM_CHUNK, "JSON: no stack left");
    }
    P->room = ROOM_CHUNK;
  }
  P->room -= 4;
}

static int enter(parser *P) {
  if (++P->depth > MAX_DEPTH) {
    P->found = "too many nested data structures";
    P->expected = NULL;
    P->at = (size_t)(P->p - P->text);
    return 0;
  }
  P->p++; /* the bracket */
  skip_space(P);
  return 1;
}

/* The value on top against the shape's node: a leaf's type (an 'f'
** integer made a float); containers were checked as they were parsed. */
static void check_leaf(parser *P, int node) {
  char t = P->last;
  int ok;
  switch (P->shape->nodes[node].kind) {
    case 'i': ok = t == 'i'; break;
    case 'n': ok = t == 'i' || t == 'n'; break;
    case 'o': ok = t == 'i' || t == 'n' || t == 'z'; break;
    case 'f':
      ok = t == 'i' || t == 'n' || t == 'z';
#if CV_HAS_INTEGERS
      if (t == 'i') {
        lua_Number v = (lua_Number)lua_tointeger(P->L, -1);
        lua_pop(P->L, 1);
        lua_pushnumber(P->L, v);
      }
#endif
      break;
    case 's': ok = t == 's'; break;
    case 'b': ok = t == 'b'; break;
    case 't': ok = t == 't'; break;
    default: return; /* 'O', 'A' */
  }
  if (!ok) P->typed = 0;
}

/* The node a container is parsed with: node itself when it is one of that
** kind, else -1 (and the value does not have the shape). */
static int container_node(parser *P, int node, char kind) {
  if (node < 0) return -1;
  if (P->shape->nodes[node].kind == kind) return node;
  if (P->shape->nodes[node].kind != 't') P->typed = 0;
  return -1;
}

/* After an element: a comma (*more = 1) or the closing bracket (*more =
** 0), each with the space after it; 0 on anything else. */
static int next_item(parser *P, char close, const char *expected,
                     int *more) {
  skip_space(P);
  if (P->p < P->end && (*P->p == ',' || *P->p == close)) {
    *more = *P->p++ == ',';
    if (*more) skip_space(P);
    return 1;
  }
  return unexpected(P, expected);
}

static int parse_array(parser *P, int node) {
  int first = lua_gettop(P->L) + 1, tbl = 0, count = 0, done = 0, elem = -1;
  int more;
  node = container_node(P, node, 'A');
  if (node >= 0) elem = P->shape->nodes[node].elem;
  if (!enter(P)) return 0;
  if (P->p < P->end && *P->p == ']') {
    P->p++;
  } else {
    for (;;) {
      make_room(P, first, &tbl, count, 0, &done);
      if (!parse_value(P, elem)) return 0;
      if (elem >= 0) check_leaf(P, elem);
      count++;
      if (!next_item(P, ']', "comma or array end", &more)) return 0;
      if (!more) break;
    }
  }
  if (node >= 0 && P->shape->nodes[node].len >= 0 &&
      P->shape->nodes[node].len != count)
    P->typed = 0;
  flush(P, first, &tbl, count, 0, &done);
  P->depth--;
  return 1;
}

/* The node of the field named by the key on top of the stack in object
** node o, or -1; the field's bit is set in *seen.  A key from the key
** cache is first looked for by the address of its bytes: Lua interns the
** short strings (LuaJIT every string), so the field's name, a Lua string
** with the same bytes, has the same address. */
static int field_node(parser *P, const cv_jsonnode *o, uint64_t *seen) {
  const cv_jsonfield *f = &P->shape->fields[o->first];
  size_t n;
  const char *k = P->key;
  int i;
  if (k != NULL) {
    for (i = 0; i < o->nfields; i++) {
      if (f[i].name == k) {
        *seen |= (uint64_t)1 << i;
        return f[i].node;
      }
    }
  }
  k = lua_tolstring(P->L, -1, &n);
  for (i = 0; i < o->nfields; i++) {
    if (f[i].len == n && memcmp(f[i].name, k, n) == 0) {
      *seen |= (uint64_t)1 << i;
      return f[i].node;
    }
  }
  return -1;
}

/* Close an object that stands for its field `pick` (see cv_jsonnode): the
** value of the last such pair takes the place of the object (at first);
** nil when there is none (the shape then fails: the field is required). */
static void pick_field(parser *P, int first, int tbl, int at,
                       const cv_jsonfield *f) {
  lua_State *L = P->L;
  if (tbl != 0) { /* flushed into a table: the field is a key of it */
    lua_pushlstring(L, f->name, f->len);
    lua_rawget(L, tbl);
  } else if (at != 0) {
    lua_pushvalue(L, at);
  } else {
    lua_pushnil(L);
  }
  lua_replace(L, first);
  lua_settop(L, first);
}

static int parse_object(parser *P, int node) {
  int first = lua_gettop(P->L) + 1, tbl = 0, count = 0, done = 0, more;
  int pick = -1, at = 0; /* at: the stack index of the picked value */
  uint64_t seen = 0;
  const cv_jsonnode *o = NULL;
  node = container_node(P, node, 'O');
  if (node >= 0) {
    o = &P->shape->nodes[node];
    pick = o->pick;
  }
  if (!enter(P)) return 0;
  if (P->p < P->end && *P->p == '}') {
    P->p++;
  } else {
    for (;;) {
      make_room(P, first, &tbl, count, 1, &done);
      if (P->p >= P->end || *P->p != '"')
        return unexpected(P, "object key string");
      if (!parse_string(P, 1)) {
        P->expected = "object key string";
        return 0;
      }
      skip_space(P);
      if (P->p >= P->end || *P->p != ':') return unexpected(P, "colon");
      P->p++;
      skip_space(P);
      {
        int child = o != NULL ? field_node(P, o, &seen) : -1;
        if (!parse_value(P, child)) return 0;
        if (child >= 0) check_leaf(P, child);
        if (child < 0 && o != NULL && o->closed) {
          lua_pop(P->L, 2); /* a key the shape does not have: dropped */
          goto next;
        }
        if (pick >= 0 && child == P->shape->fields[o->first + pick].node)
          at = tbl != 0 ? 0 : lua_gettop(P->L);
      }
      count++;
    next:
      if (!next_item(P, '}', "comma or object end", &more)) return 0;
      if (!more) break;
    }
  }
  if (o != NULL && (seen & o->required) != o->required) P->typed = 0;
  if (pick >= 0 && P->typed) {
    if (tbl != 0) flush(P, first, &tbl, count, 1, &done);
    pick_field(P, first, tbl, at, &P->shape->fields[o->first + pick]);
  } else {
    flush(P, first, &tbl, count, 1, &done);
  }
  P->depth--;
  return 1;
}

static int literal(parser *P, const char *w, size_t n) {
  if (!word(P, w, n)) return fail(P, "value", "invalid token", P->p);
  P->p += n;
  return 1;
}

/* The value at P->p (no space before it), pushed (nil for null), with the
** shape's node (or -1): a container is parsed with it, a leaf is checked
** by the caller (check_leaf); a scalar where the node is a container is
** not the shape. */
static int parse_value(parser *P, int node) {
  lua_State *L = P->L;
  if (P->p >= P->end) return unexpected(P, "value");
  if (node >= 0 && *P->p != '{' && *P->p != '[' &&
      (P->shape->nodes[node].kind == 'O' || P->shape->nodes[node].kind == 'A'))
    P->typed = 0;
  switch (*P->p) {
    case '{':
      if (!parse_object(P, node)) return 0;
      P->last = 't';
      return 1;
    case '[':
      if (!parse_array(P, node)) return 0;
      P->last = 't';
      return 1;
    case '"': P->last = 's'; return parse_string(P, 0);
    case 't':
      if (!literal(P, "true", 4)) return 0;
      lua_pushboolean(L, 1);
      P->last = 'b';
      return 1;
    case 'f':
      if (!literal(P, "false", 5)) return 0;
      lua_pushboolean(L, 0);
      P->last = 'b';
      return 1;
    case 'n':
      if (!literal(P, "null", 4)) return 0;
      lua_pushnil(L);
      P->last = 'z';
      return 1;
    default:
      if (*P->p == '-' || is_digit(*P->p)) return parse_number(P);
      return unexpected(P, "value");
  }
}

/* ------------------------------------------------------------ entry */

int cv_jsondec(lua_State *L, const char *text, size_t len,
               cv_jsondec_keys *keys, int anchor, const cv_jsonshape *shape,
               int *typed) {
  parser P;
  P.L = L;
  P.text = P.p = text;
  P.end = text + len;
  P.depth = 0;
  P.keys = keys;
  P.anchor = anchor;
  P.expected = P.found = NULL;
  P.at = 0;
  P.shape = shape;
  P.typed = shape != NULL;
  P.key = NULL;
  luaL_checkstack(L, 8, "JSON: no stack left");
  P.room = 4; /* the root value and temporaries */
  P.base = lua_gettop(L);
  skip_space(&P);
  if (parse_value(&P, shape != NULL ? 0 : -1)) {
    skip_space(&P);
    if (P.p >= P.end) {
      if (shape != NULL) check_leaf(&P, 0);
      if (typed != NULL) *typed = P.typed;
      return 1;
    }
    lua_pop(L, 1);
    unexpected(&P, "the end");
  }
  if (typed != NULL) *typed = 0;
  lua_settop(L, P.base);
  if (P.expected == NULL)
    lua_pushfstring(L, "invalid JSON: Found %s (%d) at character %d",
                    P.found, P.depth, (int)P.at + 1);
  else
    lua_pushfstring(L, "invalid JSON: Expected %s but found %s at "
                       "character %d",
                    P.expected, P.found, (int)P.at + 1);
  return 0;
}

cv_jsondec_keys *cv_jsondec_newkeys(lua_State *L) {
  cv_jsondec_keys *k =
      (cv_jsondec_keys *)lua_newuserdatauv(L, sizeof *k, 0);
  memset(k, 0, sizeof *k);
  lua_createtable(L, CV_JSONDEC_SLOTS, 0);
  return k;
}
