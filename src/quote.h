/*
** quote.h - quoting user input for error messages.
**
** Error messages may echo *non-secret* input (a date, a phone number, a
** header name) so users see what was wrong.  cv_quote makes that safe for a
** one-line message: it wraps the text in double quotes, replaces bytes that
** are not printable ASCII by '?', and truncates long input with "...".
** Never use it on secrets (header values, tokens, URLs).
*/
#ifndef CONVAI_QUOTE_H
#define CONVAI_QUOTE_H

#include <stddef.h>

#define CV_QUOTE_MAX 40                  /* input bytes shown at most */
#define CV_QUOTE_SIZE (CV_QUOTE_MAX + 6) /* quotes, "...", NUL */

/* Write the quoted form of s[0..len) into out (CV_QUOTE_SIZE bytes). */
void cv_quote(const char *s, size_t len, char out[CV_QUOTE_SIZE]);

#endif
