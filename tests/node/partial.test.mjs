// Partial writes through the package (spec Part D.1): every row of partial-expected.jsonl
// through checkWrite({ acceptPartial }) and through Checker.forRequest in chunks (taking the
// accepted lines as they come) gives the exact answer, the forwarded body (sha256), the
// counts and the rejected lines; and the README's partial-write example runs as written
// against a real HTTP target.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { checkWrite, Checker } from "linegate";
import { hasCorpus, partialRows, sentBody, NOW } from "../support/corpus.mjs";
import { startSink, withReadmeModule } from "./support/readme.mjs";

const skip = hasCorpus ? false : "../shared/corpus is absent (it sits beside the project root in CI)";
const sha256 = (b) => createHash("sha256").update(b).digest("hex");
const text = (t) => (typeof t === "string" ? t : new TextDecoder().decode(t));

function request(row) {
  const headers = { authorization: "Token t" };
  if (row.request.content_encoding) headers["content-encoding"] = row.request.content_encoding;
  return { endpoint: row.path, query: row.query, headers, now: NOW, acceptPartial: "request" };
}

function assertPartial(row, v, forward) {
  assert.equal(v.action, "partial", `${row.run} ${row.file}: ${v.body}`);
  assert.deepEqual(
    [v.status, v.code, v.line, v.body, v.accepted, v.rejected],
    [400, "invalid", Number(row.line), row.body, Number(row.accepted), Number(row.rejected)],
  );
  assert.equal(v.headers["X-Platform-Error-Code"], "invalid");
  assert.equal(forward.length, Number(row.forwarded_len));
  assert.equal(sha256(forward), row.forwarded_sha256);
  const want = row.request.failures;
  assert.equal(v.rejectedLines.length, want.length);
  v.rejectedLines.forEach((l, i) => {
    assert.equal(l.line, Number(want[i].line));
    assert.equal(l.reason, want[i].reason);
    if (typeof want[i].text === "string") assert.equal(text(l.text), want[i].text);
  });
}

test("every partial row: checkWrite and Checker.forRequest split it exactly", { skip }, () => {
  const rows = partialRows();
  assert.ok(rows.length >= 75);
  for (const row of rows) {
    const body = sentBody(row.request);
    const req = request(row);
    // `request` mode: only with accept_partial=true, else the whole batch's 400.
    assert.equal(checkWrite({ ...req, body }).action, "reject");
    const partialReq = { ...req, query: req.query + "&accept_partial=true" };
    const v = checkWrite({ ...partialReq, body });
    assertPartial(row, v, v.forward);
    for (const size of [1, 13, 4096]) {
      const c = Checker.forRequest(partialReq);
      const parts = [];
      for (let i = 0; i < body.length; i += size) {
        c.push(body.subarray(i, i + size));
        parts.push(c.takeAccepted());
      }
      const s = c.finish();
      parts.push(s.forward);
      assertPartial(row, s, Buffer.concat(parts));
    }
  }
});

test("acceptPartial: R = 0 forwards as today, A = 0 rejects as today, bad values throw", () => {
  const req = { query: "org=o&bucket=b", headers: { authorization: "Token t" }, now: NOW };
  assert.deepEqual(checkWrite({ ...req, body: "m f=1 1\n", acceptPartial: true }), checkWrite({ ...req, body: "m f=1 1\n" }));
  assert.deepEqual(checkWrite({ ...req, body: "bad\n", acceptPartial: "always" }), checkWrite({ ...req, body: "bad\n" }));
  assert.equal(checkWrite({ ...req, body: "m f=1\nbad\n", acceptPartial: "off" }).action, "reject");
  assert.throws(() => checkWrite({ ...req, body: "", acceptPartial: "yes" }), TypeError);
});

test("the README's partial-write example: good lines stored, bad ones kept, the 400 after", async () => {
  const target = await startSink();
  const { seen, url: influx } = target;
  try {
    await withReadmeModule("partial.mjs", async ({ writePartial }) => {
      const kept = [];
      const keep = async (lines) => kept.push(...lines);
      const url = "http://edge/api/v2/write?org=o&bucket=b&precision=s";
      const post = (body, headers = {}) =>
        new Request(url, { method: "POST", headers: { authorization: "Token t", ...headers }, body });
      const r = await writePartial(post("cpu v=1 1\ncpu v=oops 2\ncpu v=3 3\n"), influx, keep);
      assert.equal(r.status, 400);
      assert.equal(
        await r.text(),
        '{"code":"invalid","message":"partial write error (2 accepted): 1 out of 3 lines rejected\\nunable to parse \'cpu v=oops 2\': invalid boolean","line":2}',
      );
      assert.deepEqual(seen, [{ url: "/api/v2/write?org=o&bucket=b&precision=s", encoding: undefined, body: "cpu v=1 1\ncpu v=3 3\n" }]);
      assert.deepEqual(kept, [{ line: 2, reason: "invalid boolean", text: "cpu v=oops 2" }]);
      // A good batch goes on as sent (gzip kept).
      const { gzipSync } = await import("node:zlib");
      const ok = await writePartial(post(gzipSync("cpu v=4 4\n"), { "content-encoding": "gzip" }), influx, keep);
      assert.equal(ok.status, 204);
      assert.equal(seen[1].encoding, "gzip");
    });
  } finally {
    target.close();
  }
});
