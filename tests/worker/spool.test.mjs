// The spool (SPOOL=fallback|always): workerd with Durable Object persistence on disk in
// front of the real linegate-backend on 127.0.0.1, behind a tap that records every request
// byte for byte. Batches that got 204 while the backend was down arrive later, identical and
// in order per bucket; workerd killed with SIGKILL mid-delivery loses none; 413 splits;
// 400/404/422 become dead letters the admin endpoint shows, replays and drops; a full spool
// answers 503.

import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import { spawn } from "node:child_process";
import {
  ROOT,
  SETUP,
  hasPkg,
  backendAvailable,
  startBackend,
  startRecorder,
  startWorker,
  forwardTo,
  freePort,
  send,
  ray,
  BACKEND_BIN,
  wranglerDev,
} from "./helpers.mjs";

const skip =
  (!hasPkg && "pkg/ is not built (npm run build)") ||
  (!backendAvailable() && "linegate-backend is not built (cargo build --release -p linegate-backend)");
const AUTH = { Authorization: `Token ${SETUP.token}` };
const ADMIN = "spool-admin-test-token";
const DO = { durableObjects: { SPOOL_DO: { className: "Spool", useSQLite: true } } };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function tmpdir(what) {
  return fs.mkdtempSync(path.join(os.tmpdir(), `linegate-spool-${what}-`));
}

/** The Worker in workerd (Miniflare) with the spool's Durable Object persisted in `dir`. */
function spoolWorker(vars, dir) {
  return startWorker(
    // No EDGE_TOKENS here: the spool runs open only because it is told to.
    { SPOOL_ADMIN_TOKEN: ADMIN, SPOOL_OPEN: "on", SPOOL_KEY: "spool test key", SPOOL_BACKOFF_BASE_MS: "100", SPOOL_BACKOFF_CAP_MS: "500", ...vars },
    { miniflare: { ...DO, durableObjectsPersist: dir } },
  );
}

/** A tap on a fixed port (so it can be "down" first): records, then forwards to `target`. */
async function startTap(port, answer) {
  const received = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", async () => {
      const r = { url: req.url, headers: req.headers, body: Buffer.concat(chunks) };
      received.push(r);
      const a = await answer(r);
      r.answer = a;
      res.writeHead(a.status, a.headers ?? {});
      res.end(a.body);
    });
  });
  await new Promise((r) => server.listen(port, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(r);
      }),
  };
}

async function createBucket(backend, name) {
  const r = await send(backend.url, {
    path: "/api/v2/buckets",
    headers: { ...AUTH, "Content-Type": "application/json" },
    body: JSON.stringify({ org: SETUP.org, name }),
  });
  assert.equal(r.status, 201, r.body.toString());
}

async function exported(backend, bucket) {
  const r = await send(backend.url, { method: "GET", path: `/api/v2/export?org=${SETUP.org}&bucket=${bucket}`, headers: AUTH });
  assert.equal(r.status, 200, r.body.toString());
  return r.body.toString();
}

const admin = (w, method, p, token = ADMIN) =>
  send(w.url, { method, path: p, headers: token === null ? {} : { Authorization: `Bearer ${token}` } });

async function until(what, pred, timeout) {
  const deadline = Date.now() + timeout;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

// A small deterministic PRNG, so a failure can be replayed.
function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/**
 * Batch `i` for `bucket`: whole lines of distinct points, about `size` bytes, gzipped if
 * asked. `{ id, path, headers, body, lines }`.
 */
function batch(bucket, i, size, gzip) {
  const pad = "x".repeat(size > 100_000 ? 900 : 20);
  const lines = [];
  let n = 0;
  for (let j = 0; n < size || j === 0; j++) {
    const l = `spool,bucket=${bucket},batch=${i} v=${j}i,pad="${pad}" ${1_700_000_000_000_000_000n + BigInt(i) * 1_000_000n + BigInt(j)}\n`;
    lines.push(l);
    n += l.length;
  }
  const plain = Buffer.from(lines.join(""));
  const headers = { ...AUTH, "Content-Type": "text/plain; charset=utf-8", "X-Batch": `${bucket}/${i}` };
  if (gzip) headers["Content-Encoding"] = "gzip";
  return {
    id: `${bucket}/${i}`,
    path: `/api/v2/write?org=${SETUP.org}&bucket=${bucket}&precision=ns`,
    headers,
    body: gzip ? zlib.gzipSync(plain, { level: 1 }) : plain,
    lines: lines.length,
  };
}

/** Which batch a request that reached the tap carried (the first line names it). */
function batchOf(r) {
  const plain = r.headers["content-encoding"] === "gzip" ? zlib.gunzipSync(r.body) : r.body;
  const m = /^spool,bucket=(\w+),batch=(\d+) /.exec(plain.subarray(0, 200).toString());
  return m ? `${m[1]}/${m[2]}` : null;
}

describe("SPOOL=fallback, backend down: 1,000 batches held, then delivered", { skip }, () => {
  const BUCKETS = ["b", "b2"];
  let backend, tap, w, dir;
  const sent = { b: [], b2: [] };
  before(async () => {
    // The backend with the second bucket, then stopped: from the Worker's side, down.
    backend = await startBackend();
    await createBucket(backend, "b2");
    await backend.close({ keep: true });
    dir = tmpdir("outage");
    const tapPort = await freePort();
    tap = { url: `http://127.0.0.1:${tapPort}`, port: tapPort };
    w = await spoolWorker({ BACKEND_URL: tap.url, SPOOL: "fallback" }, dir);
  });
  after(async () => {
    await w?.close();
    await tap?.close?.();
    await backend?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test("every batch gets 204 while the backend is down, and arrives byte-identical in order per bucket", { timeout: 150_000 }, async (t) => {
    const rand = rng(16);
    // Mixed sizes: mostly small, some of 100 KB-1 MB, three of 5 MB; one in five gzipped.
    const plan = [];
    for (let i = 0; i < 1000; i++) {
      const bucket = BUCKETS[i % 2];
      let size = 100 + Math.floor(rand() * 4000);
      if (i % 97 === 13) size = 100_000 + Math.floor(rand() * 900_000);
      if (i === 300 || i === 601 || i === 902) size = 5_000_000;
      plan.push({ bucket, i, size, gzip: i % 5 === 0 || i === 601 });
    }
    let bytes = 0;
    const t0 = performance.now();
    // The two buckets are written concurrently, each one batch after the other.
    await Promise.all(
      BUCKETS.map(async (bucket) => {
        for (const p of plan.filter((x) => x.bucket === bucket)) {
          const b = batch(p.bucket, p.i, p.size, p.gzip);
          const r = await send(w.url, { path: b.path, headers: b.headers, body: b.body });
          assert.equal(r.status, 204, `${b.id}: ${r.status} ${r.body}`);
          assert.equal(r.headers["x-linegate-spooled"], "1", b.id);
          sent[bucket].push(b);
          bytes += b.body.length;
        }
      }),
    );
    const held = performance.now() - t0;
    t.diagnostic(`1,000 batches (${(bytes / 1e6).toFixed(1)} MB) spooled in ${(held / 1000).toFixed(1)} s`);

    const st = JSON.parse((await admin(w, "GET", "/spool")).body);
    const queued = st.destinations.reduce((a, d) => a + d.queued, 0);
    assert.equal(queued, 1000);
    assert.equal(st.destinations.reduce((a, d) => a + d.queued_bytes, 0), bytes);
    assert.ok(st.destinations.every((d) => d.oldest_age_s >= 0 && d.head_attempts >= 1), JSON.stringify(st.destinations.map(({ dead, ...d }) => d)));

    // Backend up (same data directory), and the tap before it.
    backend = await startBackend({ dir: backend.dir, port: backend.port });
    tap = await startTap(tap.port, forwardTo(backend.url));
    const t1 = performance.now();
    await until("delivery", () => tap.received.filter((r) => r.answer?.status === 204).length >= 1000, 120_000);
    const s = (performance.now() - t1) / 1000;
    t.diagnostic(`delivered in ${s.toFixed(1)} s after the backend came back: ${(1000 / s).toFixed(0)} batches/s, ${(bytes / 1e6 / s).toFixed(1)} MB/s`);

    for (const bucket of BUCKETS) {
      const got = tap.received.filter((r) => r.url.includes(`bucket=${bucket}&`));
      const want = sent[bucket];
      assert.equal(got.length, want.length, `${bucket}: ${got.length} requests for ${want.length} batches`);
      got.forEach((r, k) => {
        const b = want[k];
        assert.equal(r.url, b.path, `${bucket} #${k}`);
        assert.ok(r.body.equals(b.body), `${bucket} #${k}: ${batchOf(r)} instead of ${b.id}`);
        assert.equal(r.headers["content-encoding"], b.headers["Content-Encoding"], b.id);
        assert.equal(r.headers.authorization, AUTH.Authorization);
        assert.equal(r.headers["content-type"], "text/plain; charset=utf-8");
        assert.equal(r.headers["x-batch"], undefined, "only the headers that matter are kept");
        assert.equal(r.answer.status, 204, `${b.id}: ${r.answer.body}`);
      });
      // And the backend stored every point of them.
      const lines = (await exported(backend, bucket)).split("\n").filter((l) => l.startsWith("spool,")).length;
      assert.equal(lines, want.reduce((a, b) => a + b.lines, 0), bucket);
    }
    const after = JSON.parse((await admin(w, "GET", "/spool")).body);
    assert.deepEqual(after.destinations.map((d) => [d.queued, d.queued_bytes, d.dead_letters]), [[0, 0, 0], [0, 0, 0]]);

    // One log line per attempt, and never the token, the query string or the body.
    const attempts = w.logs.filter((l) => l.includes('{"linegate_spool":'));
    assert.ok(attempts.length >= 1000, `${attempts.length} attempt lines`);
    for (const l of attempts) {
      assert.ok(!l.includes(SETUP.token) && !l.includes("bucket=") && !l.includes("spool,"), l);
    }
    const delivered = attempts.filter((l) => l.includes('"outcome":"delivered"')).length;
    assert.equal(delivered, 1000);
  });

  test("with the backend up, fallback forwards directly and passes its answers through", async () => {
    const good = batch("b", 5000, 100, false);
    let r = await send(w.url, { path: good.path, headers: good.headers, body: good.body });
    assert.equal(r.status, 204);
    assert.equal(r.headers["x-linegate-spooled"], undefined, "answered by the backend itself");
    assert.ok(tap.received.at(-1).body.equals(good.body));
    // What the backend refuses is not spooled in fallback mode: its 404 comes back as is.
    const nope = batch("nope", 5001, 100, false);
    r = await send(w.url, { path: nope.path, headers: nope.headers, body: nope.body });
    assert.equal(r.status, 404);
    assert.ok(r.body.equals(tap.received.at(-1).answer.body));
  });
});

describe("SPOOL=always: dead letters, replay, drop, 413 splits, capacity", { skip }, () => {
  let backend, tap, w, dir;
  before(async () => {
    // Limits low enough that a few hundred KB get the backend's 413.
    process.env.LINEGATE_MAX_BODY = "65536";
    process.env.LINEGATE_MAX_BATCH = "65536";
    try {
      backend = await startBackend();
    } finally {
      delete process.env.LINEGATE_MAX_BODY;
      delete process.env.LINEGATE_MAX_BATCH;
    }
    // 400 is scripted (nothing that passes the edge's check gets it from the backend); the
    // rest is the backend's own answer.
    const fwd = forwardTo(backend.url);
    tap = await startRecorder((r) =>
      r.body.includes("force400")
        ? { status: 400, headers: { "Content-Type": "application/json; charset=utf-8" }, body: '{"code":"invalid","message":"scripted"}' }
        : fwd(r),
    );
    dir = tmpdir("always");
    w = await spoolWorker({ BACKEND_URL: tap.url, SPOOL: "always", SPOOL_MAX_BATCHES: "50" }, dir);
  });
  after(async () => {
    await w?.close();
    await tap?.close();
    await backend?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const write = (bucket, body, headers = {}) =>
    send(w.url, { path: `/api/v2/write?org=${SETUP.org}&bucket=${bucket}&precision=s`, headers: { ...AUTH, ...headers }, body });
  const dest = async (bucket) => (JSON.parse((await admin(w, "GET", "/spool")).body).destinations.find((d) => d.bucket === bucket));

  test("the admin endpoint needs its token", async () => {
    assert.equal((await admin(w, "GET", "/spool", null)).status, 401);
    const bad = await admin(w, "GET", "/spool", "wrong");
    assert.equal(bad.status, 401);
    assert.equal(bad.headers["x-platform-error-code"], "unauthorized");
    assert.equal((await admin(w, "GET", "/spool")).status, 200);
    // Without SPOOL_ADMIN_TOKEN there is no such path at all.
    const plain = await startWorker({ BACKEND_URL: tap.url }, { miniflare: DO });
    try {
      assert.equal((await admin(plain, "GET", "/spool")).status, 404);
    } finally {
      await plain.close();
    }
  });

  test("400, 404 and 422 become dead letters with the backend's status and body; replay delivers, drop deletes", async () => {
    assert.equal((await write("b", "dl f=1i 1700000000\n")).status, 204);
    assert.equal((await write("b", "dl f=\"text\" 1700000001\n")).status, 204); // type conflict: 422
    assert.equal((await write("b", "dl force400=1i 1700000002\n")).status, 204);
    assert.equal((await write("later", "dl g=1i 1700000003\n")).status, 204); // no such bucket: 404
    await until("dead letters", async () => (await dest("b"))?.dead_letters === 2 && (await dest("later"))?.dead_letters === 1, 20_000);
    const b = await dest("b");
    assert.equal(b.queued, 0);
    assert.deepEqual(b.dead.map((d) => d.status), [422, 400]);
    const answered = (s) => tap.received.find((r) => r.answer?.status === s).answer.body.toString();
    assert.equal(b.dead[0].body, answered(422));
    assert.equal(b.dead[1].body, '{"code":"invalid","message":"scripted"}');
    const later = await dest("later");
    assert.equal(later.dead[0].status, 404);
    assert.equal(later.dead[0].body, answered(404));
    assert.ok(!(await exported(backend, "b")).includes("g=1i"));

    // The bucket now exists: replaying delivers the dead letter.
    await createBucket(backend, "later");
    const rp = await admin(w, "POST", `/spool/replay?dest=${later.id}`);
    assert.equal(rp.status, 200);
    assert.deepEqual(JSON.parse(rp.body), { replayed: 1 });
    await until("replay", async () => (await dest("later")).dead_letters === 0 && (await dest("later")).queued === 0, 20_000);
    assert.ok((await exported(backend, "later")).includes("g=1i"));

    // Drop one, by id, then the rest.
    const dr = await admin(w, "POST", `/spool/drop?dest=${b.id}&id=${b.dead[1].id}`);
    assert.deepEqual(JSON.parse(dr.body), { dropped: 1 });
    assert.deepEqual((await dest("b")).dead.map((d) => d.status), [422]);
    assert.deepEqual(JSON.parse((await admin(w, "POST", `/spool/drop?dest=${b.id}`)).body), { dropped: 1 });
    assert.equal((await dest("b")).dead_letters, 0);
    assert.equal((await admin(w, "POST", `/spool/drop?dest=nothex`)).status, 400);
    assert.equal((await admin(w, "POST", `/spool/drop?dest=${"0".repeat(64)}`)).status, 400);
    assert.equal((await admin(w, "GET", `/spool/drop?dest=${b.id}`)).status, 404, "replay and drop are POST");
  });

  test("413 from the backend: split on whole lines, halves resent in order (gzip sent plain)", async () => {
    const lines = Array.from({ length: 4000 }, (_, i) => `split,k=v f=${i}i ${1700000000 + i}\n`);
    const plain = Buffer.from(lines.join("")); // ~115 KB: one split gets each half under 64 KiB
    const n0 = tap.received.length;
    assert.equal((await write("b", plain)).status, 204);
    assert.equal((await write("b", zlib.gzipSync(plain.toString().replaceAll("split,", "splitgz,")), { "Content-Encoding": "gzip" })).status, 204);
    // Several gzip members (Go's reader takes them one after the other), under x-gzip.
    const mm = Buffer.from(plain.toString().replaceAll("split,", "splitmm,"));
    const members = Buffer.concat([zlib.gzipSync(mm.subarray(0, 40_000)), zlib.gzipSync(mm.subarray(40_000, 90_000)), zlib.gzipSync(mm.subarray(90_000))]);
    assert.equal((await write("b", members, { "Content-Encoding": "x-gzip" })).status, 204);
    // A Content-Encoding that is not gzip: the body is plain text, and so are its halves.
    const idn = Buffer.from(plain.toString().replaceAll("split,", "splitid,"));
    assert.equal((await write("b", idn, { "Content-Encoding": "identity" })).status, 204);
    // One line too large for the backend can only be a dead letter.
    assert.equal((await write("b", `huge f="${"y".repeat(70_000)}" 1700000000\n`)).status, 204);
    await until("splits", async () => (await dest("b")).queued === 0, 30_000);
    const reqs = tap.received.slice(n0);
    assert.ok(reqs.filter((r) => r.answer.status === 413).length === 5, reqs.map((r) => r.answer.status).join(" "));
    for (const m of ["split", "splitgz", "splitmm", "splitid"]) {
      const ok = reqs.filter((r) => r.answer.status === 204 && r.body.toString().startsWith(m + ","));
      assert.ok(ok.length >= 2, m);
      // The accepted pieces, in the order sent, are the original lines exactly.
      assert.equal(Buffer.concat(ok.map((r) => r.body)).toString(), plain.toString().replaceAll("split,", m + ","));
      const ce = m === "splitid" ? "identity" : undefined;
      assert.ok(ok.every((r) => r.headers["content-encoding"] === ce), m);
      // Each piece is a batch of its own, with an id of its own (none the whole's).
      const whole = reqs.filter((r) => r.answer.status === 413 && r.body.length > 0);
      const ids = new Set(ok.map((r) => r.headers["x-linegate-batch"]));
      assert.equal(ids.size, ok.length, `${m}: ids of the pieces`);
      assert.ok(whole.every((r) => !ids.has(r.headers["x-linegate-batch"])), m);
    }
    const exp = await exported(backend, "b");
    assert.equal(exp.split("\n").filter((l) => l.startsWith("split,")).length, 4000);
    const d = await dest("b");
    assert.deepEqual(d.dead.map((x) => x.status), [413]);
    assert.equal(d.dead[0].body, reqs.findLast((r) => r.answer.status === 413).answer.body.toString(), "the backend's own 413 body");
    await admin(w, "POST", `/spool/drop?dest=${d.id}`);
  });

  test("a chunked body (no Content-Length) is held and delivered byte for byte", async () => {
    // Under the 64 KiB this backend takes; held from a part-filled read buffer.
    const body = Buffer.from(Array.from({ length: 2_000 }, (_, i) => `chunked,k=v f=${i}i ${1700000000 + i}\n`).join(""));
    const n0 = tap.received.length;
    const r = await send(w.url, {
      path: `/api/v2/write?org=${SETUP.org}&bucket=b&precision=s`,
      headers: { ...AUTH, "Transfer-Encoding": "chunked" },
      body: (req) => {
        for (let i = 0; i < body.length; i += 7777) req.write(body.subarray(i, i + 7777));
        req.end();
      },
    });
    assert.equal(r.status, 204);
    await until("delivery", () => tap.received.length > n0 && tap.received.at(-1).answer !== undefined, 15_000);
    const got = tap.received.at(-1);
    assert.ok(got.body.equals(body), `${got.body.length} of ${body.length} bytes`);
    assert.equal(got.answer.status, 204);
  });

  test("a full spool answers 503 with Retry-After, never a silent drop", async () => {
    // SPOOL_MAX_BATCHES=50 for this destination; the bucket does not exist yet, so they all
    // stay as dead letters, which count against the capacity too.
    for (let i = 0; i < 50; i++) assert.equal((await write("full", `cap f=${i}i ${1700000000 + i}\n`)).status, 204);
    const id = ray();
    const r = await write("full", "cap f=50i 1700000050\n", { "CF-Ray": id });
    assert.equal(r.status, 503);
    assert.equal(r.body.toString(), '{"code":"unavailable","message":"write spool full"}');
    assert.equal(r.headers["retry-after"], "5");
    assert.equal(r.headers["x-platform-error-code"], "unavailable");
    assert.equal(r.headers["content-type"], "application/json; charset=utf-8");
    assert.equal((await w.entry(id)).action, "spool_full");
    // Another destination is not affected.
    assert.equal((await write("b", "cap f=1i 1700000000\n")).status, 204);
  });
});

describe("SPOOL=fallback: a 5xx or 429 from the backend spools the batch; Retry-After is honoured", { skip }, () => {
  test("503 → 204 from the spool; 429 with Retry-After: 2 → the next attempt waits 2 s", async () => {
    // Scripted answers (the real backend answers these only under load), then the backend.
    const backend = await startBackend();
    const fwd = forwardTo(backend.url);
    let n = 0;
    const stamps = [];
    const rec = await startRecorder((r) => {
      stamps.push(performance.now());
      n++;
      if (n === 1) return { status: 503, headers: { "Content-Type": "application/json; charset=utf-8" }, body: '{"code":"unavailable","message":"busy"}' };
      if (n === 2) return { status: 429, headers: { "Retry-After": "2" }, body: "" };
      return fwd(r);
    });
    const dir = tmpdir("retry");
    const w = await spoolWorker({ BACKEND_URL: rec.url, SPOOL: "fallback" }, dir);
    try {
      const id = ray();
      const body = "retry f=1i 1700000000\n";
      const r = await send(w.url, { path: "/api/v2/write?org=o&bucket=b&precision=s", headers: { ...AUTH, "CF-Ray": id }, body });
      assert.equal(r.status, 204);
      assert.equal(r.headers["x-linegate-spooled"], "1");
      const e = await w.entry(id);
      assert.equal(e.action, "spooled");
      assert.equal(e.backend_status, 503);
      await until("delivery", () => rec.received.length === 3 && rec.received[2].answer !== undefined, 15_000);
      assert.ok(rec.received.every((x) => x.body.toString() === body));
      // One batch id on the forward and on every delivery of it (the backend stores it once).
      const ids = rec.received.map((x) => x.headers["x-linegate-batch"]);
      assert.match(ids[0], /^[0-9a-f]{32}$/);
      assert.deepEqual(ids, [ids[0], ids[0], ids[0]]);
      assert.equal(rec.received[2].answer.status, 204);
      const gap = stamps[2] - stamps[1];
      assert.ok(gap >= 1900, `waited ${gap} ms after Retry-After: 2`);
      // workerd's log line of an attempt can reach us after the backend saw the request.
      const spoolLines = () => w.logs.filter((l) => l.includes('{"linegate_spool":'));
      await until("the delivery's log line", () => spoolLines().length >= 2, 5_000);
      const lines = spoolLines().map((l) => JSON.parse(l.slice(l.indexOf("{"))).linegate_spool);
      assert.deepEqual(lines.map((l) => [l.attempt, l.status, l.outcome]), [[1, 429, "retry"], [2, 204, "delivered"]]);
      assert.ok(lines[0].retry_in_ms >= 2000);
      assert.ok((await exported(backend, "b")).includes("retry f=1i"));
    } finally {
      await w.close();
      await rec.close();
      await backend.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("SPOOL_DEAD_LETTER_HOURS", { skip }, () => {
  test("dead letters older than the retention are deleted (0: as soon as they are looked at)", async () => {
    const backend = await startBackend();
    const dir = tmpdir("retention");
    const w = await spoolWorker({ BACKEND_URL: backend.url, SPOOL: "always", SPOOL_DEAD_LETTER_HOURS: "0" }, dir);
    try {
      const r = await send(w.url, { path: "/api/v2/write?org=o&bucket=nope&precision=s", headers: AUTH, body: "gone f=1i 1700000000\n" });
      assert.equal(r.status, 204);
      await w.logged((l) => l.includes('"outcome":"dead"'), 15_000);
      await sleep(5);
      const st = JSON.parse((await admin(w, "GET", "/spool")).body);
      assert.deepEqual(st.destinations.map((d) => [d.bucket, d.queued, d.dead_letters]), [["nope", 0, 0]]);
    } finally {
      await w.close();
      await backend.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("SPOOL=always, workerd killed with SIGKILL mid-delivery (wrangler dev)", { skip }, () => {

  const dev = (port, persist, backendUrl) =>
    wranglerDev(port, persist, { BACKEND_URL: `${backendUrl}`, SPOOL: "always", SPOOL_OPEN: "on", SPOOL_KEY: "spool test key", SPOOL_BACKOFF_BASE_MS: "100", SPOOL_BACKOFF_CAP_MS: "500" });

  test("every batch that got 204 arrives at least once, in order; duplicates counted", { timeout: 150_000 }, async (t) => {
    const backend = await startBackend();
    // A few ms per answer, so that delivery is under way when the kill comes.
    const fwd = forwardTo(backend.url);
    const tap = await startRecorder(async (r) => {
      await sleep(8);
      return fwd(r);
    });
    const persist = tmpdir("kill");
    const port = await freePort();
    let d = await dev(port, persist, tap.url);
    const N = 300;
    const KILLS = 3;
    try {
      for (let i = 0; i < N; i++) {
        const b = batch("b", i, 200 + (i % 7) * 300, i % 4 === 0);
        const r = await send(d.url, { path: b.path, headers: b.headers, body: b.body });
        assert.equal(r.status, 204, `${i}: ${r.body}`);
      }
      for (let k = 1; k <= KILLS; k++) {
        const at = tap.received.length;
        await until(`delivery before kill ${k}`, () => tap.received.length >= at + 20, 60_000);
        await d.kill();
        t.diagnostic(`kill ${k}: SIGKILL after ${tap.received.length} requests reached the backend`);
        d = await dev(port, persist, tap.url);
      }
      const seen = () => new Set(tap.received.filter((r) => r.answer?.status === 204).map(batchOf)).size;
      await until("all batches after the restarts", () => seen() >= N, 90_000);
      const ids = tap.received.map((r) => Number(batchOf(r).split("/")[1]));
      // In order: each request carries the next batch, or re-sends the last one.
      let last = -1;
      let dups = 0;
      for (const i of ids) {
        if (i === last) dups++;
        else assert.equal(i, last + 1, `batch ${i} after ${last}: ${ids.join(",")}`);
        last = i;
      }
      assert.equal(last, N - 1);
      t.diagnostic(`duplicates: ${dups} over ${KILLS} kills`);
      assert.ok(dups <= KILLS, `${dups} duplicates for ${KILLS} kills`);
      const lines = (await exported(backend, "b")).split("\n").filter((l) => l.startsWith("spool,"));
      assert.ok(lines.length > 0);
    } finally {
      await d.kill();
      await tap.close();
      await backend.close();
      fs.rmSync(persist, { recursive: true, force: true });
    }
  });
});

// ---- v1's /write through the spool -------------------------------------------------------

const V1_PASS = "pw of alice";

function basicAuth(user, pass) {
  return "Basic " + Buffer.from(`${user}:${pass}`).toString("base64");
}

/**
 * v1 batches as v1 clients send them: credentials from u/p, `Token [user:]secret` and Basic;
 * `db` with and without `rp`; precisions that scale (s, ms, us) and ones OSS reads as
 * nanoseconds (u, h); one gzipped. `bucket` is where the backend's DBRP mapping puts it,
 * `want` the exported line (timestamps in ns as OSS stores them). `tag` tells runs apart.
 */
function v1Batches(tag) {
  const T = SETUP.token;
  const b = (path, headers, body, bucket, want) => ({ path, headers, body: Buffer.from(body), bucket, want });
  const list = [
    b(`/write?db=v1db&rp=week&precision=s&u=alice&p=${encodeURIComponent(V1_PASS)}`, {}, `v1s,run=${tag} v=1.5 1700000000\n`, "v1db/week", `v1s,run=${tag} v=1.5 1700000000000000000`),
    b(`/write?db=v1db&precision=ms`, { Authorization: `Token ${T}` }, `v1ms,run=${tag} v=2.5 1700000000123\n`, "v1db", `v1ms,run=${tag} v=2.5 1700000000123000000`),
    b(`/write?db=v1db&precision=u`, { Authorization: `Token anyone:${T}` }, `v1u,run=${tag} v=3.5 1700000000123456789\n`, "v1db", `v1u,run=${tag} v=3.5 1700000000123456789`),
    b(`/write?db=v1db&precision=us&u=anyone&p=${T}`, { "Content-Type": "text/plain; charset=utf-8" }, `v1us,run=${tag} v=4.5 1700000000123456\n`, "v1db", `v1us,run=${tag} v=4.5 1700000000123456000`),
  ];
  const gz = b(`/write?db=v1db&rp=week&precision=h`, { Authorization: basicAuth("alice", V1_PASS), "Content-Encoding": "gzip" }, "", "v1db/week", `v1h,run=${tag} v=5.5 1700000000000000005`);
  gz.body = zlib.gzipSync(`v1h,run=${tag} v=5.5 1700000000000000005\n`);
  list.push(gz);
  return list;
}

/** The backend with the v1 buckets (`v1db` and, through its name, `v1db` rp `week`) and alice. */
async function v1Backend() {
  const backend = await startBackend();
  await createBucket(backend, "v1db");
  await createBucket(backend, "v1db/week");
  const args = ["v1-auth", "create", "--data", backend.dir, "--username", "alice", "--password", V1_PASS, "--org", SETUP.org, "--write-bucket", "v1db/week"];
  const p = spawn(BACKEND_BIN, args, { stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  p.stderr.on("data", (c) => (err += c));
  const code = await new Promise((r) => p.once("exit", r));
  assert.equal(code, 0, `v1-auth create: ${err}`);
  return backend;
}

/** Each batch reached the backend once, its query, headers and bytes intact, in order per destination; the points are stored. */
async function assertV1Delivered(received, sent, backend) {
  const got = received.filter((r) => r.url.startsWith("/write?"));
  assert.equal(got.length, sent.length, got.map((r) => r.url).join("\n"));
  for (const key of ["rp=week", null]) {
    const inDest = (u) => (key === null ? !u.includes("rp=") : u.includes(key));
    const g = got.filter((r) => inDest(r.url));
    const s = sent.filter((b) => inDest(b.path));
    assert.deepEqual(g.map((r) => r.url), s.map((b) => b.path), "the query as sent, in order");
    g.forEach((r, k) => {
      const b = s[k];
      assert.ok(r.body.equals(b.body), `${b.path}: body differs`);
      assert.equal(r.headers.authorization, b.headers.Authorization, b.path);
      assert.equal(r.headers["content-encoding"], b.headers["Content-Encoding"], b.path);
      assert.equal(r.headers["content-type"], b.headers["Content-Type"], b.path);
      assert.equal(r.answer.status, 204, `${b.path}: ${r.answer.body}`);
    });
  }
  for (const bucket of ["v1db", "v1db/week"]) {
    const lines = (await exported(backend, encodeURIComponent(bucket))).split("\n").filter((l) => l.startsWith("v1"));
    const want = sent.filter((b) => b.bucket === bucket).map((b) => b.want);
    assert.deepEqual(lines.toSorted(), want.toSorted(), bucket);
  }
}

describe("v1 /write through the spool", { skip }, () => {
  test("SPOOL=always: v1 batches get the spool's 204, then reach the backend's /write intact and are stored", async () => {
    const backend = await v1Backend();
    const tap = await startRecorder(forwardTo(backend.url));
    const dir = tmpdir("v1-always");
    const w = await spoolWorker({ BACKEND_URL: tap.url, SPOOL: "always" }, dir);
    try {
      const sent = v1Batches("always");
      for (const b of sent) {
        const r = await send(w.url, { path: b.path, headers: b.headers, body: b.body });
        assert.equal(r.status, 204, `${b.path}: ${r.status} ${r.body}`);
        assert.equal(r.headers["x-linegate-spooled"], "1", b.path);
      }
      await until("delivery", () => tap.received.filter((r) => r.answer?.status === 204).length >= sent.length, 20_000);
      await assertV1Delivered(tap.received, sent, backend);
      // One destination per (db, rp), shown as such; both empty now.
      const st = JSON.parse((await admin(w, "GET", "/spool")).body);
      const dests = st.destinations.map((d) => [d.path, d.db, d.rp, d.queued, d.dead_letters]);
      assert.deepEqual(dests.toSorted(), [["/write", "v1db", "", 0, 0], ["/write", "v1db", "week", 0, 0]]);
      // A v1 write the backend refuses (wrong password: 401) is a dead letter with its answer.
      const r = await send(w.url, { path: `/write?db=v1db&rp=week&u=alice&p=wrong`, body: "v1bad v=1 1\n" });
      assert.equal(r.status, 204);
      await until("dead letter", async () => {
        const d = JSON.parse((await admin(w, "GET", "/spool")).body).destinations.find((x) => x.rp === "week");
        return d.dead_letters === 1;
      }, 20_000);
      const d = JSON.parse((await admin(w, "GET", "/spool")).body).destinations.find((x) => x.rp === "week");
      assert.equal(d.dead[0].status, 401);
      assert.equal(d.dead[0].body, tap.received.at(-1).answer.body.toString());
    } finally {
      await w.close();
      await tap.close();
      await backend.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test("SPOOL=fallback, backend down: v1 batches get 204, then arrive intact once it is back", async () => {
    let backend = await v1Backend();
    await backend.close({ keep: true });
    const tapPort = await freePort();
    const dir = tmpdir("v1-fallback");
    const w = await spoolWorker({ BACKEND_URL: `http://127.0.0.1:${tapPort}`, SPOOL: "fallback" }, dir);
    let tap = null;
    try {
      const sent = v1Batches("fallback");
      for (const b of sent) {
        const id = ray();
        const r = await send(w.url, { path: b.path, headers: { ...b.headers, "CF-Ray": id }, body: b.body });
        assert.equal(r.status, 204, `${b.path}: ${r.status} ${r.body}`);
        assert.equal(r.headers["x-linegate-spooled"], "1", b.path);
        assert.equal((await w.entry(id)).action, "spooled");
      }
      const st = JSON.parse((await admin(w, "GET", "/spool")).body);
      assert.deepEqual(
        st.destinations.map((d) => [d.db, d.rp, d.queued]).toSorted(),
        [["v1db", "", 3], ["v1db", "week", 2]],
      );
      backend = await startBackend({ dir: backend.dir, port: backend.port });
      tap = await startTap(tapPort, forwardTo(backend.url));
      await until("delivery", () => tap.received.filter((r) => r.answer?.status === 204).length >= sent.length, 30_000);
      // The tap has no method field: every request it saw was a delivery (POST).
      await assertV1Delivered(tap.received, sent, backend);
      // Once the queue is empty, fallback forwards v1 directly again: the backend's answer.
      await until("empty queues", async () => JSON.parse((await admin(w, "GET", "/spool")).body).destinations.every((d) => d.queued === 0), 10_000);
      const r = await send(w.url, { path: `/write?db=v1db&precision=s&u=anyone&p=${SETUP.token}`, body: "v1direct v=6.5 1700000006\n" });
      assert.equal(r.status, 204);
      assert.equal(r.headers["x-linegate-spooled"], undefined);
      assert.ok((await exported(backend, "v1db")).includes("v1direct v=6.5 1700000006000000000\n"));
    } finally {
      await w.close();
      await tap?.close();
      await backend.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
