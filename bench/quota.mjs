#!/usr/bin/env node
// Write-quota benchmark: what QUOTA_WRITE_BYTES and QUOTA_SERIES add to a write's latency
// through the Worker. Workers in workerd (Miniflare, the quota Durable Objects in memory) —
// quotas off, rate only, series only, both (--configs picks some) — in front of the real
// linegate-backend on 127.0.0.1; one request at a time, configurations interleaved round by
// round (--interleave: write by write) so that load drift hits each alike. The batches
// repeat known series (the common case: the series check looks every series up, none is
// new). --old DIR adds "series-old": QUOTA_SERIES on another checkout's Worker (and its
// pkg/), for a before in the same run. Besides the client's p50/p90, the p50 of the Worker's
// own log fields: `ms` (the request), `check_ms` and `series_ms`, and the object calls made;
// and workerd's CPU time per write (its threads' schedstat around each write: the Worker and
// its quota objects run in one workerd process per configuration), with --interleave the
// median of the paired differences to the first configuration.
//
//   nice -n 10 node bench/quota.mjs [--rounds 5] [--writes 200] [--lines 100]
//     [--configs off,rate,series,both] [--interleave] [--old /work/main] [--file cpu.lp]
//
// --configs pass,off,series: `pass` is bench/worker/passthrough.js (the body read whole and
// forwarded, no check), so that off's CPU over it is the check's own, for the series
// quota's share of it.

import fs from "node:fs";
import { parseArgs } from "node:util";
import { startBackend, startWorker, send, SETUP, ray } from "../tests/worker/helpers.mjs";
import { cpuMs, startWithPid } from "./workerd.mjs";

const { values: opt } = parseArgs({
  options: {
    rounds: { type: "string", default: "5" },
    writes: { type: "string", default: "200" },
    lines: { type: "string", default: "100" },
    file: { type: "string" },
    configs: { type: "string", default: "off,rate,series,both" },
    interleave: { type: "boolean", default: false },
    old: { type: "string" },
  },
});
const AUTH = { Authorization: `Token ${SETUP.token}` };
const DO = { durableObjects: { QUOTA_DO: { className: "Quota", useSQLite: true } } };
const ALL = {
  // No check at all (the body read whole and forwarded): off's CPU over it is the check's.
  pass: { PASSTHROUGH_BUFFER: "1" },
  off: {},
  rate: { QUOTA_WRITE_BYTES: String(1e15) },
  series: { QUOTA_SERIES: "1000000" },
  both: { QUOTA_WRITE_BYTES: String(1e15), QUOTA_SERIES: "1000000" },
};
const CONFIGS = Object.fromEntries(
  opt.configs.split(",").map((k) => [k, { vars: ALL[k], ...(k === "pass" ? { script: "bench/worker/passthrough.js" } : {}) }]),
);
if (opt.old) CONFIGS["series-old"] = { vars: ALL.series, root: opt.old };

const lines = Number(opt.lines);
// --file: the first --lines lines of a line-protocol file (e.g. TSBS's cpu.lp: ten tags,
// written unsorted) instead of the generated two-tag lines (one series per line).
const body = opt.file
  ? fs.readFileSync(opt.file, "latin1").split("\n").slice(0, lines).join("\n") + "\n"
  : Array.from({ length: lines }, (_, i) => `cpu,host=h${i},region=r${i % 7} usage=${i}.5,idle=${i}i 1700000000000000000`).join("\n") + "\n";
const backend = await startBackend();
const workers = {};
const pids = {};
for (const [name, c] of Object.entries(CONFIGS)) {
  const opts = { miniflare: DO, ...(c.root ? { root: c.root } : {}), ...(c.script ? { script: c.script } : {}) };
  ({ w: workers[name], pid: pids[name] } = await startWithPid(() => startWorker({ BACKEND_URL: backend.url, ...c.vars }, opts)));
}
const ms = Object.fromEntries(Object.keys(CONFIGS).map((k) => [k, []]));
// workerd's CPU per write (the Worker and its quota objects run in one process each).
const cpu = Object.fromEntries(Object.keys(CONFIGS).map((k) => [k, []]));
const rays = Object.fromEntries(Object.keys(CONFIGS).map((k) => [k, []]));
const write = async (name, measured) => {
  const id = ray();
  const c0 = cpuMs(pids[name]);
  const t0 = performance.now();
  const res = await send(workers[name].url, { path: "/api/v2/write?org=o&bucket=b", headers: { ...AUTH, "CF-Ray": id }, body });
  const t = performance.now() - t0;
  const c = cpuMs(pids[name]) - c0;
  if (res.status !== 204) throw new Error(`${name}: ${res.status} ${res.body}`);
  if (measured) {
    ms[name].push(t);
    cpu[name].push(c);
    rays[name].push(id);
  }
};
const fields = {};
try {
  const n = Number(opt.writes);
  for (let r = 0; r < Number(opt.rounds); r++) {
    if (opt.interleave) {
      for (let i = 0; i < n; i++) for (const name of Object.keys(workers)) await write(name, r > 0 || i >= 20);
    } else {
      for (const name of Object.keys(workers)) for (let i = 0; i < n; i++) await write(name, r > 0 || i >= 20); // the first writes warm up
    }
  }
  for (const [name, w] of Object.entries(workers)) {
    // The pass-through logs nothing.
    const es = CONFIGS[name].script ? [] : await Promise.all(rays[name].map((id) => w.entry(id)));
    fields[name] = {
      ms: es.map((e) => e.ms ?? 0),
      check: es.map((e) => e.check_ms ?? 0),
      series: es.map((e) => e.series_ms ?? 0),
      calls: es.reduce((a, e) => a + (e.series_calls ?? 0), 0),
    };
  }
} finally {
  for (const w of Object.values(workers)) await w.close();
  await backend.close();
}
const q = (a, p) => a.slice().sort((x, y) => x - y)[Math.floor(p * (a.length - 1))];
const base = q(Object.values(ms)[0], 0.5);
console.log(`${lines}-line batches (${body.length} B), ${Object.values(ms)[0].length} writes each${opt.interleave ? ", interleaved write by write" : ""}; ms per write:`);
for (const [name, a] of Object.entries(ms)) {
  const p50 = q(a, 0.5);
  const f = fields[name];
  // Write by write, the median of the differences to the first configuration's write of the
  // same turn (drift between turns cancels).
  const first = Object.values(ms)[0];
  const paired = opt.interleave ? `  paired Δ ${q(a.map((t, i) => t - first[i]), 0.5).toFixed(2)}` : "";
  const c0 = Object.values(cpu)[0];
  const cpuDelta = opt.interleave ? `, paired Δ ${q(cpu[name].map((t, i) => t - c0[i]), 0.5).toFixed(2)}` : "";
  console.log(
    `  ${name.padEnd(10)} p50 ${p50.toFixed(2)}  p90 ${q(a, 0.9).toFixed(2)}  (${p50 - base >= 0 ? "+" : ""}${(p50 - base).toFixed(2)} over ${Object.keys(ms)[0]})${paired}` +
      `  workerd CPU p50 ${q(cpu[name], 0.5).toFixed(2)}${cpuDelta}` +
      (f.ms.length === 0
        ? ""
        : `  worker p50: ms ${q(f.ms, 0.5).toFixed(2)}  check_ms ${q(f.check, 0.5).toFixed(2)}  series_ms ${q(f.series, 0.5).toFixed(2)}  object calls ${f.calls}`),
  );
}
// With the pass-through and quotas off beside a quota: that quota's workerd CPU as a share
// of the check's own (off over pass), both as medians of write-by-write differences.
if (opt.interleave && cpu.pass && cpu.off) {
  const check = q(cpu.off.map((t, i) => t - cpu.pass[i]), 0.5);
  console.log(`  the check's workerd CPU (off − pass, paired) ${check.toFixed(2)} ms a write`);
  for (const name of Object.keys(cpu).filter((k) => k !== "pass" && k !== "off")) {
    const add = q(cpu[name].map((t, i) => t - cpu.off[i]), 0.5);
    console.log(`  ${name}: +${add.toFixed(2)} ms CPU over off, ${((100 * add) / check).toFixed(1)}% of the check's`);
  }
}
