/*
** lcore.c - luaopen_convai_core: assembles the convai.core table.
**
** Each binding file adds its own functions (cv_*_open); this file only
** adds the version strings.  See lsession.h, lerror.h, ljson.h and
** lparsers.h for the API.
**
** core.curl_version is composed from curl_version_info() rather than
** taken from curl_version(): on Debian the latter asks libldap for its
** version, which initialises SASL and allocates memory that is never
** freed (reported as lost by valgrind once the module is unloaded).  The
** text is the same as curl_version()'s minus the LDAP part.
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
#include "ljson.h"
#include "lmulti.h"
#include "lparsers.h"
#include "lratelimit.h"
#include "lsession.h"
#include "lsys.h"

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

/* core.sleep(seconds): nanosleep, resumed after a signal (documented in
** lsession.c with monotonic). */
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
  lua_newtable(L);
  lua_pushliteral(L, CONVAI_VERSION);
  lua_setfield(L, -2, "version");
  push_curl_version(L);
  lua_setfield(L, -2, "curl_version");
  lua_pushcfunction(L, core_monotonic);
  lua_setfield(L, -2, "monotonic");
  lua_pushcfunction(L, core_realtime);
  lua_setfield(L, -2, "realtime");
  lua_pushcfunction(L, core_sleep);
  lua_setfield(L, -2, "sleep");
  cv_error_open(L);
  cv_parsers_open(L);
  cv_json_open(L);
  cv_session_open(L);
  cv_multi_open(L);
  cv_ratelimit_open(L);
  cv_csv_open(L);
  cv_sys_open(L);
  return 1;
}
