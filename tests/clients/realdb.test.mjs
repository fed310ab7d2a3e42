// The Worker in front of real databases (issue 24), with the official clients: InfluxDB 1.6
// (BACKEND_KIND=influxdb1) and VictoriaMetrics (BACKEND_KIND=victoriametrics), each started
// on 127.0.0.1 with temporary data (tests/support/realdb.mjs). npm `influx` 5.12 writes,
// queries and manages databases through the Worker; @influxdata/influxdb-client writes v2
// batches that arrive in 1.x's `db/rp` and as VictoriaMetrics' `db` label; every value is read
// back from the database itself. The edge is transparent: no Content-Encoding a client did
// not ask for, and /ping, /health, /ready are the database's (503 when it is down). Skipped,
// saying so, when the binaries are absent.

import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import zlib from "node:zlib";
import { InfluxDB as InfluxV2, Point } from "@influxdata/influxdb-client";
import Influx from "influx";
import fs from "node:fs";
import path from "node:path";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { startWorker, send, hasPkg, ROOT } from "../worker/helpers.mjs";
import { startRealDb, installed } from "../support/realdb.mjs";

const noPkg = !hasPkg && "pkg/ is not built (npm run build)";
const skip1 = noPkg || (!installed("influxd") && "influxd is not installed (scripts/setup.sh installs it)");
const skipVm =
  noPkg || (!installed("victoria-metrics") && "victoria-metrics is not installed (scripts/setup.sh installs it)");

const PYTHON = path.join(ROOT, ".venv-clients/bin/python");
const havePython = fs.existsSync(PYTHON);
async function python(...args) {
  const { stdout } = await promisify(execFile)(PYTHON, [path.join(ROOT, "tests/clients/realdb.py"), ...args]);
  return JSON.parse(stdout);
}

async function json(base, p, headers = {}) {
  const r = await send(base, { method: "GET", path: p, headers });
  assert.equal(r.status, 200, r.body.toString());
  return JSON.parse(r.body.toString());
}

describe("InfluxDB 1.x behind the Worker", { skip: skip1 }, () => {
  let db, w;
  before(async () => {
    db = await startRealDb("influxdb1");
    w = await startWorker({ BACKEND_URL: db.url, BACKEND_KIND: "influxdb1" });
  });
  after(async () => {
    await w?.close();
    await db?.close();
  });

  test("npm influx: database calls, credential-free writes and queries through the Worker", async () => {
    const client = new Influx.InfluxDB({ host: w.url.hostname, port: Number(w.url.port), database: "nodedb" });
    await client.createDatabase("nodedb");
    assert.ok((await client.getDatabaseNames()).includes("nodedb"));
    const t0 = Date.now() - 60_000;
    const points = [];
    for (let i = 0; i < 50; i++) {
      points.push({
        measurement: "m",
        tags: { host: `h${i % 5}` },
        fields: { f: i + 0.5, i: i, s: `v"${i}\\`, ok: i % 2 === 0 },
        timestamp: new Date(t0 + i),
      });
    }
    await client.writePoints(points, { precision: "ms" });
    const rows = await client.query("SELECT * FROM m ORDER BY time", { precision: "ms" });
    assert.equal(rows.length, 50);
    rows.forEach((r, i) => {
      assert.equal(r.time.getTime(), t0 + i);
      assert.equal(r.host, `h${i % 5}`);
      assert.equal(r.f, i + 0.5);
      assert.equal(r.i, i);
      assert.equal(r.s, `v"${i}\\`);
      assert.equal(r.ok, i % 2 === 0);
    });
    const pinged = await client.ping(5000);
    assert.equal(pinged[0].online, true);
    assert.equal(pinged[0].version, "1.6.7~rc0", "the database's version, not the edge's");
    await client.dropDatabase("nodedb");
    assert.ok(!(await client.getDatabaseNames()).includes("nodedb"));
  });

  test("PyPI influxdb 5.3: database calls, writes and queries through the Worker", { skip: !havePython && "no .venv-clients" }, async () => {
    const out = await python("v1", w.url.origin);
    assert.equal(out.listed, true);
    assert.equal(out.dropped, true);
    assert.equal(out.rows.length, 40);
    out.rows.forEach((r, i) => {
      assert.equal(r.time, 1_700_000_000_000 + i);
      assert.equal(r.host, `h${i % 3}`);
      assert.equal(r.f, i + 0.5);
      assert.equal(r.n, i);
      assert.equal(r.s, `v"${i}\\`);
      assert.equal(r.ok, i % 2 === 0);
    });
  });

  test("@influxdata/influxdb-client: a v2 write lands in db/rp with its values; unsigned is a clear 400", async () => {
    await send(db.url, { path: "/query?q=CREATE%20DATABASE%20v2db" });
    const api = new InfluxV2({ url: w.url.origin, token: "someone:secret" }).getWriteApi("o", "v2db/autogen", "us");
    const t0 = (Date.now() - 60_000) * 1000;
    for (let i = 0; i < 20; i++) {
      api.writePoint(new Point("w").tag("k", `t${i % 3}`).floatField("f", i / 4).intField("n", -i).timestamp(String(t0 + i)));
    }
    await api.close();
    const out = await json(db.url, "/query?db=v2db&epoch=u&q=SELECT%20*%20FROM%20w%20ORDER%20BY%20time");
    const values = out.results[0].series[0].values;
    assert.equal(values.length, 20);
    values.forEach(([t, f, k, n], i) => {
      assert.equal(t, t0 + i, "precision us reached 1.x as u");
      assert.equal(f, i / 4);
      assert.equal(k, `t${i % 3}`);
      assert.equal(n, i === 0 ? 0 : -i);
    });
    const r = await send(w.url, {
      path: "/api/v2/write?org=o&bucket=v2db&precision=s",
      headers: { Authorization: "Token a:b" },
      body: "w f=1 1\nw u=2u 2\n",
    });
    assert.equal(r.status, 400);
    assert.deepEqual(JSON.parse(r.body.toString()), {
      code: "invalid",
      message: 'line 2: field "u" is an unsigned integer, which InfluxDB 1.x cannot store',
    });
  });

  test("no Content-Encoding a client did not ask for", async () => {
    const q = "/query?q=SHOW%20DATABASES";
    const plain = await send(w.url, { method: "GET", path: q });
    assert.equal(plain.status, 200);
    assert.equal(plain.headers["content-encoding"], undefined);
    assert.ok(JSON.parse(plain.body.toString()).results);
    const gz = await send(w.url, { method: "GET", path: q, headers: { "Accept-Encoding": "gzip" } });
    assert.equal(gz.status, 200);
    const text = gz.headers["content-encoding"] === "gzip" ? zlib.gunzipSync(gz.body) : gz.body;
    assert.ok(JSON.parse(text.toString()).results);
  });

  test("/ping, /health and /ready are the database's; 503 when it is down", async () => {
    const ping = await send(w.url, { method: "GET", path: "/ping" });
    assert.equal(ping.status, 204);
    assert.equal(ping.headers["x-influxdb-version"], "1.6.7~rc0");
    // InfluxDB 1.6 has no /health: the client hears that, not the edge's "pass".
    const health = await send(w.url, { method: "GET", path: "/health" });
    assert.equal(health.status, 404);
    if (havePython) {
      const up = await python("probes", w.url.origin);
      assert.equal(up.ping, true);
      assert.equal(up.health, "fail", "1.6 has no /health: not the edge's pass");
    }
    await db.kill();
    try {
      if (havePython) {
        const down = await python("probes", w.url.origin);
        assert.equal(down.ping, false);
        assert.equal(down.health, "fail");
        assert.notEqual(down.ready, "ready");
      }
      for (const p of ["/ping", "/health", "/ready"]) {
        const r = await send(w.url, { method: "GET", path: p });
        assert.equal(r.status, 503, p);
        assert.ok(!r.body.toString().includes('"pass"'), p);
      }
    } finally {
      await db.start();
    }
    assert.equal((await send(w.url, { method: "GET", path: "/ping" })).status, 204);
  });
});

describe("VictoriaMetrics behind the Worker", { skip: skipVm }, () => {
  let vm, w;
  before(async () => {
    vm = await startRealDb("victoriametrics");
    w = await startWorker({ BACKEND_URL: vm.url, BACKEND_KIND: "victoriametrics" });
  });
  after(async () => {
    await w?.close();
    await vm?.close();
  });

  test("v2 writes keep their bucket as the db label; a raw LF in a string is a 400, not a loss", async () => {
    const api = new InfluxV2({ url: w.url.origin, token: "t" }).getWriteApi("o", "bucket-a", "ms");
    const t0 = Date.now() - 60_000;
    for (let i = 0; i < 30; i++) {
      api.writePoint(new Point("vm").tag("k", `t${i % 3}`).floatField("f", i + 0.25).timestamp(new Date(t0 + i)));
    }
    await api.close();
    const r = await send(w.url, {
      path: "/api/v2/write?org=o&bucket=bucket-a&precision=ms",
      headers: { Authorization: "Token t" },
      body: `vm f=1 ${t0}\nvm s="two\nlines" ${t0}\n`,
    });
    assert.equal(r.status, 400);
    assert.match(JSON.parse(r.body.toString()).message, /line 2: field "s" holds a line feed/);
    let samples = [];
    const deadline = Date.now() + 30_000;
    while (samples.length < 30 && Date.now() < deadline) {
      const out = await send(vm.url, { method: "GET", path: "/api/v1/export?match[]=vm_f" });
      samples = out.body
        .toString()
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l))
        .flatMap((s) => s.values.map((v, i) => ({ labels: s.metric, v, t: s.timestamps[i] })));
      if (samples.length < 30) await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(samples.length, 30);
    for (const s of samples) {
      assert.equal(s.labels.db, "bucket-a");
      const i = s.t - t0;
      assert.equal(s.v, i + 0.25);
      assert.equal(s.labels.k, `t${i % 3}`);
    }
  });

  test("what VictoriaMetrics 1.79.5 loses or changes behind a 204 is a 400 at the edge", async () => {
    const now = Date.now();
    // [name, line (ms), what VictoriaMetrics keeps of it when written to it directly, the 400's words]
    const cases = [
      ["lead", `lz_lead x=.5 ${now - 1000}`, (v) => v.length === 1 && v[0].v === 0, /field "x" has a number with a leading or trailing dot/],
      ["trail", `lz_trail x=5. ${now - 1000}`, (v) => v.length === 1 && v[0].v === 0, /field "x" has a number with a leading or trailing dot/],
      ["zero", `lz_zero x=1 0`, (v) => v.length === 1 && v[0].t >= now - 60_000, /time is before 1970-01-01T00:00:00.001Z/],
      ["neg", `lz_neg x=1 -1000`, (v) => v.length === 0, /time is before 1970/],
      ["ahead", `lz_ahead x=1 ${now + 3 * 86_400_000}`, (v) => v.length === 0, /time is more than 2 days ahead/],
    ];
    for (const [, line, , words] of cases) {
      const direct = await send(vm.url, { path: "/write?db=direct&precision=ms", body: line + "\n" });
      assert.equal(direct.status, 204, `${line}: VictoriaMetrics takes it`);
      const r = await send(w.url, { path: "/write?db=edge&precision=ms", headers: { Authorization: "Token t" }, body: line + "\n" });
      assert.equal(r.status, 400, line);
      assert.match(JSON.parse(r.body.toString()).message, words, line);
    }
    // Read right by VictoriaMetrics: forwarded.
    const ok = await send(w.url, { path: "/write?db=edge&precision=ms", headers: { Authorization: "Token t" }, body: `lz_ok x=1.e3 ${now - 1000}\n` });
    assert.equal(ok.status, 204);
    const stored = async (name, db) => {
      const sel = encodeURIComponent(`{__name__="lz_${name}_x",db="${db}"}`);
      const end = Math.floor(now / 1000) + 10 * 86_400;
      const out = await send(vm.url, { method: "GET", path: `/api/v1/export?match[]=${sel}&start=0&end=${end}` });
      return out.body
        .toString()
        .split("\n")
        .filter(Boolean)
        .flatMap((l) => {
          const s = JSON.parse(l);
          return s.values.map((v, i) => ({ v, t: s.timestamps[i] }));
        });
    };
    let okVals = [];
    // Searchable now, not after VictoriaMetrics' own flush interval.
    await send(vm.url, { method: "GET", path: "/internal/force_flush" });
    const deadline = Date.now() + 30_000;
    while (okVals.length === 0 && Date.now() < deadline) {
      okVals = await stored("ok", "edge");
      if (okVals.length === 0) await new Promise((r) => setTimeout(r, 200));
    }
    assert.deepEqual(okVals, [{ v: 1000, t: now - 1000 }]);
    // Written directly, each was taken with 204 and then stored as 0, moved, or dropped.
    for (const [name, line, kept] of cases) {
      const got = await stored(name, "direct");
      assert.ok(kept(got), `${line}: ${JSON.stringify(got)}`);
    }
  });
});
