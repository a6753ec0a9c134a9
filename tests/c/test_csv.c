/*
** test_csv.c - the incremental RFC 4180 reader (csv.c).
**
** Every input is parsed whole and in chunks of every size from 1 byte
** up (the result must not depend on how the input is cut), each chunk in
** its own malloc'd block of exactly its size, so that valgrind (or ASan)
** reports any read past the bytes given.  Records are written out as
** "<line>[field][field];" to compare them with the expected text.
*/
#include <stdlib.h>
#include <string.h>

#include "buffer.h"
#include "check.h"
#include "csv.h"

/* Limits for the next parse (0: the default). */
static size_t lim_field, lim_record, lim_fields;

static void put(cv_buf *out, const char *s, size_t n) {
  if (!cv_buf_append(out, s, n)) abort();
}

static void put_record(cv_csv *p, cv_buf *out) {
  char line[32];
  size_t i, n = cv_csv_nfields(p), len;
  snprintf(line, sizeof line, "%zu", cv_csv_line(p));
  put(out, line, strlen(line));
  for (i = 0; i < n; i++) {
    const char *f = cv_csv_field(p, i, &len);
    put(out, "[", 1);
    put(out, f, len);
    put(out, "]", 1);
  }
  put(out, ";", 1);
}

/* Parse s[0..len) in chunks of `chunk` bytes (0: whole); returns the
** records as text or "ERR:<message>", malloc'd. */
static char *parse_n(const char *s, size_t len, size_t chunk) {
  cv_csv p;
  cv_buf out;
  size_t off = 0;
  int r = CV_CSV_MORE;
  char *res;
  cv_csv_init(&p);
  if (lim_field) p.max_field = lim_field;
  if (lim_record) p.max_record = lim_record;
  if (lim_fields) p.max_fields = lim_fields;
  cv_buf_init(&out);
  if (chunk == 0) chunk = len;
  while (off < len && r != CV_CSV_ERROR) {
    size_t n = len - off < chunk ? len - off : chunk, pos = 0, used;
    char *block = (char *)malloc(n);
    if (block == NULL) abort();
    memcpy(block, s + off, n);
    while (pos < n && r != CV_CSV_ERROR) {
      r = cv_csv_next(&p, block + pos, n - pos, &used);
      pos += used;
      if (r == CV_CSV_RECORD) put_record(&p, &out);
    }
    free(block);
    off += n;
  }
  while (r != CV_CSV_ERROR && (r = cv_csv_finish(&p)) == CV_CSV_RECORD)
    put_record(&p, &out);
  if (r == CV_CSV_ERROR) {
    cv_buf_clear(&out);
    put(&out, "ERR:", 4);
    put(&out, cv_csv_error(&p), strlen(cv_csv_error(&p)));
  }
  put(&out, "", 1);
  res = (char *)malloc(out.len);
  if (res == NULL) abort();
  memcpy(res, out.data, out.len);
  cv_buf_free(&out);
  cv_csv_free(&p);
  return res;
}

/* Parse whole and in every chunk size; all must give the same result.
** Returns it (static, overwritten by the next call). */
static const char *parse_len(const char *s, size_t len, int line) {
  static char result[4096];
  char *whole = parse_n(s, len, 0);
  size_t chunk;
  for (chunk = 1; chunk < len && chunk <= 64; chunk++) {
    char *r = parse_n(s, len, chunk);
    CHECK_AT(strcmp(r, whole) == 0, __FILE__, line,
             "chunks of %zu give \"%s\", whole \"%s\"", chunk, r, whole);
    free(r);
  }
  snprintf(result, sizeof result, "%s", whole);
  free(whole);
  return result;
}

#define PARSE(s) parse_len(s, sizeof(s) - 1, __LINE__)
#define CHECK_CSV(s, want) CHECK_STR(PARSE(s), want)

static void test_basic(void) {
  CHECK_CSV("", "");
  CHECK_CSV("a", "1[a];");
  CHECK_CSV("a,b,c\n1,2,3\n", "1[a][b][c];2[1][2][3];");
  CHECK_CSV("a,b\r\n1,2\r\n", "1[a][b];2[1][2];");
  CHECK_CSV("a,b\n1,2", "1[a][b];2[1][2];"); /* no final line break */
  CHECK_CSV("a,b\r\n1,2", "1[a][b];2[1][2];");
  CHECK_CSV("a\rb\r", "1[a];2[b];"); /* lone CR (old Mac files) */
  CHECK_CSV("a\r\rb\n\r\nc", "1[a];3[b];5[c];");
  CHECK_CSV("x\ny\n", "1[x];2[y];");
  CHECK_CSV("a,,c\n,,\n", "1[a][][c];2[][][];");
  CHECK_CSV("a,\n", "1[a][];");
  CHECK_CSV(",\n", "1[][];");
  CHECK_CSV(" a , b \n", "1[ a ][ b ];"); /* nothing trimmed */
  CHECK_CSV("a\tb;c\n", "1[a\tb;c];");
}

static void test_quoted(void) {
  CHECK_CSV("\"x,y\",z\n", "1[x,y][z];");
  CHECK_CSV("\"he said \"\"hi\"\"\",2\n", "1[he said \"hi\"][2];");
  CHECK_CSV("\"\"\"\"\n", "1[\"];");
  CHECK_CSV("\"\",x\n", "1[][x];");
  CHECK_CSV("a,\"\"\n", "1[a][];");
  CHECK_CSV("\"\"", "1[];");
  CHECK_CSV("\"abc\"", "1[abc];");
  CHECK_CSV("\"a\"\r\n\"b\"\r\n", "1[a];2[b];");
  CHECK_CSV("\"a\"\r\"b\"", "1[a];2[b];");
  /* line breaks inside quotes are kept as they are, and counted */
  CHECK_CSV("\"l1\nl2\",x\nnext,y\n", "1[l1\nl2][x];3[next][y];");
  CHECK_CSV("\"l1\r\nl2\",x\r\nnext,y\r\n", "1[l1\r\nl2][x];3[next][y];");
  CHECK_CSV("\"l1\rl2\",x\rnext\r", "1[l1\rl2][x];3[next];");
  CHECK_CSV("\"\n\n\n\"\nz\n", "1[\n\n\n];5[z];");
  CHECK_CSV("\"a,\"\"b\"\",\nc\",\"\"\n", "1[a,\"b\",\nc][];");
  CHECK_CSV("\"\xEF\xBB\xBF\"\n", "1[\xEF\xBB\xBF];"); /* not at the start */
}

static void test_bom_and_empty_lines(void) {
  CHECK_CSV("\xEF\xBB\xBFto,name\n1,2\n", "1[to][name];2[1][2];");
  CHECK_CSV("\xEF\xBB\xBF\"to\",name\r\n", "1[to][name];");
  CHECK_CSV("\xEF\xBB\xBF", "");
  CHECK_CSV("\xEF\xBB\xBF\n\n", "");
  CHECK_CSV("\xEF\xBB\xBF\xEF\xBB\xBF" "a\n", "1[\xEF\xBB\xBF" "a];");
  CHECK_CSV("a\n\xEF\xBB\xBF\n", "1[a];2[\xEF\xBB\xBF];");
  /* a BOM prefix that is another character: U+FEC0 */
  CHECK_CSV("\xEF\xBB\x80x\n", "1[\xEF\xBB\x80x];");
  CHECK_CSV("\xEF\xBC\x8C\n", "1[\xEF\xBC\x8C];"); /* U+FF0C */
  CHECK_CSV("\n\na,b\n\n\r\n1,2\n\n", "3[a][b];6[1][2];");
  CHECK_CSV("\r\n\r\n\r\n", "");
  CHECK_CSV("\n", "");
}

static void test_utf8(void) {
  CHECK_CSV("Zo\xC3\xAB,\xE6\x97\xA5\xE6\x9C\xAC,\xF0\x9F\x98\x80\n",
            "1[Zo\xC3\xAB][\xE6\x97\xA5\xE6\x9C\xAC][\xF0\x9F\x98\x80];");
  CHECK_CSV("\"Zo\xC3\xAB, \xC3\x89lise\"\n", "1[Zo\xC3\xAB, \xC3\x89lise];");
  CHECK_CSV("\xF4\x8F\xBF\xBF\n", "1[\xF4\x8F\xBF\xBF];");   /* U+10FFFF */
  CHECK_CSV("\xEE\x80\x80\n", "1[\xEE\x80\x80];");           /* U+E000 */
  CHECK_CSV("\xED\x9F\xBF\n", "1[\xED\x9F\xBF];");           /* U+D7FF */
  CHECK_CSV("\xC2\x80\xDF\xBF\n", "1[\xC2\x80\xDF\xBF];");
  CHECK_CSV("ok\n\xFF\n", "ERR:line 2: invalid UTF-8 (byte 0xFF); save the "
                          "file as UTF-8");
  CHECK_HAS(PARSE("a,\xC3\n"), "ERR:line 1: invalid UTF-8 (bytes 0xC3 0x0A)");
  CHECK_HAS(PARSE("\xC3,"), "ERR:line 1: invalid UTF-8 (bytes 0xC3 0x2C)");
  CHECK_STR(PARSE("a\nb\xC3"), "ERR:line 2: invalid UTF-8 (the input ends "
                               "inside a character); save the file as UTF-8");
  CHECK_HAS(PARSE("\"x\n\xE2\x82\""), "ERR:line 2: invalid UTF-8 (bytes 0xE2 0x82 0x22)");
  CHECK_HAS(PARSE("\xC0\xAF"), "invalid UTF-8 (byte 0xC0)");     /* overlong */
  CHECK_HAS(PARSE("\xC1\xBF"), "invalid UTF-8 (byte 0xC1)");
  CHECK_HAS(PARSE("\xE0\x80\xAF"), "invalid UTF-8 (bytes 0xE0 0x80)"); /* overlong */
  CHECK_HAS(PARSE("\xED\xA0\x80"), "invalid UTF-8 (bytes 0xED 0xA0)"); /* surrogate */
  CHECK_HAS(PARSE("\xF0\x8F\xBF\xBF"), "invalid UTF-8 (bytes 0xF0 0x8F)");
  CHECK_HAS(PARSE("\xF4\x90\x80\x80"), "invalid UTF-8 (bytes 0xF4 0x90)");
  CHECK_HAS(PARSE("\xF5\x80\x80\x80"), "invalid UTF-8 (byte 0xF5)");
  CHECK_HAS(PARSE("\xF0\x9F\x98x"), "(bytes 0xF0 0x9F 0x98 0x78)");
  CHECK_HAS(PARSE("\xF0\x9F\x98\x80\xF0\x9F\x98\x80\x80"),
            "invalid UTF-8 (byte 0x80)");
  CHECK_HAS(PARSE("a\x80"), "invalid UTF-8 (byte 0x80)");
  CHECK_HAS(PARSE("\xE2\x82"), "ends inside a character");
  CHECK_HAS(PARSE("\xEF\xBB"), "ends inside a character"); /* BOM prefix */
  CHECK_HAS(PARSE("\xEF"), "ends inside a character");
  /* Latin-1 (a classic export mistake) and UTF-16 */
  CHECK_STR(PARSE("to,name\n1,Zo\xEB\n"), "ERR:line 2: invalid UTF-8 (bytes "
                                        "0xEB 0x0A); save the file as UTF-8");
  CHECK_HAS(PARSE("\xE9t\xE9,x"), "ERR:line 1: invalid UTF-8 (bytes 0xE9 0x74)");
  CHECK_HAS(PARSE("\xFF\xFEt\0o\0"), "ERR:line 1: invalid UTF-8 (byte 0xFF)");
}

static void test_nul(void) {
  CHECK_STR(PARSE("a\n\nb\0c\n"), "ERR:line 3: NUL byte (CSV must be UTF-8 "
                                  "text; is the file UTF-16 or binary?)");
  CHECK_HAS(PARSE("\"a\0\""), "ERR:line 1: NUL byte");
  CHECK_HAS(PARSE("\0"), "ERR:line 1: NUL byte");
  CHECK_HAS(PARSE("t\0o\0\n\0"), "ERR:line 1: NUL byte");
}

static void test_errors(void) {
  CHECK_STR(PARSE("a,b\"c\n"),
            "ERR:line 1, field 2: a quote (\") in an unquoted field; quote "
            "the whole field and write its quotes twice (\"\")");
  CHECK_HAS(PARSE("to,name\n1, \"Smith, J\"\n"),
            "ERR:line 2, field 2: a quote");
  CHECK_STR(PARSE("a\nb,\"x\"y\n"),
            "ERR:line 2, field 2: text after the closing quote of a quoted "
            "field (a quote inside a quoted field is written twice: \"\")");
  CHECK_HAS(PARSE("\"x\" \n"), "ERR:line 1, field 1: text after the closing");
  CHECK_STR(PARSE("a\n\"open\nmore\n"),
            "ERR:line 2, field 1: quoted field never closed (no closing "
            "quote before the end of the input)");
  CHECK_HAS(PARSE("a,b\nc,\"d\r\n\r\n"), "ERR:line 2, field 2: quoted field "
                                         "never closed");
  CHECK_HAS(PARSE("\""), "ERR:line 1, field 1: quoted field never closed");
  /* line numbers count breaks inside quoted fields, CRLF as one */
  CHECK_HAS(PARSE("\"a\nb\nc\",x\"\n"), "ERR:line 3, field 2: a quote");
  CHECK_HAS(PARSE("a\r\nb\r\nc\"\r\n"), "ERR:line 3, field 1: a quote");
  CHECK_HAS(PARSE("a\rb\r\"c"), "ERR:line 3, field 1: quoted field never");
  CHECK_HAS(PARSE("\n\n\na,b,\"c\"d"), "ERR:line 4, field 3: text after");
}

static void test_limits(void) {
  lim_field = 4;
  CHECK_CSV("abcd,\"wxyz\"\n", "1[abcd][wxyz];");
  CHECK_CSV("\"a\"\"\"\"\"\n", "1[a\"\"];");
  CHECK_STR(PARSE("ok\nabcde\n"),
            "ERR:line 2, field 1: field longer than 4 bytes");
  CHECK_HAS(PARSE("a,\"ab\ncd\"\n"), "ERR:line 2, field 2: field longer");
  CHECK_HAS(PARSE("\"\"\"\"\"\"\"\"\"\"\"\"\n"), "field longer than 4");
  lim_field = 0;
  lim_record = 6;
  CHECK_CSV("abc,def\n,,,,,,\n", "1[abc][def];2[][][][][][][];");
  CHECK_STR(PARSE("abc,defg\n"), "ERR:line 1: record longer than 6 bytes");
  lim_record = 0;
  lim_fields = 3;
  CHECK_CSV("a,b,c\n,,\n", "1[a][b][c];2[][][];");
  CHECK_STR(PARSE("a,b,c\n1,2,3,4\n"),
            "ERR:line 2: more than 3 fields in a record");
  CHECK_HAS(PARSE(",,,\n"), "ERR:line 1: more than 3 fields");
  CHECK_HAS(PARSE("a,b,c,d"), "ERR:line 1: more than 3 fields");
  CHECK_HAS(PARSE("\"a\nb\",b,c,\"d\""), "ERR:line 1: more than 3 fields");
  lim_fields = 0;
  /* the defaults: 1 MiB per field */
  {
    size_t n = CV_CSV_MAX_FIELD + 4;
    char *s = (char *)malloc(n), *r;
    memset(s, 'x', n);
    s[0] = 'a';
    s[1] = '\n';
    s[n - 1] = '\n';
    r = parse_n(s, n - 1, 0); /* a field of exactly 1 MiB + 1 */
    CHECK_HAS(r, "ERR:line 2, field 1: field longer than 1048576 bytes");
    free(r);
    r = parse_n(s, n - 2, 0); /* exactly 1 MiB */
    CHECK(strncmp(r, "1[a];2[xxx", 10) == 0);
    CHECK_INT(strlen(r), 4 + 3 + CV_CSV_MAX_FIELD + 2);
    free(r);
    free(s);
  }
  {
    /* 4096 fields are fine, 4097 are not */
    size_t n = 2 * CV_CSV_MAX_FIELDS + 2, i;
    char *s = (char *)malloc(n), *r;
    for (i = 0; i < n; i++) s[i] = (i % 2) ? ',' : 'f';
    r = parse_n(s, 2 * CV_CSV_MAX_FIELDS - 1, 0);
    CHECK(strncmp(r, "1[f][f]", 7) == 0);
    free(r);
    r = parse_n(s, 2 * CV_CSV_MAX_FIELDS + 1, 7);
    CHECK_STR(r, "ERR:line 1: more than 4096 fields in a record");
    free(r);
    free(s);
  }
}

/* The calling protocol. */
static void test_api(void) {
  cv_csv p;
  size_t used = 99, len = 99;
  const char *f;
  cv_csv_init(&p);
  CHECK_INT(cv_csv_next(&p, NULL, 0, &used), CV_CSV_MORE);
  CHECK_INT(used, 0);
  CHECK_INT(cv_csv_nfields(&p), 0);
  CHECK(cv_csv_field(&p, 0, &len) == NULL);
  CHECK_INT(len, 0);
  CHECK_STR(cv_csv_error(&p), "");
  CHECK_INT(cv_csv_next(&p, "a,b\nc\nd", 7, &used), CV_CSV_RECORD);
  CHECK_INT(used, 4);
  CHECK_INT(cv_csv_nfields(&p), 2);
  CHECK_INT(cv_csv_line(&p), 1);
  f = cv_csv_field(&p, 1, &len);
  CHECK(len == 1 && f[0] == 'b');
  CHECK(cv_csv_field(&p, 2, &len) == NULL);
  CHECK_INT(cv_csv_next(&p, "c\nd" , 3, &used), CV_CSV_RECORD);
  CHECK_INT(used, 2);
  CHECK_INT(cv_csv_line(&p), 2);
  CHECK_INT(cv_csv_next(&p, "d", 1, &used), CV_CSV_MORE);
  CHECK_INT(used, 1);
  CHECK_INT(cv_csv_nfields(&p), 0); /* the previous record is gone */
  CHECK_INT(cv_csv_finish(&p), CV_CSV_RECORD);
  CHECK_INT(cv_csv_line(&p), 3);
  CHECK_INT(cv_csv_nfields(&p), 1);
  CHECK_INT(cv_csv_finish(&p), CV_CSV_END);
  CHECK_INT(cv_csv_finish(&p), CV_CSV_END);
  CHECK_INT(cv_csv_next(&p, NULL, 0, &used), CV_CSV_MORE);
  CHECK_INT(cv_csv_next(&p, "x", 1, &used), CV_CSV_ERROR);
  CHECK_INT(used, 0);
  CHECK_HAS(cv_csv_error(&p), "data after the end of the input");
  cv_csv_free(&p);
  cv_csv_free(&p); /* idempotent */

  /* errors stick; nothing is consumed after one */
  cv_csv_init(&p);
  CHECK_INT(cv_csv_next(&p, "a\"bc\n", 5, &used), CV_CSV_ERROR);
  CHECK_INT(used, 2);
  CHECK_INT(cv_csv_next(&p, "x\n", 2, &used), CV_CSV_ERROR);
  CHECK_INT(used, 0);
  CHECK_INT(cv_csv_finish(&p), CV_CSV_ERROR);
  CHECK_HAS(cv_csv_error(&p), "line 1, field 1: a quote");
  cv_csv_free(&p);

  /* a record of empty fields only: the buffer may never have grown */
  cv_csv_init(&p);
  CHECK_INT(cv_csv_next(&p, ",\n", 2, &used), CV_CSV_RECORD);
  f = cv_csv_field(&p, 0, &len);
  CHECK(f != NULL && len == 0);
  cv_csv_free(&p);

  /* a BOM split over calls, then an error in the very first byte after */
  cv_csv_init(&p);
  CHECK_INT(cv_csv_next(&p, "\xEF", 1, &used), CV_CSV_MORE);
  CHECK_INT(cv_csv_next(&p, "\xBB", 1, &used), CV_CSV_MORE);
  CHECK_INT(cv_csv_next(&p, "\n", 1, &used), CV_CSV_ERROR);
  CHECK_HAS(cv_csv_error(&p), "line 1: invalid UTF-8 (bytes 0xEF 0xBB 0x0A)");
  cv_csv_free(&p);
}

/* Random records written out as CSV (quoted when needed, random line
** breaks) and read back. */
static unsigned seed = 2024;
static unsigned rnd(unsigned n) {
  seed = seed * 1103515245u + 12345u;
  return (seed >> 16) % n;
}

static void test_round_trip(void) {
  static const char *const atoms[] = {"a", "Zo\xC3\xAB", ",", "\"", "\n",
                                      "\r\n", " ", "\xF0\x9F\x98\x80", "x"};
  int round;
  for (round = 0; round < 200; round++) {
    cv_buf in, want;
    size_t line = 1;
    int nrec = (int)rnd(5), r, nf = 1 + (int)rnd(4);
    char num[32], *got;
    cv_buf_init(&in);
    cv_buf_init(&want);
    for (r = 0; r < nrec; r++) {
      int f;
      snprintf(num, sizeof num, "%zu", line);
      put(&want, num, strlen(num));
      for (f = 0; f < nf; f++) {
        int k, na = (int)rnd(4), quote = (nf == 1 && na == 0) || rnd(2);
        cv_buf field;
        cv_buf_init(&field);
        for (k = 0; k < na; k++) {
          const char *a = atoms[rnd(sizeof atoms / sizeof atoms[0])];
          put(&field, a, strlen(a));
        }
        if (f > 0) put(&in, ",", 1);
        for (k = 0; k < (int)field.len; k++)
          if (strchr(",\"\r\n", field.data[k])) quote = 1;
        if (quote) put(&in, "\"", 1);
        for (k = 0; k < (int)field.len; k++) {
          if (field.data[k] == '"') put(&in, "\"", 1);
          if (field.data[k] == '\n') line++;
          put(&in, field.data + k, 1);
        }
        if (quote) put(&in, "\"", 1);
        put(&want, "[", 1);
        if (field.len) put(&want, field.data, field.len);
        put(&want, "]", 1);
        cv_buf_free(&field);
      }
      put(&want, ";", 1);
      if (rnd(2))
        put(&in, "\r\n", 2);
      else
        put(&in, "\n", 1);
      line++;
    }
    put(&want, "", 1);
    got = parse_n(in.data ? in.data : "", in.len, 0);
    CHECK_AT(strcmp(got, want.data) == 0, __FILE__, __LINE__,
             "round %d: got \"%s\", want \"%s\"", round, got, want.data);
    free(got);
    got = parse_n(in.data ? in.data : "", in.len, 1 + rnd(7));
    CHECK_AT(strcmp(got, want.data) == 0, __FILE__, __LINE__,
             "round %d (chunks): got \"%s\"", round, got);
    free(got);
    cv_buf_free(&in);
    cv_buf_free(&want);
  }
}

/* Random bytes from an alphabet rich in special cases: never a crash, and
** the same answer however the input is cut. */
static void test_random_bytes(void) {
  static const char alphabet[] = "a,\"\r\n\xEF\xBB\xBF\xC3\xA9\x80 ";
  char s[48];
  int round;
  for (round = 0; round < 3000; round++) {
    size_t n = rnd(sizeof s), i;
    char *whole, *cut;
    for (i = 0; i < n; i++) s[i] = alphabet[rnd(sizeof alphabet - 1)];
    whole = parse_n(s, n, 0);
    cut = parse_n(s, n, 1 + rnd(5));
    CHECK_AT(strcmp(whole, cut) == 0, __FILE__, __LINE__,
             "round %d: \"%s\" vs \"%s\"", round, whole, cut);
    free(whole);
    free(cut);
  }
}

int main(void) {
  test_basic();
  test_quoted();
  test_bom_and_empty_lines();
  test_utf8();
  test_nul();
  test_errors();
  test_limits();
  test_api();
  test_round_trip();
  test_random_bytes();
  return check_done("csv");
}
