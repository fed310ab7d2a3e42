// The transparent edge: what the Worker does not check goes to BACKEND_URL unchanged and the
// answer comes back unchanged — the real backend's /ready, buckets and orgs through one URL,
// a 50 MB body streamed (not buffered) byte for byte, a chunked answer as it was sent —
// with edge authentication, CORS, limits and the backend-down 503; PASS_THROUGH = "off"
// gives the edge's 404/405 back.

import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import crypto from "node:crypto";
import { startWorker, startRecorder, send, sendStream, freePort, hasPkg, SETUP, startWorkerAndTarget, stopAll } from "./helpers.mjs";

const skip = !hasPkg && "pkg/ is not built (npm run build)";
const TOKEN = { Authorization: `Token ${SETUP.token}` };

describe("the real backend through the Worker", { skip }, () => {
  let target, w;
  before(async () => ({ rec: target, w } = await startWorkerAndTarget()));
  after(() => stopAll(w, target));

  test("any other path and method: same request at the backend, same answer back", async () => {
    for (const [method, p, body] of [
      ["GET", "/ready", undefined],
      ["GET", "/api/v2/buckets?org=o", undefined],
      ["GET", "/api/v2/orgs", undefined],
      ["POST", "/api/v2/query?org=o", '{"query":"from(bucket:\\"b\\")"}'],
      ["GET", "/api/v2/write?org=o&bucket=b", undefined],
      ["DELETE", "/api/v2/nothing/here?x=%20y", undefined],
    ]) {
      const headers = { ...TOKEN, "X-Custom": "kept as is", ...(body ? { "Content-Type": "application/json" } : {}) };
      const n = target.received.length;
      const r = await send(w.url, { method, path: p, headers, body });
      assert.equal(target.received.length, n + 1, `${method} ${p} reached the backend`);
      const got = target.received[n];
      assert.equal(got.method, method);
      assert.equal(got.url, p);
      assert.equal(got.headers["x-custom"], "kept as is");
      assert.equal(got.headers.authorization, TOKEN.Authorization);
      assert.equal(got.body.toString(), body ?? "");
      assert.equal(r.status, got.answer.status, `${method} ${p}`);
      assert.ok(r.body.equals(got.answer.body), `${method} ${p}: body unchanged`);
      for (const [k, v] of Object.entries(got.answer.headers)) {
        if (["date", "connection", "keep-alive", "transfer-encoding", "content-length"].includes(k)) continue;
        assert.equal(r.headers[k], v, `${method} ${p}: header ${k}`);
      }
    }
  });

  test("a client's ready check and bucket lookup work through one URL", { skip: !backendReady() }, async () => {
    const ready = await send(w.url, { method: "GET", path: "/ready" });
    assert.equal(ready.status, 200);
    assert.equal(JSON.parse(ready.body).status, "ready");
    const b = await send(w.url, { method: "GET", path: "/api/v2/buckets?name=b", headers: TOKEN });
    assert.equal(b.status, 200);
    assert.equal(JSON.parse(b.body).buckets[0].name, "b");
  });

  function backendReady() {
    return target?.backend !== null;
  }
});

describe("bytes and streams", { skip }, () => {
  let upstream, w, seen;
  // A backend that hashes what it receives as it arrives, and answers in chunks.
  before(async () => {
    seen = { bytes: 0, hash: null, firstAt: 0, method: null, url: null, headers: null };
    upstream = http.createServer((req, res) => {
      const h = crypto.createHash("sha256");
      seen.method = req.method;
      seen.url = req.url;
      seen.headers = req.headers;
      seen.bytes = 0;
      req.on("data", (c) => {
        seen.bytes += c.length;
        h.update(c);
      });
      req.on("end", async () => {
        seen.hash = h.digest("hex");
        if (req.url.startsWith("/chunked")) {
          res.writeHead(200, { "Content-Type": "text/plain", "X-Answer": "chunks" });
          for (let i = 0; i < 5; i++) {
            res.write(`chunk ${i}\n`.repeat(1000));
            await new Promise((r) => setTimeout(r, 20));
          }
          res.end("end\n");
        } else {
          res.writeHead(201, { "Content-Type": "application/octet-stream", "X-Got": String(seen.bytes) });
          res.end(seen.hash);
        }
      });
    });
    await new Promise((r) => upstream.listen(0, "127.0.0.1", r));
    w = await startWorker({
      BACKEND_URL: `http://127.0.0.1:${upstream.address().port}`,
      MAX_BODY_BYTES: String(64 * 1024 * 1024),
    });
  });
  after(async () => {
    await w?.close();
    upstream?.closeAllConnections();
    await new Promise((r) => upstream?.close(r));
  });

  // Sends `total` bytes of a fixed pseudo-random pattern, chunked (no Content-Length), and
  // pauses after `pauseAt` bytes until the backend has begun receiving: a Worker that
  // buffered the body whole would never forward anything, and the request would time out.
  function streamUp(p, total, pauseAt) {
    return new Promise((resolve, reject) => {
      const u = new URL(p, w.url);
      const h = crypto.createHash("sha256");
      const req = http.request(
        { host: u.hostname, port: u.port, method: "PUT", path: u.pathname + u.search, agent: false, headers: TOKEN },
        (res) => {
          const chunks = [];
          res.on("data", (c) => chunks.push(c));
          res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks), hash: h.digest("hex") }));
        },
      );
      req.on("error", reject);
      const chunk = crypto.createHash("sha512").update("seed").digest();
      const block = Buffer.concat(Array.from({ length: 1024 }, (_, i) => Buffer.from(chunk.map((b) => b ^ i))));
      let sent = 0;
      let paused = false;
      const pump = async () => {
        while (sent < total) {
          if (!paused && sent >= pauseAt) {
            paused = true;
            const deadline = Date.now() + 20_000;
            while (seen.bytes === 0) {
              if (Date.now() > deadline) return reject(new Error("nothing reached the backend before the body ended: buffered"));
              await new Promise((r) => setTimeout(r, 20));
            }
          }
          const n = Math.min(block.length, total - sent);
          const part = block.subarray(0, n);
          h.update(part);
          sent += n;
          if (!req.write(part)) await new Promise((r) => req.once("drain", r));
        }
        req.end();
      };
      pump().catch(reject);
    });
  }

  test("a streamed 50 MB body arrives unchanged, while it is still being sent", async () => {
    const total = 50 * 1024 * 1024;
    const r = await streamUp("/api/v2/anything?q=1", total, 8 * 1024 * 1024);
    assert.equal(r.status, 201);
    assert.equal(seen.method, "PUT");
    assert.equal(seen.url, "/api/v2/anything?q=1");
    assert.equal(seen.bytes, total);
    assert.equal(r.headers["x-got"], String(total));
    assert.equal(r.body.toString(), r.hash, "the backend hashed the same bytes");
  });

  test("a chunked answer comes back unchanged", async () => {
    const r = await send(w.url, { method: "GET", path: "/chunked?x=1", headers: TOKEN });
    assert.equal(r.status, 200);
    assert.equal(r.headers["x-answer"], "chunks");
    assert.equal(r.headers["content-type"], "text/plain");
    let want = "";
    for (let i = 0; i < 5; i++) want += `chunk ${i}\n`.repeat(1000);
    assert.equal(r.body.toString(), want + "end\n");
  });

});

describe("the edge's rules apply to passed-through requests", { skip }, () => {
  let rec, guarded, cors, off, down, small;
  before(async () => {
    rec = await startRecorder(() => ({ status: 200, headers: { "Content-Type": "text/plain" }, body: "ok" }));
    guarded = await startWorker({ BACKEND_URL: rec.url, EDGE_TOKENS: SETUP.token });
    cors = await startWorker({ BACKEND_URL: rec.url, CORS_ORIGINS: "https://app.example" });
    off = await startWorker({ BACKEND_URL: rec.url, PASS_THROUGH: "off" });
    down = await startWorker({ BACKEND_URL: `http://127.0.0.1:${await freePort()}` });
    small = await startWorker({ BACKEND_URL: rec.url, MAX_BODY_BYTES: String(1024 * 1024) });
  });
  after(async () => {
    for (const w of [guarded, cors, off, down, small]) await w?.close();
    await rec?.close();
  });

  test("EDGE_TOKENS: 401 without one of them, and nothing forwarded", async () => {
    const n = rec.received.length;
    for (const headers of [{}, { Authorization: "Token nope" }]) {
      const r = await send(guarded.url, { method: "GET", path: "/api/v2/buckets", headers });
      assert.equal(r.status, 401);
      assert.equal(r.body.toString(), '{"code":"unauthorized","message":"unauthorized access"}');
    }
    assert.equal(rec.received.length, n);
    const ok = await send(guarded.url, { method: "GET", path: "/api/v2/buckets", headers: TOKEN });
    assert.equal(ok.status, 200);
    // A v1 client's query with u/p.
    const v1 = await send(guarded.url, { method: "GET", path: `/query?q=SHOW&u=x&p=${SETUP.token}` });
    assert.equal(v1.status, 200);
    assert.equal(rec.received.length, n + 2);
  });

  test("CORS: the preflight is the edge's, the answer carries the allowed origin", async () => {
    const pre = await send(cors.url, {
      method: "OPTIONS",
      path: "/api/v2/query",
      headers: { Origin: "https://app.example", "Access-Control-Request-Method": "POST" },
    });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers["access-control-allow-origin"], "https://app.example");
    assert.match(pre.headers["access-control-allow-methods"], /POST/);
    const r = await send(cors.url, { method: "GET", path: "/ready", headers: { Origin: "https://app.example" } });
    assert.equal(r.status, 200);
    assert.equal(r.headers["access-control-allow-origin"], "https://app.example");
  });

  test("a body over MAX_BODY_BYTES: 413 whether declared or chunked, and nothing answered by the backend", async () => {
    const TOO_LARGE = '{"code":"request too large","message":"unable to read data: points batch is too large"}';
    const n = rec.received.length;
    for (const headers of [{ ...TOKEN, "Content-Length": String(2 * 1024 * 1024) }, { ...TOKEN }]) {
      const r = await sendStream(small.url, { path: "/api/v2/other", headers, total: 2 * 1024 * 1024 });
      assert.equal(r.status, 413, JSON.stringify(headers));
      assert.equal(r.body.toString(), TOO_LARGE);
    }
    assert.equal(rec.received.length, n);
    const ok = await sendStream(small.url, { path: "/api/v2/other", headers: TOKEN, total: 1000 });
    assert.equal(ok.status, 200);
  });

  test("backend down → the writes' 503 with Retry-After", async () => {
    const r = await send(down.url, { method: "GET", path: "/api/v2/buckets", headers: TOKEN });
    assert.equal(r.status, 503);
    assert.equal(r.headers["retry-after"], "5");
    assert.equal(r.body.toString(), '{"code":"unavailable","message":"write backend unavailable"}');
  });

  test('PASS_THROUGH = "off": the edge\'s 404 and 405, nothing forwarded', async () => {
    const n = rec.received.length;
    const r = await send(off.url, { method: "GET", path: "/api/v2/buckets", headers: TOKEN });
    assert.equal(r.status, 404);
    assert.equal(r.headers["x-platform-error-code"], "not found");
    const m = await send(off.url, { method: "GET", path: "/api/v2/write", headers: TOKEN });
    assert.equal(m.status, 405);
    assert.equal(m.headers.allow, "POST");
    assert.equal(rec.received.length, n);
  });
});

// Issue 25 item 3: the edge let `?u=x&p=<edge token>` through on any path and forwarded the
// request's own Authorization, which the backend acted on. The edge now judges exactly the
// credential the backend will act on (core's rule for the path): the Authorization token
// everywhere but v1's /write and /query, where u/p come first for both.
describe("EDGE_TOKENS judge the credential the backend acts on", { skip }, () => {
  const EDGE = "edge-only-token";
  const BACKEND_TOKEN = { Authorization: `Token ${SETUP.token}` };
  let target, w;
  before(async () => ({ rec: target, w } = await startWorkerAndTarget({ EDGE_TOKENS: EDGE })));
  after(() => stopAll(w, target));

  test("a query password never vouches for another Authorization", async () => {
    const n = target.received.length;
    for (const p of ["/api/v2/orgs", "/api/v2/buckets?org=o", "/metrics", "/api/v2/export?org=o&bucket=b"]) {
      const sep = p.includes("?") ? "&" : "?";
      const r = await send(w.url, { method: "GET", path: `${p}${sep}u=x&p=${EDGE}`, headers: BACKEND_TOKEN });
      assert.equal(r.status, 401, p);
      assert.equal(r.body.toString(), '{"code":"unauthorized","message":"unauthorized access"}');
    }
    assert.equal(target.received.length, n, "nothing reached the backend");
  });

  test("the credential the backend reads passes when it is an edge token", async () => {
    const n = target.received.length;
    // The Authorization token, where the backend reads it.
    const v2 = await send(w.url, { method: "GET", path: "/api/v2/orgs", headers: { Authorization: `Token ${EDGE}` } });
    // v1's paths: u/p first, for the edge as for the backend (the Authorization rides along unused).
    const v1 = await send(w.url, { method: "GET", path: `/write?db=b&u=x&p=${EDGE}`, headers: BACKEND_TOKEN });
    const query = await send(w.url, { method: "GET", path: `/query?q=SHOW&u=x&p=${EDGE}` });
    assert.equal(target.received.length, n + 3, "all three passed the edge");
    if (target.backend !== null) {
      // The backend judged the edge token (unknown to it), never the all-access Authorization.
      assert.equal(v2.status, 401);
      assert.equal(v1.status, 401);
      assert.equal(query.status, 404);
    }
  });
});

// Issue 25 item 4: behind the Worker every client has the Worker's address, so the Worker
// names the client to the backend (which believes it from --trusted-proxies only); a client
// cannot name itself.
describe("the Worker names the client to the backend", { skip }, () => {
  const HEADER = "x-linegate-client-address";
  let rec, w;
  before(async () => {
    rec = await startRecorder(() => ({ status: 204 }));
    w = await startWorker({ BACKEND_URL: rec.url });
  });
  after(() => stopAll(w, rec));

  test("writes and passed-through requests carry the address Cloudflare saw, never the client's word", async () => {
    const n = rec.received.length;
    const forged = { ...TOKEN, "X-Linegate-Client-Address": "203.0.113.66" };
    await send(w.url, { method: "POST", path: "/api/v2/write?org=o&bucket=b", headers: forged, body: "m f=1 1\n" });
    await send(w.url, { method: "GET", path: "/api/v2/buckets", headers: forged });
    assert.equal(rec.received.length, n + 2);
    for (const got of rec.received.slice(n)) {
      assert.notEqual(got.headers[HEADER], "203.0.113.66", got.url);
      // The test's client is on the loopback: that is what the Worker saw.
      assert.equal(got.headers[HEADER], "127.0.0.1", got.url);
    }
  });
});
