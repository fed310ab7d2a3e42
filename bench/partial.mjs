#!/usr/bin/env node
// Partial writes (spec Part D.1): what the split costs beside the plain check, on the same
// data. telegraf line protocol (../shared/bench/gen.py) with 1% of its lines made bad (a
// `bad` line after every 99th), checked
//   - natively by the CLI (`linegate check`, streamed: LINEGATE_STREAM_MIN=0, so both runs use
//     the incremental Checker) without and with --accept-partial;
//   - in wasm by the package (Node): checkWrite, and Checker.forRequest fed 64 KiB chunks (what
//     the Worker runs on a request body), without and with acceptPartial; CPU time per MB.
// Best of --runs (default 5). Needs pkg/ and target/release/linegate built.
//
//   node bench/partial.mjs [--mb 20] [--runs 5]

import fs from "node:fs";
import path from "node:path";
import { execFileSync, spawnSync } from "node:child_process";
import { parseArgs } from "node:util";
import { checkWrite, Checker } from "linegate";
import { ROOT, SHARED } from "../tests/worker/helpers.mjs";

const { values: opt } = parseArgs({ options: { mb: { type: "string", default: "20" }, runs: { type: "string", default: "5" } } });
const RUNS = Number(opt.runs);

function data() {
  const dir = path.join(ROOT, `bench-data/partial-${opt.mb}`);
  const out = path.join(dir, "telegraf-1pct-bad.lp");
  if (!fs.existsSync(out)) {
    fs.mkdirSync(dir, { recursive: true });
    execFileSync("python3", [path.join(SHARED, "bench/gen.py"), "--out", dir, "--size-mb", opt.mb, "--datasets", "telegraf", "--no-gzip"], { stdio: "inherit" });
    const lines = fs.readFileSync(path.join(dir, "telegraf.lp"), "utf8").split("\n");
    const mixed = [];
    lines.forEach((l, i) => {
      mixed.push(l);
      if (i % 99 === 98) mixed.push("bad");
    });
    fs.writeFileSync(out, mixed.join("\n"));
  }
  return out;
}

const file = data();
const body = new Uint8Array(fs.readFileSync(file));
const MB = body.length / 1e6;
const best = (f) => {
  let t = Infinity;
  let r;
  for (let i = 0; i < RUNS; i++) {
    const c0 = process.cpuUsage();
    r = f();
    const c = process.cpuUsage(c0);
    t = Math.min(t, (c.user + c.system) / 1000);
  }
  return { ms: t, r };
};

// Native: the CLI streamed, plain and partial; its CPU time (user + system, /usr/bin/time).
const CLI = path.join(ROOT, "target/release/linegate");
// Five times the data, so the 10 ms CPU clock is fine enough.
const big = file.replace(/\.lp$/, "-x5.lp");
if (!fs.existsSync(big)) fs.writeFileSync(big, Buffer.concat(Array(5).fill(fs.readFileSync(file))));
function cliCpu(partial) {
  let t = Infinity;
  for (let i = 0; i < RUNS; i++) {
    const r = spawnSync("/usr/bin/time", ["-f", "%U %S", CLI, "check", "--format", "jsonl", ...(partial ? ["--accept-partial"] : []), big], {
      env: { ...process.env, LINEGATE_STREAM_MIN: "0" },
      encoding: "utf8",
      maxBuffer: 1 << 28,
    });
    if (r.status !== 1) throw new Error(r.stderr);
    const [u, sys] = r.stderr.trim().split("\n").at(-1).split(" ").map(Number);
    t = Math.min(t, (u + sys) * 1000);
  }
  return t;
}

const req = { query: "org=o&bucket=b&precision=ns", headers: { authorization: "Token t" }, now: 1700000000123456789n };
const oneShot = (partial) => best(() => checkWrite({ ...req, body, acceptPartial: partial }).action);
const streamed = (partial) =>
  best(() => {
    const c = Checker.forRequest({ ...req, acceptPartial: partial });
    for (let i = 0; i < body.length; i += 64 << 10) {
      c.push(body.subarray(i, i + (64 << 10)));
      if (partial) c.takeAccepted();
    }
    return c.finish().action;
  });

const rows = [];
const add = (what, plainMs, partialMs, unit) =>
  rows.push(`| ${what} | ${(MB / (plainMs / 1000)).toFixed(0)} | ${(MB / (partialMs / 1000)).toFixed(0)} | ${(((partialMs / plainMs) - 1) * 100).toFixed(1)}% | ${unit} |`);

const n0 = cliCpu(false) / 5;
const n1 = cliCpu(true) / 5;
add("native CLI, streamed (CPU; 10 ms clock)", n0, n1, "MB per CPU-s");
const o0 = oneShot(false);
const o1 = oneShot(true);
if (o0.r !== "reject" || o1.r !== "partial") throw new Error(`${o0.r} ${o1.r}`);
add("wasm checkWrite (CPU)", o0.ms, o1.ms, "MB per CPU-s");
const s0 = streamed(false);
const s1 = streamed(true);
if (s0.r !== "reject" || s1.r !== "partial") throw new Error(`${s0.r} ${s1.r}`);
add("wasm Checker.forRequest, 64 KiB chunks (CPU)", s0.ms, s1.ms, "MB per CPU-s");

console.log(`telegraf, ${MB.toFixed(1)} MB, 1% bad lines, best of ${RUNS}, ${new Date().toISOString()}`);
console.log("| path | plain check | partial split | cost | unit |\n|---|---:|---:|---:|---|");
console.log(rows.join("\n"));
console.log(`wasm CPU per MB: plain ${(s0.ms / MB).toFixed(2)} ms, partial ${(s1.ms / MB).toFixed(2)} ms (Checker.forRequest)`);
