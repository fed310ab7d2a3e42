// Benchmark probe, not part of the product: the package's Checker alone inside workerd, to
// split the Worker's check CPU into the wasm's share and the rest (bench/worker-cpu.mjs).
// MODE=read: the body read whole (request.arrayBuffer()), answered 204, nothing forwarded.
// Otherwise: the same read, then Checker.forRequest fed 64 KiB pieces, as the package's
// Checker is timed in Node by bench/speed.mjs; 204 when the verdict is `forward`, else 500.

import { Checker } from "../../worker/linegate.js";

const PIECE = 64 * 1024;

export default {
  async fetch(request, env) {
    const body = new Uint8Array(await request.arrayBuffer());
    if (env.MODE === "read") return new Response(null, { status: 204 });
    const url = new URL(request.url);
    const k = Checker.forRequest({
      endpoint: url.pathname,
      query: url.search.slice(1),
      headers: { authorization: request.headers.get("Authorization"), "content-encoding": request.headers.get("Content-Encoding") ?? undefined },
      limits: { maxBody: 16 * 1024 * 1024, maxBatch: 16 * 1024 * 1024, maxMessage: 1024 * 1024 },
    });
    for (let i = 0; i < body.length; i += PIECE) k.push(body.subarray(i, i + PIECE));
    const v = k.finish();
    return new Response(null, { status: v.action === "forward" ? 204 : 500 });
  },
};
