/*
** test_method.c - which HTTP methods are idempotent (method.c): the
** others get a fresh connection so libcurl never sends them twice.
*/
#include <string.h>

#include "check.h"
#include "method.h"

static int idem(const char *m) { return cv_method_idempotent(m, strlen(m)); }

int main(void) {
  /* RFC 9110 section 9.2.2: the safe methods, PUT and DELETE */
  CHECK(idem("GET"));
  CHECK(idem("HEAD"));
  CHECK(idem("OPTIONS"));
  CHECK(idem("TRACE"));
  CHECK(idem("PUT"));
  CHECK(idem("DELETE"));
  /* not idempotent: a retry may act twice */
  CHECK(!idem("POST"));
  CHECK(!idem("PATCH"));
  CHECK(!idem("CONNECT"));
  CHECK(!idem("PURGE")); /* extension methods: assume the worst */
  CHECK(!idem("get"));   /* methods are case-sensitive */
  CHECK(!idem("Get"));
  CHECK(!idem(""));
  CHECK(!idem("GETX"));
  CHECK(!cv_method_idempotent("GETX", 2)); /* "GE" is not a method */
  CHECK(cv_method_idempotent("GETX", 3));       /* the length is honoured */
  CHECK(!cv_method_idempotent("PUT\0", 4));
  CHECK(!cv_method_idempotent(NULL, 0));
  return check_done("method");
}
