#!/usr/bin/env node
// The Worker's CPU per MB of decoded line protocol: workerd (Miniflare, no inspector) in
// front of a sink backend on 127.0.0.1, a gzipped batch of 5 MB telegraf line protocol sent
// one request at a time to the checking Worker and to the pass-through Worker; workerd's own
// CPU time over the requests, the checking Worker's minus the pass-through's, per decoded MB.
//
// Each Worker runs in its own workerd process, all started together, and the requests go to
// them in turns (--rounds rounds of --requests requests each), so the host's drift falls on
// all alike; each figure is the median over the rounds. CPU is the sum of the process's
// threads' run time from /proc/<pid>/task/*/schedstat (nanoseconds; /proc/<pid>/stat counts
// 10 ms ticks, too coarse for 25 ms requests), user and kernel together.
//
// Beside the two: the package's Checker alone in workerd (bench/worker/checker.js: the body
// read whole, then Checker.forRequest fed 64 KiB pieces, as bench/speed.mjs times it in
// Node) minus the same read alone, which splits the check CPU into the wasm's share and the
// Worker's own (reading into slabs, the forward, the request path). --base DIR adds another
// tree's worker/index.js (e.g. main's, its own pkg/), timed in the same turns.
//
// In the same turns, in this process: Node's zlib.gunzipSync of the same body (issue 22 row
// 5's reference) and the package's Checker on it in Node (as in workerd, 64 KiB pieces), by
// this process's CPU time; row 5 is the check CPU ÷ that gunzip, per decoded MB.
//
// Also the p50 latency of the checking Worker and the pass-through, over loopback and with
// the upload paced client-side to --mbit Mbit/s.
//
//   nice -n 10 node bench/worker-cpu.mjs [--rounds 7] [--requests 10] [--mbit 100] [--plain] [--base DIR]
//
// --plain sends the batch uncompressed (the identity check).

import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import zlib from "node:zlib";
import { execFileSync } from "node:child_process";
import { parseArgs } from "node:util";
import { ROOT, SHARED, startWorker, startRecorder } from "../tests/worker/helpers.mjs";
import { cpuMs, workerdPids } from "./workerd.mjs";

const { values: opt } = parseArgs({
  options: {
    rounds: { type: "string", default: "7" },
    requests: { type: "string", default: "10" },
    mbit: { type: "string", default: "100" },
    plain: { type: "boolean", default: false },
    base: { type: "string" },
  },
});
const ROUNDS = Number(opt.rounds);
const N = Number(opt.requests);
const MBIT = Number(opt.mbit);

function data() {
  const dir = path.join(ROOT, "bench-data/worker");
  const lp = path.join(dir, "telegraf.lp");
  if (!fs.existsSync(lp)) {
    fs.mkdirSync(dir, { recursive: true });
    execFileSync("python3", [path.join(SHARED, "bench/gen.py"), "--out", dir, "--size-mb", "5", "--datasets", "telegraf"], { stdio: "inherit" });
  }
  return fs.readFileSync(lp);
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

// The same check as bench/worker/checker.js, in Node (process CPU).
const { Checker } = await import("linegate");
function nodeChecker(body) {
  const k = Checker.forRequest({
    endpoint: "/api/v2/write",
    query: "org=o&bucket=b",
    headers: { authorization: "Token t", "content-encoding": opt.plain ? undefined : "gzip" },
    limits: { maxBody: 16 * 1024 * 1024, maxBatch: 16 * 1024 * 1024, maxMessage: 1024 * 1024 },
  });
  for (let i = 0; i < body.length; i += 64 * 1024) k.push(body.subarray(i, i + 64 * 1024));
  if (k.finish().action !== "forward") throw new Error("Node Checker: not forward");
}
const processMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];

const lp = data();
const gz = opt.plain ? lp : zlib.gzipSync(lp, { level: 6 });
const mb = lp.length / 1e6;
const sink = await startRecorder();
const cases = [
  { name: "pass-through", script: "bench/worker/passthrough.js" },
  { name: "edge check", script: "worker/index.js" },
  { name: "Checker alone", script: "bench/worker/checker.js" },
  { name: "read alone", script: "bench/worker/checker.js", vars: { MODE: "read" } },
];
if (opt.base) cases.push({ name: "base edge check", script: "worker/index.js", root: path.resolve(opt.base) });
for (const c of cases) {
  const before = workerdPids();
  const helpers = c.root ? await import(path.join(c.root, "tests/worker/helpers.mjs")) : { startWorker };
  c.w = await helpers.startWorker({ BACKEND_URL: sink.url, ...c.vars }, { script: c.script });
  c.pid = [...workerdPids()].find((p) => !before.has(p));
  if (c.pid === undefined) throw new Error(`${c.name}: no workerd child`);
  sink.received.length = 0;
  for (let i = 0; i < 3; i++) await post(c.w.url, gz, 0); // warm up (tiers up the wasm)
  // What is compared: the Workers that forward sent the backend the same bytes, as received.
  const sent = sink.received.map((r) => Buffer.compare(r.body, gz) === 0 && r.headers["content-encoding"] === (opt.plain ? undefined : "gzip"));
  if (sent.length !== (c.script.startsWith("bench/worker/checker") ? 0 : 3) || !sent.every(Boolean)) throw new Error(`${c.name}: the backend did not get the body as sent`);
  c.cpu = [];
  c.lat = [];
}
const node = { gunzip: [], checker: [] };
const inNode = { gunzip: () => zlib.gunzipSync(gz), checker: () => nodeChecker(gz) };
if (opt.plain) delete inNode.gunzip;
for (const f of Object.values(inNode)) f(); // warm up
for (let r = 0; r < ROUNDS; r++) {
  for (const [k, f] of Object.entries(inNode)) {
    const t = [];
    for (let i = 0; i < 3; i++) {
      const c0 = processMs();
      f();
      t.push(processMs() - c0);
    }
    node[k].push(median(t));
  }
  for (const c of cases) {
    const c0 = cpuMs(c.pid);
    for (let i = 0; i < N; i++) {
      const res = await post(c.w.url, gz, 0);
      if (res.status !== 204) throw new Error(`${c.name}: ${res.status}`);
      c.lat.push(res.ms);
      sink.received.length = 0;
    }
    c.cpu.push((cpuMs(c.pid) - c0) / N);
  }
}
const by = Object.fromEntries(cases.map((c) => [c.name, c]));
for (const c of [by["pass-through"], by["edge check"]]) {
  const slow = [];
  for (let i = 0; i < Math.max(3, N); i++) slow.push((await post(c.w.url, gz, MBIT)).ms);
  c.p50Throttled = median(slow);
}
for (const c of cases) await c.w.mf.dispose();
await sink.close();

const cpu = (name) => median(by[name].cpu);
console.log(`body: ${mb.toFixed(2)} MB telegraf, ${opt.plain ? "sent plain" : `${(gz.length / 1e6).toFixed(2)} MB gzipped`}; ${ROUNDS} rounds of ${N} requests per Worker, in turns`);
for (const c of cases) {
  const lat = c.p50Throttled === undefined ? "" : `, p50 ${median(c.lat).toFixed(1)} ms loopback, ${c.p50Throttled.toFixed(1)} ms at ${MBIT} Mbit/s`;
  console.log(`${c.name}: workerd CPU ${cpu(c.name).toFixed(2)} ms/request (rounds ${c.cpu.map((x) => x.toFixed(1)).join(" ")})${lat}`);
}
const a = cpu("edge check");
const b = cpu("pass-through");
console.log(`check CPU: ${((a - b) / mb).toFixed(2)} ms per decoded MB (edge ${a.toFixed(1)} − pass-through ${b.toFixed(1)} ms, over ${mb.toFixed(2)} MB)`);
const wasm = cpu("Checker alone") - cpu("read alone");
console.log(`of which the package's Checker alone in workerd: ${(wasm / mb).toFixed(2)} ms/MB; the rest of the Worker: ${((a - b - wasm) / mb).toFixed(2)} ms/MB`);
const nodeChk = median(node.checker) / mb;
console.log(`the same Checker in Node: ${nodeChk.toFixed(2)} ms/MB (workerd ÷ Node ${(wasm / mb / nodeChk).toFixed(2)}×)`);
if (!opt.plain) {
  const gun = median(node.gunzip) / mb;
  console.log(`Node gunzip: ${gun.toFixed(2)} ms/MB; row 5 (check CPU ÷ gunzip): ${((a - b) / mb / gun).toFixed(2)}×, the Checker alone in workerd ÷ gunzip ${(wasm / mb / gun).toFixed(2)}×`);
}
if (opt.base) {
  const base = cpu("base edge check");
  console.log(`base (${opt.base}) check CPU: ${((base - b) / mb).toFixed(2)} ms per decoded MB (edge ${base.toFixed(1)}); this tree ÷ base ${((a - b) / (base - b)).toFixed(3)}`);
}
const e = by["edge check"];
const p = by["pass-through"];
console.log(`p50 vs pass-through: loopback ${(((median(e.lat) - median(p.lat)) / median(p.lat)) * 100).toFixed(1)}%, at ${MBIT} Mbit/s ${(((e.p50Throttled - p.p50Throttled) / p.p50Throttled) * 100).toFixed(1)}%`);
