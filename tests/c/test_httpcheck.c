/*
** test_httpcheck.c - request validation (httpcheck.c), response header
** line splitting (resphdr.c), status kinds (status.c), quoting (quote.c)
** and the byte buffer (buffer.c).
*/
#include <string.h>

#include "buffer.h"
#include "check.h"
#include "httpcheck.h"
#include "quote.h"
#include "resphdr.h"
#include "status.h"

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

static cv_hdr_kind line(const char *s, cv_hdr_line *h) {
  return cv_header_line(s, strlen(s), h);
}

static int span_is(const char *p, size_t n, const char *want) {
  return n == strlen(want) && memcmp(p, want, n) == 0;
}

static void test_resphdr(void) {
  cv_hdr_line h;
  CHECK_INT(line("HTTP/1.1 200 OK\r\n", &h), CV_HDR_STATUS);
  CHECK_INT(line("HTTP/2 404\r\n", &h), CV_HDR_STATUS);
  CHECK_INT(line("\r\n", &h), CV_HDR_IGNORE);
  CHECK_INT(line("\n", &h), CV_HDR_IGNORE);
  CHECK_INT(line("", &h), CV_HDR_IGNORE);
  CHECK_INT(line("Content-Type: text/plain\r\n", &h), CV_HDR_FIELD);
  CHECK(span_is(h.name, h.nlen, "Content-Type"));
  CHECK(span_is(h.value, h.vlen, "text/plain"));
  CHECK_INT(line("X-Pad:  \t spaced out \t \r\n", &h), CV_HDR_FIELD);
  CHECK(span_is(h.value, h.vlen, "spaced out"));
  CHECK_INT(line("X-Empty:\r\n", &h), CV_HDR_FIELD);
  CHECK(span_is(h.name, h.nlen, "X-Empty") && h.vlen == 0);
  CHECK_INT(line("X-Colons: a:b:c\n", &h), CV_HDR_FIELD);
  CHECK(span_is(h.value, h.vlen, "a:b:c"));
  CHECK_INT(line("X-NoEOL: v", &h), CV_HDR_FIELD);
  CHECK(span_is(h.value, h.vlen, "v"));
  CHECK_INT(line("  folded value \r\n", &h), CV_HDR_CONTINUE);
  CHECK(h.name == NULL && span_is(h.value, h.vlen, "folded value"));
  CHECK_INT(line("no colon here\r\n", &h), CV_HDR_IGNORE);
  CHECK_INT(line("Bad Name: v\r\n", &h), CV_HDR_IGNORE);
  CHECK_INT(line(": v\r\n", &h), CV_HDR_IGNORE);
  CHECK_INT(line("HTTP", &h), CV_HDR_IGNORE);
}

static void test_status(void) {
  CHECK(cv_status_kind(200) == NULL);
  CHECK(cv_status_kind(204) == NULL);
  CHECK(cv_status_kind(299) == NULL);
  CHECK_STR(cv_status_kind(401), "auth");
  CHECK_STR(cv_status_kind(403), "auth");
  CHECK_STR(cv_status_kind(404), "not_found");
  CHECK_STR(cv_status_kind(429), "rate_limited");
  CHECK_STR(cv_status_kind(400), "unprocessable");
  CHECK_STR(cv_status_kind(409), "unprocessable");
  CHECK_STR(cv_status_kind(422), "unprocessable");
  CHECK_STR(cv_status_kind(500), "server");
  CHECK_STR(cv_status_kind(503), "server");
  CHECK_STR(cv_status_kind(599), "server");
  CHECK_STR(cv_status_kind(405), "http");
  CHECK_STR(cv_status_kind(302), "http");
  CHECK_STR(cv_status_kind(100), "http");
  CHECK_STR(cv_status_kind(600), "http");
  CHECK_STR(cv_status_kind(0), "http");
}

static void test_quote_and_buffer(void) {
  char q[CV_QUOTE_SIZE];
  cv_buf b;
  int i;
  cv_quote("abc", 3, q);
  CHECK_STR(q, "\"abc\"");
  cv_quote("a\"b\x01", 4, q);
  CHECK_STR(q, "\"a?b?\"");
  cv_quote("", 0, q);
  CHECK_STR(q, "\"\"");
  cv_quote("0123456789012345678901234567890123456789X", 41, q);
  CHECK_STR(q, "\"0123456789012345678901234567890123456789...\"");
  CHECK_INT(strlen(q) + 1, CV_QUOTE_SIZE);

  cv_buf_init(&b);
  CHECK(b.data == NULL && b.len == 0);
  CHECK(cv_buf_append(&b, "", 0) && b.len == 0);
  {
    int ok = 1;
    for (i = 0; i < 1000; i++) ok &= cv_buf_append(&b, "0123456789", 10);
    CHECK(ok);
  }
  CHECK_INT(b.len, 10000);
  CHECK(b.cap >= b.len && memcmp(b.data + 9990, "0123456789", 10) == 0);
  cv_buf_clear(&b);
  CHECK(b.len == 0 && b.data != NULL);
  CHECK(cv_buf_append(&b, "abc", 3));
  CHECK(!cv_buf_append(&b, "x", (size_t)-2)); /* size overflow: refused */
  CHECK_INT(b.len, 3);
  cv_buf_free(&b);
  CHECK(b.data == NULL && b.cap == 0);
}

int main(void) {
  test_headers();
  test_url();
  test_method();
  test_resphdr();
  test_status();
  test_quote_and_buffer();
  return check_done("httpcheck");
}
