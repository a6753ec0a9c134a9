/*
** lcsv.h - core.csv: RFC 4180 CSV with a header line (csv.h).
**
** core.csv.parse(text) -> rows, header | nil, message
**   header: the column names of the first record, in order ({"to",
**   "name", ...}), as written (nothing trimmed, duplicates kept);
**   rows: one table per following record, in order:
**     {line = n, fields = {"+44 7700 900123", "Zo\195\171", ...}}
**   where line is the physical line the record starts on (1-based, as an
**   editor shows it) and fields[i] is the value of column header[i].
**   A record with a different number of fields than the header, an empty
**   input and every reader error (csv.h) give nil and a message starting
**   "line N" (or saying the input is empty).
** Wrong argument types raise.
*/
#ifndef CONVAI_LCSV_H
#define CONVAI_LCSV_H

#include "compat.h"

/* Add the `csv` table to the table on top. */
void cv_csv_open(lua_State *L);

#endif
