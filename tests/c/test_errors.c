/*
** test_errors.c - the error table (errors.h) and its lookups (errors.c):
** the kinds in their order, HTTP status to kind, libcurl code to kind.
** The expected values are written out here, so a change to the table
** shows up as a failing check.
*/
#include <string.h>

#include <curl/curl.h>

#include "check.h"
#include "errors.h"

static void test_kinds(void) {
  static const char *const want[] = {
      "invalid_argument", "auth",    "not_found", "rate_limited",
      "unprocessable",    "server",  "http",      "timeout",
      "network",          "tls",     "decode",    "too_large",
      "journal",          "store",   "internal"};
  int i;
  CHECK_INT(CV_KIND_COUNT, sizeof want / sizeof want[0]);
  for (i = 0; i < CV_KIND_COUNT && i < (int)(sizeof want / sizeof want[0]);
       i++) {
    CHECK_STR(cv_kind_names[i], want[i]);
    CHECK(cv_kind_valid(want[i]));
    CHECK(cv_kind_about[i] != NULL && cv_kind_about[i][0] != '\0' &&
          strchr(cv_kind_about[i], '\n') == NULL);
  }
  CHECK_STR(cv_kind_names[CV_KIND_auth], "auth");
  CHECK_STR(cv_kind_names[CV_KIND_internal], "internal");
  CHECK(!cv_kind_valid("Auth"));
  CHECK(!cv_kind_valid("bogus"));
  CHECK(!cv_kind_valid(""));
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

static void test_curl(void) {
  CHECK(cv_curl_kind(CURLE_OK) == NULL);
  CHECK_STR(cv_curl_kind(CURLE_UNSUPPORTED_PROTOCOL), "invalid_argument");
  CHECK_STR(cv_curl_kind(CURLE_URL_MALFORMAT), "invalid_argument");
  CHECK_STR(cv_curl_kind(CURLE_OPERATION_TIMEDOUT), "timeout");
  CHECK_STR(cv_curl_kind(CURLE_SSL_CONNECT_ERROR), "tls");
  CHECK_STR(cv_curl_kind(CURLE_PEER_FAILED_VERIFICATION), "tls");
  CHECK_STR(cv_curl_kind(CURLE_SSL_CACERT_BADFILE), "tls");
  CHECK_STR(cv_curl_kind(CURLE_SSL_CERTPROBLEM), "tls");
  CHECK_STR(cv_curl_kind(CURLE_USE_SSL_FAILED), "tls");
  CHECK_STR(cv_curl_kind(CURLE_FILESIZE_EXCEEDED), "too_large");
  CHECK_STR(cv_curl_kind(CURLE_COULDNT_RESOLVE_HOST), "network");
  CHECK_STR(cv_curl_kind(CURLE_COULDNT_CONNECT), "network");
  CHECK_STR(cv_curl_kind(CURLE_WEIRD_SERVER_REPLY), "network");
  CHECK_STR(cv_curl_kind(CURLE_PARTIAL_FILE), "network");
  CHECK_STR(cv_curl_kind(CURLE_WRITE_ERROR), "network");
  CHECK_STR(cv_curl_kind(CURLE_GOT_NOTHING), "network");
  CHECK_STR(cv_curl_kind(CURLE_SEND_ERROR), "network");
  CHECK_STR(cv_curl_kind(CURLE_RECV_ERROR), "network");
  /* codes the table does not name: the CURL_OTHER row */
  CHECK_STR(cv_curl_kind(CURLE_HTTP2), "network");
  CHECK_STR(cv_curl_kind(CURLE_ABORTED_BY_CALLBACK), "network");
  CHECK_STR(cv_curl_kind(9999), "network");
}

/* Exactly one STATUS_OTHER and one CURL_OTHER row (a second one would be
** dead code; a status or code named twice does not compile: two equal
** case labels). */
#define COUNT1(a) +1
static void test_table(void) {
  CHECK_INT(0 CV_ERRORS(CV_ERR_SKIP2, CV_ERR_SKIP2, CV_ERR_SKIP3, COUNT1,
                        CV_ERR_SKIP2, CV_ERR_SKIP1), 1);
  CHECK_INT(0 CV_ERRORS(CV_ERR_SKIP2, CV_ERR_SKIP2, CV_ERR_SKIP3,
                        CV_ERR_SKIP1, CV_ERR_SKIP2, COUNT1), 1);
}

int main(void) {
  test_kinds();
  test_status();
  test_curl();
  test_table();
  return check_done("errors");
}
