#!/usr/bin/env node
// The Worker's CPU per MB of decoded line protocol: workerd (Miniflare, no inspector) in
// front of a sink backend on 127.0.0.1, N gzipped batches of 5 MB telegraf line protocol
// sent one at a time to the checking Worker and to the pass-through Worker; workerd's own
// CPU time (utime + stime from /proc/<pid>/stat) over the requests, minus the pass-through's,
// per decoded MB. Also the p50 latency of each, over loopback and with the upload throttled
// client-side to --mbit Mbit/s. Bounded: --requests per case (default 20).
//
//   nice -n 10 node bench/worker-cpu.mjs [--requests 20] [--mbit 100] [--plain]
//
// --plain sends the batch uncompressed (the identity check).

import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import zlib from "node:zlib";
import { execFileSync } from "node:child_process";
import { parseArgs } from "node:util";
import { ROOT, SHARED, startWorker, startRecorder } from "../tests/worker/helpers.mjs";

const { values: opt } = parseArgs({
  options: { requests: { type: "string", default: "20" }, mbit: { type: "string", default: "100" }, plain: { type: "boolean", default: false } },
});
const N = Number(opt.requests);
const MBIT = Number(opt.mbit);
const TICK = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());

function data() {
  const dir = path.join(ROOT, "bench-data/worker");
  const lp = path.join(dir, "telegraf.lp");
  if (!fs.existsSync(lp)) {
    fs.mkdirSync(dir, { recursive: true });
    execFileSync("python3", [path.join(SHARED, "bench/gen.py"), "--out", dir, "--size-mb", "5", "--datasets", "telegraf"], { stdio: "inherit" });
  }
  return fs.readFileSync(lp);
}

function workerdPid() {
  for (const d of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const m = /^\d+ \((.*)\) \S+ (\d+)/.exec(fs.readFileSync(`/proc/${d}/stat`, "utf8"));
      if (m && m[1].includes("workerd") && Number(m[2]) === process.pid) return Number(d);
    } catch {}
  }
  throw new Error("no workerd child");
}

function cpuMs(pid) {
  const f = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  const rest = f.slice(f.lastIndexOf(")") + 2).split(" ");
  return ((Number(rest[11]) + Number(rest[12])) * 1000) / TICK;
}

// One POST, the body written in 64 KiB pieces paced to `mbit` (0: as fast as it goes).
function post(url, body, mbit) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.request(new URL("/api/v2/write?org=o&bucket=b", url), {
      method: "POST",
      agent: false,
      headers: { Authorization: "Token t", ...(opt.plain ? {} : { "Content-Encoding": "gzip" }), "Content-Length": body.length },
    });
    req.on("response", (res) => {
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode, ms: performance.now() - t0 }));
    });
    req.on("error", reject);
    if (!mbit) return req.end(body);
    const piece = 64 * 1024;
    let i = 0;
    const next = () => {
      if (i >= body.length) return req.end();
      const c = body.subarray(i, i + piece);
      i += piece;
      req.write(c);
      // When this piece would have left the wire at `mbit`.
      const due = t0 + (i * 8) / (mbit * 1000);
      setTimeout(next, Math.max(0, due - performance.now()));
    };
    next();
  });
}

const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];

const lp = data();
const gz = opt.plain ? lp : zlib.gzipSync(lp, { level: 6 });
const sink = await startRecorder();
sink.received.length = 0;
const result = {};
for (const [name, script] of [["pass-through", "bench/worker/passthrough.js"], ["edge check", "worker/index.js"]]) {
  const w = await startWorker({ BACKEND_URL: sink.url }, { script });
  const pid = workerdPid();
  for (let i = 0; i < 3; i++) await post(w.url, gz, 0); // warm up
  const c0 = cpuMs(pid);
  const lat = [];
  for (let i = 0; i < N; i++) {
    const r = await post(w.url, gz, 0);
    if (r.status !== 204) throw new Error(`${name}: ${r.status}`);
    lat.push(r.ms);
    sink.received.length = 0;
  }
  const cpu = (cpuMs(pid) - c0) / N;
  const slow = [];
  for (let i = 0; i < Math.max(3, Math.floor(N / 4)); i++) slow.push((await post(w.url, gz, MBIT)).ms);
  result[name] = { cpu, p50: median(lat), p50Throttled: median(slow) };
  await w.mf.dispose();
}
await sink.close();
const mb = lp.length / 1e6;
const a = result["edge check"];
const b = result["pass-through"];
console.log(`body: ${mb.toFixed(2)} MB telegraf, ${opt.plain ? "sent plain" : `${(gz.length / 1e6).toFixed(2)} MB gzipped`}; ${N} requests per case`);
for (const [k, v] of Object.entries(result)) {
  console.log(`${k}: workerd CPU ${v.cpu.toFixed(1)} ms/request, p50 ${v.p50.toFixed(1)} ms loopback, ${v.p50Throttled.toFixed(1)} ms at ${MBIT} Mbit/s`);
}
console.log(`check CPU: ${((a.cpu - b.cpu) / mb).toFixed(2)} ms per decoded MB (edge ${a.cpu.toFixed(1)} − pass-through ${b.cpu.toFixed(1)} ms, over ${mb.toFixed(2)} MB)`);
console.log(`p50 vs pass-through: loopback ${(((a.p50 - b.p50) / b.p50) * 100).toFixed(1)}%, at ${MBIT} Mbit/s ${(((a.p50Throttled - b.p50Throttled) / b.p50Throttled) * 100).toFixed(1)}%`);
