/*
** lcsv.c - core.csv (see lcsv.h).
**
** Design note: the reader state (csv.h, which mallocs) lives in a
** userdata whose __gc frees it, created before anything else and kept on
** the stack for the whole call: building the Lua tables may raise (out of
** memory) at any point, and the memory is then released by the
** collector.  On every normal return it is freed at once.  The reader
** gets the whole string in one cv_csv_next call per record; records are
** copied into Lua tables as they come, so the reader never holds more
** than one record.
*/

/*** @module convai.core */

/*** CSV.
The recipients files of campaigns: RFC 4180 CSV with a header line.
@section csv
*/
#include <stdio.h>

#include "csv.h"
#include "lcsv.h"

#define PARSER_MT "convai.csv.parser"

typedef struct parser {
  cv_csv p;
  int live; /* p holds memory to free */
} parser;

static int parser_gc(lua_State *L) {
  parser *u = (parser *)luaL_checkudata(L, 1, PARSER_MT);
  if (u->live) {
    cv_csv_free(&u->p);
    u->live = 0;
  }
  return 0;
}

/* Free the reader and return nil, message (the message is copied first). */
static int fail(lua_State *L, parser *u, const char *msg) {
  lua_pushstring(L, msg);
  cv_csv_free(&u->p);
  u->live = 0;
  luaL_pushfail(L);
  lua_insert(L, -2);
  return 2;
}

/* Push the fields of the current record as a list. */
static void push_fields(lua_State *L, const cv_csv *p) {
  size_t i, n = cv_csv_nfields(p), len;
  lua_createtable(L, (int)n, 0);
  for (i = 0; i < n; i++) {
    const char *f = cv_csv_field(p, i, &len);
    lua_pushlstring(L, f, len);
    lua_rawseti(L, -2, (int)i + 1);
  }
}

/*** Read CSV text (RFC 4180) with a header line.
Quoted fields may hold commas, quotes (`""`) and line breaks; lines end in
CRLF, LF or CR; a UTF-8 BOM at the start is skipped, empty lines are skipped,
nothing is trimmed, and the text must be UTF-8 without NUL bytes.
@function csv.parse
@tparam string text the whole file
@treturn table|nil rows: `{ {line = n, fields = {...}}, ... }` where `line` is
the physical line the record starts on and `fields[i]` the value of column `header[i]`
@treturn table header: the column names, in order, as written
@treturn[2] nil
@treturn[2] string a message starting "line N" that says what is wrong (or that the input is empty)
*/
static int l_parse(lua_State *L) {
  size_t len, off = 0, used, ncols = 0, header_line = 0;
  const char *s = luaL_checklstring(L, 1, &len);
  lua_Integer nrows = 0;
  parser *u;
  int r, have_header = 0;
  lua_settop(L, 1);
  u = (parser *)lua_newuserdatauv(L, sizeof *u, 0); /* 2 */
  u->live = 0;
  luaL_setmetatable(L, PARSER_MT);
  cv_csv_init(&u->p);
  u->live = 1;
  lua_newtable(L); /* 3: rows */
  lua_pushnil(L);  /* 4: header */
  for (;;) {
    if (off < len) {
      r = cv_csv_next(&u->p, s + off, len - off, &used);
      off += used;
      if (r == CV_CSV_MORE) continue;
    } else {
      r = cv_csv_finish(&u->p);
    }
    if (r == CV_CSV_END) break;
    if (r == CV_CSV_ERROR) return fail(L, u, cv_csv_error(&u->p));
    if (!have_header) {
      push_fields(L, &u->p);
      lua_replace(L, 4);
      ncols = cv_csv_nfields(&u->p);
      header_line = cv_csv_line(&u->p);
      have_header = 1;
      continue;
    }
    if (cv_csv_nfields(&u->p) != ncols) {
      char msg[200];
      size_t n = cv_csv_nfields(&u->p);
      snprintf(msg, sizeof msg,
               "line %zu: %zu field%s, but the header (line %zu) has %zu "
               "column%s", cv_csv_line(&u->p), n, n == 1 ? "" : "s",
               header_line, ncols, ncols == 1 ? "" : "s");
      return fail(L, u, msg);
    }
    lua_createtable(L, 0, 2);
    lua_pushinteger(L, (lua_Integer)cv_csv_line(&u->p));
    lua_setfield(L, -2, "line");
    push_fields(L, &u->p);
    lua_setfield(L, -2, "fields");
    lua_rawseti(L, 3, (int)++nrows);
  }
  if (!have_header)
    return fail(L, u, "the CSV is empty: no header line");
  cv_csv_free(&u->p);
  u->live = 0;
  return 2; /* rows, header */
}

void cv_csv_open(lua_State *L) {
  static const luaL_Reg funcs[] = {{"parse", l_parse}, {NULL, NULL}};
  luaL_newmetatable(L, PARSER_MT);
  lua_pushcfunction(L, parser_gc);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);
  luaL_newlib(L, funcs);
  lua_setfield(L, -2, "csv");
}
