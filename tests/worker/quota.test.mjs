// Write quotas (spec Part D.2) in workerd, in front of the real linegate-backend behind a tap
// that records what reached it: the rate's exact 429 with Retry-After to the window's end
// and the next window accepting again (the quota clock moved near a boundary), a throttled
// body left unread, the series quota's exact 429 with nothing forwarded, 16 concurrent
// clients never getting more than N series to the backend, counts and series surviving
// SIGKILL of workerd (wrangler dev --persist-to), and the isolate's budget of bodies in
// flight keeping 16 concurrent 16 MiB writes under 128 MB.

import { test, describe } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawn, execFileSync } from "node:child_process";
import {
  ROOT,
  SETUP,
  hasPkg,
  backendAvailable,
  startTarget,
  startWorker,
  freePort,
  send,
  sendStream,
  stopAll,
  ray,
  wranglerDev,
} from "./helpers.mjs";

const skip =
  (!hasPkg && "pkg/ is not built (npm run build)") ||
  (!backendAvailable() && "linegate-backend is not built (cargo build --release -p linegate-backend)");
const AUTH = { Authorization: `Token ${SETUP.token}` };
const ADMIN = "quota-admin-test-token";
const DO = { durableObjects: { QUOTA_DO: { className: "Quota", useSQLite: true } } };
const SERIES_429 = `{"code":"too many requests","message":"Series cardinality exceeds your plan's service quota"}`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const MiB = 1024 * 1024;

function quotaWorker(target, vars, dir) {
  return startWorker(
    { BACKEND_URL: target.url, QUOTA_ADMIN_TOKEN: ADMIN, ...vars },
    { miniflare: dir ? { ...DO, durableObjectsPersist: dir } : DO },
  );
}

const write = (w, query, body) =>
  send(w.url, { path: `/api/v2/write?${query}`, headers: { ...AUTH, "Content-Length": String(Buffer.byteLength(body)) }, body });

async function usage(base) {
  const r = await send(base, { method: "GET", path: "/quota", headers: { Authorization: `Bearer ${ADMIN}` } });
  assert.equal(r.status, 200, r.body.toString());
  return JSON.parse(r.body);
}

function checkHeaders(r) {
  assert.equal(r.headers["content-type"], "application/json; charset=utf-8");
  assert.equal(r.headers["x-platform-error-code"], "too many requests");
}

describe("write quotas at the edge", { skip }, () => {
  test("rate: exact 429 with Retry-After to the window's end, body unread, next window accepts", async () => {
    // The quota clock 10 s before a boundary (the Worker's own clock cannot be moved).
    const t = Date.now();
    const boundary = (Math.floor(t / 300_000) + 2) * 300_000;
    const offset = boundary - 10_000 - t;
    const target = await startTarget();
    const w = await quotaWorker(target, { QUOTA_WRITE_BYTES: "100", QUOTA_CLOCK_OFFSET_MS: String(offset) });
    try {
      const line = "cpu,host=a v=1 1\n".repeat(3); // 51 bytes
      assert.equal((await write(w, "org=o&bucket=b", line)).status, 204);
      // 102 bytes: the write that crosses the quota is still accepted.
      assert.equal((await write(w, "org=o&bucket=b", line)).status, 204);
      const before = Date.now() + offset;
      const r = await write(w, "org=o&bucket=b", line);
      const after = Date.now() + offset;
      assert.equal(r.status, 429, r.body.toString());
      checkHeaders(r);
      assert.equal(r.body.toString(), `{"code":"too many requests","message":"org o has exceeded limited_write plan limit"}`);
      const secs = (ms) => Math.max(1, Math.ceil((boundary - ms) / 1000));
      const retry = Number(r.headers["retry-after"]);
      assert.ok(retry >= secs(after) && retry <= secs(before), `Retry-After ${retry} not in ${secs(after)}..${secs(before)}`);
      assert.equal(target.received.length, 2, "the throttled write was not forwarded");
      // The tenant is the org as the request names it: another org is not throttled.
      assert.equal((await write(w, "org=other&bucket=b", line)).status, 404);

      // A throttled body is not read: a declared 200 MiB is answered at once. The client may
      // see the connection reset before it reads the 429 (workerd closes without lingering on
      // an upload it will not read); then the Worker's own log line says what it answered.
      const t0 = Date.now();
      const id = ray();
      const big = await sendStream(w.url, {
        path: "/api/v2/write?org=o&bucket=b",
        headers: { ...AUTH, "Content-Length": String(200 * MiB), "CF-Ray": id },
        total: 200 * MiB,
      });
      assert.ok(Date.now() - t0 < 5_000, `took ${Date.now() - t0} ms`);
      if (big.reset) {
        const e = await w.entry(id);
        assert.equal(e.status, 429);
        assert.equal(e.action, "throttled");
      } else {
        assert.equal(big.status, 429);
        assert.ok(big.headers["retry-after"]);
      }
      assert.ok(big.sent < 64 * MiB, `${big.sent} bytes were sent before the answer`);

      const u = await usage(w.url);
      const o = u.tenants.find((x) => x.tenant === "o");
      assert.equal(o.bytes, 102);
      assert.ok(o.throttled >= 2);

      // The next window accepts again once the quota clock passes the boundary.
      for (;;) {
        const r2 = await write(w, "org=o&bucket=b", line);
        if (r2.status === 204) {
          assert.ok(Date.now() + offset >= boundary, "accepted before the window ended");
          break;
        }
        assert.equal(r2.status, 429);
        assert.ok(Date.now() + offset < boundary + 5_000, "still throttled after the boundary");
        await sleep(250);
      }
      const entries = w.entries().filter((e) => e.action === "throttled");
      assert.ok(entries.length >= 2 && entries.every((e) => e.status === 429 && typeof e.quota_ms === "number"));
    } finally {
      await stopAll(w, target);
    }
  });

  test("series: exact 429 without Retry-After, nothing forwarded, known series pass", async () => {
    const target = await startTarget();
    const w = await quotaWorker(target, { QUOTA_SERIES: "5" });
    try {
      const q = "org=o&bucket=b&precision=s";
      assert.equal((await write(w, q, "m,h=1 v=1 1\nm,h=2 v=1 1\nm,h=1 v=2 2\nn v=1 1\n")).status, 204);
      const r = await write(w, q, "m,h=1 v=3 3\nm,h=3 v=1 1\nm,h=4 v=1 1\nm,h=5 v=1 1\n");
      assert.equal(r.status, 429);
      checkHeaders(r);
      assert.equal(r.headers["retry-after"], undefined);
      assert.equal(r.body.toString(), SERIES_429);
      assert.equal(target.received.length, 1, "nothing of the refused batch was forwarded");
      // Exactly up to the quota, with known series; then known series keep passing.
      assert.equal((await write(w, q, "m,h=3 v=1 1\nm,h=1 v=4 4\nm,h=4 v=1 1\n")).status, 204);
      assert.equal((await write(w, q, "n v=2 2\nm,h=2 v=2 2\n")).status, 204);
      assert.equal((await write(w, q, "m,h=9 v=1 1\n")).body.toString(), SERIES_429);
      // gzip: the series are the decoded body's.
      const gz = (await import("node:zlib")).gzipSync("m,h=9 v=1 1\n");
      const rz = await send(w.url, { path: `/api/v2/write?${q}`, headers: { ...AUTH, "Content-Encoding": "gzip" }, body: gz });
      assert.equal(rz.body.toString(), SERIES_429);
      // v1's /write names its bucket by db and rp: a set of its own.
      const v1 = await send(w.url, { path: `/write?db=b&u=x&p=${SETUP.token}`, body: "m,h=9 v=1 1\n" });
      assert.equal(v1.status, 204);
      assert.equal(target.received.length, 4);
      const u = await usage(w.url);
      const b = u.buckets.find((x) => x.bucket === "v2 org=o&bucket=b");
      assert.equal(b.series, 5);
      assert.equal(b.refused, 3);
      assert.ok(w.entries().some((e) => e.action === "series_refused" && e.refused === 1));
    } finally {
      await stopAll(w, target);
    }
  });

  test("series: a batch whose series this isolate knows admitted makes no object call", async () => {
    const target = await startTarget();
    const w = await quotaWorker(target, { QUOTA_SERIES: "3" });
    try {
      const q = "org=o&bucket=b&precision=s";
      const at = async (body) => {
        const id = ray();
        const r = await send(w.url, { path: `/api/v2/write?${q}`, headers: { ...AUTH, "CF-Ray": id }, body });
        return { r, e: await w.entry(id) };
      };
      // New series: the object admits them (one call).
      let { r, e } = await at("m,h=1 v=1 1\nm,h=2 v=1 1\n");
      assert.equal(r.status, 204);
      assert.equal(e.series_calls, 1);
      assert.equal(e.series_asked, 2);
      // Known in this isolate: no call, forwarded.
      ({ r, e } = await at("m,h=2 v=2 2\nm,h=1 v=2 2\nm,h=1 v=3 3\n"));
      assert.equal(r.status, 204);
      assert.equal(e.series_calls, 0);
      // One new series among known ones: the object decides (and counts it), asked about
      // that one only.
      ({ r, e } = await at("m,h=1 v=4 4\nm,h=3 v=1 1\n"));
      assert.equal(r.status, 204);
      assert.equal(e.series_calls, 1);
      assert.equal(e.series_asked, 1);
      // The set is full: a new series is refused by the object, never by the cache (the
      // object's refused index, into the one series asked, is h=4's in the batch).
      ({ r, e } = await at("m,h=3 v=2 2\nm,h=4 v=1 1\n"));
      assert.equal(r.body.toString(), SERIES_429);
      assert.equal(e.series_calls, 1);
      assert.equal(e.series_asked, 1);
      // A refused series was not remembered: asked again, refused again.
      ({ r, e } = await at("m,h=4 v=2 2\n"));
      assert.equal(r.body.toString(), SERIES_429);
      assert.equal(e.series_calls, 1);
      ({ r, e } = await at("m,h=3 v=3 3\nm,h=2 v=3 3\n"));
      assert.equal(r.status, 204);
      assert.equal(e.series_calls, 0);
      assert.equal(target.received.length, 4);
      const b = (await usage(w.url)).buckets.find((x) => x.bucket === "v2 org=o&bucket=b");
      assert.equal(b.series, 3);
      assert.equal(b.refused, 2);
    } finally {
      await stopAll(w, target);
    }
  });

  // A set of the old series hash (FNV-1a, no recorded version) cannot be converted: the
  // object keeps its count, starts a new set and logs it once.
  const sqlite3 = (() => {
    try {
      execFileSync("sqlite3", ["-version"]);
      return true;
    } catch {
      return false;
    }
  })();
  test("series: a set of the old hash version keeps its count and starts again", { skip: !sqlite3 && "sqlite3 is not installed" }, async () => {
    const target = await startTarget();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "linegate-quota-rehash-"));
    let w = await quotaWorker(target, { QUOTA_SERIES: "3" }, dir);
    try {
      const q = "org=o&bucket=b&precision=s";
      assert.equal((await write(w, q, "m,h=1 v=1 1\nm,h=2 v=1 1\n")).status, 204);
      await w.close();
      w = null;
      // As an old build left the object: its two hashes of another function, no version.
      const files = fs.readdirSync(dir, { recursive: true }).filter((f) => String(f).endsWith(".sqlite"));
      let changed = 0;
      for (const f of files) {
        const db = path.join(dir, String(f));
        const has = execFileSync("sqlite3", [db, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'series'"], { encoding: "utf8" }).trim();
        if (has !== "1") continue;
        const n = execFileSync("sqlite3", [db, "SELECT COUNT(*) FROM series"], { encoding: "utf8" }).trim();
        if (n !== "2") continue;
        execFileSync("sqlite3", [db, "DELETE FROM meta WHERE k = 'series_hash'; UPDATE series SET hash = 'f' || substr(hash, 2)"]);
        changed++;
      }
      assert.equal(changed, 1, `the series object among ${files.join(", ")}`);
      w = await quotaWorker(target, { QUOTA_SERIES: "3" }, dir);
      // An old series counts once more (the count was kept: 2, now 3)...
      assert.equal((await write(w, q, "m,h=1 v=2 2\n")).status, 204);
      await w.logged((l) => l.includes('"linegate_quota"') && l.includes('"dropped":2'));
      // ...and the quota holds: no fourth series.
      assert.equal((await write(w, q, "m,h=2 v=2 2\n")).body.toString(), SERIES_429);
      assert.equal((await write(w, q, "m,h=1 v=3 3\n")).status, 204);
      const b = (await usage(w.url)).buckets.find((x) => x.bucket === "v2 org=o&bucket=b");
      assert.equal(b.series, 3);
      assert.equal(w.logs.filter((l) => l.includes('"linegate_quota"')).length, 1, "logged once");
    } finally {
      await stopAll(w, target);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  // Spec D.2 with D.1: with partial writes on, exactly the lines of new series that do not
  // fit are rejected and quarantined (reason: the series message); the rest is forwarded.
  for (const spool of ["off", "always"]) {
    test(`series with PARTIAL_WRITES (SPOOL=${spool}): exactly the lines that do not fit are rejected and kept`, async () => {
      const target = await startTarget();
      const vars = { QUOTA_SERIES: "3", PARTIAL_WRITES: "request", SPOOL_ADMIN_TOKEN: ADMIN };
      if (spool !== "off") Object.assign(vars, { SPOOL: spool, SPOOL_OPEN: "on", SPOOL_KEY: "quota test key" });
      const w = await startWorker(
        { BACKEND_URL: target.url, QUOTA_ADMIN_TOKEN: ADMIN, ...vars },
        { miniflare: { durableObjects: { ...DO.durableObjects, SPOOL_DO: { className: "Spool", useSQLite: true } } } },
      );
      const arrived = async (n) => {
        const deadline = Date.now() + 15_000;
        while (target.received.length < n && Date.now() < deadline) await sleep(25);
        assert.equal(target.received.length, n);
        return target.received[n - 1].body.toString();
      };
      try {
        const q = "org=o&bucket=b&precision=s&accept_partial=true";
        assert.equal((await write(w, q, "m,h=1 v=1 1\n")).status, 204);
        await arrived(1);
        // h=1 known, h=2 and h=4 fit (input order), h=3 and h=5 do not; a bad line besides.
        const body = "m,h=2 v=1 1\nm,h=4 v=1 2\nbad\nm,h=1 v=2 3\n  m,h=3 v=1 4\nm,h=4 v=2 5\nm,h=5 v=1 6\n";
        const r = await write(w, q, body);
        assert.equal(r.status, 400);
        assert.equal(r.headers["x-platform-error-code"], "invalid");
        assert.equal(
          r.body.toString(),
          `{"code":"invalid","message":"partial write error (4 accepted): 3 out of 7 lines rejected\\nunable to parse 'bad': missing fields\\n2 lines of new series rejected: Series cardinality exceeds your plan's service quota","line":3}`,
        );
        assert.equal(await arrived(2), "m,h=2 v=1 1\nm,h=4 v=1 2\nm,h=1 v=2 3\nm,h=4 v=2 5\n");
        assert.equal(target.received[1].headers["content-encoding"], undefined);
        // No bad line: the accepted lines of a batch the parser took whole, plain.
        const gz = (await import("node:zlib")).gzipSync("m,h=4 v=3 7\nm,h=6 v=1 8\n");
        const r2 = await send(w.url, { path: `/api/v2/write?${q}`, headers: { ...AUTH, "Content-Encoding": "gzip" }, body: gz });
        assert.equal(
          r2.body.toString(),
          `{"code":"invalid","message":"partial write error (1 accepted): 1 out of 2 lines rejected\\n1 lines of new series rejected: Series cardinality exceeds your plan's service quota","line":2}`,
        );
        assert.equal(await arrived(3), "m,h=4 v=3 7\n");
        assert.equal(target.received[2].headers["content-encoding"], undefined);
        // Nothing left: the series 429, or the parser's 400 when it rejected a line.
        const r3 = await write(w, q, "m,h=7 v=1 9\n");
        assert.equal(r3.status, 429);
        assert.equal(r3.body.toString(), SERIES_429);
        assert.equal(r3.headers["retry-after"], undefined);
        const r4 = await write(w, q, "m,h=7 v=1 9\nbad\n");
        assert.equal(r4.status, 400);
        assert.equal(r4.body.toString(), `{"code":"invalid","message":"unable to parse 'bad': missing fields","line":2}`);
        // Not partial: the whole batch's 429, as before.
        const r5 = await write(w, "org=o&bucket=b&precision=s", "m,h=1 v=3 9\nm,h=8 v=1 9\n");
        assert.equal(r5.body.toString(), SERIES_429);
        await sleep(200);
        assert.equal(target.received.length, 3, "nothing else was forwarded");
        // The quarantine: the series lines with the series message, the bad line with its own.
        const list = await send(w.url, { method: "GET", path: "/spool/rejected", headers: { Authorization: `Bearer ${ADMIN}` } });
        assert.equal(list.status, 200, list.body.toString());
        const kept = JSON.parse(list.body)
          .destinations.flatMap((d) => d.rejected)
          .map((l) => [l.line, l.text, l.reason])
          .sort((a, b) => a[0] - b[0] || a[1].localeCompare(b[1]));
        const S = "Series cardinality exceeds your plan's service quota";
        assert.deepEqual(kept, [
          [2, "m,h=6 v=1 8", S],
          [3, "bad", "missing fields"],
          [5, "m,h=3 v=1 4", S],
          [7, "m,h=5 v=1 6", S],
        ]);
        const u = await usage(w.url);
        assert.equal(u.buckets.find((x) => x.bucket === "v2 org=o&bucket=b").series, 3);
      } finally {
        await stopAll(w, target);
      }
    });
  }

  test("16 concurrent clients never get more than N new series to the backend", async () => {
    const N = 20;
    const target = await startTarget();
    const w = await quotaWorker(target, { QUOTA_SERIES: String(N) });
    try {
      const answers = await Promise.all(
        Array.from({ length: 16 }, async (_, c) => {
          const out = [];
          for (let i = 0; i < 3; i++) {
            const r = await write(w, "org=o&bucket=b", `m,c=${c},i=${i} v=1 1\nm,c=${c},i=${i}b v=1 1\n`);
            out.push(r.status);
            if (r.status === 429) assert.equal(r.body.toString(), SERIES_429);
          }
          return out;
        }),
      );
      const ok = answers.flat().filter((s) => s === 204).length;
      assert.equal(ok, N / 2, `${answers}`);
      const series = new Set();
      for (const r of target.received) for (const l of r.body.toString().split("\n")) if (l) series.add(l.split(" ")[0]);
      assert.equal(series.size, N);
    } finally {
      await stopAll(w, target);
    }
  });
});

// ---- SIGKILL of workerd -----------------------------------------------------------------

describe("quotas survive SIGKILL of workerd (wrangler dev --persist-to)", { skip }, () => {

  // The quota clock just past a window's start, so no count resets while the test runs.
  const offset = 300_000 - (Date.now() % 300_000) + 1_000;

  const dev = (port, persist, backendUrl) =>
    wranglerDev(port, persist, { BACKEND_URL: `${backendUrl}`, QUOTA_SERIES: "3", QUOTA_WRITE_BYTES: "40", QUOTA_ADMIN_TOKEN: `${ADMIN}`, QUOTA_CLOCK_OFFSET_MS: `${offset}` });

  test("the window's count and every admitted series are kept", { timeout: 200_000 }, async () => {
    const target = await startTarget();
    const persist = fs.mkdtempSync(path.join(os.tmpdir(), "linegate-quota-kill-"));
    const port = await freePort();
    let d = await dev(port, persist, target.url);
    try {
      const w = { url: new URL(d.url) };
      const v1 = (body) => send(d.url, { path: `/write?db=b&u=x&p=${SETUP.token}`, body });
      // Tenant "o" (v2): 24 + 24 bytes, over the quota of 40.
      const r0 = await write(w, "org=o&bucket=b", "m,h=1 v=1 1\nm,h=2 v=1 1\n");
      assert.equal(r0.status, 204, r0.body.toString());
      assert.equal((await write(w, "org=o&bucket=b", "m,h=1 v=2 2\nm,h=2 v=2 2\n")).status, 204);
      assert.equal((await write(w, "org=o&bucket=b", "m,h=1 v=3 3\n")).status, 429);
      // Tenant "b" (v1's db): 36 bytes, 3 series, the quota's; a fourth is refused.
      const r1 = await v1("m,h=1 v=1 1\nm,h=2 v=1 1\n");
      assert.equal(r1.status, 204, `${r1.body} ${d.output().slice(-3000)}`);
      assert.equal((await v1("m,h=3 v=1 1\n")).status, 204);
      assert.equal((await v1("m,h=4 v=1 1\n")).body.toString(), SERIES_429);
      await d.kill();
      d = await dev(port, persist, target.url);
      w.url = new URL(d.url);
      const r = await write(w, "org=o&bucket=b", "m,h=1 v=3 3\n");
      assert.equal(r.status, 429, r.body.toString());
      assert.ok(Number(r.headers["retry-after"]) >= 1);
      const u = await usage(d.url);
      assert.equal(u.tenants.find((x) => x.tenant === "o").bytes, 48);
      assert.equal(u.buckets.find((x) => x.bucket === "v1 db=b&rp=").series, 3);
      // A new series is still refused, an admitted one still passes.
      assert.equal((await v1("m,h=5 v=1 1\n")).body.toString(), SERIES_429);
      assert.equal((await v1("m,h=2 v=2 2\n")).status, 204);
    } finally {
      await d.kill();
      await target.close();
      fs.rmSync(persist, { recursive: true, force: true });
    }
  });
});

// ---- the isolate's budget of bodies in flight ----------------------------------------------

// workerd processes started by this test process (Miniflare runs workerd as a child; other
// suites may run their own at the same time).
function workerdPids() {
  const out = execFileSync("ps", ["-eo", "pid,ppid,comm"], { encoding: "utf8" });
  return out
    .split("\n")
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f[2] === "workerd" && Number(f[1]) === process.pid)
    .map((f) => Number(f[0]));
}

function rssBytes(pid) {
  const s = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(s)[1]) * 1024;
}

test("16 concurrent 16 MiB writes keep workerd's added memory under 128 MB", { skip, timeout: 180_000 }, async (t) => {
  const before = new Set(workerdPids());
  const target = await startTarget();
  const w = await startWorker({ BACKEND_URL: target.url });
  try {
    const pid = workerdPids().find((p) => !before.has(p));
    assert.ok(pid, "workerd's process");
    // Warm up (the module, the wasm instance), then the baseline.
    assert.equal((await write(w, "org=o&bucket=b", "m v=1 1\n")).status, 204);
    const base = rssBytes(pid);
    let peak = base;
    const timer = setInterval(() => {
      try {
        peak = Math.max(peak, rssBytes(pid));
      } catch {}
    }, 10);
    // Bodies just under MAX_BODY_BYTES: one point, then comment lines.
    const head = "m f=1i 1\n";
    const lineOf = "#" + "x".repeat(1022) + "\n";
    const body = Buffer.from(head + lineOf.repeat(Math.floor((16 * MiB - 1 - head.length) / 1024)));
    const answers = await Promise.all(
      Array.from({ length: 16 }, () =>
        send(w.url, { path: "/api/v2/write?org=o&bucket=b", headers: { ...AUTH, "Content-Length": String(body.length) }, body }),
      ),
    );
    clearInterval(timer);
    const statuses = answers.map((a) => a.status);
    const ok = statuses.filter((s) => s === 204).length;
    const busy = answers.filter((a) => a.status === 503);
    t.diagnostic(`workerd RSS ${(base / MiB).toFixed(0)} → peak ${(peak / MiB).toFixed(0)} MiB (+${((peak - base) / 1e6).toFixed(0)} MB); ${ok} × 204, ${busy.length} × 503`);
    assert.equal(ok + busy.length, 16, `${statuses}`);
    assert.ok(ok >= 1 && busy.length >= 1);
    for (const a of busy) {
      assert.equal(a.body.toString(), `{"code":"unavailable","message":"too many writes in flight"}`);
      assert.equal(a.headers["retry-after"], "5");
    }
    assert.ok(peak - base < 128e6, `added ${((peak - base) / 1e6).toFixed(0)} MB`);
  } finally {
    await stopAll(w, target);
  }
});
