/*
** test_resphdr.c - response header line splitting (resphdr.c): status
** lines, fields, folded continuation lines, lines to ignore.
*/
#include <string.h>

#include "check.h"
#include "resphdr.h"

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

int main(void) {
  test_resphdr();
  return check_done("resphdr");
}
