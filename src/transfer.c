/*
** transfer.c - one HTTP request on one libcurl easy handle, shared by
** core.session and core.multi (see transfer.h).
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convai.h"
#include "httpcheck.h"
#include "lerror.h"
#include "method.h"
#include "resphdr.h"
#include "transfer.h"

#define DEFAULT_USER_AGENT "convai/" CONVAI_VERSION
#define MAX_BODY_LIMIT 9007199254740992.0 /* 2^53 */
#define ERRLEN 256

enum { TOO_LARGE_NONE, TOO_LARGE_BODY, TOO_LARGE_HEADERS };

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

int cv_rejected(lua_State *L, const char *msg) {
  int n = cv_error_fail(L, "invalid_argument", msg);
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
  if (!(v > 0 && v <= CV_MAX_SECONDS)) return 0;
  *ms = (long)ceil(v * 1000.0);
  if (*ms < 1) *ms = 1;
  return 1;
}

/* A path that can be opened for reading. */
static int readable(const char *path) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) return 0;
  fclose(f);
  return 1;
}

/* ------------------------------------------------------------- options */

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

/* Is the string at the top one of the names? */
static int known_name(lua_State *L, const char *const *names) {
  int i;
  for (i = 0; names != NULL && names[i] != NULL; i++)
    if (strcmp(lua_tostring(L, -1), names[i]) == 0) return 1;
  return 0;
}

const char *cv_http_read_opts(lua_State *L, cv_http_opts *o, const char **ca,
                              const char **ua, const char *const *extra) {
  static const char *const known[] = {"timeout", "connect_timeout",
                                      "cafile",  "max_body",
                                      "user_agent", NULL};
  const char *msg;
  lua_Number mb;
  lua_pushnil(L);
  while (lua_next(L, 1)) {
    lua_pop(L, 1);
    if (lua_type(L, -1) != LUA_TSTRING) return "option names must be strings";
    if (!known_name(L, known) && !known_name(L, extra)) {
      luaL_Buffer b;
      int i;
      const char *name = lua_tostring(L, -1);
      luaL_buffinit(L, &b);
      lua_pushfstring(L, "unknown option '%s' (known: timeout, "
                         "connect_timeout, cafile, max_body, user_agent",
                      name);
      luaL_addvalue(&b);
      for (i = 0; extra != NULL && extra[i] != NULL; i++) {
        luaL_addstring(&b, ", ");
        luaL_addstring(&b, extra[i]);
      }
      luaL_addchar(&b, ')');
      luaL_pushresult(&b);
      return lua_tostring(L, -1);
    }
  }
  if ((msg = opt_seconds(L, "timeout", CV_DEFAULT_TIMEOUT, &o->timeout_ms)) ||
      (msg = opt_seconds(L, "connect_timeout", CV_DEFAULT_CONNECT_TIMEOUT,
                         &o->connect_timeout_ms)))
    return msg;
  lua_getfield(L, 1, "max_body");
  if (lua_isnil(L, -1)) {
    mb = CV_DEFAULT_MAX_BODY;
  } else {
    mb = lua_type(L, -1) == LUA_TNUMBER ? lua_tonumber(L, -1) : -1;
    if (!(mb >= 1 && mb <= MAX_BODY_LIMIT && mb == floor(mb)))
      return "option 'max_body' must be a positive integer number of bytes";
  }
  lua_pop(L, 1);
  o->max_body = (curl_off_t)mb;
  if ((msg = opt_string(L, "cafile", ca)) ||
      (msg = opt_string(L, "user_agent", ua)))
    return msg;
  if (*ca != NULL && !readable(*ca))
    return lua_pushfstring(L, "option 'cafile': cannot read '%s'", *ca);
  return NULL;
}

int cv_http_opts_own(cv_http_opts *o, const char *ca, const char *ua) {
  o->user_agent = dupstr(ua != NULL ? ua : DEFAULT_USER_AGENT);
  o->cafile = ca != NULL ? dupstr(ca) : NULL;
  return o->user_agent != NULL && (ca == NULL || o->cafile != NULL);
}

void cv_http_opts_free(cv_http_opts *o) {
  free(o->cafile);
  free(o->user_agent);
  o->cafile = o->user_agent = NULL;
}

/* ------------------------------------------------------------- request */

/* Raise a type error about field `name` of the request table at arg. */
static int field_error(lua_State *L, int arg, const char *name,
                       const char *want) {
  return luaL_argerror(L, arg,
                       lua_pushfstring(L, "field '%s' must be %s, got %s",
                                       name, want, luaL_typename(L, -1)));
}

/* Push field `name`, type-check it, leave it on the stack (so pointers
** into strings stay valid). */
static const char *field_string(lua_State *L, int arg, const char *name,
                                size_t *len, int required) {
  lua_getfield(L, arg, name);
  if (lua_isnil(L, -1) && !required) return NULL;
  if (lua_type(L, -1) != LUA_TSTRING) field_error(L, arg, name, "a string");
  return lua_tolstring(L, -1, len);
}

static int field_ms(lua_State *L, int arg, const char *name, long def,
                    long *ms, const char **msg) {
  lua_getfield(L, arg, name);
  *ms = def;
  if (lua_isnil(L, -1)) return 1;
  if (lua_type(L, -1) != LUA_TNUMBER) field_error(L, arg, name, "a number");
  if (to_ms(L, -1, ms)) return 1;
  *msg = lua_pushfstring(L, "field '%s' must be a positive number of "
                            "seconds (at most one year)", name);
  return 0;
}

/* Does the entry `line` of a header list read "name: value" (or "name;"
** for an empty value)?  Stops at the NUL ending line, whatever name and
** value hold. */
static int header_is(const char *line, const char *name, size_t nlen,
                     const char *value, size_t vlen) {
  size_t i;
  for (i = 0; i < nlen; i++)
    if (line[i] == '\0' || line[i] != name[i]) return 0;
  line += nlen;
  if (vlen == 0) return line[0] == ';' && line[1] == '\0';
  if (line[0] != ':' || line[1] != ' ') return 0;
  line += 2;
  for (i = 0; i < vlen; i++)
    if (line[i] == '\0' || line[i] != value[i]) return 0;
  return line[vlen] == '\0';
}

/* Are the string pairs of the table at idx, in the order lua_next gives
** them, the entries of t's header list from its headers table?  Values of
** other types make it false (the full check then reports them). */
static int same_headers(lua_State *L, int idx, const cv_transfer *t) {
  const struct curl_slist *l = t->hdrs;
  int n = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    size_t nlen, vlen;
    const char *name, *value;
    if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING ||
        l == NULL || n >= t->nhdrs) {
      lua_pop(L, 2);
      return 0;
    }
    name = lua_tolstring(L, -2, &nlen);
    value = lua_tolstring(L, -1, &vlen);
    if (!header_is(l->data, name, nlen, value, vlen)) {
      lua_pop(L, 2);
      return 0;
    }
    lua_pop(L, 1);
    l = l->next;
    n++;
  }
  return n == t->nhdrs;
}

const char *cv_request_read(lua_State *L, int arg, const cv_http_opts *o,
                            int allow_cafile, const cv_transfer *known,
                            cv_request *r) {
  const char *msg = NULL;
  char err[ERRLEN];
  memset(r, 0, sizeof *r);
  arg = lua_absindex(L, arg);
  r->method = field_string(L, arg, "method", &r->mlen, 0);
  if (r->method == NULL) {
    r->method = "GET";
    r->mlen = 3;
  }
  r->url = field_string(L, arg, "url", &r->ulen, 1);
  r->body = field_string(L, arg, "body", &r->blen, 0);
  if (!field_ms(L, arg, "timeout", o->timeout_ms, &r->timeout_ms, &msg) ||
      !field_ms(L, arg, "connect_timeout", o->connect_timeout_ms,
                &r->connect_timeout_ms, &msg))
    return msg;
  if (allow_cafile) {
    size_t len;
    r->cafile = field_string(L, arg, "cafile", &len, 0);
    if (r->cafile != NULL &&
        (len == 0 || strlen(r->cafile) != len ||
         strpbrk(r->cafile, "\r\n") != NULL || !readable(r->cafile)))
      return lua_pushfstring(L, "field 'cafile' must be the path of a "
                                "readable PEM file");
  }
  lua_getfield(L, arg, "headers");
  if (!lua_isnil(L, -1)) {
    if (!lua_istable(L, -1)) field_error(L, arg, "headers", "a table");
    r->hidx = lua_gettop(L);
    if (known != NULL && known->configured &&
        same_headers(L, r->hidx, known))
      r->hdrs_same = 1; /* checked when they were first sent */
    lua_pushnil(L);
    while (!r->hdrs_same && lua_next(L, r->hidx)) {
      size_t nlen, vlen;
      const char *name, *value;
      if (lua_type(L, -2) != LUA_TSTRING)
        luaL_argerror(L, arg, lua_pushfstring(L,
            "field 'headers' must have string keys, got a %s key",
            luaL_typename(L, -2)));
      if (lua_type(L, -1) != LUA_TSTRING)
        luaL_argerror(L, arg, lua_pushfstring(L,
            "header '%s' must be a string, got %s", lua_tostring(L, -2),
            luaL_typename(L, -1)));
      name = lua_tolstring(L, -2, &nlen);
      value = lua_tolstring(L, -1, &vlen);
      if (!cv_check_header(name, nlen, value, vlen, err, sizeof err))
        return lua_pushfstring(L, "%s", err);
      lua_pop(L, 1);
    }
  } else if (known != NULL && known->configured && known->nhdrs == 0) {
    r->hdrs_same = 1; /* no headers, as the last request */
  }
  if (!cv_check_method(r->method, r->mlen, err, sizeof err) ||
      !cv_check_url(r->url, r->ulen, err, sizeof err))
    return lua_pushfstring(L, "%s", err);
  if (r->body == NULL && (strcmp(r->method, "POST") == 0 ||
                          strcmp(r->method, "PUT") == 0 ||
                          strcmp(r->method, "PATCH") == 0))
    r->body = ""; /* send "Content-Length: 0" rather than no length at all */
  return NULL;
}

/* ----------------------------------------------------- libcurl callbacks */

static size_t on_body(char *p, size_t size, size_t n, void *ud) {
  cv_transfer *t = (cv_transfer *)ud;
  size_t len = size * n;
  if ((curl_off_t)len > t->max_body - (curl_off_t)t->body.len) {
    t->too_large = TOO_LARGE_BODY;
    return 0;
  }
  if (!cv_buf_append(&t->body, p, len)) {
    t->oom = 1;
    return 0;
  }
  return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud) {
  cv_transfer *t = (cv_transfer *)ud;
  size_t len = size * n;
  /* a status line (what cv_header_line calls CV_HDR_STATUS) */
  if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
    cv_buf_clear(&t->head); /* a new (final or 1xx) response starts */
    cv_buf_clear(&t->body);
  }
  if (len > CV_MAX_HEADER_BYTES - t->head.len) {
    t->too_large = TOO_LARGE_HEADERS;
    return 0;
  }
  if (!cv_buf_append(&t->head, p, len)) {
    t->oom = 1;
    return 0;
  }
  return len;
}

/* ------------------------------------------------------------ transfer */

void cv_transfer_init(cv_transfer *t) {
  memset(t, 0, sizeof *t);
  cv_buf_init(&t->body);
  cv_buf_init(&t->head);
}

void cv_transfer_release(cv_transfer *t) {
  curl_slist_free_all(t->hdrs);
  t->hdrs = NULL;
  t->nhdrs = 0;
  t->configured = t->plain = 0; /* the handle pointed to that list */
  cv_buf_free(&t->body);
  cv_buf_free(&t->head);
}

#define KEEP_BUFFER (64 * 1024)

void cv_transfer_done(cv_transfer *t) {
  if (t->body.cap > KEEP_BUFFER)
    cv_buf_free(&t->body);
  else
    cv_buf_clear(&t->body);
  if (t->head.cap > KEEP_BUFFER)
    cv_buf_free(&t->head);
  else
    cv_buf_clear(&t->head);
}

void cv_transfer_unconfigure(cv_transfer *t) {
  if (t->curl != NULL) curl_easy_reset(t->curl);
  t->configured = t->plain = 0;
}

/* Append "name: value" to t->hdrs ("name;" for an empty value, which
** sends the header empty: "name:" would delete it).  Returns 0 on out of
** memory (t->hdrs is then unchanged). */
static int append_header(cv_transfer *t, const char *name, size_t nlen,
                         const char *value, size_t vlen) {
  char *line = (char *)malloc(nlen + vlen + 3);
  struct curl_slist *l;
  if (line == NULL) return 0;
  memcpy(line, name, nlen);
  if (vlen == 0) {
    memcpy(line + nlen, ";", 2);
  } else {
    memcpy(line + nlen, ": ", 2);
    memcpy(line + nlen + 2, value, vlen);
    line[nlen + 2 + vlen] = '\0';
  }
  l = curl_slist_append(t->hdrs, line);
  free(line);
  if (l == NULL) return 0;
  t->hdrs = l;
  return 1;
}

/* Headers table at idx -> t->hdrs (the previous list freed), then
** "User-Agent: ua" unless the table has one.  The User-Agent goes in the
** list rather than CURLOPT_USERAGENT: libcurl formats that option into a
** new header line on every request (about 5,000 instructions, a twentieth
** of a small GET), while the list is built once and kept.  Returns 0 on
** out of memory. */
static int build_headers(lua_State *L, cv_transfer *t, int idx, int body,
                         const char *ua) {
  int has_expect = 0, has_ua = 0;
  curl_slist_free_all(t->hdrs);
  t->hdrs = NULL;
  t->nhdrs = 0;
  t->hdrs_body = body;
  if (idx != 0) {
    lua_pushnil(L);
    while (lua_next(L, idx)) {
      size_t nlen, vlen;
      const char *name = lua_tolstring(L, -2, &nlen);
      const char *value = lua_tolstring(L, -1, &vlen);
      if (!append_header(t, name, nlen, value, vlen)) {
        lua_pop(L, 2);
        return 0;
      }
      t->nhdrs++;
      if (ieq(name, nlen, "expect")) has_expect = 1;
      if (ieq(name, nlen, "user-agent")) has_ua = 1;
      lua_pop(L, 1);
    }
  }
  if (!has_ua && !append_header(t, "User-Agent", 10, ua, strlen(ua)))
    return 0;
  if (body && !has_expect) { /* no "Expect: 100-continue" round trip */
    struct curl_slist *l = curl_slist_append(t->hdrs, "Expect:");
    if (l == NULL) return 0;
    t->hdrs = l;
  }
  return 1;
}

#define SET(opt, val) \
  if (rc == CURLE_OK) rc = curl_easy_setopt(c, opt, val)

CURLcode cv_transfer_setup(lua_State *L, cv_transfer *t, const cv_http_opts *o,
                           const cv_request *r, int copy_body) {
  CURL *c = t->curl;
  CURLcode rc = CURLE_OK;
  const char *method = r->method;
  int plain = r->body == NULL && r->cafile == NULL && r->mlen == 3 &&
              memcmp(method, "GET", 3) == 0;
  int rebuilt = 0;
  cv_buf_clear(&t->body);
  cv_buf_clear(&t->head);
  t->too_large = TOO_LARGE_NONE;
  t->oom = 0;
  t->errbuf[0] = '\0';
  t->max_body = o->max_body;
  /* A header list equal to the last one (r->hdrs_same, with the same body
  ** flag, hence the same "Expect:" entry) is kept as it is: the handle
  ** still points to it. */
  if (!(r->hdrs_same && t->configured && t->hdrs_body == (r->body != NULL))) {
    rebuilt = 1;
    if (!build_headers(L, t, r->hidx, r->body != NULL, o->user_agent)) {
      t->configured = t->plain = 0;
      return CURLE_OUT_OF_MEMORY;
    }
  }
  if (plain && t->configured && t->plain) {
    /* The previous request was a plain GET too: every other option is
    ** already as this one needs it. */
    SET(CURLOPT_URL, r->url);
    if (rebuilt) SET(CURLOPT_HTTPHEADER, t->hdrs);
    if (r->timeout_ms != t->set_timeout_ms) {
      SET(CURLOPT_TIMEOUT_MS, r->timeout_ms);
      t->set_timeout_ms = r->timeout_ms;
    }
    if (r->connect_timeout_ms != t->set_connect_timeout_ms) {
      SET(CURLOPT_CONNECTTIMEOUT_MS, r->connect_timeout_ms);
      t->set_connect_timeout_ms = r->connect_timeout_ms;
    }
    if (rc != CURLE_OK) t->configured = t->plain = 0;
    return rc;
  }
  t->configured = t->plain = 0;
  curl_easy_reset(c); /* keeps live connections and caches */
  SET(CURLOPT_NOSIGNAL, 1L);
  SET(CURLOPT_ERRORBUFFER, t->errbuf);
  SET(CURLOPT_URL, r->url);
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85.0 */
  SET(CURLOPT_PROTOCOLS_STR, "http,https");
#else
  SET(CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
  SET(CURLOPT_FOLLOWLOCATION, 0L);
  SET(CURLOPT_SSL_VERIFYPEER, 1L);
  SET(CURLOPT_SSL_VERIFYHOST, 2L);
  if (r->cafile != NULL || o->cafile != NULL) {
    SET(CURLOPT_CAINFO, r->cafile != NULL ? r->cafile : o->cafile);
  }
  SET(CURLOPT_MAXFILESIZE_LARGE, o->max_body);
  SET(CURLOPT_TIMEOUT_MS, r->timeout_ms);
  SET(CURLOPT_CONNECTTIMEOUT_MS, r->connect_timeout_ms);
  SET(CURLOPT_HTTPHEADER, t->hdrs);
  SET(CURLOPT_WRITEFUNCTION, on_body);
  SET(CURLOPT_WRITEDATA, (void *)t);
  SET(CURLOPT_HEADERFUNCTION, on_header);
  SET(CURLOPT_HEADERDATA, (void *)t);
  /* On a reused connection that dies before the response starts, libcurl
  ** sends the request again on a new one; a request that is not
  ** idempotent must not be sent twice, so it never reuses a connection
  ** (then libcurl never retries it).  Its connection is closed after it,
  ** so such requests do not fill the connection cache with idle ones. */
  if (!cv_method_idempotent(method, r->mlen)) {
    SET(CURLOPT_FRESH_CONNECT, 1L);
    SET(CURLOPT_FORBID_REUSE, 1L);
  }
  if (strcmp(method, "HEAD") == 0) {
    SET(CURLOPT_NOBODY, 1L);
  } else if (r->body != NULL) {
    SET(CURLOPT_POST, 1L);
    SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->blen);
    if (copy_body) {
      SET(CURLOPT_COPYPOSTFIELDS, r->body);
    } else {
      SET(CURLOPT_POSTFIELDS, r->body); /* the Lua string outlives it */
    }
    if (strcmp(method, "POST") != 0) SET(CURLOPT_CUSTOMREQUEST, method);
  } else {
    SET(CURLOPT_HTTPGET, 1L);
    if (strcmp(method, "GET") != 0) SET(CURLOPT_CUSTOMREQUEST, method);
  }
  if (rc == CURLE_OK) {
    t->configured = 1;
    t->plain = plain;
    t->set_timeout_ms = r->timeout_ms;
    t->set_connect_timeout_ms = r->connect_timeout_ms;
  }
  return rc;
}

#undef SET

/* ------------------------------------------------------------- results */

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
static int transfer_error(lua_State *L, cv_transfer *t, CURLcode rc) {
  long sent = 0;
  const char *kind = classify(rc);
  size_t n;
  if (t->too_large != TOO_LARGE_NONE) kind = "too_large";
  curl_easy_getinfo(t->curl, CURLINFO_REQUEST_SIZE, &sent);
  if (t->too_large == TOO_LARGE_HEADERS) {
    lua_pushfstring(L, "response headers exceed %d bytes",
                    CV_MAX_HEADER_BYTES);
  } else if (t->too_large == TOO_LARGE_BODY ||
             rc == CURLE_FILESIZE_EXCEEDED) {
    char num[32];
    snprintf(num, sizeof num, "%lld", (long long)t->max_body);
    lua_pushfstring(L, "response body exceeds max_body (%s bytes)", num);
  } else {
    n = strlen(t->errbuf);
    while (n > 0 && (t->errbuf[n - 1] == '\n' || t->errbuf[n - 1] == '\r'))
      t->errbuf[--n] = '\0';
    lua_pushstring(L, n > 0 ? t->errbuf : curl_easy_strerror(rc));
  }
  luaL_pushfail(L);
  cv_error_push(L, kind, lua_tostring(L, -2));
  lua_pushinteger(L, (lua_Integer)rc);
  lua_setfield(L, -2, "curl_code");
  lua_pushboolean(L, sent > 0);
  lua_setfield(L, -2, "request_sent");
  lua_remove(L, -3); /* the message */
  return 2;
}

/* Push the header block [p, p + len) of a response as a table. */
static void push_headers(lua_State *L, const char *p, size_t len) {
  const char *end = p + len, *q;
  int tab, last, lines = 0;
  for (q = p; q < end && (q = (const char *)memchr(q, '\n',
                                                    (size_t)(end - q))) != NULL;
       q++)
    lines++;
  lua_createtable(L, 0, lines > 1 ? lines - 1 : 0); /* no rehash as it fills */
  tab = lua_gettop(L);
  lua_pushnil(L); /* name of the last field, for continuation lines */
  last = tab + 1;
  while (p < end) {
    const char *nl = (const char *)memchr(p, '\n', (size_t)(end - p));
    const char *next = nl ? nl + 1 : end;
    cv_hdr_line h;
    switch (cv_header_line(p, (size_t)(next - p), &h)) {
      case CV_HDR_FIELD: {
        char name[64]; /* most names fit: lower-cased here */
        size_t i;
        if (h.nlen <= sizeof name) {
          for (i = 0; i < h.nlen; i++) {
            char c = h.name[i];
            name[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
          }
          lua_pushlstring(L, name, h.nlen);
        } else {
          luaL_Buffer b;
          luaL_buffinit(L, &b);
          for (i = 0; i < h.nlen; i++) {
            char c = h.name[i];
            luaL_addchar(&b,
                         (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c);
          }
          luaL_pushresult(&b);
        }
        lua_replace(L, last);
        lua_pushvalue(L, last);
        lua_rawget(L, tab);
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
        lua_rawset(L, tab);
        break;
      }
      case CV_HDR_CONTINUE: /* obs-fold: join to the last field with SP */
        if (!lua_isnil(L, last) && h.vlen > 0) {
          lua_pushvalue(L, last);
          lua_pushvalue(L, last);
          lua_rawget(L, tab);
          lua_pushliteral(L, " ");
          lua_pushlstring(L, h.value, h.vlen);
          lua_concat(L, 3);
          lua_rawset(L, tab);
        }
        break;
      default:
        break;
    }
    p = next;
  }
  lua_settop(L, tab);
}

/* The response's metatable holds its header block at this index until
** `headers` is first read. */
#define HEAD_SLOT 1

/* __index of a response: `headers` is built from the header block on
** first access (most callers never read it: building the table costs more
** than the rest of the response), stored in the response, and the
** metatable dropped, so the response is a plain table from then on. Any
** other missing key is nil. */
static int response_index(lua_State *L) {
  size_t klen, len;
  const char *k, *head;
  if (lua_type(L, 2) != LUA_TSTRING) return 0;
  k = lua_tolstring(L, 2, &klen);
  if (klen != 7 || memcmp(k, "headers", 7) != 0 || !lua_getmetatable(L, 1))
    return 0;
  lua_rawgeti(L, -1, HEAD_SLOT);
  head = lua_tolstring(L, -1, &len);
  if (head == NULL) return 0;
  push_headers(L, head, len);
  lua_pushvalue(L, 2);
  lua_pushvalue(L, -2);
  lua_rawset(L, 1);
  lua_pushnil(L);
  lua_setmetatable(L, 1);
  return 1;
}

int cv_transfer_push_result(lua_State *L, cv_transfer *t, CURLcode rc) {
  long status = 0;
  luaL_checkstack(L, 8, NULL);
  if (rc != CURLE_OK) return transfer_error(L, t, rc);
  curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
  lua_createtable(L, 0, 3);
  lua_pushinteger(L, (lua_Integer)status);
  lua_setfield(L, -2, "status");
  lua_pushlstring(L, t->body.data != NULL ? t->body.data : "", t->body.len);
  lua_setfield(L, -2, "body");
  lua_createtable(L, 1, 1); /* the metatable: see response_index */
  lua_pushlstring(L, t->head.data != NULL ? t->head.data : "", t->head.len);
  lua_rawseti(L, -2, HEAD_SLOT);
  lua_pushcfunction(L, response_index);
  lua_setfield(L, -2, "__index");
  lua_setmetatable(L, -2);
  return 1;
}
