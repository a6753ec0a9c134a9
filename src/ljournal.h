/*
** ljournal.h - campaign journal files: an append-only file whose records
** reach the disk (write + fsync), locked against a second process; and
** the digest a journal records to recognise the campaign's input.
**
** core.journal(path) -> journal | nil, message
** journal:append(record) -> true | nil, message   (written whole, fsync'd)
** journal:size() -> bytes;  journal:truncate(bytes) -> true | nil, message
** journal:close(), __gc, __close, __tostring
** core.digest(s) -> 16 hex digits (FNV-1a 64)
*/
#ifndef CONVAI_LJOURNAL_H
#define CONVAI_LJOURNAL_H

#include "compat.h"

#define CV_JOURNAL_MT "convai.journal"

/* Add journal and digest to the table on top. */
void cv_journal_open(lua_State *L);

#endif
