// The package's JS surface as users call it (Node entry: ready at import).
import { test } from "node:test";
import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { readFileSync } from "node:fs";
import * as lg from "linegate";

const { checkWrite, validate, parse, BodyBuffer, LinegateError } = lg;
const NOW = 1700000000123456789n;
const auth = { authorization: "Token t" };
const pkgJson = JSON.parse(readFileSync(new URL("../../pkg/package.json", import.meta.url), "utf8"));

test("the project's own check call: gzip body, forward with counts", () => {
  const bytes = gzipSync("cpu,host=a usage=0.5 1700000000000000000\ncpu,host=b usage=0.7\n");
  const v = checkWrite({
    query: "org=o&bucket=b&precision=ns",
    headers: { authorization: "Token t", "content-encoding": "gzip" },
    body: bytes,
    now: 1700000000123456789n,
  });
  assert.deepStrictEqual(v, { action: "forward", points: 2, lines: 2 });
});

test("a rejected batch: exact status, headers and body with the line", () => {
  const v = checkWrite({ query: "org=o&bucket=b", headers: auth, body: "m f=1\n\nm f=oops\n", now: NOW });
  assert.deepStrictEqual(v, {
    action: "reject",
    status: 400,
    code: "invalid",
    line: 3,
    headers: { "Content-Type": "application/json; charset=utf-8", "X-Platform-Error-Code": "invalid" },
    body: `{"code":"invalid","message":"unable to parse 'm f=oops': invalid boolean","line":3}`,
  });
});

test("the order of request checks (spec Part A §3)", () => {
  const st = (req) => {
    const v = checkWrite({ body: "bad", now: NOW, ...req });
    return v.action === "forward" ? 204 : v.status;
  };
  assert.equal(st({ query: "org=o&bucket=b" }), 401);
  assert.equal(st({ query: "org=o&bucket=b", headers: { authorization: "  " } }), 401);
  assert.equal(st({ query: "precision=h", headers: auth }), 400);
  assert.equal(st({ query: "org=o", headers: auth }), 404);
  assert.equal(st({ query: "bucket=b", headers: { ...auth, "content-encoding": "gzip" } }), 500);
  assert.equal(st({ query: "bucket=b", headers: auth }), 400);
  assert.equal(st({ query: "orgID=1&bucket=b", headers: auth, body: "" }), 204);
  // Content-Encoding is compared verbatim: GZIP is not gzip, so the body is read as-is.
  assert.equal(st({ query: "org=o&bucket=b", headers: { ...auth, "Content-Encoding": "GZIP" }, body: "m f=1" }), 204);
});

test("header names are case-insensitive; Headers objects work", () => {
  const body = gzipSync("m f=1i");
  for (const headers of [
    { AUTHORIZATION: "Token t", "Content-Encoding": "gzip" },
    new Headers({ Authorization: "Token t", "content-encoding": "gzip" }),
    { authorization: ["Token t"], "content-encoding": " gzip " },
  ]) {
    assert.deepStrictEqual(checkWrite({ query: "org=o&bucket=b", headers, body, now: NOW }), {
      action: "forward",
      points: 1,
      lines: 1,
    });
  }
});

test("query from url, a leading ? and Go's query decoding", () => {
  const ok = { action: "forward", points: 1, lines: 1 };
  const body = "m f=1 1";
  assert.deepStrictEqual(checkWrite({ url: "http://h/api/v2/write?org=o&bucket=b&precision=s#x", headers: auth, body }), ok);
  assert.deepStrictEqual(checkWrite({ url: new URL("http://h/api/v2/write?org=o&bucket=b"), headers: auth, body }), ok);
  assert.deepStrictEqual(checkWrite({ query: "?org=o&bucket=b", headers: auth, body }), ok);
  // `query` wins over `url`; `%6E%73` decodes to "ns"; `;` drops a pair as Go 1.17+ does.
  assert.deepStrictEqual(checkWrite({ query: "org=o&bucket=b&precision=%6E%73", url: "http://h/?", headers: auth, body }), ok);
  assert.equal(checkWrite({ query: "org=o;x=1&bucket=b", headers: auth, body }).status, 400);
  assert.equal(checkWrite({ url: "http://h/api/v2/write", headers: auth, body }).status, 404);
});

test("every body type gives the same answer", () => {
  const text = "m,t=ü f=1i\nm f=\"x\" 5\n";
  const u8 = new TextEncoder().encode(text);
  const forms = [text, u8, u8.buffer.slice(0), new DataView(u8.buffer), Buffer.from(text), BodyBuffer.fromString(text)];
  for (const body of forms) {
    assert.deepStrictEqual(checkWrite({ query: "org=o&bucket=b", headers: auth, body, now: NOW }), {
      action: "forward",
      points: 2,
      lines: 2,
    });
  }
  assert.throws(() => checkWrite({ query: "", headers: auth, body: 42 }), TypeError);
  assert.throws(() => checkWrite({ query: "", headers: auth }), TypeError);
  assert.throws(() => checkWrite(null), TypeError);
});

test("string bodies are checked as their UTF-8 bytes, wherever the non-ASCII text is", () => {
  const lines = ["m,t=a f=1i", "é f=\"ü\"", "m f=\"\u{1F600}\" 5", "m f=\"\uD800\"", "m\u2028 f=1"];
  const cases = ["", "ü", "m f=1", ...lines, lines.join("\n"), "a".repeat(70000) + "=1 é f=1\nbad ü"];
  for (let i = 0; i < lines.length; i++) cases.push(lines.slice(i).join("\n") + "\nbad " + "x".repeat(i));
  for (const s of cases) {
    const bytes = new TextEncoder().encode(s); // a lone surrogate becomes U+FFFD, as in the glue
    const a = validate(s, { now: NOW });
    const b = validate(bytes, { now: NOW });
    assert.deepStrictEqual(a, b, JSON.stringify(s.slice(0, 40)));
    const bb = BodyBuffer.fromString(s);
    assert.equal(bb.length, bytes.length);
    assert.deepStrictEqual(validate(bb, { now: NOW }), b);
    bb.free();
    if (a.status === 204) assert.deepStrictEqual(parse(s, { now: NOW }), parse(bytes, { now: NOW }));
    assert.deepStrictEqual(
      checkWrite({ query: "org=o&bucket=b", headers: auth, body: s, now: NOW }),
      checkWrite({ query: "org=o&bucket=b", headers: auth, body: bytes, now: NOW }),
    );
  }
  const pts = parse("m f=\"\u{1F600}ü\"", { now: NOW });
  assert.equal(pts[0].fields[0].value, "\u{1F600}ü");
});

test("limits: 413 at a size equal to the limit, gzip bombs stop early", () => {
  const req = { query: "org=o&bucket=b", headers: auth, now: NOW };
  const too = { action: "reject", status: 413 };
  const body = "m f=1i 1\n"; // 9 bytes
  assert.equal(checkWrite({ ...req, body, limits: { maxBatch: 9 } }).status, 413);
  assert.equal(checkWrite({ ...req, body, limits: { maxBatch: 10 } }).action, "forward");
  assert.equal(checkWrite({ ...req, body, limits: { maxBody: 9 } }).status, 413);
  const bomb = gzipSync(Buffer.alloc(64 << 20, "m f=1i 1\n"));
  const v = checkWrite({ ...req, headers: { ...auth, "content-encoding": "gzip" }, body: bomb, limits: { maxBatch: 1 << 20 } });
  assert.equal(v.status, too.status);
  assert.equal(v.body, `{"code":"request too large","message":"unable to read data: points batch is too large"}`);
  assert.throws(() => checkWrite({ ...req, body, limits: { maxBody: -1 } }), TypeError);
  // The message cap: past maxMessage the message ends with the count of what was left out.
  const many = "bad\n".repeat(50);
  const capped = checkWrite({ ...req, body: many, limits: { maxMessage: 200 } });
  assert.match(JSON.parse(capped.body).message, /\n… and \d+ more rejected lines$/);
  assert.ok(capped.body.length < 400);
});

test("bodyRead: how much of a body to read and hold, from its Content-Length", () => {
  const max = 1 << 20;
  const header = lg.maxGzipHeader();
  assert.deepEqual(lg.bodyRead(null, max), { declared: null, tooLarge: false, cap: max, hold: max });
  assert.deepEqual(lg.bodyRead(undefined, max), { declared: null, tooLarge: false, cap: max, hold: max });
  assert.deepEqual(lg.bodyRead("12", max), { declared: 12, tooLarge: false, cap: max, hold: 12 });
  // At the limit: 413, after reading no more than a gzip header's bound.
  assert.deepEqual(lg.bodyRead(String(max), max), { declared: max, tooLarge: true, cap: header, hold: header });
  assert.deepEqual(lg.bodyRead("5", 5), { declared: 5, tooLarge: true, cap: 5, hold: 5 });
  assert.equal(lg.bodyRead("9".repeat(40), max).tooLarge, true);
  for (const v of ["", "+5", "5, 5", " 5", "1e3"]) {
    assert.deepEqual(lg.bodyRead(v, max), { declared: null, tooLarge: false, cap: max, hold: max }, v);
  }
});

test("spoolName: the spool's queue name, as URLSearchParams and JSON.stringify always made it", () => {
  const before = (url) => {
    const q = url.searchParams;
    return JSON.stringify(
      url.pathname === "/write"
        ? [url.pathname, q.get("db") ?? "", q.get("rp") ?? ""]
        : [url.pathname, q.get("org") ?? "", q.get("orgID") ?? "", q.get("bucket") ?? ""],
    );
  };
  const pieces = ["org", "orgID", "bucket", "db", "rp", "=", "&", "+", "%", "%2", "%zz", "%41", "%FF", "%C3%A9", "%E2%82", "%22", "%5C",
    "%0A", "%01", "%7F", "%E2%80%A8", ";", "\\", '"', "é", "€", "\u2028", " ", "#", "?", "o", "b", "%62ucket", "or%67"];
  let seed = 7;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
  const queries = ["", "org=o&bucket=b", "db=d&rp=r&u=x&p=y", "orgID=1&org=a&org=b&bucket=c&bucket=d"];
  for (let i = 0; i < 3000; i++) {
    let q = "";
    for (let n = next() % 12; n > 0; n--) q += pieces[next() % pieces.length];
    queries.push(q);
  }
  for (const path of ["/api/v2/write", "/write"]) {
    for (const q of queries) {
      const url = new URL(`http://x${path}?${q}`);
      assert.equal(lg.spoolName(url.pathname, url.search), before(url), `${path}?${q}`);
      assert.equal(lg.spoolName(url.pathname, url.search.slice(1)), before(url), `${path}?${q}`);
    }
  }
});

test("now: lines without a timestamp get it, truncated to the precision; default is the clock", () => {
  const [p] = parse("m f=1", { precision: "ms", now: NOW });
  assert.equal(p.time, 1700000000123000000n);
  const before = BigInt(Date.now()) * 1000000n;
  const [q] = parse("m f=1");
  assert.ok(q.time >= before - 1000000000n && q.time <= before + 1000000000n, `${q.time}`);
  assert.throws(() => parse("m f=1", { now: 1.5 }), TypeError);
  assert.throws(() => parse("m f=1", { now: 2n ** 63n }), RangeError);
});

test("parse: plain objects, BigInt integers and times, bytes for non-UTF-8 text", () => {
  const body = Buffer.concat([
    Buffer.from('w\\ x,b=2,a=1\\,z f=-1.5,i=-9223372036854775808i,u=18446744073709551615u,s="q\\"\\\\n",t=TRUE,f=1 -5\n'),
    Buffer.from([0x6d, 0xff, 0x20, 0x66, 0x3d, 0x31, 0x0a]), // m\xff f=1
  ]);
  const pts = parse(body, { now: NOW });
  assert.deepStrictEqual(pts[0], {
    measurement: "w x",
    tags: [
      ["a", "1,z"],
      ["b", "2"],
    ],
    fields: [
      { key: "f", type: "float", value: -1.5 },
      { key: "i", type: "integer", value: -9223372036854775808n },
      { key: "u", type: "unsigned", value: 18446744073709551615n },
      { key: "s", type: "string", value: 'q"\\n' },
      { key: "t", type: "boolean", value: true },
      { key: "f", type: "float", value: 1 },
    ],
    time: -5n,
    line: 1,
  });
  assert.deepStrictEqual(pts[1].measurement, new Uint8Array([0x6d, 0xff]));
  assert.equal(pts[1].time, NOW);
  // Repeated names are one string; repeated bytes are separate arrays (mutable, not shared).
  const two = parse(Buffer.from("m\xff,t=a f=1 1\nm\xff,t=a f=2 2\n", "latin1"));
  assert.deepStrictEqual(two[0].measurement, two[1].measurement);
  assert.notEqual(two[0].measurement, two[1].measurement);
  assert.deepStrictEqual(two.map((p) => [p.tags, p.fields[0].value, p.time]), [
    [[["t", "a"]], 1, 1n],
    [[["t", "a"]], 2, 2n],
  ]);
});

test("parse throws a LinegateError carrying the validation", () => {
  assert.throws(
    () => parse("ok f=1\nm f=1 2 3\n", { now: NOW }),
    (e) =>
      e instanceof LinegateError &&
      e.status === 400 &&
      e.body === `{"code":"invalid","message":"unable to parse 'm f=1 2 3': point is invalid","line":2}` &&
      e.diagnostics[0].line === 2 &&
      e.validation.points === 1,
  );
  assert.throws(() => parse("m f=1", { precision: "h" }), (e) => e.status === 400 && e.validation.precision === null);
});

test("validate: verdict, diagnostics with hints, warnings, summary", () => {
  const v = validate('m f=1,time=2 10\nm f=2i 20\nm,host=my server f=1\nm s="abc\n', { now: NOW, summary: 2 });
  assert.equal(v.action, "reject");
  assert.equal(v.status, 400);
  assert.equal(v.line, 3);
  assert.equal(v.rejected, 2);
  assert.equal(v.precision, "ns");
  assert.deepStrictEqual(
    v.diagnostics.map((d) => [d.line, d.column, d.code, d.reason]),
    [
      [3, 11, "invalid-field-format", "invalid field format"],
      [4, 5, "unbalanced-quotes", "unbalanced quotes"],
    ],
  );
  assert.match(v.diagnostics[0].hint, /escaped/);
  // The excerpt shows the line; the spot indexes the JS string (here: the space after "my").
  assert.equal(v.diagnostics[0].excerpt, "m,host=my server f=1");
  assert.equal(v.diagnostics[0].excerptSpot, 10);
  const u = validate("m,h=é f=1\nm,h=\u{1F600}ü x f=1\n").diagnostics[0];
  assert.equal(u.excerpt, "m,h=\u{1F600}ü x f=1");
  assert.equal(u.excerpt.slice(u.excerptSpot), "x f=1");
  assert.deepStrictEqual([u.excerptCutBefore, u.excerptCutAfter], [false, false]);
  // A long line: core's one 400-byte window around the spot, cut where it cuts.
  for (const [line, cut] of [
    [`m f=oops,g="${"x".repeat(600)}"`, [false, true]],
    [`m,t=${"a".repeat(600)} f=oops`, [true, false]],
    [`m,t=${"a".repeat(600)} f=oops,g="${"x".repeat(600)}"`, [true, true]],
  ]) {
    const d = validate(line).diagnostics[0];
    assert.ok(d.excerpt.length === 400, `${d.excerpt.length}`);
    assert.equal(d.excerpt.slice(d.excerptSpot, d.excerptSpot + 4), "oops");
    assert.deepStrictEqual([d.excerptCutBefore, d.excerptCutAfter], cut);
  }
  assert.deepStrictEqual(v.warnings.map((w) => w.kind).sort(), ["field-type-conflict", "time-field"]);
  assert.equal(v.warningsTotal, 2);
  assert.deepStrictEqual(v.summary, {
    points: 2,
    fields: 3,
    series: 1,
    measurements: [{ name: "m", points: 2 }],
    fieldTypes: { float: 2, integer: 1, unsigned: 0, string: 0, boolean: 0 },
    minTime: 10n,
    maxTime: 20n,
    histogram: [1, 1],
  });
  const ok = validate("m f=1 1\n", { warnings: false });
  assert.deepStrictEqual(
    [ok.action, ok.status, ok.headers, ok.body, ok.code, ok.line, ok.summary, ok.warnings],
    ["forward", 204, null, "", null, null, null, []],
  );
  // The early rejections carry no precision and no counts.
  const gz = validate("plain", { contentEncoding: "gzip" });
  assert.deepStrictEqual([gz.status, gz.code, gz.precision, gz.points], [500, "internal error", null, 0]);
});

test("validate: progress in bytes of the decoded body, and cancelling", () => {
  const text = "cpu,host=a usage=1.5 1700000000000000000\n".repeat(100000); // ~4 MB
  for (const [body, contentEncoding] of [
    [text, undefined],
    [gzipSync(text), "gzip"],
  ]) {
    const seen = [];
    const v = validate(body, { contentEncoding, onProgress: (done, total) => void seen.push([done, total]) });
    assert.equal(v.points, 100000);
    assert.ok(seen.length >= 3, `${seen.length} progress calls`);
    assert.deepStrictEqual(seen.at(-1), [text.length, text.length]);
    assert.ok(seen.every(([d], i) => i === 0 || d >= seen[i - 1][0]), "progress only grows");
  }
  assert.throws(
    () => validate(text, { onProgress: (done) => done < 1 << 20 }),
    (e) => e.name === "AbortError",
  );
  // A throwing callback does not break the check.
  assert.equal(validate(text, { onProgress: () => { throw new Error("x"); } }).points, 100000);
});

test("large bodies (checked in pieces) get the one-shot check's answer", () => {
  // checkWrite feeds a Uint8Array of 2 MiB or more to the incremental check 1 MiB at a time;
  // a BodyBuffer is still checked whole. Lines cross the pieces' edges in every way here.
  const MiB = 1 << 20;
  const line = (i) => `cpu,host=h${i % 97},region=eu-west-${i % 3} usage_user=${i % 100}.5,usage_idle=${i}i ${1700000000000000000 + i}\n`;
  const lines = [];
  for (let i = 0, n = 0; n < 2.5 * MiB; i++) {
    lines.push(line(i));
    n += lines[lines.length - 1].length;
  }
  const good = lines.join("");
  const at = (text, pos, bad) => text.slice(0, pos) + bad + text.slice(pos);
  const texts = {
    good,
    "error first": "bad\n" + good,
    "error at the first piece's end": at(good, good.lastIndexOf("\n", MiB) + 1, "m f=oops 1\n"),
    "line across the first piece's end": at(good, MiB - 5, "zzz"),
    "escape at the first piece's end": at(good, MiB - 1, "\\"),
    "quote swallowing the rest": at(good, MiB + 100, '"'),
    "errors everywhere": lines.map((l, i) => (i % 1000 === 7 ? "m f=1x\n" : l)).join(""),
    "no final newline": good.slice(0, -1),
    "timestamps out of range": at(good, 2 * MiB, "m f=1 99999999999999999999\nm f=1 -9223372036854775808\n"),
  };
  const reqs = [
    { query: "org=o&bucket=b&precision=ns", headers: auth, now: NOW },
    { query: "org=o&bucket=b&precision=s", headers: auth, now: NOW },
    { endpoint: "/write", query: "db=d&precision=u", headers: auth, now: NOW },
    { query: "org=o&bucket=b", headers: {}, now: NOW },
    { query: "org=o&bucket=b", headers: auth, now: NOW, limits: { maxBatch: 2 * MiB } },
    { query: "org=o&bucket=b", headers: auth, now: NOW, limits: { maxBody: 2 * MiB + 1 } },
    { query: "org=o&bucket=b", headers: auth, now: NOW, limits: { maxMessage: 300 } },
  ];
  const oneShot = (req, bytes) => {
    const buf = BodyBuffer.fromBytes(bytes);
    try {
      return checkWrite({ ...req, body: buf });
    } finally {
      buf.free();
    }
  };
  let forwarded = 0;
  for (const [name, text] of Object.entries(texts)) {
    const bytes = new TextEncoder().encode(text);
    assert.ok(bytes.length >= 2 * MiB, name);
    for (const req of reqs) {
      const got = checkWrite({ ...req, body: bytes });
      assert.deepStrictEqual(got, oneShot(req, bytes), `${name}: ${JSON.stringify(req.query)} ${JSON.stringify(req.limits)}`);
      forwarded += got.action === "forward";
    }
  }
  assert.ok(forwarded > 0);
  // A gzip body as large (stored, level 0).
  const gz = gzipSync(good, { level: 0 });
  const req = { query: "org=o&bucket=b", headers: { ...auth, "content-encoding": "gzip" }, now: NOW };
  assert.deepStrictEqual(checkWrite({ ...req, body: gz }), oneShot(req, gz));
  const cut = gz.subarray(0, gz.length - 3);
  assert.deepStrictEqual(checkWrite({ ...req, body: cut }), oneShot(req, cut));
});

test("BodyBuffer: a body filled chunk by chunk, reused across calls", () => {
  const text = "m f=1i 1\nm f=2i 2\n";
  const buf = new BodyBuffer(text.length);
  const bytes = new TextEncoder().encode(text);
  for (let i = 0; i < bytes.length; i += 5) buf.push(bytes.subarray(i, i + 5));
  assert.equal(buf.length, bytes.length);
  for (let round = 0; round < 2; round++) {
    assert.equal(validate(buf).points, 2);
    assert.equal(checkWrite({ query: "org=o&bucket=b", headers: auth, body: buf }).action, "forward");
  }
  assert.equal(parse(buf).length, 2);
  buf.clear();
  assert.equal(buf.length, 0);
  buf.free();
});

test("the Node entry is ready at import; version is the package's", () => {
  assert.equal(lg.isReady(), true);
  lg.initSync(new Uint8Array(0)); // harmless once initialised
  assert.equal(lg.version(), pkgJson.version);
  assert.match(pkgJson.version, /^\d+\.\d+\.\d+/);
});
