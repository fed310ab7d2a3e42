// v1's POST /write through the Worker in workerd, in front of the real backend: the v1
// corpus answered at the edge exactly as InfluxDB answered it, or forwarded byte for byte
// with the backend's answer back unchanged; credentials read as InfluxDB's v1 endpoint
// reads them (u/p, Token user:secret, Basic), EDGE_TOKENS included.

import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { startWorker, startTarget, backendAvailable, send, hasCorpus, hasPkg, CORPUS, SETUP, expectedBody, startWorkerAndTarget, stopAll } from "./helpers.mjs";

const skipPkg = !hasPkg && "pkg/ is not built (npm run build)";
const skipCorpus = skipPkg || (!hasCorpus && "../shared/corpus is absent (a clone outside the workspace): v1 corpus parity skipped");
const TOKEN = { Authorization: `Token ${SETUP.token}` };
const JSON_TYPE = "application/json; charset=utf-8";

function v1Rows() {
  if (!hasCorpus) return [];
  return fs
    .readFileSync(path.join(CORPUS, "v1-expected.jsonl"), "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => {
      const r = JSON.parse(l);
      delete r.points;
      return r;
    });
}

function v1Request(row) {
  const body = fs.readFileSync(path.join(CORPUS, "cases", row.file));
  let q = "db=b";
  if (row.precision !== null && row.precision !== undefined) q += "&precision=" + encodeURIComponent(row.precision);
  const headers = { ...TOKEN, "Content-Type": "text/plain; charset=utf-8", "Content-Length": String(body.length) };
  return { path: "/write?" + q, headers, body };
}

describe("the v1 corpus through /write", { skip: skipCorpus }, () => {
  let target, w;
  before(async () => ({ rec: target, w } = await startWorkerAndTarget()));
  after(() => stopAll(w, target));

  const rows = v1Rows();
  for (const run of [...new Set(rows.map((r) => r.run))]) {
    test(`v1 corpus run ${run}`, async (t) => {
      const problems = [];
      let forwarded = 0;
      for (const row of rows.filter((r) => r.run === run)) {
        const req = v1Request(row);
        const before = target.received.length;
        const res = await send(w.url, { path: req.path, headers: req.headers, body: req.body });
        const where = `${row.file} (${row.run})`;
        if (row.status === 204) {
          forwarded++;
          if (target.received.length !== before + 1) {
            problems.push(`${where}: accepted, but the backend received ${target.received.length - before} requests`);
            continue;
          }
          const r = target.received[before];
          if (!r.body.equals(req.body)) problems.push(`${where}: body changed on the way`);
          if (r.url !== req.path) problems.push(`${where}: forwarded to ${r.url}`);
          if (r.headers.authorization !== req.headers.Authorization) problems.push(`${where}: authorization changed`);
          if (res.status !== r.answer.status || !res.body.equals(r.answer.body)) {
            problems.push(`${where}: backend said ${r.answer.status}, client got ${res.status}`);
          }
          // The real backend stores the batch (or answers storage's 422 where the cases of
          // one bucket disagree on a field's type).
          if (target.backend && ![204, 422].includes(r.answer.status)) {
            problems.push(`${where}: backend answered ${r.answer.status} ${r.answer.body}`);
          }
        } else {
          if (target.received.length !== before) problems.push(`${where}: rejected batch reached the backend`);
          const got = res.body.toString("utf8");
          if (res.status !== row.status) problems.push(`${where}: status ${res.status}, want ${row.status}`);
          else if (got !== expectedBody(row)) problems.push(`${where}: body ${got.slice(0, 200)}\n want ${expectedBody(row).slice(0, 200)}`);
          else if (res.headers["content-type"] !== JSON_TYPE) problems.push(`${where}: content-type`);
          else if (res.headers["x-platform-error-code"] !== JSON.parse(row.body).code) problems.push(`${where}: error code header`);
        }
      }
      t.diagnostic(`${forwarded} forwarded`);
      assert.deepEqual(problems.slice(0, 20), [], `${problems.length} mismatches`);
    });
  }
});

function basic(user, pass) {
  return "Basic " + Buffer.from(`${user}:${pass}`).toString("base64");
}

describe("/write at the edge", { skip: skipPkg }, () => {
  let target, w, guarded;
  before(async () => {
    target = await startTarget();
    w = await startWorker({ BACKEND_URL: target.url });
    guarded = await startWorker({ BACKEND_URL: target.url, EDGE_TOKENS: `${SETUP.token},other` });
  });
  after(async () => {
    await w?.close();
    await guarded?.close();
    await target?.close();
  });

  const body = "m f=1 1700000000\n";
  const post = (worker, p, headers = {}) =>
    send(worker.url, { path: p, headers: { "Content-Length": String(body.length), ...headers }, body });

  test("no credentials: 401 at the edge, before the body; nothing forwarded", async () => {
    const n = target.received.length;
    for (const headers of [{}, { Authorization: "Token  x y" }, { Authorization: "Basic !!" }]) {
      const r = await post(w, "/write?db=b&u=alone", headers);
      assert.equal(r.status, 401);
      assert.equal(r.body.toString(), '{"code":"unauthorized","message":"unauthorized access"}');
      assert.equal(r.headers["x-platform-error-code"], "unauthorized");
    }
    assert.equal(target.received.length, n);
  });

  test("credentials come from u/p, Token user:secret or Basic, and reach the backend unchanged", async () => {
    const skipBackend = !target.backend;
    for (const [p, headers] of [
      [`/write?db=b&u=anyone&p=${SETUP.token}&precision=s`, {}],
      ["/write?db=b&precision=s", { Authorization: `Token someone:${SETUP.token}` }],
      ["/write?db=b&precision=s", { Authorization: basic("anyone", SETUP.token) }],
    ]) {
      const n = target.received.length;
      const r = await post(w, p, headers);
      assert.equal(target.received.length, n + 1);
      const got = target.received[n];
      assert.equal(got.url, p);
      assert.equal(got.headers.authorization, headers.Authorization);
      if (!skipBackend) assert.equal(r.status, 204, r.body.toString());
    }
  });

  test("db is checked at the edge (400 missing db); no mapping is the backend's 404", async () => {
    const n = target.received.length;
    const r = await post(w, "/write?rp=x", TOKEN);
    assert.equal(r.status, 400);
    assert.equal(r.body.toString(), '{"code":"invalid","message":"missing db"}');
    assert.equal(target.received.length, n);
    if (target.backend) {
      const r2 = await post(w, "/write?db=nope", TOKEN);
      assert.equal(r2.status, 404);
      assert.equal(r2.body.toString(), '{"code":"not found","message":"no dbrp mapping found"}');
    }
  });

  test("a parse error is answered at the edge with its line, at any precision", async () => {
    const bad = "m f=1\nm f=\n";
    const r = await send(w.url, { path: "/write?db=b&precision=h", headers: TOKEN, body: bad });
    assert.equal(r.status, 400);
    assert.match(r.body.toString(), /^\{"code":"invalid","message":"unable to parse 'm f=': missing field value","line":2\}$/);
  });

  test("EDGE_TOKENS: the v1 secret must be one of them, wherever it is sent", async () => {
    const n = target.received.length;
    for (const [p, headers] of [
      ["/write?db=b&u=x&p=wrong", {}],
      ["/write?db=b", { Authorization: "Token u:wrong" }],
      ["/write?db=b", { Authorization: basic("u", "wrong") }],
    ]) {
      const r = await post(guarded, p, headers);
      assert.equal(r.status, 401, p);
    }
    assert.equal(target.received.length, n);
    for (const [p, headers] of [
      ["/write?db=b&u=x&p=other", {}],
      ["/write?db=b", { Authorization: `Token u:${SETUP.token}` }],
      ["/write?db=b", { Authorization: basic("u", "other") }],
    ]) {
      await post(guarded, p, headers);
    }
    assert.equal(target.received.length, n + 3);
  });
});

test("the real backend is here in CI", { skip: !process.env.CI }, () => {
  assert.ok(backendAvailable());
});
