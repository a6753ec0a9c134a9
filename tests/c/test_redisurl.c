/*
** test_redisurl.c - Redis URLs (redisurl.c): what is accepted and how it
** reads, what is refused and why, and the password mask.
*/
#include <string.h>

#include "check.h"
#include "redisurl.h"

static cv_redis_url u;
static char buf[512];
static const char *err;

/* Parse s; 1 when it is valid. */
static int parse(const char *s) {
  err = cv_redis_url_parse(s, strlen(s), buf, &u);
  return err == NULL;
}

static const char *mask(const char *s) {
  static char out[512];
  size_t n = cv_redis_url_mask(s, strlen(s), out);
  CHECK_INT(n, strlen(out));
  return out;
}

#define OK(s) CHECK_AT(parse(s), __FILE__, __LINE__, "%s: %s", s, err)
#define BAD(s, sub)                                                   \
  do {                                                                \
    CHECK_AT(!parse(s), __FILE__, __LINE__, "%s was accepted", s);    \
    CHECK_HAS(err, sub);                                              \
  } while (0)

static void test_defaults(void) {
  OK("redis://localhost");
  CHECK_STR(u.host, "localhost");
  CHECK_INT(u.port, 6379);
  CHECK_INT(u.db, 0);
  CHECK(u.user == NULL && u.password == NULL);
  CHECK_INT(u.password_at, 0);
  CHECK_INT(u.password_end, 0);
  OK("REDIS://Cache.Example.COM/");
  CHECK_STR(u.host, "Cache.Example.COM");
  CHECK_INT(u.db, 0);
}

static void test_parts(void) {
  OK("redis://127.0.0.1:6390/3");
  CHECK_STR(u.host, "127.0.0.1");
  CHECK_INT(u.port, 6390);
  CHECK_INT(u.db, 3);
  OK("redis://:s3cret@db-1.internal:1/2147483647");
  CHECK(u.user == NULL);
  CHECK_STR(u.password, "s3cret");
  CHECK_INT(u.password_at, 9);
  CHECK_INT(u.password_end, 15);
  CHECK_STR(u.host, "db-1.internal");
  CHECK_INT(u.port, 1);
  CHECK_INT(u.db, 2147483647L);
  OK("redis://convai:pa:ss@h:65535/007");
  CHECK_STR(u.user, "convai");
  CHECK_STR(u.password, "pa:ss"); /* only the first : splits */
  CHECK_INT(u.port, 65535);
  CHECK_INT(u.db, 7);
  OK("redis://alice@h"); /* a user alone (an ACL user with nopass) */
  CHECK_STR(u.user, "alice");
  CHECK(u.password == NULL);
  OK("redis://alice:@h"); /* an empty password is none */
  CHECK_STR(u.user, "alice");
  CHECK(u.password == NULL);
  CHECK_INT(u.password_at, 0);
  OK("redis://:@h");
  CHECK(u.user == NULL && u.password == NULL);
  OK("redis://under_score.host:06379");
  CHECK_INT(u.port, 6379);
}

static void test_percent(void) {
  OK("redis://us%65r:p%40ss%2Fw%3a%25rd@h");
  CHECK_STR(u.user, "user");
  CHECK_STR(u.password, "p@ss/w:%rd");
  OK("redis://u:!$&'()*+,;=-._~@h");
  CHECK_STR(u.password, "!$&'()*+,;=-._~");
  OK("redis://u:%C3%A9t%C3%A9@h"); /* UTF-8 bytes pass through */
  CHECK_STR(u.password, "\xc3\xa9t\xc3\xa9");
  BAD("redis://u:p%4@h", "% not followed by two hex digits");
  BAD("redis://u:p%zz@h", "% not followed by two hex digits");
  BAD("redis://u:p%@h", "password has a % not followed");
  BAD("redis://u%4:p@h", "user name has a % not followed");
  BAD("redis://u:p%00@h", "%00");
  BAD("redis://u%00:p@h", "%00");
  BAD("redis://u:p/ss@h", "password has a character that must be "
                          "percent-encoded");
  BAD("redis://u:p@ss@h", "an @ as %40");
  BAD("redis://u:p ss@h", "percent-encoded");
  BAD("redis://u/x:p@h", "user name has a character");
}

static void test_ipv6(void) {
  OK("redis://[::1]:6380/1");
  CHECK_STR(u.host, "::1");
  CHECK_INT(u.port, 6380);
  CHECK_INT(u.db, 1);
  OK("redis://:pw@[2001:db8::7]");
  CHECK_STR(u.host, "2001:db8::7");
  CHECK_INT(u.port, 6379);
  OK("redis://[::ffff:192.0.2.1]/");
  CHECK_STR(u.host, "::ffff:192.0.2.1");
  BAD("redis://[::1", "brackets");
  BAD("redis://[::1]x:1", "only :port or /db may follow");
  BAD("redis://[]", "not an IPv6 address");
  BAD("redis://[1.2.3.4]", "not an IPv6 address");
  BAD("redis://[fe80::1%25eth0]", "only hex digits");
  BAD("redis://::1", "host is missing");
}

static void test_refused(void) {
  BAD("rediss://h:6380", "rediss:// (TLS) is not supported");
  BAD("REDISS://:pw@h", "hiredis >= 1.0");
  BAD("rediss://h", "SSH or stunnel tunnel");
  BAD("http://h", "not a Redis URL");
  BAD("redis:/h", "not a Redis URL");
  BAD("redis", "not a Redis URL");
  BAD("", "not a Redis URL");
  BAD("unix:///tmp/redis.sock", "not a Redis URL");
  BAD("redis://", "host is missing");
  BAD("redis://:6379", "host is missing");
  BAD("redis://:pw@", "host is missing");
  BAD("redis://:pw@/0", "host is missing");
  BAD("redis://h:0", "port must be a number from 1 to 65535");
  BAD("redis://h:65536", "port must be");
  BAD("redis://h:99999999999999999999", "port must be");
  BAD("redis://h:", "port must be");
  BAD("redis://h:-1", "port must be");
  BAD("redis://h:6379:1", "port must be");
  BAD("redis://h:63 79", "port must be");
  BAD("redis://h/2147483648", "database");
  BAD("redis://h/-1", "database");
  BAD("redis://h/0/1", "database");
  BAD("redis://h//", "database");
  BAD("redis://h/x", "database");
  BAD("redis://h/0?password=x", "no query");
  BAD("redis://h#frag", "no query (?...) or fragment (#...)");
  BAD("redis://h?", "no query");
  BAD("redis://ho st", "host may hold only");
  BAD("redis://h%41", "host may hold only");
  BAD("redis://h\x01", "host may hold only");
  {
    char longhost[300];
    memcpy(longhost, "redis://", 8);
    memset(longhost + 8, 'a', 256);
    longhost[264] = '\0';
    BAD(longhost, "longer than 255");
    longhost[263] = '\0';
    OK(longhost);
  }
  {
    static const char nul[] = "redis://h\0/0";
    err = cv_redis_url_parse(nul, sizeof nul - 1, buf, &u);
    CHECK(err != NULL);
  }
}

static void test_mask(void) {
  CHECK_STR(mask("redis://:s3cret@h:1/2"), "redis://:***@h:1/2");
  CHECK_STR(mask("redis://user:s3cret@h"), "redis://user:***@h");
  CHECK_STR(mask("redis://user@h"), "redis://user@h");
  CHECK_STR(mask("redis://user:@h"), "redis://user:@h");
  CHECK_STR(mask("redis://h:6379/0"), "redis://h:6379/0");
  CHECK_STR(mask("redis://[::1]:6379"), "redis://[::1]:6379");
  /* invalid URLs hide as much */
  CHECK_STR(mask("redis://u:p@ss@h:0"), "redis://u:***@h:0");
  CHECK_STR(mask("redis://u:p/ss@h"), "redis://u:***@h");
  CHECK_STR(mask("redis://u:pa:ss@h"), "redis://u:***@h");
  CHECK_STR(mask("rediss://:s3cret@h"), "rediss://:***@h");
  CHECK_STR(mask("http://u:s3cret@h"), "http://u:***@h");
  CHECK_STR(mask("redis://user:s3cret"), "redis://user:***");
  CHECK_STR(mask("redis://:s3cret"), "redis://:***");
  CHECK_STR(mask("redis://:s3/cret"), "redis://:***");
  CHECK_STR(mask("redis://[::1]:s3cret"), "redis://[::1]:***");
  CHECK_STR(mask("redis://h/0?password=s3cret"), "redis://h/0?***");
  CHECK_STR(mask("redis://h#s3cret"), "redis://h#***");
  CHECK_STR(mask("redis://:pw@h?pw=x"), "redis://:***@h?***");
  CHECK_STR(mask("redis://h:1?"), "redis://h:1?");
  CHECK_STR(mask("redis://h\x01\n:1/\xff"), "redis://h??:1/?");
  CHECK_STR(mask(""), "");
  CHECK_STR(mask("s3cret"), "s3cret"); /* no structure: nothing to find */
}

int main(void) {
  test_defaults();
  test_parts();
  test_percent();
  test_ipv6();
  test_refused();
  test_mask();
  return check_done("redisurl");
}
