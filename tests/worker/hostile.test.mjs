// Hostile or broken input at the Worker: a misconfigured EDGE_TOKENS fails closed, repeated
// headers read as InfluxDB reads them (the first value), and a body's buffer follows what
// has arrived, not what Content-Length claims.

import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import zlib from "node:zlib";
import { startWorker, startTarget, send, hasPkg, SETUP, ray, startWorkerAndTarget, stopAll } from "./helpers.mjs";
import { readBody } from "../../worker/body.js";
import { config, ConfigError } from "../../worker/config.js";

const skip = !hasPkg && "pkg/ is not built (npm run build)";
const WRITE = "/api/v2/write?org=o&bucket=b&precision=s";
const TOKEN = `Token ${SETUP.token}`;

describe("EDGE_TOKENS set but naming no token", { skip }, () => {
  let rec, w;
  before(async () => {
    rec = await startTarget();
    w = await startWorker({ BACKEND_URL: rec.url, EDGE_TOKENS: " , " });
  });
  after(async () => {
    await w?.close();
    await rec?.close();
  });

  test("every request fails (500, logged) and nothing is forwarded", async () => {
    const n = rec.received.length;
    for (let i = 0; i < 3; i++) {
      const id = ray();
      const r = await send(w.url, { path: WRITE, headers: { Authorization: TOKEN, "CF-Ray": id }, body: "m f=1 1" });
      assert.equal(r.status, 500);
      const e = await w.entry(id);
      assert.equal(e.status, 500);
      assert.match(e.error, /EDGE_TOKENS/);
    }
    assert.equal(rec.received.length, n, "nothing reached the backend");
  });

  test("the configuration itself is refused, while unset or empty means off", () => {
    assert.throws(() => config({ EDGE_TOKENS: " , " }), ConfigError);
    assert.throws(() => config({ EDGE_TOKENS: "   " }), ConfigError);
    assert.deepEqual(config({}).edgeTokens, []);
    assert.deepEqual(config({ EDGE_TOKENS: "" }).edgeTokens, []);
    assert.deepEqual(config({ EDGE_TOKENS: " a, b " }).edgeTokens, ["a", "b"]);
  });
});

describe("repeated headers", { skip }, () => {
  let rec, w;
  before(async () => ({ rec, w } = await startWorkerAndTarget()));
  after(() => stopAll(w, rec));

  test("Content-Encoding: gzip sent twice is gzip, at the edge and at the backend, as in InfluxDB", async () => {
    const body = zlib.gzipSync("m f=1 1\n");
    const headers = { Authorization: TOKEN, "Content-Encoding": ["gzip", "gzip"] };
    const r = await send(w.url, { path: WRITE, headers, body });
    assert.equal(r.status, 204, r.body.toString());
    const got = rec.received.at(-1);
    assert.equal(got.headers["content-encoding"], "gzip", "forwarded as its first value");
    if (rec.backend) {
      // The backend, asked directly, reads the first value too.
      const d = await send(rec.backend.url, { path: WRITE, headers, body });
      assert.equal(d.status, 204, d.body.toString());
    }
  });

  test("a second Content-Encoding does not turn a gzip body into plain text, nor the reverse", async () => {
    const n = rec.received.length;
    const plain = await send(w.url, {
      path: WRITE,
      headers: { Authorization: TOKEN, "Content-Encoding": ["identity", "gzip"] },
      body: "m f=1 1\n",
    });
    assert.equal(plain.status, 204, plain.body.toString());
    assert.equal(rec.received.length, n + 1);
  });
});

// A byte stream of `total` bytes (i & 0xff at offset i) handed out in `piece`-byte reads, as
// a request body is (a BYOB reader fills our views).
function byteBody(total, piece) {
  let at = 0;
  return new ReadableStream({
    type: "bytes",
    pull(c) {
      const n = Math.min(piece, total - at);
      if (n === 0) {
        c.close();
        // A pending BYOB read ends only when its view is answered.
        return c.byobRequest?.respond(0);
      }
      const b = new Uint8Array(n);
      for (let i = 0; i < n; i++) b[i] = (at + i) & 0xff;
      at += n;
      c.enqueue(b);
    },
  });
}

const expected = (n) => Uint8Array.from({ length: n }, (_, i) => i & 0xff);

test("a body's slabs stop at its declared length: no slab reaches past the body", async () => {
  // 1.2 MB, as a 5 MB batch gzipped: slabs of 64, 64, 128, 256, 512 KiB, then the rest
  // (not a 1 MiB slab for it).
  const n = 1_200_000;
  const r = await readBody({ body: byteBody(n, 48 * 1024) }, 16 * 1024 * 1024, undefined, n);
  // The slabs the chunks are views of (before `bytes` joins them).
  const slabs = new Set(r.chunks.map((c) => c.buffer));
  const allocated = [...slabs].reduce((sum, b) => sum + b.byteLength, 0);
  assert.equal(allocated, n, `${allocated} bytes of slabs for a ${n}-byte body`);
  assert.equal(r.over, false);
  assert.deepEqual(r.bytes, expected(n));
});

test("a body longer than it declared is still read whole, in slabs of the usual sizes", async () => {
  const n = 300_000;
  const r = await readBody({ body: byteBody(n, 40 * 1024) }, 16 * 1024 * 1024, undefined, 1000);
  assert.equal(r.length, n);
  assert.deepEqual(r.bytes, expected(n));
  // Past the declared bytes and the one-byte read of its end, slabs grow as without one.
  assert.ok(r.chunks.length < 20, `${r.chunks.length} chunks`);
});

test("a body's buffer grows with what arrives, not with the declared length", async () => {
  const MiB = 1024 * 1024;
  const before = process.memoryUsage().arrayBuffers;
  const controllers = [];
  const reads = [];
  for (let i = 0; i < 10; i++) {
    const stream = new ReadableStream({
      start(c) {
        c.enqueue(new Uint8Array([0x6d]));
        controllers.push(c);
      },
    });
    const req = new Request("http://x/api/v2/write", {
      method: "POST",
      headers: { "content-length": String(16 * MiB - 1) },
      body: stream,
      duplex: "half",
    });
    reads.push(readBody(req, 16 * MiB));
  }
  await new Promise((r) => setTimeout(r, 100));
  const grew = process.memoryUsage().arrayBuffers - before;
  // Ten bodies declaring 16 MiB and sending one byte each: a few 64 KiB buffers, not 160 MiB.
  assert.ok(grew < 4 * MiB, `${(grew / MiB).toFixed(1)} MiB held for 10 bytes`);
  for (const c of controllers) {
    c.enqueue(new Uint8Array([0x20, 0x66, 0x3d, 0x31]));
    c.close();
  }
  for (const r of await Promise.all(reads)) {
    assert.equal(Buffer.from(r.bytes).toString(), "m f=1");
    assert.equal(r.over, false);
  }
});
