/*
** response.c - what core.session and core.multi hand back to Lua (see
** response.h): the response table, or nil and the error object of a
** failed transfer, and their counters.
*/
#include <stdio.h>
#include <string.h>

#include "errors.h"
#include "ljson.h"
#include "ljsondecoder.h"
#include "lerror.h"
#include "resphdr.h"
#include "response.h"

/* ------------------------------------------------------------- errors */

/* Push fail, err for a failed transfer; returns 2.  The kind is the error
** table's for rc (errors.h), except when a callback refused data for its
** size: then libcurl's code is CURLE_WRITE_ERROR, and the kind too_large. */
static int transfer_error(lua_State *L, cv_transfer *t, CURLcode rc) {
  long sent = 0;
  const char *kind = cv_curl_kind((int)rc);
  size_t n;
  if (t->too_large != CV_TOO_LARGE_NONE) kind = "too_large";
  curl_easy_getinfo(t->curl, CURLINFO_REQUEST_SIZE, &sent);
  if (t->too_large == CV_TOO_LARGE_HEADERS) {
    lua_pushfstring(L, "response headers exceed %d bytes",
                    CV_MAX_HEADER_BYTES);
  } else if (t->too_large == CV_TOO_LARGE_BODY ||
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

int cv_setup_error(lua_State *L, cv_transfer *t, CURLcode rc) {
  luaL_pushfail(L);
  cv_error_push(L, cv_curl_kind((int)rc),
                t->errbuf[0] != '\0' ? t->errbuf : curl_easy_strerror(rc));
  lua_pushinteger(L, (lua_Integer)rc);
  lua_setfield(L, -2, "curl_code");
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "request_sent");
  return 2;
}

/* ------------------------------------------------------------ responses */

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

int cv_transfer_push_decoded(lua_State *L, cv_transfer *t, CURLcode rc,
                             int decode) {
  long status = 0;
  decode = lua_absindex(L, decode);
  if (rc == CURLE_OK &&
      curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status) ==
          CURLE_OK &&
      status >= 200 && status <= 299) {
    const char *text = "";
    int n;
    luaL_checkstack(L, 6, NULL);
    if (t->body.len > 0) {
      if (!cv_buf_terminate(&t->body)) luaL_error(L, "not enough memory");
      text = t->body.data;
    }
    /* the core's decoders read the body where it is; another function
    ** gets it as a string */
    n = cv_jsondecoder_call(L, decode, text, t->body.len);
    if (n < 0) n = cv_json_decode_call(L, decode, text, t->body.len);
    if (n < 0) {
      lua_pushvalue(L, decode);
      lua_pushlstring(L, text, t->body.len);
      lua_call(L, 1, 2);
      n = 2;
    }
    if (n == 1) lua_pushnil(L); /* value, typed | nil, message */
    if (!lua_isnil(L, -2)) { /* status, value, typed: no table to make */
      lua_pushinteger(L, (lua_Integer)status);
      lua_insert(L, -3);
      return 3;
    }
    lua_pop(L, 2); /* not decoded: the whole response, for the caller's error */
  }
  return cv_transfer_push_result(L, t, rc);
}

/* -------------------------------------------------------------- counters */

int cv_push_stats(lua_State *L, lua_Integer requests,
                  lua_Integer connections) {
  lua_createtable(L, 0, 2);
  lua_pushinteger(L, requests);
  lua_setfield(L, -2, "requests");
  lua_pushinteger(L, connections);
  lua_setfield(L, -2, "connections");
  return 1;
}
