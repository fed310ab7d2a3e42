// Test harness for the Worker: runs worker/ in workerd through Miniflare (from npm), with the
// backend it fronts started here on 127.0.0.1 and stopped after.

import http from "node:http";
import { sentBody, corpusQuery } from "../support/corpus.mjs";
import fs from "node:fs";
import path from "node:path";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Miniflare } from "miniflare";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export { SHARED, CORPUS, hasCorpus } from "../support/corpus.mjs";
export const hasPkg = fs.existsSync(path.join(ROOT, "pkg/package.json"));

// The compatibility date of wrangler.toml, so tests run what `wrangler dev` runs.
export const COMPAT_DATE = /^compatibility_date\s*=\s*"([^"]+)"/m.exec(
  fs.readFileSync(path.join(ROOT, "wrangler.toml"), "utf8"),
)[1];

/**
 * Starts the Worker in workerd. `vars` are its bindings (BACKEND_URL, limits, …); every
 * line the Worker logs is collected in `logs` (parsed when it is JSON). `root`: another
 * checkout's Worker (a benchmark's before).
 */
export async function startWorker(vars, { script = "worker/index.js", miniflare = {}, root = ROOT } = {}) {
  const logs = [];
  const collect = (stream) => {
    let rest = "";
    stream.on("data", (chunk) => {
      rest += chunk.toString("utf8");
      let i;
      while ((i = rest.indexOf("\n")) >= 0) {
        const line = rest.slice(0, i);
        rest = rest.slice(i + 1);
        logs.push(line);
      }
    });
  };
  const mf = new Miniflare({
    modules: true,
    scriptPath: path.join(root, script),
    modulesRoot: root,
    modulesRules: [
      { type: "ESModule", include: ["**/*.js"] },
      { type: "CompiledWasm", include: ["**/*.wasm"] },
    ],
    compatibilityDate: COMPAT_DATE,
    bindings: vars,
    host: "127.0.0.1",
    port: 0,
    // More Miniflare options (the spool tests: Durable Objects and their persistence).
    ...miniflare,
    handleRuntimeStdio: (stdout, stderr) => {
      collect(stdout);
      collect(stderr);
    },
  });
  const url = await mf.ready;
  return {
    mf,
    url: new URL(url),
    logs,
    // The Worker's request log entries (the `linegate` objects), in order.
    entries() {
      return logs
        .map((l) => {
          const i = l.indexOf('{"linegate":');
          if (i < 0) return null;
          try {
            return JSON.parse(l.slice(i)).linegate;
          } catch {
            return null;
          }
        })
        .filter(Boolean);
    },
    /** The log entry of the request sent with `CF-Ray: ray`, waiting for it to arrive. */
    async entry(ray, timeout = 10_000) {
      const deadline = Date.now() + timeout;
      for (;;) {
        const e = this.entries().find((x) => x.ray === ray);
        if (e) return e;
        if (Date.now() > deadline) throw new Error(`no log entry for ${ray}: ${logs.slice(-5).join("\n")}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    /** Waits until some log line satisfies `pred`. */
    async logged(pred, timeout = 10_000) {
      const deadline = Date.now() + timeout;
      while (!logs.some(pred)) {
        if (Date.now() > deadline) throw new Error(`not logged: ${logs.slice(-5).join("\n")}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    close: () => mf.dispose(),
  };
}

let rays = 0;
/** A unique CF-Ray header value, to find a request's log entry. */
export function ray() {
  return `test-${process.pid}-${++rays}`;
}

/**
 * A raw HTTP/1.1 request with exactly the given headers (no Accept-Encoding, no
 * decompression): `{ status, headers, body }` with `body` a Buffer. `body` may also be a
 * function that writes to the request itself.
 */
export function send(base, { method = "POST", path: p = "/", headers = {}, body, agent = false } = {}) {
  return new Promise((resolve, reject) => {
    const u = new URL(p, base);
    const req = http.request(
      {
        host: u.hostname,
        port: u.port,
        method,
        path: u.pathname + u.search,
        headers,
        // A connection per request unless an agent is given: workerd closes idle
        // connections on its own schedule, which a reused socket would race.
        agent,
      },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    if (body === undefined) req.end();
    else if (typeof body === "function") body(req);
    else req.end(body);
  });
}

/**
 * A stand-in InfluxDB write target that records every request it receives byte for byte
 * and answers what `answer(req)` says (default 204). Used only for what the real backend
 * cannot show: the exact bytes and headers that arrived, and scripted answers.
 */
export async function startRecorder(answer = () => ({ status: 204 })) {
  const received = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", async () => {
      const r = {
        method: req.method,
        url: req.url,
        headers: req.headers,
        body: Buffer.concat(chunks),
      };
      received.push(r);
      let a;
      try {
        a = await answer(r);
      } catch (e) {
        a = { status: 599, headers: {}, body: String(e) };
      }
      if (a === null) return; // never answer: a hung backend
      r.answer = {
        status: a.status,
        headers: a.headers ?? {},
        body: Buffer.from(a.body ?? ""),
      };
      res.writeHead(a.status, a.headers ?? {});
      res.end(a.body);
    });
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    received,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(r);
      }),
  };
}

const HOP = new Set(["connection", "keep-alive", "transfer-encoding", "content-length", "date"]);

/** An `answer` for startRecorder that relays the request to `target` and its answer back. */
export function forwardTo(target) {
  return async (r) => {
    const headers = { ...r.headers };
    delete headers.host;
    const res = await send(target, { method: r.method, path: r.url, headers, body: r.body });
    const out = {};
    for (const [k, v] of Object.entries(res.headers)) if (!HOP.has(k)) out[k] = v;
    return { status: res.status, headers: out, body: res.body };
  };
}

/** A port that nothing listens on (bound, then released). */
export async function freePort() {
  const s = http.createServer();
  await new Promise((r) => s.listen(0, "127.0.0.1", r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

// The corpus through the one reader the JS suites share (tests/support/corpus.mjs).
export { corpusRows, expectedBody, rowMaxBatch } from "../support/corpus.mjs";

/** The request the corpus row describes: `{ path, headers, body }` (body a Buffer). */
export function corpusRequest(row) {
  const body = Buffer.from(sentBody(row));
  const headers = { Authorization: `Token ${SETUP.token}`, "Content-Type": "text/plain; charset=utf-8" };
  if (row.content_encoding) headers["Content-Encoding"] = row.content_encoding;
  headers["Content-Length"] = String(body.length);
  return { path: "/api/v2/write?" + corpusQuery(row), headers, body };
}

// ---- the real backend (crates/backend) --------------------------------------------------

// LINEGATE_BACKEND_BIN, else the newest build of it under the cargo target dir.
export const BACKEND_BIN = (() => {
  if (process.env.LINEGATE_BACKEND_BIN) return process.env.LINEGATE_BACKEND_BIN;
  const target = process.env.CARGO_TARGET_DIR ?? path.join(ROOT, "target");
  const builds = ["release", "debug"]
    .map((p) => path.join(target, p, "linegate-backend"))
    .filter((f) => fs.existsSync(f))
    .sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs);
  return builds[0] ?? path.join(target, "debug/linegate-backend");
})();

/**
 * Whether the real backend can be started. In CI its absence is an error (the suite must
 * run against it); elsewhere the suites fall back to the recorder and say so.
 */
export function backendAvailable() {
  if (fs.existsSync(BACKEND_BIN)) return true;
  if (process.env.CI) {
    throw new Error(`linegate-backend not found at ${BACKEND_BIN}: build it (cargo build -p linegate-backend) before the Worker tests`);
  }
  return false;
}

export const SETUP = { org: "o", bucket: "b", token: "linegate-test-t0ken" };

/**
 * Starts `linegate-backend serve` on a free loopback port (or `port`) with a fresh data dir
 * (or `dir`, to restart on one) and the tests' org/bucket/token set up. Stopped (and its
 * dir removed) by `close()`.
 */
export async function startBackend({ dir, port, args: extraArgs = [] } = {}) {
  dir ??= fs.mkdtempSync(path.join(process.env.TMPDIR ?? "/tmp", "linegate-worker-backend-"));
  port ??= await freePort();
  const args = [
    "serve",
    "--data", dir,
    "--bind", `127.0.0.1:${port}`,
    "--setup-org", SETUP.org,
    "--setup-bucket", SETUP.bucket,
    "--setup-token", SETUP.token,
    ...extraArgs,
  ];
  const proc = spawn(BACKEND_BIN, args, { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  proc.stdout.on("data", (c) => (out += c));
  proc.stderr.on("data", (c) => (out += c));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`linegate-backend exited: ${out}`);
    try {
      const r = await send(url, { method: "GET", path: "/health" });
      if (r.status === 200) break;
    } catch {}
    if (Date.now() > deadline) {
      proc.kill("SIGKILL");
      throw new Error(`linegate-backend did not start: ${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    port,
    dir,
    output: () => out,
    // SIGKILL (a crash); the data directory stays, to start again on it.
    kill: async () => {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill("SIGKILL");
        await new Promise((r) => proc.once("exit", r));
      }
    },
    // `keep`: leave the data directory for a restart on it.
    close: async ({ keep = false } = {}) => {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill("SIGTERM");
        await new Promise((r) => proc.once("exit", r));
      }
      if (!keep) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * POSTs `total` bytes of `fill` in chunks, on a connection of its own, and resolves with the
 * answer as soon as it comes, even if the server answers before the upload ends (write
 * errors after that are expected and ignored; a reset before the answer resolves with `reset`
 * true). `headers` decides the framing: with a
 * Content-Length the body is declared, without one it is chunked.
 */
export function sendStream(base, { path: p, headers = {}, total, chunk = 64 * 1024, fill = 0x61 }) {
  return new Promise((resolve, reject) => {
    const u = new URL(p, base);
    let answered = false;
    let sent = 0;
    const req = http.request(
      { host: u.hostname, port: u.port, method: "POST", path: u.pathname + u.search, headers, agent: false },
      (res) => {
        answered = true;
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => {
          resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks), sent });
          req.destroy();
        });
      },
    );
    req.on("error", (e) => {
      if (answered) return;
      // A server that answers without reading the rest closes while the upload goes on; the
      // kernel's reset can then beat its answer to this client (workerd does not linger).
      // `reset` says so, for callers that can check the answer another way (the log).
      if ((e.code === "ECONNRESET" || e.code === "EPIPE") && sent > 0) resolve({ reset: true, sent });
      else reject(e);
    });
    const buf = Buffer.alloc(chunk, fill);
    const pump = () => {
      while (sent < total && !answered && !req.destroyed) {
        const n = Math.min(chunk, total - sent);
        sent += n;
        if (!req.write(n === chunk ? buf : buf.subarray(0, n))) {
          req.once("drain", pump);
          return;
        }
      }
      if (sent >= total) req.end();
    };
    pump();
  });
}

/** The backend's own counters (`/metrics`, Prometheus text) as `{ "name{labels}": value }`. */
export async function backendMetrics(backend) {
  const r = await send(backend.url, { method: "GET", path: "/metrics" });
  const out = {};
  for (const line of r.body.toString().split("\n")) {
    const m = /^([a-z_]+(?:\{[^}]*\})?) ([0-9.e+-]+)$/.exec(line);
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}

/** Write requests the backend itself counted, whatever it answered. */
export function backendWrites(metrics) {
  return Object.entries(metrics)
    .filter(([k]) => k.startsWith('linegate_http_requests_total{endpoint="write"'))
    .reduce((a, [, v]) => a + v, 0);
}

/**
 * What the Worker fronts in a test: the real linegate-backend behind a tap that records
 * each request's bytes and the backend's answer; or, where the backend is not built (and
 * not in CI), the tap alone answering 204. `received` is the tap's log.
 */
/** A recording target and a Worker in front of it (`vars` added to BACKEND_URL). */
export async function startWorkerAndTarget(vars = {}) {
  const rec = await startTarget();
  const w = await startWorker({ BACKEND_URL: rec.url, ...vars });
  return { rec, w };
}

/** Closes what was started, in order; those that never started are skipped. */
export async function stopAll(...started) {
  for (const s of started) await s?.close();
}

export async function startTarget() {
  const backend = backendAvailable() ? await startBackend() : null;
  const tap = await startRecorder(backend ? forwardTo(backend.url) : undefined);
  return {
    url: tap.url,
    received: tap.received,
    backend,
    close: async () => {
      await tap.close();
      if (backend) await backend.close();
    },
  };
}

const WRANGLER = path.join(ROOT, "node_modules/.bin/wrangler");
const WRANGLER_ENV = { ...process.env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1", FORCE_COLOR: "0" };

/**
 * `wrangler dev` on 127.0.0.1:`port` with `persist` as its storage and `vars` as `--var`s, in
 * a process group of its own (it and its workerd die together); resolves once `GET /ping`
 * answers 204. A Worker that does not become ready within `timeout` ms is killed before the
 * error is thrown: left running, it would keep the test file's process (and CI) waiting.
 * `sink`, when given, gets the output as it comes. Returns `{ url, output(), kill() }`.
 */
export async function wranglerDev(port, persist, vars, { timeout = 90_000, poll = 200, sink = null } = {}) {
  const inspector = await freePort();
  const args = ["dev", "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(inspector), "--persist-to", persist];
  for (const [k, v] of Object.entries(vars)) args.push("--var", `${k}:${v}`);
  const p = spawn(WRANGLER, args, { cwd: ROOT, env: WRANGLER_ENV, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  const keep = (c) => {
    out += c;
    sink?.push(c);
  };
  p.stdout.on("data", keep);
  p.stderr.on("data", keep);
  const url = `http://127.0.0.1:${port}`;
  const kill = async () => {
    try {
      process.kill(-p.pid, "SIGKILL");
    } catch {}
    if (p.exitCode === null && p.signalCode === null) await new Promise((r) => p.once("exit", r));
  };
  const deadline = Date.now() + timeout;
  try {
    for (;;) {
      if (p.exitCode !== null || p.signalCode !== null) throw new Error(`wrangler dev exited: ${out}`);
      try {
        if ((await send(url, { method: "GET", path: "/ping" })).status === 204) break;
      } catch {}
      if (Date.now() >= deadline) throw new Error(`wrangler dev did not start: ${out}`);
      await new Promise((r) => setTimeout(r, poll));
    }
  } catch (e) {
    await kill();
    throw e;
  }
  return { url, output: () => out, kill };
}
