#!/usr/bin/env node
// Issue 22's five figures in one run, each beside its reference, plus the per-stage profile
// (native and wasm). Not a test: it prints Markdown.
//
//   node bench/speed.mjs [--rounds 7] [--gz-mb 5] [--requests 10] [--no-worker] [--no-build]
//                        [--base-bin OTHER/target/release/linegate] [--base-pkg OTHER/pkg]
//
// 1. `linegate check` one core ÷ tremor-influx one core, per dataset (50 MB each): linegate
//    as the whole CLI process on one pass (`LINEGATE_SPLIT_MIN` past the body: one thread),
//    user + system CPU; also in-process (`check_request`, thread CPU); tremor-influx
//    in-process, line by line into its value tree (crates/core/benches/speed.rs).
// 2. the same on cpu, MB/s (against 1,152 MB/s, issue 22's "today").
// 3. the package's `checkWrite` in Node (process CPU) ÷ the native `check_request` (thread
//    CPU) on the same 50 MB bodies.
// 4. the package's gzip check (`checkWrite` with Content-Encoding gzip, one-shot; `Checker`
//    in 64 KiB pushes beside it) ÷ `zlib.gunzipSync` alone, first --gz-mb MB of cpu /
//    telegraf gzipped at level 6 by Node.
// 5. workerd's CPU per decoded MB, 5 MB telegraf sent gzipped (`bench/worker-cpu.mjs`, check
//    CPU = edge − pass-through) ÷ `zlib.gunzipSync` per MB of the same body, timed by worker-cpu
//    in the same turns as the Workers.
// Every figure is the median of --rounds rounds; within a round the probes are interleaved.
// Ratios within this run are what to compare; absolute MB/s move with the shared host.

import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const SHARED = process.env.LINEGATE_SHARED || path.resolve(ROOT, "..", "shared");
const { values: opt } = parseArgs({
  options: {
    rounds: { type: "string", default: "7" },
    "gz-mb": { type: "string", default: "5" },
    requests: { type: "string", default: "10" },
    "no-worker": { type: "boolean", default: false },
    "no-build": { type: "boolean", default: false },
    "no-native": { type: "boolean", default: false },
    // Another build's CLI (e.g. main's), timed interleaved with this one: row 2's "today".
    "base-bin": { type: "string" },
    // Another build's package (e.g. main's pkg/, copied), its checkWrite timed interleaved
    // with this one's: row 3 before and after in one run.
    "base-pkg": { type: "string" },
  },
});
const ROUNDS = Number(opt.rounds);
const GZ_MB = Number(opt["gz-mb"]);
const DATA = path.join(ROOT, "bench-data");
const DATASETS = ["cpu", "cpuf", "telegraf", "escape"];
const TODAY_CPU_MBS = 1152; // issue 22's "now" for row 2
const log = (...a) => console.error(...a);
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const f2 = (x) => x.toFixed(2);
const f0 = (x) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

// --- data ---------------------------------------------------------------------------------
if (!DATASETS.every((d) => fs.existsSync(path.join(DATA, `${d}.lp`)))) {
  log("generating 50 MB per dataset into bench-data/");
  execFileSync("python3", [path.join(SHARED, "bench/gen.py"), "--out", DATA, "--size-mb", "50"], { stdio: "inherit" });
}
const body = Object.fromEntries(DATASETS.map((d) => [d, fs.readFileSync(path.join(DATA, `${d}.lp`))]));
fs.mkdirSync(path.join(DATA, "speed"), { recursive: true });
const cut = {};
for (const d of DATASETS) {
  const lp = body[d].subarray(0, body[d].lastIndexOf(10, GZ_MB * 1e6) + 1);
  const gz = zlib.gzipSync(lp, { level: 6 });
  fs.writeFileSync(path.join(DATA, `speed/${d}.lp`), lp);
  fs.writeFileSync(path.join(DATA, `speed/${d}.lp.gz`), gz);
  cut[d] = { lp, gz };
}

// --- builds -------------------------------------------------------------------------------
const targetDir = process.env.CARGO_TARGET_DIR ? path.resolve(process.env.CARGO_TARGET_DIR) : path.join(ROOT, "target");
if (!opt["no-build"]) {
  log("cargo build --release --bin linegate; cargo bench --no-run (speed); bench/inflate-wasm for wasm32");
  execFileSync("cargo", ["build", "--release", "--bin", "linegate"], { cwd: ROOT, stdio: ["ignore", "ignore", "inherit"] });
  execFileSync("cargo", ["bench", "-p", "linegate-core", "--bench", "speed", "--no-run"], { cwd: ROOT, stdio: ["ignore", "ignore", "inherit"] });
  execFileSync("cargo", ["build", "--release", "--target", "wasm32-unknown-unknown"], {
    cwd: path.join(ROOT, "bench/inflate-wasm"),
    stdio: ["ignore", "ignore", "inherit"],
    env: { ...process.env, RUSTFLAGS: "-C target-feature=+simd128", CARGO_TARGET_DIR: path.join(targetDir, "bench-inflate-wasm") },
  });
  if (!fs.existsSync(path.join(ROOT, "pkg/package.json"))) execFileSync("bash", ["scripts/build-pkg.sh"], { cwd: ROOT, stdio: "inherit" });
}
const { checkWrite, Checker } = await import("linegate");
const basePkg = opt["base-pkg"] && (await import(path.join(path.resolve(opt["base-pkg"]), "node.js")));
const wasmBytes = fs.readFileSync(path.join(targetDir, "bench-inflate-wasm/wasm32-unknown-unknown/release/linegate_bench_inflate.wasm"));
const x = (await WebAssembly.instantiate(wasmBytes, {})).instance.exports;

// --- native: in-process check, tremor-influx, stages -------------------------------------------
let native = [];
if (!opt["no-native"]) {
  log("native harness (cargo bench --bench speed)");
  const out = execFileSync("cargo", ["bench", "-q", "-p", "linegate-core", "--bench", "speed", "--", "--rounds", String(ROUNDS), "--data", DATA], {
    cwd: ROOT,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    maxBuffer: 1 << 24,
  });
  native = out.trim().split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
}
const nat = (ds, kind, stage) => native.find((r) => r.ds === ds && r.kind === kind && (!stage || r.stage === stage));

// --- the CLI as a whole process, one pass (one core) ---------------------------------------------
log("the CLI, whole process, one pass");
const cliBin = path.join(targetDir, "release/linegate");
const cli = Object.fromEntries(DATASETS.map((d) => [d, []]));
const base = Object.fromEntries(DATASETS.map((d) => [d, []]));
function timeCli(bin, d) {
  // bash's `time` reads the child's rusage to the millisecond (/usr/bin/time: 10 ms).
  const out = path.join(DATA, "speed/cli.out");
  const res = spawnSync("bash", ["-c", 'TIMEFORMAT="%3U %3S"; time "$0" check --format jsonl "$1" > "$2"', bin, path.join(DATA, `${d}.lp`), out], {
    env: { ...process.env, LINEGATE_SPLIT_MIN: "999999999999" },
    encoding: "utf8",
  });
  const answer = fs.readFileSync(out, "utf8");
  if (res.status !== 0 || !answer.includes('"status":204')) throw new Error(`CLI ${d}: ${answer.slice(0, 200)} ${res.stderr.slice(0, 200)}`);
  const [u, s] = res.stderr.trim().split("\n").pop().split(" ").map(Number);
  return u + s;
}
for (let r = 0; r < ROUNDS; r++) {
  for (const d of DATASETS) {
    cli[d].push(timeCli(cliBin, d));
    if (opt["base-bin"]) base[d].push(timeCli(path.resolve(opt["base-bin"]), d));
  }
}

// --- the package in Node: checkWrite plain (50 MB), gzip (cut), Node gunzip; wasm stages -----------------
log("the package and the wasm stages in Node");
const NOW = 1700000000123456789n;
const query = "org=o&bucket=b&precision=ns";
const headers = { authorization: "Token t" };
const gzHeaders = { authorization: "Token t", "content-encoding": "gzip" };
const must = (v, what) => {
  if (v.action !== "forward") throw new Error(`${what}: ${v.status}`);
  return v;
};
function load(bytes) {
  const p = x.alloc(bytes.length);
  new Uint8Array(x.memory.buffer, p, bytes.length).set(bytes);
  return p;
}
const wasmStages = (d) => {
  const { lp, gz } = cut[d];
  const lpP = load(lp);
  const gzP = load(gz);
  return {
    "inflate, 64 KiB buffer": () => x.inflate_zlibrs(gzP, gz.length),
    "inflate, whole body": () => x.inflate_zlibrs_whole(gzP, gz.length, lp.length),
    "crc32 zlib-rs": () => x.crc_zlibrs(lpP, lp.length),
    "crc32 linegate (Chorba)": () => x.crc_linegate(lpP, lp.length),
    "crc32 crc32fast": () => x.crc_crc32fast(lpP, lp.length),
    "lines (memchr)": () => x.stage_lines(lpP, lp.length),
    "structural pass": () => x.stage_scan(lpP, lp.length),
    numbers: () => x.stage_numbers(lpP, lp.length),
    "numbers, validity only": () => x.stage_numbers_valid(lpP, lp.length),
    "check plain": () => x.check_request(lpP, lp.length, 0),
    "check gzip one-shot": () => x.check_request(gzP, gz.length, 1),
    "check gzip streamed": () => x.check_gzip_stream(gzP, gz.length),
  };
};
const probes = {};
for (const d of DATASETS) {
  probes[`checkWrite:${d}`] = () => must(checkWrite({ query, headers, body: body[d], now: NOW }), d);
  if (basePkg) probes[`base checkWrite:${d}`] = () => must(basePkg.checkWrite({ query, headers, body: body[d], now: NOW }), d);
  const { gz } = cut[d];
  probes[`gunzip:${d}`] = () => zlib.gunzipSync(gz);
  probes[`checkWrite gzip:${d}`] = () => must(checkWrite({ query, headers: gzHeaders, body: gz, now: NOW }), d);
  probes[`Checker gzip:${d}`] = () => {
    const k = new Checker({ warnings: false, contentEncoding: "gzip" });
    for (let i = 0; i < gz.length; i += 65536) k.push(gz.subarray(i, i + 65536));
    const v = k.finish();
    if (v.status !== 204) throw new Error(`Checker ${d}: ${v.status}`);
  };
  for (const [k, fn] of Object.entries(wasmStages(d))) probes[`wasm ${k}:${d}`] = fn;
}
const t = Object.fromEntries(Object.keys(probes).map((k) => [k, []]));
for (const fn of Object.values(probes)) fn(); // warm up (tiers up the wasm)
for (let r = 0; r < ROUNDS; r++) {
  for (const [k, fn] of Object.entries(probes)) {
    const c = cpuMs();
    fn();
    t[k].push(cpuMs() - c);
  }
}
const ms = (k) => median(t[k]);

// --- workerd ------------------------------------------------------------------------------
let worker;
if (!opt["no-worker"]) {
  log("workerd (bench/worker-cpu.mjs)");
  const out = execFileSync("nice", ["-n", "10", "node", path.join(ROOT, "bench/worker-cpu.mjs"), "--requests", opt.requests], { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  const m = /check CPU: ([\d.]+) ms per decoded MB \(edge ([\d.]+) − pass-through ([\d.]+) ms, over ([\d.]+) MB\)/.exec(out);
  // worker-cpu times Node's gunzip in the same turns as the Workers (the reference moves
  // by ±15% over minutes, so timing it afterwards skews the ratio).
  const inTurns = /Node gunzip: ([\d.]+) ms\/MB/.exec(out);
  let gunzip = inTurns && Number(inTurns[1]);
  if (!gunzip) {
    const lp = fs.readFileSync(path.join(DATA, "worker/telegraf.lp"));
    const gz = zlib.gzipSync(lp, { level: 6 });
    const g = [];
    for (let r = 0; r < Math.max(ROUNDS, 9); r++) {
      const c = cpuMs();
      zlib.gunzipSync(gz);
      g.push(cpuMs() - c);
    }
    gunzip = median(g) / (lp.length / 1e6);
  }
  worker = { check: Number(m[1]), edge: Number(m[2]) / Number(m[4]), gunzip, mb: Number(m[4]) };
}

// --- report -------------------------------------------------------------------------------
const cpuModel = os.cpus()[0]?.model ?? "unknown CPU";
const mb = (d) => body[d].length / 1e6;
console.log(`Run ${new Date().toISOString()}, ${cpuModel}, ${os.cpus().length} cores, Node ${process.version}; median of ${ROUNDS} interleaved rounds, CPU time.\n`);
console.log("| figure | linegate | reference | ratio | goal |");
console.log("|---|---|---|---:|---|");
const row1 = [];
const tr = (d) => mb(d) / nat(d, "parse").tremor_s;
for (const d of DATASETS) {
  if (!native.length) break;
  const whole = mb(d) / median(cli[d]);
  const inproc = mb(d) / nat(d, "parse").linegate_s;
  row1.push(`${d}: ${f0(whole)} (in-process ${f0(inproc)}) ÷ ${f0(tr(d))} = **${f2(whole / tr(d))}×** (${f2(inproc / tr(d))}×)`);
}
if (row1.length) console.log(`| 1. \`linegate check\` one core ÷ tremor-influx one core, MB/s: whole process (in-process) ÷ tremor | ${row1.join("<br>")} | tremor-influx 0.13.0-rc.33, in-process | | ≥ 4× each |`);
const cpuWhole = mb("cpu") / median(cli.cpu);
if (opt["base-bin"]) {
  const cells = DATASETS.map((d) => `${d}: ${f0(mb(d) / median(cli[d]))} vs ${f0(mb(d) / median(base[d]))} = **${f2(median(base[d]) / median(cli[d]))}×**`);
  console.log(`| 2. \`linegate check\` whole process one core, this build vs --base-bin, MB/s | ${cells.join("<br>")} | ${opt["base-bin"]} | | ≥ 1.5× on cpu |`);
} else {
  console.log(`| 2. \`linegate check\` on cpu, whole process one core | ${f0(cpuWhole)} MB/s | 1,152 MB/s (issue 22) | ${f2(cpuWhole / TODAY_CPU_MBS)}× | ≥ 1.5× |`);
}
const row3 = DATASETS.filter(() => native.length).map((d) => {
  const w = mb(d) / (ms(`checkWrite:${d}`) / 1000);
  const n = mb(d) / nat(d, "parse").linegate_s;
  const b = basePkg && mb(d) / (ms(`base checkWrite:${d}`) / 1000);
  const vsBase = b ? ` (--base-pkg ${f0(b)} = ${((b / n) * 100).toFixed(0)}%; this ÷ base ${f2(w / b)}×)` : "";
  return `${d}: ${f0(w)} ÷ ${f0(n)} = **${((w / n) * 100).toFixed(0)}%**${vsBase}`;
});
if (row3.length) console.log(`| 3. package \`checkWrite\` in Node ÷ native \`check_request\`, MB/s | ${row3.join("<br>")} | native, same bodies | | ≥ 85% each |`);
const row4 = ["cpu", "telegraf"].map((d) => {
  const dmb = cut[d].lp.length / 1e6;
  const g = ms(`gunzip:${d}`) / dmb;
  const c = ms(`checkWrite gzip:${d}`) / dmb;
  const k = ms(`Checker gzip:${d}`) / dmb;
  return `${d} (${f2(dmb)} MB): checkWrite ${f2(c)}, Checker ${f2(k)} ms/MB ÷ gunzip ${f2(g)} = **${f2(c / g)}×** (${f2(k / g)}×)`;
});
console.log(`| 4. package gzip check ÷ Node \`zlib.gunzipSync\`, ms/MB decoded | ${row4.join("<br>")} | Node's native gunzip | | ≤ 1.2× |`);
if (worker) console.log(`| 5. workerd check CPU per decoded MB, ${f2(worker.mb)} MB telegraf gzipped ÷ Node gunzip per MB | ${f2(worker.check)} ms/MB (edge total ${f2(worker.edge)}) | ${f2(worker.gunzip)} ms/MB | **${f2(worker.check / worker.gunzip)}×** | ≤ 1.3× |`);

console.log(`\nPer-stage profile, first ${GZ_MB} MB of each dataset (gzip level 6 by Node), ms per MB of decoded line protocol, native (thread CPU) / wasm in Node (process CPU), median of ${ROUNDS}:\n`);
const stageNames = Object.keys(wasmStages(DATASETS[0]));
console.log(`| stage | ${DATASETS.join(" | ")} |`);
console.log(`|---|${DATASETS.map(() => "---:").join("|")}|`);
for (const s of stageNames) {
  const cells = DATASETS.map((d) => {
    const dmb = cut[d].lp.length / 1e6;
    const n = nat(d, "stage", s);
    const nv = n ? f2((n.s * 1000) / dmb) : "–";
    return `${nv} / ${f2(ms(`wasm ${s}:${d}`) / dmb)}`;
  });
  console.log(`| ${s} | ${cells.join(" | ")} |`);
}
const refs = DATASETS.map((d) => `${f2(ms(`gunzip:${d}`) / (cut[d].lp.length / 1e6))}`);
console.log(`| (Node \`zlib.gunzipSync\`) | ${refs.join(" | ")} |`);
const vals = DATASETS.map((d) => nat(d, "stage", "numbers")?.values ?? "–");
console.log(`\n(numbers: the number reader alone over the ${vals.join(" / ")} numeric values of lines without quotes or backslashes.)`);
