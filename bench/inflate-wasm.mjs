// Inflate and CRC-32 in wasm (Node, simd128 as the package is built), beside Node's native
// zlib on the same bodies: `node bench/inflate-wasm.mjs [--mb 5] [--runs 15]`.
// Builds bench/inflate-wasm (linegate-core's decoder and incremental check, miniz_oxide and
// zlib-rs alone, CRC-32s) for wasm32-unknown-unknown with RUSTFLAGS="-C target-feature=+simd128",
// cuts the first N MB of lines of bench-data/{cpu,telegraf}.lp, gzips them at level 6 (as
// the datasets are), and prints ms per MB of decoded line protocol, best of the runs.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as zlib from "node:zlib";
const { gunzipSync, gzipSync } = zlib;

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const opt = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const mb = Number(opt("--mb", "5"));
const runs = Number(opt("--runs", "15"));
const dir = join(root, "bench/inflate-wasm");
console.error("building bench/inflate-wasm (wasm32, simd128)");
execFileSync("cargo", ["build", "--release", "--target", "wasm32-unknown-unknown"], {
  cwd: dir,
  stdio: "inherit",
  env: { ...process.env, RUSTFLAGS: "-C target-feature=+simd128", CARGO_TARGET_DIR: join(root, "target/bench-inflate-wasm") },
});
const wasm = readFileSync(join(root, "target/bench-inflate-wasm/wasm32-unknown-unknown/release/linegate_bench_inflate.wasm"));
const { instance } = await WebAssembly.instantiate(wasm, {});
const x = instance.exports;

function load(bytes) {
  const p = x.alloc(bytes.length);
  new Uint8Array(x.memory.buffer, p, bytes.length).set(bytes);
  return p;
}
function best(fn) {
  let b = Infinity;
  for (let i = 0; i < runs; i++) {
    const t = process.hrtime.bigint();
    fn();
    b = Math.min(b, Number(process.hrtime.bigint() - t) / 1e6);
  }
  return b;
}

const rows = [];
for (const d of ["cpu", "telegraf"]) {
  const all = readFileSync(join(root, "bench-data", `${d}.lp`));
  const cut = all.lastIndexOf(10, mb * 1e6) + 1;
  const plain = all.subarray(0, cut);
  const gz = gzipSync(plain, { level: 6 });
  const gp = load(gz);
  const pp = load(plain);
  const n = plain.length / 1e6;
  const per = (ms) => ms / n;
  if (x.gunzip_linegate(gp, gz.length) !== plain.length) throw new Error("gunzip length");
  if (x.inflate_zlibrs(gp, gz.length) !== plain.length) throw new Error("zlib-rs length");
  if (x.check_gzip_stream(gp, gz.length) !== 204) throw new Error("check status");
  if ((x.crc_zlibrs(pp, plain.length) >>> 0) !== (x.crc_crc32fast(pp, plain.length) >>> 0)) throw new Error("crc");
  if ((x.crc_linegate(pp, plain.length) >>> 0) !== (x.crc_crc32fast(pp, plain.length) >>> 0)) throw new Error("crc linegate");
  const r = {
    dataset: d,
    mb: n.toFixed(2),
    node_gunzip: per(best(() => gunzipSync(gz))),
    node_crc32: typeof zlib.crc32 === "function" ? per(best(() => zlib.crc32(plain))) : NaN,
    miniz_inflate: per(best(() => x.inflate_miniz(gp, gz.length))),
    zlibrs_inflate: per(best(() => x.inflate_zlibrs(gp, gz.length))),
    crc32fast: per(best(() => x.crc_crc32fast(pp, plain.length))),
    zlibrs_crc32: per(best(() => x.crc_zlibrs(pp, plain.length))),
    linegate_crc32: per(best(() => x.crc_linegate(pp, plain.length))),
    linegate_gunzip: per(best(() => x.gunzip_linegate(gp, gz.length))),
    check_whole: per(best(() => x.check_gzip_whole(gp, gz.length))),
    check_stream: per(best(() => x.check_gzip_stream(gp, gz.length))),
  };
  rows.push(r);
}
const f = (v) => (Number.isFinite(v) ? v.toFixed(2) : "–");
console.log(`ms per MB of decoded line protocol, best of ${runs}, Node ${process.version}, ${mb} MB bodies gzip level 6`);
console.log("| dataset | Node zlib gunzip | miniz_oxide inflate | zlib-rs inflate | crc32fast | zlib-rs crc32 | linegate crc32 (Chorba) | Node crc32 | linegate gunzip (zlib-rs inflate + CRC-32) | gzip check, whole | gzip check, streamed | streamed / Node gunzip |");
console.log("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
for (const r of rows) {
  console.log(`| ${r.dataset} (${r.mb} MB) | ${f(r.node_gunzip)} | ${f(r.miniz_inflate)} | ${f(r.zlibrs_inflate)} | ${f(r.crc32fast)} | ${f(r.zlibrs_crc32)} | ${f(r.linegate_crc32)} | ${f(r.node_crc32)} | ${f(r.linegate_gunzip)} | ${f(r.check_whole)} | ${f(r.check_stream)} | ${(r.check_stream / r.node_gunzip).toFixed(2)} |`);
}
