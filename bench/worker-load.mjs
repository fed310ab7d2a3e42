#!/usr/bin/env node
// Load benchmark of the Worker: `wrangler dev` in front of the backend on loopback, small
// (~1 KB, plain) and large (5 MB of line protocol, sent gzipped) batches, with the edge
// check on and with a pass-through Worker (bench/worker/passthrough.js) as the baseline.
// Reports requests/s and p50/p99 latency per case; bounded in time and count.
//
//   node bench/worker-load.mjs [--duration 10] [--rounds 2] [--backend auto|real|sink]
//                              [--dataset telegraf] [--small-conc 8] [--large-conc 2]
//                              [--json FILE]
//
// Data comes from ../shared/bench/gen.py into bench-data/worker/. The backend is the real
// linegate-backend (LINEGATE_BACKEND_BIN, or the newest target/{release,debug} build);
// `--backend sink` uses a minimal Node server that reads the body and answers 204, the
// cheapest possible backend and so the harshest baseline for the check's relative cost.

import { stopGroup } from "../tests/support/process.mjs";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { spawn, execFileSync } from "node:child_process";
import { parseArgs } from "node:util";
import {
  ROOT,
  SHARED,
  BACKEND_BIN,
  startBackend,
  startRecorder,
  freePort,
  send,
  SETUP,
} from "../tests/worker/helpers.mjs";

const { values: opt } = parseArgs({
  options: {
    duration: { type: "string", default: "10" },
    rounds: { type: "string", default: "2" },
    backend: { type: "string", default: "auto" },
    dataset: { type: "string", default: "telegraf" },
    "small-conc": { type: "string", default: "8" },
    "large-conc": { type: "string", default: "2" },
    "max-requests": { type: "string", default: "200000" },
    json: { type: "string" },
  },
});
const DURATION = Number(opt.duration) * 1000;
const ROUNDS = Number(opt.rounds);
const MAX_REQUESTS = Number(opt["max-requests"]);

const WRANGLER = path.join(ROOT, "node_modules/.bin/wrangler");
const ENV = { ...process.env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1", FORCE_COLOR: "0" };
const WRITE = "/api/v2/write?org=o&bucket=b&precision=ns";
const AUTH = { Authorization: `Token ${SETUP.token}` };

function say(s) {
  process.stderr.write(`worker-load: ${s}\n`);
}

// ---- data ------------------------------------------------------------------------------
function data() {
  const dir = path.join(ROOT, "bench-data/worker");
  const lp = path.join(dir, `${opt.dataset}.lp`);
  if (!fs.existsSync(lp) || !fs.existsSync(lp + ".gz")) {
    say(`generating 5 MB of ${opt.dataset} with ${SHARED}/bench/gen.py`);
    fs.mkdirSync(dir, { recursive: true });
    execFileSync("python3", [path.join(SHARED, "bench/gen.py"), "--out", dir, "--size-mb", "5", "--datasets", opt.dataset], {
      stdio: "inherit",
    });
  }
  const plain = fs.readFileSync(lp);
  // Small: whole lines, about 1 KB.
  let end = 0;
  while (end < plain.length && end < 1024) end = plain.indexOf(10, end) + 1 || plain.length;
  return {
    small: { name: "small", body: plain.subarray(0, end), headers: AUTH, lpBytes: end },
    large: {
      name: "large",
      body: fs.readFileSync(lp + ".gz"),
      headers: { ...AUTH, "Content-Encoding": "gzip" },
      lpBytes: plain.length,
    },
  };
}

// ---- wrangler dev ----------------------------------------------------------------------
async function startDev(name, args, backendUrl) {
  const port = await freePort();
  const inspector = await freePort();
  const p = spawn(
    WRANGLER,
    ["dev", "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(inspector), "--var", `BACKEND_URL:${backendUrl}`, ...args],
    { cwd: ROOT, env: ENV, detached: true, stdio: ["ignore", "pipe", "pipe"] },
  );
  const dev = { name, url: `http://127.0.0.1:${port}`, proc: p, out: "", checkMs: [] };
  const onData = (c) => {
    const s = c.toString();
    // Keep the Worker's own log lines (check time), drop the rest.
    for (const line of s.split("\n")) {
      const i = line.indexOf('{"linegate":');
      if (i >= 0) {
        try {
          const e = JSON.parse(line.slice(i)).linegate;
          if (e.check_ms !== undefined) dev.checkMs.push({ bytes: e.bytes, ms: e.check_ms });
        } catch {}
      } else if (dev.out.length < 20000) dev.out += line + "\n";
    }
  };
  p.stdout.on("data", onData);
  p.stderr.on("data", onData);
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (p.exitCode !== null) throw new Error(`wrangler dev (${name}) exited: ${dev.out}`);
    try {
      if ((await send(dev.url, { method: "GET", path: "/ping" })).status === 204) break;
    } catch {}
    if (Date.now() > deadline) throw new Error(`wrangler dev (${name}) did not start: ${dev.out}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  return dev;
}

function stopDev(dev) {
  return stopGroup(dev.proc);
}

// ---- load ------------------------------------------------------------------------------
async function load(dev, batch, conc) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: conc });
  const lat = [];
  const statuses = {};
  let errors = 0;
  const t0 = performance.now();
  const end = t0 + DURATION;
  const max = batch.name === "large" ? Math.min(MAX_REQUESTS, 20_000) : MAX_REQUESTS;
  let started = 0;
  async function loop() {
    while (performance.now() < end && started < max) {
      started++;
      const s = performance.now();
      try {
        const r = await send(dev.url, { path: WRITE, headers: batch.headers, body: batch.body, agent });
        lat.push(performance.now() - s);
        statuses[r.status] = (statuses[r.status] ?? 0) + 1;
      } catch {
        errors++;
      }
    }
  }
  await Promise.all(Array.from({ length: conc }, loop));
  const secs = (performance.now() - t0) / 1000;
  agent.destroy();
  return { lat, secs, statuses, errors };
}

// Rounds pool their latencies; throughput is requests over the time spent on the case.
function merge(a, b) {
  if (!a) return b;
  const statuses = { ...a.statuses };
  for (const [k, v] of Object.entries(b.statuses)) statuses[k] = (statuses[k] ?? 0) + v;
  return { lat: a.lat.concat(b.lat), secs: a.secs + b.secs, statuses, errors: a.errors + b.errors };
}

function summary(r) {
  const lat = [...r.lat].sort((x, y) => x - y);
  const q = (p) => (lat.length ? lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] : NaN);
  return { requests: lat.length, rps: lat.length / r.secs, p50: q(0.5), p99: q(0.99), statuses: r.statuses, errors: r.errors };
}

// ---- main ------------------------------------------------------------------------------
const batches = data();
let backend = null;
let backendName;
const useReal = opt.backend === "real" || (opt.backend === "auto" && fs.existsSync(BACKEND_BIN));
if (useReal) {
  backend = await startBackend();
  backendName = `linegate-backend (${path.relative(ROOT, BACKEND_BIN) || BACKEND_BIN})`;
} else {
  backend = await startRecorder();
  // Keep no bodies: a sink, not a recorder.
  const received = backend.received;
  received.push = () => received.length;
  backendName = "node sink (reads the body, answers 204)";
}
say(`backend: ${backendName}`);
say(`small: ${batches.small.body.length} B plain; large: ${batches.large.lpBytes} B of ${opt.dataset} line protocol, ${batches.large.body.length} B gzipped`);

const modes = [
  { key: "direct", name: "no Worker (straight to the backend)", direct: true },
  { key: "pass", name: "pass-through (streamed)", args: ["--env", "passthrough"] },
  { key: "passbuf", name: "pass-through (buffered)", args: ["--env", "passthrough", "--var", "PASSTHROUGH_BUFFER:1"] },
  { key: "check", name: "edge check (worker/index.js)", args: [] },
];
const devs = {};
const results = {};
try {
  for (const m of modes) {
    if (m.direct) {
      devs[m.key] = { name: m.name, url: backend.url, checkMs: [], direct: true };
      continue;
    }
    say(`starting wrangler dev: ${m.name}`);
    devs[m.key] = await startDev(m.name, m.args, backend.url);
  }
  // Warm up every instance and check that writes succeed end to end.
  for (const m of modes) {
    for (const b of Object.values(batches)) {
      for (let i = 0; i < 3; i++) {
        const r = await send(devs[m.key].url, { path: WRITE, headers: b.headers, body: b.body });
        if (r.status !== 204) throw new Error(`${m.name} ${b.name}: ${r.status} ${r.body.toString().slice(0, 300)}`);
      }
    }
    devs[m.key].checkMs.length = 0;
  }
  // Rounds interleave the modes so that drift in machine load hits them alike.
  for (let round = 1; round <= ROUNDS; round++) {
    for (const b of Object.values(batches)) {
      for (const m of modes) {
        const conc = Number(b.name === "large" ? opt["large-conc"] : opt["small-conc"]);
        say(`round ${round}: ${m.name}, ${b.name} batches, ${conc} concurrent, ${DURATION / 1000} s`);
        const r = await load(devs[m.key], b, conc);
        const key = `${m.key}/${b.name}`;
        results[key] = merge(results[key], r);
      }
    }
  }
} finally {
  for (const d of Object.values(devs)) if (!d.direct) await stopDev(d);
  await backend.close();
}

const f = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : "-");
const rows = [];
const summaries = {};
for (const b of Object.values(batches)) {
  const base = summary(results[`pass/${b.name}`]);
  for (const m of modes) {
    const r = summary(results[`${m.key}/${b.name}`]);
    summaries[`${m.key}/${b.name}`] = r;
    const vs = m.key === "pass" ? "" : `${f(((r.p50 - base.p50) / base.p50) * 100)}%`;
    const odd = Object.entries(r.statuses).filter(([st]) => st !== "204");
    rows.push(
      `| ${b.name} | ${m.name} | ${r.requests} | ${f(r.rps)} | ${f(r.p50, 2)} | ${f(r.p99, 2)} | ${vs} |` +
        (odd.length || r.errors ? ` non-204: ${JSON.stringify(Object.fromEntries(odd))}, errors: ${r.errors}` : ""),
    );
  }
}
const check = devs.check.checkMs.filter((e) => e.bytes === batches.large.body.length).map((e) => e.ms).sort((a, b) => a - b);
const checkSmall = devs.check.checkMs.filter((e) => e.bytes === batches.small.body.length).map((e) => e.ms).sort((a, b) => a - b);
const med = (a) => (a.length ? a[Math.floor(a.length / 2)] : NaN);
const report = [
  `backend: ${backendName}; ${ROUNDS} round(s) of ${DURATION / 1000} s per case; concurrency small ${opt["small-conc"]}, large ${opt["large-conc"]}`,
  `small = ${batches.small.body.length} B plain; large = ${(batches.large.lpBytes / 1e6).toFixed(2)} MB of ${opt.dataset} line protocol sent gzipped (${(batches.large.body.length / 1e6).toFixed(2)} MB)`,
  "",
  "| batch | Worker | requests | req/s | p50 ms | p99 ms | p50 vs pass-through |",
  "|---|---|---:|---:|---:|---:|---:|",
  ...rows,
  "",
  `check time inside the Worker (its log's check_ms, median): large ${f(med(check), 1)} ms, small ${f(med(checkSmall), 2)} ms`,
];
console.log(report.join("\n"));
if (opt.json) {
  fs.writeFileSync(opt.json, JSON.stringify({ backend: backendName, results: summaries, checkMs: { large: med(check), small: med(checkSmall) } }, null, 2));
}
