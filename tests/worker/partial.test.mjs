// Partial writes through the Worker (spec Part D.1): every row of partial-expected.jsonl sent
// to the Worker in workerd (PARTIAL_WRITES=request) in front of the real linegate-backend
// behind a recording tap: the tap receives exactly the accepted lines (sha256), plain, at the
// same path and query; the client gets the exact partial 400; the rejected lines are kept in
// the destination's spool object and the admin endpoint lists, downloads and drops them.
// Then the same through SPOOL=always, and PARTIAL_WRITES without SPOOL_DO refused.

import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { hasPkg, hasCorpus, send, startTarget, startWorker, stopAll, ray, SETUP } from "./helpers.mjs";
import { partialRows, sentBody } from "../support/corpus.mjs";

const skip = (!hasPkg && "pkg/ is not built (npm run build)") || (!hasCorpus && "../shared/corpus is absent (it sits beside the project root in CI)");
const ADMIN = "partial-admin-token";
const DO = { durableObjects: { SPOOL_DO: { className: "Spool", useSQLite: true } } };
const sha256 = (b) => createHash("sha256").update(b).digest("hex");

// Each row into its own bucket (as the backend's corpus tests do): rows of one bucket would
// rightly meet storage's 422 for field types that differ between them.
function rowQuery(row, i) {
  return row.query.replace(/^(org=o&bucket=|db=)b/, `$1case${i}`);
}

async function createBucket(target, name) {
  if (!target.backend) return;
  const r = await send(target.backend.url, {
    path: "/api/v2/buckets",
    headers: { Authorization: `Token ${SETUP.token}`, "Content-Type": "application/json" },
    body: JSON.stringify({ org: SETUP.org, name }),
  });
  assert.equal(r.status, 201, r.body.toString());
}

function post(w, row, query, extra = "&accept_partial=true") {
  const headers = { Authorization: `Token ${SETUP.token}`, "CF-Ray": ray() };
  if (row.request.content_encoding) headers["Content-Encoding"] = row.request.content_encoding;
  return send(w.url, { path: `${row.path}?${query}${extra}`, headers, body: Buffer.from(sentBody(row.request)) });
}

const admin = (w, path, method = "GET") => send(w.url, { method, path, headers: { Authorization: `Bearer ${ADMIN}` } });

describe("partial writes through the Worker", { skip }, () => {
  let target, w, rows;
  before(async () => {
    rows = partialRows();
    target = await startTarget();
    w = await startWorker(
      { BACKEND_URL: target.url, PARTIAL_WRITES: "request", SPOOL_ADMIN_TOKEN: ADMIN },
      { miniflare: DO },
    );
  });
  after(() => stopAll(w, target));

  test("every partial row: the accepted lines forwarded exactly, the partial 400 answered", async () => {
    let rejected = 0;
    const texts = [];
    for (const [i, row] of rows.entries()) {
      const query = rowQuery(row, i);
      await createBucket(target, `case${i}`);
      // Without accept_partial=true, `request` mode answers the whole batch's 400.
      const whole = await post(w, row, query, "");
      assert.equal(whole.status, 400);
      assert.ok(!whole.body.toString().includes("partial write error"));
      const before = target.received.length;
      const r = await post(w, row, query);
      const name = `${row.path} ${row.run} ${row.file}`;
      assert.equal(r.status, 400, name);
      assert.equal(r.body.toString(), row.body, name);
      assert.equal(r.headers["x-platform-error-code"], "invalid");
      assert.equal(target.received.length, before + 1, `${name}: one forward`);
      const got = target.received.at(-1);
      assert.equal(got.url, `${row.path}?${query}&accept_partial=true`);
      assert.equal(got.headers["content-encoding"], undefined);
      assert.equal(got.body.length, Number(row.forwarded_len), name);
      assert.equal(sha256(got.body), row.forwarded_sha256, name);
      if (target.backend) assert.equal(got.answer.status, 204, `${name}: ${got.answer.body}`);
      rejected += Number(row.rejected);
      for (const f of row.request.failures) texts.push(f.text);
    }
    // The rejected lines, kept per destination (v2's org/bucket and v1's db).
    const list = await admin(w, "/spool/rejected");
    assert.equal(list.status, 200, list.body.toString());
    const dests = JSON.parse(list.body).destinations;
    const kept = dests.flatMap((d) => d.rejected);
    assert.equal(kept.length, rejected);
    assert.ok(kept.every((l) => typeof l.reason === "string" && l.line >= 1 && !l.destination.includes("p=")));
    const lp = await admin(w, "/spool/rejected.lp");
    assert.equal(lp.body.toString().split("\n").length - 1, rejected);
    const stats = JSON.parse((await admin(w, "/spool")).body).destinations;
    assert.equal(stats.reduce((n, d) => n + d.rejected, 0), rejected);
    const one = dests.find((d) => d.rejected.length > 0);
    const dropped = JSON.parse((await admin(w, `/spool/rejected/drop?dest=${one.id}`, "POST")).body).dropped;
    assert.equal(dropped, one.rejected.length);
    const after = JSON.parse((await admin(w, "/spool/rejected")).body).destinations.flatMap((d) => d.rejected);
    assert.equal(after.length, rejected - dropped);
    assert.equal((await send(w.url, { method: "GET", path: "/spool/rejected" })).status, 401);
    // One log line per write, with the counts.
    const e = w.entries().find((x) => x.action === "partial");
    assert.ok(e.accepted >= 1 && e.rejected >= 1 && e.quarantined >= 1, JSON.stringify(e));
  });
});

describe("partial writes under SPOOL=always, and the binding they need", { skip }, () => {
  test("the accepted lines are spooled then delivered; the 400 comes once they are held", async () => {
    const target = await startTarget();
    const w = await startWorker(
      { BACKEND_URL: target.url, PARTIAL_WRITES: "always", SPOOL: "always", SPOOL_OPEN: "on", SPOOL_KEY: "partial test key", SPOOL_ADMIN_TOKEN: ADMIN },
      { miniflare: DO },
    );
    try {
      const row = partialRows().find((r) => r.path === "/api/v2/write" && Number(r.accepted) > 10);
      const r = await post(w, row, row.query, "");
      assert.equal(r.status, 400);
      assert.equal(r.body.toString(), row.body);
      const deadline = Date.now() + 15_000;
      while (target.received.length === 0 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 25));
      assert.equal(target.received.length, 1, "delivered from the spool");
      assert.equal(sha256(target.received[0].body), row.forwarded_sha256);
      const kept = JSON.parse((await admin(w, "/spool/rejected")).body).destinations.flatMap((d) => d.rejected);
      assert.equal(kept.length, Number(row.rejected));
    } finally {
      await stopAll(w, target);
    }
  });

  test("PARTIAL_WRITES without the SPOOL_DO binding is a configuration error", async () => {
    const target = await startTarget();
    const w = await startWorker({ BACKEND_URL: target.url, PARTIAL_WRITES: "always" });
    try {
      const id = ray();
      const r = await send(w.url, {
        path: "/api/v2/write?org=o&bucket=b",
        headers: { Authorization: `Token ${SETUP.token}`, "CF-Ray": id },
        body: "m f=1\nbad\n",
      });
      assert.equal(r.status, 500);
      assert.match((await w.entry(id)).error, /PARTIAL_WRITES needs the SPOOL_DO/);
      assert.equal(target.received.length, 0);
    } finally {
      await stopAll(w, target);
    }
  });
});
