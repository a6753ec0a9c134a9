/*
** lcore.c - luaopen_convai_core: assembles the convai.core table.
**
** Each binding file adds its own functions (cv_*_open); this file adds the
** version strings and the clocks.  The files, one concern each:
**   lerror.c      error objects, and the error table (errors.h) as
**                 core.errors
**   lsession.c    core.session;  lmulti.c  core.multi  (both on
**                 request.c -> transfer.c -> response.c)
**   ljson.c       json_decode/json_encode/array (jsondec.c decodes);
**   ljsondecoder.c json_decoder (decode and type one shape);  lfieldcheck.c
**                 field_checker (response shapes)
**   lhttpfields.c retry_after, check_header;  lformats.c parse_date,
**                 format_date, normalize_phone
**   lratelimit.c  ratelimit;  lcsv.c  csv.parse;  ljournal.c  journal,
**                 digest;  lsignal.c  trap_interrupts, interrupted;
**                 ltty.c  isatty, tty_columns;  lstatefile.c  state_file,
**                 private_dir;  lredis.c  redis, parse_redis_url
**                 (on hiredis, and the pure redisurl.c and sha1.c)
**
** The failure convention (every function of convai.core is in exactly one
** family; docs/core.md lists them):
**  1. Error objects: core.session, session:request, core.multi, multi:add
**     and multi:perform fail with nil and a convai.error (cv_error_fail,
**     cv_rejected, response.c): the HTTP transport's failures travel
**     unchanged to the user, and callers route on kind, curl_code and
**     request_sent (retry, report).  Their kinds come from errors.h.
**     So do core.redis, conn:command and conn:eval (kind store).
**  2. Message strings: every other function that can fail on its data
**     (parsers, JSON, csv.parse, ratelimit and its methods, journal and
**     its methods, state_file and its methods, private_dir) returns nil
**     and a message (cv_fail_msg): the value's
**     origin, which only the caller knows, decides the kind (a bad date is
**     invalid_argument from a user, decode from a vendor; a journal
**     failure is `journal`), so the Lua caller makes the error object.
**     retry_after returns nil alone (no Retry-After to honour is not a
**     failure) and json_decode("null") nil alone (a value).
**  3. Raised Lua errors: programming mistakes, which no caller handles at
**     run time: a wrong argument type; a value a program writes as a
**     constant (core.error's kind, sleep's seconds, perform's wait,
**     truncate's size, field_checker's list, array on a table with
**     another metatable, retry_after's now); a closed journal, limiter or
**     state file, or a state file written without its lock;
**     and running out of memory or libcurl failing to initialise.
**  Predicates and readers never fail: is_error, error_for_status (nil for
**  2xx), isatty, tty_columns, interrupted, digest, monotonic, realtime, pending, stats.
**
** core.curl_version is composed from curl_version_info() rather than
** taken from curl_version(): on Debian the latter asks libldap for its
** version, which initialises SASL and allocates memory that is never
** freed (reported as lost by valgrind once the module is unloaded).  The
** text is the same as curl_version()'s minus the LDAP part.
*/
/***
convai.core: the C core: HTTP sessions on libcurl, JSON on lua-cjson, the
parsers for HTTP fields and the vendors' formats, the error table, and what
campaigns need from the system (rate limits, CSV, journals, interrupts).

The clients (`convai.voicebot`,
`convai.avaamo`, `convai.vonage`, through `convai.http`) are built on it; it
can also be used directly.

    local core = require "convai.core"
    local s = assert(core.session { timeout = 10 })
    local resp, err = s:request { url = "https://example.com/" }
    if not resp then print(err.kind, err.message) end

Conventions of every function of this module (docs/core.md says which
function is in which family):

 - A failure that depends on data or on the network is a value, never a
   raised error. HTTP sessions and multis return `nil` and an error object
   (a `convai.error` table, see `error`): their callers route on its `kind`,
   `curl_code` and `request_sent`. Every other function returns `nil` and a
   message string: what the failure means (its kind) depends on where the
   value came from, which only the caller knows.
 - A programming mistake raises a Lua error: a wrong argument type, a value
   a program writes as a constant (an unknown error kind, a negative sleep,
   a bad `field_checker` list), an object used after `close` where the
   function says so; and so does running out of memory.
 - Durations are in seconds (numbers, fractions allowed), sizes in bytes,
   dates as epoch seconds or day numbers (days since 1970-01-01, UTC).
 - On Lua 5.4 integral results (status codes, seconds, day numbers) are
   integers. The same source builds for LuaJIT (Lua 5.1 API), where they are
   plain numbers.
 - Error messages never contain header values, which may hold credentials.

Documents followed: RFC 9110 (HTTP semantics: tokens, field values,
HTTP-date, `Retry-After`, status codes), RFC 8259 (JSON), libcurl 7.88 and
lua-cjson 2.1.0 as packaged by Debian 12 (see docs/api-notes.md §4), the
Avaamo analytics usage document (`dd/mm/yyyy` dates, docs/api-notes.md §2)
and the Vonage AI Studio outbound WhatsApp document (phone numbers,
docs/api-notes.md §3).

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
`os.time()` for dates.
@function monotonic
@treturn number seconds since an unspecified start, with a fraction
(nanosecond resolution); 0 if the clock cannot be read
@usage local t0 = core.monotonic()
local resp, err = s:request(req)
print(("%.3f s"):format(core.monotonic() - t0))
*/

/*** Seconds since the epoch on the wall clock (POSIX `CLOCK_REALTIME`), with
a fraction: the clock every process of the machine shares, for times that
other processes compare (`convai.runtime.now`). It jumps when the clock is
set: measure durations with `monotonic`.
@function realtime
@treturn number seconds since 1970-01-01 UTC
*/

/*** Pause the whole process for a while (POSIX `nanosleep`, resumed when a
signal interrupts it, so it never returns early).
Inside a `convai.batch` task use `convai.runtime.sleep` instead, which lets the
other tasks run meanwhile.
@function sleep
@tparam number seconds how long, seconds (fractions allowed, nanosecond
resolution); from 0 to 31536000 (one year)
@raise if `seconds` is not a number, is negative, NaN or more than a year
@usage core.sleep(0.25)
*/

#define _POSIX_C_SOURCE 199309L
#include <errno.h>
#include <math.h>
#include <time.h>

#include <curl/curl.h>

#include "clock.h"
#include "convai.h"
#include "lcsv.h"
#include "lerror.h"
#include "lfieldcheck.h"
#include "lformats.h"
#include "lhttpfields.h"
#include "ljournal.h"
#include "ljson.h"
#include "ljsondecoder.h"
#include "lmulti.h"
#include "lratelimit.h"
#include "lredis.h"
#include "lsession.h"
#include "lsignal.h"
#include "lstatefile.h"
#include "ltty.h"
#include "lconfigfile.h"

/* Append " <prefix><v>" to b when v is set. */
static void add_part(luaL_Buffer *b, const char *prefix, const char *v) {
  if (v == NULL || *v == '\0') return;
  luaL_addchar(b, ' ');
  luaL_addstring(b, prefix);
  luaL_addstring(b, v);
}

static void push_curl_version(lua_State *L) {
  const curl_version_info_data *d = curl_version_info(CURLVERSION_NOW);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  luaL_addstring(&b, "libcurl/");
  luaL_addstring(&b, d->version);
  add_part(&b, "", d->ssl_version);
  add_part(&b, "zlib/", d->libz_version);
  if (d->age >= CURLVERSION_FIFTH) add_part(&b, "brotli/", d->brotli_version);
#if LIBCURL_VERSION_NUM >= 0x074800 /* 7.72.0 */
  if (d->age >= CURLVERSION_NINTH) add_part(&b, "zstd/", d->zstd_version);
#endif
  if (d->age >= CURLVERSION_SECOND) add_part(&b, "libidn2/", d->libidn);
  if (d->age >= CURLVERSION_THIRD) add_part(&b, "", d->libssh_version);
  if (d->age >= CURLVERSION_SIXTH) add_part(&b, "nghttp2/", d->nghttp2_version);
  luaL_pushresult(&b);
}

/* core.monotonic() -> seconds (number) on a clock that never jumps. */
static int core_monotonic(lua_State *L) {
  lua_pushnumber(L, cv_monotonic());
  return 1;
}

/* core.realtime() -> seconds since the epoch (number, with a fraction), the
** wall clock shared by every process of the machine. */
static int core_realtime(lua_State *L) {
  lua_pushnumber(L, cv_realtime());
  return 1;
}

/* core.sleep(seconds): nanosleep, resumed after a signal. */
static int core_sleep(lua_State *L) {
  lua_Number s = luaL_checknumber(L, 1);
  struct timespec ts, rem;
  luaL_argcheck(L, s >= 0 && s <= 86400.0 * 365, 1,
                "seconds must be a number from 0 to 31536000 (one year)");
  ts.tv_sec = (time_t)floor(s);
  ts.tv_nsec = (long)((s - floor(s)) * 1e9);
  if (ts.tv_nsec > 999999999L) ts.tv_nsec = 999999999L;
  while (nanosleep(&ts, &rem) != 0 && errno == EINTR) ts = rem;
  return 0;
}

int luaopen_convai_core(lua_State *L) {
  static const luaL_Reg clocks[] = {{"monotonic", core_monotonic},
                                    {"realtime", core_realtime},
                                    {"sleep", core_sleep},
                                    {NULL, NULL}};
  lua_newtable(L);
  lua_pushliteral(L, CONVAI_VERSION);
  lua_setfield(L, -2, "version");
  push_curl_version(L);
  lua_setfield(L, -2, "curl_version");
  luaL_setfuncs(L, clocks, 0);
  cv_error_open(L);
  cv_httpfields_open(L);
  cv_formats_open(L);
  cv_json_open(L);
  cv_jsondecoder_open(L);
  cv_fieldcheck_open(L);
  cv_session_open(L);
  cv_multi_open(L);
  cv_ratelimit_open(L);
  cv_csv_open(L);
  cv_journal_open(L);
  cv_signal_open(L);
  cv_tty_open(L);
  cv_statefile_open(L);
  cv_configfile_open(L);
  cv_redis_open(L);
  return 1;
}
