/*
** ljsondecoder.h - core.json_decoder(shape): decode a response body and
** check (and type) it against the vendor's documented shape in one pass
** over the text (jsondec.h's shapes).
*/
#ifndef CONVAI_LJSONDECODER_H
#define CONVAI_LJSONDECODER_H

#include "compat.h"

/* Add json_decoder to the table on top. */
void cv_jsondecoder_open(lua_State *L);

/* When the function at index fidx is a decoder made by core.json_decoder,
** decode text[0..n) with it (text[n] must be '\0'), as calling it with that
** text would, push its results and return how many (1 or 2); else push
** nothing and return -1.  Raises only a memory error. */
int cv_jsondecoder_call(lua_State *L, int fidx, const char *text, size_t n);

#endif
