// Every corpus case through the Worker in workerd, in front of the backend:
// - what the edge rejects is answered exactly as InfluxDB answered it (status, headers, body
//   with linegate's `line`), and nothing reaches the backend;
// - what it accepts reaches the backend byte for byte (same path, query, headers that
//   matter) and the backend's answer comes back unchanged.
// The backend is the real linegate-backend when it is built, behind a tap that records the
// bytes on the wire (the one thing a backend cannot show); otherwise the tap answers 204.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import zlib from "node:zlib";
import {
  startWorker,
  startRecorder,
  startBackend,
  backendAvailable,
  forwardTo,
  backendMetrics,
  backendWrites,
  send,
  hasCorpus,
  hasPkg,
  corpusRows,
  corpusRequest,
  expectedBody,
  rowMaxBatch,
} from "./helpers.mjs";

const skip = !hasCorpus
  ? "../shared/corpus is absent (a clone outside the workspace): corpus parity skipped"
  : !hasPkg
    ? "pkg/ is not built (npm run build)"
    : false;

// Go's flate offset may differ for corrupt deflate data (spec Part A §2).
const EXEMPT_MESSAGE = new Set(["gzip/g0011-gz-corrupt-deflate.gz"]);

let backend = null;
let tap;
const workers = new Map(); // MAX_BATCH_BYTES (or "default") -> worker

async function workerFor(maxBatch) {
  const key = maxBatch ?? "default";
  if (!workers.has(key)) {
    const vars = { BACKEND_URL: tap.url };
    if (maxBatch !== null) vars.MAX_BATCH_BYTES = String(maxBatch);
    workers.set(key, await startWorker(vars));
  }
  return workers.get(key);
}

before(async () => {
  if (skip) return;
  if (backendAvailable()) backend = await startBackend();
  tap = await startRecorder(backend ? forwardTo(backend.url) : undefined);
});

after(async () => {
  for (const w of workers.values()) await w.close();
  if (tap) await tap.close();
  if (backend) await backend.close();
});

const rows = hasCorpus ? corpusRows() : [];
const runs = [...new Set(rows.map((r) => r.run))];

test("the corpus holds the cases this suite expects", { skip }, () => {
  assert.ok(rows.length > 2000, `only ${rows.length} rows`);
  assert.ok(rows.some((r) => r.status === 204) && rows.some((r) => r.status === 400));
});

for (const run of runs) {
  test(`corpus run ${run}`, { skip }, async (t) => {
    const problems = [];
    let forwarded = 0;
    let rejected = 0;
    for (const row of rows.filter((r) => r.run === run)) {
      const w = await workerFor(rowMaxBatch(row));
      const req = corpusRequest(row, zlib);
      const before = tap.received.length;
      const res = await send(w.url, { path: req.path, headers: req.headers, body: req.body });
      const got = res.body.toString("utf8");
      const where = `${row.file} (${row.run})`;
      if (row.status === 204) {
        forwarded++;
        if (tap.received.length !== before + 1) {
          problems.push(`${where}: accepted, but the backend received ${tap.received.length - before} requests`);
          continue;
        }
        const r = tap.received[before];
        if (!r.body.equals(req.body)) problems.push(`${where}: body changed on the way to the backend`);
        if (r.url !== req.path) problems.push(`${where}: forwarded to ${r.url}, not ${req.path}`);
        for (const h of ["authorization", "content-encoding", "content-type"]) {
          const want = Object.entries(req.headers).find(([k]) => k.toLowerCase() === h)?.[1];
          if (r.headers[h] !== want) problems.push(`${where}: ${h} forwarded as ${r.headers[h]}, sent ${want}`);
        }
        const a = r.answer;
        if (res.status !== a.status) problems.push(`${where}: backend said ${a.status}, client got ${res.status}`);
        if (!res.body.equals(a.body)) problems.push(`${where}: the backend's body did not come back unchanged`);
        for (const [k, v] of Object.entries(a.headers)) {
          if (["date", "connection", "keep-alive", "transfer-encoding", "content-length"].includes(k)) continue;
          if (res.headers[k] !== v) problems.push(`${where}: backend header ${k}: ${v} came back as ${res.headers[k]}`);
        }
      } else {
        rejected++;
        if (tap.received.length !== before) problems.push(`${where}: rejected batch reached the backend`);
        if (res.status !== row.status) {
          problems.push(`${where}: status ${res.status}, want ${row.status}: ${got.slice(0, 200)}`);
          continue;
        }
        const code = JSON.parse(row.body).code;
        if (res.headers["content-type"] !== "application/json; charset=utf-8") {
          problems.push(`${where}: content-type ${res.headers["content-type"]}`);
        }
        if (res.headers["x-platform-error-code"] !== code) {
          problems.push(`${where}: x-platform-error-code ${res.headers["x-platform-error-code"]}, want ${code}`);
        }
        if (EXEMPT_MESSAGE.has(row.file)) {
          if (JSON.parse(got).code !== code) problems.push(`${where}: code differs`);
        } else if (got !== expectedBody(row)) {
          problems.push(`${where}: body ${JSON.stringify(got.slice(0, 300))}\n   want ${JSON.stringify(expectedBody(row).slice(0, 300))}`);
        }
      }
    }
    t.diagnostic(`${forwarded} forwarded, ${rejected} answered at the edge`);
    assert.deepEqual(problems.slice(0, 20), [], `${problems.length} mismatches`);
  });
}

test("the backend's own counters: every accepted case arrived, no rejected one did", {
  skip: skip || (!backendAvailable() && "linegate-backend is not built (cargo build -p linegate-backend)"),
}, async () => {
  assert.ok(backend !== null);
  const accepted = rows.filter((r) => r.status === 204).length;
  assert.equal(tap.received.length, accepted);
  const m = await backendMetrics(backend);
  assert.equal(backendWrites(m), accepted, "write requests the backend counted");
  const bytes = tap.received.reduce((a, r) => a + r.body.length, 0);
  assert.equal(m.linegate_write_bytes_received_total, bytes, "body bytes the backend counted");
  // Its answers were its own: 204s, and OSS's 422 where the cases share one bucket.
  assert.ok(tap.received.some((r) => r.answer.status === 204));
});
