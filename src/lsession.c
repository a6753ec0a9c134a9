/*
** lsession.c - HTTP sessions on libcurl (see lsession.h).
**
** Design:
**  - One CURL easy handle per session, reused so connections are kept
**    alive.  Before each request the handle is curl_easy_reset (which keeps
**    live connections) and every option is set again, so nothing from one
**    request (method, body, headers) leaks into the next; except between
**    two plain GETs, where only the URL (and the headers and timeouts when
**    they differ) is set (see cv_transfer_setup).
**  - Everything is validated before libcurl sees it; bad values become
**    nil, err(invalid_argument) and nothing is sent.  The checks
**    (request.c), the option setting and the callbacks (transfer.c) and
**    the result building (response.c) are shared with core.multi.
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
/*** @module convai.core */

#include <string.h>

#include <curl/curl.h>

#include "convai.h"
#include "lerror.h"
#include "lsession.h"
#include "request.h"
#include "response.h"
#include "transfer.h"

typedef struct session {
  cv_transfer t;   /* t.curl is NULL once closed */
  cv_http_opts opts;
  lua_Integer requests, connections;
  int busy;          /* the result of a request is being built */
  int close_pending; /* close() was called while busy */
} session;

/* ------------------------------------------------------------- helpers */

static session *check_session(lua_State *L) {
  return (session *)luaL_checkudata(L, 1, CV_SESSION_MT);
}

static void close_session(session *s) {
  if (s->t.curl == NULL) return;
  curl_easy_cleanup(s->t.curl);
  s->t.curl = NULL;
  cv_transfer_release(&s->t);
  cv_http_opts_free(&s->opts);
  curl_global_cleanup(); /* this session's reference */
}

/* --------------------------------------------------------- core.session */

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

Proxies come from the environment, as libcurl reads them, but read once,
here: `http_proxy` for `http://` URLs, `https_proxy` (or `HTTPS_PROXY`) for
`https://` URLs, else `all_proxy` (or `ALL_PROXY`); the hosts of `no_proxy`
(or `NO_PROXY`) are reached directly. An empty variable counts as unset, and
`HTTP_PROXY` is never read (in a CGI program a request's `Proxy:` header
sets it). A session made before the environment changes keeps the proxies
it was made with.
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
  session *s;
  cv_http_opts cfg;
  const char *ca = NULL, *ua = NULL, *msg;
  if (lua_isnoneornil(L, 1)) {
    lua_settop(L, 0);
    lua_newtable(L);
  }
  luaL_checktype(L, 1, LUA_TTABLE);
  memset(&cfg, 0, sizeof cfg);
  if ((msg = cv_http_read_opts(L, &cfg, &ca, &ua, NULL)) != NULL)
    return cv_error_fail(L, "invalid_argument", msg);

  s = (session *)lua_newuserdatauv(L, sizeof(session), 0);
  memset(s, 0, sizeof *s);
  cv_transfer_init(&s->t);
  luaL_setmetatable(L, CV_SESSION_MT);
  s->opts.timeout_ms = cfg.timeout_ms;
  s->opts.connect_timeout_ms = cfg.connect_timeout_ms;
  s->opts.max_body = cfg.max_body;
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
    return luaL_error(L, "convai: libcurl initialisation failed");
  s->t.curl = curl_easy_init(); /* from here on __gc releases everything */
  if (s->t.curl == NULL) {
    curl_global_cleanup();
    return luaL_error(L, "convai: cannot create a libcurl handle");
  }
  if (!cv_http_opts_own(&s->opts, ca, ua))
    return luaL_error(L, "not enough memory");
  return 1;
}

/* ------------------------------------------------------ session:request */

/* deliver(transfer, curl_code, decode): the response table, or fail, err. */
static int deliver(lua_State *L) {
  cv_transfer *t = (cv_transfer *)lua_touserdata(L, 1);
  CURLcode rc = (CURLcode)lua_tointeger(L, 2);
  if (lua_isnil(L, 3)) return cv_transfer_push_result(L, t, rc);
  return cv_transfer_push_decoded(L, t, rc, 3);
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

Requests whose method is not idempotent (RFC 9110 section 9.2.2: anything
but `GET`, `HEAD`, `OPTIONS`, `TRACE`, `PUT` and `DELETE`, so `POST` and
`PATCH` in particular) are always sent on a new connection
(`CURLOPT_FRESH_CONNECT`), closed after the response
(`CURLOPT_FORBID_REUSE`), never on a kept-alive one: libcurl 7.88 silently
sends a request again when a reused connection dies before the response
starts, which for a `POST` could message a person twice. Such a request is
sent at most once; when its connection fails the error says whether any of
it was written (`request_sent`). Idempotent requests reuse the kept-alive
connection (and may be sent a second time by libcurl in that case).

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
@tparam[opt] function decode decodes a 2xx body in the same call, before
the body is copied anywhere else: `core.json_decode`, a decoder made by
`core.json_decoder`, or any function `decode(body) -> value, extra`. When
it returns a value, the results are three: the status (an integer, where a
response table is otherwise), the value and `extra`, and no response table
is made (what a JSON client needs of a 2xx answer, without the copies; the
core's decoders read the body where libcurl left it); when it returns nil
(the body is not JSON), or for any other status, the results are those
below, as without `decode`. An error raised by `decode` propagates.
@treturn[1] table the response (with `decode`: see above) `{status = integer, headers = table, body =
string}`: `status` is the HTTP status code; `headers` maps each field name,
lower-cased, to its value without surrounding whitespace, a repeated field's
values joined with `", "` in the order received (RFC 9110 section 5.3) and
obsolete folded lines joined with a space; `body` is the raw body, `""`
when there is none (`HEAD`, 204). `headers` is made when first read (most
callers never read it, and it costs more than the rest of the response):
until then `rawget`, `next` and `pairs` do not see it, and the response has
a metatable, dropped once `headers` has been read
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
  cv_request r;
  const char *msg;
  long nconn = 0;
  int top, status;
  CURLcode rc;
  luaL_checktype(L, 2, LUA_TTABLE);
  if (!lua_isnoneornil(L, 3)) luaL_checktype(L, 3, LUA_TFUNCTION);
  lua_settop(L, 3);
  if (s->t.curl == NULL || s->close_pending)
    return cv_rejected(L, "session is closed");
  if (s->busy)
    return cv_rejected(L, "session is busy (request made from a finalizer "
                          "during another request on the same session)");

  /* 1. types (programmer errors raise) and values (nil, err) */
  if ((msg = cv_request_read(L, 2, &s->opts, 0, &s->t, &r)) != NULL)
    return cv_rejected(L, msg);

  /* 2. build and send */
  rc = cv_transfer_setup(L, &s->t, &s->opts, &r, 0);
  if (rc == CURLE_OUT_OF_MEMORY) return luaL_error(L, "not enough memory");
  if (rc == CURLE_URL_MALFORMAT) return cv_setup_error(L, &s->t, rc);
  if (rc != CURLE_OK) return cv_rejected(L, curl_easy_strerror(rc));
  rc = curl_easy_perform(s->t.curl);
  s->requests++;
  if (curl_easy_getinfo(s->t.curl, CURLINFO_NUM_CONNECTS, &nconn) ==
      CURLE_OK)
    s->connections += nconn;
  if (s->t.oom || rc == CURLE_OUT_OF_MEMORY) {
    cv_transfer_release(&s->t);
    return luaL_error(L, "not enough memory");
  }

  /* 3. the result, built in a protected call while the session is marked
  ** busy: building it allocates, so finalizers may run Lua that uses this
  ** session; they must not free the buffers being read. */
  luaL_checkstack(L, 5, NULL);
  top = lua_gettop(L);
  lua_pushcfunction(L, deliver);
  lua_pushlightuserdata(L, &s->t);
  lua_pushinteger(L, (lua_Integer)rc);
  lua_pushvalue(L, 3);
  s->busy = 1;
  status = lua_pcall(L, 3, LUA_MULTRET, 0);
  s->busy = 0;
  cv_transfer_done(&s->t); /* keeps the header list for the next request */
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
  return cv_push_stats(L, s->requests, s->connections);
}

/*** `tostring(session)`: `"convai.session (open)"` or
`"convai.session (closed)"`; never shows options or paths.
@function __tostring
@treturn string the description
*/
static int l_tostring(lua_State *L) {
  session *s = check_session(L);
  lua_pushstring(L, s->t.curl != NULL && !s->close_pending
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
