/*
** csv.h - an incremental RFC 4180 CSV reader (UTF-8, CRLF or LF).
**
** Design note.  The reader is a byte-at-a-time state machine behind a
** pull interface: the caller hands it any chunk of input and gets back one
** complete record at a time, so a file can be read in pieces of any size
** (down to one byte) with the same result, and nothing ever reads past the
** bytes it was given.  Pure C (no Lua, no I/O); all memory is owned by the
** cv_csv and released by cv_csv_free, which makes it usable from a fuzz
** harness and from a Lua userdata whose __gc calls cv_csv_free.
**
** What is accepted (RFC 4180, plus what real files contain):
**  - fields separated by commas, records ended by CRLF, LF or CR; the last
**    record may lack a line break;
**  - quoted fields ("...") may contain commas, line breaks (kept as they
**    are, CRLF stays CRLF) and quotes written twice ("");
**  - a UTF-8 byte order mark at the very start is skipped; empty lines
**    (outside quoted fields) are skipped; nothing is trimmed.
** What is refused, with the physical line number (1-based, counting
** CRLF, LF and lone CR as one line break each):
**  - a quote inside an unquoted field, text after a closing quote, a
**    quoted field still open at the end of the input;
**  - invalid UTF-8 (overlong forms, surrogates, > U+10FFFF, truncated
**    sequences) and NUL bytes;
**  - a field, record or field count over the limits (hostile input).
** After an error the reader stays failed.
*/
#ifndef CONVAI_CSV_H
#define CONVAI_CSV_H

#include <stddef.h>

#include "buffer.h"

#define CV_CSV_MAX_FIELD ((size_t)1 << 20)   /* bytes in a field: 1 MiB */
#define CV_CSV_MAX_RECORD ((size_t)1 << 24)  /* bytes in a record: 16 MiB */
#define CV_CSV_MAX_FIELDS ((size_t)1 << 12)  /* fields in a record: 4096 */
#define CV_CSV_ERRLEN 256

/* Results of cv_csv_next and cv_csv_finish. */
#define CV_CSV_ERROR (-1) /* cv_csv_error says what and where */
#define CV_CSV_MORE 0     /* every byte given was used: give more */
#define CV_CSV_RECORD 1   /* a record is complete: cv_csv_field etc. */
#define CV_CSV_END 2      /* (cv_csv_finish) no more records */

typedef struct cv_csv {
  /* Limits: cv_csv_init sets the defaults above; lower them if you like. */
  size_t max_field, max_record, max_fields;
  /* Private. */
  int state;          /* where in a record the machine is */
  int bom;            /* BOM bytes matched at the start; -1 once past it */
  int after_cr;       /* previous byte was CR: an LF now is the same break */
  int ready;          /* a record was returned: clear it on the next call */
  int finished;       /* cv_csv_finish returned the last record */
  int failed;
  int utf8_need;      /* continuation bytes still expected */
  unsigned char utf8_lo, utf8_hi; /* range of the next continuation byte */
  unsigned char utf8_seq[3];      /* the character so far (for messages) */
  int utf8_len;
  size_t line;        /* physical line of the current byte */
  size_t record_line; /* line where the current record starts */
  size_t quote_line;  /* line where the current quoted field opened */
  size_t field_start; /* offset in buf of the current field */
  cv_buf buf;         /* the fields of the current record, concatenated */
  size_t *ends;       /* end offset in buf of each completed field */
  size_t nfields, ends_cap;
  char err[CV_CSV_ERRLEN];
} cv_csv;

void cv_csv_init(cv_csv *p);
/* Release the memory; p may then be cv_csv_init'ed again. Idempotent. */
void cv_csv_free(cv_csv *p);

/*
** Read from data[0..len): stops as soon as a record is complete.  Sets
** *used to the bytes consumed and returns CV_CSV_RECORD (call again with
** the rest), CV_CSV_MORE (*used == len) or CV_CSV_ERROR.  data may be NULL
** when len is 0.
*/
int cv_csv_next(cv_csv *p, const char *data, size_t len, size_t *used);

/*
** The input has ended: returns CV_CSV_RECORD for a last record without a
** line break (then CV_CSV_END on the next call), CV_CSV_END, or
** CV_CSV_ERROR (e.g. an unterminated quoted field).
*/
int cv_csv_finish(cv_csv *p);

/* The record just returned (valid until the next call). */
size_t cv_csv_nfields(const cv_csv *p);
/* Field i (0-based, < nfields) and its length; not NUL-terminated. */
const char *cv_csv_field(const cv_csv *p, size_t i, size_t *len);
/* Physical line where the record starts. */
size_t cv_csv_line(const cv_csv *p);

/* The message of the last CV_CSV_ERROR, starting "line N". */
const char *cv_csv_error(const cv_csv *p);

#endif
