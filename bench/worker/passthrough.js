// Benchmark baseline: the same route with no check at all. The body streams straight to
// BACKEND_URL (with PASSTHROUGH_BUFFER=1 it is read whole first, as the checking Worker
// must), so the difference to worker/index.js is the cost of the check. A benchmark baseline, not
// part of the product: it lives with the benchmarks (bench/worker-load.mjs runs it).

const FORWARDED = ["Authorization", "Content-Encoding", "Content-Type", "Zap-Trace-Span"];

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/ping") return new Response(null, { status: 204 });
    if (url.pathname !== "/api/v2/write" || request.method !== "POST") {
      return new Response(null, { status: 404 });
    }
    const headers = new Headers();
    for (const name of FORWARDED) {
      const v = request.headers.get(name);
      if (v !== null) headers.set(name, v);
    }
    const body = env.PASSTHROUGH_BUFFER === "1" ? await request.arrayBuffer() : request.body;
    try {
      const res = await fetch(env.BACKEND_URL + url.pathname + url.search, {
        method: "POST",
        headers,
        body,
        redirect: "manual",
      });
      return new Response(res.body, res);
    } catch {
      // A benchmark baseline only: a bare 503 (the real Worker answers InfluxDB's shape).
      return new Response(null, { status: 503, headers: { "Retry-After": "5" } });
    }
  },
};
