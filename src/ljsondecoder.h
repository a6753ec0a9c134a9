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

#endif
