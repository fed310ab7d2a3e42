// /ping, /health, /ready and answer encodings at the edge (issue 24): with PROBES=backend
// (the default, for every BACKEND_KIND) they are the backend's own answers, its version and
// state; with PROBES=edge, /health never says `pass` while the backend cannot be reached. An answer in an encoding the client did not accept
// (workerd asks the backend for `br, gzip` whatever the client sent) arrives decoded.

import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import zlib from "node:zlib";
import { startWorker, startRecorder, send, freePort, hasPkg } from "./helpers.mjs";

const skip = !hasPkg && "pkg/ is not built (npm run build)";
const BODY = '{"results":[{"statement_id":0}]}';

describe("probes and encodings", { skip }, () => {
  let rec, w, wDown, wDown2, wEdgeDown;
  before(async () => {
    rec = await startRecorder((r) =>
      r.url === "/ping"
        ? { status: 204, headers: { "X-Influxdb-Version": "1.6.7~rc0", "X-Influxdb-Build": "OSS" } }
        : { status: 200, headers: { "Content-Type": "application/json", "Content-Encoding": "gzip" }, body: zlib.gzipSync(BODY) },
    );
    const dead = `http://127.0.0.1:${await freePort()}`;
    w = await startWorker({ BACKEND_URL: rec.url, PROBES: "backend" });
    wDown = await startWorker({ BACKEND_URL: dead, BACKEND_KIND: "influxdb1" });
    wDown2 = await startWorker({ BACKEND_URL: dead });
    wEdgeDown = await startWorker({ BACKEND_URL: dead, PROBES: "edge" });
  });
  after(async () => {
    for (const x of [w, wDown, wDown2, wEdgeDown, rec]) await x?.close();
  });

  test("PROBES=backend: /ping is the backend's, with its version", async () => {
    const r = await send(w.url, { method: "GET", path: "/ping" });
    assert.equal(r.status, 204);
    assert.equal(r.headers["x-influxdb-version"], "1.6.7~rc0");
    assert.equal(rec.received.at(-1).url, "/ping");
  });

  test("a backend that cannot be reached: 503 on every probe, never pass", async () => {
    // influxdb1, and influxdb2 (the default kind) alike.
    for (const x of [wDown, wDown2]) {
      for (const p of ["/ping", "/health", "/ready"]) {
        const r = await send(x.url, { method: "GET", path: p });
        assert.equal(r.status, 503, p);
        assert.ok(!r.body.toString().includes("pass"), p);
      }
    }
    const h = await send(wEdgeDown.url, { method: "GET", path: "/health" });
    assert.equal(h.status, 503, "the edge's own /health fails too");
    assert.ok(!h.body.toString().includes("pass"));
    assert.equal((await send(wEdgeDown.url, { method: "GET", path: "/ping" })).status, 204);
  });

  test("no Content-Encoding the client did not accept", async () => {
    for (const [ae, want] of [[undefined, undefined], ["identity", undefined], ["gzip;q=0, br", "br"], ["gzip", "gzip"]]) {
      const headers = ae === undefined ? {} : { "Accept-Encoding": ae };
      const r = await send(w.url, { method: "GET", path: "/query?q=SHOW%20DATABASES", headers });
      assert.equal(r.status, 200);
      // The backend is asked for what the client accepts (none: identity).
      assert.equal(rec.received.at(-1).headers["accept-encoding"], ae ?? "identity", String(ae));
      assert.equal(r.headers["content-encoding"], want, String(ae));
      // The platform may answer in any coding the client accepts (brotli here).
      const decode = { gzip: zlib.gunzipSync, br: zlib.brotliDecompressSync }[want] ?? ((b) => b);
      const text = decode(r.body).toString();
      assert.equal(text, BODY, String(ae));
    }
  });
});
