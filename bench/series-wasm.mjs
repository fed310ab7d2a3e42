#!/usr/bin/env node
// The series quota's cost in wasm: the package's Checker on 5,000-line batches with and
// without `series: true` (the batch's distinct series hashed and collected, then handed to
// JS as hex strings, as the Worker takes them), interleaved, the fastest of --runs each.
// --pkg DIR compares another build of the package (e.g. main's, for the before).
//
//   nice -n 10 node bench/series-wasm.mjs [--runs 41] [--file /tmp/linegate-bench-data/cpu.lp] [--pkg DIR]

import { parseArgs } from "node:util";
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const { values: opt } = parseArgs({
  options: {
    runs: { type: "string", default: "41" },
    file: { type: "string", default: "/tmp/linegate-bench-data/cpu.lp" },
    pkg: { type: "string", default: new URL("../pkg", import.meta.url).pathname },
  },
});
const { Checker } = await import(pathToFileURL(path.join(opt.pkg, "node.js")).href);
const text = fs.readFileSync(opt.file, "latin1").split("\n").slice(0, 5000);
// cpu.lp's lines, and the same with their tags written sorted (one span of the line).
const sorted = text.map((l) => {
  const sp = l.indexOf(" ");
  const [m, ...tags] = l.slice(0, sp).split(",");
  return [m, ...tags.sort()].join(",") + l.slice(sp);
});
const auth = { authorization: "Token t" };
const run = (body, series) => {
  const c = Checker.forRequest({ query: "org=o&bucket=b", headers: auth, series });
  c.push(body);
  const v = c.finish();
  if (v.action !== "forward") throw new Error(JSON.stringify(v).slice(0, 300));
  return series ? v.series.length : 0;
};
for (const [name, lines] of [
  ["cpu.lp, 5,000 lines, 1,000 series (tags unsorted)", text],
  ["cpu.lp, tags sorted", sorted],
]) {
  const body = Buffer.from(lines.join("\n") + "\n", "latin1");
  const best = { off: Infinity, on: Infinity };
  let n = 0;
  for (let r = 0; r < Number(opt.runs); r++) {
    for (const k of ["off", "on"]) {
      const t0 = process.cpuUsage();
      n += run(body, k === "on");
      const d = process.cpuUsage(t0);
      best[k] = Math.min(best[k], (d.user + d.system) / 1000);
    }
  }
  const add = best.on - best.off;
  console.log(`${name}: check ${best.off.toFixed(2)} ms; with series +${add.toFixed(2)} ms = ${((100 * add) / best.off).toFixed(1)}% [${n}]`);
}
