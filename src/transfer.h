/*
** transfer.h - one request on one libcurl easy handle, what core.session
** and core.multi share between checking a request (request.h) and handing
** the result back (response.h): building the header list, setting every
** option, collecting the response in C memory.
**
** A cv_transfer owns the buffers and header list of one request on one
** easy handle.  libcurl's callbacks only fill those buffers (they never
** call Lua); the owner (a session, or one transfer of a multi) keeps them
** until the result has been built, so a Lua error while building it leaks
** nothing.
**
** Request flow:  cv_request_read (request.h: checks, fills a cv_request)  ->
** cv_transfer_setup (builds the headers and sets every option)  ->
** libcurl runs it  ->  cv_transfer_push_result (response.h, in a
** protected call: it allocates).
*/
#ifndef CONVAI_TRANSFER_H
#define CONVAI_TRANSFER_H

#include <curl/curl.h>

#include "buffer.h"
#include "compat.h"

#define CV_MAX_HEADER_BYTES (256 * 1024)

/* Options common to sessions and multis (request.h: cv_http_read_opts). */
typedef struct cv_http_opts {
  long timeout_ms, connect_timeout_ms;
  curl_off_t max_body;
  char *cafile; /* malloc'd; NULL: libcurl's default CA store */
  char *user_agent; /* malloc'd */
  /* The proxy settings of the environment, read once when the session or
  ** multi is made (cv_http_opts_own), as libcurl would read them on every
  ** request: the proxy for http:// URLs (http_proxy, else all_proxy,
  ** ALL_PROXY), for https:// URLs (https_proxy, HTTPS_PROXY, all_proxy,
  ** ALL_PROXY) and the hosts reached directly (no_proxy, NO_PROXY); each
  ** malloc'd, "" when unset. */
  char *proxy_http, *proxy_https, *no_proxy;
} cv_http_opts;

/* A checked request (request.h: cv_request_read).  The strings point into
** Lua values left on the stack by cv_request_read: keep them there until
** cv_transfer_setup. */
typedef struct cv_request {
  const char *method, *url, *body; /* body NULL: none */
  size_t mlen, ulen, blen;
  const char *cafile; /* req.cafile (multi only); NULL: the owner's */
  int hidx;           /* stack index of the headers table, 0: none */
  int hdrs_same;      /* the headers are those of the `known` transfer */
  long timeout_ms, connect_timeout_ms;
} cv_request;

/* Why a callback refused data (cv_transfer.too_large). */
enum { CV_TOO_LARGE_NONE, CV_TOO_LARGE_BODY, CV_TOO_LARGE_HEADERS };

typedef struct cv_transfer {
  CURL *curl;
  struct curl_slist *hdrs; /* request headers (kept for the next request) */
  int nhdrs;               /* entries of hdrs from the headers table */
  int hdrs_body;           /* hdrs was built for a request with a body */
  /* What is set on the easy handle (libcurl keeps options between
  ** transfers): `configured` once every option has been set since the
  ** last curl_easy_reset; `plain` when that request was a GET without a
  ** body nor its own cafile, so that the next such request only needs its
  ** URL (and timeouts, headers when they differ) set. */
  int configured, plain;
  long set_timeout_ms, set_connect_timeout_ms;
  int set_https; /* the proxy set on the handle is the one for https:// */
  /* The request's URL, parsed into a URL handle the easy handle points to
  ** (CURLOPT_CURLU): libcurl parses a URL given as text anew on every
  ** transfer, but only copies a handle.  `url_text` is the URL it holds,
  ** as given (malloc'd, NULL: none yet); `url_query` is 1 + the offset of
  ** its '?' when only its query may be replaced (see set_url), else 0. */
  CURLU *url;
  char *url_text;
  size_t url_len, url_cap, url_query;
  cv_buf body;             /* response body being received */
  cv_buf head;             /* header lines of the latest response */
  curl_off_t max_body;
  int too_large; /* CV_TOO_LARGE_*: set by a callback that refused data */
  int oom;       /* a callback ran out of memory */
  char errbuf[CURL_ERROR_SIZE];
} cv_transfer;

void cv_transfer_init(cv_transfer *t); /* empty, no easy handle */
/* Free the header list and the response buffers (not the easy handle). */
void cv_transfer_release(cv_transfer *t);
/* After a request whose result has been built: forget the response but
** keep what the next request on the same handle can reuse (the header
** list, buffers of up to 64 KiB). */
void cv_transfer_done(cv_transfer *t);

/* Set t->curl up for r: headers, every option (see session:request), the
** callbacks filling t.  A non-idempotent method gets CURLOPT_FRESH_CONNECT
** (see method.h).  copy_body makes libcurl copy the body (the Lua string
** may not outlive the transfer).  The handle is curl_easy_reset and every
** option set, except when this request and the previous one on the handle
** are both plain GETs (see cv_transfer): then only what differs is set.
** Returns CURLE_OK, CURLE_OUT_OF_MEMORY, or another code refusing an
** option (the handle must then be curl_easy_reset and t->configured
** cleared before it is used again: cv_transfer_unconfigure). */
CURLcode cv_transfer_setup(lua_State *L, cv_transfer *t, const cv_http_opts *o,
                           const cv_request *r, int copy_body);

/* curl_easy_reset(t->curl): every option back to its default (so the next
** setup sets them all again). */
void cv_transfer_unconfigure(cv_transfer *t);

#endif
