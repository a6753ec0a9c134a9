/*
** lmulti.c - concurrent HTTP requests on a libcurl multi handle (see
** lmulti.h).
**
** Design:
**  - Each request added is a `xfer`: a cv_transfer on its own easy handle,
**    with the same checks (request.c), options and callbacks (transfer.c)
**    and result building (response.c) as core.session.  Every xfer of a
**    multi is on its `all` list from the moment it is allocated, so
**    close/__gc frees everything whatever state it is in and whatever Lua
**    error interrupted a call.
**  - States: IDLE (in the pool, easy handle kept for reuse), RUNNING (added
**    to the libcurl multi), DONE (finished and removed from the multi, its
**    result not yet returned to Lua; on the `done` queue in completion
**    order).  Connections live in the multi's connection cache, shared by
**    all its easy handles, so they are kept alive between requests whatever
**    handle runs them; CURLMOPT_MAXCONNECTS keeps up to
**    max_total_connections of them.
**  - libcurl callbacks never call Lua.  perform() drives libcurl, moves the
**    finished transfers to `done`, then builds the array of results in a
**    protected call with the multi marked busy (building allocates, so a
**    finalizer may run Lua that uses this multi: add/perform are refused
**    and close is deferred).  Only when the whole array is built are the
**    transfers released; if building fails (out of memory) they stay on
**    `done` and the next perform returns them.
**  - Request bodies are copied by libcurl (CURLOPT_COPYPOSTFIELDS): the
**    Lua string of an added request is not kept alive by anything.
**  - Each multi holds a curl_global_init reference, released on close.
*/
/*** @module convai.core */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "clock.h"
#include "lerror.h"
#include "lmulti.h"
#include "request.h"
#include "response.h"
#include "transfer.h"

#define DEFAULT_MAX_CONNECTIONS 16
#define MAX_CONNECTIONS_LIMIT 65536
#define MAX_POLL_MS 86400000.0 /* one poll: at most a day, then look again */

enum { X_IDLE, X_RUNNING, X_DONE };

typedef struct xfer {
  cv_transfer t;
  lua_Integer id;
  CURLcode rc; /* result, once DONE */
  int state;
  struct xfer *prev_all, *next_all; /* every xfer of the multi */
  struct xfer *next;                /* idle pool or done queue */
} xfer;

typedef struct multi {
  CURLM *cm; /* NULL once closed */
  cv_http_opts opts;
  long max_host, max_total;
  xfer *all;
  xfer *idle;
  int nidle;
  xfer *done, *done_tail;
  lua_Integer next_id, requests, connections, pending;
  int busy;          /* perform is building its result */
  int close_pending; /* close() was called while busy */
} multi;

static multi *check_multi(lua_State *L) {
  return (multi *)luaL_checkudata(L, 1, CV_MULTI_MT);
}

/* ------------------------------------------------------------ transfers */

static void unlink_all(multi *m, xfer *x) {
  if (x->prev_all != NULL)
    x->prev_all->next_all = x->next_all;
  else
    m->all = x->next_all;
  if (x->next_all != NULL) x->next_all->prev_all = x->prev_all;
}

static void free_xfer(multi *m, xfer *x) {
  unlink_all(m, x);
  if (x->t.curl != NULL) curl_easy_cleanup(x->t.curl);
  cv_transfer_release(&x->t);
  free(x);
}

/* An idle transfer with an easy handle: from the pool, or a new one.
** NULL when out of memory. */
static xfer *get_xfer(multi *m) {
  xfer *x = m->idle;
  if (x != NULL) {
    m->idle = x->next;
    m->nidle--;
    x->next = NULL;
    return x;
  }
  x = (xfer *)malloc(sizeof *x);
  if (x == NULL) return NULL;
  memset(x, 0, sizeof *x);
  cv_transfer_init(&x->t);
  x->state = X_IDLE;
  x->next_all = m->all;
  if (m->all != NULL) m->all->prev_all = x;
  m->all = x;
  x->t.curl = curl_easy_init();
  if (x->t.curl == NULL) {
    free_xfer(m, x);
    return NULL;
  }
  curl_easy_setopt(x->t.curl, CURLOPT_PRIVATE, (void *)x);
  return x;
}

/* Back to the pool (at most max_total idle handles are kept). */
static void put_xfer(multi *m, xfer *x) {
  x->state = X_IDLE;
  if (m->nidle >= m->max_total) {
    free_xfer(m, x);
    return;
  }
  cv_transfer_done(&x->t); /* keeps the header list for the next request */
  x->next = m->idle;
  m->idle = x;
  m->nidle++;
}

static void close_multi(multi *m) {
  xfer *x;
  if (m->cm == NULL) return;
  for (x = m->all; x != NULL; x = x->next_all)
    if (x->state == X_RUNNING) curl_multi_remove_handle(m->cm, x->t.curl);
  while (m->all != NULL) free_xfer(m, m->all);
  m->idle = m->done = m->done_tail = NULL;
  m->nidle = 0;
  m->pending = 0;
  curl_multi_cleanup(m->cm);
  m->cm = NULL;
  cv_http_opts_free(&m->opts);
  curl_global_cleanup(); /* this multi's reference */
}

/* Move the transfers libcurl finished to the done queue. */
static void collect(multi *m) {
  CURLMsg *msg;
  int left;
  while ((msg = curl_multi_info_read(m->cm, &left)) != NULL) {
    CURL *c = msg->easy_handle;
    CURLcode rc = msg->data.result;
    char *priv = NULL;
    xfer *x;
    long nconn = 0;
    if (msg->msg != CURLMSG_DONE) continue;
    curl_easy_getinfo(c, CURLINFO_PRIVATE, &priv);
    x = (xfer *)(void *)priv;
    if (curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &nconn) == CURLE_OK)
      m->connections += nconn;
    curl_multi_remove_handle(m->cm, c); /* msg is invalid from here */
    x->rc = rc;
    x->state = X_DONE;
    x->next = NULL;
    if (m->done_tail != NULL)
      m->done_tail->next = x;
    else
      m->done = x;
    m->done_tail = x;
  }
}

/* ------------------------------------------------------------ core.multi */

/* Option `name` at index 1: an integer 1..MAX_CONNECTIONS_LIMIT (nil: the
** default).  Returns NULL, or the message (pushed). */
static const char *opt_count(lua_State *L, const char *name, long *out) {
  lua_Number v;
  lua_getfield(L, 1, name);
  *out = DEFAULT_MAX_CONNECTIONS;
  if (!lua_isnil(L, -1)) {
    v = lua_type(L, -1) == LUA_TNUMBER ? lua_tonumber(L, -1) : -1;
    if (!(v >= 1 && v <= MAX_CONNECTIONS_LIMIT && v == floor(v)))
      return lua_pushfstring(L, "option '%s' must be an integer from 1 to %d",
                             name, MAX_CONNECTIONS_LIMIT);
    *out = (long)v;
  }
  lua_pop(L, 1);
  return NULL;
}

/*** Concurrent requests.
A multi runs many requests at once on one libcurl multi handle: their
transfers overlap, and connections are kept alive between requests (one
cache for all of them). `convai.batch` builds on it.
@section multi
*/

/*** Make a multi: a set of concurrent requests driven by `multi:perform`.
Every option of `session` applies, with the same checks, defaults and
errors, plus the two limits below; each request inherits `timeout`,
`connect_timeout`, `cafile`, `max_body` and `user_agent` unless it gives its
own (`timeout`, `connect_timeout`, `cafile`). Proxies come from the
environment, read once, here, as for `session`.
@function multi
@tparam[opt] table opts options, all optional (nil: all defaults)
@tparam[opt=30] number opts.timeout as in `session`, seconds
@tparam[opt=10] number opts.connect_timeout as in `session`, seconds
@tparam[opt] string opts.cafile as in `session`
@tparam[opt=16777216] integer opts.max_body as in `session`, bytes
@tparam[opt="convai/0.1.0"] string opts.user_agent as in `session`
@tparam[opt=16] integer opts.max_host_connections most connections open at
once to one host (`CURLMOPT_MAX_HOST_CONNECTIONS`); requests beyond it wait
in libcurl's queue for a free connection. An integer from 1 to 65536.
@tparam[opt=16] integer opts.max_total_connections most connections open at
once in all (`CURLMOPT_MAX_TOTAL_CONNECTIONS`), and how many idle ones are
kept alive for reuse (`CURLMOPT_MAXCONNECTS`). An integer from 1 to 65536.
@treturn[1] multi the multi
@treturn[2] nil
@treturn[2] convai.error kind `invalid_argument`; the `message` names the
option and what is expected
@raise if `opts` is neither nil nor a table; "not enough memory"; if libcurl
cannot be initialised
@usage local m = assert(core.multi { timeout = 10, max_host_connections = 8 })
*/
static int l_multi(lua_State *L) {
  static const char *const extra[] = {"max_host_connections",
                                      "max_total_connections", NULL};
  multi *m;
  cv_http_opts cfg;
  long max_host, max_total;
  const char *ca = NULL, *ua = NULL, *msg;
  CURLMcode mc = CURLM_OK;
  if (lua_isnoneornil(L, 1)) {
    lua_settop(L, 0);
    lua_newtable(L);
  }
  luaL_checktype(L, 1, LUA_TTABLE);
  memset(&cfg, 0, sizeof cfg);
  if ((msg = cv_http_read_opts(L, &cfg, &ca, &ua, extra)) != NULL ||
      (msg = opt_count(L, "max_host_connections", &max_host)) != NULL ||
      (msg = opt_count(L, "max_total_connections", &max_total)) != NULL)
    return cv_error_fail(L, "invalid_argument", msg);

  m = (multi *)lua_newuserdatauv(L, sizeof(multi), 0);
  memset(m, 0, sizeof *m);
  luaL_setmetatable(L, CV_MULTI_MT);
  m->opts.timeout_ms = cfg.timeout_ms;
  m->opts.connect_timeout_ms = cfg.connect_timeout_ms;
  m->opts.max_body = cfg.max_body;
  m->max_host = max_host;
  m->max_total = max_total;
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
    return luaL_error(L, "convai: libcurl initialisation failed");
  m->cm = curl_multi_init(); /* from here on __gc releases everything */
  if (m->cm == NULL) {
    curl_global_cleanup();
    return luaL_error(L, "convai: cannot create a libcurl multi handle");
  }
  if (!cv_http_opts_own(&m->opts, ca, ua))
    return luaL_error(L, "not enough memory");
  mc = curl_multi_setopt(m->cm, CURLMOPT_MAX_HOST_CONNECTIONS, max_host);
  if (mc == CURLM_OK)
    mc = curl_multi_setopt(m->cm, CURLMOPT_MAX_TOTAL_CONNECTIONS, max_total);
  if (mc == CURLM_OK)
    mc = curl_multi_setopt(m->cm, CURLMOPT_MAXCONNECTS, max_total);
  if (mc != CURLM_OK)
    return luaL_error(L, "convai: libcurl multi: %s", curl_multi_strerror(mc));
  return 1;
}

/*** A set of concurrent requests, made by `multi`.
A full userdata with the metatable `"convai.multi"`. It is closed by
`multi:close`, by `<close>` on Lua 5.4, or when it is collected.

    local m <close> = assert(core.multi { max_host_connections = 4 })
    for i = 1, 10 do
      assert(m:add { url = base .. "/items/" .. i })
    end
    while m:pending() > 0 do
      for _, done in ipairs(m:perform(1)) do
        if done.response then print(done.id, done.response.status)
        else print(done.id, done.error) end
      end
    end
@type multi
*/

/*** Add a request; it starts at the next `multi:perform`.
The request is checked at once, exactly as by `session:request` (the same
raised type errors, the same `invalid_argument` errors with `request_sent =
false`, nothing sent), and `req.cafile` may name a CA file for this request
only. Requests whose method is not idempotent (`POST`, `PATCH`, ...) get a
new connection of their own, closed after them, as in `session:request`, so
they are never sent twice; the others reuse the kept-alive connections. The body is copied:
the request table may be dropped or changed afterwards.
@function add
@tparam table req the request, as in `session:request`
@tparam[opt] string req.cafile path of a PEM file of CA certificates for this
request (default: the multi's `cafile`); must be readable
@treturn[1] integer the request's id: a positive integer, increasing from 1,
never reused by this multi; `multi:perform` reports the outcome under it
@treturn[2] nil
@treturn[2] convai.error kind `invalid_argument`, `request_sent = false`: a
check failed, or the multi is closed ("multi is closed") or is building the
result of `perform` (a call from a finalizer: "multi is busy")
@raise for the wrong types listed in `session:request`; "not enough memory"
@usage local id = assert(m:add { method = "POST", url = url, body = json,
  headers = { ["Content-Type"] = "application/json" }, timeout = 5 })
*/
static int l_add(lua_State *L) {
  multi *m = check_multi(L);
  cv_request r;
  const char *msg;
  xfer *x;
  CURLcode rc;
  CURLMcode mc;
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_settop(L, 2);
  if (m->cm == NULL || m->close_pending)
    return cv_rejected(L, "multi is closed");
  if (m->busy)
    return cv_rejected(L, "multi is busy (request added from a finalizer "
                          "while perform builds its result)");
  /* the transfer that will run it is the head of the pool (get_xfer) */
  if ((msg = cv_request_read(L, 2, &m->opts, 1,
                             m->idle != NULL ? &m->idle->t : NULL, &r)) !=
      NULL)
    return cv_rejected(L, msg);
  if ((x = get_xfer(m)) == NULL) return luaL_error(L, "not enough memory");
  rc = cv_transfer_setup(L, &x->t, &m->opts, &r, 1);
  if (rc != CURLE_OK) {
    cv_transfer_unconfigure(&x->t); /* drop the copied body, if any */
    curl_easy_setopt(x->t.curl, CURLOPT_PRIVATE, (void *)x);
    put_xfer(m, x);
    if (rc == CURLE_OUT_OF_MEMORY) return luaL_error(L, "not enough memory");
    if (rc == CURLE_URL_MALFORMAT) return cv_setup_error(L, &x->t, rc);
    return cv_rejected(L, curl_easy_strerror(rc));
  }
  curl_easy_setopt(x->t.curl, CURLOPT_PRIVATE, (void *)x); /* after reset */
  mc = curl_multi_add_handle(m->cm, x->t.curl);
  if (mc != CURLM_OK) {
    put_xfer(m, x);
    if (mc == CURLM_OUT_OF_MEMORY) return luaL_error(L, "not enough memory");
    return luaL_error(L, "convai: libcurl multi: %s", curl_multi_strerror(mc));
  }
  x->state = X_RUNNING;
  x->id = ++m->next_id;
  m->pending++;
  m->requests++;
  lua_pushinteger(L, x->id);
  return 1;
}

/* deliver_all(multi): the array of results of the done queue. */
static int deliver_all(lua_State *L) {
  multi *m = (multi *)lua_touserdata(L, 1);
  xfer *x;
  int i = 0;
  lua_newtable(L);
  for (x = m->done; x != NULL; x = x->next) {
    int n;
    lua_createtable(L, 0, 2);
    lua_pushinteger(L, x->id);
    lua_setfield(L, -2, "id");
    n = cv_transfer_push_result(L, &x->t, x->rc);
    if (n == 1) {
      lua_setfield(L, -2, "response");
    } else {
      lua_setfield(L, -3, "error");
      lua_pop(L, 1); /* fail */
    }
    lua_rawseti(L, -2, ++i);
  }
  return 1;
}

/* Drop the done transfers whose callbacks ran out of memory; returns how
** many. */
static int drop_oom(multi *m) {
  xfer **p = &m->done, *x;
  int n = 0;
  m->done_tail = NULL;
  while ((x = *p) != NULL) {
    if (x->t.oom || x->rc == CURLE_OUT_OF_MEMORY) {
      *p = x->next;
      m->pending--;
      put_xfer(m, x);
      n++;
    } else {
      m->done_tail = x;
      p = &x->next;
    }
  }
  return n;
}

/*** Drive the transfers: send, receive, and report the ones that finished.
Runs libcurl until at least one transfer has finished, `wait` seconds have
passed, or (to stay responsive to signals and to libcurl's own timers) a
wait ended without network activity; returns at once when nothing is
pending. Never calls Lua while waiting.
@function perform
@tparam[opt=0] number wait longest time to block, seconds (0: do what can be
done without waiting; `math.huge`: until a transfer finishes)
@treturn[1] table an array, possibly empty, of the transfers that finished,
in the order they finished, each `{id = integer, response = table}` or `{id
= integer, error = convai.error}`: `response` and `error` are exactly what
`session:request` returns for the same request (the response table, or the
error with `kind`, `message`, `curl_code`, `request_sent`). Each id is
reported once.
@treturn[2] nil
@treturn[2] convai.error kind `invalid_argument`: "multi is closed", or
"multi is busy" (a call from a finalizer while `perform` builds its result)
@raise if `wait` is not a number or is negative or NaN; "not enough memory"
(the transfers that finished and were not reported are reported by the
next `perform`, except the one whose response could not be stored)
*/
static int l_perform(lua_State *L) {
  multi *m = check_multi(L);
  lua_Number wait = luaL_optnumber(L, 2, 0);
  double deadline;
  int running = 0, status, top;
  CURLMcode mc;
  luaL_argcheck(L, wait >= 0, 2, "wait must be a number of seconds >= 0");
  lua_settop(L, 1);
  if (m->cm == NULL || m->close_pending)
    return cv_error_fail(L, "invalid_argument", "multi is closed");
  if (m->busy)
    return cv_error_fail(L, "invalid_argument",
                         "multi is busy (perform called from a finalizer "
                         "while perform builds its result)");
  deadline = cv_monotonic() + (double)wait;
  for (;;) {
    int numfds = 0;
    double left, ms;
    mc = curl_multi_perform(m->cm, &running);
    if (mc != CURLM_OK) break;
    collect(m);
    if (m->done != NULL || running == 0) break;
    left = deadline - cv_monotonic();
    if (!(left > 0)) break;
    ms = ceil(left * 1000.0);
    if (ms > MAX_POLL_MS) ms = MAX_POLL_MS;
    mc = curl_multi_poll(m->cm, NULL, 0, (int)ms, &numfds);
    if (mc != CURLM_OK) break;
    if (numfds == 0) { /* timed out, a libcurl timer, or a signal */
      mc = curl_multi_perform(m->cm, &running);
      if (mc == CURLM_OK) collect(m);
      break;
    }
  }
  if (mc == CURLM_OUT_OF_MEMORY) return luaL_error(L, "not enough memory");
  if (mc != CURLM_OK)
    return luaL_error(L, "convai: libcurl multi: %s", curl_multi_strerror(mc));
  if (drop_oom(m) > 0) return luaL_error(L, "not enough memory");

  /* The result, built in a protected call while the multi is busy. */
  luaL_checkstack(L, 4, NULL);
  top = lua_gettop(L);
  lua_pushcfunction(L, deliver_all);
  lua_pushlightuserdata(L, m);
  m->busy = 1;
  status = lua_pcall(L, 1, 1, 0);
  m->busy = 0;
  if (status == LUA_OK) { /* reported: back to the pool */
    while (m->done != NULL) {
      xfer *x = m->done;
      m->done = x->next;
      m->pending--;
      put_xfer(m, x);
    }
    m->done_tail = NULL;
  }
  if (m->close_pending) close_multi(m);
  if (status != LUA_OK) return lua_error(L);
  return lua_gettop(L) - top;
}

/*** How many requests were added and not yet reported by `perform`.
0 once closed.
@function pending
@treturn integer the count
*/
static int l_pending(lua_State *L) {
  multi *m = check_multi(L);
  lua_pushinteger(L, m->pending);
  return 1;
}

/*** Counters of this multi since it was made (still readable after
`close`).
@function stats
@treturn table `{requests = integer, connections = integer}`: `requests`
counts the requests added (handed to libcurl); `connections` counts the new
connections opened by the requests that finished (a request that reused a
kept-alive connection adds 0)
*/
static int l_stats(lua_State *L) {
  multi *m = check_multi(L);
  return cv_push_stats(L, m->requests, m->connections);
}

/*** Close the multi: the requests in flight are aborted (never reported),
the connections closed and every libcurl handle freed. Idempotent.
Afterwards `add` and `perform` return `nil` and an `invalid_argument` error
("multi is closed"), `pending` is 0 and `stats` still works. Called from a
finalizer while `perform` builds its result, the close happens when
`perform` returns.
@function close
*/

/*** Lua 5.4 to-be-closed variables: `local m <close> = core.multi()` closes
the multi when `m` goes out of scope. Same as `multi:close`.
@function __close
*/

/*** Finalizer: a multi that is collected is closed (same as `multi:close`),
so an unclosed multi leaks nothing.
@function __gc
*/
static int l_close(lua_State *L) {
  multi *m = check_multi(L);
  if (m->busy)
    m->close_pending = 1;
  else
    close_multi(m);
  return 0;
}

/*** `tostring(multi)`: `"convai.multi (open)"` or `"convai.multi (closed)"`;
never shows options or paths.
@function __tostring
@treturn string the description
*/
static int l_tostring(lua_State *L) {
  multi *m = check_multi(L);
  lua_pushstring(L, m->cm != NULL && !m->close_pending
                        ? "convai.multi (open)"
                        : "convai.multi (closed)");
  return 1;
}

void cv_multi_open(lua_State *L) {
  static const luaL_Reg methods[] = {{"add", l_add},
                                     {"perform", l_perform},
                                     {"pending", l_pending},
                                     {"stats", l_stats},
                                     {"close", l_close},
                                     {NULL, NULL}};
  static const luaL_Reg meta[] = {{"__gc", l_close},
                                  {"__close", l_close},
                                  {"__tostring", l_tostring},
                                  {NULL, NULL}};
  luaL_newmetatable(L, CV_MULTI_MT);
  luaL_setfuncs(L, meta, 0);
  luaL_newlib(L, methods);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  lua_pushcfunction(L, l_multi);
  lua_setfield(L, -2, "multi");
}
