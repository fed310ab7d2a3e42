// The Worker under `wrangler dev` in front of real databases (issue 24): InfluxDB 1.6.7 and
// VictoriaMetrics from Debian's packages (tests/support/realdb.mjs), on 127.0.0.1 with
// temporary data.
//
// - Encodings: a passed-through request reaches the database with the client's own
//   Accept-Encoding (none: none or `identity`; workerd adds its own `br, gzip` to every
//   request), and the client never gets a Content-Encoding it did not accept.
// - A SIGKILL of workerd (wrangler dev with --persist-to, SPOOL=always) while writes arrive:
//   after the restart every point that got 204 is in the database exactly once
//   (VictoriaMetrics with `-dedup.minScrapeInterval=1ms`, as the README says to run it: the
//   spool re-sends at most the batch in flight).
//
// Skipped, saying so, when the databases are not installed (scripts/setup.sh installs them).

import { test, describe } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import { ROOT, hasPkg, freePort, send, startRecorder, forwardTo, wranglerDev } from "./helpers.mjs";
import { installed, startRealDb } from "../support/realdb.mjs";

const skip =
  (!hasPkg && "pkg/ is not built (npm run build)") ||
  (!installed("influxd") && "influxd is not installed (scripts/setup.sh installs it)") ||
  (!installed("victoria-metrics") && "victoria-metrics is not installed (scripts/setup.sh installs it)");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const dev = (port, persist, vars) => wranglerDev(port, persist, vars, { timeout: 30_000 });

async function until(what, pred, timeout) {
  const deadline = Date.now() + timeout;
  for (;;) {
    if (await pred()) return;
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await sleep(200);
  }
}

// The database's answers to writes 20 ms late, so that the spool has a backlog being
// delivered when workerd is killed.
function slowWrites(url) {
  const fwd = forwardTo(url);
  return async (r) => {
    if (r.url.startsWith("/write")) await sleep(20);
    return fwd(r);
  };
}

// Batch `i`: `per` points of one series each, ms precision, from `t0`.
const PER = 20;
function batch(i, t0) {
  let s = "";
  for (let j = 0; j < PER; j++) {
    const k = i * PER + j;
    s += `sk,host=h${j % 4} f=${k}.5,i=${k}i ${t0 + k}\n`;
  }
  return s;
}

// Writes `n` batches, killing workerd after batch `killAt` got its 204 and starting it again
// on the same persisted spool; `n` batches, each with its 204.
async function writeThroughKill(tap, vars, n, killAt, t0, headers = {}) {
  const persist = fs.mkdtempSync(path.join(os.tmpdir(), "linegate-realdb-spool-"));
  const port = await freePort();
  let d = await dev(port, persist, vars);
  let pending = 0;
  try {
    for (let i = 0; i < n; i++) {
      if (i === killAt) {
        pending = killAt - tap.received.filter((r) => r.url.startsWith("/write") && r.answer?.status === 204).length;
        await d.kill();
        d = await dev(port, persist, vars);
      }
      const r = await send(d.url, { path: "/write?db=d&precision=ms", headers, body: batch(i, t0) });
      assert.equal(r.status, 204, `${i}: ${r.body}`);
    }
    return { d, persist, pending };
  } catch (e) {
    await d.kill();
    fs.rmSync(persist, { recursive: true, force: true });
    throw e;
  }
}

describe("wrangler dev in front of real databases", { skip }, () => {
  test("InfluxDB 1.6.7: the client's own Accept-Encoding; a SIGKILL of workerd loses nothing", { timeout: 60_000 }, async (t) => {
    const db = await startRealDb("influxdb1");
    // A tap before influxd: what the database received, and what it answered.
    const tap = await startRecorder(slowWrites(db.url));
    let run;
    try {
      const q = await send(db.url, { path: "/query?q=CREATE%20DATABASE%20d" });
      assert.equal(q.status, 200);
      run = await writeThroughKill(
        tap,
        { BACKEND_URL: tap.url, BACKEND_KIND: "influxdb1", SPOOL: "always", SPOOL_OPEN: "on", SPOOL_KEY: "realdb test key", SPOOL_BACKOFF_BASE_MS: "100", SPOOL_BACKOFF_CAP_MS: "500" },
        40,
        20,
        Date.now() - 3_600_000,
      );
      // Passed through: a query, with no Accept-Encoding, identity, and gzip.
      const before = tap.received.length;
      for (const [ae, want] of [[undefined, undefined], ["identity", undefined], ["gzip", "gzip"]]) {
        const headers = ae === undefined ? {} : { "Accept-Encoding": ae };
        const r = await send(run.d.url, { method: "GET", path: "/query?db=d&q=SHOW%20MEASUREMENTS", headers });
        assert.equal(r.status, 200, String(ae));
        // The spool's deliveries reach the tap too: the query's own request.
        const got = tap.received.findLast((x) => x.url.startsWith("/query?db=d&q=SHOW"));
        const sent = got.headers["accept-encoding"];
        if (ae === undefined) assert.ok(sent === undefined || sent === "identity", `the database got ${sent}`);
        else assert.equal(sent, ae, "the database got the client's own Accept-Encoding");
        assert.equal(r.headers["content-encoding"], want, String(ae));
        const text = (want === "gzip" ? zlib.gunzipSync(r.body) : r.body).toString();
        assert.match(text, /"results"/, String(ae));
      }
      assert.equal(tap.received.slice(before).filter((x) => x.url.startsWith("/query")).length, 3);
      const count = async () => {
        const r = await send(db.url, { method: "GET", path: "/query?db=d&q=SELECT%20count(f)%20FROM%20sk" });
        return JSON.parse(r.body).results[0].series?.[0]?.values[0][1] ?? 0;
      };
      await until("every point in InfluxDB", async () => (await count()) >= 40 * PER, 30_000);
      assert.equal(await count(), 40 * PER);
      const writes = tap.received.filter((r) => r.url.startsWith("/write")).length;
      t.diagnostic(`${writes} write requests reached InfluxDB for 40 batches across one SIGKILL (${run.pending} not yet delivered at the kill)`);
    } finally {
      await run?.d.kill();
      if (run) fs.rmSync(run.persist, { recursive: true, force: true });
      await tap.close();
      await db.close();
    }
  });

  test("VictoriaMetrics: a SIGKILL of workerd loses nothing and stores nothing twice", { timeout: 60_000 }, async (t) => {
    const vm = await startRealDb("victoriametrics", ["-dedup.minScrapeInterval=1ms"]);
    const tap = await startRecorder(slowWrites(vm.url));
    let run;
    try {
      const t0 = Date.now() - 600_000;
      run = await writeThroughKill(
        tap,
        { BACKEND_URL: tap.url, BACKEND_KIND: "victoriametrics", SPOOL: "always", SPOOL_OPEN: "on", SPOOL_KEY: "realdb test key", SPOOL_BACKOFF_BASE_MS: "100", SPOOL_BACKOFF_CAP_MS: "500" },
        40,
        20,
        t0,
        { Authorization: "Token t" },
      );
      const samples = async () => {
        const r = await send(vm.url, { method: "GET", path: `/api/v1/export?match[]=${encodeURIComponent('{__name__="sk_f",db="d"}')}` });
        const out = [];
        for (const line of r.body.toString().split("\n").filter(Boolean)) {
          const s = JSON.parse(line);
          s.values.forEach((v, i) => out.push([v, s.timestamps[i], s.metric.host]));
        }
        return out;
      };
      await until("every point in VictoriaMetrics", async () => (await samples()).length >= 40 * PER, 30_000);
      const got = await samples();
      assert.equal(got.length, 40 * PER, "each point once");
      for (const [v, ts, host] of got) {
        const k = ts - t0;
        assert.equal(v, k + 0.5);
        assert.equal(host, `h${(k % PER) % 4}`);
      }
      const writes = tap.received.filter((r) => r.url.startsWith("/write")).length;
      t.diagnostic(`${writes} write requests reached VictoriaMetrics for 40 batches across one SIGKILL (${run.pending} not yet delivered at the kill)`);
    } finally {
      await run?.d.kill();
      if (run) fs.rmSync(run.persist, { recursive: true, force: true });
      await tap.close();
      await vm.close();
    }
  });
});
