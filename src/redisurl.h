/*
** redisurl.h - Redis URLs: redis://[user[:password]@]host[:port][/db].
**
** The form redis-cli, redis-py and most clients accept (the IANA
** registration of the redis scheme), strictly:
**  - the scheme is redis (any case); rediss (TLS) is recognised and
**    refused: TLS needs hiredis >= 1.0 built with SSL, and Debian 12 ships
**    hiredis 0.14;
**  - user and password are percent-decoded; raw they may hold only RFC 3986
**    userinfo characters (letters, digits, -._~!$&'()*+,;= and, in the
**    password, ':'); %00 is refused; an empty user or password is absent;
**  - the host is a name or IPv4 address (letters, digits, -._) or an IPv6
**    address in brackets ([::1], given back without them);
**  - the port is 1 to 65535 (default 6379); the database (the path) a
**    number from 0 to 2147483647 (default 0); a lone "/" is database 0;
**  - nothing else: no query, no fragment, no longer path.
**
** The userinfo is everything before the last "@" (so a password holding a
** raw "@" is refused rather than split in the wrong place), and
** cv_redis_url_mask hides the password the same way on any input, valid
** or not, so that a message can quote what the user wrote.  Pure C.
*/
#ifndef CONVAI_REDISURL_H
#define CONVAI_REDISURL_H

#include <stddef.h>

#define CV_REDIS_DEFAULT_PORT 6379
#define CV_REDIS_DB_MAX 2147483647L
#define CV_REDIS_HOST_MAX 255 /* longest host name accepted */

/* What a URL names.  host, user and password point into the caller's
** buffer, NUL-terminated; user and password are NULL when absent. */
typedef struct cv_redis_url {
  const char *host; /* an IPv6 address without its brackets */
  const char *user;
  const char *password;
  int port;
  long db;
  size_t password_at, password_end; /* the password's raw text in the URL:
                                       url[password_at..password_end);
                                       both 0 when there is none */
} cv_redis_url;

/* Bytes of the buffer cv_redis_url_parse needs for a URL of len bytes. */
#define CV_REDIS_URL_BUF(len) ((len) + 3)

/* Parse url[0..len) (any bytes) into *out, writing the decoded parts into
** buf (CV_REDIS_URL_BUF(len) bytes).  Returns NULL when it is a valid
** Redis URL, else a message (static, one line, no part of the input). */
const char *cv_redis_url_parse(const char *url, size_t len, char *buf,
                               cv_redis_url *out);

/* Bytes of the output of cv_redis_url_mask for an input of len bytes. */
#define CV_REDIS_URL_MASK_SIZE(len) ((len) + 5)

/* Copy url[0..len) into out (CV_REDIS_URL_MASK_SIZE(len) bytes,
** NUL-terminated) with the password replaced by "***", for a one-line
** message: returns the length written.  For any input: the text from the
** first ":" of the userinfo (up to the last "@") is the password; a query
** or fragment after the host is hidden too; without an "@", a port that is
** not all digits may be a password that lost its "@", and is hidden with
** all that follows it.  Bytes outside printable ASCII become "?".  A valid
** URL comes back as it is, its password (if any) replaced. */
size_t cv_redis_url_mask(const char *url, size_t len, char *out);

#endif
