/*
** status.c - HTTP status to error kind (see status.h).
*/
#include <stddef.h>

#include "status.h"

const char *cv_status_kind(long status) {
  if (status >= 200 && status <= 299) return NULL;
  switch (status) {
    case 401: case 403: return "auth";
    case 404: return "not_found";
    case 429: return "rate_limited";
    case 400: case 409: case 422: return "unprocessable";
    default: break;
  }
  if (status >= 500 && status <= 599) return "server";
  return "http";
}
