/*
** sha1.h - SHA-1 (FIPS 180-4), for naming Lua scripts the way Redis does.
**
** Redis names a script by the SHA-1 of its text (EVALSHA, SCRIPT LOAD):
** computing it here lets the Redis client send EVALSHA first without
** asking the server (lredis.c).  Not for security.  Pure C.
*/
#ifndef CONVAI_SHA1_H
#define CONVAI_SHA1_H

#include <stddef.h>

#define CV_SHA1_HEX_SIZE 41 /* 40 lowercase hex digits and a NUL */

/* The SHA-1 of data[0..len) as 40 lowercase hex digits, NUL-terminated. */
void cv_sha1_hex(const void *data, size_t len, char out[CV_SHA1_HEX_SIZE]);

#endif
