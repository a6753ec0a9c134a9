/*
** csv.c - the incremental RFC 4180 reader of csv.h.
**
** Design note: step() takes one byte and is the whole grammar; the public
** functions only feed it, hold back a possible byte order mark at the
** start (replayed as data if it turns out not to be one) and clear the
** previous record lazily, so that a returned record stays readable until
** the next call.  The UTF-8 check runs on every byte before the grammar
** (a streaming validator after the Unicode table of well-formed byte
** sequences), so it sees fields, separators and line breaks alike and
** reports the line of the offending byte.  Field contents go to one
** growable buffer per record; `ends` records where each field stops.
*/
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "csv.h"

enum {
  S_LINE,   /* between records: empty lines and the LF of CRLF skipped */
  S_FIELD,  /* at the start of a field after a comma */
  S_PLAIN,  /* in an unquoted field */
  S_QUOTED, /* in a quoted field */
  S_QUOTE   /* in a quoted field, just after a quote: end or "" */
};

static const unsigned char BOM[3] = {0xEF, 0xBB, 0xBF};

void cv_csv_init(cv_csv *p) {
  p->max_field = CV_CSV_MAX_FIELD;
  p->max_record = CV_CSV_MAX_RECORD;
  p->max_fields = CV_CSV_MAX_FIELDS;
  p->state = S_LINE;
  p->bom = 0;
  p->after_cr = p->ready = p->finished = p->failed = 0;
  p->utf8_need = 0;
  p->utf8_lo = 0x80;
  p->utf8_hi = 0xBF;
  p->utf8_len = 0;
  p->line = p->record_line = p->quote_line = 1;
  p->field_start = 0;
  cv_buf_init(&p->buf);
  p->ends = NULL;
  p->nfields = p->ends_cap = 0;
  p->err[0] = '\0';
}

void cv_csv_free(cv_csv *p) {
  cv_buf_free(&p->buf);
  free(p->ends);
  p->ends = NULL;
  p->nfields = p->ends_cap = 0;
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static int fail(cv_csv *p, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(p->err, sizeof p->err, fmt, ap);
  va_end(ap);
  p->failed = 1;
  return CV_CSV_ERROR;
}

/* Feed one byte to the UTF-8 validator: 0 if it cannot come here. */
static int utf8_ok(cv_csv *p, unsigned char c) {
  if (p->utf8_need > 0) {
    if (c < p->utf8_lo || c > p->utf8_hi) return 0;
    p->utf8_need--;
    p->utf8_lo = 0x80;
    p->utf8_hi = 0xBF;
    if (p->utf8_need == 0)
      p->utf8_len = 0; /* complete */
    else
      p->utf8_seq[p->utf8_len++] = c; /* at most lead + 2 */
    return 1;
  }
  if (c < 0x80) return 1;
  p->utf8_seq[0] = c;
  p->utf8_len = 1;
  if (c >= 0xC2 && c <= 0xDF) {
    p->utf8_need = 1;
  } else if (c >= 0xE0 && c <= 0xEF) {
    p->utf8_need = 2;
    if (c == 0xE0) p->utf8_lo = 0xA0; /* no overlong forms */
    if (c == 0xED) p->utf8_hi = 0x9F; /* no surrogates */
  } else if (c >= 0xF0 && c <= 0xF4) {
    p->utf8_need = 3;
    if (c == 0xF0) p->utf8_lo = 0x90; /* no overlong forms */
    if (c == 0xF4) p->utf8_hi = 0x8F; /* nothing above U+10FFFF */
  } else {
    return 0; /* continuation byte, C0/C1 (overlong), F5..FF */
  }
  return 1;
}

static int append(cv_csv *p, unsigned char c) {
  char ch = (char)c;
  if (p->buf.len - p->field_start >= p->max_field)
    return fail(p, "line %zu, field %zu: field longer than %zu bytes",
                p->line, p->nfields + 1, p->max_field);
  if (p->buf.len >= p->max_record)
    return fail(p, "line %zu: record longer than %zu bytes", p->line,
                p->max_record);
  if (!cv_buf_append(&p->buf, &ch, 1))
    return fail(p, "line %zu: out of memory", p->line);
  return CV_CSV_MORE;
}

static int end_field(cv_csv *p) {
  if (p->nfields >= p->max_fields)
    return fail(p, "line %zu: more than %zu fields in a record",
                p->record_line, p->max_fields);
  if (p->nfields == p->ends_cap) {
    size_t cap = p->ends_cap ? p->ends_cap * 2 : 16;
    size_t *e;
    if (cap > p->max_fields) cap = p->max_fields;
    e = (size_t *)realloc(p->ends, cap * sizeof *e);
    if (e == NULL) return fail(p, "line %zu: out of memory", p->line);
    p->ends = e;
    p->ends_cap = cap;
  }
  p->ends[p->nfields++] = p->buf.len;
  p->field_start = p->buf.len;
  return CV_CSV_MORE;
}

static int end_record(cv_csv *p) {
  if (end_field(p) == CV_CSV_ERROR) return CV_CSV_ERROR;
  p->state = S_LINE;
  p->ready = 1;
  return CV_CSV_RECORD;
}

static int is_break(unsigned char c) { return c == '\r' || c == '\n'; }

/* The first byte of a field (after a comma, or the first of a record). */
static int field_byte(cv_csv *p, unsigned char c) {
  if (c == '"') {
    p->quote_line = p->line;
    p->state = S_QUOTED;
    return CV_CSV_MORE;
  }
  if (c == ',') {
    p->state = S_FIELD;
    return end_field(p);
  }
  if (is_break(c)) return end_record(p);
  p->state = S_PLAIN;
  return append(p, c);
}

/* The grammar, one byte at a time. */
static int grammar(cv_csv *p, unsigned char c) {
  switch (p->state) {
  case S_LINE:
    if (is_break(c)) return CV_CSV_MORE; /* empty line, or LF of CRLF */
    p->record_line = p->line;
    return field_byte(p, c);
  case S_FIELD:
    return field_byte(p, c);
  case S_PLAIN:
    if (c == ',') {
      p->state = S_FIELD;
      return end_field(p);
    }
    if (is_break(c)) return end_record(p);
    if (c == '"')
      return fail(p, "line %zu, field %zu: a quote (\") in an unquoted "
                     "field; quote the whole field and write its quotes "
                     "twice (\"\")", p->line, p->nfields + 1);
    return append(p, c);
  case S_QUOTED:
    if (c == '"') {
      p->state = S_QUOTE;
      return CV_CSV_MORE;
    }
    return append(p, c);
  default: /* S_QUOTE */
    if (c == '"') {
      p->state = S_QUOTED;
      return append(p, c);
    }
    if (c == ',') {
      p->state = S_FIELD;
      return end_field(p);
    }
    if (is_break(c)) return end_record(p);
    return fail(p, "line %zu, field %zu: text after the closing quote of a "
                   "quoted field (a quote inside a quoted field is written "
                   "twice: \"\")", p->line, p->nfields + 1);
  }
}

/* "invalid UTF-8 (bytes 0xE9 0x2C)": the character so far and c. */
static int bad_utf8(cv_csv *p, unsigned char c) {
  char bytes[32];
  int i, n = 0;
  for (i = 0; i < p->utf8_len && p->utf8_need > 0; i++)
    n += snprintf(bytes + n, sizeof bytes - (size_t)n, "0x%02X ",
                  (unsigned)p->utf8_seq[i]);
  snprintf(bytes + n, sizeof bytes - (size_t)n, "0x%02X", (unsigned)c);
  return fail(p, "line %zu: invalid UTF-8 (byte%s %s); save the file as "
                 "UTF-8", p->line, n > 0 ? "s" : "", bytes);
}

static int step(cv_csv *p, unsigned char c) {
  int r;
  if (c == '\0')
    return fail(p, "line %zu: NUL byte (CSV must be UTF-8 text; is the file "
                   "UTF-16 or binary?)", p->line);
  if (!utf8_ok(p, c)) return bad_utf8(p, c);
  r = grammar(p, c);
  if (c == '\r' || (c == '\n' && !p->after_cr)) p->line++;
  p->after_cr = c == '\r';
  return r;
}

/* The start was a prefix of the BOM but not all of it: those bytes are
** data.  They are never line breaks, so they cannot complete a record. */
static int replay_bom(cv_csv *p) {
  int i, n = p->bom, r = CV_CSV_MORE;
  p->bom = -1;
  for (i = 0; i < n && r == CV_CSV_MORE; i++) r = step(p, BOM[i]);
  return r;
}

static void clear_record(cv_csv *p) {
  if (!p->ready) return;
  cv_buf_clear(&p->buf);
  p->nfields = 0;
  p->field_start = 0;
  p->ready = 0;
}

int cv_csv_next(cv_csv *p, const char *data, size_t len, size_t *used) {
  size_t i;
  *used = 0;
  if (p->failed) return CV_CSV_ERROR;
  clear_record(p);
  if (p->finished) {
    if (len == 0) return CV_CSV_MORE;
    return fail(p, "line %zu: data after the end of the input", p->line);
  }
  for (i = 0; i < len; i++) {
    unsigned char c = (unsigned char)data[i];
    int r;
    if (p->bom >= 0) {
      if (c == BOM[p->bom]) {
        if (++p->bom == 3) p->bom = -1;
        continue;
      }
      if (replay_bom(p) == CV_CSV_ERROR) {
        *used = i;
        return CV_CSV_ERROR;
      }
    }
    r = step(p, c);
    if (r != CV_CSV_MORE) {
      *used = i + 1;
      return r;
    }
  }
  *used = len;
  return CV_CSV_MORE;
}

int cv_csv_finish(cv_csv *p) {
  if (p->failed) return CV_CSV_ERROR;
  clear_record(p);
  if (p->finished) return CV_CSV_END;
  if (p->bom > 0 && replay_bom(p) == CV_CSV_ERROR) return CV_CSV_ERROR;
  p->bom = -1;
  if (p->utf8_need > 0)
    return fail(p, "line %zu: invalid UTF-8 (the input ends inside a "
                   "character); save the file as UTF-8", p->line);
  p->finished = 1;
  switch (p->state) {
  case S_LINE:
    return CV_CSV_END;
  case S_QUOTED:
    return fail(p, "line %zu, field %zu: quoted field never closed (no "
                   "closing quote before the end of the input)",
                p->quote_line, p->nfields + 1);
  default:
    return end_record(p);
  }
}

size_t cv_csv_nfields(const cv_csv *p) { return p->ready ? p->nfields : 0; }

const char *cv_csv_field(const cv_csv *p, size_t i, size_t *len) {
  size_t start;
  if (!p->ready || i >= p->nfields) {
    *len = 0;
    return NULL;
  }
  start = i == 0 ? 0 : p->ends[i - 1];
  *len = p->ends[i] - start;
  return p->buf.data != NULL ? p->buf.data + start : "";
}

size_t cv_csv_line(const cv_csv *p) { return p->record_line; }

const char *cv_csv_error(const cv_csv *p) {
  return p->failed ? p->err : "";
}
