/*
** sha1.c - SHA-1 (see sha1.h): the message padded and processed in 64-byte
** blocks, FIPS 180-4 section 6.1.2.
*/
#include <stdint.h>
#include <string.h>

#include "sha1.h"

static uint32_t rol(uint32_t x, int n) {
  return (x << n) | (x >> (32 - n));
}

static void block(uint32_t h[5], const unsigned char *p) {
  uint32_t w[80], a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f, k, t;
  int i;
  for (i = 0; i < 16; i++)
    w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
           (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
  for (i = 16; i < 80; i++)
    w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
  for (i = 0; i < 80; i++) {
    if (i < 20) {
      f = (b & c) | (~b & d);
      k = 0x5A827999u;
    } else if (i < 40) {
      f = b ^ c ^ d;
      k = 0x6ED9EBA1u;
    } else if (i < 60) {
      f = (b & c) | (b & d) | (c & d);
      k = 0x8F1BBCDCu;
    } else {
      f = b ^ c ^ d;
      k = 0xCA62C1D6u;
    }
    t = rol(a, 5) + f + e + k + w[i];
    e = d;
    d = c;
    c = rol(b, 30);
    b = a;
    a = t;
  }
  h[0] += a;
  h[1] += b;
  h[2] += c;
  h[3] += d;
  h[4] += e;
}

void cv_sha1_hex(const void *data, size_t len, char out[CV_SHA1_HEX_SIZE]) {
  static const char hex[] = "0123456789abcdef";
  uint32_t h[5] = {0x67452301u, 0xEFCDAB89u, 0x98BADCFEu, 0x10325476u,
                   0xC3D2E1F0u};
  const unsigned char *p = (const unsigned char *)data;
  unsigned char last[128];
  uint64_t bits = (uint64_t)len * 8;
  size_t rest, n, i;
  for (; len >= 64; p += 64, len -= 64) block(h, p);
  /* the tail, 0x80, zeros, and the length in bits: one or two blocks */
  rest = len;
  memset(last, 0, sizeof last);
  if (rest > 0) memcpy(last, p, rest);
  last[rest] = 0x80;
  n = rest < 56 ? 64 : 128;
  for (i = 0; i < 8; i++) last[n - 1 - i] = (unsigned char)(bits >> (8 * i));
  block(h, last);
  if (n == 128) block(h, last + 64);
  for (i = 0; i < 20; i++) {
    unsigned v = (unsigned)(h[i / 4] >> (24 - 8 * (i % 4))) & 0xffu;
    out[2 * i] = hex[v >> 4];
    out[2 * i + 1] = hex[v & 15];
  }
  out[40] = '\0';
}
