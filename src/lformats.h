/*
** lformats.h - Lua bindings of the vendors' data formats: Avaamo's
** dd/mm/yyyy dates (date.c) and Vonage's E.164 digits (phone.c).
**
** core.parse_date("dd/mm/yyyy") -> days since 1970-01-01 | nil, message
** core.format_date(days) -> "dd/mm/yyyy" | nil, message
** core.normalize_phone(s) -> digits | nil, message
** Wrong argument types raise.
*/
#ifndef CONVAI_LFORMATS_H
#define CONVAI_LFORMATS_H

#include "compat.h"

/* Add parse_date, format_date and normalize_phone to the table on top. */
void cv_formats_open(lua_State *L);

#endif
