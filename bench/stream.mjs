#!/usr/bin/env node
// The package's streaming check beside Node's native gunzip (issue 15): for ~5 MB of `cpu`
// and `telegraf` line protocol (../shared/bench/gen.py, cut at a line end) gzipped at level
// 6, process CPU per decoded MB of: `zlib.gunzipSync` alone, `validate` (one-shot, gzip in
// wasm), a `Checker` fed 64 KiB pushes, `checkStream` over a byte stream (the BYOB path a
// request body takes) and over a default stream of 4 KiB pieces, and the same for the plain
// body. Best of --runs rounds; every probe runs once per round. Not a test.
//
//   node bench/stream.mjs [--runs 15] [--size-mb 5]

import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Checker, checkStream, validate } from "linegate";
import { byteStream, webStream } from "../tests/support/streams.mjs";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const SHARED = process.env.LINEGATE_SHARED || path.resolve(ROOT, "..", "shared");
const { values: opt } = parseArgs({
  options: { runs: { type: "string", default: "15" }, "size-mb": { type: "string", default: "5" } },
});
const RUNS = Number(opt.runs);
const MB = Number(opt["size-mb"]);

function data(name) {
  const dir = path.join(ROOT, "bench-data/stream");
  const file = path.join(dir, `${name}.lp`);
  if (!fs.existsSync(file)) {
    fs.mkdirSync(dir, { recursive: true });
    execFileSync("python3", [path.join(SHARED, "bench/gen.py"), "--out", dir, "--size-mb", String(MB), "--datasets", name], { stdio: "inherit" });
  }
  const all = fs.readFileSync(file);
  return all.subarray(0, all.lastIndexOf(10, MB * 1e6) + 1);
}

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

async function time(fn) {
  const t = cpuMs();
  await fn();
  return cpuMs() - t;
}

const opts = { warnings: false };
const rows = [];
for (const name of ["cpu", "telegraf"]) {
  const lp = data(name);
  const gz = zlib.gzipSync(lp, { level: 6 });
  const gzOpts = { ...opts, contentEncoding: "gzip" };
  const want = validate(lp, opts);
  const push = (body, o) => {
    const k = new Checker(o);
    for (let i = 0; i < body.length; i += 65536) k.push(body.subarray(i, i + 65536));
    return k.finish();
  };
  const probes = {
    "zlib.gunzipSync": () => zlib.gunzipSync(gz),
    "validate gzip": () => validate(gz, gzOpts),
    "Checker gzip, 64 KiB pushes": () => push(gz, gzOpts),
    "checkStream gzip, byte stream": () => checkStream(byteStream(gz, Infinity), gzOpts),
    "checkStream gzip, 4 KiB pieces": () => checkStream(webStream(gz, 4096), gzOpts),
    "validate plain": () => validate(lp, opts),
    "Checker plain, 64 KiB pushes": () => push(lp, opts),
    "checkStream plain, byte stream": () => checkStream(byteStream(lp, Infinity), opts),
  };
  // Every way gives the one-shot answer.
  for (const [k, f] of Object.entries(probes)) {
    if (k === "zlib.gunzipSync") continue;
    const got = await f();
    if (got.status !== want.status || got.points !== want.points) throw new Error(`${name}: ${k} differs`);
  }
  const best = Object.fromEntries(Object.keys(probes).map((k) => [k, Infinity]));
  for (let r = 0; r < RUNS; r++) {
    for (const [k, f] of Object.entries(probes)) best[k] = Math.min(best[k], await time(f));
  }
  const mb = lp.length / 1e6;
  const per = Object.fromEntries(Object.entries(best).map(([k, v]) => [k, v / mb]));
  rows.push({ name, mb, gzMb: gz.length / 1e6, per });
}

const keys = Object.keys(rows[0].per);
console.log(`Node ${process.version}, the built package; ms of process CPU per decoded MB, best of ${RUNS}`);
console.log(`| dataset | ${keys.map((k) => `\`${k}\``).join(" | ")} | gzip check ÷ gunzip (validate / Checker / checkStream) |`);
console.log(`|---|${keys.map(() => "---:").join("|")}|---:|`);
for (const { name, mb, gzMb, per } of rows) {
  const g = per["zlib.gunzipSync"];
  const ratios = ["validate gzip", "Checker gzip, 64 KiB pushes", "checkStream gzip, byte stream"].map((k) => (per[k] / g).toFixed(2)).join(" / ");
  console.log(`| ${name} (${mb.toFixed(2)} MB, ${gzMb.toFixed(2)} gzipped) | ${keys.map((k) => per[k].toFixed(2)).join(" | ")} | ${ratios} |`);
}
