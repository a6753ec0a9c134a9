/*
** method.c - idempotent HTTP methods (see method.h).
*/
#include <string.h>

#include "method.h"

int cv_method_idempotent(const char *m, size_t len) {
  static const char *const idempotent[] = {"GET",   "HEAD", "OPTIONS",
                                           "TRACE", "PUT",  "DELETE", NULL};
  int i;
  if (m == NULL) return 0;
  for (i = 0; idempotent[i] != NULL; i++)
    if (strlen(idempotent[i]) == len && memcmp(m, idempotent[i], len) == 0)
      return 1;
  return 0;
}
