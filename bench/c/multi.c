/*
** multi.c - concurrent case, plain C on curl_multi: N Avaamo usage queries
** (GET {CONVAI_AVAAMO_URL}/bots/analytics/A/usage.json?utc_offset=0&from_date=10/04/2020&to_date=13/04/2020,
** A cycling 1..100) with at most C transfers in flight, each on one of C reused easy handles (so C
** kept-alive connections), each body decoded with cJSON into the typed result that
** convai.avaamo:usage returns. Prints one JSON line
** {"n":N,"ok":K,"seconds":S,"checksum":sum of aggregate messages_count}.
** Usage: multi N C
*/
#include "bench.h"

typedef struct {
  CURL *easy;
  buf body;
  char url[2048];
} slot;

int main(int argc, char **argv) {
  const char *base = need_env("CONVAI_AVAAMO_URL");
  const char *token = need_env("CONVAI_AVAAMO_TOKEN");
  long n = argc > 1 ? atol(argv[1]) : 5000, conc = argc > 2 ? atol(argv[2]) : 16;
  long next = 0, done = 0, ok = 0, i;
  long long checksum = 0;
  char auth[1024];
  struct curl_slist *hdrs = NULL;
  slot *slots;
  CURLM *m;
  double t0, t1;

  if (conc < 1) conc = 1;
  curl_global_init(CURL_GLOBAL_DEFAULT);
  m = curl_multi_init();
  snprintf(auth, sizeof auth, "Access-Token: %s", token);
  hdrs = curl_slist_append(hdrs, auth);
  hdrs = curl_slist_append(hdrs, "Accept: application/json");
  slots = (slot *)calloc((size_t)conc, sizeof *slots);
  for (i = 0; i < conc; i++) {
    CURL *c = curl_easy_init();
    slots[i].easy = c;
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, buf_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &slots[i].body);
    curl_easy_setopt(c, CURLOPT_PRIVATE, (void *)&slots[i]);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 30000L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
  }

  t0 = now_s();
  for (i = 0; i < conc && next < n; i++, next++) {
    snprintf(slots[i].url, sizeof slots[i].url,
             "%s/bots/analytics/%ld/usage.json?utc_offset=0&from_date=10%%2F04%%2F2020&to_date=13%%2F04%%2F2020",
             base, next % 100 + 1);
    curl_easy_setopt(slots[i].easy, CURLOPT_URL, slots[i].url);
    curl_multi_add_handle(m, slots[i].easy);
  }
  while (done < n) {
    int running, left;
    CURLMsg *msg;
    curl_multi_perform(m, &running);
    while ((msg = curl_multi_info_read(m, &left)) != NULL) {
      slot *s;
      long status = 0;
      avaamo_usage u;
      if (msg->msg != CURLMSG_DONE) continue;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
      if (msg->data.result != CURLE_OK) die("request", curl_easy_strerror(msg->data.result));
      curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
      if (status == 200 && decode_avaamo(s->body.data, s->body.len, &u)) {
        ok++;
        checksum += u.aggregate.counts[1];
      }
      done++;
      curl_multi_remove_handle(m, s->easy);
      if (next < n) {
        snprintf(s->url, sizeof s->url,
                 "%s/bots/analytics/%ld/usage.json?utc_offset=0&from_date=10%%2F04%%2F2020&to_date=13%%2F04%%2F2020",
                 base, next % 100 + 1);
        next++;
        s->body.len = 0;
        curl_easy_setopt(s->easy, CURLOPT_URL, s->url);
        curl_multi_add_handle(m, s->easy);
      }
    }
    if (done < n) curl_multi_poll(m, NULL, 0, 1000, NULL);
  }
  t1 = now_s();
  printf("{\"n\":%ld,\"ok\":%ld,\"seconds\":%.6f,\"checksum\":%lld}\n", n, ok, t1 - t0, checksum);
  for (i = 0; i < conc; i++) {
    curl_easy_cleanup(slots[i].easy);
    free(slots[i].body.data);
  }
  free(slots);
  curl_multi_cleanup(m);
  curl_slist_free_all(hdrs);
  curl_global_cleanup();
  return ok == n ? 0 : 1;
}
