/*
** transfer.c - one HTTP request on one libcurl easy handle, shared by
** core.session and core.multi (see transfer.h): the header list, every
** option, the callbacks that collect the response in C memory, and what
** is kept between two requests on the same handle.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ascii.h"
#include "method.h"
#include "transfer.h"

/* ------------------------------------------------------------- helpers */

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

/* ----------------------------------------------------- libcurl callbacks */

static size_t on_body(char *p, size_t size, size_t n, void *ud) {
  cv_transfer *t = (cv_transfer *)ud;
  size_t len = size * n;
  if ((curl_off_t)len > t->max_body - (curl_off_t)t->body.len) {
    t->too_large = CV_TOO_LARGE_BODY;
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
    t->too_large = CV_TOO_LARGE_HEADERS;
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
  curl_url_cleanup(t->url); /* the handle pointing to it is gone or reset */
  t->url = NULL;
  free(t->url_text);
  t->url_text = NULL;
  t->url_len = t->url_cap = t->url_query = 0;
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

/* What set_url refuses: libcurl's own words ("URL rejected: ..."), as its
** transfer would have put them in the error buffer. */
static CURLcode url_rejected(cv_transfer *t, CURLUcode uc) {
#if LIBCURL_VERSION_NUM >= 0x075000 /* 7.80.0: curl_url_strerror */
  snprintf(t->errbuf, sizeof t->errbuf, "URL rejected: %s",
           curl_url_strerror(uc));
#else
  snprintf(t->errbuf, sizeof t->errbuf, "URL rejected (CURLUcode %d)",
           (int)uc);
#endif
  return uc == CURLUE_OUT_OF_MEMORY ? CURLE_OUT_OF_MEMORY
                                    : CURLE_URL_MALFORMAT;
}

/* Put r->url into t->url, the URL handle the easy handle points to.  A URL
** equal to the one it holds needs nothing; one that differs from it only
** after the '?' (the same resource with another query, `?agent_id=N`) has
** only its query replaced: the parse of the whole URL keeps a query as it
** is, and so does setting it, but for a percent-encoding, whose hex digits
** libcurl 7.88 lower-cases when the query is set alone and keeps when it
** parses the URL, so a query with a '%' is parsed whole.  Anything else is
** parsed whole too, with the flags libcurl uses for CURLOPT_URL, and so is
** a URL with a fragment ('#') or after one.  On failure the handle
** keeps the URL it had, t->errbuf says why, and the next URL is parsed
** whole.  Returns CURLE_URL_MALFORMAT or CURLE_OUT_OF_MEMORY on failure. */
static CURLcode set_url(cv_transfer *t, const char *url, size_t len) {
  const char *q = (const char *)memchr(url, '?', len);
  size_t qpos = q != NULL ? (size_t)(q - url) + 1 : 0;
  int fragment = memchr(url, '#', len) != NULL;
  CURLUcode uc;
  if (t->url == NULL && (t->url = curl_url()) == NULL)
    return CURLE_OUT_OF_MEMORY;
  if (t->url_text != NULL && len == t->url_len &&
      memcmp(url, t->url_text, len) == 0)
    return CURLE_OK;
  if (t->url_text != NULL && t->url_query != 0 && qpos == t->url_query &&
      !fragment && qpos < len && memcmp(url, t->url_text, qpos) == 0 &&
      memchr(url + qpos, '%', len - qpos) == NULL)
    uc = curl_url_set(t->url, CURLUPART_QUERY, url + qpos, 0);
  else
    uc = curl_url_set(t->url, CURLUPART_URL, url,
                      CURLU_GUESS_SCHEME | CURLU_NON_SUPPORT_SCHEME);
  if (uc == CURLUE_OK && len >= t->url_cap) {
    char *p = (char *)realloc(t->url_text, len + 1);
    if (p == NULL) {
      uc = CURLUE_OUT_OF_MEMORY;
    } else {
      t->url_text = p;
      t->url_cap = len + 1;
    }
  }
  if (uc != CURLUE_OK) {
    t->url_len = t->url_query = 0;
    free(t->url_text);
    t->url_text = NULL;
    t->url_cap = 0;
    return url_rejected(t, uc);
  }
  memcpy(t->url_text, url, len);
  t->url_text[len] = '\0';
  t->url_len = len;
  t->url_query = fragment || qpos == len ? 0 : qpos;
  return CURLE_OK;
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
  int rebuilt = 0, https = cv_has_prefix_ci(r->url, r->ulen, "https://");
  cv_buf_clear(&t->body);
  cv_buf_clear(&t->head);
  t->too_large = CV_TOO_LARGE_NONE;
  t->oom = 0;
  t->errbuf[0] = '\0';
  t->max_body = o->max_body;
  rc = set_url(t, r->url, r->ulen); /* the handle is left as it was */
  if (rc != CURLE_OK) return rc;
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
    if (rebuilt) SET(CURLOPT_HTTPHEADER, t->hdrs);
    if (https != t->set_https) {
      SET(CURLOPT_PROXY, https ? o->proxy_https : o->proxy_http);
      t->set_https = https;
    }
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
  SET(CURLOPT_CURLU, t->url);
  /* The environment's proxy settings, read when the session was made: set
  ** here, libcurl does not read them again (five getenv calls, each a walk
  ** through the whole environment, on every request). */
  SET(CURLOPT_PROXY, https ? o->proxy_https : o->proxy_http);
  SET(CURLOPT_NOPROXY, o->no_proxy);
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
    t->set_https = https;
  }
  return rc;
}

#undef SET
