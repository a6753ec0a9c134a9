/*
** response.h - what core.session and core.multi hand back to Lua once
** libcurl has run a transfer: the response table (its `headers` made when
** first read), or nil and an error object whose kind comes from the error
** table (errors.h); and the {requests, connections} counters of stats().
*/
#ifndef CONVAI_RESPONSE_H
#define CONVAI_RESPONSE_H

#include "compat.h"
#include "transfer.h"

/* After libcurl finished with code rc: push the response table (returns
** 1) or fail and an error object (returns 2).  Allocates: call it in a
** protected call. */
int cv_transfer_push_result(lua_State *L, cv_transfer *t, CURLcode rc);

/* The same, for a request made with a decode function (at stack index
** decode): a 2xx body is handed to it, and when it returns a value the
** results are status, value, typed (typed: its second result; returns 3),
** no table made; otherwise (another status, a failed transfer, decode
** returning nil) they are cv_transfer_push_result's.  An error raised by
** decode propagates. */
int cv_transfer_push_decoded(lua_State *L, cv_transfer *t, CURLcode rc,
                             int decode);

/* cv_transfer_setup refused the request with code rc (a URL libcurl cannot
** parse, CURLE_URL_MALFORMAT): push fail and the error object, kind from
** the error table, the message from t->errbuf, curl_code rc and
** request_sent false (nothing was sent); returns 2. */
int cv_setup_error(lua_State *L, cv_transfer *t, CURLcode rc);

/* Push {requests = requests, connections = connections}; returns 1. */
int cv_push_stats(lua_State *L, lua_Integer requests,
                  lua_Integer connections);

#endif
