/*
** test_quote.c - quoting user input in messages (quote.c): shortened,
** one line, never more than CV_QUOTE_SIZE.
*/
#include <string.h>

#include "check.h"
#include "quote.h"

static void test_quote(void) {
  char q[CV_QUOTE_SIZE];
  cv_quote("abc", 3, q);
  CHECK_STR(q, "\"abc\"");
  cv_quote("a\"b\x01", 4, q);
  CHECK_STR(q, "\"a?b?\"");
  cv_quote("", 0, q);
  CHECK_STR(q, "\"\"");
  cv_quote("0123456789012345678901234567890123456789X", 41, q);
  CHECK_STR(q, "\"0123456789012345678901234567890123456789...\"");
  CHECK_INT(strlen(q) + 1, CV_QUOTE_SIZE);
}

int main(void) {
  test_quote();
  return check_done("quote");
}
