// wrangler itself: `wrangler deploy --dry-run` bundles the Worker (size reported), and
// `wrangler dev` serves it on 127.0.0.1 in front of a backend given by --var BACKEND_URL.

import { stopGroup } from "../support/process.mjs";
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawn } from "node:child_process";
import {
  ROOT,
  hasPkg,
  startTarget,
  freePort,
  send,
  SETUP,
} from "./helpers.mjs";

const skip = !hasPkg && "pkg/ is not built (npm run build)";
const WRANGLER = path.join(ROOT, "node_modules/.bin/wrangler");
const ENV = { ...process.env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1", FORCE_COLOR: "0" };

function run(args, { timeout = 120_000 } = {}) {
  return new Promise((resolve, reject) => {
    const p = spawn(WRANGLER, args, { cwd: ROOT, env: ENV, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    p.stdout.on("data", (c) => (out += c));
    p.stderr.on("data", (c) => (out += c));
    const timer = setTimeout(() => p.kill("SIGKILL"), timeout);
    p.on("error", reject);
    p.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

test("wrangler deploy --dry-run bundles the Worker with the wasm module", { skip }, async (t) => {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), "linegate-dry-run-"));
  try {
    const { code, out } = await run(["deploy", "--dry-run", "--outdir", outdir]);
    assert.equal(code, 0, out);
    const m = /Total Upload: ([\d.]+) KiB \/ gzip: ([\d.]+) KiB/.exec(out);
    assert.ok(m, out);
    t.diagnostic(`bundle: ${m[1]} KiB, ${m[2]} KiB gzipped`);
    // Workers' free plan takes 3 MiB gzipped, the paid plan 10 MiB.
    assert.ok(Number(m[2]) < 3 * 1024, `${m[2]} KiB gzipped`);
    const files = fs.readdirSync(outdir);
    assert.ok(files.some((f) => f.endsWith(".wasm")), files.join(" "));
    const js = fs.readFileSync(path.join(outdir, "index.js"), "utf8");
    assert.ok(js.includes("checkWrite"));
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
});

test("wrangler dev serves the Worker on 127.0.0.1 in front of the backend", { skip, timeout: 120_000 }, async (t) => {
  const tap = await startTarget();
  const port = await freePort();
  const inspector = await freePort();
  // Its own session and process group, so that wrangler and its workerd stop together.
  const dev = spawn(
    WRANGLER,
    ["dev", "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(inspector), "--var", `BACKEND_URL:${tap.url}`],
    { cwd: ROOT, env: ENV, detached: true, stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "";
  dev.stdout.on("data", (c) => (out += c));
  dev.stderr.on("data", (c) => (out += c));
  const base = `http://127.0.0.1:${port}`;
  try {
    const deadline = Date.now() + 90_000;
    for (;;) {
      assert.equal(dev.exitCode, null, `wrangler dev exited: ${out}`);
      try {
        if ((await send(base, { method: "GET", path: "/ping" })).status === 204) break;
      } catch {}
      assert.ok(Date.now() < deadline, `wrangler dev did not start: ${out}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    const auth = { Authorization: `Token ${SETUP.token}` };
    const good = Buffer.from("cpu,host=a usage=0.5 1700000000\n");
    // /ping was the backend's (PROBES=backend, the default): the readiness probes reached it.
    assert.ok(tap.received.length >= 1 && tap.received.every((r) => r.url === "/ping"));
    const n = tap.received.length;
    const ok = await send(base, { path: "/api/v2/write?org=o&bucket=b&precision=s", headers: auth, body: good });
    assert.equal(ok.status, 204, ok.body.toString());
    assert.equal(tap.received.length, n + 1);
    assert.ok(tap.received[n].body.equals(good));
    assert.equal(tap.received[n].answer.status, 204, "the backend's own answer");
    const bad = await send(base, {
      path: "/api/v2/write?org=o&bucket=b&precision=s",
      headers: auth,
      body: "cpu,host=a usage=0.5 1700000000\ncpu usage=oops\n",
    });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.toString(), `{"code":"invalid","message":"unable to parse 'cpu usage=oops': invalid boolean","line":2}`);
    assert.equal(tap.received.length, n + 1, "the rejected batch did not reach the backend");
    t.diagnostic(tap.backend ? "backend: linegate-backend" : "backend: recorder (linegate-backend not built)");
  } finally {
    await stopGroup(dev);
    await tap.close();
  }
});
