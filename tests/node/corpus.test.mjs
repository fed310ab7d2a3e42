// The parity corpus through the built package, imported as a user imports it: every
// recorded request through checkWrite, and every batch through validate and parse, gives
// InfluxDB's status, exact body and points (what the native core gives: crates/cli/tests).
import { test } from "node:test";
import assert from "node:assert/strict";
import { checkWrite, validate, parse, LinegateError } from "linegate";
import { NOW, haveCorpus, loadCases, wantPoint, gotPoint } from "./support/corpus.mjs";

const skip = haveCorpus() ? false : "../shared/corpus is absent (it sits beside the project root in CI)";
const cases = skip ? [] : loadCases();

function limits(c) {
  return c.maxBatch === undefined ? undefined : { maxBatch: c.maxBatch };
}

const isUtf8 = (b) => {
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(b);
    return true;
  } catch {
    return false;
  }
};

// Each case also varies how the request is given (body type, headers, query or URL), so the
// whole input surface of checkWrite meets the corpus.
function request(c, i) {
  const h = { authorization: "Token t" };
  if (c.contentEncoding !== undefined) h["content-encoding"] = c.contentEncoding;
  let body = c.body;
  switch (i % 4) {
    case 1:
      body = body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength);
      break;
    case 2:
      if (!c.contentEncoding && isUtf8(body)) body = new TextDecoder().decode(body);
      break;
  }
  const req = { body, now: NOW, limits: limits(c) };
  if (i % 3 === 1) {
    req.url = `https://edge.example/api/v2/write?${c.query}#frag`;
  } else {
    req.query = c.query;
  }
  if (i % 5 === 2) {
    req.headers = new Headers(Object.entries(h).map(([k, v]) => [k.toUpperCase(), v]));
  } else if (i % 5 === 3) {
    req.headers = Object.fromEntries(Object.entries(h).map(([k, v]) => [k.replace(/^./, (x) => x.toUpperCase()), v]));
  } else {
    req.headers = h;
  }
  return req;
}

function checkAnswer(c, status, body) {
  assert.equal(status, c.status, `status; body ${body}`);
  if (c.offsetExempt) {
    assert.equal(JSON.parse(body).code, JSON.parse(c.want).code);
    assert.match(body, /flate: corrupt input before offset \d+/);
  } else {
    assert.equal(body, c.want);
  }
}

test("corpus through checkWrite", { skip }, () => {
  const failures = [];
  cases.forEach((c, i) => {
    try {
      const v = checkWrite(request(c, i));
      if (v.action === "forward") {
        assert.deepEqual(Object.keys(v), ["action", "points", "lines"]);
        checkAnswer(c, 204, "");
        const want = c.row.points;
        if (want) assert.equal(v.points, want.length, "points");
      } else {
        assert.equal(v.action, "reject");
        assert.deepEqual(Object.keys(v), ["action", "status", "code", "line", "headers", "body"]);
        assert.deepEqual(v.headers, {
          "Content-Type": "application/json; charset=utf-8",
          "X-Platform-Error-Code": JSON.parse(v.body).code,
        });
        // The code and the first rejected line as data: what the body says, never parsed.
        assert.equal(v.code, JSON.parse(v.body).code);
        assert.equal(v.line, JSON.parse(v.body).line ?? null);
        checkAnswer(c, v.status, v.body);
      }
    } catch (e) {
      failures.push(`[${c.run}] ${c.file}: ${e.message}`);
    }
  });
  assert.ok(cases.length > 2000, "the corpus should hold over 2000 cases");
  assert.deepEqual(failures, [], `${failures.length} of ${cases.length} cases differ`);
});

// validate and parse answer as the server would for an authorized write to an existing
// bucket, so rows that probe a missing bucket parameter are not theirs to match.
const batchCases = cases.filter((c) => c.bucket);

test("corpus through validate and parse", { skip }, () => {
  const failures = [];
  let pointsChecked = 0;
  for (const c of batchCases) {
    const opts = { precision: c.precision, contentEncoding: c.contentEncoding, now: NOW, limits: limits(c) };
    try {
      const v = validate(c.body, opts);
      checkAnswer(c, v.status, v.body);
      assert.equal(v.action, c.status === 204 ? "forward" : "reject");
      if (c.row.failures) {
        assert.equal(v.rejected, c.row.failures.length, "rejected lines");
        assert.equal(v.line, Number(c.row.failures[0].line), "first rejected line");
        v.diagnostics.forEach((d, k) => {
          const f = c.row.failures[k];
          assert.equal(d.line, Number(f.line), "diagnostic line");
          assert.equal(d.reason, f.reason, "diagnostic reason");
          assert.ok(d.column >= 1 && d.hint.length > 0, "diagnostic column and hint");
        });
      }
      let points;
      try {
        points = parse(c.body, opts);
      } catch (e) {
        if (!(e instanceof LinegateError)) throw e;
        assert.notEqual(c.status, 204, `parse threw ${e.message}`);
        checkAnswer(c, e.status, e.body);
        continue;
      }
      assert.equal(c.status, 204, "parse returned points for a rejected batch");
      if (!c.oracleGzip) {
        const want = (c.row.points ?? []).map(wantPoint);
        assert.deepStrictEqual(points.map(gotPoint), want);
        pointsChecked += want.length;
      }
    } catch (e) {
      failures.push(`[${c.run}] ${c.file}: ${e.message.slice(0, 2000)}`);
    }
  }
  assert.deepEqual(failures, [], `${failures.length} of ${batchCases.length} cases differ`);
  assert.ok(pointsChecked > 1000, `only ${pointsChecked} points compared`);
});
