/*
** request.c - what a session or a multi accepts from Lua: its options and
** each request, checked before libcurl sees anything (see request.h).
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convai.h"
#include "httpcheck.h"
#include "lerror.h"
#include "request.h"
#include "transfer.h"

#define DEFAULT_USER_AGENT "convai/" CONVAI_VERSION
#define MAX_BODY_LIMIT 9007199254740992.0 /* 2^53 */
#define ERRLEN 256

/* ------------------------------------------------------------- helpers */

static char *dupstr(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = (char *)malloc(n);
  if (d != NULL) memcpy(d, s, n);
  return d;
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

/* The first of the environment variables `names` (NULL-terminated) that is
** set and not empty, copied; "" when none is.  libcurl's own rule for the
** proxy variables (lib/url.c, detect_proxy): an empty one counts as unset. */
static char *first_env(const char *const *names) {
  int i;
  for (i = 0; names[i] != NULL; i++) {
    const char *v = getenv(names[i]);
    if (v != NULL && *v != '\0') return dupstr(v);
  }
  return dupstr("");
}

int cv_http_opts_own(cv_http_opts *o, const char *ca, const char *ua) {
  /* The variables libcurl reads, in its order; HTTP_PROXY is not one of
  ** them (in a CGI program a request's "Proxy:" header sets it). */
  static const char *const http[] = {"http_proxy", "all_proxy", "ALL_PROXY",
                                     NULL};
  static const char *const https[] = {"https_proxy", "HTTPS_PROXY",
                                      "all_proxy", "ALL_PROXY", NULL};
  static const char *const none[] = {"no_proxy", "NO_PROXY", NULL};
  o->user_agent = dupstr(ua != NULL ? ua : DEFAULT_USER_AGENT);
  o->cafile = ca != NULL ? dupstr(ca) : NULL;
  o->proxy_http = first_env(http);
  o->proxy_https = first_env(https);
  o->no_proxy = first_env(none);
  return o->user_agent != NULL && (ca == NULL || o->cafile != NULL) &&
         o->proxy_http != NULL && o->proxy_https != NULL &&
         o->no_proxy != NULL;
}

void cv_http_opts_free(cv_http_opts *o) {
  free(o->cafile);
  free(o->user_agent);
  free(o->proxy_http);
  free(o->proxy_https);
  free(o->no_proxy);
  o->cafile = o->user_agent = NULL;
  o->proxy_http = o->proxy_https = o->no_proxy = NULL;
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
