/*
** errors.h - the one table of convai's error kinds (an X-macro).
**
** Every kind is named once below, in the order core.errors.kinds lists
** them, with the HTTP statuses and the libcurl codes that are that kind.
** Nothing else in convai lists kinds, statuses or codes: the C lookups
** (errors.c: cv_kind_valid, cv_status_kind, cv_curl_kind), the Lua error
** objects and the export core.errors (lerror.c) are made from this table,
** and Lua code and docs/core.md (scripts/errors-doc) read that export.
**
** CV_ERRORS(KIND, STATUS, RANGE, STATUS_OTHER, CURL, CURL_OTHER) expands
** to one macro call per row; an expansion passes a macro for each row
** type it wants and CV_ERR_SKIP* for the others:
**
**   KIND(kind, about)        an error kind: its name (a bare word, the Lua
**                            string) and a one-line description
**   STATUS(kind, status)     this exact HTTP status is `kind`
**   RANGE(kind, first, last) the statuses first..last that no STATUS row
**                            names are `kind`
**   STATUS_OTHER(kind)       any other status outside 200..299 is `kind`
**   CURL(kind, CODE)         libcurl's CURLE_CODE is `kind`
**   CURL_OTHER(kind)         any other libcurl failure is `kind`
**
** A 2xx status and CURLE_OK are not errors.  STATUS_OTHER and CURL_OTHER
** appear once each; the rows of a kind follow its KIND row.  A libcurl
** code is a CURLE_ name without the prefix; the file that expands CURL
** rows includes <curl/curl.h> (this header needs nothing).
**
** CURLE_WRITE_ERROR (23) is `network` as a code; a transfer whose body or
** headers the core refused for their size also ends with 23 and is
** `too_large` (the core knows its own refusal: see response.c).
*/
#ifndef CONVAI_ERRORS_H
#define CONVAI_ERRORS_H

/* clang-format off */
#define CV_ERRORS(KIND, STATUS, RANGE, STATUS_OTHER, CURL, CURL_OTHER)        \
  KIND(invalid_argument, "bad input, found before anything was sent")         \
    CURL(invalid_argument, UNSUPPORTED_PROTOCOL)                              \
    CURL(invalid_argument, URL_MALFORMAT)                                     \
  KIND(auth, "the credentials were refused")                                  \
    STATUS(auth, 401)                                                         \
    STATUS(auth, 403)                                                         \
  KIND(not_found, "no such resource")                                         \
    STATUS(not_found, 404)                                                    \
  KIND(rate_limited, "too many requests: wait (the error's retry_after)")     \
    STATUS(rate_limited, 429)                                                 \
  KIND(unprocessable, "the request was refused as it is")                     \
    STATUS(unprocessable, 400)                                                \
    STATUS(unprocessable, 409)                                                \
    STATUS(unprocessable, 422)                                                \
  KIND(server, "the server failed")                                           \
    RANGE(server, 500, 599)                                                   \
  KIND(http, "an HTTP status that no other kind names")                       \
    STATUS_OTHER(http)                                                        \
  KIND(timeout, "timeout or connect_timeout ran out")                         \
    CURL(timeout, OPERATION_TIMEDOUT)                                         \
  KIND(network, "the transfer failed: name, connection, send or receive")     \
    CURL(network, COULDNT_RESOLVE_PROXY)                                      \
    CURL(network, COULDNT_RESOLVE_HOST)                                       \
    CURL(network, COULDNT_CONNECT)                                            \
    CURL(network, WEIRD_SERVER_REPLY)                                         \
    CURL(network, PARTIAL_FILE)                                               \
    CURL(network, WRITE_ERROR)                                                \
    CURL(network, GOT_NOTHING)                                                \
    CURL(network, SEND_ERROR)                                                 \
    CURL(network, RECV_ERROR)                                                 \
    CURL_OTHER(network)                                                       \
  KIND(tls, "the TLS handshake failed or the certificate was refused")        \
    CURL(tls, SSL_CONNECT_ERROR)                                              \
    CURL(tls, PEER_FAILED_VERIFICATION)                                       \
    CURL(tls, SSL_ENGINE_NOTFOUND)                                            \
    CURL(tls, SSL_ENGINE_SETFAILED)                                           \
    CURL(tls, SSL_CERTPROBLEM)                                                \
    CURL(tls, SSL_CIPHER)                                                     \
    CURL(tls, SSL_ENGINE_INITFAILED)                                          \
    CURL(tls, SSL_CACERT_BADFILE)                                             \
    CURL(tls, SSL_SHUTDOWN_FAILED)                                            \
    CURL(tls, SSL_CRL_BADFILE)                                                \
    CURL(tls, SSL_ISSUER_ERROR)                                               \
    CURL(tls, SSL_PINNEDPUBKEYNOTMATCH)                                       \
    CURL(tls, SSL_INVALIDCERTSTATUS)                                          \
    CURL(tls, SSL_CLIENTCERT)                                                 \
    CURL(tls, USE_SSL_FAILED)                                                 \
  KIND(decode, "a response is not JSON or not the documented shape")          \
  KIND(too_large, "a response over max_body, or headers over 256 KiB")        \
    CURL(too_large, FILESIZE_EXCEEDED)                                        \
  KIND(journal, "a campaign journal cannot be read, written or used")         \
  KIND(store, "a shared limit or campaign store cannot be reached or used")  \
  KIND(internal, "a Lua error inside a batch or campaign task (a bug)")
/* clang-format on */

/* Row types an expansion does not want. */
#define CV_ERR_SKIP1(a)
#define CV_ERR_SKIP2(a, b)
#define CV_ERR_SKIP3(a, b, c)

/* The kinds as an enum, in table order; CV_KIND_COUNT of them. */
#define CV_ERR_ENUM(kind, about) CV_KIND_##kind,
enum {
  CV_ERRORS(CV_ERR_ENUM, CV_ERR_SKIP2, CV_ERR_SKIP3, CV_ERR_SKIP1,
            CV_ERR_SKIP2, CV_ERR_SKIP1) CV_KIND_COUNT
};
#undef CV_ERR_ENUM

/* The names of the kinds, in table order (cv_kind_names[CV_KIND_auth] is
** "auth"), and their one-line descriptions. */
extern const char *const cv_kind_names[CV_KIND_COUNT];
extern const char *const cv_kind_about[CV_KIND_COUNT];

/* 1 if kind is one of the kinds (exactly, lower case). */
int cv_kind_valid(const char *kind);

/* The kind of an HTTP status; NULL for 2xx (success is not an error). */
const char *cv_status_kind(long status);

/* The kind of a libcurl failure (a CURLcode); NULL for CURLE_OK. */
const char *cv_curl_kind(int code);

#endif
