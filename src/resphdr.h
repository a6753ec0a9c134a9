/*
** resphdr.h - splitting HTTP response header lines.
**
** libcurl hands the header callback one line at a time: status lines
** ("HTTP/1.1 200 OK"), "Name: value" fields, obsolete folded continuation
** lines, and the empty line ending each response.  The session keeps the
** lines of the latest response (a status line starts a new one, so 1xx
** interim responses are dropped) and classifies them with this.  Pure C.
*/
#ifndef CONVAI_RESPHDR_H
#define CONVAI_RESPHDR_H

#include <stddef.h>

typedef enum cv_hdr_kind {
  CV_HDR_IGNORE,   /* empty line, malformed line */
  CV_HDR_STATUS,   /* status line: a new response begins */
  CV_HDR_FIELD,    /* name and value set */
  CV_HDR_CONTINUE  /* obs-fold continuation: value set */
} cv_hdr_kind;

typedef struct cv_hdr_line {
  const char *name;
  size_t nlen;
  const char *value; /* without surrounding whitespace */
  size_t vlen;
} cv_hdr_line;

/* Classify line[0..len) (a trailing CR LF or LF is allowed). */
cv_hdr_kind cv_header_line(const char *line, size_t len, cv_hdr_line *out);

#endif
