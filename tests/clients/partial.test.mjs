// The official clients writing a batch with one bad line through the Worker (workerd) with
// PARTIAL_WRITES=always in front of the real backend (spec Part D.1): the good points are
// stored (read back by export), the client sees the 400 with the counts, the bad line is kept.

import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { InfluxDB } from "@influxdata/influxdb-client";
import { ROOT, SETUP, startBackend, startWorker, send, hasPkg, backendAvailable } from "../worker/helpers.mjs";

const run = promisify(execFile);
const PYTHON = path.join(ROOT, ".venv-clients/bin/python");
const SCRIPT = path.join(ROOT, "tests/clients/clients.py");
const haveBackend = (() => {
  try {
    return backendAvailable();
  } catch {
    return false;
  }
})();
const skip = !hasPkg
  ? "pkg/ is not built (npm run build)"
  : !haveBackend
    ? "linegate-backend is not built"
    : !fs.existsSync(PYTHON)
      ? "the clients' venv is missing (scripts/setup.sh makes .venv-clients)"
      : false;
if (process.env.CI && skip) throw new Error(`clients stage cannot run: ${skip}`);

const TOKEN = { Authorization: `Token ${SETUP.token}` };
const ADMIN = "clients-partial-admin";
const answer = (bad) =>
  `partial write error (2 accepted): 1 out of 3 lines rejected\nunable to parse '${bad}': invalid boolean`;

let backend, worker;

before(async () => {
  if (skip) return;
  backend = await startBackend();
  worker = await startWorker(
    { BACKEND_URL: backend.url, PARTIAL_WRITES: "always", SPOOL_ADMIN_TOKEN: ADMIN },
    { miniflare: { durableObjects: { SPOOL_DO: { className: "Spool", useSQLite: true } } } },
  );
});

after(async () => {
  await worker?.close();
  await backend?.close();
});

async function createBucket(name) {
  const r = await send(backend.url, {
    path: "/api/v2/buckets",
    headers: { ...TOKEN, "Content-Type": "application/json" },
    body: JSON.stringify({ org: SETUP.org, name }),
  });
  assert.equal(r.status, 201, r.body.toString());
}

async function exported(bucket) {
  const r = await send(backend.url, { method: "GET", path: `/api/v2/export?org=${SETUP.org}&bucket=${bucket}`, headers: TOKEN });
  assert.equal(r.status, 200);
  return r.body.toString().split("\n").filter(Boolean).sort();
}

async function rejected() {
  const r = await send(worker.url, { method: "GET", path: "/spool/rejected.lp", headers: { Authorization: `Bearer ${ADMIN}` } });
  return r.body.toString();
}

describe("partial writes through the Worker, from the official clients", { skip }, () => {
  test("influxdb-client-python: the good points stored, the 400 with the counts", async () => {
    await createBucket("py-partial");
    const { stdout } = await run(PYTHON, [SCRIPT, "partial", worker.url.origin, SETUP.token, SETUP.org, "py-partial"], { timeout: 60_000 });
    const out = JSON.parse(stdout);
    assert.equal(out.error.status, 400);
    assert.deepEqual(out.error.body, { code: "invalid", message: answer("py,k=b v=oops 2"), line: 2 });
    assert.deepEqual(await exported("py-partial"), ["py,k=a v=1i 1", "py,k=c v=3i 3"]);
    assert.match(await rejected(), /^py,k=b v=oops 2$/m);
  });

  test("@influxdata/influxdb-client: the same", async () => {
    await createBucket("node-partial");
    const client = new InfluxDB({ url: worker.url.origin, token: SETUP.token, timeout: 20_000 });
    const w = client.getWriteApi(SETUP.org, "node-partial", "ns", { maxRetries: 0 });
    w.writeRecords(["node,k=a v=1i 1", "node,k=b v=oops 2", "node,k=c v=3i 3"]);
    const err = await w.close().then(() => null, (e) => e);
    assert.ok(err, "the client saw the 400");
    assert.equal(err.statusCode, 400);
    assert.equal(err.json.message, answer("node,k=b v=oops 2"));
    assert.deepEqual(await exported("node-partial"), ["node,k=a v=1i 1", "node,k=c v=3i 3"]);
    assert.match(await rejected(), /^node,k=b v=oops 2$/m);
  });
});
