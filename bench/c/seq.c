/*
** seq.c - sequential case, plain C: N voicebot.studio usage queries
** (GET {CONVAI_VOICEBOT_URL}/whatsapp/agent-usage?agent_id=A, A cycling 1..100) on one reused easy
** handle (one kept-alive connection), each body decoded with cJSON into the typed result that
** convai.voicebot:whatsapp_usage returns. Prints one JSON line:
** {"n":N,"ok":K,"seconds":S,"checksum":sum of remaining}.
** Usage: seq N
*/
#include "bench.h"

int main(int argc, char **argv) {
  const char *base = need_env("CONVAI_VOICEBOT_URL");
  const char *token = need_env("CONVAI_VOICEBOT_TOKEN");
  long n = argc > 1 ? atol(argv[1]) : 5000, i, ok = 0;
  long long checksum = 0;
  char url[2048], auth[1024];
  struct curl_slist *hdrs = NULL;
  buf body = {NULL, 0, 0};
  CURL *c;
  double t0, t1;

  curl_global_init(CURL_GLOBAL_DEFAULT);
  c = curl_easy_init();
  snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
  hdrs = curl_slist_append(hdrs, auth);
  hdrs = curl_slist_append(hdrs, "Accept: application/json");
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, buf_write);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 30000L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 10000L);

  t0 = now_s();
  for (i = 0; i < n; i++) {
    long status = 0;
    usage u;
    CURLcode rc;
    snprintf(url, sizeof url, "%s/whatsapp/agent-usage?agent_id=%ld", base, i % 100 + 1);
    curl_easy_setopt(c, CURLOPT_URL, url);
    body.len = 0;
    rc = curl_easy_perform(c);
    if (rc != CURLE_OK) die("request", curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (status == 200 && decode_usage(body.data, body.len, &u)) {
      ok++;
      checksum += u.remaining;
    }
  }
  t1 = now_s();
  printf("{\"n\":%ld,\"ok\":%ld,\"seconds\":%.6f,\"checksum\":%lld}\n", n, ok, t1 - t0, checksum);
  curl_easy_cleanup(c);
  curl_slist_free_all(hdrs);
  free(body.data);
  curl_global_cleanup();
  return ok == n ? 0 : 1;
}
