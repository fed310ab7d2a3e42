// The package's streaming API: every corpus body through a Checker in random chunkings
// gives exactly checkWrite's verdict (a live request) and validate's Validation (a batch);
// checkStream reads a ReadableStream, a Node Readable and an async iterable, stops reading
// once the answer is known, and cancels on abort.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import { Checker, checkStream, checkWrite, validate } from "linegate";
import { NOW, haveCorpus, loadCases } from "./support/corpus.mjs";
import { byteStream, webStream } from "../support/streams.mjs";

const skip = haveCorpus() ? false : "../shared/corpus is absent (it sits beside the project root in CI)";

// A small deterministic generator, so a failure names its seed.
function rng(seed) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

// The body cut at random points: single bytes, small pieces and large ones.
function chunks(body, rand) {
  const out = [];
  const kind = Math.floor(rand() * 3);
  for (let i = 0; i < body.length; ) {
    const n = kind === 0 ? 1 + Math.floor(rand() * 3) : kind === 1 ? 1 + Math.floor(rand() * 64) : 1 + Math.floor(rand() * 70000);
    out.push(body.subarray(i, i + n));
    i += n;
  }
  return out;
}

function limits(c) {
  return c.maxBatch === undefined ? undefined : { maxBatch: c.maxBatch };
}

function requestOf(c) {
  const headers = { authorization: "Token t" };
  if (c.contentEncoding !== undefined) headers["content-encoding"] = c.contentEncoding;
  return { query: c.query, headers, now: NOW, limits: limits(c) };
}

for (const v1 of [false, true]) {
  const name = v1 ? "the v1 corpus" : "the corpus";
  test(`${name}: Checker.forRequest in random chunkings gives checkWrite's verdict`, { skip }, () => {
    const cases = loadCases({ v1 });
    const failures = [];
    cases.forEach((c, i) => {
      const rand = rng(i + 1);
      const req = { ...requestOf(c), endpoint: v1 ? "/write" : undefined };
      const want = checkWrite({ ...req, body: c.body });
      for (let round = 0; round < 2; round++) {
        const k = Checker.forRequest(req);
        for (const ch of chunks(c.body, rand)) k.push(ch);
        try {
          assert.deepStrictEqual(k.finish(), want);
        } catch (e) {
          failures.push(`[${c.run}] ${c.file} seed ${i + 1}: ${e.message.slice(0, 500)}`);
        }
      }
    });
    assert.ok(cases.length > 2000);
    assert.deepEqual(failures, [], `${failures.length} differ`);
  });

  test(`${name}: new Checker in random chunkings gives validate's Validation`, { skip }, () => {
    const cases = loadCases({ v1 }).filter((c) => c.bucket);
    const failures = [];
    cases.forEach((c, i) => {
      const rand = rng(7919 * (i + 1));
      const opts = {
        endpoint: v1 ? "/write" : undefined,
        precision: c.precision,
        contentEncoding: c.contentEncoding,
        now: NOW,
        limits: limits(c),
        summary: i % 2 === 0 ? 8 : false,
      };
      const want = validate(c.body, opts);
      const k = new Checker(opts);
      for (const ch of chunks(c.body, rand)) k.push(ch);
      try {
        assert.deepStrictEqual(k.finish(), want);
      } catch (e) {
        failures.push(`[${c.run}] ${c.file} seed ${i + 1}: ${e.message.slice(0, 500)}`);
      }
    });
    assert.ok(cases.length > 2000);
    assert.deepEqual(failures, [], `${failures.length} differ`);
  });
}

const body = new TextEncoder().encode("cpu,host=a usage=0.5 1\n".repeat(2000) + "cpu,host=b usage=oops 2\n");

test("checkStream reads a ReadableStream, a Node Readable and an async iterable", async () => {
  const want = validate(body, { now: NOW });
  assert.equal(want.status, 400);
  assert.deepStrictEqual(await checkStream(webStream(body, 1000), { now: NOW }), want);
  assert.deepStrictEqual(await checkStream(Readable.from([Buffer.from(body)]), { now: NOW }), want);
  async function* gen() {
    for (let i = 0; i < body.length; i += 333) yield body.subarray(i, i + 333);
  }
  assert.deepStrictEqual(await checkStream(gen(), { now: NOW }), want);
  // Strings as chunks, and a live request's verdict.
  const req = { url: "http://e/api/v2/write?org=o&bucket=b", headers: { Authorization: "Token t" }, now: NOW };
  const text = "m f=1 1\nm f=2 2\n";
  assert.deepStrictEqual(
    await checkStream(Readable.from(["m f=1 1\n", "m f=2 2\n"], { objectMode: true }), { request: req }),
    checkWrite({ ...req, body: text }),
  );
  await assert.rejects(checkStream({}, {}), TypeError);
});

test("checkStream reads a byte stream into its own buffer, with the same answers", async () => {
  const gz = gzipSync(body);
  for (const [bytes, opts] of [
    [body, { now: NOW }],
    [gz, { now: NOW, contentEncoding: "gzip" }],
    [new TextEncoder().encode("m f=1 1\nm f=2 2\n"), { now: NOW }],
  ]) {
    const want = validate(bytes, opts);
    for (const size of [1, 7, 4096, 1 << 20]) {
      const counts = {};
      assert.deepStrictEqual(await checkStream(byteStream(bytes, size, { counts }), opts), want, `pieces of ${size}`);
      assert.ok(counts.byob > 0, "read through a BYOB reader");
      assert.deepStrictEqual(await checkStream(byteStream(bytes, size, { sloppy: true }), opts), want, `pieces of ${size}, closed without respond(0)`);
    }
  }
  // A Response body, as fetch gives it.
  assert.deepStrictEqual(await checkStream(new Response(gz).body, { now: NOW, contentEncoding: "gzip" }), validate(gz, { now: NOW, contentEncoding: "gzip" }));
});

test("checkStream stops reading once the answer is known", async () => {
  // A body declared gzip that is not: the bad header decides it on the first chunk.
  let pulls = 0;
  let cancelled = false;
  const big = new Uint8Array(64 << 20).fill(0x61);
  const s = new ReadableStream({
    pull(ctl) {
      pulls++;
      ctl.enqueue(big.subarray((pulls - 1) << 16, pulls << 16));
    },
    cancel() {
      cancelled = true;
    },
  });
  const v = await checkStream(s, { contentEncoding: "gzip", now: NOW });
  assert.deepStrictEqual(v, validate(big.subarray(0, 1 << 16), { contentEncoding: "gzip", now: NOW }));
  assert.equal(v.status, 500);
  assert.ok(pulls <= 3, `read ${pulls} chunks after the answer was known`);
  assert.ok(cancelled, "the source was cancelled");

  // A request without a token is decided before any body byte.
  const k = Checker.forRequest({ query: "org=o&bucket=b" });
  assert.equal(k.decided(), true);
  assert.equal(k.finish().status, 401);
  // A body reaching maxBody is a 413 as soon as it does.
  pulls = 0;
  const v2 = await checkStream(webStream(big, 1 << 16, () => pulls++), { limits: { maxBody: 1 << 20 }, now: NOW });
  assert.equal(v2.status, 413);
  assert.ok(pulls < 20, `${pulls} reads`);
});

test("checkStream: abort cancels the reader and throws the signal's reason", async () => {
  let cancelledWith;
  const ac = new AbortController();
  let n = 0;
  const s = new ReadableStream({
    pull(ctl) {
      // Hangs after two chunks: only the abort ends the wait.
      if (n++ < 2) ctl.enqueue(new TextEncoder().encode("m f=1 1\n"));
      else return new Promise(() => {});
    },
    cancel(why) {
      cancelledWith = why;
    },
  });
  const why = new Error("stop");
  setTimeout(() => ac.abort(why), 50);
  await assert.rejects(checkStream(s, { signal: ac.signal }), (e) => e === why);
  assert.equal(cancelledWith, why);

  // Aborted before the call; a default reason is an AbortError (a DOMException here).
  const ac2 = new AbortController();
  ac2.abort();
  await assert.rejects(checkStream(webStream(body, 10), { signal: ac2.signal }), (e) => e.name === "AbortError");
  // onProgress returning false cancels with an AbortError; it sees the bytes read.
  const seen = [];
  await assert.rejects(
    checkStream(webStream(body, 1000), { size: body.length, onProgress: (d, t) => (seen.push([d, t]), d < 3000) }),
    (e) => e.name === "AbortError",
  );
  assert.deepEqual(seen, [[1000, body.length], [2000, body.length], [3000, body.length]]);
  await assert.rejects(checkStream(webStream(body, 10), { signal: "no" }), TypeError);
});

test("Checker: gzip in small chunks, disposal, finishing twice", () => {
  const gz = gzipSync(body);
  const k = new Checker({ contentEncoding: "gzip", now: NOW });
  for (let i = 0; i < gz.length; i += 7) k.push(gz.subarray(i, i + 7));
  assert.equal(k.received, gz.length);
  assert.deepStrictEqual(k.finish(), validate(gz, { contentEncoding: "gzip", now: NOW }));
  assert.throws(() => k.push("x"), /finished/);
  assert.throws(() => k.finish(), /finished/);
  // `using` (Node 20 lacks the syntax): Symbol.dispose frees it.
  const d = new Checker();
  d.push("m f=1\n");
  assert.equal(d.decided(), false);
  if (typeof Symbol.dispose === "symbol") {
    d[Symbol.dispose]();
    assert.throws(() => d.push("x"), /freed/);
  } else d.free();
  assert.throws(() => new Checker({ precision: 5 }), TypeError);
  assert.throws(() => new Checker().push(5), TypeError);
});
