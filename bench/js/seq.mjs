// Sequential case, Node.js: N voicebot.studio usage queries with the built-in fetch (undici keeps one
// connection alive), each decoded to the typed result (integers checked, remaining computed).
// Prints one JSON line {"n","ok","seconds","checksum"}. Usage: node bench/js/seq.mjs N
const n = Number(process.argv[2] || 5000);
const base = process.env.CONVAI_VOICEBOT_URL;
const headers = { Authorization: "Bearer " + process.env.CONVAI_VOICEBOT_TOKEN, Accept: "application/json" };
let ok = 0, checksum = 0;
const t0 = performance.now();
for (let i = 0; i < n; i++) {
  const res = await fetch(`${base}/whatsapp/agent-usage?agent_id=${i % 100 + 1}`, { headers });
  const body = await res.json();
  if (res.status !== 200) continue;
  const bi = body.data.business_initiated;
  if (Number.isInteger(bi.current_usage) && Number.isInteger(bi.current_limit) && typeof bi.limit_exhausted === "boolean") {
    const r = { current_usage: bi.current_usage, current_limit: bi.current_limit, limit_exhausted: bi.limit_exhausted,
                remaining: Math.max(0, bi.current_limit - bi.current_usage) };
    ok++;
    checksum += r.remaining;
  }
}
const seconds = (performance.now() - t0) / 1000;
console.log(JSON.stringify({ n, ok, seconds: Number(seconds.toFixed(6)), checksum }));
process.exit(ok === n ? 0 : 1);
