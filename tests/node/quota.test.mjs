// The write quotas' decisions as the package gives them (spec Part D.2), for a user's Worker
// that keeps the counts and series sets in its own storage: the names, the rate's 429 with
// Retry-After to the window's end, the window arithmetic, the admission of new series, and
// a batch's distinct series from the streaming check (checked against the series hash written again here).
import { test } from "node:test";
import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { quotaNames, checkRate, countRate, admitSeries, answer, Checker } from "linegate";
import { startSink, withReadmeModule } from "./support/readme.mjs";

const auth = { authorization: "Token t" };

test("quotaNames: the tenant and bucket as the request names them, none for a head InfluxDB answers first", () => {
  assert.deepEqual(quotaNames({ query: "org=a%20b&bucket=c", headers: auth }), { tenant: "a%20b", bucket: "v2 org=a%20b&bucket=c" });
  assert.deepEqual(quotaNames({ query: "org=x&orgID=0123456789abcdef&bucket=c", headers: auth }).tenant, "0123456789abcdef");
  assert.deepEqual(quotaNames({ url: "http://h/write?db=d&rp=r&u=x&p=y" }), { tenant: "d", bucket: "v1 db=d&rp=r" });
  assert.equal(quotaNames({ query: "org=a&bucket=c" }), null); // no credentials: 401 first
  assert.equal(quotaNames({ query: "org=a&bucket=c&precision=h", headers: auth }), null);
  assert.equal(quotaNames({ query: "org=a", headers: auth }), null);
});

test("checkRate and countRate: at or above the quota → 429 with Retry-After to the window's end", () => {
  const now = 1_700_000_123_456; // 277 s before the window ends
  let u = countRate(null, 99, now);
  assert.deepEqual(u, { window: 1_700_000_100, bytes: 99 });
  assert.equal(checkRate("a%20b", u, 100, now), null);
  u = countRate(u, 10, now);
  const r = checkRate("a%20b", u, 100, now);
  assert.equal(r.status, 429);
  assert.deepEqual(r.headers, {
    "Content-Type": "application/json; charset=utf-8",
    "X-Platform-Error-Code": "too many requests",
    "Retry-After": "277",
  });
  assert.equal(r.body, `{"code":"too many requests","message":"org a b has exceeded limited_write plan limit"}`);
  // The next window starts over.
  assert.equal(checkRate("a", u, 100, 1_700_000_400_000), null);
  assert.deepEqual(countRate(u, 5, 1_700_000_400_000), { window: 1_700_000_400, bytes: 5 });
  assert.throws(() => checkRate("a", u, -1, now), TypeError);
});

test("admitSeries: new series in input order while below the quota; known ones always pass", () => {
  assert.deepEqual(admitSeries([0, 1, 0, 0], 8, 10), { refused: 1, add: new Uint32Array([]), refusedAt: new Uint32Array([3]) });
  assert.deepEqual(admitSeries([0, 1, 0, 0], 8, 10, { partial: true }), { refused: 1, add: new Uint32Array([0, 2]), refusedAt: new Uint32Array([3]) });
  assert.deepEqual(admitSeries([true, true], 50, 10), { refused: 0, add: new Uint32Array([]), refusedAt: new Uint32Array([]) });
  assert.deepEqual(admitSeries([0, 0, 1, 0], 10, 10, { partial: true }).refusedAt, new Uint32Array([0, 1, 3]));
});

// The series hash (linegate_core::quota::series_hash, version 3) over a series key,
// written again here from its definition, independently of the wasm side: the key
// zero-padded to a multiple of 32 bytes, words of 8 bytes read little-endian into four
// lanes, word i into lane i % 4, each by xxHash64's round (add the word times P2, rotate
// 31, times P1); the length times P5, then each lane through one more round, folded in
// order; then the avalanche.
const M = (1n << 64n) - 1n;
const [P1, P2, P3, P4, P5] = [0x9e3779b185ebca87n, 0xc2b2ae3d27d4eb4fn, 0x165667b19e3779f9n, 0x85ebca77c2b2ae63n, 0x27d4eb2f165667c5n];
const rotl = (x, r) => ((x << BigInt(r)) | (x >> BigInt(64 - r))) & M;
const round = (lane, w) => (rotl((lane + w * P2) & M, 31) * P1) & M;
function seriesHash(key) {
  const b = Buffer.from(key);
  const padded = Buffer.alloc(Math.ceil(b.length / 32) * 32);
  b.copy(padded);
  const l = [(P1 + P2) & M, P2, 0n, (1n << 64n) - P1];
  for (let i = 0; i * 8 < padded.length; i++) l[i % 4] = round(l[i % 4], padded.readBigUInt64LE(i * 8));
  let h = (BigInt(b.length) * P5) & M;
  for (const x of l) h = (((h ^ round(0n, x)) * P1) & M) + P4 & M;
  h ^= h >> 33n;
  h = (h * P2) & M;
  h ^= h >> 29n;
  h = (h * P3) & M;
  h ^= h >> 32n;
  return h.toString(16).padStart(16, "0");
}
const fnv = seriesHash;

test("the series hash: the core's fixed vectors, and the package's hashes on both of its paths", () => {
  // crates/core/src/quota.rs, series_hash_vectors.
  assert.equal(seriesHash(""), "bf236b68b172c8f2");
  assert.equal(seriesHash("cpu,host=a"), "f3983895b69d5aa3");
  assert.equal(seriesHash("0123456789abcdef0123456789abcdef!"), "a182f206adaa184d");
  // Tags written sorted (the key is one span of the line) and unsorted (assembled), a long
  // key and escapes: the wasm build hashes as this reference does.
  const long = Array.from({ length: 40 }, (_, i) => `,t${String(i).padStart(2, "0")}=value_${i}`).join("");
  const body = `cpu,a=1,b=2 v=1 1\ncpu,b=3,a=1 v=1 1\nw\\ x,k\\ 1=v\\,1 v=1 1\nlong${long} v=1 1\n`;
  const c = Checker.forRequest({ query: "org=o&bucket=b", headers: auth, series: true });
  c.push(body);
  const v = c.finish();
  assert.equal(v.action, "forward");
  assert.deepEqual(v.series, [seriesHash("cpu,a=1,b=2"), seriesHash("cpu,a=1,b=3"), seriesHash("w\\ x,k\\ 1=v\\,1"), seriesHash(`long${long}`)]);
});

test("the instance's memo of series spans: checkers after the first, and one open meanwhile, give the same hashes", () => {
  // The same series written with their tags in different orders and escapes: each spelling
  // is a span of its own in the memo, and all give the hash of the one sorted key.
  const lines = [];
  const keys = [];
  for (let i = 0; i < 300; i++) {
    const tags = [["host", `h${i % 60}`], ["dc", `d\\ ${i % 7}`], ["rack", `r${i % 3}`]];
    const order = i % 3 === 0 ? tags : i % 3 === 1 ? [tags[2], tags[0], tags[1]] : [tags[1], tags[2], tags[0]];
    lines.push(`m\\,x,${order.map(([k, v]) => `${k}=${v}`).join(",")} v=${i} ${i}`);
    keys.push(`m\\,x,${[...tags].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([k, v]) => `${k}=${v}`).join(",")}`);
  }
  const want = [...new Set(keys)].map(seriesHash);
  const body = lines.join("\n") + "\n";
  const open = () => Checker.forRequest({ query: "org=o&bucket=b", headers: auth, series: true });
  const first = open();
  first.push(body);
  const held = open(); // open while another checker holds the memo: makes its own
  held.push(body.slice(0, 1000));
  assert.deepEqual(first.finish().series, want);
  for (let round = 0; round < 3; round++) {
    const c = open();
    for (let at = 0; at < body.length; at += 777) c.push(body.slice(at, at + 777));
    assert.deepEqual(c.finish().series, want);
  }
  held.push(body.slice(1000));
  assert.deepEqual(held.finish().series, want);
});

test("the memo's trace and table: batches in the same order, another order and other lengths give the same hashes", () => {
  // Series sections of 20 to 140 bytes (past 32 the package hashes a span in overlapping
  // blocks), each in two spellings; batches repeat, reverse and cut the order, so entries
  // come from the trace (same position as a batch before), from the table, and from neither.
  const series = Array.from({ length: 60 }, (_, i) => {
    const tags = [["host", `h${i}`], ["pad", "x".repeat(2 * i + 1)], ["dc", `d\\ ${i % 5}`]];
    const sorted = [...tags].sort((a, b) => (a[0] < b[0] ? -1 : 1));
    const spell = (t) => `cpu,${t.map(([k, v]) => `${k}=${v}`).join(",")}`;
    return { spellings: [spell(sorted), spell(tags)], key: spell(sorted) };
  });
  // And sections of 1 to 12 bytes (a bare measurement, one short tag), read as overlapping
  // words there.
  for (let n = 1; n <= 12; n++) {
    const m = "abcdefghijkl".slice(0, n);
    const tagged = n > 4 ? `${m.slice(0, n - 4)},k=${m.slice(-1)}` : m;
    series.push({ spellings: [m, m], key: m }, { spellings: [tagged, tagged], key: tagged });
  }
  const open = () => Checker.forRequest({ query: "org=o&bucket=b", headers: auth, series: true });
  const check = (order) => {
    const lines = order.map(([i, s], n) => `${series[i].spellings[s]} v=${n} ${n}`);
    const c = open();
    c.push(lines.join("\n") + "\n");
    const want = [...new Set(order.map(([i]) => series[i].key))].map(seriesHash);
    assert.deepEqual(c.finish().series, want);
  };
  const all = series.map((_, i) => [i, i % 2]);
  const n = series.length;
  for (let round = 0; round < 3; round++) check(all);
  check([...all].reverse());
  check(all.slice(0, 25).map(([i]) => [i, 1 - (i % 2)]));
  check(all);
  check([...all, ...all.map(([i]) => [(i * 7) % n, 0])]);
  check(all.slice(10));
  check(all);
});

test("the memo tells apart series sections that differ in one byte, at every length and position", () => {
  // A memo's span hash that skipped a byte would give two such sections one series; so
  // would its trace's comparison, which the second batch meets at every position: there
  // the section one position on in the first, of the same length, one or two bytes apart.
  const groups = [];
  for (let n = 1; n <= 70; n++) {
    const base = "m".repeat(n);
    groups.push([base, ...Array.from({ length: n }, (_, p) => base.slice(0, p) + "x" + base.slice(p + 1))]);
  }
  const batches = [groups.flat(), groups.flatMap(([base, ...rest]) => [...rest, base])];
  for (let round = 0; round < 4; round++) {
    const keys = batches[round % 2];
    const c = Checker.forRequest({ query: "org=o&bucket=b", headers: auth, series: true });
    c.push(keys.map((k) => `${k} v=1 1`).join("\n") + "\n");
    assert.deepEqual(c.finish().series, keys.map(seriesHash));
  }
});

test("Checker.forRequest({ series, decoded }): the distinct series and the decoded size", () => {
  const body = "cpu,z=1,a=2 v=1 1\nmem v=1 2\ncpu,a=2,z=1 v=2 3\n";
  const c = Checker.forRequest({ query: "org=o&bucket=b", headers: { ...auth, "content-encoding": "gzip" }, series: true });
  c.push(gzipSync(body));
  const v = c.finish();
  assert.equal(v.action, "forward");
  assert.deepEqual(v.series, [fnv("cpu,a=2,z=1"), fnv("mem")]);
  assert.equal(v.decoded, Buffer.byteLength(body));
  // Not asked for: the verdict is as before.
  const d = Checker.forRequest({ query: "org=o&bucket=b", headers: auth });
  d.push(body);
  assert.deepEqual(d.finish(), { action: "forward", points: 3, lines: 3 });
});

test("Checker.refuseSeries: a partial write's lines of refused series become rejected lines (spec D.2 with D.1)", () => {
  const S = "Series cardinality exceeds your plan's service quota";
  const start = (query, acceptPartial = "request") => Checker.forRequest({ query, headers: auth, acceptPartial, series: true });
  // The parser rejects nothing: the verdict is a forward until a series is refused.
  const c = start("org=o&bucket=b&accept_partial=true");
  c.push("m,h=1 v=1 1\nm,h=2 v=1 2\n  m,h=1 v=2 3\nm,h=3 v=1 4\n");
  const v = c.finish();
  assert.equal(v.action, "forward");
  assert.deepEqual(v.series, [fnv("m,h=1"), fnv("m,h=2"), fnv("m,h=3")]);
  const p = c.refuseSeries([1, 2]);
  c.free();
  assert.equal(p.action, "partial");
  assert.equal(p.status, 400);
  assert.equal(
    p.body,
    `{"code":"invalid","message":"partial write error (2 accepted): 2 out of 4 lines rejected\\n2 lines of new series rejected: ${S}","line":2}`,
  );
  assert.equal(Buffer.from(p.forward).toString(), "m,h=1 v=1 1\nm,h=1 v=2 3\n");
  assert.deepEqual(p.rejectedLines.map((l) => [l.line, String(l.text), String(l.reason)]), [
    [2, "m,h=2 v=1 2", S],
    [4, "m,h=3 v=1 4", S],
  ]);
  assert.deepEqual(p.series, [fnv("m,h=1")], "the series left, to admit again");
  // With a bad line, and nothing left: the parser's 400.
  const d = start("org=o&bucket=b", "always");
  d.push("bad\nm,h=9 v=1 1\n");
  assert.equal(d.finish().action, "partial");
  const r = d.refuseSeries([0]);
  d.free();
  assert.equal(r.action, "reject");
  assert.equal(r.body, `{"code":"invalid","message":"unable to parse 'bad': missing fields","line":1}`);
  // Not partial: null (the door answers the series 429).
  const e = start("org=o&bucket=b");
  e.push("m,h=9 v=1 1\n");
  e.finish();
  assert.equal(e.refuseSeries([0]), null);
  e.free();
});

test("the README's quota example: series past the limit get the 429 and are not forwarded, a full window throttles before the body", async () => {
  const target = await startSink();
  const { url: influx } = target;
  const bodies = () => target.seen.map((r) => r.body);
  try {
    await withReadmeModule("quota.mjs", async ({ memoryStore, writeWithQuotas }) => {
      const store = memoryStore();
      let asked = 0;
      const admit = store.admit;
      store.admit = (...a) => (asked++, admit(...a));
      const limits = { bytes: 60, series: 2 };
      let bodyRead = false;
      const post = (body) =>
        new Request("http://edge/api/v2/write?org=o&bucket=b", {
          method: "POST",
          headers: { authorization: "Token t" },
          body: new ReadableStream({
            pull(c) {
              bodyRead = true;
              c.enqueue(new TextEncoder().encode(body));
              c.close();
            },
          }, { highWaterMark: 0 }), // pulled only when read
          duplex: "half",
        });
      const write = (body) => writeWithQuotas(post(body), influx, store, limits);
      assert.equal((await write("cpu,host=a v=1 1\ncpu,host=b v=1 2\n")).status, 204);
      // Known series: the store is not asked again (the isolate's KnownSeries).
      assert.equal((await write("cpu,host=b v=2 3\n")).status, 204);
      assert.equal(asked, 1);
      // A third series: the series 429, nothing forwarded.
      const refused = await write("cpu,host=c v=1 4\n");
      assert.equal(refused.status, 429);
      assert.equal(refused.headers.get("retry-after"), null);
      assert.deepEqual(JSON.parse(await refused.text()), JSON.parse(answer("series-quota").body));
      assert.deepEqual(bodies(), ["cpu,host=a v=1 1\ncpu,host=b v=1 2\n", "cpu,host=b v=2 3\n"]);
      // 34 + 17 decoded bytes stored; one more write reaches 60, and the next is throttled
      // with Retry-After to the window's end, its body never read.
      assert.equal((await write("cpu,host=a v=3 5\n")).status, 204);
      bodyRead = false;
      const throttled = await write("cpu,host=a v=4 6\n");
      assert.equal(throttled.status, 429);
      const retry = Number(throttled.headers.get("retry-after"));
      assert.ok(retry >= 1 && retry <= 300, `Retry-After ${retry}`);
      assert.equal(bodyRead, false);
      assert.equal(bodies().length, 3);
    });
  } finally {
    target.close();
  }
});
