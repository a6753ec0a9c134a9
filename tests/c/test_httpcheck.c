/*
** test_httpcheck.c - request validation (httpcheck.c): header fields,
** URLs and method tokens, with messages that never show a header value.
*/
#include <string.h>

#include "check.h"
#include "httpcheck.h"

static char err[256];

static int hdr(const char *name, const char *value) {
  err[0] = '\0';
  return cv_check_header(name, strlen(name), value, strlen(value), err,
                         sizeof err);
}

static void test_headers(void) {
  CHECK(hdr("Authorization", "Bearer abc.def-123"));
  CHECK(hdr("X-Api-Key", ""));
  CHECK(hdr("Content-Type", "application/json; charset=utf-8"));
  CHECK(hdr("X_weird!#$%&'*+-.^_`|~1", "v"));
  CHECK(hdr("X-Tab", "a\tb"));
  CHECK(hdr("X-Utf8", "caf\xc3\xa9"));

  CHECK(!hdr("Authorization", "Bearer secret-token\r\n"));
  CHECK_STR(err, "header 'Authorization' value contains CR, LF or NUL; "
                 "remove line breaks from the value");
  CHECK_LACKS(err, "secret-token");
  CHECK(!hdr("Authorization", "Bearer s3cr3t\nX-Injected: 1"));
  CHECK_LACKS(err, "s3cr3t");
  CHECK_LACKS(err, "Injected");
  CHECK(!hdr("X-Key", "abc\rdef"));
  CHECK_HAS(err, "'X-Key'");
  CHECK(!cv_check_header("X-Key", 5, "ab\0cd", 5, err, sizeof err));
  CHECK_HAS(err, "CR, LF or NUL");

  CHECK(!hdr("", "v"));
  CHECK_STR(err, "header name is empty");
  CHECK(!hdr("Bad Name", "v"));
  CHECK_HAS(err, "\"Bad Name\" is not a valid token");
  CHECK(!hdr("Bad:Name", "v"));
  CHECK(!hdr("X-Line\r\nInjected", "v"));
  CHECK_HAS(err, "\"X-Line??Injected\""); /* shown escaped, one line */
  CHECK(strchr(err, '\n') == NULL && strchr(err, '\r') == NULL);
  CHECK(!hdr("(x)", "v"));
  CHECK(!hdr("X-\xc3\xa9", "v"));
  CHECK(!cv_check_header("X\0Y", 3, "v", 1, err, sizeof err));
  CHECK_HAS(err, "\"X?Y\"");
  /* a very long valid name is shortened in the value message */
  {
    char name[200];
    memset(name, 'a', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    CHECK(!hdr(name, "x\n"));
    CHECK(strlen(err) < 160);
  }
}

static int url(const char *s) {
  err[0] = '\0';
  return cv_check_url(s, strlen(s), err, sizeof err);
}

static void test_url(void) {
  CHECK(url("http://127.0.0.1:8080/x?y=1"));
  CHECK(url("https://api.example.com/v1/messages"));
  CHECK(url("HTTPS://API.EXAMPLE.COM/"));
  CHECK(url("http://[::1]:80/"));
  CHECK(!url("ftp://example.com/"));
  CHECK_STR(err, "url must start with http:// or https://");
  CHECK(!url("example.com"));
  CHECK(!url("http:/example.com"));
  CHECK(!url(""));
  CHECK(!url("http://"));
  CHECK_STR(err, "url has no host");
  CHECK(!url("https:///path"));
  CHECK(!url("https://example.com/a b"));
  CHECK_HAS(err, "a space at position 22");
  CHECK(!url("https://example.com/?key=SECRET\r\n"));
  CHECK_HAS(err, "line break");
  CHECK_LACKS(err, "SECRET");
  CHECK(!url("https://example.com/\x01"));
  CHECK_HAS(err, "control character");
  CHECK(!url("https://example.com/\x7f"));
  CHECK(!cv_check_url("https://a/\0b", 12, err, sizeof err));
  CHECK_HAS(err, "NUL");
  CHECK(!url(" https://example.com/"));
  CHECK(!url("https://example.com/caf\xc3\xa9"));
  CHECK_HAS(err, "non-ASCII byte at position 24");
  CHECK_HAS(err, "percent-encode");
  CHECK(url("https://example.com/caf%C3%A9"));
  { /* every byte at every place of the path (eight bytes at a time, then
    ** one by one): accepted as it is exactly from 0x21 to 0x7E, and the
    ** error gives its position */
    int c, at;
    for (at = 9; at < 35; at++) {
      for (c = 0; c < 256; c++) {
        char u[] = "http://h/abcdefghijklmnopq?r=stuvwx";
        int ok = c >= 0x21 && c <= 0x7e;
        char pos[32];
        u[at] = (char)c;
        CHECK(cv_check_url(u, sizeof u - 1, err, sizeof err) == ok);
        snprintf(pos, sizeof pos, "at position %d", at + 1);
        if (!ok) CHECK_HAS(err, pos);
      }
    }
  }
}

static int method(const char *s) {
  return cv_check_method(s, strlen(s), err, sizeof err);
}

static void test_method(void) {
  CHECK(method("GET") && method("POST") && method("PATCH") &&
        method("M-SEARCH"));
  CHECK(!method(""));
  CHECK_STR(err, "method is empty");
  CHECK(!method("GET /evil HTTP/1.1\r\nX:"));
  CHECK_HAS(err, "not a valid HTTP method token");
  CHECK(!method("G T"));
  CHECK(cv_is_token("a", 1) && !cv_is_token("", 0) && !cv_is_token("a b", 3));
  CHECK(!cv_is_token("a\0", 2));
}

int main(void) {
  test_headers();
  test_url();
  test_method();
  return check_done("httpcheck");
}
