// The rest of the surface an InfluxDB client expects from the Worker: /ping, /health, 404,
// 405, CORS, edge authentication, and the one structured log line per request.

import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { startWorker, startTarget, send, hasPkg, SETUP, ray } from "./helpers.mjs";

const skip = !hasPkg && "pkg/ is not built (npm run build)";
const WRITE = "/api/v2/write?org=o&bucket=b&precision=s";
const TOKEN = { Authorization: `Token ${SETUP.token}` };
const JSON_TYPE = "application/json; charset=utf-8";

describe("default configuration", { skip }, () => {
  // wOff: with pass-through off (by default, what the edge does not check goes to the
  // backend: tests/worker/passthrough.test.mjs). wEdge: PROBES=edge, the edge's own /ping
  // and /health (by default they are the backend's, issue 24: tests/worker/probes.test.mjs).
  let rec, w, wOff, wEdge;
  before(async () => {
    rec = await startTarget();
    w = await startWorker({ BACKEND_URL: rec.url });
    wOff = await startWorker({ BACKEND_URL: rec.url, PASS_THROUGH: "off" });
    wEdge = await startWorker({ BACKEND_URL: rec.url, PROBES: "edge" });
  });
  after(async () => {
    await w?.close();
    await wOff?.close();
    await wEdge?.close();
    await rec?.close();
  });

  test("PROBES=edge: /ping answers 204 with InfluxDB's build headers, GET and HEAD", async () => {
    for (const method of ["GET", "HEAD"]) {
      const r = await send(wEdge.url, { method, path: "/ping" });
      assert.equal(r.status, 204);
      assert.equal(r.headers["x-influxdb-build"], "OSS");
      assert.equal(r.headers["x-influxdb-version"], "v2.9.1");
      assert.equal(r.body.length, 0);
    }
  });

  test("PROBES=edge: /health answers like InfluxDB's health handler", async () => {
    const r = await send(wEdge.url, { method: "GET", path: "/health" });
    assert.equal(r.status, 200);
    assert.equal(r.headers["content-type"], JSON_TYPE);
    const text = r.body.toString();
    assert.ok(text.endsWith("}\n"), "trailing newline like Go's Fprintln");
    const h = JSON.parse(text);
    assert.equal(h.name, "influxdb");
    assert.equal(h.status, "pass");
    assert.equal(h.message, "ready for queries and writes");
    assert.deepEqual(h.checks, []);
    assert.equal(h.version, "v2.9.1");
    const head = await send(wEdge.url, { method: "HEAD", path: "/health" });
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
  });

  test("by default /ping and /health are the backend's own answers", async () => {
    const n = rec.received.length;
    const ping = await send(w.url, { method: "GET", path: "/ping" });
    assert.equal(ping.status, 204);
    assert.equal(rec.received.length, n + 1);
    assert.equal(rec.received.at(-1).url, "/ping");
    const got = rec.received.at(-1).answer.headers;
    assert.equal(ping.headers["x-influxdb-version"], got["x-influxdb-version"]);
    const health = await send(w.url, { method: "GET", path: "/health" });
    assert.equal(rec.received.at(-1).url, "/health");
    assert.equal(health.status, rec.received.at(-1).answer.status);
    assert.ok(health.body.equals(rec.received.at(-1).answer.body));
  });

  test("PASS_THROUGH off: other paths get InfluxDB's 404, and nothing is forwarded", async () => {
    const n = rec.received.length;
    for (const [method, p] of [
      ["GET", "/"],
      ["POST", "/api/v2/query?org=o"],
      ["POST", "/api/v2/write/"],
      ["GET", "/api/v2/writes"],
    ]) {
      const r = await send(wOff.url, { method, path: p, headers: TOKEN, body: method === "POST" ? "m f=1" : undefined });
      assert.equal(r.status, 404, `${method} ${p}`);
      assert.equal(r.headers["x-platform-error-code"], "not found");
      assert.equal(r.headers["content-type"], JSON_TYPE);
      assert.deepEqual(JSON.parse(r.body.toString()), { code: "not found", message: "path not found" });
    }
    assert.equal(rec.received.length, n);
  });

  test("PASS_THROUGH off: other methods on the write path get 405 with Allow: POST", async () => {
    for (const method of ["GET", "PUT", "DELETE", "PATCH", "OPTIONS"]) {
      const r = await send(wOff.url, { method, path: WRITE, headers: { ...TOKEN, Origin: "https://app.example" } });
      assert.equal(r.status, 405, method);
      assert.equal(r.headers.allow, "POST");
      assert.equal(r.headers["x-platform-error-code"], "method not allowed");
      assert.equal(r.body.toString(), '{"code":"method not allowed","message":"allow: POST"}');
      assert.equal(r.headers["access-control-allow-origin"], undefined, "CORS is off by default");
    }
    assert.equal((await send(wOff.url, { method: "POST", path: "/ping" })).status, 405);
  });

  test("a write without Authorization is 401 before anything else, not forwarded", async () => {
    const n = rec.received.length;
    // Bad precision and a bad body too: the missing token is InfluxDB's first check.
    const r = await send(w.url, { path: "/api/v2/write?precision=h", body: "bad" });
    assert.equal(r.status, 401);
    assert.equal(r.body.toString(), '{"code":"unauthorized","message":"unauthorized access"}');
    assert.equal(r.headers["x-platform-error-code"], "unauthorized");
    assert.equal(rec.received.length, n);
  });

  test("with Accept-Encoding the platform may gzip an answer; it decodes to the same bytes", async () => {
    const { gunzipSync } = await import("node:zlib");
    const plain = await send(w.url, { path: WRITE, headers: TOKEN, body: "bad\n" });
    const r = await send(w.url, { path: WRITE, headers: { ...TOKEN, "Accept-Encoding": "gzip" }, body: "bad\n" });
    assert.equal(r.status, 400);
    const body = r.headers["content-encoding"] === "gzip" ? gunzipSync(r.body) : r.body;
    assert.equal(body.toString(), plain.body.toString());
  });

  test("one structured log line per request: status, bytes, points, duration, first error line; never token, query or body", async () => {
    const secretBody = "secret_measurement,host=h1 field_marker=1 1\nsecret_bad_line\n";
    const ids = [ray(), ray(), ray()];
    await send(w.url, { path: WRITE + "&secretq=1", headers: { ...TOKEN, "CF-Ray": ids[0] }, body: secretBody });
    await send(w.url, { path: WRITE, headers: { ...TOKEN, "CF-Ray": ids[1] }, body: "secret_measurement,host=h1 field_marker=1 1\n" });
    await send(w.url, { method: "GET", path: "/nope", headers: { "CF-Ray": ids[2] } });
    const [rej, fwd, nf] = [await w.entry(ids[0]), await w.entry(ids[1]), await w.entry(ids[2])];
    for (const id of ids) assert.equal(w.entries().filter((e) => e.ray === id).length, 1, "exactly one line");
    assert.equal(rej.status, 400);
    assert.equal(rej.action, "reject");
    assert.equal(rej.code, "invalid");
    assert.equal(rej.line, 2);
    assert.equal(rej.bytes, Buffer.byteLength(secretBody));
    assert.equal(typeof rej.ms, "number");
    assert.equal(fwd.status, 204);
    assert.equal(fwd.action, "backend");
    assert.equal(fwd.points, 1);
    assert.equal(fwd.lines, 1);
    assert.equal(nf.status, 404);
    const all = w.logs.join("\n");
    for (const secret of [SETUP.token, "secret_measurement", "secret_bad_line", "field_marker", "secretq"]) {
      assert.ok(!all.includes(secret), `the log shows ${secret}`);
    }
  });
});

describe("CORS_ORIGINS", { skip }, () => {
  let rec, w, star;
  const ORIGIN = "https://app.example";
  before(async () => {
    rec = await startTarget();
    w = await startWorker({ BACKEND_URL: rec.url, CORS_ORIGINS: `https://other.example, ${ORIGIN}` });
    star = await startWorker({ BACKEND_URL: rec.url, CORS_ORIGINS: "*" });
  });
  after(async () => {
    await w?.close();
    await star?.close();
    await rec?.close();
  });

  test("a preflight from a listed origin is answered at the edge", async () => {
    const n = rec.received.length;
    const r = await send(w.url, {
      method: "OPTIONS",
      path: WRITE,
      headers: {
        Origin: ORIGIN,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-encoding, content-type",
      },
    });
    assert.equal(r.status, 204);
    assert.equal(r.headers["access-control-allow-origin"], ORIGIN);
    assert.equal(r.headers["access-control-allow-methods"], "POST, OPTIONS");
    const allowed = r.headers["access-control-allow-headers"].toLowerCase();
    for (const h of ["authorization", "content-encoding", "content-type", "zap-trace-span"]) {
      assert.ok(allowed.includes(h), h);
    }
    assert.match(r.headers.vary, /Origin/);
    assert.equal(rec.received.length, n);
  });

  test("an origin not listed gets no CORS headers, and its preflight is a 405", async () => {
    const r = await send(w.url, {
      method: "OPTIONS",
      path: WRITE,
      headers: { Origin: "https://evil.example", "Access-Control-Request-Method": "POST" },
    });
    assert.equal(r.status, 405);
    assert.equal(r.headers.allow, "POST, OPTIONS");
    assert.equal(r.headers["access-control-allow-origin"], undefined);
    const p = await send(w.url, { path: WRITE, headers: { ...TOKEN, Origin: "https://evil.example" }, body: "bad" });
    assert.equal(p.status, 400);
    assert.equal(p.headers["access-control-allow-origin"], undefined);
  });

  test("answers to a listed origin carry CORS headers: edge rejections and backend answers", async () => {
    const rej = await send(w.url, { path: WRITE, headers: { ...TOKEN, Origin: ORIGIN }, body: "bad" });
    assert.equal(rej.status, 400);
    assert.equal(rej.headers["access-control-allow-origin"], ORIGIN);
    assert.match(rej.headers["access-control-expose-headers"], /X-Platform-Error-Code/);
    assert.match(rej.headers["access-control-expose-headers"], /Retry-After/);
    const ok = await send(w.url, { path: WRITE, headers: { ...TOKEN, Origin: ORIGIN }, body: "m f=1 1" });
    assert.equal(ok.status, 204);
    for (const [k, v] of Object.entries(rec.received.at(-1).answer.headers)) assert.equal(ok.headers[k], v, k);
    assert.equal(ok.headers["access-control-allow-origin"], ORIGIN);
    const ping = await send(w.url, { method: "GET", path: "/ping", headers: { Origin: ORIGIN } });
    assert.equal(ping.headers["access-control-allow-origin"], ORIGIN);
  });

  test('"*" allows any origin (echoed back)', async () => {
    const r = await send(star.url, {
      method: "OPTIONS",
      path: "/health",
      headers: { Origin: "https://any.example", "Access-Control-Request-Method": "GET" },
    });
    assert.equal(r.status, 204);
    assert.equal(r.headers["access-control-allow-origin"], "https://any.example");
    assert.equal(r.headers["access-control-allow-methods"], "GET, HEAD, OPTIONS");
  });
});

describe("EDGE_TOKENS", { skip }, () => {
  let rec, w;
  before(async () => {
    rec = await startTarget();
    w = await startWorker({ BACKEND_URL: rec.url, EDGE_TOKENS: `${SETUP.token}, beta-token` });
  });
  after(async () => {
    await w?.close();
    await rec?.close();
  });

  test("tokens not on the list get 401 unauthorized access before the body is read", async () => {
    const n = rec.received.length;
    const t = SETUP.token;
    for (const auth of [undefined, "Token wrong", `Token ${t.slice(0, -1)}`, `Token ${t}-x`, t, "Basic YTpi", "Token "]) {
      const headers = auth === undefined ? {} : { Authorization: auth };
      const r = await send(w.url, { path: WRITE, headers, body: "m f=1 1" });
      assert.equal(r.status, 401, String(auth));
      assert.equal(r.body.toString(), '{"code":"unauthorized","message":"unauthorized access"}');
      assert.equal(r.headers["x-platform-error-code"], "unauthorized");
    }
    assert.equal(rec.received.length, n);
    const id = ray();
    await send(w.url, { path: WRITE, headers: { Authorization: `Token ${SETUP.token.slice(0, -1)}`, "CF-Ray": id }, body: "m f=1 1" });
    assert.equal((await w.entry(id)).status, 401);
    assert.ok(!w.logs.join("\n").includes(SETUP.token.slice(0, -1)), "no token in the log");
  });

  test("listed tokens pass (Token or Bearer) and the header is forwarded unchanged", async () => {
    const n = rec.received.length;
    for (const auth of [`Token ${SETUP.token}`, `Bearer ${SETUP.token}`, "Token beta-token"]) {
      const r = await send(w.url, { path: WRITE, headers: { Authorization: auth }, body: "m f=1 1" });
      const got = rec.received.at(-1);
      assert.equal(got.headers.authorization, auth);
      // Past the edge, the token's validity is the backend's to judge.
      assert.equal(r.status, got.answer.status, auth);
      assert.ok(r.body.equals(got.answer.body));
    }
    assert.equal(rec.received.length, n + 3);
    assert.equal(rec.received.at(-2).answer.status, 204);
    // A listed token does not bypass the check.
    const bad = await send(w.url, { path: WRITE, headers: { Authorization: `Token ${SETUP.token}` }, body: "bad" });
    assert.equal(bad.status, 400);
    assert.equal(rec.received.length, n + 3);
  });

  test("/ping and /health need no token", async () => {
    assert.equal((await send(w.url, { method: "GET", path: "/ping" })).status, 204);
    assert.equal((await send(w.url, { method: "GET", path: "/health" })).status, 200);
  });
});
