/*
** lparsers.h - Lua bindings of the pure C parsers.
**
** Thin wrappers: retry_after (retry_after.c), parse_date/format_date
** (date.c), normalize_phone (phone.c), check_header (httpcheck.c).  Wrong
** argument types raise; bad values return nil, message.
*/
#ifndef CONVAI_LPARSERS_H
#define CONVAI_LPARSERS_H

#include "compat.h"

/* Add the parser functions to the table on top. */
void cv_parsers_open(lua_State *L);

#endif
