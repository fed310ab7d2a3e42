// v1's `/write` through the built package: the v1 corpus through checkWrite (endpoint as an
// option or as the URL's path; credentials from u/p, `Token user:secret` and Basic), through
// validate and parse (the points InfluxDB stored, and the warning for precision u, m and h),
// and `credentials` as InfluxDB's v1 endpoint reads them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { checkWrite, validate, parse, credentials, credentialsCheck, precisions, LinegateError } from "linegate";
import { NOW, haveCorpus, loadCases, wantPoint, gotPoint } from "./support/corpus.mjs";

const skip = haveCorpus() ? false : "../shared/corpus is absent (it sits beside the project root in CI)";
const cases = skip ? [] : loadCases({ v1: true });

function check(c, status, body) {
  assert.equal(status, c.status, `status; body ${body}`);
  assert.equal(body, c.want);
}

// Each case varies how the endpoint and the credentials are given.
function request(c, i) {
  const req = { body: c.body, now: NOW, headers: {} };
  let query = c.query;
  switch (i % 3) {
    case 0:
      req.headers.Authorization = "Token t";
      break;
    case 1:
      query += "&u=someone&p=t";
      break;
    default:
      req.headers.Authorization = "Basic " + Buffer.from("someone:t").toString("base64");
  }
  if (i % 2 === 0) {
    req.endpoint = "/write";
    req.query = query;
  } else {
    req.url = `https://edge.example/write?${query}`;
  }
  return req;
}

test("the v1 corpus through checkWrite at /write", { skip }, () => {
  assert.ok(cases.length > 5000, `only ${cases.length} v1 cases`);
  const failures = [];
  cases.forEach((c, i) => {
    try {
      const v = checkWrite(request(c, i));
      if (v.action === "forward") check(c, 204, "");
      else check(c, v.status, v.body);
    } catch (e) {
      failures.push(`[${c.run}] ${c.file}: ${e.message.slice(0, 500)}`);
    }
  });
  assert.deepEqual(failures.slice(0, 20), [], `${failures.length} of ${cases.length} cases differ`);
});

test("the v1 corpus through validate and parse with endpoint /write", { skip }, () => {
  const failures = [];
  let points = 0;
  let warned = 0;
  for (const c of cases) {
    const opts = { endpoint: "/write", precision: c.precision, now: NOW };
    try {
      const v = validate(c.body, opts);
      check(c, v.status, v.body);
      // OSS reads given timestamps as nanoseconds at u, m and h: the warning says so.
      const trap = ["u", "m", "h"].includes(c.precision);
      const timed = (c.row.points ?? []).length > 0 && v.status === 204 && /\s-?\d+\s*$/m.test(new TextDecoder().decode(c.body));
      const w = v.warnings.filter((x) => x.kind === "v1-precision");
      if (!trap) assert.equal(w.length, 0, "no v1-precision warning");
      if (w.length > 0) {
        warned++;
        assert.match(w[0].message, new RegExp(`^precision=${c.precision} on /write: InfluxDB reads timestamp -?\\d+ as nanoseconds`));
      } else if (trap && timed) {
        // Lines with a timestamp read as ns must be warned about; the corpus decides which
        // lines had one: a point whose time differs from the truncated "now".
        const now = c.row.points.some((p) => p.time > 1600000000000000000n);
        if (!now) assert.fail("a timestamp read as nanoseconds was not warned about");
      }
      let got;
      try {
        got = parse(c.body, opts);
      } catch (e) {
        if (!(e instanceof LinegateError)) throw e;
        assert.notEqual(c.status, 204, e.message);
        check(c, e.status, e.body);
        continue;
      }
      const want = (c.row.points ?? []).map(wantPoint);
      assert.deepStrictEqual(got.map(gotPoint), want);
      points += want.length;
    } catch (e) {
      failures.push(`[${c.run}] ${c.file}: ${e.message.slice(0, 800)}`);
    }
  }
  assert.deepEqual(failures.slice(0, 20), [], `${failures.length} of ${cases.length} cases differ`);
  assert.ok(points > 2000, `only ${points} points compared`);
  assert.ok(warned > 100, `only ${warned} v1-precision warnings`);
});

test("the same batch at the two endpoints: v2 rejects precision h, v1 reads it as ns", () => {
  const body = "cpu v=1 1700000000\n";
  const v2 = checkWrite({ query: "org=o&bucket=b&precision=h", headers: { Authorization: "Token t" }, body });
  assert.equal(v2.action, "reject");
  assert.equal(v2.status, 400);
  const v1 = checkWrite({ endpoint: "/write", query: "db=b&precision=h", headers: { Authorization: "Token t" }, body });
  assert.deepEqual(v1, { action: "forward", points: 1, lines: 1 });
  const [p] = parse(body, { endpoint: "/write", precision: "h" });
  assert.equal(p.time, 1700000000n);
  const w = validate(body, { endpoint: "/write", precision: "h" }).warnings.filter((x) => x.kind === "v1-precision");
  assert.equal(w.length, 1);
  assert.equal(w[0].kind, "v1-precision");
  assert.equal(w[0].line, 1);
  assert.equal(validate(body, { precision: "s" }).warnings.length, 0);
  assert.equal(validate(body, { precision: "h" }).warnings.filter((x) => x.kind === "v1-precision").length, 0);
});

test("/write's own answers at the edge: 401 without credentials, 400 missing db", () => {
  const body = "m f=1\n";
  const none = checkWrite({ endpoint: "/write", query: "db=b&u=x", body });
  assert.equal(none.status, 401);
  assert.equal(none.body, '{"code":"unauthorized","message":"unauthorized access"}');
  const noDb = checkWrite({ url: "/write?u=x&p=y", body });
  assert.equal(noDb.status, 400);
  assert.equal(noDb.body, '{"code":"invalid","message":"missing db"}');
  // The same request at the v2 endpoint is v2's.
  assert.equal(checkWrite({ url: "/api/v2/write?u=x&p=y", body }).status, 401);
  assert.throws(() => checkWrite({ endpoint: "/query", body }), TypeError);
  assert.throws(() => validate(body, { endpoint: "/api/v1/write" }), TypeError);
});

test("credentials as each endpoint reads them", () => {
  const c = (req) => credentials(req);
  assert.deepEqual(c({ endpoint: "/write", query: "u=a&p=b", headers: { Authorization: "Token t" } }), { user: "a", secret: "b" });
  assert.deepEqual(c({ endpoint: "/write", query: "u=a", headers: { Authorization: "Token me:t" } }), { user: null, secret: "t" });
  assert.deepEqual(c({ url: "/write?db=x", headers: { Authorization: "Basic " + btoa("al:pw") } }), { user: "al", secret: "pw" });
  assert.equal(c({ endpoint: "/write", headers: { Authorization: "Token a b" } }), null);
  assert.equal(c({ endpoint: "/write", query: "p=only" }), null);
  assert.deepEqual(c({ query: "u=a&p=b", headers: { Authorization: "Bearer tok" } }), { user: null, secret: "tok" });
  assert.equal(c({ query: "u=a&p=b" }), null);
  // A URL of any path: read as InfluxDB reads credentials there (v1's rule on /write and
  // /query only), so a u/p in another path's query is nobody's credential.
  assert.deepEqual(c({ url: "http://h/query?u=a&p=b", headers: { Authorization: "Token t" } }), { user: "a", secret: "b" });
  assert.deepEqual(c({ url: "http://h/api/v2/orgs?u=a&p=b", headers: { Authorization: "Token t" } }), { user: null, secret: "t" });
  assert.equal(c({ url: "http://h/metrics?u=a&p=b" }), null);
  assert.equal(c({ url: "http://h/api/v2/orgs", headers: { Authorization: "Token  t" } }).secret, " t");
});

test("credentialsCheck: step 1 before the body, as core decides it", () => {
  const v2 = (authorization) => credentialsCheck({ endpoint: "/api/v2/write", query: "org=o&bucket=b", headers: { authorization } });
  for (const blank of [undefined, "", " ", "\t \t"]) {
    const r = v2(blank);
    assert.equal(r.status, 401, JSON.stringify(blank));
    assert.equal(r.body, '{"code":"unauthorized","message":"unauthorized access"}');
  }
  // A present value is the server's to judge, even one no token can be read from.
  assert.equal(v2("Token t"), null);
  assert.equal(v2("Basic eA=="), null);
  assert.equal(credentialsCheck({ url: "/write?db=d" }).status, 401);
  assert.equal(credentialsCheck({ url: "/write?db=d", upstream: "influxdb1" }), null);
  assert.equal(credentialsCheck({ url: "/write?db=d&u=a&p=b" }), null);
});

test("precisions: each endpoint's values and how it reads them, from core", () => {
  assert.deepEqual(precisions("/api/v2/write").map((p) => p.value), ["ns", "us", "ms", "s"]);
  assert.deepEqual(precisions(), precisions("/api/v2/write"));
  const v1 = precisions("/write");
  assert.deepEqual(v1.map((p) => p.value), ["n", "u", "us", "ms", "s", "m", "h"]);
  assert.deepEqual(v1.filter((p) => p.ignoresUnit).map((p) => p.value), ["u", "m", "h"]);
  assert.deepEqual(v1.find((p) => p.value === "ms"), { value: "ms", unit: "ms", ignoresUnit: false });
  assert.deepEqual(v1.find((p) => p.value === "h"), { value: "h", unit: "ns", ignoresUnit: true });
  assert.throws(() => precisions("/query"), TypeError);
});
