// Limits (spec Part A §4) and gzip at the edge: sizes equal to or above a limit are 413,
// found without holding more than the limit; gzip bodies are checked and forwarded still
// compressed; oversized bodies never reach the backend.

import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import zlib from "node:zlib";
import http from "node:http";
import { startWorker, startTarget, send, sendStream, hasPkg, SETUP, ray, startWorkerAndTarget, stopAll } from "./helpers.mjs";

const skip = !hasPkg && "pkg/ is not built (npm run build)";
const WRITE = "/api/v2/write?org=o&bucket=b&precision=s";
const AUTH = { Authorization: `Token ${SETUP.token}` };
const GZ = { ...AUTH, "Content-Encoding": "gzip" };
const TOO_LARGE = '{"code":"request too large","message":"unable to read data: points batch is too large"}';
const MiB = 1024 * 1024;

// Valid line protocol of exactly n bytes (n >= 11): one point, then comment lines, which
// cost the backend nothing to store.
function lp(n) {
  const point = "m f=1i 1\n";
  const parts = [point];
  let rest = n - point.length;
  while (rest > 0) {
    // Comment lines of at most 1000 bytes; never leave a 1-byte remainder.
    let len = Math.min(1000, rest);
    if (rest - len === 1) len -= 1;
    parts.push("#" + "x".repeat(len - 2) + "\n");
    rest -= len;
  }
  return Buffer.from(parts.join(""));
}


test("lp() makes valid batches of the exact size", () => {
  for (const n of [11, 12, 100, 999, 1000, 1011, 16 * MiB - 1]) assert.equal(lp(n).length, n);
});

describe("small configured limits", { skip }, () => {
  let rec, w;
  before(async () => {
    rec = await startTarget();
    w = await startWorker({
      BACKEND_URL: rec.url,
      MAX_BODY_BYTES: "1000",
      MAX_BATCH_BYTES: "2000",
      MAX_MESSAGE_BYTES: "300",
    });
  });
  after(async () => {
    await w?.close();
    await rec?.close();
  });

  test("a plain body one byte under MAX_BODY_BYTES is forwarded byte for byte", async () => {
    const n = rec.received.length;
    const body = lp(999);
    const r = await send(w.url, { path: WRITE, headers: AUTH, body });
    assert.equal(r.status, 204);
    assert.equal(rec.received.length, n + 1);
    assert.ok(rec.received.at(-1).body.equals(body));
    assert.equal(rec.received.at(-1).answer.status, 204);
  });

  test("a plain body of exactly MAX_BODY_BYTES, or more, is 413 and not forwarded", async () => {
    const n = rec.received.length;
    for (const size of [1000, 1001, 50_000]) {
      const r = await send(w.url, { path: WRITE, headers: AUTH, body: lp(size) });
      assert.equal(r.status, 413, String(size));
      assert.equal(r.body.toString(), TOO_LARGE);
      assert.equal(r.headers["x-platform-error-code"], "request too large");
      assert.equal(r.headers["content-type"], "application/json; charset=utf-8");
    }
    assert.equal(rec.received.length, n);
  });

  test("checks that come first in InfluxDB's order still win over the size", async () => {
    const big = lp(5000);
    const cases = [
      [WRITE.replace("precision=s", "precision=h"), AUTH, 400, "invalid precision"],
      ["/api/v2/write?org=o&precision=s", AUTH, 404, "bucket not found"],
      [WRITE, GZ, 500, "An internal error"], // not a gzip header
      ["/api/v2/write?bucket=b", AUTH, 400, "Please provide either orgID or org"],
      [WRITE, {}, 401, "unauthorized access"],
    ];
    for (const [p, headers, status, text] of cases) {
      const r = await send(w.url, { path: p, headers, body: big });
      assert.equal(r.status, status, `${p} ${JSON.stringify(headers)}`);
      assert.ok(r.body.toString().includes(text), r.body.toString());
    }
  });

  test("a gzip body is checked decompressed and forwarded still compressed", async () => {
    const n = rec.received.length;
    for (const ce of ["gzip", "x-gzip"]) {
      const gz = zlib.gzipSync(lp(1999));
      assert.ok(gz.length < 1000);
      const r = await send(w.url, {
        path: WRITE,
        headers: { ...AUTH, "Content-Encoding": ce, "Content-Type": "text/plain; charset=utf-8" },
        body: gz,
      });
      assert.equal(r.status, 204, ce);
      const got = rec.received.at(-1);
      assert.ok(got.body.equals(gz), "the compressed bytes arrive unchanged");
      assert.equal(got.headers["content-encoding"], ce);
      assert.equal(got.headers["content-type"], "text/plain; charset=utf-8");
    }
    assert.equal(rec.received.length, n + 2);
  });

  test("gzip: MAX_BATCH_BYTES applies to the decompressed size; MAX_BODY_BYTES to the compressed", async () => {
    const n = rec.received.length;
    const atBatch = await send(w.url, { path: WRITE, headers: GZ, body: zlib.gzipSync(lp(2000)) });
    assert.equal(atBatch.status, 413);
    assert.equal(atBatch.body.toString(), TOO_LARGE);
    // Incompressible data: 1000+ bytes on the wire.
    const noise = zlib.gzipSync(Buffer.from(Array.from({ length: 1500 }, (_, i) => (i * 7919) % 251)), { level: 0 });
    assert.ok(noise.length >= 1000);
    const atBody = await send(w.url, { path: WRITE, headers: GZ, body: noise });
    assert.equal(atBody.status, 413);
    assert.equal(rec.received.length, n);
  });

  test("MAX_MESSAGE_BYTES cuts a long parse-error message after whole entries", async () => {
    const body = Array.from({ length: 60 }, (_, i) => `bad_line_${i}`).join("\n");
    const r = await send(w.url, { path: WRITE, headers: AUTH, body });
    assert.equal(r.status, 400);
    const text = r.body.toString();
    const e = JSON.parse(text);
    assert.equal(e.code, "invalid");
    assert.equal(e.line, 1);
    assert.ok(e.message.startsWith("unable to parse 'bad_line_0': missing fields\nunable to parse 'bad_line_1'"));
    const m = /\n… and (\d+) more rejected lines$/.exec(e.message);
    assert.ok(m, e.message);
    const shown = e.message.split("\n").length - 1;
    assert.equal(shown + Number(m[1]), 60);
    assert.ok(text.length < 300 + 100, `${text.length} bytes`);
  });

  test("a chunked body (no Content-Length) is read only up to the limit", async () => {
    const n = rec.received.length;
    const id = ray();
    const r = await sendStream(w.url, {
      path: WRITE,
      headers: { ...AUTH, "Transfer-Encoding": "chunked", "CF-Ray": id },
      total: 1_000_000,
      chunk: 500,
    });
    assert.equal(r.status, 413);
    assert.equal(r.body.toString(), TOO_LARGE);
    assert.equal(rec.received.length, n);
    const e = await w.entry(id);
    assert.equal(e.bytes, 1000, "held exactly the limit, no more");
    assert.equal(e.over, true);
  });

  test("the connection stays usable after an early answer to a small body", async () => {
    // One keep-alive connection: a 404 and a 401 whose bodies were not needed, then a write.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const sockets = new Set();
    agent.on("free", (s) => sockets.add(s));
    try {
      assert.equal((await send(w.url, { method: "POST", path: "/elsewhere", body: "x".repeat(100), agent })).status, 404);
      assert.equal((await send(w.url, { path: WRITE, body: "m f=1i 1", agent })).status, 401);
      const r = await send(w.url, { path: WRITE, headers: AUTH, body: "m f=1i 1", agent });
      assert.equal(r.status, 204);
      assert.equal(sockets.size, 1, "all three on one connection");
    } finally {
      agent.destroy();
    }
  });
});

describe("default limits (fit 128 MB)", { skip }, () => {
  let rec, w;
  before(async () => ({ rec, w } = await startWorkerAndTarget()));
  after(() => stopAll(w, rec));

  test("MAX_BODY_BYTES defaults to 16 MiB", async () => {
    const n = rec.received.length;
    const under = lp(16 * MiB - 1);
    const ok = await send(w.url, { path: WRITE, headers: AUTH, body: under });
    assert.equal(ok.status, 204);
    assert.ok(rec.received.at(-1).body.equals(under));
    const at = await send(w.url, { path: WRITE, headers: AUTH, body: lp(16 * MiB) });
    assert.equal(at.status, 413);
    assert.equal(rec.received.length, n + 1);
  });

  test("MAX_BATCH_BYTES defaults to 16 MiB of decompressed data", async () => {
    const n = rec.received.length;
    const under = zlib.gzipSync(lp(16 * MiB - 1), { level: 1 });
    const ok = await send(w.url, { path: WRITE, headers: GZ, body: under });
    assert.equal(ok.status, 204);
    assert.ok(rec.received.at(-1).body.equals(under));
    const at = await send(w.url, { path: WRITE, headers: GZ, body: zlib.gzipSync(lp(16 * MiB), { level: 1 }) });
    assert.equal(at.status, 413);
    assert.equal(rec.received.length, n + 1);
  });

  test("a gzip bomb stops at the batch limit: 413, nothing forwarded", async () => {
    const n = rec.received.length;
    // About 64 KiB on the wire, 64 MiB inflated.
    const bomb = zlib.gzipSync(Buffer.alloc(64 * MiB, 0x61), { level: 9 });
    assert.ok(bomb.length < 100 * 1024);
    const t0 = performance.now();
    const r = await send(w.url, { path: WRITE, headers: GZ, body: bomb });
    assert.equal(r.status, 413);
    assert.equal(r.body.toString(), TOO_LARGE);
    assert.equal(rec.received.length, n);
    assert.ok(performance.now() - t0 < 10_000, "stopped early");
  });

  test("a body declared too large is 413 holding only a header-sized prefix (the rest is dropped)", async () => {
    const n = rec.received.length;
    const id = ray();
    const r = await sendStream(w.url, {
      path: WRITE,
      headers: { ...AUTH, "Content-Length": String(64 * MiB), "CF-Ray": id },
      total: 64 * MiB,
    });
    assert.equal(r.status, 413);
    assert.equal(r.body.toString(), TOO_LARGE);
    assert.equal(rec.received.length, n);
    const e = await w.entry(id);
    assert.ok(e.bytes <= 128 * 1024, `held ${e.bytes} bytes`);
  });

  test("a malformed limit setting is a loud 500, not a silent default", async () => {
    const bad = await startWorker({ BACKEND_URL: rec.url, MAX_BODY_BYTES: "16MB" });
    try {
      const r = await send(bad.url, { path: WRITE, headers: AUTH, body: "m f=1 1" });
      assert.equal(r.status, 500);
      await bad.logged((l) => l.includes("MAX_BODY_BYTES must be a whole number"));
    } finally {
      await bad.close();
    }
  });
});
