// The package's memory of admitted series (spec D.2, a door's cache in front of its quota
// authority): a KnownSeries held in wasm, asked about a finished Checker's distinct series
// without handing them to JS; bounded, dropped whole when a batch's new series would pass
// its bound. The unknown indices are checked against the verdict's own hashes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Checker, KnownSeries } from "linegate";

const auth = { authorization: "Token t" };

// A finished checker of `lines` (one point each), with its series in the verdict too.
function batch(lines, series = true) {
  const c = Checker.forRequest({ query: "org=o&bucket=b", headers: auth, series });
  c.push(lines.map((l) => `${l} v=1 1\n`).join(""));
  const v = c.finish();
  assert.equal(v.action, "forward");
  return { c, v };
}

test("KnownSeries: remember a checker's series, then only the new ones are unknown (exact against the hashes)", () => {
  const known = new KnownSeries(100);
  assert.equal(known.size, 0);
  const a = batch(["m,h=1", "m,h=2", "m,h=1", "n"]);
  assert.deepEqual(a.v.series.length, 3);
  assert.deepEqual([...a.c.unknownSeries(known)], [0, 1, 2], "nothing known yet");
  assert.equal(known.remember(a.c), 3);
  assert.deepEqual([...a.c.unknownSeries(known)], []);
  for (const h of a.v.series) assert.equal(known.has(h), true, h);
  a.c.free();

  // Tags in another order are the same series; two new ones among known ones.
  const b = batch(["n", "m,h=3", "m,h=2", "q,a=1,b=2", "q,b=2,a=1"]);
  const unknown = b.c.unknownSeries(known);
  assert.ok(unknown instanceof Uint32Array);
  assert.deepEqual([...unknown], [1, 3]);
  assert.deepEqual(
    [...unknown],
    b.v.series.flatMap((h, i) => (known.has(h) ? [] : [i])),
    "the indices are exactly the verdict's hashes not in the set",
  );
  assert.deepEqual(b.c.seriesHashes(unknown), [b.v.series[1], b.v.series[3]]);
  assert.deepEqual(b.c.seriesHashes(), b.v.series);
  assert.throws(() => b.c.seriesHashes([5]), RangeError);
  assert.equal(known.remember(b.c), 5);
  assert.deepEqual([...b.c.unknownSeries(known)], []);
  b.c.free();
  assert.equal(known.has("0000000000000000"), false);
  assert.equal(known.has("not a hash"), false);
  known.free();
  assert.throws(() => known.size, /freed/);
});

test('KnownSeries: series: "held" keeps the series out of the verdict, in the checker', () => {
  const known = new KnownSeries(10);
  const { c, v } = batch(["m,h=1", "m,h=2"], "held");
  assert.equal(v.series, undefined);
  assert.equal(typeof v.decoded, "number");
  assert.deepEqual([...c.unknownSeries(known)], [0, 1]);
  const hashes = c.seriesHashes();
  assert.equal(known.remember(c), 2);
  assert.deepEqual(hashes.map((h) => known.has(h)), [true, true]);
  c.free();
  assert.throws(() => c.unknownSeries(known), /finished or was freed/);
  assert.throws(() => batch(["x"]).c.unknownSeries({}), TypeError);
  known.free();
});

test("KnownSeries: bounded; a batch whose new series would pass the bound drops the set whole first", () => {
  const known = new KnownSeries(4);
  assert.equal(known.max, 4);
  const a = batch(["s,i=1", "s,i=2", "s,i=3"]);
  assert.equal(known.remember(a.c), 3);
  // One new: fits exactly.
  const b = batch(["s,i=3", "s,i=4"]);
  assert.equal(known.remember(b.c), 4);
  // Two new would make 6: dropped, then this batch's three recorded.
  const c = batch(["s,i=4", "s,i=5", "s,i=6"]);
  assert.deepEqual([...c.c.unknownSeries(known)], [1, 2]);
  assert.equal(known.remember(c.c), 3);
  assert.deepEqual(a.v.series.map((h) => known.has(h)), [false, false, false]);
  assert.deepEqual(c.v.series.map((h) => known.has(h)), [true, true, true]);
  // More new series than the bound: not recorded, the set kept.
  const d = batch(["t,i=1", "t,i=2", "t,i=3", "t,i=4", "t,i=5"]);
  assert.equal(known.remember(d.c), 3);
  assert.deepEqual([...d.c.unknownSeries(known)], [0, 1, 2, 3, 4]);
  known.clear();
  assert.equal(known.size, 0);
  assert.deepEqual([...c.c.unknownSeries(known)], [0, 1, 2]);
  for (const x of [a, b, c, d]) x.c.free();
  known.free();
  assert.throws(() => new KnownSeries(-1), TypeError);
  assert.throws(() => new KnownSeries(1.5), TypeError);
});

test("KnownSeries: one set for many buckets, each series under its bucket, one bound", () => {
  const known = new KnownSeries(4);
  const a = batch(["m,h=1", "m,h=2"]);
  assert.equal(known.remember(a.c, "metrics"), 2);
  // Known in its bucket only: unknown in another, and unscoped.
  assert.deepEqual([...a.c.unknownSeries(known, "metrics")], []);
  assert.deepEqual([...a.c.unknownSeries(known, "other")], [0, 1]);
  assert.deepEqual([...a.c.unknownSeries(known)], [0, 1]);
  assert.equal(known.has(a.v.series[0], "metrics"), true);
  assert.equal(known.has(a.v.series[0], "other"), false);
  assert.equal(known.has(a.v.series[0]), false);
  assert.equal(known.remember(a.c, "other"), 4);
  // A third series past the bound of 4 (all buckets together): the set is dropped whole first.
  const b = batch(["m,h=3"]);
  assert.equal(known.remember(b.c, "metrics"), 1);
  assert.deepEqual([...a.c.unknownSeries(known, "other")], [0, 1]);
  assert.deepEqual([...b.c.unknownSeries(known, "metrics")], []);
  assert.throws(() => a.c.unknownSeries(known, ""), TypeError);
  assert.throws(() => known.remember(a.c, 7), TypeError);
  a.c.free();
  b.c.free();
  known.free();
});

test("KnownSeries: batches that repeat the one before (answered without lookups) stay exact against a JS set", () => {
  // A Worker's steady state: each batch repeats the one before, mostly; some change a line,
  // add one or come under another bucket, the set is dropped when full. Every answer is
  // compared with a Set of (bucket, hash) kept in JS, and only what was answered is added,
  // as a door does once its authority admitted the series.
  const known = new KnownSeries(40);
  const held = new Set();
  let rng = 7;
  const next = (n) => ((rng = (rng * 1103515245 + 12345) % 2 ** 31), rng % n);
  let lines = Array.from({ length: 12 }, (_, i) => `m,h=${i % 9}`);
  let shortcuts = 0;
  for (let round = 0; round < 300; round++) {
    const r = next(10);
    if (r === 0) lines = [...lines, `m,h=${next(60)}`];
    else if (r === 1) lines = lines.map((l, i) => (i === next(lines.length) ? `m,h=${next(60)}` : l));
    else if (r === 2 && lines.length > 3) lines = lines.slice(0, -1);
    const bucket = next(8) === 0 ? "other" : "b";
    const { c, v } = batch(lines);
    const unknown = [...c.unknownSeries(known, bucket)];
    const want = v.series.flatMap((h, i) => (held.has(`${bucket} ${h}`) ? [] : [i]));
    assert.deepEqual(unknown, want, `round ${round}`);
    if (unknown.length === 0) shortcuts++;
    if (unknown.length > 0) {
      const before = known.size;
      known.remember(c, bucket);
      if (known.size < before + unknown.length) held.clear(); // dropped whole first
      for (const h of v.series) if (known.has(h, bucket)) held.add(`${bucket} ${h}`);
    }
    c.free();
  }
  assert.ok(shortcuts > 100, `${shortcuts}`);
});
