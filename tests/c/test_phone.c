/*
** test_phone.c - phone number normalisation (phone.c).
*/
#include <string.h>

#include "check.h"
#include "phone.h"

static char out[CV_PHONE_MAX_DIGITS + 1], err[256];

static const char *norm(const char *s) {
  strcpy(out, "unchanged");
  err[0] = '\0';
  if (!cv_normalize_phone(s, strlen(s), out, err, sizeof err)) return NULL;
  return out;
}

static void test_ok(void) {
  CHECK_STR(norm("+44 7700 900123"), "447700900123");
  CHECK_STR(norm("0044 7700 900123"), "447700900123");
  CHECK_STR(norm("(44) 7700-900123"), "447700900123");
  CHECK_STR(norm("447700900123"), "447700900123");
  CHECK_STR(norm("+1 (555) 010-9999"), "15550109999");
  CHECK_STR(norm("+49.30.123456"), "4930123456");
  CHECK_STR(norm("  +44 7700 900123\t"), "447700900123");
  CHECK_STR(norm("+ 44 7700 900123"), "447700900123");
  CHECK_STR(norm("12345678"), "12345678");               /* 8 digits */
  CHECK_STR(norm("123456789012345"), "123456789012345"); /* 15 digits */
  CHECK_STR(norm("00123456789012345"), "123456789012345"); /* 00 + 15 */
}

static void test_length(void) {
  CHECK(norm("12345") == NULL);
  CHECK_STR(err, "phone number must have 8 to 15 digits including the "
                 "country code, got 5");
  CHECK(norm("1234567") == NULL);
  CHECK_HAS(err, "got 7");
  CHECK(norm("1234567890123456") == NULL);
  CHECK_HAS(err, "got 16");
  CHECK(norm("00 1234567") == NULL); /* the 00 prefix does not count */
  CHECK_HAS(err, "got 7");
  CHECK(norm("12345678901234567890123456789012345678901234567890") == NULL);
  CHECK_HAS(err, "got 50");
  CHECK(norm("+") == NULL);
  CHECK_HAS(err, "got 0");
  CHECK(norm("() - .") == NULL);
  CHECK_HAS(err, "got 0");
  CHECK(norm("") == NULL);
  CHECK_STR(err, "phone number is empty");
  CHECK(norm("   ") == NULL);
  CHECK_STR(err, "phone number is empty");
}

static void test_bad_chars(void) {
  CHECK(norm("+44 7700 9001AB") == NULL);
  CHECK_HAS(err, "letter 'A'");
  CHECK(norm("1-800-FLOWERS") == NULL);
  CHECK_HAS(err, "letter 'F'");
  CHECK(norm("+44#7700900123") == NULL);
  CHECK_HAS(err, "character '#'");
  CHECK(norm("447700900123/4") == NULL);
  CHECK_HAS(err, "character '/'");
  CHECK(norm("44 7700+900123") == NULL);
  CHECK_STR(err, "'+' is only allowed at the start of a phone number");
  CHECK(norm("++447700900123") == NULL);
  CHECK_HAS(err, "'+' is only allowed at the start");
  CHECK(norm("4477\n00900123") == NULL);
  CHECK_HAS(err, "byte 0x0A");
  CHECK(norm("4477\xc3\xa9" "00900123") == NULL); /* UTF-8 e-acute */
  CHECK_HAS(err, "byte 0xC3");
  {
    char o[CV_PHONE_MAX_DIGITS + 1];
    CHECK(!cv_normalize_phone("4477\0" "00900123", 13, o, err, sizeof err));
    CHECK_HAS(err, "byte 0x00");
  }
}

static void test_national(void) {
  CHECK(norm("07700 900123") == NULL);
  CHECK_HAS(err, "must start with the country code");
  CHECK(norm("+0044 7700 900123") == NULL); /* "+" then "00": not a prefix */
  CHECK_HAS(err, "country code");
  CHECK(norm("000447700900123") == NULL);   /* 00 then 0 */
  CHECK_HAS(err, "country code");
}

int main(void) {
  test_ok();
  test_length();
  test_bad_chars();
  test_national();
  return check_done("phone");
}
