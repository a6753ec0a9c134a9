/*
** errors.c - the lookups of the error table (see errors.h), each made by
** expanding CV_ERRORS: kind names, HTTP status to kind, libcurl code to
** kind.  Pure C: libcurl's header only gives the CURLE_ values.
*/
#include <stddef.h>
#include <string.h>

#include <curl/curl.h>

#include "errors.h"

#define NAME(kind, about) #kind,
#define ABOUT(kind, about) about,
const char *const cv_kind_names[CV_KIND_COUNT] = {
    CV_ERRORS(NAME, CV_ERR_SKIP2, CV_ERR_SKIP3, CV_ERR_SKIP1, CV_ERR_SKIP2,
              CV_ERR_SKIP1)};
const char *const cv_kind_about[CV_KIND_COUNT] = {
    CV_ERRORS(ABOUT, CV_ERR_SKIP2, CV_ERR_SKIP3, CV_ERR_SKIP1, CV_ERR_SKIP2,
              CV_ERR_SKIP1)};
#undef NAME
#undef ABOUT

int cv_kind_valid(const char *kind) {
  int i;
  for (i = 0; i < CV_KIND_COUNT; i++)
    if (strcmp(kind, cv_kind_names[i]) == 0) return 1;
  return 0;
}

/* RFC 9110 section 15: the STATUS rows, then the RANGE rows, then the
** STATUS_OTHER row. */
const char *cv_status_kind(long status) {
  if (status >= 200 && status <= 299) return NULL;
#define EXACT(kind, code) \
  case code:              \
    return #kind;
  switch (status) {
    CV_ERRORS(CV_ERR_SKIP2, EXACT, CV_ERR_SKIP3, CV_ERR_SKIP1, CV_ERR_SKIP2,
              CV_ERR_SKIP1)
    default:
      break;
  }
#undef EXACT
#define WITHIN(kind, first, last) \
  if (status >= first && status <= last) return #kind;
  CV_ERRORS(CV_ERR_SKIP2, CV_ERR_SKIP2, WITHIN, CV_ERR_SKIP1, CV_ERR_SKIP2,
            CV_ERR_SKIP1)
#undef WITHIN
#define OTHER(kind) return #kind;
  CV_ERRORS(CV_ERR_SKIP2, CV_ERR_SKIP2, CV_ERR_SKIP3, OTHER, CV_ERR_SKIP2,
            CV_ERR_SKIP1)
#undef OTHER
}

/* The CURL rows, then the CURL_OTHER row. */
const char *cv_curl_kind(int code) {
  if (code == CURLE_OK) return NULL;
#define CODE(kind, name) \
  case CURLE_##name:     \
    return #kind;
  switch (code) {
    CV_ERRORS(CV_ERR_SKIP2, CV_ERR_SKIP2, CV_ERR_SKIP3, CV_ERR_SKIP1, CODE,
              CV_ERR_SKIP1)
    default:
      break;
  }
#undef CODE
#define OTHER(kind) return #kind;
  CV_ERRORS(CV_ERR_SKIP2, CV_ERR_SKIP2, CV_ERR_SKIP3, CV_ERR_SKIP1,
            CV_ERR_SKIP2, OTHER)
#undef OTHER
}
