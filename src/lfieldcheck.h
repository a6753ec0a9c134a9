/*
** lfieldcheck.h - core.field_checker(fields) -> check: a fast test of the
** types of a decoded object's fields, for the clients' response-shape
** checks.
**
** fields: an array of {name, type}, type one of "integer", "number",
** "number?", "float?", "string", "boolean", "table" (raises otherwise).
** check(t, ...) -> true when every table passes, else false (never
** raises); "float?" fields holding an integer are made floats, only when
** every table passes.
*/
#ifndef CONVAI_LFIELDCHECK_H
#define CONVAI_LFIELDCHECK_H

#include "compat.h"

/* Add field_checker to the table on top. */
void cv_fieldcheck_open(lua_State *L);

#endif
