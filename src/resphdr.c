/*
** resphdr.c - response header line splitting (see resphdr.h).
*/
#include <string.h>

#include "httpcheck.h"
#include "resphdr.h"

static int is_ows(char c) { return c == ' ' || c == '\t'; }

cv_hdr_kind cv_header_line(const char *line, size_t len, cv_hdr_line *out) {
  const char *end = line + len, *colon, *v;
  out->name = out->value = NULL;
  out->nlen = out->vlen = 0;
  if (end > line && end[-1] == '\n') end--;
  if (end > line && end[-1] == '\r') end--;
  if (end == line) return CV_HDR_IGNORE;
  if (end - line >= 5 && memcmp(line, "HTTP/", 5) == 0) return CV_HDR_STATUS;
  if (is_ows(*line)) {
    v = line;
  } else {
    colon = (const char *)memchr(line, ':', (size_t)(end - line));
    if (colon == NULL || !cv_is_token(line, (size_t)(colon - line)))
      return CV_HDR_IGNORE;
    out->name = line;
    out->nlen = (size_t)(colon - line);
    v = colon + 1;
  }
  while (v < end && is_ows(*v)) v++;
  while (end > v && is_ows(end[-1])) end--;
  out->value = v;
  out->vlen = (size_t)(end - v);
  return out->name ? CV_HDR_FIELD : CV_HDR_CONTINUE;
}
