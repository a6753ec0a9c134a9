/*
** test_jsondec.c - the core's JSON decoder (src/jsondec.c) in a real
** lua_State, built once per Lua flavour: values and types of the edge
** cases, a Lua memory error at every allocation of a decode (a state whose
** allocator fails on purpose) never leaks nor leaves the stack wrong, a
** document bigger than LuaJIT's stack, and numbers under a locale whose
** decimal point is a comma (de_DE.UTF-8, when the system has it).
*/
#include <locale.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "compat.h"
#include "jsondec.h"
#include "lualib.h"

/* ------------------------------------------------------------ allocator */

typedef struct budget {
  long fail_after; /* allocations that succeed before every later one
                      fails (Lua retries once after a full GC); < 0: no
                      failure */
  size_t in_use;
} budget;

static void *alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  budget *b = (budget *)ud;
  if (ptr == NULL) osize = 0;
  if (nsize == 0) {
    free(ptr);
    b->in_use -= osize;
    return NULL;
  }
  if (nsize > osize && b->fail_after >= 0) {
    if (b->fail_after == 0) return NULL;
    b->fail_after--;
  }
  ptr = realloc(ptr, nsize);
  if (ptr != NULL) b->in_use += nsize - osize;
  return ptr;
}

/* ------------------------------------------------------------ helpers */

/* decode(text) -> value | nil, message, with its own key cache. */
static int l_decode(lua_State *L) {
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  lua_settop(L, 1);
  if (cv_jsondec(L, s, n,
                 (cv_jsondec_keys *)lua_touserdata(L, lua_upvalueindex(1)),
                 lua_upvalueindex(2), NULL, NULL))
    return 1;
  lua_pushnil(L);
  lua_insert(L, -2);
  return 2;
}

static void push_decoder(lua_State *L) {
  cv_jsondec_newkeys(L);
  lua_pushcclosure(L, l_decode, 2);
}

static lua_State *L;
static int dec; /* stack index of the decoder */

/* Decode text (with its length: NULs inside) and leave value, message. */
static void decode_n(const char *text, size_t n) {
  lua_pushvalue(L, dec);
  lua_pushlstring(L, text, n);
  if (lua_pcall(L, 1, 2, 0) != LUA_OK) {
    CHECK_AT(0, __FILE__, __LINE__, "decode raised: %s", lua_tostring(L, -1));
    lua_pop(L, 1);
    lua_pushnil(L);
    lua_pushnil(L);
  }
}
#define decode(text) decode_n(text, strlen(text))

static int is_int(int idx, long long v) {
  return lua_type(L, idx) == LUA_TNUMBER &&
         (!CV_HAS_INTEGERS || lua_isinteger(L, idx)) &&
         (long long)lua_tonumber(L, idx) == v;
}

static int is_float(int idx, double v) {
  return lua_type(L, idx) == LUA_TNUMBER &&
         (!CV_HAS_INTEGERS || !lua_isinteger(L, idx)) &&
         lua_tonumber(L, idx) == v;
}

/* The scalar text decodes to an integer v. */
static void scalar_int(const char *text, long long v, int line) {
  decode(text);
  CHECK_AT(is_int(-2, v) && lua_isnil(L, -1), __FILE__, line,
           "%s: %s %.17g, expected integer %lld", text, luaL_typename(L, -2),
           (double)lua_tonumber(L, -2), v);
  lua_pop(L, 2);
}

static void scalar_float(const char *text, double v, int line) {
  decode(text);
  CHECK_AT(is_float(-2, v) && lua_isnil(L, -1), __FILE__, line,
           "%s: %s %.17g, expected float %.17g", text, luaL_typename(L, -2),
           (double)lua_tonumber(L, -2), v);
  lua_pop(L, 2);
}

static void refused(const char *text, size_t n, const char *message,
                    int line) {
  decode_n(text, n);
  CHECK_AT(lua_isnil(L, -2) && lua_type(L, -1) == LUA_TSTRING &&
               strcmp(lua_tostring(L, -1), message) == 0,
           __FILE__, line, "%.*s: %s, message %s, expected %s", (int)n, text,
           luaL_typename(L, -2), lua_tostring(L, -1), message);
  lua_pop(L, 2);
}
#define REFUSED(text, message) refused(text, strlen(text), message, __LINE__)

static void string_is(const char *text, const char *want, size_t n,
                      int line) {
  decode(text);
  CHECK_AT(lua_type(L, -2) == LUA_TSTRING && lua_rawlen(L, -2) == n &&
               memcmp(lua_tostring(L, -2), want, n) == 0,
           __FILE__, line, "%s: wrong string", text);
  lua_pop(L, 2);
}

/* ------------------------------------------------------------ tests */

static void test_numbers(void) {
  scalar_int("0", 0, __LINE__);
  scalar_int("-0", 0, __LINE__);
  scalar_int("-0.0", 0, __LINE__);
  scalar_int("1.0", 1, __LINE__);
  scalar_int("1e3", 1000, __LINE__);
  scalar_int("1.5e1", 15, __LINE__);
  scalar_int("1.", 1, __LINE__); /* cjson (strtod) accepts these */
  scalar_int("1.e3", 1000, __LINE__);
  scalar_int("1e-400", 0, __LINE__); /* underflow */
  scalar_int("9007199254740992", 9007199254740992LL, __LINE__);
  scalar_int("-9007199254740992", -9007199254740992LL, __LINE__);
  /* 2^53 + 1 rounds to 2^53 (as strtod does), which is an integer */
  scalar_int("9007199254740993", 9007199254740992LL, __LINE__);
  scalar_int("100000000000000000000e-5", 1000000000000000LL, __LINE__);
  scalar_float("9007199254740994", 9007199254740994.0, __LINE__);
  scalar_float("12345678901234567890", 12345678901234567890.0, __LINE__);
  scalar_float("1e16", 1e16, __LINE__);
  scalar_float("2.5", 2.5, __LINE__);
  scalar_float("-.5", -0.5, __LINE__);
  scalar_float("0.1", 0.1, __LINE__);
  scalar_float("1.7976931348623157e308", 1.7976931348623157e308, __LINE__);
  scalar_float("4.9e-324", 4.9e-324, __LINE__);
  scalar_float("0.30000000000000004", 0.30000000000000004, __LINE__);
  scalar_float("3.141592653589793238462643383279", 3.141592653589793,
               __LINE__);
  scalar_float("1e400", HUGE_VAL, __LINE__);
  scalar_float("-1e400", -HUGE_VAL, __LINE__);
  REFUSED("01", "invalid JSON: Expected value but found invalid number at "
                "character 1");
  REFUSED("-01", "invalid JSON: Expected value but found invalid number at "
                 "character 1");
  REFUSED("0x10", "invalid JSON: Expected value but found invalid number "
                  "at character 1");
  REFUSED("+1", "invalid JSON: Expected value but found invalid token at "
                "character 1");
  REFUSED("-", "invalid JSON: Expected value but found invalid number at "
               "character 1");
  REFUSED("NaN", "invalid JSON: Expected value but found invalid token at "
                 "character 1");
  REFUSED("-Infinity", "invalid JSON: Expected value but found invalid "
                       "number at character 1");
  REFUSED("1e", "invalid JSON: Expected the end but found invalid token at "
                "character 2");
}

static void test_strings(void) {
  string_is("\"abc\"", "abc", 3, __LINE__);
  string_is("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\/\b\f\n\r\t", 8,
            __LINE__);
  string_is("\"\\u00e9\\u20AC\"", "\xc3\xa9\xe2\x82\xac", 5, __LINE__);
  string_is("\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80", 4, __LINE__);
  string_is("\"a\\u0000b\"", "a\0b", 3, __LINE__); /* kept, not cut */
  string_is("\"\xff\x01\"", "\xff\x01", 2, __LINE__); /* bytes as they are */
  REFUSED("\"\\ud800\"", "invalid JSON: Expected value but found invalid "
                         "unicode escape code at character 2");
  REFUSED("\"\\udc00\\ud800\"", "invalid JSON: Expected value but found "
                                "invalid unicode escape code at character 2");
  REFUSED("\"\\ud800\\u0041\"", "invalid JSON: Expected value but found "
                                "invalid unicode escape code at character 2");
  REFUSED("\"\\u12\"", "invalid JSON: Expected value but found invalid "
                       "unicode escape code at character 2");
  REFUSED("\"\\x\"", "invalid JSON: Expected value but found invalid escape "
                     "code at character 2");
  REFUSED("\"abc", "invalid JSON: Expected value but found unexpected end "
                   "of string at character 5");
  refused("\"a\0b\"", 5, "invalid JSON: Expected value but found unexpected "
                         "end of string at character 3", __LINE__);
  refused("[1]\0", 4, "invalid JSON: Expected the end but found T_END at "
                      "character 4", __LINE__);
  {
    /* an escaped string longer than the C stack scratch buffer */
    char text[1200], want[600];
    size_t i, k = 0;
    text[k++] = '"';
    for (i = 0; i < 590; i++) {
      want[i] = (char)('a' + i % 26);
      text[k++] = '\\';
      text[k++] = 'u';
      text[k++] = '0';
      text[k++] = '0';
      text[k++] = "0123456789abcdef"[(unsigned char)want[i] >> 4];
      text[k++] = "0123456789abcdef"[want[i] & 15];
      if (k > sizeof text - 8) break;
    }
    text[k++] = '"';
    text[k] = '\0';
    string_is(text, want, (k - 2) / 6, __LINE__);
  }
}

static void test_structure(void) {
  int top = lua_gettop(L);
  decode("{\"a\":1,\"a\":null,\"b\":null,\"c\":[1,null,3],\"d\":{},"
         "\"e\":[],\"c2\":2,\"c2\":3,\"t\":true,\"f\":false}");
  CHECK(lua_type(L, -2) == LUA_TTABLE && lua_isnil(L, -1));
  lua_getfield(L, -2, "a"); /* a duplicate key keeps its last value */
  CHECK(lua_isnil(L, -1));
  lua_getfield(L, -3, "b");
  CHECK(lua_isnil(L, -1));
  lua_getfield(L, -4, "c2");
  CHECK(is_int(-1, 3));
  lua_getfield(L, -5, "c");
  lua_rawgeti(L, -1, 1);
  CHECK(is_int(-1, 1));
  lua_rawgeti(L, -2, 2);
  CHECK(lua_isnil(L, -1));
  lua_rawgeti(L, -3, 3);
  CHECK(is_int(-1, 3));
  lua_getfield(L, -9, "t");
  CHECK(lua_type(L, -1) == LUA_TBOOLEAN && lua_toboolean(L, -1));
  lua_getfield(L, -10, "f");
  CHECK(lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1));
  lua_settop(L, top);

  decode("null"); /* nil and no message */
  CHECK(lua_isnil(L, -2) && lua_isnil(L, -1));
  lua_settop(L, top);
  REFUSED("", "invalid JSON: Expected value but found T_END at character 1");
  REFUSED(" ", "invalid JSON: Expected value but found T_END at character 2");
  REFUSED("[1,]", "invalid JSON: Expected value but found T_ARR_END at "
                  "character 4");
  REFUSED("{\"a\":1,}", "invalid JSON: Expected object key string but "
                        "found T_OBJ_END at character 8");
  REFUSED("{\"a\" 1}", "invalid JSON: Expected colon but found T_NUMBER at "
                       "character 6");
  REFUSED("{1:2}", "invalid JSON: Expected object key string but found "
                   "T_NUMBER at character 2");
  REFUSED("[1 2]", "invalid JSON: Expected comma or array end but found "
                   "T_NUMBER at character 4");
  REFUSED("[1]x", "invalid JSON: Expected the end but found invalid token "
                  "at character 4");
  REFUSED("\f1", "invalid JSON: Expected value but found invalid token at "
                 "character 1");
  CHECK_INT(lua_gettop(L), top);
}

static void test_depth(void) {
  char text[2 * 1001 + 1];
  int top = lua_gettop(L);
  memset(text, '[', 1000);
  memset(text + 1000, ']', 1000);
  text[2000] = '\0';
  decode(text);
  CHECK(lua_type(L, -2) == LUA_TTABLE);
  lua_settop(L, top);
  memset(text, '[', 1001);
  memset(text + 1001, ']', 1001);
  text[2002] = '\0';
  REFUSED(text, "invalid JSON: Found too many nested data structures (1001) "
                "at character 1001");
}

/* More elements than LuaJIT's whole stack (65500 slots): the decoder makes
** the table early and goes on filling it. */
static void test_big(void) {
  luaL_Buffer b;
  int i, ok = 1, top = lua_gettop(L);
  lua_pushvalue(L, dec);
  luaL_buffinit(L, &b);
  luaL_addstring(&b, "{\"list\":[");
  for (i = 1; i <= 100000; i++) {
    char n[16];
    snprintf(n, sizeof n, i > 1 ? ",%d" : "%d", i);
    luaL_addstring(&b, n);
  }
  luaL_addstring(&b, "],\"obj\":{");
  for (i = 1; i <= 70000; i++) {
    char n[32];
    snprintf(n, sizeof n, i > 1 ? ",\"k%d\":%d" : "\"k%d\":%d", i, i);
    luaL_addstring(&b, n);
  }
  luaL_addstring(&b, ",\"k1\":0}}");
  luaL_pushresult(&b);
  if (lua_pcall(L, 1, 2, 0) != LUA_OK) {
    CHECK_AT(0, __FILE__, __LINE__, "big: %s", lua_tostring(L, -1));
    lua_settop(L, top);
    return;
  }
  CHECK(lua_type(L, -2) == LUA_TTABLE);
  lua_getfield(L, -2, "list");
  CHECK_INT(lua_rawlen(L, -1), 100000);
  for (i = 1; i <= 100000 && ok; i++) {
    lua_rawgeti(L, -1, i);
    ok = is_int(-1, i);
    lua_pop(L, 1);
  }
  CHECK_AT(ok, __FILE__, __LINE__, "big list: element %d", i - 1);
  lua_getfield(L, -3, "obj");
  for (i = 2, ok = 1; i <= 70000 && ok; i++) {
    char k[16];
    snprintf(k, sizeof k, "k%d", i);
    lua_getfield(L, -1, k);
    ok = is_int(-1, i);
    lua_pop(L, 1);
  }
  CHECK_AT(ok, __FILE__, __LINE__, "big object: key k%d", i - 1);
  lua_getfield(L, -1, "k1"); /* the duplicate, last, wins after a flush */
  CHECK(is_int(-1, 0));
  lua_settop(L, top);
}

/* Under a locale whose decimal point is ',', "1.5" is still 1.5 (and the
** slow path, strtod, is used for the long ones). */
static void test_locale(void) {
  if (setlocale(LC_NUMERIC, "de_DE.UTF-8") == NULL &&
      setlocale(LC_NUMERIC, "de_DE.utf8") == NULL) {
    printf("test_jsondec: no de_DE.UTF-8 locale, locale test skipped\n");
    return;
  }
  scalar_float("1.5", 1.5, __LINE__);
  scalar_float("3.141592653589793238462643383279", 3.141592653589793,
               __LINE__);
  scalar_float("1.5e300", 1.5e300, __LINE__);
  scalar_float("123456789012345678901234.5", 123456789012345678901234.5,
               __LINE__);
  setlocale(LC_NUMERIC, "C");
}

/* The document every allocation of which is made to fail in turn. */
static const char *const oom_doc =
    "{\"aggregate_stats\":{\"session_count\":12,\"success_rate\":87.5,"
    "\"note\":\"\\u00e9t\\u00e9 \\ud83d\\ude00 with a long escaped tail "
    "\\n\\n................................................................"
    "................................................................"
    "................................................................"
    "................................................................\"},"
    "\"stats\":[{\"a\":1},{\"a\":2},[1,2,3,null,5e400],\"x\",true,null],"
    "\"k1\":1,\"k2\":2,\"k3\":3,\"k4\":4,\"k5\":5,\"k6\":6,\"k7\":7}";

static int oom_call(lua_State *S) {
  lua_pushvalue(S, 1);
  lua_pushvalue(S, 2);
  lua_call(S, 1, 2);
  return 2;
}

/* The shape {aggregate_stats = {session_count = "integer", success_rate =
** "float?"}, stats = {{a = "integer"}, n = 6}} (the document above has 6
** stats entries, not all objects: not typed), C strings as field names. */
static const cv_jsonfield shape_fields[] = {
    {"aggregate_stats", 15, 1}, {"stats", 5, 4},
    {"session_count", 13, 2},   {"success_rate", 12, 3},
    {"a", 1, 6}};
static const cv_jsonnode shape_nodes[] = {
    {.kind = 'O', .first = 0, .nfields = 2, .pick = -1, .required = 3},
    {.kind = 'O', .first = 2, .nfields = 2, .pick = -1, .required = 1},
    {.kind = 'i', .pick = -1},
    {.kind = 'f', .pick = -1},
    {.kind = 'A', .pick = -1, .elem = 5, .len = 6},
    {.kind = 'O', .first = 4, .nfields = 1, .pick = -1, .required = 1},
    {.kind = 'i', .pick = -1}};
static const cv_jsonshape shape = {shape_nodes, shape_fields};

/* decode_shape(text) -> value, typed | nothing */
static int l_decode_shape(lua_State *S) {
  size_t n;
  const char *s = luaL_checklstring(S, 1, &n);
  int typed = -1;
  lua_settop(S, 1);
  if (!cv_jsondec(S, s, n, NULL, 0, &shape, &typed)) return 0;
  lua_pushboolean(S, typed);
  return 2;
}

/* Decode the document (stack index 2) with the decoder at 1, a memory
** error at every allocation in turn until it succeeds: each failure is
** LUA_ERRMEM with the stack as it was; the success is the right value. */
static void run_oom(lua_State *S, budget *b, int shaped) {
  long n;
  int done = 0;
  for (n = 0; n < 10000 && !done; n++) {
    int status, top = lua_gettop(S);
    lua_pushcfunction(S, oom_call);
    lua_pushvalue(S, 1);
    lua_pushvalue(S, 2);
    b->fail_after = n;
    status = lua_pcall(S, 2, 2, 0);
    b->fail_after = -1;
    if (status == LUA_OK) {
      done = 1;
      CHECK(lua_type(S, -2) == LUA_TTABLE);
      CHECK(shaped ? lua_type(S, -1) == LUA_TBOOLEAN && !lua_toboolean(S, -1)
                   : lua_isnil(S, -1));
      lua_getfield(S, -2, "k7");
      CHECK(lua_tonumber(S, -1) == 7);
      lua_getfield(S, -3, "aggregate_stats");
      lua_getfield(S, -1, "session_count");
      CHECK(lua_tonumber(S, -1) == 12);
    } else {
      CHECK_AT(status == LUA_ERRMEM, __FILE__, __LINE__,
               "allocation %ld: status %d", n, status);
      CHECK_AT(lua_gettop(S) == top + 1, __FILE__, __LINE__,
               "allocation %ld: stack %d", n, lua_gettop(S));
    }
    lua_settop(S, top);
    lua_gc(S, LUA_GCCOLLECT, 0);
  }
  CHECK_AT(done && n > 10, __FILE__, __LINE__,
           "never decoded (%ld allocations tried)", n);
  printf("test_jsondec: a memory error at each of %ld allocations%s\n",
         n - 1, shaped ? " (with a shape)" : "");
}

static void test_memory_errors(void) {
  budget b = {-1, 0};
  lua_State *S = lua_newstate(alloc, &b);
  if (S == NULL) {
    printf("test_jsondec: no custom allocator here (LuaJIT 64-bit), "
           "memory error test skipped\n");
    return;
  }
  push_decoder(S);            /* 1 */
  lua_pushstring(S, oom_doc); /* 2 */
  run_oom(S, &b, 0);
  lua_pushvalue(S, 1); /* the key cache is still right after the failures */
  lua_pushstring(S, "{\"k1\":10,\"k7\":70}");
  CHECK(lua_pcall(S, 1, 1, 0) == LUA_OK);
  lua_getfield(S, -1, "k7");
  CHECK(lua_tonumber(S, -1) == 70);
  lua_settop(S, 2);
  lua_pushcfunction(S, l_decode_shape);
  lua_replace(S, 1);
  run_oom(S, &b, 1);
  lua_close(S);
  CHECK_INT(b.in_use, 0);
}

/* The shape's checks: typed when the body has it, an integer success_rate
** made a float (Lua 5.4); not typed otherwise. */
static void test_shape(void) {
  int top = lua_gettop(L);
  lua_pushcfunction(L, l_decode_shape);
  lua_pushstring(L, "{\"aggregate_stats\":{\"session_count\":1,"
                    "\"success_rate\":88},\"stats\":[{\"a\":1},{\"a\":2},"
                    "{\"a\":3},{\"a\":4},{\"a\":5},{\"a\":6,\"b\":[]}]}");
  CHECK(lua_pcall(L, 1, 2, 0) == LUA_OK);
  CHECK(lua_toboolean(L, -1));
  lua_getfield(L, -2, "aggregate_stats");
  lua_getfield(L, -1, "success_rate");
  CHECK(is_float(-1, 88));
  lua_settop(L, top);
  lua_pushcfunction(L, l_decode_shape);
  lua_pushstring(L, "{\"aggregate_stats\":{\"session_count\":1.5}}");
  CHECK(lua_pcall(L, 1, 2, 0) == LUA_OK);
  CHECK(lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1));
  lua_settop(L, top);
}

int main(void) {
  L = luaL_newstate();
  luaL_openlibs(L);
  push_decoder(L);
  dec = lua_gettop(L);
  test_numbers();
  test_strings();
  test_structure();
  test_depth();
  test_big();
  test_locale();
  test_shape();
  CHECK_INT(lua_gettop(L), dec);
  lua_close(L);
  test_memory_errors();
  return check_done("jsondec");
}
