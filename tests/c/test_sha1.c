/*
** test_sha1.c - SHA-1 (sha1.c): the FIPS 180 examples, the padding
** boundaries, and the name Redis gives a script.
*/
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "sha1.h"

static const char *sha(const char *s, size_t len) {
  static char out[CV_SHA1_HEX_SIZE];
  cv_sha1_hex(s, len, out);
  return out;
}

#define SHA(s) sha(s, strlen(s))

static void test_vectors(void) {
  char *million = (char *)malloc(1000000);
  CHECK_STR(SHA(""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  CHECK_STR(SHA("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
  CHECK_STR(SHA("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
  CHECK_STR(SHA("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
                "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"),
            "a49b2446a02c645bf419f995b67091253a04a259");
  CHECK_STR(SHA("The quick brown fox jumps over the lazy dog"),
            "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12");
  if (million != NULL) {
    memset(million, 'a', 1000000);
    CHECK_STR(sha(million, 1000000),
              "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
    free(million);
  }
}

/* 55, 56, 63 and 64 bytes: the length fits the last block or needs one
** more (values from sha1sum). */
static void test_padding(void) {
  char a[129];
  memset(a, 'a', sizeof a);
  CHECK_STR(sha(a, 55), "c1c8bbdc22796e28c0e15163d20899b65621d65a");
  CHECK_STR(sha(a, 56), "c2db330f6083854c99d4b5bfb6e8f29f201be699");
  CHECK_STR(sha(a, 63), "03f09f5b158a7a8cdad920bddc29b81c18a551f5");
  CHECK_STR(sha(a, 64), "0098ba824b5c16427bd7a1122a5a442a25ec644d");
  CHECK_STR(sha(a, 119), "ee971065aaa017e0632a8ca6c77bb3bf8b1dfc56");
  CHECK_STR(sha(a, 120), "f34c1488385346a55709ba056ddd08280dd4c6d6");
  CHECK_STR(sha(a, 128), "ad5b3fdbcb526778c2839d2f151ea753995e26a0");
}

/* What redis-cli SCRIPT LOAD "return 1" answers. */
static void test_redis_script(void) {
  CHECK_STR(SHA("return 1"), "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
}

int main(void) {
  test_vectors();
  test_padding();
  test_redis_script();
  return check_done("sha1");
}
