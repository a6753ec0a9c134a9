/*
** fuzz_redisurl.c - cv_redis_url_parse and cv_redis_url_mask
** (src/redisurl.c).
**
** The first input byte chooses the mode:
**  - even: the rest is a URL.  Properties:
**     - the parse agrees with a simple reference written differently here
**       (C strings, strrchr/strspn/strtoul), field by field: host, user,
**       password, port, db and the password's span;
**     - a valid URL reads within range (host 1..255 bytes, port 1..65535,
**       db 0..2147483647) and masks to itself with exactly its password's
**       text replaced by "***";
**     - a refusal is a one-line printable message;
**     - the mask, valid input or not, agrees with a reference mask written
**       here (the password, a tail, bytes outside printable ASCII) and is
**       never longer than the input plus 4;
**  - odd: the rest chooses the parts of a URL (user and password of any
**    bytes but NUL, a host name or an IPv6 address, port, db), which are
**    written here (percent-encoding where needed, and elsewhere at random);
**    the parse must give the same parts back, and the mask must hide the
**    password's encoded text and nothing else.
*/
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "redisurl.h"

#define SUBDELIMS "-._~!$&'()*+,;="

/* ------------------------------------------------------------ reference */

typedef struct ref {
  char host[300], user[1100], password[1100];
  int has_user, has_password;
  unsigned long port, db;
  size_t pw_at, pw_end;
} ref;

static int raw_ok(char c, int colon) {
  return isalnum((unsigned char)c) || (c != '\0' && strchr(SUBDELIMS, c)) ||
         (colon && c == ':');
}

/* Decode s[0..n) into out; 0 when refused. */
static int ref_decode(const char *s, size_t n, int colon, char *out) {
  size_t i, o = 0;
  for (i = 0; i < n; i++) {
    if (s[i] == '%') {
      unsigned v;
      char two[3];
      if (i + 2 >= n) return 0;
      if (!isxdigit((unsigned char)s[i + 1]) ||
          !isxdigit((unsigned char)s[i + 2]))
        return 0;
      two[0] = s[i + 1];
      two[1] = s[i + 2];
      two[2] = '\0';
      if (sscanf(two, "%x", &v) != 1 || v == 0) return 0;
      out[o++] = (char)v;
      i += 2;
    } else if (raw_ok(s[i], colon)) {
      out[o++] = s[i];
    } else {
      return 0;
    }
  }
  out[o] = '\0';
  return 1;
}

/* An all-digit, non-empty string's value with strtoul (ULONG_MAX when it
** overflows); -1 otherwise. */
static double ref_number(const char *s) {
  unsigned long v;
  if (*s == '\0' || strspn(s, "0123456789") != strlen(s)) return -1;
  errno = 0;
  v = strtoul(s, NULL, 10);
  return errno == ERANGE ? 1e300 : (double)v;
}

/* Parse the C string url (no NUL inside); 1 when valid. */
static int ref_parse(const char *url, ref *r) {
  char scheme[9], work[1100], *s, *at, *hostpart, *slash, *portp = NULL;
  char *h, *close;
  size_t i;
  double v;
  memset(r, 0, sizeof *r);
  r->port = 6379;
  if (strlen(url) < 8 || strlen(url) >= sizeof work) return 0;
  for (i = 0; i < 8; i++) scheme[i] = (char)tolower((unsigned char)url[i]);
  scheme[8] = '\0';
  if (strcmp(scheme, "redis://") != 0) return 0;
  strcpy(work, url + 8);
  s = work;
  at = strrchr(s, '@');
  hostpart = s;
  if (at != NULL) {
    char *colon;
    *at = '\0';
    hostpart = at + 1;
    colon = strchr(s, ':');
    if (colon != NULL) *colon = '\0';
    if (!ref_decode(s, strlen(s), 0, r->user)) return 0;
    r->has_user = r->user[0] != '\0';
    if (colon != NULL) {
      if (!ref_decode(colon + 1, strlen(colon + 1), 1, r->password)) return 0;
      r->has_password = r->password[0] != '\0';
      if (r->has_password) {
        r->pw_at = 8 + (size_t)(colon + 1 - work);
        r->pw_end = 8 + (size_t)(at - work);
      }
    }
  }
  if (strpbrk(hostpart, "?#") != NULL) return 0;
  slash = strchr(hostpart, '/');
  if (slash != NULL) {
    *slash = '\0';
    if (slash[1] != '\0') {
      v = ref_number(slash + 1);
      if (v < 0 || v > 2147483647.0) return 0;
      r->db = (unsigned long)v;
    }
  }
  h = hostpart;
  if (*h == '[') {
    close = strchr(h, ']');
    if (close == NULL) return 0;
    *close = '\0';
    h++;
    if (close[1] == ':') portp = close + 2;
    else if (close[1] != '\0') return 0;
    if (strspn(h, "0123456789abcdefABCDEF:.") != strlen(h)) return 0;
    if (strchr(h, ':') == NULL || strchr(h, ':') == strrchr(h, ':'))
      return 0; /* fewer than two colons */
  } else {
    char *colon = strchr(h, ':');
    if (colon != NULL) {
      *colon = '\0';
      portp = colon + 1;
    }
    for (i = 0; h[i] != '\0'; i++)
      if (!isalnum((unsigned char)h[i]) && !strchr("-._", h[i])) return 0;
  }
  if (*h == '\0' || strlen(h) > 255) return 0;
  strcpy(r->host, h);
  if (portp != NULL) {
    v = ref_number(portp);
    if (v < 1 || v > 65535) return 0;
    r->port = (unsigned long)v;
  }
  return 1;
}

/* ----------------------------------------------------------- properties */

static int str_eq(const char *a, const char *b) {
  return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

/* The mask of a valid URL: the password's text replaced by "***". */
static void check_valid_mask(const char *url, size_t len,
                             const cv_redis_url *u) {
  char *m = (char *)malloc(CV_REDIS_URL_MASK_SIZE(len));
  size_t n;
  if (m == NULL) abort();
  n = cv_redis_url_mask(url, len, m);
  if (u->password == NULL) {
    FUZZ_CHECK(n == len && memcmp(m, url, len) == 0, "%.*s masked to %s",
               (int)len, url, m);
  } else {
    size_t a = u->password_at, b = u->password_end;
    FUZZ_CHECK(n == len - (b - a) + 3 && memcmp(m, url, a) == 0 &&
                   memcmp(m + a, "***", 3) == 0 &&
                   memcmp(m + a + 3, url + b, len - b) == 0,
               "%.*s masked to %s", (int)len, url, m);
  }
  FUZZ_CHECK(m[n] == '\0', "mask not terminated");
  free(m);
}

/* The mask, written again: the password (first ":" of the userinfo to
** the last "@"), a query or fragment, and, without an "@", a port that is
** not all digits with everything after it, each become "***"; other bytes
** stay, but those outside printable ASCII become "?". */
static size_t ref_mask(const char *url, size_t len, char *out) {
  size_t rest = 0, at = len, i, h, e, pc = len, n = 0;
  size_t pw_from = len, pw_to = len, tail = len;
  for (i = 0; i + 3 <= len; i++)
    if (url[i] == ':' && url[i + 1] == '/' && url[i + 2] == '/') {
      rest = i + 3;
      break;
    }
  for (i = rest; i < len; i++)
    if (url[i] == '@') at = i;
  h = rest;
  if (at < len) {
    for (i = rest; i < at; i++)
      if (url[i] == ':') break;
    if (i + 1 < at) {
      pw_from = i + 1;
      pw_to = at;
    }
    h = at + 1;
  }
  for (i = h; i < len; i++)
    if (url[i] == '?' || url[i] == '#') {
      tail = i + 1;
      break;
    }
  for (e = h; e < len && url[e] != '/' && url[e] != '?' && url[e] != '#';)
    e++;
  if (at == len) {
    if (h < e && url[h] == '[') {
      for (i = h; i < e && url[i] != ']'; i++) {}
      if (i + 1 < e && url[i + 1] == ':') pc = i + 1;
    } else {
      for (i = h; i < e && url[i] != ':'; i++) {}
      if (i < e) pc = i;
    }
    if (pc < len)
      for (i = pc + 1; i < e; i++)
        if (url[i] < '0' || url[i] > '9') {
          tail = pc + 1;
          break;
        }
  }
  for (i = 0; i < len && i < tail; i++) {
    if (i == pw_from) {
      out[n++] = '*', out[n++] = '*', out[n++] = '*';
      i = pw_to - 1;
    } else {
      out[n++] = isprint((unsigned char)url[i]) ? url[i] : '?';
    }
  }
  if (tail < len) out[n++] = '*', out[n++] = '*', out[n++] = '*';
  out[n] = '\0';
  return n;
}

/* Any input: the mask agrees with the reference and is at most 4 bytes
** longer than the input. */
static void check_any_mask(const char *url, size_t len) {
  char *m = (char *)malloc(CV_REDIS_URL_MASK_SIZE(len));
  char *want = (char *)malloc(len + 16);
  size_t n, wn;
  if (m == NULL || want == NULL) abort();
  n = cv_redis_url_mask(url, len, m);
  wn = ref_mask(url, len, want);
  FUZZ_CHECK(n <= len + 4 && m[n] == '\0', "mask length %zu for %zu", n,
             len);
  FUZZ_CHECK(n == wn && memcmp(m, want, n) == 0,
             "mask of %.*s: %s, reference %s", (int)len, url, m, want);
  free(want);
  free(m);
}

/* url[0..len) is not NUL-terminated (so ASan sees a read past its end);
** the reference and the messages read a terminated copy, text. */
static void check_url(const char *url, size_t len) {
  char *buf = (char *)malloc(CV_REDIS_URL_BUF(len));
  char *text = (char *)malloc(len + 1);
  cv_redis_url u;
  ref r;
  const char *err;
  int ok, rok;
  if (buf == NULL || text == NULL) abort();
  memcpy(text, url, len);
  text[len] = '\0';
  err = cv_redis_url_parse(url, len, buf, &u);
  ok = err == NULL;
  rok = memchr(url, '\0', len) == NULL && ref_parse(text, &r);
  FUZZ_CHECK(ok == rok, "%s: parse %d (%s), reference %d", text, ok,
             err ? err : "", rok);
  if (ok) {
    FUZZ_CHECK(str_eq(u.host, r.host) && strlen(u.host) >= 1 &&
                   strlen(u.host) <= 255,
               "%s: host %s, reference %s", text, u.host, r.host);
    FUZZ_CHECK(str_eq(u.user, r.has_user ? r.user : NULL), "%s: user",
               text);
    FUZZ_CHECK(str_eq(u.password, r.has_password ? r.password : NULL),
               "%s: password", text);
    FUZZ_CHECK(u.port >= 1 && u.port <= 65535 &&
                   (unsigned long)u.port == r.port,
               "%s: port %d, reference %lu", text, u.port, r.port);
    FUZZ_CHECK(u.db >= 0 && u.db <= CV_REDIS_DB_MAX &&
                   (unsigned long)u.db == r.db,
               "%s: db %ld, reference %lu", text, u.db, r.db);
    FUZZ_CHECK(u.password_at == r.pw_at && u.password_end == r.pw_end,
               "%s: password span %zu..%zu, reference %zu..%zu", text,
               u.password_at, u.password_end, r.pw_at, r.pw_end);
    check_valid_mask(url, len, &u);
  } else {
    FUZZ_CHECK(fuzz_message_ok(err, strlen(err) + 1), "bad message %s", err);
  }
  check_any_mask(url, len);
  free(text);
  free(buf);
}

/* ----------------------------------------------------------- round trip */

typedef struct src {
  const uint8_t *p;
  size_t n;
} src;

static unsigned next(src *s) {
  unsigned v;
  if (s->n == 0) return 0;
  v = *s->p++;
  s->n--;
  return v;
}

/* Append the bytes b[0..n) percent-encoded where needed (and elsewhere
** when the input says so). */
static size_t encode(src *s, const char *b, size_t n, int colon, char *out) {
  static const char hex[] = "0123456789ABCDEF0123456789abcdef";
  size_t i, o = 0;
  for (i = 0; i < n; i++) {
    unsigned c = (unsigned char)b[i], how = next(s);
    if (raw_ok((char)c, colon) && (how & 3) != 0) {
      out[o++] = (char)c;
    } else {
      int lower = (how & 4) ? 16 : 0;
      out[o++] = '%';
      out[o++] = hex[lower + (c >> 4)];
      out[o++] = hex[lower + (c & 15)];
    }
  }
  return o;
}

static void round_trip(src *s) {
  static const char name_chars[] =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._";
  static const char v6_chars[] = "0123456789abcdefABCDEF:.";
  char user[16], password[40], host[40], url[512], *buf;
  size_t ulen, plen, hlen, n = 0, pw_at = 0, pw_end = 0, i;
  unsigned flags = next(s), port, db;
  cv_redis_url u;
  const char *err;
  ulen = next(s) % sizeof user;
  for (i = 0; i < ulen; i++) user[i] = (char)(next(s) | 1); /* no NUL */
  plen = next(s) % sizeof password;
  for (i = 0; i < plen; i++) password[i] = (char)(next(s) | 1);
  hlen = 1 + next(s) % 30;
  if (flags & 1) { /* IPv6: at least two colons */
    host[0] = host[1] = ':';
    for (i = 2; i < hlen + 2; i++) host[i] = v6_chars[next(s) % 24];
    hlen += 2;
  } else {
    for (i = 0; i < hlen; i++) host[i] = name_chars[next(s) % 65];
  }
  host[hlen] = '\0';
  port = 1 + ((next(s) << 8 | next(s)) % 65535);
  db = (next(s) << 24 | next(s) << 16 | next(s) << 8 | next(s)) &
       0x7fffffffu;

  memcpy(url, (flags & 2) ? "REDIS://" : "redis://", 8);
  n = 8;
  if (flags & 4) {
    n += encode(s, user, ulen, 0, url + n);
    if (flags & 8) {
      url[n++] = ':';
      pw_at = n;
      n += encode(s, password, plen, 1, url + n);
      pw_end = n;
    }
    url[n++] = '@';
  }
  if (flags & 1) url[n++] = '[';
  memcpy(url + n, host, hlen);
  n += hlen;
  if (flags & 1) url[n++] = ']';
  if (flags & 16) n += (size_t)sprintf(url + n, ":%u", port);
  if (flags & 32) n += (size_t)sprintf(url + n, "/%u", db);
  else if (flags & 64) url[n++] = '/';
  url[n] = '\0';

  buf = (char *)malloc(CV_REDIS_URL_BUF(n));
  if (buf == NULL) abort();
  err = cv_redis_url_parse(url, n, buf, &u);
  FUZZ_CHECK(err == NULL, "%s refused: %s", url, err);
  FUZZ_CHECK(strcmp(u.host, host) == 0, "%s: host %s", url, u.host);
  if ((flags & 4) && ulen > 0)
    FUZZ_CHECK(u.user && strlen(u.user) == ulen &&
                   memcmp(u.user, user, ulen) == 0,
               "%s: user", url);
  else
    FUZZ_CHECK(u.user == NULL, "%s: a user", url);
  if ((flags & 12) == 12 && plen > 0) {
    FUZZ_CHECK(u.password && strlen(u.password) == plen &&
                   memcmp(u.password, password, plen) == 0,
               "%s: password", url);
    FUZZ_CHECK(u.password_at == pw_at && u.password_end == pw_end,
               "%s: password span", url);
  } else {
    FUZZ_CHECK(u.password == NULL, "%s: a password", url);
  }
  FUZZ_CHECK(u.port == (int)((flags & 16) ? port : 6379), "%s: port %d",
             url, u.port);
  FUZZ_CHECK(u.db == (long)((flags & 32) ? db : 0), "%s: db %ld", url,
             u.db);
  check_valid_mask(url, n, &u);
  free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  if (data[0] & 1) {
    src s;
    s.p = data + 1;
    s.n = size - 1;
    round_trip(&s);
  } else if (size - 1 < 1024) {
    char *url = fuzz_copy(data + 1, size - 1);
    check_url(url, size - 1);
    free(url);
  }
  return 0;
}
