/*
** bench.h - shared pieces of the plain-C contenders (bench/c/seq.c, bench/c/multi.c): the practical
** limit of doing convai's work by hand on libcurl and cJSON (Debian's libcjson). A response buffer,
** the monotonic clock, the environment, and the typed decoding of the two documented bodies, with the
** same checks convai makes (integers are integers, booleans are booleans, 9 slices).
*/
#ifndef BENCH_H
#define BENCH_H

#include <cJSON.h>
#include <curl/curl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
  char *data;
  size_t len, cap;
} buf;

static inline size_t buf_write(char *p, size_t size, size_t n, void *ud) {
  buf *b = (buf *)ud;
  size_t k = size * n;
  if (b->len + k + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    char *d;
    while (cap < b->len + k + 1) cap *= 2;
    d = (char *)realloc(b->data, cap);
    if (d == NULL) return 0;
    b->data = d;
    b->cap = cap;
  }
  memcpy(b->data + b->len, p, k);
  b->len += k;
  b->data[b->len] = '\0';
  return k;
}

static inline double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static inline const char *need_env(const char *name) {
  const char *v = getenv(name);
  if (v == NULL || *v == '\0') {
    fprintf(stderr, "%s is not set (run from bench/run, or eval the sandbox's export lines)\n", name);
    exit(2);
  }
  return v;
}

static inline void die(const char *what, const char *detail) {
  fprintf(stderr, "bench: %s: %s\n", what, detail);
  exit(1);
}

/* An integral JSON number as a long long, or -1 with *ok = 0. */
static inline long long count_of(const cJSON *o, const char *name, int *ok) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
  double d;
  if (!cJSON_IsNumber(v)) { *ok = 0; return -1; }
  d = v->valuedouble;
  if (d != floor(d) || fabs(d) > 9007199254740991.0) { *ok = 0; return -1; }
  return (long long)d;
}

/* voicebot.studio agent usage, typed (convai.voicebot:whatsapp_usage). */
typedef struct {
  long long current_usage, current_limit, remaining;
  int limit_exhausted;
} usage;

static inline int decode_usage(const char *text, size_t len, usage *u) {
  cJSON *root = cJSON_ParseWithLength(text, len);
  const cJSON *data, *bi, *ex;
  int ok = 1;
  if (root == NULL) return 0;
  data = cJSON_GetObjectItemCaseSensitive(root, "data");
  bi = cJSON_GetObjectItemCaseSensitive(data, "business_initiated");
  if (!cJSON_IsObject(bi)) { cJSON_Delete(root); return 0; }
  u->current_usage = count_of(bi, "current_usage", &ok);
  u->current_limit = count_of(bi, "current_limit", &ok);
  ex = cJSON_GetObjectItemCaseSensitive(bi, "limit_exhausted");
  if (!cJSON_IsBool(ex)) ok = 0;
  u->limit_exhausted = cJSON_IsTrue(ex);
  u->remaining = u->current_limit > u->current_usage ? u->current_limit - u->current_usage : 0;
  cJSON_Delete(root);
  return ok;
}

/* Avaamo usage statistics, typed (convai.avaamo:usage). */
typedef struct {
  double start_time, end_time, success_rate; /* success_rate NAN for null */
  long long counts[7];
} stats;

typedef struct {
  stats aggregate, previous, slices[9];
} avaamo_usage;

static const char *const COUNTS[7] = {
  "session_count", "messages_count", "unhandled_messages_count", "successful_responses_count",
  "ambiguous_messages_count", "interventions_count", "success_rate_count",
};

static inline int decode_stats(const cJSON *o, stats *s) {
  const cJSON *st = cJSON_GetObjectItemCaseSensitive(o, "start_time");
  const cJSON *et = cJSON_GetObjectItemCaseSensitive(o, "end_time");
  const cJSON *sr = cJSON_GetObjectItemCaseSensitive(o, "success_rate");
  int i, ok = 1;
  if (!cJSON_IsObject(o) || !cJSON_IsNumber(st) || !cJSON_IsNumber(et)) return 0;
  s->start_time = st->valuedouble;
  s->end_time = et->valuedouble;
  for (i = 0; i < 7; i++) s->counts[i] = count_of(o, COUNTS[i], &ok);
  if (sr == NULL || cJSON_IsNull(sr)) s->success_rate = NAN;
  else if (cJSON_IsNumber(sr)) s->success_rate = sr->valuedouble;
  else ok = 0;
  return ok;
}

static inline int decode_avaamo(const char *text, size_t len, avaamo_usage *u) {
  cJSON *root = cJSON_ParseWithLength(text, len);
  const cJSON *slices, *item;
  int ok, i = 0;
  if (root == NULL) return 0;
  ok = decode_stats(cJSON_GetObjectItemCaseSensitive(root, "aggregate_stats"), &u->aggregate) &&
       decode_stats(cJSON_GetObjectItemCaseSensitive(root, "previous_interval_stats"), &u->previous);
  slices = cJSON_GetObjectItemCaseSensitive(root, "stats");
  if (!cJSON_IsArray(slices) || cJSON_GetArraySize(slices) != 9) ok = 0;
  else
    cJSON_ArrayForEach(item, slices) {
      if (!decode_stats(item, &u->slices[i++])) ok = 0;
    }
  cJSON_Delete(root);
  return ok;
}

#endif
