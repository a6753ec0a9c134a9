/*
** redisurl.c - Redis URLs (see redisurl.h).
**
** Parsing and masking share the same two cuts (locate, port_colon), so
** that the text the mask hides is exactly the text the parser reads as the
** password.  The mask also hides what a user may have put a password in by
** mistake: a query or fragment (redis://host/0?password=...), and a port
** that is not a number when there is no "@" (redis://user:secret, the "@"
** forgotten).
*/
#include <string.h>

#include "ascii.h"
#include "redisurl.h"

#define TLS_REFUSED                                                         \
  "rediss:// (TLS) is not supported: it needs hiredis >= 1.0 built with "   \
  "SSL, which Debian 12 does not ship (it has hiredis 0.14); use redis:// " \
  "on a private network or through an SSH or stunnel tunnel"
#define NOT_REDIS                                                          \
  "not a Redis URL: it must be redis://[user[:password]@]host[:port][/db]"

static int is_digit(char c) { return c >= '0' && c <= '9'; }

static int is_alnum(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int hex_value(char c) {
  if (is_digit(c)) return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* The first index in [from, len) of a byte of set (never NUL), or len. */
static size_t find_any(const char *url, size_t from, size_t len,
                       const char *set) {
  while (from < len && (url[from] == '\0' || strchr(set, url[from]) == NULL))
    from++;
  return from;
}

/* rest: just after the first "://" (0 when there is none); at: the last
** "@" from rest on (len when there is none).  Before at is the userinfo. */
static void locate(const char *url, size_t len, size_t *rest, size_t *at) {
  size_t i;
  *rest = 0;
  for (i = 0; i + 3 <= len; i++)
    if (url[i] == ':' && url[i + 1] == '/' && url[i + 2] == '/') {
      *rest = i + 3;
      break;
    }
  *at = len;
  for (i = len; i > *rest; i--)
    if (url[i - 1] == '@') {
      *at = i - 1;
      break;
    }
}

/* The ":" before the port in the host part url[h..end), or end when there
** is none: after the "]" of an IPv6 address, else the first ":". */
static size_t port_colon(const char *url, size_t h, size_t end) {
  size_t i = h;
  if (h < end && url[h] == '[') {
    while (i < end && url[i] != ']') i++;
    if (i == end) return end; /* unclosed: no port */
    i++;
    return i < end && url[i] == ':' ? i : end;
  }
  while (i < end && url[i] != ':') i++;
  return i;
}

/* ------------------------------------------------------------- parsing */

/* RFC 3986 unreserved and sub-delims: allowed raw in the userinfo. */
static int userinfo_char(char c) {
  return is_alnum(c) || (c != '\0' && strchr("-._~!$&'()*+,;=", c) != NULL);
}

/* Percent-decode url[from..to) into *w (NUL-terminated, *w moves past the
** NUL).  colon_ok: ":" may appear raw (the password). */
static const char *decode(const char *url, size_t from, size_t to,
                          int colon_ok, const char *what_bad,
                          const char *what_enc, char **w) {
  size_t i;
  char *p = *w;
  for (i = from; i < to; i++) {
    char c = url[i];
    if (c == '%') {
      int hi = i + 2 < to ? hex_value(url[i + 1]) : -1;
      int lo = i + 2 < to ? hex_value(url[i + 2]) : -1;
      if (hi < 0 || lo < 0) return what_enc;
      c = (char)(hi * 16 + lo);
      if (c == '\0') return "the user name and password may not contain %00";
      i += 2;
    } else if (!userinfo_char(c) && !(colon_ok && c == ':')) {
      return what_bad;
    }
    *p++ = c;
  }
  *p++ = '\0';
  *w = p;
  return NULL;
}

static const char *userinfo(const char *url, size_t rest, size_t at,
                            char **w, cv_redis_url *out) {
  size_t colon = rest, pw;
  const char *msg;
  char *start = *w;
  while (colon < at && url[colon] != ':') colon++;
  msg = decode(url, rest, colon, 0,
               "the user name has a character that must be percent-encoded",
               "the user name has a % not followed by two hex digits", w);
  if (msg != NULL) return msg;
  if (*start != '\0') out->user = start;
  if (colon == at) return NULL;
  pw = colon + 1;
  start = *w;
  msg = decode(url, pw, at, 1,
               "the password has a character that must be percent-encoded "
               "(an @ as %40, a / as %2F, a # as %23, a ? as %3F)",
               "the password has a % not followed by two hex digits", w);
  if (msg != NULL) return msg;
  if (*start != '\0') {
    out->password = start;
    out->password_at = pw;
    out->password_end = at;
  }
  return NULL;
}

/* Digits only, their value (capped at max + 1) in *v; 0 when empty or not
** all digits. */
static int number(const char *url, size_t from, size_t to, long max,
                  long *v) {
  size_t i;
  *v = 0;
  if (from == to) return 0;
  for (i = from; i < to; i++) {
    if (!is_digit(url[i])) return 0;
    if (*v <= max) *v = *v * 10 + (url[i] - '0');
  }
  return 1;
}

static const char *host(const char *url, size_t h, size_t colon, char **w,
                        cv_redis_url *out) {
  size_t from = h, to = colon, i, ncolons = 0;
  if (h < colon && url[h] == '[') {
    from = h + 1;
    to = from;
    while (to < colon && url[to] != ']') to++;
    if (to == colon)
      return "an IPv6 address must be in brackets, as in redis://[::1]:6379";
    if (to + 1 != colon)
      return "after an IPv6 address in brackets only :port or /db may "
             "follow";
    for (i = from; i < to; i++) {
      if (url[i] == ':') ncolons++;
      if (hex_value(url[i]) < 0 && url[i] != ':' && url[i] != '.')
        return "the IPv6 address in brackets may hold only hex digits, : "
               "and .";
    }
    if (ncolons < 2) return "the text in brackets is not an IPv6 address";
  } else {
    for (i = from; i < to; i++)
      if (!is_alnum(url[i]) && url[i] != '-' && url[i] != '.' &&
          url[i] != '_')
        return "the host may hold only letters, digits, -, . and _ (an "
               "IPv6 address goes in brackets)";
  }
  if (from == to) return "the host is missing";
  if (to - from > CV_REDIS_HOST_MAX)
    return "the host is longer than 255 characters";
  memcpy(*w, url + from, to - from);
  (*w)[to - from] = '\0';
  out->host = *w;
  *w += to - from + 1;
  return NULL;
}

const char *cv_redis_url_parse(const char *url, size_t len, char *buf,
                               cv_redis_url *out) {
  size_t rest, at, h, end, colon;
  long v;
  const char *msg;
  char *w = buf;
  memset(out, 0, sizeof *out);
  out->port = CV_REDIS_DEFAULT_PORT;
  if (cv_has_prefix_ci(url, len, "rediss://")) return TLS_REFUSED;
  if (!cv_has_prefix_ci(url, len, "redis://")) return NOT_REDIS;
  locate(url, len, &rest, &at);
  h = rest;
  if (at < len) {
    if ((msg = userinfo(url, rest, at, &w, out)) != NULL) return msg;
    h = at + 1;
  }
  if (find_any(url, h, len, "?#") < len)
    return "a Redis URL has no query (?...) or fragment (#...)";
  end = find_any(url, h, len, "/");
  colon = port_colon(url, h, end);
  if ((msg = host(url, h, colon, &w, out)) != NULL) return msg;
  if (colon < end) {
    if (!number(url, colon + 1, end, 65535, &v) || v < 1 || v > 65535)
      return "the port must be a number from 1 to 65535";
    out->port = (int)v;
  }
  if (end + 1 < len) {
    if (!number(url, end + 1, len, CV_REDIS_DB_MAX, &v) ||
        v > CV_REDIS_DB_MAX)
      return "the database (after the host and port) must be a number from "
             "0 to 2147483647, as in redis://host:6379/0";
    out->db = v;
  }
  return NULL;
}

/* ------------------------------------------------------------- masking */

size_t cv_redis_url_mask(const char *url, size_t len, char *out) {
  size_t rest, at, h, end, colon, i, n = 0;
  size_t pw_from = len, pw_to = len, tail = len;
  locate(url, len, &rest, &at);
  h = rest;
  if (at < len) {
    for (i = rest; i < at && url[i] != ':'; i++) {}
    if (i + 1 < at) { /* a non-empty password */
      pw_from = i + 1;
      pw_to = at;
    }
    h = at + 1;
  }
  tail = find_any(url, h, len, "?#");
  if (tail < len) tail++; /* keep the ? or # itself */
  end = find_any(url, h, len, "/?#");
  colon = port_colon(url, h, end);
  if (at == len && colon < end) /* a port that is not a number */
    for (i = colon + 1; i < end; i++)
      if (!is_digit(url[i])) {
        tail = colon + 1;
        break;
      }
  /* url[0..pw_from) "***" url[pw_to..tail) "***" */
  for (i = 0; i < len && i < tail; i++) {
    if (i == pw_from) {
      memcpy(out + n, "***", 3);
      n += 3;
      i = pw_to - 1;
      continue;
    }
    out[n++] = url[i] >= 0x20 && url[i] < 0x7f ? url[i] : '?';
  }
  if (tail < len) {
    memcpy(out + n, "***", 3);
    n += 3;
  }
  out[n] = '\0';
  return n;
}
