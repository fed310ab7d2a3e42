// Forwarding: what reaches the backend (path, query, headers that matter, bytes), the
// backend's answer coming back unchanged, and a backend that is down or too slow (503 with
// Retry-After, never a 204).

import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import zlib from "node:zlib";
import { startWorker, startRecorder, startBackend, backendAvailable, send, freePort, hasPkg, SETUP, ray, startWorkerAndTarget, stopAll } from "./helpers.mjs";

const skip = !hasPkg && "pkg/ is not built (npm run build)";
const AUTH = { Authorization: `Token ${SETUP.token}` };
const UNAVAILABLE = '{"code":"unavailable","message":"write backend unavailable"}';

describe("what reaches the backend", { skip }, () => {
  let rec, w;
  before(async () => ({ rec, w } = await startWorkerAndTarget()));
  after(() => stopAll(w, rec));

  test("same path and query string, byte for byte", async () => {
    for (const q of [
      "org=o&bucket=b",
      "orgID=0123456789abcdef&bucket=my%20bucket&precision=ms",
      "bucket=b%2Fx&org=a+b&precision=&extra=1&bucket=ignored",
      "org=%C3%A9t%C3%A9&bucket=b&precision=s",
    ]) {
      const p = `/api/v2/write?${q}`;
      const r = await send(w.url, { path: p, headers: AUTH, body: "m f=1 1" });
      assert.equal(r.status, rec.received.at(-1).answer.status, q);
      assert.equal(rec.received.at(-1).url, p);
      assert.equal(rec.received.at(-1).method, "POST");
    }
  });

  test("the headers that matter, and only those", async () => {
    const r = await send(w.url, {
      path: "/api/v2/write?org=o&bucket=b",
      headers: {
        Authorization: `Token ${SETUP.token}`,
        "Content-Type": "text/plain; charset=utf-8",
        "Zap-Trace-Span": '{"trace_id":"1","span_id":"2","baggage":{}}',
        Cookie: "session=secret",
        "X-Custom": "1",
        "Accept-Encoding": "gzip",
      },
      body: "m f=1 1",
    });
    assert.equal(r.status, 204);
    const h = rec.received.at(-1).headers;
    assert.equal(h.authorization, `Token ${SETUP.token}`);
    assert.equal(h["content-type"], "text/plain; charset=utf-8");
    assert.equal(h["zap-trace-span"], '{"trace_id":"1","span_id":"2","baggage":{}}');
    assert.equal(h.cookie, undefined);
    assert.equal(h["x-custom"], undefined);
  });

  test("a chunked body (no Content-Length) arrives whole and unchanged", async () => {
    const lines = Array.from({ length: 20000 }, (_, i) => `chunked,host=h${i % 7} v=${i}i ${1700000000 + i}\n`);
    const body = Buffer.from(lines.join(""));
    const r = await send(w.url, {
      path: "/api/v2/write?org=o&bucket=b&precision=s",
      headers: { ...AUTH, "Transfer-Encoding": "chunked" },
      body: (req) => {
        for (let i = 0; i < body.length; i += 7777) req.write(body.subarray(i, i + 7777));
        req.end();
      },
    });
    assert.equal(r.status, 204, r.body.toString());
    const got = rec.received.at(-1);
    assert.ok(got.body.equals(body), `${got.body.length} of ${body.length} bytes`);
  });

  test("gzip in, gzip out: the compressed bytes and Content-Encoding arrive unchanged", async () => {
    const plain = Buffer.from("cpu,host=a usage=0.5 1700000000\n".repeat(1000));
    // Two members, an unusual level: whatever the client sent is what the backend gets.
    const gz = Buffer.concat([zlib.gzipSync(plain.subarray(0, 5000), { level: 1 }), zlib.gzipSync(plain.subarray(5000))]);
    const r = await send(w.url, {
      path: "/api/v2/write?org=o&bucket=b&precision=s",
      headers: { ...AUTH, "Content-Encoding": "gzip" },
      body: gz,
    });
    assert.equal(r.status, 204);
    const got = rec.received.at(-1);
    assert.ok(got.body.equals(gz));
    assert.equal(got.headers["content-encoding"], "gzip");
    assert.equal(Number(got.headers["content-length"]), gz.length);
  });
});

describe("the backend's answer comes back unchanged", { skip }, () => {
  // Answers the real backend gives only in states hard to reach on purpose (a full queue,
  // a failing disk): scripted here, one per request.
  const ANSWERS = [
    { status: 204, headers: { "X-Influxdb-Build": "OSS", "X-Influxdb-Version": "v2.9.1" } },
    {
      status: 422,
      headers: { "Content-Type": "application/json; charset=utf-8", "X-Platform-Error-Code": "unprocessable entity" },
      body: '{"code":"unprocessable entity","message":"failure writing points to database: partial write: field type conflict: input field \\"f\\" on measurement \\"m\\" is type integer, already exists as type float dropped=1"}',
    },
    {
      status: 429,
      headers: { "Content-Type": "application/json; charset=utf-8", "Retry-After": "30", "X-Platform-Error-Code": "too many requests" },
      body: '{"code":"too many requests","message":"slow down"}',
    },
    {
      status: 503,
      headers: { "Content-Type": "application/json; charset=utf-8", "Retry-After": "12" },
      body: '{"code":"unavailable","message":"queue full"}',
    },
    { status: 401, headers: { "Content-Type": "application/json; charset=utf-8", "X-Platform-Error-Code": "unauthorized" }, body: '{"code":"unauthorized","message":"unauthorized access"}' },
    { status: 404, headers: { "Content-Type": "application/json; charset=utf-8" }, body: '{"code":"not found","message":"organization name \\"o\\" not found"}' },
    { status: 500, headers: { "Content-Type": "text/plain" }, body: "boom" },
    { status: 200, headers: { "Content-Type": "application/octet-stream" }, body: Buffer.from([0, 1, 2, 255, 0x1f, 0x8b]) },
    { status: 307, headers: { Location: "http://127.0.0.1:1/elsewhere" } },
  ];
  let rec, w, i = 0;
  before(async () => {
    rec = await startRecorder(() => ANSWERS[i++ % ANSWERS.length]);
    w = await startWorker({ BACKEND_URL: rec.url });
  });
  after(async () => {
    await w?.close();
    await rec?.close();
  });

  test("status, body and headers (Retry-After among them), for each kind of answer", async () => {
    for (const a of ANSWERS) {
      const r = await send(w.url, { path: "/api/v2/write?org=o&bucket=b", headers: AUTH, body: "m f=1 1" });
      assert.equal(r.status, a.status);
      assert.ok(r.body.equals(Buffer.from(a.body ?? "")), `${a.status}: ${r.body}`);
      for (const [k, v] of Object.entries(a.headers)) assert.equal(r.headers[k.toLowerCase()], v, `${a.status} ${k}`);
    }
    assert.equal(rec.received.length, ANSWERS.length);
  });
});

describe("backend down or too slow", { skip }, () => {
  test("unreachable → 503 unavailable with Retry-After, never a 204", async () => {
    const port = await freePort();
    const w = await startWorker({ BACKEND_URL: `http://127.0.0.1:${port}`, RETRY_AFTER_SECONDS: "17" });
    try {
      for (const body of ["m f=1 1", "", zlib.gzipSync("m f=1 1")]) {
        const headers = typeof body === "string" ? AUTH : { ...AUTH, "Content-Encoding": "gzip" };
        const r = await send(w.url, { path: "/api/v2/write?org=o&bucket=b", headers, body });
        assert.equal(r.status, 503);
        assert.equal(r.body.toString(), UNAVAILABLE);
        assert.equal(r.headers["retry-after"], "17");
        assert.equal(r.headers["x-platform-error-code"], "unavailable");
        assert.equal(r.headers["content-type"], "application/json; charset=utf-8");
      }
      // Rejections do not need the backend at all.
      assert.equal((await send(w.url, { path: "/api/v2/write?org=o&bucket=b", headers: AUTH, body: "bad" })).status, 400);
      const id = ray();
      await send(w.url, { path: "/api/v2/write?org=o&bucket=b", headers: { ...AUTH, "CF-Ray": id }, body: "m f=1 1" });
      const e = await w.entry(id);
      assert.equal(e.action, "unavailable");
      assert.equal(e.status, 503);
    } finally {
      await w.close();
    }
  });

  test("a backend that does not answer in BACKEND_TIMEOUT_MS → 503 with the default Retry-After", async () => {
    const rec = await startRecorder(() => null);
    const w = await startWorker({ BACKEND_URL: rec.url, BACKEND_TIMEOUT_MS: "400" });
    try {
      const t0 = performance.now();
      const id = ray();
      const r = await send(w.url, { path: "/api/v2/write?org=o&bucket=b", headers: { ...AUTH, "CF-Ray": id }, body: "m f=1 1" });
      const ms = performance.now() - t0;
      assert.equal(r.status, 503);
      assert.equal(r.body.toString(), UNAVAILABLE);
      assert.equal(r.headers["retry-after"], "5");
      assert.ok(ms >= 350 && ms < 5000, `${ms} ms`);
      assert.equal(rec.received.length, 1, "it did arrive; the edge just claims nothing");
      assert.equal((await w.entry(id)).error, "backend timeout");
    } finally {
      await w.close();
      await rec.close();
    }
  });

  test("a backend that drops the connection → 503", async () => {
    // Answer by resetting the connection once the request has arrived.
    const http = await import("node:http");
    const server = http.createServer((req, res) => {
      req.resume();
      req.on("end", () => req.socket.destroy());
    });
    await new Promise((r) => server.listen(0, "127.0.0.1", r));
    const w = await startWorker({ BACKEND_URL: `http://127.0.0.1:${server.address().port}` });
    try {
      const r = await send(w.url, { path: "/api/v2/write?org=o&bucket=b", headers: AUTH, body: "m f=1 1" });
      assert.equal(r.status, 503);
      assert.equal(r.body.toString(), UNAVAILABLE);
    } finally {
      await w.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  test("the real backend stopped → 503, and that batch is not in its store afterwards", {
    skip: !backendAvailable() && "linegate-backend is not built (cargo build -p linegate-backend)",
  }, async () => {
    let backend = await startBackend();
    const { dir, port } = backend;
    const w = await startWorker({ BACKEND_URL: backend.url });
    const write = (body) => send(w.url, { path: "/api/v2/write?org=o&bucket=b&precision=s", headers: AUTH, body });
    try {
      assert.equal((await write("before_stop f=1i 1700000000")).status, 204);
      await backend.close({ keep: true });
      const r = await write("while_down f=2i 1700000001");
      assert.equal(r.status, 503);
      assert.equal(r.body.toString(), UNAVAILABLE);
      assert.equal(r.headers["retry-after"], "5");
      backend = await startBackend({ dir, port });
      assert.equal((await write("after_restart f=3i 1700000002")).status, 204);
      const exp = await send(backend.url, { method: "GET", path: "/api/v2/export?org=o&bucket=b", headers: AUTH });
      assert.equal(exp.status, 200);
      const stored = exp.body.toString();
      assert.ok(stored.includes("before_stop") && stored.includes("after_restart"), stored);
      assert.ok(!stored.includes("while_down"), "the 503 batch was not written");
    } finally {
      await w.close();
      await backend.close();
    }
  });

  test("BACKEND_URL unset → 503, not a silent 204", async () => {
    const w = await startWorker({});
    try {
      const r = await send(w.url, { path: "/api/v2/write?org=o&bucket=b", headers: AUTH, body: "m f=1 1" });
      assert.equal(r.status, 503);
      assert.equal(r.body.toString(), UNAVAILABLE);
    } finally {
      await w.close();
    }
  });
});
