#!/usr/bin/env node
// Spool benchmark: what SPOOL=fallback and SPOOL=always add to a write's latency over
// SPOOL=off, and how fast the spool drains after an outage. Three Workers in workerd
// (Miniflare, Durable Objects persisted to a temporary directory) in front of the real
// linegate-backend on 127.0.0.1; one request at a time, modes interleaved round by round so
// that load drift hits each alike. Bounded in count.
//
//   nice -n 10 node bench/spool.mjs [--rounds 6] [--small 300] [--large 10]
//                                   [--outage-small 1000] [--outage-large 20] [--json FILE]
//
// small: ~1 KB of line protocol, plain; large: ~5 MB of line protocol sent gzipped.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import { parseArgs } from "node:util";
import { startBackend, startWorker, freePort, send, SETUP, BACKEND_BIN } from "../tests/worker/helpers.mjs";

const { values: opt } = parseArgs({
  options: {
    rounds: { type: "string", default: "6" },
    small: { type: "string", default: "300" },
    large: { type: "string", default: "10" },
    "outage-small": { type: "string", default: "1000" },
    "outage-large": { type: "string", default: "20" },
    json: { type: "string" },
  },
});
const AUTH = { Authorization: `Token ${SETUP.token}` };
const ADMIN = "bench-admin";
const say = (s) => process.stderr.write(`spool-bench: ${s}\n`);

// Telegraf-like cpu lines; `seq` keeps every batch's points distinct.
function lines(bytes, seq) {
  const out = [];
  let n = 0;
  for (let j = 0; n < bytes; j++) {
    const l =
      `cpu,host=server${j % 50},region=eu-west-${j % 3},cpu=cpu${j % 8} usage_user=${(j % 997) / 10},` +
      `usage_system=${(j % 89) / 10},usage_idle=${90 - (j % 13)},batch=${seq}i ${1_700_000_000_000_000_000n + BigInt(seq) * 10_000_000n + BigInt(j)}\n`;
    out.push(l);
    n += l.length;
  }
  return Buffer.from(out.join(""));
}
const small = (seq) => ({ body: lines(1000, seq), headers: AUTH });
const LARGE = 5_000_000;
// Every batch has points of its own (a reused body would be overwrites to the backend).
const large = (seq) => ({ body: zlib.gzipSync(lines(LARGE, seq)), headers: { ...AUTH, "Content-Encoding": "gzip" } });

function pct(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

async function timed(w, b, path_) {
  const t0 = performance.now();
  const r = await send(w.url, { path: path_, headers: b.headers, body: b.body });
  const ms = performance.now() - t0;
  if (r.status !== 204) throw new Error(`${r.status} ${r.body}`);
  return ms;
}

async function queued(w) {
  const r = await send(w.url, { method: "GET", path: "/spool", headers: { Authorization: `Bearer ${ADMIN}` } });
  return JSON.parse(r.body).destinations.reduce((a, d) => a + d.queued, 0);
}

async function drain(w, timeout = 600_000) {
  const deadline = Date.now() + timeout;
  while ((await queued(w)) > 0) {
    if (Date.now() > deadline) throw new Error("spool did not drain");
    await new Promise((r) => setTimeout(r, 100));
  }
}

const dirs = [];
const tmp = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "linegate-spool-bench-"));
  dirs.push(d);
  return d;
};
const worker = (vars) =>
  startWorker(
    { SPOOL_ADMIN_TOKEN: ADMIN, SPOOL_OPEN: "on", SPOOL_KEY: "bench spool key", SPOOL_BACKOFF_BASE_MS: "200", SPOOL_BACKOFF_CAP_MS: "1000", ...vars },
    { miniflare: { durableObjects: { SPOOL_DO: { className: "Spool", useSQLite: true } }, durableObjectsPersist: tmp() } },
  );

const results = { machine: { cpus: os.cpus().length, load: os.loadavg() }, latency: [], outage: [] };
say(`backend ${BACKEND_BIN}; load average ${os.loadavg().map((x) => x.toFixed(2)).join(" ")}`);
let backend = await startBackend();
try {
  // ---- added latency -------------------------------------------------------------------
  const modes = ["off", "fallback", "always"];
  const ws = {};
  for (const m of modes) ws[m] = await worker({ BACKEND_URL: backend.url, SPOOL: m });
  const ms = { small: {}, large: {} };
  for (const m of modes) ms.small[m] = [];
  for (const m of modes) ms.large[m] = [];
  let seq = 1;
  const write = `/api/v2/write?org=${SETUP.org}&bucket=${SETUP.bucket}&precision=ns`;
  for (const m of modes) await timed(ws[m], small(seq++), write); // warm-up
  for (let round = 0; round < Number(opt.rounds); round++) {
    // Each round starts with another mode, so that what the previous one left the backend
    // doing does not always fall on the same mode.
    for (const m of [...modes.slice(round % 3), ...modes.slice(0, round % 3)]) {
      for (let i = 0; i < Number(opt.small); i++) ms.small[m].push(await timed(ws[m], small(seq++), write));
      for (let i = 0; i < Number(opt.large); i++) ms.large[m].push(await timed(ws[m], large(seq++), write));
      // `always` answers before delivery: let it drain so that it does not load the next mode.
      if (m === "always") await drain(ws[m]);
    }
    say(`round ${round + 1} done`);
  }
  for (const size of ["small", "large"]) {
    const base = ms[size].off;
    for (const m of modes) {
      const x = ms[size][m];
      const row = {
        size,
        mode: m,
        n: x.length,
        p50: pct(x, 50),
        p99: pct(x, 99),
        added_p50: pct(x, 50) - pct(base, 50),
        added_p99: pct(x, 99) - pct(base, 99),
      };
      results.latency.push(row);
    }
  }
  for (const m of modes) await ws[m].close();

  // ---- drain after an outage -----------------------------------------------------------
  const { dir, port } = backend;
  for (const [size, n, make] of [
    ["small", Number(opt["outage-small"]), small],
    ["large", Number(opt["outage-large"]), large],
  ]) {
    await backend.close({ keep: true });
    const w = await worker({ BACKEND_URL: `http://127.0.0.1:${port}`, SPOOL: "fallback" });
    let bytes = 0;
    let lp = 0;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const b = make(seq++);
      bytes += b.body.length;
      lp += size === "small" ? b.body.length : zlib.gunzipSync(b.body).length;
      await timed(w, b, write);
    }
    const held = (performance.now() - t0) / 1000;
    // Timed from the first delivery to the last, as the Worker logs them (so the backoff
    // wait before the first retry after the backend is back does not count).
    const delivered = () => w.logs.filter((l) => l.includes('"outcome":"delivered"')).length;
    const t1 = { first: null, last: null };
    const watch = setInterval(() => {
      const d = delivered();
      if (d > 0 && t1.first === null) t1.first = { t: performance.now(), d };
      if (d >= n && t1.last === null) t1.last = performance.now();
    }, 2);
    backend = await startBackend({ dir, port });
    await drain(w);
    while (t1.last === null) await new Promise((r) => setTimeout(r, 10));
    clearInterval(watch);
    // Batches delivered in the window (the first seen may already be more than one).
    const s = (t1.last - t1.first.t) / 1000;
    const n_ = n - t1.first.d;
    const row = { size, batches: n, bytes, lp_bytes: lp, spool_s: held, drain_s: s, batches_per_s: n_ / s, mb_per_s: (bytes * n_) / n / 1e6 / s, lp_mb_per_s: (lp * n_) / n / 1e6 / s };
    results.outage.push(row);
    say(`${size}: ${n} batches (${(bytes / 1e6).toFixed(1)} MB) drained in ${s.toFixed(1)} s`);
    await w.close();
  }
} finally {
  await backend.close();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
}

const f = (x) => x.toFixed(2);
console.log("| batch | SPOOL | requests | p50 ms | p99 ms | added p50 ms | added p99 ms |");
console.log("|---|---|---:|---:|---:|---:|---:|");
for (const r of results.latency) {
  const add = r.mode === "off" ? ["", ""] : [`+${f(r.added_p50)}`, `+${f(r.added_p99)}`].map((s) => s.replace("+-", "−"));
  console.log(`| ${r.size} | ${r.mode} | ${r.n} | ${f(r.p50)} | ${f(r.p99)} | ${add[0]} | ${add[1]} |`);
}
console.log("");
console.log("| outage, then backend up | batches | MB as received | MB line protocol | spooled in s | drained in s | batches/s | MB/s received | MB/s line protocol |");
console.log("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
for (const r of results.outage) {
  console.log(`| ${r.size} | ${r.batches} | ${f(r.bytes / 1e6)} | ${f(r.lp_bytes / 1e6)} | ${f(r.spool_s)} | ${f(r.drain_s)} | ${r.batches_per_s.toFixed(1)} | ${f(r.mb_per_s)} | ${f(r.lp_mb_per_s)} |`);
}
if (opt.json) fs.writeFileSync(opt.json, JSON.stringify(results, null, 2));
