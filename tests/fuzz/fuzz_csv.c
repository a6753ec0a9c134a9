/*
** fuzz_csv.c - the incremental CSV reader (src/csv.c).
**
** Input: byte 0 picks the chunk size the reader is fed with (1 to 31
** bytes, or everything at once), byte 1 the limits (the defaults, or small
** ones so that the field, record and field-count limits are reached); the
** rest is the CSV text.  Properties:
**  - chunking never matters: fed in chunks, the reader gives the same
**    records and the same error (message and line) as fed all at once, and
**    never uses more bytes than it was given;
**  - every field is valid UTF-8 without NUL, every record has at least one
**    field, record lines never decrease, an error message starts "line ";
**  - a straightforward reference reader written here (whole input, RFC
**    4180 plus the rules of csv.h) accepts exactly what the reader accepts,
**    with the same rows;
**  - a table read without error, written back as CSV (every field quoted,
**    quotes doubled, LF or CRLF), reads back as the same rows.
*/
#include <string.h>

#include "buffer.h"
#include "csv.h"
#include "fuzz.h"

typedef struct {
  size_t max_field, max_record, max_fields;
} limits;

/* 1 if s[0..n) is well-formed UTF-8 (Unicode table 3-7) without NUL. */
static int utf8_ok(const unsigned char *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    unsigned char c = s[i];
    size_t need, k;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c == 0) return 0;
    if (c < 0x80) { i++; continue; }
    if (c >= 0xC2 && c <= 0xDF) need = 1;
    else if (c >= 0xE0 && c <= 0xEF) {
      need = 2;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      need = 3;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else return 0;
    if (n - i - 1 < need) return 0;
    for (k = 1; k <= need; k++) {
      if (s[i + k] < lo || s[i + k] > hi) return 0;
      lo = 0x80;
      hi = 0xBF;
    }
    i += need + 1;
  }
  return 1;
}

static void put(cv_buf *b, const void *p, size_t n) {
  if (!cv_buf_append(b, p, n)) abort();
}

/* Append the record just read to rows: per field its length and bytes,
** then a record mark. */
static void emit(cv_csv *p, cv_buf *rows, size_t *last_line) {
  size_t i, n = cv_csv_nfields(p), len;
  FUZZ_CHECK(n >= 1, "a record without fields");
  FUZZ_CHECK(cv_csv_line(p) >= *last_line && cv_csv_line(p) >= 1,
             "record line %lu after %lu", (unsigned long)cv_csv_line(p),
             (unsigned long)*last_line);
  *last_line = cv_csv_line(p);
  for (i = 0; i < n; i++) {
    const char *f = cv_csv_field(p, i, &len);
    FUZZ_CHECK(f != NULL, "field %lu is NULL", (unsigned long)i);
    FUZZ_CHECK(utf8_ok((const unsigned char *)f, len),
               "field %lu is not UTF-8", (unsigned long)i);
    put(rows, "F", 1);
    put(rows, &len, sizeof len);
    put(rows, f, len);
  }
  FUZZ_CHECK(cv_csv_field(p, n, &len) == NULL && len == 0, "field past end");
  put(rows, "R", 1);
}

/* Read in[0..len) in chunks (0: all at once) into rows; returns 1 at the
** end of the input, 0 after an error (message in err). */
static int parse(const char *in, size_t len, size_t chunk, const limits *lim,
                 cv_buf *rows, char err[CV_CSV_ERRLEN]) {
  cv_csv p;
  size_t off = 0, last_line = 0;
  int r, ok;
  cv_csv_init(&p);
  p.max_field = lim->max_field;
  p.max_record = lim->max_record;
  p.max_fields = lim->max_fields;
  err[0] = '\0';
  for (;;) {
    size_t n = (chunk == 0 || len - off < chunk) ? len - off : chunk, used;
    r = cv_csv_next(&p, in != NULL ? in + off : NULL, n, &used);
    FUZZ_CHECK(used <= n, "used %lu of %lu", (unsigned long)used,
               (unsigned long)n);
    off += used;
    if (r == CV_CSV_RECORD) {
      FUZZ_CHECK(used > 0, "a record from no input");
      emit(&p, rows, &last_line);
    } else if (r == CV_CSV_ERROR) {
      break;
    } else {
      FUZZ_CHECK(r == CV_CSV_MORE && used == n, "result %d", r);
      if (off == len) {
        while ((r = cv_csv_finish(&p)) == CV_CSV_RECORD)
          emit(&p, rows, &last_line);
        FUZZ_CHECK(r == CV_CSV_END || r == CV_CSV_ERROR, "finish %d", r);
        if (r == CV_CSV_END) {
          FUZZ_CHECK(cv_csv_finish(&p) == CV_CSV_END, "finish twice");
          FUZZ_CHECK(cv_csv_next(&p, NULL, 0, &used) == CV_CSV_MORE,
                     "no input after the end");
        }
        break;
      }
    }
  }
  ok = r != CV_CSV_ERROR;
  if (!ok) {
    const char *m = cv_csv_error(&p);
    FUZZ_CHECK(strncmp(m, "line ", 5) == 0, "message: %s", m);
    FUZZ_CHECK(cv_csv_finish(&p) == CV_CSV_ERROR, "failed reader recovers");
    strcpy(err, m);
  }
  cv_csv_free(&p);
  cv_csv_free(&p); /* idempotent */
  return ok;
}

/* The reference reader: all of s[0..n) at once, rows stored as emit
** stores them.  Returns 1, or 0 for input the rules of csv.h refuse. */
static int reference(const char *s, size_t n, const limits *lim, cv_buf *rows) {
  size_t i = 0, start, nfields, reclen, len;
  cv_buf field;
  if (n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) i = 3;
  if (!utf8_ok((const unsigned char *)s + i, n - i)) return 0;
  cv_buf_init(&field);
  while (i < n) {
    if (s[i] == '\r' || s[i] == '\n') { /* empty line, or LF of CRLF */
      i++;
      continue;
    }
    nfields = reclen = 0;
    for (;;) { /* one field */
      cv_buf_clear(&field);
      if (i < n && s[i] == '"') {
        for (i++;; i++) {
          if (i == n) goto fail; /* never closed */
          if (s[i] == '"') {
            if (i + 1 < n && s[i + 1] == '"') i++; /* "" */
            else break;
          }
          put(&field, s + i, 1);
        }
        i++; /* the closing quote */
        if (i < n && s[i] != ',' && s[i] != '\r' && s[i] != '\n') goto fail;
      } else {
        for (start = i; i < n && s[i] != ',' && s[i] != '\r' && s[i] != '\n'; i++)
          if (s[i] == '"') goto fail;
        if (i > start) put(&field, s + start, i - start);
      }
      len = field.len;
      reclen += len;
      if (len > lim->max_field || reclen > lim->max_record ||
          ++nfields > lim->max_fields)
        goto fail;
      put(rows, "F", 1);
      put(rows, &len, sizeof len);
      if (len) put(rows, field.data, len);
      if (i < n && s[i] == ',') {
        i++;
        continue;
      }
      if (i < n) i++; /* the line break (an LF after CR: an empty line) */
      put(rows, "R", 1);
      break;
    }
  }
  cv_buf_free(&field);
  return 1;
fail:
  cv_buf_free(&field);
  return 0;
}

/* Write rows (as emit stores them) back as CSV, every field quoted. */
static void serialise(const cv_buf *rows, int crlf, cv_buf *out) {
  size_t i = 0, len, k;
  int first = 1;
  while (i < rows->len) {
    if (rows->data[i] == 'R') {
      put(out, crlf ? "\r\n" : "\n", crlf ? 2 : 1);
      first = 1;
      i++;
      continue;
    }
    memcpy(&len, rows->data + i + 1, sizeof len);
    i += 1 + sizeof len;
    if (!first) put(out, ",", 1);
    first = 0;
    put(out, "\"", 1);
    for (k = 0; k < len; k++) {
      if (rows->data[i + k] == '"') put(out, "\"", 1);
      put(out, rows->data + i + k, 1);
    }
    put(out, "\"", 1);
    i += len;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  limits lim = {CV_CSV_MAX_FIELD, CV_CSV_MAX_RECORD, CV_CSV_MAX_FIELDS};
  cv_buf whole, chunked, text, again, ref;
  char e1[CV_CSV_ERRLEN], e2[CV_CSV_ERRLEN], *in;
  size_t chunk, len;
  int ok1, ok2;
  if (size < 2) return 0;
  chunk = data[0] % 32;
  if (data[1] & 1) {
    lim.max_field = 1 + (data[1] >> 1) % 16;
    lim.max_record = 1 + (data[1] >> 3) % 32;
    lim.max_fields = 1 + (data[1] >> 4) % 8;
  }
  len = size - 2;
  in = fuzz_copy(data + 2, len);
  cv_buf_init(&whole);
  cv_buf_init(&chunked);
  ok1 = parse(in, len, 0, &lim, &whole, e1);
  ok2 = parse(in, len, chunk, &lim, &chunked, e2);
  FUZZ_CHECK(ok1 == ok2 && strcmp(e1, e2) == 0 && whole.len == chunked.len &&
                 (whole.len == 0 || memcmp(whole.data, chunked.data, whole.len) == 0),
             "chunks of %lu change the result: %s / %s", (unsigned long)chunk,
             e1, e2);
  cv_buf_init(&ref);
  ok2 = reference(in, len, &lim, &ref);
  FUZZ_CHECK(ok1 == ok2 && (!ok1 || (whole.len == ref.len &&
                                     (ref.len == 0 || memcmp(whole.data, ref.data, ref.len) == 0))),
             "the reference %s (%s)", ok2 ? "reads it differently" : "refuses it", e1);
  cv_buf_free(&ref);
  if (ok1) {
    cv_buf_init(&text);
    cv_buf_init(&again);
    serialise(&whole, data[0] & 0x80, &text);
    ok2 = parse(text.data, text.len, 0, &lim, &again, e2);
    FUZZ_CHECK(ok2 && again.len == whole.len &&
                   (whole.len == 0 || memcmp(whole.data, again.data, whole.len) == 0),
               "written back and read again, the rows differ (%s)", e2);
    cv_buf_free(&text);
    cv_buf_free(&again);
  }
  cv_buf_free(&whole);
  cv_buf_free(&chunked);
  free(in);
  return 0;
}
