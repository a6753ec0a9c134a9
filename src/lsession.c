/*
** lsession.c - HTTP sessions on libcurl (see lsession.h).
**
** Design:
**  - One CURL easy handle per session, reused so connections are kept
**    alive.  Before each request the handle is curl_easy_reset (which keeps
**    live connections) and every option is set again, so nothing from one
**    request (method, body, headers) leaks into the next.
**  - Everything is validated before libcurl sees it; bad values become
**    nil, err(invalid_argument) and nothing is sent.
**  - libcurl callbacks never call Lua (a Lua error would longjmp through
**    libcurl): they only fill malloc'd buffers.  Those buffers and the
**    header list belong to the session userdata, so a Lua error (e.g. out
**    of memory while building the response) leaks nothing: they are
**    released by the next request, close or __gc.
**  - The result is built in a protected call with the session marked
**    busy: building it allocates, so a finalizer may run Lua that uses the
**    same session.  Such a request is refused ("session is busy") and a
**    close is deferred until the result is built.
**  - Each session holds a curl_global_init reference (libcurl counts
**    them), released on close, so global cleanup runs after the last
**    handle is gone whatever order finalizers run in.
*/
/***
convai.core: the C core: HTTP sessions on libcurl, JSON on lua-cjson, and
the parsers for the vendors' formats.

The clients (`convai.voicebot`,
`convai.avaamo`, `convai.vonage`, through `convai.http`) are built on it; it
can also be used directly.

    local core = require "convai.core"
    local s = assert(core.session { timeout = 10 })
    local resp, err = s:request { url = "https://example.com/" }
    if not resp then print(err.kind, err.message) end

Conventions of every function of this module:

 - A failure that depends on data or on the network is a value, never a
   raised error: the function returns `nil` and an error object (a
   `convai.error` table, see `error`), or for the parsers and JSON functions
   `nil` and a message string.
 - A wrong argument type (a programming mistake) raises a Lua error.
 - Durations are in seconds (numbers, fractions allowed), sizes in bytes,
   dates as epoch seconds or day numbers (days since 1970-01-01, UTC).
 - On Lua 5.4 integral results (status codes, seconds, day numbers) are
   integers. The same source builds for LuaJIT (Lua 5.1 API), where they are
   plain numbers.
 - Error messages never contain header values, which may hold credentials.

Documents followed: RFC 9110 (HTTP semantics: tokens, field values,
HTTP-date, `Retry-After`, status codes), RFC 8259 (JSON), libcurl 7.88 and
lua-cjson 2.1.0 as packaged by Debian 12 (see API-NOTES section 4), the
Avaamo analytics usage document (`dd/mm/yyyy` dates, API-NOTES section 2)
and the Vonage AI Studio outbound WhatsApp document (phone numbers,
API-NOTES section 3).

@module convai.core
*/

/*** Module information.
@section info
*/

/*** The version of convai, a string such as `"0.1.0"`.
@field version
*/

/*** The libcurl in use and the libraries it was built with, one line such
as `"libcurl/7.88.1 OpenSSL/3.0.19 zlib/1.2.13 brotli/1.0.9 zstd/1.5.4
libidn2/2.3.3 libssh2/1.10.0 nghttp2/1.52.0"`: the text of libcurl's
`curl_version()` without its LDAP part (composed from
`curl_version_info()`). For bug reports and logs.
@field curl_version
*/

/*** Seconds on a monotonic clock (POSIX `CLOCK_MONOTONIC`).
Counted from an arbitrary fixed point (typically the boot) and never moved
when the wall clock is set, so only differences between two readings mean
something: use it to measure elapsed time and to pace requests, and
`os.time()` for dates. Defined in lcore.c.
@function monotonic
@treturn number seconds since an unspecified start, with a fraction
(nanosecond resolution); 0 if the clock cannot be read
@usage local t0 = core.monotonic()
local resp, err = s:request(req)
print(("%.3f s"):format(core.monotonic() - t0))
*/

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "buffer.h"
#include "convai.h"
#include "httpcheck.h"
#include "lerror.h"
#include "lsession.h"
#include "resphdr.h"

#define DEFAULT_TIMEOUT 30.0
#define DEFAULT_CONNECT_TIMEOUT 10.0
#define DEFAULT_MAX_BODY 16777216.0 /* 16 MiB */
#define DEFAULT_USER_AGENT "convai/" CONVAI_VERSION
#define MAX_SECONDS (86400.0 * 365) /* a year: milliseconds fit a long */
#define MAX_BODY_LIMIT 9007199254740992.0 /* 2^53 */
#define MAX_HEADER_BYTES (256 * 1024)
#define ERRLEN 256

enum { TOO_LARGE_NONE, TOO_LARGE_BODY, TOO_LARGE_HEADERS };

typedef struct session {
  CURL *curl;              /* NULL once closed */
  struct curl_slist *hdrs; /* request headers of the current request */
  cv_buf body;             /* response body being received */
  cv_buf head;             /* header lines of the latest response */
  char *cafile;            /* NULL: libcurl's default CA store */
  char *user_agent;
  long timeout_ms, connect_timeout_ms;
  curl_off_t max_body;
  lua_Integer requests, connections;
  int too_large; /* TOO_LARGE_*: set by a callback that refused data */
  int oom;       /* a callback ran out of memory */
  int busy;      /* the result of a request is being built */
  int close_pending; /* close() was called while busy */
  char errbuf[CURL_ERROR_SIZE];
} session;

/* ------------------------------------------------------------- helpers */

static char *dupstr(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = (char *)malloc(n);
  if (d != NULL) memcpy(d, s, n);
  return d;
}

static int ieq(const char *a, size_t alen, const char *b) {
  size_t i;
  if (alen != strlen(b)) return 0;
  for (i = 0; i < alen; i++) {
    char c = a[i];
    if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
    if (c != b[i]) return 0;
  }
  return 1;
}

static int invalid(lua_State *L, const char *msg) {
  return cv_error_fail(L, "invalid_argument", msg);
}

/* invalid_argument from request(): nothing was sent. */
static int rejected(lua_State *L, const char *msg) {
  int n = invalid(L, msg);
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "request_sent");
  return n;
}

/* Seconds (a positive number) to milliseconds, at least 1 (0 would mean
** "no timeout" to libcurl).  Returns 0 if v is not acceptable. */
static int to_ms(lua_State *L, int idx, long *ms) {
  lua_Number v;
  if (lua_type(L, idx) != LUA_TNUMBER) return 0;
  v = lua_tonumber(L, idx);
  if (!(v > 0 && v <= MAX_SECONDS)) return 0;
  *ms = (long)ceil(v * 1000.0);
  if (*ms < 1) *ms = 1;
  return 1;
}

static session *check_session(lua_State *L) {
  return (session *)luaL_checkudata(L, 1, CV_SESSION_MT);
}

static void release_transfer(session *s) {
  curl_slist_free_all(s->hdrs);
  s->hdrs = NULL;
  cv_buf_free(&s->body);
  cv_buf_free(&s->head);
}

static void close_session(session *s) {
  if (s->curl == NULL) return;
  curl_easy_cleanup(s->curl);
  s->curl = NULL;
  release_transfer(s);
  free(s->cafile);
  free(s->user_agent);
  s->cafile = s->user_agent = NULL;
  curl_global_cleanup(); /* this session's reference */
}

/* ----------------------------------------------------- libcurl callbacks */

static size_t on_body(char *p, size_t size, size_t n, void *ud) {
  session *s = (session *)ud;
  size_t len = size * n;
  if ((curl_off_t)len > s->max_body - (curl_off_t)s->body.len) {
    s->too_large = TOO_LARGE_BODY;
    return 0;
  }
  if (!cv_buf_append(&s->body, p, len)) {
    s->oom = 1;
    return 0;
  }
  return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud) {
  session *s = (session *)ud;
  size_t len = size * n;
  cv_hdr_line h;
  if (cv_header_line(p, len, &h) == CV_HDR_STATUS) {
    cv_buf_clear(&s->head); /* a new (final or 1xx) response starts */
    cv_buf_clear(&s->body);
  }
  if (len > MAX_HEADER_BYTES - s->head.len) {
    s->too_large = TOO_LARGE_HEADERS;
    return 0;
  }
  if (!cv_buf_append(&s->head, p, len)) {
    s->oom = 1;
    return 0;
  }
  return len;
}

/* --------------------------------------------------------- core.session */

/* Option reading: each returns NULL if fine, else the error message. */
static const char *opt_seconds(lua_State *L, const char *name,
                               lua_Number def, long *ms) {
  lua_getfield(L, 1, name);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    lua_pushnumber(L, def);
  }
  if (!to_ms(L, -1, ms))
    return lua_pushfstring(L, "option '%s' must be a positive number of "
                              "seconds (at most one year)", name);
  lua_pop(L, 1);
  return NULL;
}

static const char *opt_string(lua_State *L, const char *name,
                              const char **out) {
  size_t len;
  lua_getfield(L, 1, name); /* left on the stack: keeps *out alive */
  if (lua_isnil(L, -1)) {
    *out = NULL;
    return NULL;
  }
  if (lua_type(L, -1) != LUA_TSTRING)
    return lua_pushfstring(L, "option '%s' must be a string, got %s", name,
                           luaL_typename(L, -1));
  *out = lua_tolstring(L, -1, &len);
  if (len == 0) return lua_pushfstring(L, "option '%s' is empty", name);
  if (strlen(*out) != len || strpbrk(*out, "\r\n") != NULL)
    return lua_pushfstring(L, "option '%s' contains CR, LF or NUL", name);
  return NULL;
}

static const char *check_opts(lua_State *L, session *cfg, const char **ca,
                              const char **ua) {
  static const char *const known[] = {"timeout", "connect_timeout",
                                      "cafile",  "max_body",
                                      "user_agent", NULL};
  const char *msg;
  FILE *f;
  lua_Number mb;
  lua_pushnil(L);
  while (lua_next(L, 1)) {
    int i, ok = 0;
    lua_pop(L, 1);
    if (lua_type(L, -1) == LUA_TSTRING)
      for (i = 0; known[i] != NULL; i++)
        if (strcmp(lua_tostring(L, -1), known[i]) == 0) ok = 1;
    if (!ok)
      return lua_type(L, -1) == LUA_TSTRING
                 ? lua_pushfstring(L, "unknown option '%s' (known: timeout, "
                                      "connect_timeout, cafile, max_body, "
                                      "user_agent)", lua_tostring(L, -1))
                 : "option names must be strings";
  }
  if ((msg = opt_seconds(L, "timeout", DEFAULT_TIMEOUT, &cfg->timeout_ms)) ||
      (msg = opt_seconds(L, "connect_timeout", DEFAULT_CONNECT_TIMEOUT,
                         &cfg->connect_timeout_ms)))
    return msg;
  lua_getfield(L, 1, "max_body");
  if (lua_isnil(L, -1)) {
    mb = DEFAULT_MAX_BODY;
  } else {
    mb = lua_type(L, -1) == LUA_TNUMBER ? lua_tonumber(L, -1) : -1;
    if (!(mb >= 1 && mb <= MAX_BODY_LIMIT && mb == floor(mb)))
      return "option 'max_body' must be a positive integer number of bytes";
  }
  lua_pop(L, 1);
  cfg->max_body = (curl_off_t)mb;
  if ((msg = opt_string(L, "cafile", ca)) ||
      (msg = opt_string(L, "user_agent", ua)))
    return msg;
  if (*ca != NULL) {
    if ((f = fopen(*ca, "rb")) == NULL)
      return lua_pushfstring(L, "option 'cafile': cannot read '%s'", *ca);
    fclose(f);
  }
  return NULL;
}

/*** HTTP sessions.
A session keeps one libcurl handle, so its connection to a host stays open
(HTTP keep-alive) and is reused by the next request to that host.
@section sessions
*/

/*** Open an HTTP session.
Every option is checked here: an unknown option name, a value of the wrong
type or out of range, or a `cafile` that cannot be opened is an
`invalid_argument` error, returned (not raised), and no session is made.
TLS peer verification and host name verification are always on; only
`http` and `https` URLs are allowed; redirects are never followed (a 3xx is
returned as a response).
@function session
@tparam[opt] table opts options, all optional (nil: all defaults)
@tparam[opt=30] number opts.timeout total time allowed for each request,
seconds: name resolution, connection, sending the request and receiving the
whole response. More than 0 and at most 31536000 (one year); rounded up to
whole milliseconds.
@tparam[opt=10] number opts.connect_timeout time allowed for the connection
phase of each request, seconds: name resolution, TCP connection and TLS
handshake. Same range as `timeout`.
@tparam[opt] string opts.cafile path of a PEM file of CA certificates, used
instead of the system's CA store to verify servers. Must be readable when the
session is made; no CR, LF or NUL.
@tparam[opt=16777216] integer opts.max_body largest response body accepted,
bytes (default 16 MiB); an integer from 1 to 2^53. A larger body makes the
request fail with `too_large`.
@tparam[opt="convai/0.1.0"] string opts.user_agent the `User-Agent` sent
with every request (non-empty; no CR, LF or NUL). A `User-Agent` in a
request's `headers` wins over it.
@treturn[1] session the open session
@treturn[2] nil
@treturn[2] convai.error kind `invalid_argument`; the `message` names the
option and what is expected
@raise if `opts` is neither nil nor a table; "not enough memory"; if libcurl
cannot be initialised
@usage local s = assert(core.session { timeout = 5, max_body = 1024 * 1024 })
*/
static int l_session(lua_State *L) {
  session cfg, *s;
  const char *ca = NULL, *ua = NULL, *msg;
  if (lua_isnoneornil(L, 1)) {
    lua_settop(L, 0);
    lua_newtable(L);
  }
  luaL_checktype(L, 1, LUA_TTABLE);
  memset(&cfg, 0, sizeof cfg);
  if ((msg = check_opts(L, &cfg, &ca, &ua)) != NULL) return invalid(L, msg);

  s = (session *)lua_newuserdatauv(L, sizeof(session), 0);
  memset(s, 0, sizeof *s);
  cv_buf_init(&s->body);
  cv_buf_init(&s->head);
  luaL_setmetatable(L, CV_SESSION_MT);
  s->timeout_ms = cfg.timeout_ms;
  s->connect_timeout_ms = cfg.connect_timeout_ms;
  s->max_body = cfg.max_body;
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
    return luaL_error(L, "convai: libcurl initialisation failed");
  s->curl = curl_easy_init(); /* from here on __gc releases everything */
  if (s->curl == NULL) {
    curl_global_cleanup();
    return luaL_error(L, "convai: cannot create a libcurl handle");
  }
  s->user_agent = dupstr(ua != NULL ? ua : DEFAULT_USER_AGENT);
  if (ca != NULL) s->cafile = dupstr(ca);
  if (s->user_agent == NULL || (ca != NULL && s->cafile == NULL))
    return luaL_error(L, "not enough memory");
  return 1;
}

/* ------------------------------------------------------ session:request */

/* Raise a type error about field `name` of the request table. */
static int field_error(lua_State *L, const char *name, const char *want) {
  return luaL_argerror(L, 2, lua_pushfstring(L, "field '%s' must be %s, got %s",
                                             name, want,
                                             luaL_typename(L, -1)));
}

/* Error kind for a libcurl failure. */
static const char *classify(CURLcode rc) {
  switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
      return "timeout";
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CLIENTCERT:
    case CURLE_USE_SSL_FAILED:
      return "tls";
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return "invalid_argument";
    case CURLE_FILESIZE_EXCEEDED:
      return "too_large";
    default: /* resolve/connect/send/recv failures, partial bodies ... */
      return "network";
  }
}

/* Push fail, err for a failed transfer; returns 2. */
static int transfer_error(lua_State *L, session *s, CURLcode rc) {
  long sent = 0;
  const char *kind = classify(rc);
  size_t n;
  if (s->too_large != TOO_LARGE_NONE) kind = "too_large";
  curl_easy_getinfo(s->curl, CURLINFO_REQUEST_SIZE, &sent);
  if (s->too_large == TOO_LARGE_HEADERS) {
    lua_pushfstring(L, "response headers exceed %d bytes", MAX_HEADER_BYTES);
  } else if (s->too_large == TOO_LARGE_BODY || rc == CURLE_FILESIZE_EXCEEDED) {
    char num[32];
    snprintf(num, sizeof num, "%lld", (long long)s->max_body);
    lua_pushfstring(L, "response body exceeds max_body (%s bytes)", num);
  } else {
    n = strlen(s->errbuf);
    while (n > 0 && (s->errbuf[n - 1] == '\n' || s->errbuf[n - 1] == '\r'))
      s->errbuf[--n] = '\0';
    lua_pushstring(L, n > 0 ? s->errbuf : curl_easy_strerror(rc));
  }
  luaL_pushfail(L);
  cv_error_push(L, kind, lua_tostring(L, -2));
  lua_pushinteger(L, (lua_Integer)rc);
  lua_setfield(L, -2, "curl_code");
  lua_pushboolean(L, sent > 0);
  lua_setfield(L, -2, "request_sent");
  return 2;
}

/* Headers table at idx -> s->hdrs.  Returns 0 on out of memory. */
static int build_headers(lua_State *L, session *s, int idx, int body) {
  int has_expect = 0;
  if (idx != 0) {
    lua_pushnil(L);
    while (lua_next(L, idx)) {
      size_t nlen, vlen;
      const char *name = lua_tolstring(L, -2, &nlen);
      const char *value = lua_tolstring(L, -1, &vlen);
      char *line = (char *)malloc(nlen + vlen + 3);
      struct curl_slist *l;
      if (line == NULL) return 0;
      memcpy(line, name, nlen);
      if (vlen == 0) { /* "Name;" sends an empty header ("Name:" deletes) */
        memcpy(line + nlen, ";", 2);
      } else {
        memcpy(line + nlen, ": ", 2);
        memcpy(line + nlen + 2, value, vlen);
        line[nlen + 2 + vlen] = '\0';
      }
      l = curl_slist_append(s->hdrs, line);
      free(line);
      if (l == NULL) return 0;
      s->hdrs = l;
      if (ieq(name, nlen, "expect")) has_expect = 1;
      lua_pop(L, 1);
    }
  }
  if (body && !has_expect) { /* no "Expect: 100-continue" round trip */
    struct curl_slist *l = curl_slist_append(s->hdrs, "Expect:");
    if (l == NULL) return 0;
    s->hdrs = l;
  }
  return 1;
}

#define SET(opt, val) \
  if (rc == CURLE_OK) rc = curl_easy_setopt(c, opt, val)

static CURLcode configure(session *s, const char *method, const char *url,
                          const char *body, size_t blen, long timeout_ms,
                          long connect_timeout_ms) {
  CURL *c = s->curl;
  CURLcode rc = CURLE_OK;
  curl_easy_reset(c); /* keeps live connections and caches */
  SET(CURLOPT_NOSIGNAL, 1L);
  SET(CURLOPT_ERRORBUFFER, s->errbuf);
  SET(CURLOPT_URL, url);
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85.0 */
  SET(CURLOPT_PROTOCOLS_STR, "http,https");
#else
  SET(CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
  SET(CURLOPT_FOLLOWLOCATION, 0L);
  SET(CURLOPT_SSL_VERIFYPEER, 1L);
  SET(CURLOPT_SSL_VERIFYHOST, 2L);
  if (s->cafile != NULL) SET(CURLOPT_CAINFO, s->cafile);
  SET(CURLOPT_MAXFILESIZE_LARGE, s->max_body);
  SET(CURLOPT_TIMEOUT_MS, timeout_ms);
  SET(CURLOPT_CONNECTTIMEOUT_MS, connect_timeout_ms);
  SET(CURLOPT_USERAGENT, s->user_agent);
  SET(CURLOPT_HTTPHEADER, s->hdrs);
  SET(CURLOPT_WRITEFUNCTION, on_body);
  SET(CURLOPT_WRITEDATA, (void *)s);
  SET(CURLOPT_HEADERFUNCTION, on_header);
  SET(CURLOPT_HEADERDATA, (void *)s);
  if (strcmp(method, "HEAD") == 0) {
    SET(CURLOPT_NOBODY, 1L);
  } else if (body != NULL) {
    SET(CURLOPT_POST, 1L);
    SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);
    SET(CURLOPT_POSTFIELDS, body); /* the Lua string outlives the transfer */
    if (strcmp(method, "POST") != 0) SET(CURLOPT_CUSTOMREQUEST, method);
  } else {
    SET(CURLOPT_HTTPGET, 1L);
    if (strcmp(method, "GET") != 0) SET(CURLOPT_CUSTOMREQUEST, method);
  }
  return rc;
}

#undef SET

/* Push the headers of the latest response as a table. */
static void push_headers(lua_State *L, session *s) {
  const char *p = s->head.data, *end = p + s->head.len;
  int t, last;
  lua_newtable(L);
  t = lua_gettop(L);
  lua_pushnil(L); /* name of the last field, for continuation lines */
  last = t + 1;
  while (p < end) {
    const char *nl = (const char *)memchr(p, '\n', (size_t)(end - p));
    const char *next = nl ? nl + 1 : end;
    cv_hdr_line h;
    switch (cv_header_line(p, (size_t)(next - p), &h)) {
      case CV_HDR_FIELD: {
        luaL_Buffer b;
        size_t i;
        luaL_buffinit(L, &b);
        for (i = 0; i < h.nlen; i++) {
          char c = h.name[i];
          luaL_addchar(&b, (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c);
        }
        luaL_pushresult(&b);
        lua_replace(L, last);
        lua_pushvalue(L, last);
        lua_rawget(L, t);
        if (lua_isnil(L, -1)) {
          lua_pop(L, 1);
          lua_pushlstring(L, h.value, h.vlen);
        } else { /* repeated field: join with ", " */
          lua_pushliteral(L, ", ");
          lua_pushlstring(L, h.value, h.vlen);
          lua_concat(L, 3);
        }
        lua_pushvalue(L, last);
        lua_insert(L, -2);
        lua_rawset(L, t);
        break;
      }
      case CV_HDR_CONTINUE: /* obs-fold: join to the last field with SP */
        if (!lua_isnil(L, last) && h.vlen > 0) {
          lua_pushvalue(L, last);
          lua_pushvalue(L, last);
          lua_rawget(L, t);
          lua_pushliteral(L, " ");
          lua_pushlstring(L, h.value, h.vlen);
          lua_concat(L, 3);
          lua_rawset(L, t);
        }
        break;
      default:
        break;
    }
    p = next;
  }
  lua_settop(L, t);
}

/* Request field helpers: push field, type-check it, leave it on the stack
** (so pointers into strings stay valid). */
static const char *opt_field_string(lua_State *L, const char *name,
                                    size_t *len, int required) {
  lua_getfield(L, 2, name);
  if (lua_isnil(L, -1) && !required) return NULL;
  if (lua_type(L, -1) != LUA_TSTRING) field_error(L, name, "a string");
  return lua_tolstring(L, -1, len);
}

static int opt_field_ms(lua_State *L, const char *name, long def, long *ms,
                        const char **msg) {
  lua_getfield(L, 2, name);
  *ms = def;
  if (lua_isnil(L, -1)) return 1;
  if (lua_type(L, -1) != LUA_TNUMBER) field_error(L, name, "a number");
  if (to_ms(L, -1, ms)) return 1;
  *msg = lua_pushfstring(L, "field '%s' must be a positive number of "
                            "seconds (at most one year)", name);
  return 0;
}

/* deliver(session, curl_code): the response table, or fail, err. */
static int deliver(lua_State *L) {
  session *s = (session *)lua_touserdata(L, 1);
  CURLcode rc = (CURLcode)lua_tointeger(L, 2);
  long status = 0;
  if (rc != CURLE_OK) return transfer_error(L, s, rc);
  curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &status);
  lua_createtable(L, 0, 3);
  lua_pushinteger(L, (lua_Integer)status);
  lua_setfield(L, -2, "status");
  push_headers(L, s);
  lua_setfield(L, -2, "headers");
  lua_pushlstring(L, s->body.data != NULL ? s->body.data : "", s->body.len);
  lua_setfield(L, -2, "body");
  return 1;
}

/*** An HTTP session, made by `session`.
A full userdata with the metatable `"convai.session"`. It is closed by
`session:close`, by `<close>` on Lua 5.4, or when it is collected.
@type session
*/

/*** Send one HTTP request and read the whole response.

Nothing is sent until the whole request has been checked, in this order:

 1. types, which raise: `req` must be a table; `method`, `url` and `body`
    strings; `timeout` and `connect_timeout` numbers; `headers` a table with
    string keys and string values;
 2. values, which return `nil` and an `invalid_argument` error with
    `request_sent = false`: the session is open (else "session is closed")
    and not busy; `timeout` and `connect_timeout` are in range; each header
    name is an RFC 9110 token and its value has no CR, LF or NUL (see
    `check_header`); `method` is a token; `url` has no byte up to 0x20
    (space and control characters) nor 0x7F, starts with `http://` or
    `https://` (any case) and has a host after it.

What is sent: `method` exactly as given (methods are case-sensitive; `HEAD`
never sends or reads a body); `body`, when given, with a `Content-Length`
and without `Expect: 100-continue` (unless `headers` has an `Expect`);
`POST`, `PUT` and `PATCH` without a body send `Content-Length: 0`. libcurl
adds `Host`, `User-Agent` (the session's), `Accept` (any type) and, when
there is a body and `headers` has no `Content-Type`, `Content-Type:
application/x-www-form-urlencoded`, so give `Content-Type` with a body. A
header of the same name in `headers` replaces any of these. No
`Accept-Encoding` is sent and bodies are returned as received.

What is returned: the final response whatever its status (3xx, 4xx and 5xx
included: see `error_for_status`); 1xx interim responses are skipped.

A call from a finalizer (`__gc`) that runs while this session is building
the result of another request is refused with "session is busy".
@function request
@tparam table req the request
@tparam string req.url absolute `http://` or `https://` URL, already
percent-encoded (no spaces or control characters)
@tparam[opt="GET"] string req.method HTTP method token, sent as given
@tparam[opt] table req.headers request header fields `{[name] = value}`,
names and values strings; an empty value sends an empty field
@tparam[opt] string req.body request body, bytes (sent with any method but
`HEAD`)
@tparam[opt] number req.timeout total time for this request, seconds,
range as in `session` (default: the session's `timeout`)
@tparam[opt] number req.connect_timeout connection phase of this request,
seconds (default: the session's `connect_timeout`)
@treturn[1] table the response `{status = integer, headers = table, body =
string}`: `status` is the HTTP status code; `headers` maps each field name,
lower-cased, to its value without surrounding whitespace, a repeated field's
values joined with `", "` in the order received (RFC 9110 section 5.3) and
obsolete folded lines joined with a space; `body` is the raw body, `""`
when there is none (`HEAD`, 204)
@treturn[2] nil
@treturn[2] convai.error with `kind`, `message` and, when the transfer was
attempted, `curl_code` (integer, libcurl's `CURLcode`) and `request_sent`
(boolean: true when at least part of the request was written to the
connection, so the server may have acted on it; false when nothing reached
the server and a retry is safe). The kinds:

 - `invalid_argument`: a check above failed (no `curl_code`), or libcurl
   could not parse the URL (`curl_code` 3) or refused its scheme (1); never
   sent;
 - `timeout`: `timeout` or `connect_timeout` ran out (`curl_code` 28);
 - `tls`: the TLS handshake failed or the certificate was refused:
   untrusted, expired, wrong host name, unreadable `cafile`, ... (`curl_code`
   35, 60, 77, 58, 83, 90, 91 and other TLS codes);
 - `too_large`: the response body is larger than `max_body` (`curl_code`
   63 when announced by `Content-Length`, 23 when counted while received),
   or the response header section is larger than 262144 bytes (256 KiB;
   `curl_code` 23);
 - `network`: any other failure of the transfer: the host name did not
   resolve (6), the connection was refused (7), reset or closed early (52,
   55, 56, 18), ...
@raise for the wrong types listed above; "not enough memory"
@usage local resp, err = s:request {
  method = "POST", url = "https://api.example.com/v1/items",
  headers = { ["Content-Type"] = "application/json" },
  body = core.json_encode { name = "x" },
}
if not resp then
  print(err.kind, err.message, err.curl_code, err.request_sent)
elseif core.error_for_status(resp.status) then
  print("HTTP " .. resp.status, resp.headers["content-type"])
end
*/
static int l_request(lua_State *L) {
  session *s = check_session(L);
  const char *method, *url, *body, *msg = NULL;
  size_t mlen, ulen, blen = 0;
  int hidx = 0;
  long timeout_ms, connect_timeout_ms, nconn = 0;
  int top, status;
  char err[ERRLEN];
  CURLcode rc;
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_settop(L, 2);
  if (s->curl == NULL || s->close_pending)
    return rejected(L, "session is closed");
  if (s->busy)
    return rejected(L, "session is busy (request made from a finalizer "
                       "during another request on the same session)");

  /* 1. types (programmer errors raise) and values (nil, err) */
  method = opt_field_string(L, "method", &mlen, 0);        /* 3 */
  if (method == NULL) {
    method = "GET";
    mlen = 3;
  }
  url = opt_field_string(L, "url", &ulen, 1);              /* 4 */
  body = opt_field_string(L, "body", &blen, 0);            /* 5 */
  if (!opt_field_ms(L, "timeout", s->timeout_ms, &timeout_ms, &msg) ||
      !opt_field_ms(L, "connect_timeout", s->connect_timeout_ms,
                    &connect_timeout_ms, &msg))
    return rejected(L, msg);
  lua_settop(L, 5);
  lua_getfield(L, 2, "headers");                           /* 6 */
  if (!lua_isnil(L, 6)) {
    if (!lua_istable(L, 6)) field_error(L, "headers", "a table");
    hidx = 6;
    lua_pushnil(L);
    while (lua_next(L, hidx)) {
      size_t nlen, vlen;
      const char *name, *value;
      if (lua_type(L, -2) != LUA_TSTRING)
        luaL_argerror(L, 2, lua_pushfstring(L,
            "field 'headers' must have string keys, got a %s key",
            luaL_typename(L, -2)));
      if (lua_type(L, -1) != LUA_TSTRING)
        luaL_argerror(L, 2, lua_pushfstring(L,
            "header '%s' must be a string, got %s", lua_tostring(L, -2),
            luaL_typename(L, -1)));
      name = lua_tolstring(L, -2, &nlen);
      value = lua_tolstring(L, -1, &vlen);
      if (!cv_check_header(name, nlen, value, vlen, err, sizeof err))
        return rejected(L, err);
      lua_pop(L, 1);
    }
  }
  if (!cv_check_method(method, mlen, err, sizeof err) ||
      !cv_check_url(url, ulen, err, sizeof err))
    return rejected(L, err);
  if (body == NULL && (strcmp(method, "POST") == 0 ||
                       strcmp(method, "PUT") == 0 ||
                       strcmp(method, "PATCH") == 0))
    body = ""; /* send "Content-Length: 0" rather than no length at all */

  /* 2. build and send */
  release_transfer(s);
  s->too_large = TOO_LARGE_NONE;
  s->oom = 0;
  s->errbuf[0] = '\0';
  if (!build_headers(L, s, hidx, body != NULL))
    return luaL_error(L, "not enough memory");
  rc = configure(s, method, url, body, blen, timeout_ms, connect_timeout_ms);
  if (rc == CURLE_OUT_OF_MEMORY) return luaL_error(L, "not enough memory");
  if (rc != CURLE_OK) return rejected(L, curl_easy_strerror(rc));
  rc = curl_easy_perform(s->curl);
  s->requests++;
  if (curl_easy_getinfo(s->curl, CURLINFO_NUM_CONNECTS, &nconn) == CURLE_OK)
    s->connections += nconn;
  if (s->oom || rc == CURLE_OUT_OF_MEMORY) {
    release_transfer(s);
    return luaL_error(L, "not enough memory");
  }

  /* 3. the result, built in a protected call while the session is marked
  ** busy: building it allocates, so finalizers may run Lua that uses this
  ** session; they must not free the buffers being read. */
  luaL_checkstack(L, 4, NULL);
  top = lua_gettop(L);
  lua_pushcfunction(L, deliver);
  lua_pushlightuserdata(L, s);
  lua_pushinteger(L, (lua_Integer)rc);
  s->busy = 1;
  status = lua_pcall(L, 2, LUA_MULTRET, 0);
  s->busy = 0;
  release_transfer(s);
  if (s->close_pending) close_session(s);
  if (status != LUA_OK) return lua_error(L);
  return lua_gettop(L) - top;
}

/* ------------------------------------------------------ other methods */

/*** Close the session: its connections are closed and its libcurl handle
freed. Idempotent. Afterwards `request` returns `nil` and an
`invalid_argument` error ("session is closed") and `stats` still works.
Called from a finalizer while the session is building the result of a
request, the close happens when that request returns.
@function close
*/

/*** Lua 5.4 to-be-closed variables: `local s <close> = core.session()`
closes the session when `s` goes out of scope, on an error too. Same as
`session:close`.
@function __close
*/

/*** Finalizer: a session that is collected is closed (same as
`session:close`), so an unclosed session leaks nothing; close it explicitly
to release its connection sooner.
@function __gc
*/
static int l_close(lua_State *L) {
  session *s = check_session(L);
  if (s->busy) /* from a finalizer during request(): close after it */
    s->close_pending = 1;
  else
    close_session(s);
  return 0;
}

/*** Counters of this session since it was made (still readable after
`close`).
@function stats
@treturn table `{requests = integer, connections = integer}`: `requests`
counts the requests handed to libcurl, failed transfers included (a request
refused by the checks of `request` is not counted); `connections` counts the
new connections opened for them (a request that reused a kept-alive
connection adds 0, and so does one that could not connect)
*/
static int l_stats(lua_State *L) {
  session *s = check_session(L);
  lua_createtable(L, 0, 2);
  lua_pushinteger(L, s->requests);
  lua_setfield(L, -2, "requests");
  lua_pushinteger(L, s->connections);
  lua_setfield(L, -2, "connections");
  return 1;
}

/*** `tostring(session)`: `"convai.session (open)"` or
`"convai.session (closed)"`; never shows options or paths.
@function __tostring
@treturn string the description
*/
static int l_tostring(lua_State *L) {
  session *s = check_session(L);
  lua_pushstring(L, s->curl != NULL && !s->close_pending
                       ? "convai.session (open)"
                       : "convai.session (closed)");
  return 1;
}

/* __gc of the module's libcurl reference (see cv_session_open). */
static int l_global_gc(lua_State *L) {
  (void)L;
  curl_global_cleanup();
  return 0;
}

void cv_session_open(lua_State *L) {
  static const luaL_Reg methods[] = {{"request", l_request},
                                     {"close", l_close},
                                     {"stats", l_stats},
                                     {NULL, NULL}};
  static const luaL_Reg meta[] = {{"__gc", l_close},
                                  {"__close", l_close},
                                  {"__tostring", l_tostring},
                                  {NULL, NULL}};
  /* The module holds one libcurl global reference for its lifetime (so
  ** closing the last session does not tear libcurl down), released by the
  ** __gc of a userdata kept in the registry. */
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
    luaL_error(L, "convai: libcurl initialisation failed");
  lua_newuserdatauv(L, 1, 0);
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, l_global_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  luaL_ref(L, LUA_REGISTRYINDEX);

  luaL_newmetatable(L, CV_SESSION_MT);
  luaL_setfuncs(L, meta, 0);
  luaL_newlib(L, methods);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  lua_pushcfunction(L, l_session);
  lua_setfield(L, -2, "session");
}
