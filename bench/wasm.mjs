#!/usr/bin/env node
// Benchmark of the npm package (pkg/, imported as "linegate") against the native core and
// the peers of ../shared/bench/README.md that run in Node, on the ../shared/bench datasets,
// in one run. Not a test: it prints figures (MB/s of input; for gzip, of decompressed
// output) and, with --write FILE, a Markdown report.
//
//   node bench/wasm.mjs [--data DIR] [--runs N] [--size-mb N] [--write FILE] [--no-native] [--no-peers]
//
// Each figure is the best of N rounds, as wall-clock time and as CPU time (process CPU for
// Node, thread CPU for the native binary); a round runs every probe once, native ones too. The CPU figure is the steadier one on a shared
// machine: another process taking the core stretches the wall clock, not the CPU time.
// Compare within one run, as ratios.

import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync, gzipSync, constants as zc, brotliCompressSync } from "node:zlib";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const runs = Number(opt("--runs", 5));
const dataDir = resolve(root, opt("--data", "bench-data"));
const sizeMb = opt("--size-mb", "50");
const writeTo = opt("--write", undefined);
const withNative = !args.includes("--no-native");
const withWasmPeers = !args.includes("--no-peers");
const datasets = (opt("--datasets", "cpu,cpuf,telegraf,escape")).split(",");

const log = (...a) => console.error(...a);

// --- data -------------------------------------------------------------------------------
const shared = resolve(root, "../shared/bench/gen.py");
if (!datasets.every((d) => existsSync(join(dataDir, d + ".lp")) && existsSync(join(dataDir, d + ".lp.gz")))) {
  if (!existsSync(shared)) {
    log(`SKIPPED: no data in ${dataDir} and ../shared/bench/gen.py is absent`);
    process.exit(0);
  }
  log(`generating ${sizeMb} MB per dataset into ${dataDir}`);
  execFileSync("python3", [shared, "--out", dataDir, "--size-mb", sizeMb], { stdio: "inherit" });
}

// --- package ----------------------------------------------------------------------------
if (!existsSync(join(root, "pkg/package.json"))) {
  log("pkg/ is absent: building it (npm run build)");
  execFileSync("bash", [join(root, "scripts/build-pkg.sh")], { stdio: "inherit" });
}
const lg = await import("linegate");
const { checkWrite, BodyBuffer } = lg;
const pkgJson = JSON.parse(readFileSync(join(root, "pkg/package.json"), "utf8"));

const NOW = 1700000000123456789n;
const query = "org=o&bucket=b&precision=ns";
const headers = { authorization: "Token t" };
const gzHeaders = { authorization: "Token t", "content-encoding": "gzip" };

const mbs = (bytes, s) => bytes / 1e6 / s;
const fmt = (x) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
const pair = (bytes, t) => `${fmt(mbs(bytes, t.cpu))} (${fmt(mbs(bytes, t.wall))})`;

function mustForward(v, what) {
  if (v.action !== "forward") throw new Error(`${what}: ${v.status} ${v.body.slice(0, 300)}`);
  return v;
}

// --- native ----------------------------------------------------------------------------
// The native binary runs once per round, between the rounds of wasm runs, so that both see
// the same machine: on a shared machine, load comes and goes within minutes.
let nativeRound;
if (withNative) {
  const targetDir = process.env.CARGO_TARGET_DIR ? resolve(process.env.CARGO_TARGET_DIR) : join(root, "target");
  log("building the native benchmark binary (cargo build --release --example check_throughput)");
  execFileSync("cargo", ["build", "--release", "-p", "linegate", "--example", "check_throughput"], {
    cwd: root,
    stdio: ["ignore", "ignore", "inherit"],
  });
  const bin = join(targetDir, "release/examples/check_throughput");
  const files = datasets.flatMap((d) => [join(dataDir, d + ".lp"), join(dataDir, d + ".lp.gz")]);
  nativeRound = (note) => {
    const out = spawnSync(bin, ["--iters", "2", ...files], { encoding: "utf8" });
    if (out.status !== 0) throw new Error(`native benchmark failed: ${out.stderr}`);
    for (const line of out.stdout.trim().split("\n")) {
      const r = JSON.parse(line);
      note(`native:${r.file}`, { wall: r.wall_s, cpu: r.cpu_s });
    }
  };
}

// --- peers compiled to wasm (bench/peers-wasm: tremor-influx, influxdb-line-protocol) ---------
let wasmPeers;
if (withWasmPeers) {
  const dir = join(root, "bench/peers-wasm");
  const targetDir = process.env.CARGO_TARGET_DIR ? resolve(process.env.CARGO_TARGET_DIR) : join(dir, "target");
  log("building the Rust peers for wasm32 (bench/peers-wasm)");
  const b = spawnSync("cargo", ["build", "--release", "--target", "wasm32-unknown-unknown"], {
    cwd: dir,
    env: { ...process.env, RUSTFLAGS: "-C target-feature=+simd128", CARGO_TARGET_DIR: targetDir },
    stdio: ["ignore", "ignore", "inherit"],
  });
  if (b.status === 0) {
    execFileSync("wasm-bindgen", ["--target", "web", "--out-dir", join(dir, "pkg"), "--out-name", "peers",
      join(targetDir, "wasm32-unknown-unknown/release/linegate_bench_peers.wasm")]);
    wasmPeers = await import(join(dir, "pkg/peers.js"));
    wasmPeers.initSync({ module: readFileSync(join(dir, "pkg/peers_bg.wasm")) });
  } else {
    log("the wasm peers did not build; their columns are left out");
  }
}

// --- peers (JS parsers on npm) --------------------------------------------------------------
const require = createRequire(join(root, "package.json"));
const peers = [];
for (const [name, load] of [
  ["@akayami/influxdb-line-protocol 1.0.0 (JS)", () => {
    const P = require("@akayami/influxdb-line-protocol").parse;
    return (line) => new P(line);
  }],
  ["influx-line-protocol-parser 0.2.0 (JS)", () => require("influx-line-protocol-parser")],
]) {
  try {
    peers.push({ name, parseLine: load() });
  } catch (e) {
    log(`peer ${name} not installed (npm install): ${e.message}`);
  }
}

// Peers take a string per line: split the (already decoded) text and parse every line,
// counting the lines they throw on (they are split-based and reject valid lines).
function runPeer(p, text) {
  let failed = 0;
  let start = 0;
  for (;;) {
    const end = text.indexOf("\n", start);
    const line = end < 0 ? text.slice(start) : text.slice(start, end);
    if (line.length > 0) {
      try {
        p.parseLine(line);
      } catch {
        failed++;
      }
    }
    if (end < 0) break;
    start = end + 1;
  }
  return failed;
}

// --- runs ------------------------------------------------------------------------------
// Every figure is the best of `runs` rounds; a round runs every probe once (after a first
// warm-up round that is not kept). JS peers are slow, so they get at most 3 rounds.
const best = new Map();
const note = (key, t) => {
  const b = best.get(key);
  best.set(key, b ? { wall: Math.min(b.wall, t.wall), cpu: Math.min(b.cpu, t.cpu) } : t);
};
function once(f) {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  f();
  const t1 = performance.now();
  const c = process.cpuUsage(c0);
  return { wall: (t1 - t0) / 1e3, cpu: (c.user + c.system) / 1e6 };
}
async function onceAsync(f) {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await f();
  const t1 = performance.now();
  const c = process.cpuUsage(c0);
  return { wall: (t1 - t0) / 1e3, cpu: (c.user + c.system) / 1e6 };
}

const sets = datasets.map((d) => {
  const file = join(dataDir, d + ".lp");
  const body = new Uint8Array(readFileSync(file));
  const gz = new Uint8Array(readFileSync(file + ".gz"));
  log(`${d}: ${(body.length / 1e6).toFixed(1)} MB (${(gz.length / 1e6).toFixed(1)} MB gzipped)`);
  return {
    d,
    file,
    body,
    gz,
    text: new TextDecoder().decode(body),
    pre: BodyBuffer.fromBytes(body),
    peerData: wasmPeers ? new wasmPeers.Data(body) : undefined,
    counts: {},
  };
});

async function round(keep) {
  const put = keep ? note : () => {};
  if (nativeRound) nativeRound(put);
  for (const x of sets) {
    const { d, body, gz, text, pre } = x;
    put(`${d}:total`, once(() => mustForward(checkWrite({ query, headers, body, now: NOW }), d)));
    put(`${d}:copy`, once(() => BodyBuffer.fromBytes(body).free()));
    put(`${d}:inWasm`, once(() => mustForward(checkWrite({ query, headers, body: pre, now: NOW }), d)));
    put(`${d}:string`, once(() => mustForward(checkWrite({ query, headers, body: text, now: NOW }), d)));
    // gzip: wasm (miniz_oxide) vs what Node and a Worker have natively, each followed by the check.
    put(`${d}:wasmGz`, once(() => mustForward(checkWrite({ query, headers: gzHeaders, body: gz, now: NOW }), d)));
    put(`${d}:zlibOnly`, once(() => gunzipSync(gz)));
    put(`${d}:zlibCheck`, once(() => mustForward(checkWrite({ query, headers, body: gunzipSync(gz), now: NOW }), d)));
    const dsDecode = async () => {
      const stream = new Blob([gz]).stream().pipeThrough(new DecompressionStream("gzip"));
      return new Uint8Array(await new Response(stream).arrayBuffer());
    };
    put(`${d}:dsOnly`, await onceAsync(dsDecode));
    put(`${d}:dsCheck`, await onceAsync(async () => mustForward(checkWrite({ query, headers, body: await dsDecode(), now: NOW }), d)));
  }
}

async function peerRound(keep) {
  const put = keep ? note : () => {};
  for (const x of sets) {
    if (x.peerData) {
      put(`${x.d}:tremor`, once(() => (x.counts.tremor = x.peerData.tremor())));
      put(`${x.d}:influxdb3`, once(() => (x.counts.influxdb3 = x.peerData.influxdb3())));
    }
    for (const p of peers) put(`${x.d}:${p.name}`, once(() => (x.counts[p.name] = runPeer(p, x.text))));
  }
}

await round(false);
for (let r = 0; r < runs; r++) {
  log(`round ${r + 1} of ${runs}`);
  await round(true);
}
await peerRound(false);
for (let r = 0; r < Math.min(runs, 3); r++) await peerRound(true);

const rows = sets.map((x) => {
  const g = (k) => best.get(`${x.d}:${k}`);
  const peerFigures = [];
  if (x.peerData) {
    peerFigures.push({ name: "tremor-influx 0.13.0-rc.33 (wasm)", t: g("tremor"), note: `decoded ${x.counts.tremor} lines` });
    peerFigures.push({ name: "influxdb-line-protocol 2.0.0 (wasm)", t: g("influxdb3"), note: `parsed ${x.counts.influxdb3} lines` });
  }
  for (const p of peers) peerFigures.push({ name: p.name, t: g(p.name), failed: x.counts[p.name] });
  return {
    d: x.d,
    n: x.body.length,
    total: g("total"),
    copy: g("copy"),
    inWasm: g("inWasm"),
    fromString: g("string"),
    peerFigures,
    nat: best.get(`native:${x.file}`),
  };
});
const gzRows = sets.map((x) => {
  const g = (k) => best.get(`${x.d}:${k}`);
  return {
    d: x.d,
    plainSize: x.body.length,
    gzSize: x.gz.length,
    wasmGz: g("wasmGz"),
    zlibOnly: g("zlibOnly"),
    zlibCheck: g("zlibCheck"),
    dsOnly: g("dsOnly"),
    dsCheck: g("dsCheck"),
    nat: best.get(`native:${x.file}.gz`),
  };
});

// --- size -----------------------------------------------------------------------------
const wasmPath = join(root, "pkg/linegate.wasm");
const wasmBytes = readFileSync(wasmPath);
const size = {
  raw: wasmBytes.length,
  gzip: gzipSync(wasmBytes, { level: 9 }).length,
  brotli: brotliCompressSync(wasmBytes, { params: { [zc.BROTLI_PARAM_QUALITY]: 11 } }).length,
  js: ["api.js", "glue.js", "node.js", "web.js"].reduce((s, f) => s + statSync(join(root, "pkg", f)).size, 0),
};

// --- report ---------------------------------------------------------------------------
const cpuinfo = (() => {
  try {
    return /model name\s*:\s*(.*)/.exec(readFileSync("/proc/cpuinfo", "utf8"))[1];
  } catch {
    return "unknown CPU";
  }
})();
const out = [];
out.push(`Run: ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${cpuinfo}, linegate ${pkgJson.version}, ` +
  `best of ${runs} interleaved rounds per figure (JS peers: ${Math.min(runs, 3)}), datasets of ${sizeMb} MB from ../shared/bench/gen.py.`);
out.push("");
out.push("MB/s of input by CPU time (by wall-clock time in brackets).");
out.push("");
out.push("| dataset | checkWrite (wasm, Uint8Array body) | check alone (body already in wasm) | checkWrite (string body) | native core | wasm / native | copy into wasm |");
out.push("|---|---:|---:|---:|---:|---:|---:|");
for (const r of rows) {
  const ratio = r.nat ? `${((100 * r.nat.cpu) / r.total.cpu).toFixed(0)}% (${((100 * r.nat.wall) / r.total.wall).toFixed(0)}%)` : "–";
  const copyMs = `${(r.copy.cpu * 1e3).toFixed(1)} ms = ${((100 * r.copy.cpu) / r.total.cpu).toFixed(0)}% (${(r.copy.wall * 1e3).toFixed(1)} ms)`;
  out.push(`| ${r.d} | ${pair(r.n, r.total)} | ${pair(r.n, r.inWasm)} | ${pair(r.n, r.fromString)} | ${r.nat ? pair(r.n, r.nat) : "–"} | ${ratio} | ${copyMs} |`);
}
out.push("");
out.push("Peers in the same Node process, on the same data (MB/s of input by CPU time, wall-clock in brackets); linegate's checkWrite again for reference.");
out.push("");
const peerNames = rows[0].peerFigures.map((p) => p.name);
out.push(`| dataset | linegate checkWrite (wasm) | ${peerNames.join(" | ")} |`);
out.push(`|---|---:|${peerNames.map(() => "---:").join("|")}|`);
for (const r of rows) {
  const cells = r.peerFigures.map((p) => `${pair(r.n, p.t)}${p.failed ? `; threw on ${p.failed} lines` : ""}${p.note ? `; ${p.note}` : ""}`);
  out.push(`| ${r.d} | ${pair(r.n, r.total)} | ${cells.join(" | ")} |`);
}
out.push("");
out.push("Gzip bodies: MB/s of decompressed output, decoding and the whole check, by CPU time (wall-clock in brackets).");
out.push("");
out.push("| dataset | checkWrite, gzip in wasm (miniz_oxide) | `zlib.gunzipSync` + checkWrite | `DecompressionStream` + checkWrite | native core, gzip | decode only: `zlib.gunzipSync` | decode only: `DecompressionStream` |");
out.push("|---|---:|---:|---:|---:|---:|---:|");
for (const g of gzRows) {
  out.push(`| ${g.d} (${(g.gzSize / 1e6).toFixed(1)} MB gz) | ${pair(g.plainSize, g.wasmGz)} | ${pair(g.plainSize, g.zlibCheck)} | ${pair(g.plainSize, g.dsCheck)} | ${g.nat ? pair(g.plainSize, g.nat) : "–"} | ${pair(g.plainSize, g.zlibOnly)} | ${pair(g.plainSize, g.dsOnly)} |`);
}
out.push("");
out.push(`Package size: \`linegate.wasm\` ${size.raw} bytes raw, ${size.gzip} gzipped (level 9), ${size.brotli} with brotli; JS ${size.js} bytes.`);
const report = out.join("\n");
console.log(report);
if (writeTo) {
  writeFileSync(resolve(root, writeTo), report + "\n");
  log(`wrote ${writeTo}`);
}
