// Concurrent case, Node.js: N Avaamo usage queries across 100 agents with C fetches in flight (C async
// workers sharing one queue; undici keeps their connections alive), each decoded to the typed result
// (integer counts checked, 9 slices). Prints one JSON line {"n","ok","seconds","checksum"}.
// Usage: node bench/js/conc.mjs N C
const n = Number(process.argv[2] || 5000), conc = Number(process.argv[3] || 16);
const base = process.env.CONVAI_AVAAMO_URL;
const headers = { "Access-Token": process.env.CONVAI_AVAAMO_TOKEN, Accept: "application/json" };
const COUNTS = ["session_count", "messages_count", "unhandled_messages_count", "successful_responses_count",
  "ambiguous_messages_count", "interventions_count", "success_rate_count"];

function typed(s) {
  if (s === null || typeof s !== "object") return null;
  if (typeof s.start_time !== "number" || typeof s.end_time !== "number") return null;
  const out = { ...s };
  for (const f of COUNTS) if (!Number.isInteger(s[f])) return null;
  if (s.success_rate !== null && s.success_rate !== undefined && typeof s.success_rate !== "number") return null;
  return out;
}

let next = 0, ok = 0, checksum = 0;
async function worker() {
  while (next < n) {
    const i = next++;
    const res = await fetch(`${base}/bots/analytics/${i % 100 + 1}/usage.json?utc_offset=0&from_date=10%2F04%2F2020&to_date=13%2F04%2F2020`, { headers });
    const body = await res.json();
    if (res.status !== 200) continue;
    const agg = typed(body.aggregate_stats), prev = typed(body.previous_interval_stats);
    if (!agg || !prev || !Array.isArray(body.stats) || body.stats.length !== 9) continue;
    const stats = body.stats.map(typed);
    if (stats.includes(null)) continue;
    ok++;
    checksum += agg.messages_count;
  }
}
const t0 = performance.now();
await Promise.all(Array.from({ length: conc }, worker));
const seconds = (performance.now() - t0) / 1000;
console.log(JSON.stringify({ n, ok, seconds: Number(seconds.toFixed(6)), checksum }));
process.exit(ok === n ? 0 : 1);
