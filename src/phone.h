/*
** phone.h - normalising human-typed phone numbers for Vonage.
**
** Vonage wants E.164 numbers as digits only, without "+".  People type
** "+44 7700 900123", "0044 7700 900123", "(44) 7700-900123" ...  This
** accepts an optional leading "+" or "00" international prefix, and spaces,
** dots, hyphens and parentheses as separators; everything else is an error
** with a message that says what is wrong.  Pure C.
*/
#ifndef CONVAI_PHONE_H
#define CONVAI_PHONE_H

#include <stddef.h>

#define CV_PHONE_MIN_DIGITS 8
#define CV_PHONE_MAX_DIGITS 15

/*
** Normalise s[0..len).  Returns 1 and writes the NUL-terminated digits
** into out (CV_PHONE_MAX_DIGITS + 1 bytes), or 0 and writes a message
** (truncated to errlen) into err.
*/
int cv_normalize_phone(const char *s, size_t len,
                       char out[CV_PHONE_MAX_DIGITS + 1], char *err,
                       size_t errlen);

#endif
