// Chaos (issue 25, "what must hold"): the Worker's spool, SPOOL=always and SPOOL=fallback,
// under `wrangler dev --persist-to` in front of the real linegate-backend, while 12 clients
// write; the backend and workerd are SIGKILLed again and again. Every write carries points
// that name it (client, sequence number), so the store, read back through the export API,
// says which writes arrived and how often. Half the clients write through v2, half through
// v1's /write: two destinations. Once the backend stays up (up to 60 s): no write that got
// 204 is missing, at most one write arrives twice per crash in all (the Worker names each
// write with a batch id, X-Linegate-Batch, sent on the forward and on every spool delivery;
// the backend stores a repeated id once, so neither a delivery repeated after a crash nor a
// fallback forward whose answer the crash cut off, then spooled, is stored twice), and the
// admin endpoint shows no destination holding a batch (queued or dead letter). A write that
// got no answer (the Worker died under it) is not retried under its name: it may or may not
// arrive.
//
// Bounded in time: ~20 s of load per mode (LINEGATE_CHAOS_MS), then the drain: 30-45 s each
// on 2 loaded cores.

import { test, describe, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { ROOT, hasPkg, backendAvailable, startBackend, freePort, send, SETUP, wranglerDev } from "./helpers.mjs";

const skip =
  (!hasPkg && "pkg/ is not built (npm run build)") ||
  (!backendAvailable() && "linegate-backend is not built (cargo build --release -p linegate-backend)");
const ADMIN = "chaos-admin";
const CLIENTS = 12;
const POINTS = 3; // per write
const LOAD_MS = Number(process.env.LINEGATE_CHAOS_MS ?? 20_000);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const dirs = [];
after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

const dev = (port, persist, vars, sink = []) => wranglerDev(port, persist, vars, { poll: 100, sink });

/** One write on a connection of its own, given up after `ms`: its status, or null. */
function post(base, p, headers, body, ms = 15_000) {
  return new Promise((resolve) => {
    const u = new URL(p, base);
    const req = http.request(
      { host: u.hostname, port: u.port, method: "POST", path: u.pathname + u.search, headers: { ...headers, "Content-Length": body.length }, agent: false, timeout: ms },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode));
        res.on("error", () => resolve(null));
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", () => resolve(null));
    req.end(body);
  });
}

/** The points of client `c`'s write `n`: their identity is (c, n); each has its own time. */
function points(c, n) {
  let s = "";
  for (let j = 0; j < POINTS; j++) s += `chaos,c=${c} n=${n}i,j=${j}i ${1700000000000000000n + BigInt((c * 1_000_000 + n) * POINTS + j)}\n`;
  return Buffer.from(s);
}

async function spoolState(w) {
  const r = await send(w.url, { method: "GET", path: "/spool", headers: { Authorization: `Bearer ${ADMIN}` } });
  assert.equal(r.status, 200, r.body.toString());
  return JSON.parse(r.body).destinations;
}

async function chaos(t, mode) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `linegate-chaos-${mode}-`));
  dirs.push(dir);
  const persist = path.join(dir, "wrangler");
  let backend = await startBackend({ dir: path.join(dir, "backend") });
  const { port: bport, dir: bdir } = backend;
  const vars = {
    BACKEND_URL: backend.url,
    SPOOL: mode,
    EDGE_TOKENS: SETUP.token,
    SPOOL_KEY: "chaos spool key",
    SPOOL_ADMIN_TOKEN: ADMIN,
    SPOOL_BACKOFF_BASE_MS: "100",
    SPOOL_BACKOFF_CAP_MS: "1000",
    BACKEND_TIMEOUT_MS: "5000",
  };
  const wport = await freePort();
  const sink = [];
  let w = await dev(wport, persist, vars, sink);
  const acked = new Set();
  const unacked = new Set();
  const statuses = {};
  let running = true;
  // Half the clients write through v2, half through v1's /write (to the bucket's virtual
  // DBRP mapping): two destinations, two spool objects.
  const paths = [`/api/v2/write?org=${SETUP.org}&bucket=${SETUP.bucket}&precision=ns`, `/write?db=${SETUP.bucket}&precision=ns`];
  const headers = { Authorization: `Token ${SETUP.token}` };
  const clients = Array.from({ length: CLIENTS }, async (_, c) => {
    for (let n = 0; running; n++) {
      const st = await post(w.url, paths[c % 2], headers, points(c, n));
      statuses[st] = (statuses[st] ?? 0) + 1;
      if (st === 204) acked.add(`${c}/${n}`);
      else {
        unacked.add(`${c}/${n}`);
        await sleep(50);
      }
    }
  });
  let backendKills = 0;
  let workerdKills = 0;
  const t0 = Date.now();
  try {
    // Kills at jittered moments: the backend two times out of three (down ~0.3-1.5 s), workerd
    // the third (down while wrangler dev restarts on the same persisted state), every other
    // time with the backend at once (down until workerd is back).
    for (let k = 0; Date.now() - t0 < LOAD_MS; k++) {
      await sleep(1200 + Math.random() * 1500);
      if (k % 3 === 1) {
        await w.kill();
        workerdKills++;
        const both = k % 6 === 4;
        if (both) {
          await backend.kill();
          backendKills++;
        }
        w = await dev(wport, persist, vars, sink);
        if (both) backend = await startBackend({ dir: bdir, port: bport });
      } else {
        await backend.kill();
        backendKills++;
        await sleep(300 + Math.random() * 1200);
        backend = await startBackend({ dir: bdir, port: bport });
      }
    }
    running = false;
    await Promise.all(clients);
    // The backend stays up now: everything held drains (60 s at most).
    const drainStart = Date.now();
    let dests = await spoolState(w);
    while (dests.some((d) => d.queued > 0) && Date.now() - drainStart < 60_000) {
      await sleep(250);
      dests = await spoolState(w);
    }
    const drainMs = Date.now() - drainStart;
    const e = await send(backend.url, { method: "GET", path: `/api/v2/export?org=${SETUP.org}&bucket=${SETUP.bucket}&raw=true`, headers });
    assert.equal(e.status, 200, e.body.toString());
    const copies = new Map();
    for (const line of e.body.toString().split("\n")) {
      const m = /^chaos,c=(\d+) n=(\d+)i,j=(\d+)i /.exec(line);
      if (m) copies.set(`${m[1]}/${m[2]}/${m[3]}`, (copies.get(`${m[1]}/${m[2]}/${m[3]}`) ?? 0) + 1);
    }
    // A write arrived k times when each of its points did.
    const arrived = (id) => Math.min(...Array.from({ length: POINTS }, (_, j) => copies.get(`${id}/${j}`) ?? 0));
    const lost = [...acked].filter((id) => arrived(id) === 0);
    const partial = [...acked, ...unacked].filter((id) => {
      const cs = Array.from({ length: POINTS }, (_, j) => copies.get(`${id}/${j}`) ?? 0);
      return Math.min(...cs) !== Math.max(...cs);
    });
    // Per destination (v2 clients are even, v1 odd), for the figures.
    const dupsOf = [0, 0];
    for (const id of [...acked, ...unacked]) dupsOf[Number(id.split("/")[0]) % 2] += Math.max(0, arrived(id) - 1);
    const dups = dupsOf[0] + dupsOf[1];
    const unackedArrived = [...unacked].filter((id) => arrived(id) > 0).length;
    const kills = backendKills + workerdKills;
    // Why fallback spooled: a forward refused (nothing sent) or one whose answer was lost
    // (reset, timeout: it may have been stored, and is then delivered again).
    const why = {};
    const lostAnswers = [0, 0]; // per destination: v2, v1

    for (const line of sink.join("").split("\n")) {
      const i = line.indexOf('{"linegate":');
      if (i < 0) continue;
      let e;
      try {
        e = JSON.parse(line.slice(i)).linegate;
      } catch {
        continue;
      }
      if (e.action !== "spooled") continue;
      const k = e.backend_status ?? (e.error ? e.error.replace(/[0-9.:]+/g, "").slice(0, 40) : "direct");
      why[k] = (why[k] ?? 0) + 1;
      if (e.backend_status === undefined && e.error) lostAnswers[e.path === "/write" ? 1 : 0]++;
    }
    const stranded = dests.filter((d) => d.queued > 0 || d.dead_letters > 0);
    t.diagnostic(
      `SPOOL=${mode}: ${acked.size} writes acknowledged (${acked.size * POINTS} points), ${unacked.size} not ` +
        `(${unackedArrived} of them arrived anyway); ${backendKills} backend and ${workerdKills} workerd SIGKILLs; ` +
        `lost ${lost.length}, duplicate batches ${dups} (v2 ${dupsOf[0]}, v1 ${dupsOf[1]}), stranded destinations ${stranded.length}; ` +
        `${dests.length} destinations; drained ${drainMs} ms after the load; answers ${JSON.stringify(statuses)}; ` +
        `spooled ${JSON.stringify(why)} (answers lost: v2 ${lostAnswers[0]}, v1 ${lostAnswers[1]})`,
    );
    assert.ok(acked.size > 0 && kills >= 4, `${acked.size} acked, ${kills} kills`);
    if (mode === "always") assert.equal(dests.length, 2, "a destination each for v2 and v1");
    assert.deepEqual(stranded, [], "a destination still holds batches");
    assert.deepEqual(lost, [], `acknowledged writes missing: ${lost.slice(0, 20).join(" ")}`);
    assert.deepEqual(partial, [], "a write arrived in part");
    // At most one per crash, in all (issue 25). With batch ids none is expected: a batch the
    // backend stored before its answer was lost (a forward, then spooled; or a spool
    // delivery, then sent again) is answered 204 again, not stored again.
    assert.ok(dups <= kills, `${dupsOf.join(" + ")} duplicate batches (v2 + v1) for ${kills} crashes (answers lost: ${lostAnswers.join(" + ")})`);
  } finally {
    running = false;
    await Promise.all(clients);
    await w.kill();
    await backend.close({ keep: true });
  }
}

describe("chaos: the spool under repeated SIGKILL of the backend and workerd, 12 clients writing", { skip }, () => {
  test("SPOOL=always", { timeout: 150_000 }, (t) => chaos(t, "always"));
  test("SPOOL=fallback", { timeout: 150_000 }, (t) => chaos(t, "fallback"));
});
