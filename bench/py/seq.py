"""Sequential case, Python: N voicebot.studio usage queries with http.client (one kept-alive
HTTPConnection) and json, each decoded to the typed result (integers checked, remaining computed).
Prints one JSON line {"n","ok","seconds","checksum"}. Usage: python3 bench/py/seq.py N"""
import http.client
import json
import os
import sys
import time
import urllib.parse


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    base = urllib.parse.urlsplit(os.environ["CONVAI_VOICEBOT_URL"])
    headers = {"Authorization": "Bearer " + os.environ["CONVAI_VOICEBOT_TOKEN"],
               "Accept": "application/json"}
    conn = http.client.HTTPConnection(base.hostname, base.port, timeout=30)
    ok = checksum = 0
    t0 = time.monotonic()
    for i in range(n):
        conn.request("GET", "%s/whatsapp/agent-usage?agent_id=%d" % (base.path, i % 100 + 1),
                     headers=headers)
        resp = conn.getresponse()
        body = resp.read()
        if resp.status != 200:
            continue
        bi = json.loads(body)["data"]["business_initiated"]
        usage, limit, exhausted = bi["current_usage"], bi["current_limit"], bi["limit_exhausted"]
        if type(usage) is int and type(limit) is int and type(exhausted) is bool:
            result = {"current_usage": usage, "current_limit": limit, "limit_exhausted": exhausted,
                      "remaining": max(0, limit - usage)}
            ok += 1
            checksum += result["remaining"]
    seconds = time.monotonic() - t0
    conn.close()
    print(json.dumps({"n": n, "ok": ok, "seconds": round(seconds, 6), "checksum": checksum},
                     separators=(",", ":")))
    sys.exit(0 if ok == n else 1)


main()
