// The official clients' own retry paths against the rate quota (spec Part D.2), through the
// Worker (workerd) in front of the real backend: a tenant already over QUOTA_WRITE_BYTES,
// the quota clock moved so the window ends ~10 s after the run starts (QUOTA_CLOCK_OFFSET_MS;
// a real window is 300 s), then each client's default write path:
// - influxdb-client-python 1.50, batching WriteApi with its default WriteOptions: meets the
//   429, sleeps Retry-After seconds (urllib3), retries, and every point arrives once the
//   window opens;
// - @influxdata/influxdb-client 1.35, default write API: it reads the integer Retry-After
//   as *milliseconds* (HttpError.retryAfter() is the header's number; RetryStrategy.nextDelay
//   adds up to retryJitter ms and setTimeout waits that long), so its 5 retries are spent
//   within about a second and close() rejects with the 429: nothing arrives. With maxRetries
//   raised it keeps retrying every few hundred ms until the window opens, and then every
//   point arrives.

import { test, describe } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { InfluxDB, HttpError } from "@influxdata/influxdb-client";
import { ROOT, SETUP, startBackend, startWorker, send, hasPkg, backendAvailable } from "../worker/helpers.mjs";

const run = promisify(execFile);
const PYTHON = path.join(ROOT, ".venv-clients/bin/python");
const SCRIPT = path.join(ROOT, "tests/clients/clients.py");
const skip = !hasPkg
  ? "pkg/ is not built (npm run build)"
  : !backendAvailable()
    ? "linegate-backend is not built"
    : !fs.existsSync(PYTHON)
      ? "the clients' venv is missing (scripts/setup.sh makes .venv-clients)"
      : false;
if (process.env.CI && skip) throw new Error(`clients stage cannot run: ${skip}`);

const TOKEN = { Authorization: `Token ${SETUP.token}` };
const QUOTA = 100_000;
const AHEAD_MS = 8_000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A backend and a Worker whose quota window ends AHEAD_MS from now; the tenant `o` over it. */
async function throttled(bucket) {
  const backend = await startBackend();
  const created = await send(backend.url, {
    path: "/api/v2/buckets",
    headers: { ...TOKEN, "Content-Type": "application/json" },
    body: JSON.stringify({ org: SETUP.org, name: bucket }),
  });
  assert.equal(created.status, 201, created.body.toString());
  // The boundary at least AHEAD_MS away once the Worker is up (it takes a few seconds).
  const t = Date.now();
  const boundary = (Math.floor((t + AHEAD_MS + 3_000) / 300_000) + 1) * 300_000;
  const offset = boundary - AHEAD_MS - 3_000 - t;
  const worker = await startWorker(
    { BACKEND_URL: backend.url, QUOTA_WRITE_BYTES: String(QUOTA), QUOTA_CLOCK_OFFSET_MS: String(offset) },
    { miniflare: { durableObjects: { QUOTA_DO: { className: "Quota", useSQLite: true } } } },
  );
  const fill = "fill,k=v v=1i 1\n".repeat(Math.ceil(QUOTA / 16));
  const r = await send(worker.url, { path: `/api/v2/write?org=${SETUP.org}&bucket=${bucket}`, headers: TOKEN, body: fill });
  assert.equal(r.status, 204, r.body.toString());
  const over = await send(worker.url, { path: `/api/v2/write?org=${SETUP.org}&bucket=${bucket}`, headers: TOKEN, body: "x v=1i 1\n" });
  assert.equal(over.status, 429, "the tenant is over its quota");
  const now = () => Date.now() + offset;
  assert.ok(boundary - now() > 3_000, `the window ends in ${boundary - now()} ms`);
  return {
    backend,
    worker,
    url: worker.url.origin,
    boundary,
    now,
    async close() {
      await worker.close();
      await backend.close();
    },
  };
}

/** The bucket's stored points of one measurement, as line protocol, sorted. */
async function stored(backend, bucket, measurement) {
  const r = await send(backend.url, { method: "GET", path: `/api/v2/export?org=${SETUP.org}&bucket=${bucket}`, headers: TOKEN });
  assert.equal(r.status, 200, r.body.toString());
  return r.body.toString().split("\n").filter((l) => l.startsWith(`${measurement},`)).sort();
}

const throttledEntries = (w) => w.entries().filter((e) => e.status === 429 && e.action === "throttled");

describe("the official clients' retry paths meet the rate quota's 429 (through the Worker)", { skip }, () => {
  test("influxdb-client-python, batching WriteApi with default WriteOptions: every point arrives once the window opens", { timeout: 60_000 }, async () => {
    const bucket = "py-retry";
    const N = 2500; // three batches of the default 1000
    const s = await throttled(bucket);
    try {
      const start = s.now();
      const { stdout } = await run(PYTHON, [SCRIPT, "retry", s.url, SETUP.token, SETUP.org, bucket, String(N)], { timeout: 50_000 });
      const out = JSON.parse(stdout);
      assert.deepEqual(out.error, [], "no batch given up");
      assert.ok(out.retry.length >= 1, "the 429 was met and retried");
      for (const r of out.retry) {
        assert.equal(r.status, 429);
        assert.match(r.message, /org o has exceeded limited_write plan limit/);
        // The header it retried on: whole seconds to the window's end.
        const secs = Number(r.retry_after);
        assert.ok(Number.isInteger(secs) && secs >= 1 && secs <= Math.ceil((s.boundary - start) / 1000), `Retry-After ${r.retry_after}`);
      }
      assert.deepEqual(out.success.map((b) => b.lines), [1000, 1000, 500]);
      // It waited the Retry-After seconds (not milliseconds): the first success came after
      // the window opened.
      assert.ok(s.now() >= s.boundary, "done only after the boundary");
      const got = await stored(s.backend, bucket, "pyretry");
      assert.equal(got.length, N, "every point arrived, once");
      assert.deepEqual(got, Array.from({ length: N }, (_, i) => `pyretry,n=${i} v=${i}i ${1700000000 + i}000000000`).sort());
      // Every 429 the Worker gave was before the boundary; its count is the client's retries.
      const entries = throttledEntries(s.worker);
      assert.equal(entries.length, 1 + out.retry.length, "one throttled answer per try (and the test's own)");
    } finally {
      await s.close();
    }
  });

  test("@influxdata/influxdb-client, default write API: Retry-After read as milliseconds, its retries spent in ~1 s and the batch dropped; with more retries every point arrives", { timeout: 60_000 }, async (t) => {
    const bucket = "node-retry";
    const N = 800; // one batch (batchSize 1000): one sequence of tries to watch
    const s = await throttled(bucket);
    const lines = (m) => Array.from({ length: N }, (_, i) => `${m},n=${i} v=${i}i ${1700000000 + i}`);
    // Observation only: writeFailed returning nothing leaves the client's own handling.
    const failures = [];
    const watch = (name) => ({
      writeFailed(e, _lines, attempt) {
        failures.push({ name, at: Date.now(), attempt, status: e.statusCode, retryAfter: e.retryAfter?.() });
      },
    });
    const client = new InfluxDB({ url: s.url, token: SETUP.token, timeout: 20_000 });
    try {
      // Defaults (maxRetries 5, maxRetryTime 180 s, retryJitter 200 ms), kept open as a
      // long-running writer keeps it: flush() rejects on the first 429, the retries go on
      // in the background, each `Retry-After: <secs>` turned into <secs> ms + jitter.
      const w = client.getWriteApi(SETUP.org, bucket, "s", watch("default"));
      w.writeRecords(lines("nodedefault"));
      const first = await w.flush().then(() => null, (e) => e);
      assert.ok(first instanceof HttpError, `flush() rejected with ${first}`);
      assert.equal(first.statusCode, 429);
      assert.equal(first.json.message, `org ${SETUP.org} has exceeded limited_write plan limit`);
      const secs = first.retryAfter();
      assert.ok(Number.isInteger(secs) && secs >= 3 && secs <= 11, `retryAfter() ${secs}`);
      const deadline = Date.now() + 5_000;
      while (failures.length < 6 && Date.now() < deadline) await sleep(50);
      await sleep(1_000);
      const mine = failures.filter((f) => f.name === "default");
      assert.deepEqual(mine.map((f) => f.attempt), [1, 2, 3, 4, 5, 6], "1 try + maxRetries 5, then no more");
      assert.ok(mine.every((f) => f.status === 429 && f.retryAfter >= 1));
      for (let i = 1; i < mine.length; i++) {
        const gap = mine[i].at - mine[i - 1].at;
        // <secs> ms + up to 200 ms of jitter (+ the request), not <secs> seconds.
        assert.ok(gap < secs + 200 + 500 && gap < secs * 1000, `retry ${i} after ${gap} ms (Retry-After: ${mine[i - 1].retryAfter})`);
      }
      assert.ok(s.now() < s.boundary, "all spent before the window opened");
      assert.equal(throttledEntries(s.worker).length - 1, 6, "six 429s at the Worker");
      await w.close();
      assert.deepEqual(await stored(s.backend, bucket, "nodedefault"), [], "the batch was dropped: nothing arrived");

      // The same with maxRetries raised (maxRetryTime left at 180 s): it keeps trying every
      // <secs> ms + jitter until the window opens, then every point arrives, once.
      const before = throttledEntries(s.worker).length;
      const w2 = client.getWriteApi(SETUP.org, bucket, "s", { ...watch("more"), maxRetries: 1000 });
      w2.writeRecords(lines("noderetry"));
      await w2.flush().catch(() => {});
      const until = s.boundary + 15_000;
      let got = [];
      while (s.now() < until) {
        got = await stored(s.backend, bucket, "noderetry");
        if (got.length === N) break;
        await sleep(250);
      }
      await w2.close();
      assert.equal(got.length, N, "every point arrived");
      assert.deepEqual(got, lines("noderetry").map((l) => l.replace(/ (\d+)$/, " $1000000000")).sort());
      const retried = failures.filter((f) => f.name === "more");
      assert.ok(retried.length >= 3, `${retried.length} throttled tries`);
      assert.ok(retried.at(-1).at + 0 <= Date.now(), "tries stopped");
      assert.equal(throttledEntries(s.worker).length - before, retried.length);
      t.diagnostic(`default: 6 tries in ${mine.at(-1).at - mine[0].at} ms; maxRetries 1000: ${retried.length} tries before the window opened`);
    } finally {
      await s.close();
    }
  });
});
