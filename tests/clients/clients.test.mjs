// The official InfluxDB clients, as installed from the registries (scripts/setup.sh), against
// the real backend directly and through the Worker (workerd) in front of it, all on
// 127.0.0.1: influxdb-client-python 1.50 (sync and batching writes, gzip on and off, ready,
// health, ping, bucket lookup), @influxdata/influxdb-client 1.35 (gzip above its threshold),
// node-influx 5.12 (v1 /write at precisions n, u, ms, s, h) and influxdb-python 5.3
// (write_points with db, rp, user and password). Each writes known points, reads them back
// with the backend's export, compares them exactly, and checks that a malformed write
// surfaces in the client as InfluxDB's exact error.

import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { execFile, execFileSync } from "node:child_process";
import { promisify } from "node:util";
import { InfluxDB as InfluxV2, Point } from "@influxdata/influxdb-client";
import Influx from "influx";
import {
  ROOT,
  BACKEND_BIN,
  SETUP,
  startBackend,
  startWorker,
  send,
  hasPkg,
  backendAvailable,
  backendMetrics,
} from "../worker/helpers.mjs";

const run = promisify(execFile);
const PYTHON = path.join(ROOT, ".venv-clients/bin/python");
const SCRIPT = path.join(ROOT, "tests/clients/clients.py");
const haveBackend = (() => {
  try {
    return backendAvailable();
  } catch (e) {
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
const V1_USER = "v1user";
const V1_PASS = "v1 pass:word";
// The first rejected line of "m f=", as InfluxDB OSS answers it (plus linegate's line).
const MISSING_VALUE = { code: "invalid", message: "unable to parse 'm f=': missing field value" };

let backend, worker;
const targets = {};

before(async () => {
  if (skip) return;
  backend = await startBackend();
  worker = await startWorker({ BACKEND_URL: backend.url });
  targets.backend = backend.url;
  targets.worker = worker.url.origin;
  execFileSync(BACKEND_BIN, [
    "v1-auth", "create", "--data", backend.dir, "--username", V1_USER, "--password", V1_PASS, "--org", SETUP.org,
  ]);
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
  return JSON.parse(r.body).id;
}

/** The bucket's stored points as line protocol, one point a line, sorted. */
async function exported(bucket) {
  const r = await send(backend.url, {
    method: "GET",
    path: `/api/v2/export?org=${SETUP.org}&bucket=${encodeURIComponent(bucket)}`,
    headers: TOKEN,
  });
  assert.equal(r.status, 200, r.body.toString());
  return r.body.toString().split("\n").filter(Boolean).sort();
}

const sorted = (lines) => [...lines].sort();

for (const where of ["backend", "worker"]) {
  describe(`through the ${where}`, { skip }, () => {
    for (const gzip of [false, true]) {
      test(`influxdb-client-python: ready, health, ping, bucket lookup, sync and batching writes, gzip ${gzip ? "on" : "off"}`, async () => {
        const bucket = `py2-${where}-${gzip ? "gz" : "plain"}`;
        const id = await createBucket(bucket);
        const before = await backendMetrics(backend);
        const { stdout } = await run(PYTHON, [SCRIPT, "v2", targets[where], SETUP.token, SETUP.org, bucket, gzip ? "1" : "0"], {
          timeout: 60_000,
        });
        const out = JSON.parse(stdout);
        const after = await backendMetrics(backend);
        const grew = (k) => after[k] - before[k];
        // What the backend received is what it decoded exactly when nothing was gzipped.
        const received = grew("linegate_write_bytes_received_total");
        assert.ok(received > 0);
        assert.equal(received === grew("linegate_write_bytes_decoded_total"), !gzip, "gzip as asked");
        assert.equal(out.ready, "ready");
        assert.equal(out.health, "pass");
        assert.equal(out.ping, true);
        assert.deepEqual(out.bucket, { id, name: bucket });
        assert.equal(out.batches, 3, "7 points in batches of 3");
        assert.equal(out.error.status, 400);
        assert.deepEqual(out.error.body, { ...MISSING_VALUE, line: 1 });
        assert.deepEqual(await exported(bucket), sorted([
          'sync,host=a\\ b f=1.5,i=7i 1700000000000000001',
          'sync,host=c s="x y",t=true 1700000000000000002',
          ...Array.from({ length: 7 }, (_, i) => `batch,n=${i} v=${i}i ${1700000000 + i}000000000`),
        ]));
      });
    }

    test("@influxdata/influxdb-client (Node): a batch above the gzip threshold, and the error", async () => {
      const bucket = `node2-${where}`;
      await createBucket(bucket);
      const client = new InfluxV2({ url: targets[where], token: SETUP.token, timeout: 20_000 });
      const before = await backendMetrics(backend);
      const w = client.getWriteApi(SETUP.org, bucket, "ms", { gzipThreshold: 1000, batchSize: 1000, maxRetries: 0 });
      const want = [];
      for (let i = 0; i < 200; i++) {
        w.writePoint(new Point("node").tag("k", `v${i % 3}`).floatField("f", i / 4).intField("i", i).timestamp(1700000000000 + i));
        want.push(`node,k=v${i % 3} f=${i % 4 === 0 ? `${i / 4}.0` : i / 4},i=${i}i ${1700000000000 + i}000000`);
      }
      await w.close();
      const after = await backendMetrics(backend);
      const received = after.linegate_write_bytes_received_total - before.linegate_write_bytes_received_total;
      const decoded = after.linegate_write_bytes_decoded_total - before.linegate_write_bytes_decoded_total;
      assert.ok(received > 0 && received < decoded / 2, `sent gzipped: ${received} bytes for ${decoded}`);
      assert.deepEqual(await exported(bucket), sorted(want));
      const bad = client.getWriteApi(SETUP.org, bucket, "ns", { maxRetries: 0 });
      bad.writeRecord("m f=");
      const err = await bad.close().then(() => null, (e) => e);
      assert.ok(err, "the malformed write failed in the client");
      assert.equal(err.statusCode, 400);
      assert.equal(err.code, MISSING_VALUE.code);
      assert.equal(err.json.message, MISSING_VALUE.message);
      assert.equal(err.message, MISSING_VALUE.message);
    });

    test("node-influx (v1 /write, u/p) at precisions n, u, ms, s, h: u and h are read as nanoseconds, as OSS does", async () => {
      const db = `nodev1-${where}`;
      await createBucket(db);
      const u = new URL(targets[where]);
      const influx = new Influx.InfluxDB({
        host: u.hostname,
        port: Number(u.port),
        protocol: "http",
        database: db,
        username: V1_USER,
        password: V1_PASS,
      });
      const ts = { n: "1700000000000000007", u: "1700000000000007", ms: "1700000000007", s: "1700000007", h: "472222" };
      for (const [precision, t] of Object.entries(ts)) {
        await influx.writePoints([{ measurement: "nv1", tags: { p: precision }, fields: { v: 1 }, timestamp: t }], { precision });
      }
      // Only us, ms and s scale a given timestamp on /write; n, u and h leave it as ns.
      assert.deepEqual(await exported(db), sorted([
        "nv1,p=n v=1.0 1700000000000000007",
        "nv1,p=u v=1.0 1700000000000007",
        "nv1,p=ms v=1.0 1700000000007000000",
        "nv1,p=s v=1.0 1700000007000000000",
        "nv1,p=h v=1.0 472222",
      ]));
      // A rejected write (node-influx escapes commas and spaces but not a newline, so this
      // measurement makes a first line without fields): InfluxDB's status and JSON error
      // reach the caller.
      const err = await influx
        .writePoints([{ measurement: "m\nx", fields: { v: 1 }, timestamp: "1" }], { precision: "s" })
        .then(() => null, (e) => e);
      assert.ok(err, "the malformed write failed in the client");
      assert.equal(err.res.statusCode, 400);
      assert.deepEqual(JSON.parse(/error occurred: (.*)$/s.exec(err.message)[1]), {
        code: "invalid",
        message: "unable to parse 'm': missing fields",
        line: 1,
      });
      // Wrong password: 401 unauthorized.
      const wrong = new Influx.InfluxDB({ host: u.hostname, port: Number(u.port), database: db, username: V1_USER, password: "no" });
      const e401 = await wrong.writePoints([{ measurement: "x", fields: { v: 1 } }]).then(() => null, (e) => e);
      assert.equal(e401.res.statusCode, 401);
      assert.deepEqual(JSON.parse(/error occurred: (.*)$/s.exec(e401.message)[1]), {
        code: "unauthorized",
        message: "unauthorized access",
      });
    });

    test("influxdb-python (v1 write_points with db, rp, user and password, HTTP Basic)", async () => {
      const db = `pyv1${where}`;
      // A bucket named db/rp is found with both; a plain db through an explicit DBRP mapping.
      await createBucket(`${db}/week`);
      const mappedId = await createBucket(`${db}-mapped`);
      const orgs = JSON.parse((await send(backend.url, { method: "GET", path: "/api/v2/orgs", headers: TOKEN })).body);
      const m = await send(backend.url, {
        path: "/api/v2/dbrps",
        headers: { ...TOKEN, "Content-Type": "application/json" },
        body: JSON.stringify({ orgID: orgs.orgs[0].id, bucketID: mappedId, database: db, retention_policy: "autogen", default: true }),
      });
      assert.equal(m.status, 201, m.body.toString());
      const u = new URL(targets[where]);
      for (const [rp, bucket] of [["week", `${db}/week`], ["", `${db}-mapped`]]) {
        const { stdout } = await run(PYTHON, [SCRIPT, "v1", u.hostname, u.port, V1_USER, V1_PASS, db, rp], { timeout: 60_000 });
        const out = JSON.parse(stdout);
        assert.equal(out.s, true);
        assert.equal(out.ms, true);
        assert.equal(out.error.status, 400);
        assert.deepEqual(out.error.body, { ...MISSING_VALUE, line: 1 });
        assert.deepEqual(await exported(bucket), sorted([
          "py1,host=a n=3i,v=1.25 1700000000000000000",
          'py1,host=b s="q",v=2.5 1700000001000000000',
          "py1ms v=1i 1700000000123000000",
        ]));
      }
    });
  });
}
