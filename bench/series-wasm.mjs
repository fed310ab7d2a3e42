#!/usr/bin/env node
// The series quota's cost in wasm: the package's Checker on 5,000-line batches, five ways,
// interleaved: --runs rounds, each timing --batches batches of each way in turn (process CPU
// time, the mean batch of the round); the median round of each way is reported, and the
// added cost as the median over rounds of each round's difference from the check (a batch
// is ~1.5 ms, too short to time alone: the fastest single batches measured noise):
//   check    `series` off: the check alone;
//   hex      `series: true`: the distinct series hashed and collected, every hash handed to
//            JS as hex (the Worker before KnownSeries);
//   hex+Set  the same, then looked up in a JS Set of hex strings holding them all (the
//            Worker's old memory of known series);
//   held     `series: "held"`: hashed and collected in wasm, nothing handed to JS (the
//            hashing and the batch's distinct set alone);
//   known    `series: "held"`: hashed and collected, then `unknownSeries` against a warm
//            KnownSeries (every series known: no hash crosses to JS), as the Worker does now.
// --pkg DIR compares another build of the package (one without KnownSeries runs the first three).
//
//   nice -n 10 node bench/series-wasm.mjs [--runs 21] [--batches 30] [--file /tmp/linegate-bench-data/cpu.lp] [--pkg DIR]

import { parseArgs } from "node:util";
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const { values: opt } = parseArgs({
  options: {
    runs: { type: "string", default: "21" },
    batches: { type: "string", default: "30" },
    file: { type: "string", default: "/tmp/linegate-bench-data/cpu.lp" },
    pkg: { type: "string", default: new URL("../pkg", import.meta.url).pathname },
  },
});
const { Checker, KnownSeries } = await import(pathToFileURL(path.join(opt.pkg, "node.js")).href);
const text = fs.readFileSync(opt.file, "latin1").split("\n").slice(0, 5000);
// cpu.lp's lines, the same with their tags written sorted (one span of the line), and with
// a host per line (5,000 series).
const sorted = text.map((l) => {
  const sp = l.indexOf(" ");
  const [m, ...tags] = l.slice(0, sp).split(",");
  return [m, ...tags.sort()].join(",") + l.slice(sp);
});
const distinct = text.map((l, i) => l.replace(/hostname=host_\d+/, `hostname=host_${i}`));
const auth = { authorization: "Token t" };
const start = (body, series) => {
  const c = Checker.forRequest({ query: "org=o&bucket=b", headers: auth, series });
  c.push(body);
  const v = c.finish();
  if (v.action !== "forward") throw new Error(JSON.stringify(v).slice(0, 300));
  return { c, v };
};
const kinds = KnownSeries ? ["check", "hex", "hex+Set", "held", "known"] : ["check", "hex", "hex+Set"];
for (const [name, lines] of [
  ["cpu.lp, 1,000 series, tags unsorted", text],
  ["cpu.lp, tags sorted", sorted],
  ["5,000 series, tags unsorted", distinct],
]) {
  const body = Buffer.from(lines.join("\n") + "\n", "latin1");
  // The warm memories: every series of the batch known.
  const warm = start(body, true);
  const set = new Set(warm.v.series);
  let known = null;
  if (KnownSeries) {
    known = new KnownSeries(200_000);
    known.remember(warm.c);
  }
  warm.c.free();
  const run = {
    check: () => start(body, false).c.free(),
    hex: () => {
      const { c, v } = start(body, true);
      c.free();
      if (v.series.length !== set.size) throw new Error("series");
    },
    "hex+Set": () => {
      const { c, v } = start(body, true);
      c.free();
      for (const h of v.series) if (!set.has(h)) throw new Error("unknown");
    },
    held: () => start(body, "held").c.free(),
    known: () => {
      const { c } = start(body, "held");
      const u = c.unknownSeries(known);
      c.free();
      if (u.length !== 0) throw new Error("unknown");
    },
  };
  const rounds = Object.fromEntries(kinds.map((k) => [k, []]));
  const n = Number(opt.batches);
  for (let r = 0; r < Number(opt.runs); r++) {
    for (const k of kinds) {
      const t0 = process.cpuUsage();
      for (let i = 0; i < n; i++) run[k]();
      const d = process.cpuUsage(t0);
      rounds[k].push((d.user + d.system) / 1000 / n);
    }
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  const check = median(rounds.check);
  const rest = kinds.slice(1).map((k) => {
    const add = median(rounds[k].map((t, r) => t - rounds.check[r]));
    return `${k} +${add.toFixed(3)} ms (${((100 * add) / check).toFixed(1)}%)`;
  });
  console.log(`${name} [${set.size} series]: check ${check.toFixed(3)} ms; ${rest.join("; ")}`);
  known?.free();
}
