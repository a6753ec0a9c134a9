/*
** lredis.c - core.redis, a blocking Redis client on hiredis, and
** core.parse_redis_url (see lredis.h; the URL grammar is redisurl.h).
**
** A connection is in one of three states:
**   open    ctx != NULL: commands are sent;
**   broken  the connection failed (refused, reset, closed by the server,
**           no reply within the timeout, protocol error): the socket is
**           closed at once, and every later command fails at once with the
**           same kind (`store`), naming the first failure; the caller
**           makes a new connection;
**   closed  after close, <close> or __gc: commands raise.
** A Redis error reply (WRONGTYPE, NOSCRIPT, ...) is an answer, not a
** failure of the connection: the connection stays open.
**
** Design:
**  - Nothing can raise while hiredis holds state.  Arguments are checked
**    and converted first (this is where wrong types raise); hiredis runs;
**    its reply is kept in the connection (c->reply) and only then turned
**    into Lua values, in a protected call with the connection marked busy:
**    building allocates, so a finalizer may run Lua that uses the same
**    connection, and such a call is refused ("busy") rather than freeing
**    the reply being read.  A reply left behind by a raised error (out of
**    memory) is freed by the next command, close or __gc.
**  - The password only goes into the AUTH of the handshake: the object
**    keeps host, port and db (for messages and __tostring), never the user
**    or the password, and no message quotes them.
**  - SIGPIPE is ignored around each hiredis call, as libcurl does around
**    its transfers (unless the program handles SIGPIPE itself): a write to
**    a connection the server has closed is then a failure of the
**    connection, not the death of the process.
**  - eval sends EVALSHA with the script's SHA-1 computed here (sha1.c,
**    cached per script text) and, on NOSCRIPT, EVAL: one round trip when
**    the server knows the script, two after SCRIPT FLUSH or a restart.
**    Asking the server (SCRIPT LOAD) instead would cost a round trip per
**    connection and a state to keep in step with the server's.
*/
/*** @module convai.core */

/*** Redis.
A blocking Redis client (hiredis), for the stores that hold limits,
capacity and campaign state across processes and hosts. It speaks plain
TCP only: `rediss://` (TLS) needs hiredis >= 1.0 built with SSL, which
Debian 12 does not ship, so use `redis://` on a private network or through
an SSH or stunnel tunnel. Inside nginx use cosockets (`resty.redis`)
instead: this client blocks the worker.

Failures are error objects (`convai.error`) of kind `store`; options
that are not acceptable are `invalid_argument`. How a connection fails:

 - cannot connect (refused, unreachable, no connection within
   `connect_timeout`, name not resolved), or the handshake (AUTH, SELECT,
   PING) is refused: `core.redis` returns `nil, err`; the message names
   `host:port` and what failed, never the user or the password;
 - a Redis error reply to a command (`WRONGTYPE ...`, an error raised by a
   script): `nil, err` with `err.redis` the error line; the connection
   stays open;
 - the connection fails during a command (reset, closed by the server, no
   reply within `timeout`, protocol error): `nil, err`, and the connection
   is broken: every later command fails at once with a `store` error saying
   so (`conn:status()` is `"broken"`); make a new connection. A command
   that timed out or whose connection failed may have run on the server.
@section redis
*/

#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis.h>

#include "lerror.h"
#include "lredis.h"
#include "redisurl.h"
#include "sha1.h"

#define MAX_SECONDS (86400.0 * 365)
#define DEFAULT_TIMEOUT 1.0
#define SMALL_ARGC 16         /* argv on the C stack up to this many */
#define SCRIPT_CACHE_MAX 256  /* scripts whose SHA-1 is remembered */
#define WHY_MAX 200
#define URL_SHOWN 200 /* bytes of a URL quoted in a message at most */

enum { OPEN, BROKEN, CLOSED };

typedef struct rconn {
  redisContext *ctx; /* NULL unless open */
  redisReply *reply; /* the reply being turned into Lua values */
  int state;
  int busy;          /* a reply is being built (see deliver) */
  int close_pending; /* close() was called while busy */
  long db;
  double timeout; /* seconds, for messages */
  char where[CV_REDIS_HOST_MAX + 16]; /* host:port, [IPv6]:port */
  char why[WHY_MAX];                  /* what broke it */
} rconn;

/* What core.redis reads from a URL or an options table.  The strings
** stay on the Lua stack (or in its URL buffer) while they are used. */
typedef struct ropts {
  const char *host, *user, *password;
  size_t user_len, password_len;
  lua_Integer port, db;
  lua_Number connect_timeout, timeout;
} ropts;

/* ------------------------------------------------------------- helpers */

static rconn *check_conn(lua_State *L) {
  return (rconn *)luaL_checkudata(L, 1, CV_REDIS_MT);
}

static int is_closed(const rconn *c) {
  return c->state == CLOSED || c->close_pending;
}

/* The connection at 1, which must not be closed (a closed one raises). */
static rconn *check_open(lua_State *L) {
  rconn *c = check_conn(L);
  if (is_closed(c)) luaL_error(L, "convai.redis: the connection is closed");
  return c;
}

static void drop_reply(rconn *c) {
  if (c->reply != NULL) freeReplyObject(c->reply);
  c->reply = NULL;
}

static void close_conn(rconn *c, int state) {
  drop_reply(c);
  if (c->ctx != NULL) redisFree(c->ctx);
  c->ctx = NULL;
  c->state = state;
}

/* ----------------------------------------------- failures of the socket */

/* Which errno hiredis's message is (it writes strerror(errno), with or
** without a prefix), among those this file names; 0 for another. */
static int reported_errno(const redisContext *ctx) {
  static const int codes[] = {ECONNREFUSED, ETIMEDOUT,    EAGAIN,
                              EWOULDBLOCK,  ECONNRESET,   EPIPE,
                              EINPROGRESS,  EHOSTUNREACH, ENETUNREACH};
  size_t i, n, m = strlen(ctx->errstr);
  for (i = 0; i < sizeof codes / sizeof codes[0]; i++) {
    const char *s = strerror(codes[i]);
    n = strlen(s);
    if (m >= n && strcmp(ctx->errstr + m - n, s) == 0) return codes[i];
  }
  return 0;
}

/* What failed, in words, into why[WHY_MAX].  phase: 0 connecting, 1 the
** handshake (under connect_timeout), 2 a command (under timeout). */
static void describe(const redisContext *ctx, int phase, double secs,
                     char *why) {
  const char *limit = phase == 2 ? "timeout" : "connect_timeout";
  int e = ctx->err == REDIS_ERR_IO ? reported_errno(ctx) : 0;
  if (e == ECONNREFUSED) {
    snprintf(why, WHY_MAX, "connection refused");
  } else if (e == ETIMEDOUT || e == EAGAIN || e == EWOULDBLOCK ||
             e == EINPROGRESS) {
    snprintf(why, WHY_MAX, "%s within %g s (%s)",
             phase == 0 ? "no connection" : "no reply", secs, limit);
  } else if (e == ECONNRESET) {
    snprintf(why, WHY_MAX, "the connection was reset");
  } else if (e == EPIPE || ctx->err == REDIS_ERR_EOF) {
    snprintf(why, WHY_MAX, "the server closed the connection");
  } else if (ctx->err == REDIS_ERR_PROTOCOL) {
    snprintf(why, WHY_MAX, "protocol error (%s)", ctx->errstr);
  } else {
    snprintf(why, WHY_MAX, "%s",
             ctx->errstr[0] != '\0' ? ctx->errstr : "unknown error");
    if (why[0] >= 'A' && why[0] <= 'Z' && !(why[1] >= 'A' && why[1] <= 'Z'))
      why[0] = (char)(why[0] - 'A' + 'a');
  }
}

/* nil, err(store) "Redis at WHERE: WHAT[LINE]", with err.redis = the error
** line of r when r is given; returns 2. */
static int fail(lua_State *L, const rconn *c, const char *what,
                const redisReply *r) {
  const char *msg;
  luaL_pushfail(L);
  msg = lua_pushfstring(L, "Redis at %s: %s%s", c->where, what,
                        r != NULL ? r->str : "");
  cv_error_push(L, "store", msg);
  lua_remove(L, -2);
  if (r != NULL) {
    lua_pushlstring(L, r->str, r->len);
    lua_setfield(L, -2, "redis");
  }
  return 2;
}

/* A broken connection fails fast, saying why it broke. */
static int fail_broken(lua_State *L, const rconn *c) {
  char what[WHY_MAX + 64];
  snprintf(what, sizeof what,
           "the connection is broken (%s); make a new connection", c->why);
  return fail(L, c, what, NULL);
}

/* --------------------------------------------------- running a command */

/* SIGPIPE ignored while hiredis writes, unless the program handles it. */
typedef struct pipe_guard {
  struct sigaction old;
  int saved;
} pipe_guard;

static void pipe_ignore(pipe_guard *g) {
  struct sigaction ign;
  g->saved = sigaction(SIGPIPE, NULL, &g->old) == 0 &&
             !(g->old.sa_flags & SA_SIGINFO) && g->old.sa_handler == SIG_DFL;
  if (!g->saved) return;
  ign = g->old;
  ign.sa_handler = SIG_IGN;
  if (sigaction(SIGPIPE, &ign, NULL) != 0) g->saved = 0;
}

static void pipe_restore(const pipe_guard *g) {
  if (g->saved) sigaction(SIGPIPE, &g->old, NULL);
}

/* Send one command and read its reply, kept in c->reply until the next
** command, close or __gc.  NULL when the connection failed: it is then
** broken, c->why says why. */
static redisReply *run(rconn *c, int argc, const char **argv,
                       const size_t *lens, int phase, double secs) {
  pipe_guard g;
  void *r;
  drop_reply(c);
  pipe_ignore(&g);
  r = redisCommandArgv(c->ctx, argc, argv, lens);
  pipe_restore(&g);
  if (r == NULL) {
    describe(c->ctx, phase, secs, c->why);
    close_conn(c, BROKEN);
    return NULL;
  }
  c->reply = (redisReply *)r;
  return c->reply;
}

/* The reply r as Lua values: bulk and status strings as strings, integers
** as integers, nil as false, arrays as arrays, an error inside an array as
** an error object. */
static void push_reply(lua_State *L, const rconn *c, const redisReply *r) {
  size_t i;
  switch (r->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
      lua_pushlstring(L, r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      lua_pushinteger(L, (lua_Integer)r->integer);
      break;
    case REDIS_REPLY_ARRAY:
      luaL_checkstack(L, 3, "Redis reply nested too deeply");
      lua_createtable(L, r->elements < 1u << 24 ? (int)r->elements : 0, 0);
      for (i = 0; i < r->elements; i++) {
        push_reply(L, c, r->element[i]);
        lua_rawseti(L, -2, (int)(i + 1));
      }
      break;
    case REDIS_REPLY_ERROR:
      fail(L, c, "", r);
      lua_remove(L, -2); /* the nil */
      break;
    default: /* REDIS_REPLY_NIL */
      lua_pushboolean(L, 0);
  }
}

/* build(conn): the reply, or nil, err for an error reply (protected). */
static int build(lua_State *L) {
  const rconn *c = (const rconn *)lua_touserdata(L, 1);
  if (c->reply->type == REDIS_REPLY_ERROR) return fail(L, c, "", c->reply);
  push_reply(L, c, c->reply);
  return 1;
}

/* Push build for deliver, before hiredis runs: pushing a C function
** allocates on LuaJIT, and an allocation may run a finalizer. */
static void prepare(lua_State *L) {
  luaL_checkstack(L, 4, NULL);
  lua_pushcfunction(L, build);
}

/* Return c->reply to Lua (see the design note at the top), with build on
** the top of the stack (prepare). */
static int deliver(lua_State *L, rconn *c) {
  int base = lua_gettop(L) - 1, status;
  c->busy = 1;
  lua_pushlightuserdata(L, c);
  status = lua_pcall(L, 1, LUA_MULTRET, 0);
  c->busy = 0;
  drop_reply(c);
  if (c->close_pending) close_conn(c, CLOSED);
  if (status != LUA_OK) return lua_error(L);
  return lua_gettop(L) - base;
}

/* Fails (returns 2) when the connection cannot take a command now.
** Called after the last allocation before hiredis runs: a finalizer run by
** an allocation while the arguments were gathered may have closed it. */
static int unusable(lua_State *L, const rconn *c) {
  if (is_closed(c)) luaL_error(L, "convai.redis: the connection is closed");
  if (c->state == BROKEN) return fail_broken(L, c);
  if (c->busy)
    return fail(L, c,
                "the connection is busy (a command from a finalizer during "
                "another command on the same connection)",
                NULL);
  return 0;
}

/* ----------------------------------------------------------- arguments */

/* Replace the string or number at idx by the string Redis gets: a number
** that is an integer as digits (5 and 5.0 both send "5"), another with 17
** significant digits.  Any other type raises, naming it as what. */
static void to_arg(lua_State *L, int idx, const char *what, int n) {
  char b[64];
  int t = lua_type(L, idx);
  if (t == LUA_TSTRING) return;
  if (t != LUA_TNUMBER)
    luaL_error(L, "bad %s #%d (string or number expected, got %s)", what, n,
               luaL_typename(L, idx));
  if (lua_isinteger(L, idx)) {
    snprintf(b, sizeof b, "%lld", (long long)lua_tointeger(L, idx));
  } else {
    lua_Number v = lua_tonumber(L, idx);
    if (v == floor(v) && fabs(v) < 9.2e18)
      snprintf(b, sizeof b, "%lld", (long long)v);
    else
      snprintf(b, sizeof b, "%.17g", (double)v);
  }
  lua_pushstring(L, b);
  lua_replace(L, idx);
}

/* argv and lens for argc arguments: the caller's small arrays, or a
** userdata pushed on the stack (collected with it). */
static void arg_arrays(lua_State *L, int argc, const char **small_v,
                       size_t *small_l, const char ***argv, size_t **lens) {
  if (argc <= SMALL_ARGC) {
    *argv = small_v;
    *lens = small_l;
    return;
  }
  *lens = (size_t *)lua_newuserdatauv(
      L, (size_t)argc * (sizeof(size_t) + sizeof(char *)), 0);
  *argv = (const char **)(void *)(*lens + argc);
}

/* ------------------------------------------------------------- options */

/* Seconds (more than 0, at most a year) as a timeval of whole
** milliseconds, at least 1 (0 would mean no limit to hiredis). */
static struct timeval to_timeval(lua_Number secs) {
  struct timeval tv;
  double ms = ceil(secs * 1000.0);
  if (ms < 1) ms = 1;
  tv.tv_sec = (time_t)(ms / 1000);
  tv.tv_usec = (suseconds_t)(fmod(ms, 1000.0) * 1000);
  return tv;
}

/* Each returns NULL, or the message of an invalid_argument error. */
static const char *opt_seconds(lua_State *L, int t, const char *name,
                               lua_Number *out) {
  lua_getfield(L, t, name);
  if (!lua_isnil(L, -1)) {
    lua_Number v = lua_tonumber(L, -1);
    if (lua_type(L, -1) != LUA_TNUMBER || !(v > 0 && v <= MAX_SECONDS))
      return lua_pushfstring(L, "option '%s' must be a positive number of "
                                "seconds (at most one year)", name);
    *out = v;
  }
  lua_pop(L, 1);
  return NULL;
}

static const char *opt_integer(lua_State *L, int t, const char *name,
                               lua_Integer lo, lua_Integer hi,
                               lua_Integer *out) {
  lua_Number v;
  lua_getfield(L, t, name);
  if (!lua_isnil(L, -1)) {
    v = lua_tonumber(L, -1);
    if (lua_type(L, -1) != LUA_TNUMBER || v != floor(v) ||
        v < (lua_Number)lo || v > (lua_Number)hi)
      return lua_pushfstring(L, "option '%s' must be an integer from %d to "
                                "%d", name, (int)lo, (int)hi);
    *out = (lua_Integer)v;
  }
  lua_pop(L, 1);
  return NULL;
}

/* A string option, left on the stack (keeping *out alive); an empty one
** is absent. */
static const char *opt_string(lua_State *L, int t, const char *name,
                              const char **out, size_t *len) {
  size_t n = 0;
  lua_getfield(L, t, name);
  if (lua_isnil(L, -1)) return NULL;
  if (lua_type(L, -1) != LUA_TSTRING)
    return lua_pushfstring(L, "option '%s' must be a string, got %s", name,
                           luaL_typename(L, -1));
  *out = lua_tolstring(L, -1, &n);
  if (n == 0) *out = NULL;
  if (len != NULL) *len = n;
  return NULL;
}

/* Every key of the table at t is one of names. */
static const char *known_names(lua_State *L, int t,
                               const char *const *names,
                               const char *list) {
  int i;
  lua_pushnil(L);
  while (lua_next(L, t)) {
    lua_pop(L, 1);
    for (i = 0; names[i] != NULL; i++)
      if (lua_type(L, -1) == LUA_TSTRING &&
          strcmp(lua_tostring(L, -1), names[i]) == 0)
        break;
    if (names[i] == NULL) {
      if (lua_type(L, -1) != LUA_TSTRING) return "option names are strings";
      return lua_pushfstring(L, "unknown option '%s' (known: %s)",
                             lua_tostring(L, -1), list);
    }
  }
  return NULL;
}

static const char *read_timeouts(lua_State *L, int t, ropts *o) {
  const char *msg = opt_seconds(L, t, "connect_timeout", &o->connect_timeout);
  return msg != NULL ? msg : opt_seconds(L, t, "timeout", &o->timeout);
}

/* core.redis(opts): the options table at 1. */
static const char *read_table(lua_State *L, ropts *o) {
  static const char *const names[] = {
      "host", "port", "db", "user", "password", "connect_timeout",
      "timeout", "scheme", NULL};
  const char *msg, *scheme = NULL;
  if ((msg = known_names(L, 1, names,
                         "host, port, db, user, password, "
                         "connect_timeout, timeout, scheme")) != NULL ||
      (msg = opt_string(L, 1, "scheme", &scheme, NULL)) != NULL)
    return msg;
  if (scheme != NULL && strcmp(scheme, "redis") != 0)
    return "option 'scheme' must be \"redis\" (rediss:// is not supported)";
  if ((msg = opt_string(L, 1, "host", &o->host, NULL)) != NULL) return msg;
  if (o->host == NULL) return "option 'host' is missing";
  if (strlen(o->host) != lua_rawlen(L, -1) ||
      lua_rawlen(L, -1) > CV_REDIS_HOST_MAX)
    return "option 'host' must be a host name or address without NUL, at "
           "most 255 bytes";
  if ((msg = opt_integer(L, 1, "port", 1, 65535, &o->port)) != NULL ||
      (msg = opt_integer(L, 1, "db", 0, CV_REDIS_DB_MAX, &o->db)) != NULL ||
      (msg = opt_string(L, 1, "user", &o->user, &o->user_len)) != NULL ||
      (msg = opt_string(L, 1, "password", &o->password,
                        &o->password_len)) != NULL)
    return msg;
  return read_timeouts(L, 1, o);
}

/* "invalid Redis URL 'MASKED': reason" (the password never shown; a URL
** over URL_SHOWN bytes cut, with "..."). */
static const char *url_message(lua_State *L, const char *url, size_t len,
                               const char *reason) {
  char *masked = (char *)lua_newuserdatauv(L, CV_REDIS_URL_MASK_SIZE(len), 0);
  if (cv_redis_url_mask(url, len, masked) > URL_SHOWN)
    memcpy(masked + URL_SHOWN - 3, "...", 4);
  return lua_pushfstring(L, "invalid Redis URL '%s': %s", masked, reason);
}

/* Parse the URL at idx into *u (its buffer left on the stack); NULL or the
** message. */
static const char *parse_url(lua_State *L, int idx, cv_redis_url *u) {
  size_t len;
  const char *url = lua_tolstring(L, idx, &len), *reason;
  char *buf = (char *)lua_newuserdatauv(L, CV_REDIS_URL_BUF(len), 0);
  reason = cv_redis_url_parse(url, len, buf, u);
  return reason == NULL ? NULL : url_message(L, url, len, reason);
}

/* core.redis(url [, opts]): the URL at 1, the timeouts in opts at 2. */
static const char *read_url(lua_State *L, ropts *o) {
  static const char *const names[] = {"connect_timeout", "timeout", NULL};
  cv_redis_url u;
  const char *msg;
  if (!lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TTABLE);
    if ((msg = known_names(L, 2, names,
                           "connect_timeout, timeout; the rest is in the "
                           "URL")) != NULL ||
        (msg = read_timeouts(L, 2, o)) != NULL)
      return msg;
  }
  if ((msg = parse_url(L, 1, &u)) != NULL) return msg;
  o->host = u.host;
  o->port = u.port;
  o->db = u.db;
  o->user = u.user;
  o->user_len = u.user != NULL ? strlen(u.user) : 0;
  o->password = u.password;
  o->password_len = u.password != NULL ? strlen(u.password) : 0;
  return NULL;
}

/* ------------------------------------------------------------ connect */

/* One command of the handshake, under connect_timeout: 0 when it is
** answered, else the failure is pushed (2) and the connection closed. */
static int greet(lua_State *L, rconn *c, int argc, const char **argv,
                 const size_t *lens, const char *refused, double secs) {
  redisReply *r = run(c, argc, argv, lens, 1, secs);
  if (r == NULL) return fail(L, c, c->why, NULL);
  if (r->type == REDIS_REPLY_ERROR) {
    fail(L, c, refused, r);
    close_conn(c, CLOSED);
    return 2;
  }
  drop_reply(c);
  return 0;
}

/* AUTH when there are credentials, SELECT when db is not 0, a PING when
** neither: 0 when answered, else the failure is pushed (2). */
static int handshake(lua_State *L, rconn *c, const ropts *o) {
  const char *argv[3];
  size_t lens[3];
  char db[32];
  int argc = 1, n;
  if (o->password != NULL || o->user != NULL) {
    argv[0] = "AUTH";
    lens[0] = 4;
    if (o->user != NULL) {
      argv[argc] = o->user;
      lens[argc++] = o->user_len;
    }
    argv[argc] = o->password != NULL ? o->password : "";
    lens[argc++] = o->password != NULL ? o->password_len : 0;
    n = greet(L, c, argc, argv, lens, "AUTH refused: ", o->connect_timeout);
    if (n != 0) return n;
  }
  if (o->db != 0) {
    snprintf(db, sizeof db, "%ld", (long)o->db);
    argv[0] = "SELECT";
    lens[0] = 6;
    argv[1] = db;
    lens[1] = strlen(db);
    n = greet(L, c, 2, argv, lens, "SELECT refused: ", o->connect_timeout);
    if (n != 0) return n;
  }
  if (argc == 1 && o->db == 0) {
    argv[0] = "PING";
    lens[0] = 4;
    return greet(L, c, 1, argv, lens, "PING refused: ", o->connect_timeout);
  }
  return 0;
}

/*** Parse a Redis URL, `redis://[user[:password]@]host[:port][/db]`.
Strict: the scheme is `redis` (any case); user and password are
percent-decoded (a raw `@`, `/`, `?`, `#` or space in them must be
percent-encoded, `%00` is refused); the host is a name, an IPv4 address or
an IPv6 address in brackets (`redis://[::1]:6380`); the port is 1 to 65535;
the database (the path) 0 to 2147483647; nothing else may follow (no query,
no fragment). `rediss://` is recognised and refused: TLS needs hiredis >=
1.0 built with SSL, which Debian 12 does not ship; use `redis://` on a
private network or through an SSH or stunnel tunnel.
@function parse_redis_url
@tparam string url
@treturn[1] table `{scheme = "redis", host = string, port = integer, db =
integer, user = string or nil, password = string or nil}`: `host` without
brackets; `port` 6379 and `db` 0 when not given; an empty user or password
is absent (nil)
@treturn[2] nil
@treturn[2] string the message, `invalid Redis URL 'URL': REASON`, where
the URL is quoted with its password replaced by
<code>&#42;&#42;&#42;</code> (and so is anything that may be a misplaced
password: a query, a fragment, a port that is not a number when there is
no `@`)
@raise if `url` is not a string
@usage local u = assert(core.parse_redis_url("redis://:s3cret@10.0.0.5:6380/2"))
-- u.host == "10.0.0.5", u.port == 6380, u.db == 2, u.password == "s3cret"
*/
static int l_parse_redis_url(lua_State *L) {
  cv_redis_url u;
  const char *msg;
  luaL_checktype(L, 1, LUA_TSTRING);
  lua_settop(L, 1);
  if ((msg = parse_url(L, 1, &u)) != NULL) return cv_fail_msg(L, msg);
  lua_createtable(L, 0, 6);
  lua_pushliteral(L, "redis");
  lua_setfield(L, -2, "scheme");
  lua_pushstring(L, u.host);
  lua_setfield(L, -2, "host");
  lua_pushinteger(L, u.port);
  lua_setfield(L, -2, "port");
  lua_pushinteger(L, (lua_Integer)u.db);
  lua_setfield(L, -2, "db");
  if (u.user != NULL) {
    lua_pushstring(L, u.user);
    lua_setfield(L, -2, "user");
  }
  if (u.password != NULL) {
    lua_pushstring(L, u.password);
    lua_setfield(L, -2, "password");
  }
  return 1;
}

/*** Connect to Redis.
Either a URL (as `parse_redis_url` reads it) and optional timeouts, or one
options table (the table `parse_redis_url` returns is one, timeouts may be
added to it). Connects (TCP, within `connect_timeout`), then authenticates
(`AUTH [user] password` when a password or user is given), selects the
database (`SELECT db` when not 0), or sends a `PING` when it does neither,
so a connection that is returned has been answered by the server. Each
handshake command must be answered within `connect_timeout`; `timeout` then
applies to each command. The host name is resolved (getaddrinfo) before the
connection and that is not bounded by `connect_timeout`: give an address
where a resolver may hang.
@function redis
@tparam string|table target a `redis://` URL, or the options:
@tparam string target.host host name, IPv4 or IPv6 address (without
brackets)
@tparam[opt=6379] integer target.port 1 to 65535
@tparam[opt=0] integer target.db database number, 0 to 2147483647
@tparam[opt] string target.user ACL user (Redis 6 and later); with it the
password is that user's (a user without a password sends an empty one,
which a `nopass` user accepts)
@tparam[opt] string target.password the password (`requirepass`, or the
user's); an empty string is none
@tparam[opt=1] number target.connect_timeout seconds to connect and for each
handshake command; more than 0, at most a year; rounded up to whole
milliseconds
@tparam[opt=1] number target.timeout seconds for each command (sending it and
reading its whole reply); same range
@tparam[opt] string target.scheme `"redis"` if given (as `parse_redis_url`
returns it)
@tparam[opt] table opts with a URL only: `connect_timeout` and `timeout`
(the rest is in the URL)
@treturn[1] conn the open connection
@treturn[2] nil
@treturn[2] convai.error kind `store`: the connection or the handshake
failed; `message` is `Redis at HOST:PORT: WHAT` (`connection refused`, `no
connection within 1 s (connect_timeout)`, `AUTH refused: WRONGPASS ...`,
...), and `redis` is the error line when the server refused the handshake.
Kind `invalid_argument`: an option is unknown, of the wrong type or out of
range, or the URL is not valid (the message quotes it with its password
replaced by <code>&#42;&#42;&#42;</code>). No message ever holds the
password.
@raise if `target` is neither a string nor a table, or `opts` neither nil
nor a table; "not enough memory"
@usage local conn, err = core.redis("redis://:s3cret@10.0.0.5:6379/0",
                             { timeout = 0.5 })
if not conn then error(tostring(err)) end
print(conn:command("INCR", "convai:n"))
conn:close()
*/
static int l_redis(lua_State *L) {
  ropts o;
  rconn *c;
  const char *msg;
  struct timeval ctv;
  int nret, ud;
  memset(&o, 0, sizeof o);
  o.port = CV_REDIS_DEFAULT_PORT;
  o.connect_timeout = o.timeout = DEFAULT_TIMEOUT;
  if (lua_type(L, 1) == LUA_TSTRING) {
    msg = read_url(L, &o);
  } else {
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_argcheck(L, lua_isnoneornil(L, 2), 2,
                  "no second argument with an options table");
    msg = read_table(L, &o);
  }
  if (msg != NULL) return cv_error_fail(L, "invalid_argument", msg);

  c = (rconn *)lua_newuserdatauv(L, sizeof(rconn), 0);
  memset(c, 0, sizeof *c);
  c->state = CLOSED;
  luaL_setmetatable(L, CV_REDIS_MT);
  ud = lua_gettop(L);
  c->db = (long)o.db;
  c->timeout = o.timeout;
  snprintf(c->where, sizeof c->where,
           strchr(o.host, ':') != NULL ? "[%s]:%d" : "%s:%d", o.host,
           (int)o.port);

  ctv = to_timeval(o.connect_timeout);
  c->ctx = redisConnectWithTimeout(o.host, (int)o.port, ctv);
  if (c->ctx == NULL) return luaL_error(L, "not enough memory");
  c->state = OPEN; /* from here on close and __gc free the context */
  /* hiredis 0.14 makes its socket without SOCK_CLOEXEC: a program this
  ** process starts must not inherit the connection (one thread: no fork
  ** can come between the socket and this). */
  if (c->ctx->err == 0) fcntl(c->ctx->fd, F_SETFD, FD_CLOEXEC);
  if (c->ctx->err != 0 || redisSetTimeout(c->ctx, ctv) != REDIS_OK) {
    describe(c->ctx, 0, o.connect_timeout, c->why);
    close_conn(c, CLOSED);
    return fail(L, c, c->why, NULL);
  }
  if ((nret = handshake(L, c, &o)) != 0) {
    close_conn(c, CLOSED);
    return nret;
  }
  if (redisSetTimeout(c->ctx, to_timeval(o.timeout)) != REDIS_OK) {
    describe(c->ctx, 1, o.timeout, c->why);
    close_conn(c, CLOSED);
    return fail(L, c, c->why, NULL);
  }
  lua_pushvalue(L, ud);
  return 1;
}

/* ----------------------------------------------------------- methods */

/*** A Redis connection, made by `redis`: a full userdata with the
metatable `"convai.redis"`. It holds host, port and database (for messages
and `tostring`), never the user or the password.
@type conn
*/

/*** Send one command and read its reply.
The arguments are sent binary-safe, as they are: strings as bytes, numbers
as their decimal text (an integral number as an integer: `5` and `5.0` both
send `"5"`; others with 17 significant digits).
@function conn:command
@tparam string name the command, e.g. `"SET"`
@param ... its arguments, strings or numbers
@return[1] the reply: a bulk or status reply as a string (`"OK"`,
`"PONG"`, the value), an integer reply as an integer, a nil reply as
`false`, an array reply as an array (nested arrays as arrays, nil elements
as `false`, an error element as a `convai.error` of kind `store` with its
`redis` line)
@treturn[2] nil
@treturn[2] convai.error kind `store`: a Redis error reply (`err.redis` is
the error line, e.g. `"WRONGTYPE Operation against a key holding the wrong
kind of value"`; the connection stays open), or the connection failed or
is broken (no `redis` field; the message names host:port and what failed;
`status()` is then `"broken"`)
@raise if the connection is closed; if an argument is neither a string nor
a number, or no command is given
@usage local n = assert(conn:command("INCRBY", "convai:n", 5))
local v = conn:command("GET", "convai:missing") -- false: no such key
*/
static int l_command(lua_State *L) {
  rconn *c = check_open(L);
  const char *small_v[SMALL_ARGC], **argv;
  size_t small_l[SMALL_ARGC], *lens;
  int argc = lua_gettop(L) - 1, i, n;
  luaL_argcheck(L, argc >= 1, 2, "a command name expected");
  for (i = 0; i < argc; i++) to_arg(L, i + 2, "argument", i + 2);
  arg_arrays(L, argc, small_v, small_l, &argv, &lens);
  prepare(L);
  if ((n = unusable(L, c)) != 0) return n;
  for (i = 0; i < argc; i++) argv[i] = lua_tolstring(L, i + 2, &lens[i]);
  if (run(c, argc, argv, lens, 2, c->timeout) == NULL)
    return fail(L, c, c->why, NULL);
  return deliver(L, c);
}

/* The length of the optional array at idx (nil: 0). */
static int array_len(lua_State *L, int idx) {
  if (lua_isnoneornil(L, idx)) return 0;
  luaL_checktype(L, idx, LUA_TTABLE);
  return (int)lua_rawlen(L, idx);
}

/* Push the SHA-1 (hex) of the script at 2, remembered in the table that
** is upvalue 1 (emptied when it holds SCRIPT_CACHE_MAX scripts; its [1]
** counts them). */
static void push_sha(lua_State *L, const char *script, size_t len) {
  char hex[CV_SHA1_HEX_SIZE];
  lua_Integer n;
  int cache = lua_upvalueindex(1);
  lua_pushvalue(L, 2);
  lua_rawget(L, cache);
  if (lua_type(L, -1) == LUA_TSTRING) return;
  lua_pop(L, 1);
  lua_rawgeti(L, cache, 1);
  n = lua_tointeger(L, -1);
  lua_pop(L, 1);
  if (n >= SCRIPT_CACHE_MAX) {
    lua_newtable(L);
    lua_replace(L, cache);
    n = 0;
  }
  cv_sha1_hex(script, len, hex);
  lua_pushstring(L, hex);
  lua_pushvalue(L, 2);
  lua_pushvalue(L, -2);
  lua_rawset(L, cache);
  lua_pushinteger(L, n + 1);
  lua_rawseti(L, cache, 1);
}

/*** Run a Lua script on the server: `EVALSHA` with the script's SHA-1
(computed here and remembered), and `EVAL` with the script's text when the
server answers `NOSCRIPT` (it was flushed, or the server restarted). One
round trip when the server knows the script, two the first time.
@function conn:eval
@tparam string script the Lua script
@tparam[opt] {string|number,...} keys its `KEYS` (an array; nil: none)
@tparam[opt] {string|number,...} args its `ARGV` (an array; nil: none)
@return[1] the script's reply, mapped as by `conn:command`
@treturn[2] nil
@treturn[2] convai.error as for `conn:command` (a script that raises gives
its error line in `err.redis`, e.g. `"ERR user_script:1: ..."`)
@raise if the connection is closed; if `script` is not a string, `keys` or
`args` neither nil nor a table, or one of their elements neither a string
nor a number
@usage local script = "return redis.call('INCRBY', KEYS[1], ARGV[1])"
local n = assert(conn:eval(script, { "convai:n" }, { 2 }))
*/
static int l_eval(lua_State *L) {
  rconn *c = check_open(L);
  const char *small_v[SMALL_ARGC], **argv, *script;
  size_t small_l[SMALL_ARGC], *lens, slen;
  int nkeys, nargs, argc, i, n;
  char numkeys[16];
  script = luaL_checklstring(L, 2, &slen);
  nkeys = array_len(L, 3);
  nargs = array_len(L, 4);
  lua_settop(L, 4);
  luaL_checkstack(L, nkeys + nargs + 4, "too many keys and args");
  for (i = 1; i <= nkeys; i++) { /* keys at 5.., then args */
    lua_rawgeti(L, 3, i);
    to_arg(L, -1, "key", i);
  }
  for (i = 1; i <= nargs; i++) {
    lua_rawgeti(L, 4, i);
    to_arg(L, -1, "arg", i);
  }
  push_sha(L, script, slen); /* at 5 + nkeys + nargs */
  argc = 3 + nkeys + nargs;
  arg_arrays(L, argc, small_v, small_l, &argv, &lens);
  prepare(L);
  if ((n = unusable(L, c)) != 0) return n;
  snprintf(numkeys, sizeof numkeys, "%d", nkeys);
  argv[0] = "EVALSHA";
  lens[0] = 7;
  argv[1] = lua_tolstring(L, 5 + nkeys + nargs, &lens[1]);
  argv[2] = numkeys;
  lens[2] = strlen(numkeys);
  for (i = 0; i < nkeys + nargs; i++)
    argv[3 + i] = lua_tolstring(L, 5 + i, &lens[3 + i]);
  if (run(c, argc, argv, lens, 2, c->timeout) == NULL)
    return fail(L, c, c->why, NULL);
  if (c->reply->type == REDIS_REPLY_ERROR && c->reply->len >= 8 &&
      memcmp(c->reply->str, "NOSCRIPT", 8) == 0) {
    argv[0] = "EVAL";
    lens[0] = 4;
    argv[1] = script;
    lens[1] = slen;
    if (run(c, argc, argv, lens, 2, c->timeout) == NULL)
      return fail(L, c, c->why, NULL);
  }
  return deliver(L, c);
}

/*** The state of the connection.
@function conn:status
@treturn string `"open"`; `"broken"` after the connection failed (every
command then fails at once: make a new connection); `"closed"` after
`close`
*/
static const char *status_name(const rconn *c) {
  return is_closed(c) ? "closed" : c->state == BROKEN ? "broken" : "open";
}

static int l_status(lua_State *L) {
  lua_pushstring(L, status_name(check_conn(L)));
  return 1;
}

/*** Close the connection (idempotent); later commands raise. Called from
a finalizer while a reply on this connection is being built, the close
happens when that command returns.
@function conn:close
*/

/*** Lua 5.4 to-be-closed variables: `local conn <close> = core.redis(url)`
closes it when `conn` goes out of scope. Same as `conn:close`.
@function conn:__close
*/

/*** Finalizer: a connection that is collected is closed (same as
`conn:close`).
@function conn:__gc
*/
static int l_close(lua_State *L) {
  rconn *c = check_conn(L);
  if (c->busy)
    c->close_pending = 1;
  else
    close_conn(c, CLOSED);
  return 0;
}

/*** `tostring(conn)`: `"convai.redis HOST:PORT/DB (STATUS)"`, e.g.
`"convai.redis 127.0.0.1:6379/0 (open)"`; never the user or the password.
@function conn:__tostring
@treturn string
*/
static int l_tostring(lua_State *L) {
  rconn *c = check_conn(L);
  lua_pushfstring(L, "convai.redis %s/%d (%s)", c->where, (int)c->db,
                  status_name(c));
  return 1;
}

void cv_redis_open(lua_State *L) {
  static const luaL_Reg methods[] = {{"command", l_command},
                                     {"status", l_status},
                                     {"close", l_close},
                                     {NULL, NULL}};
  static const luaL_Reg meta[] = {{"__gc", l_close},
                                  {"__close", l_close},
                                  {"__tostring", l_tostring},
                                  {NULL, NULL}};
  luaL_newmetatable(L, CV_REDIS_MT);
  luaL_setfuncs(L, meta, 0);
  luaL_newlib(L, methods);
  lua_newtable(L); /* eval's cache of script SHA-1s */
  lua_pushcclosure(L, l_eval, 1);
  lua_setfield(L, -2, "eval");
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  lua_pushcfunction(L, l_redis);
  lua_setfield(L, -2, "redis");
  lua_pushcfunction(L, l_parse_redis_url);
  lua_setfield(L, -2, "parse_redis_url");
}
