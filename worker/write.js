// POST /api/v2/write and v1's POST /write: check at the edge, forward what passes, unchanged.

import { BATCH_ID_HEADER, bodyRead, Checker, credentialsCheck, CLIENT_ADDRESS_HEADER, upstreamWrite } from "./linegate.js";
import { newBatchId } from "./spool/batch-id.js";
import { firstValue, readBody } from "./body.js";
import { clientAddress, edgeAuthorized } from "./auth.js";
import { unauthorized, unavailable } from "./respond.js";
import { destination, spoolWrite } from "./spool.js";
import { admitBatch, beforeBody, countBytes } from "./quota.js";
import { busy, reserve } from "./budget.js";
import { asAccepted } from "./forward.js";

// The request headers that matter to an InfluxDB write (spec Part A §5).
const FORWARDED = ["Authorization", "Content-Encoding", "Content-Type", "Zap-Trace-Span"];
// Read as Go's Header.Get does (the first value), here and when forwarded: repeated, they
// would otherwise reach the check and the backend joined ("gzip, gzip").
const FIRST_VALUE = new Set(["Authorization", "Content-Encoding"]);

// `log` collects the fields of the request's one log line.
export async function handleWrite(request, cfg, log) {
  // No credentials at all is InfluxDB's first check (401), so the body need not be read.
  const url = new URL(request.url);
  const auth = firstValue(request.headers, "Authorization");
  // How much of the body is read and held, from its Content-Length (core's rule).
  const plan = bodyRead(request.headers.get("Content-Length"), cfg.maxBody);
  if (!(await admitted(request, url, auth, cfg))) {
    log.action = "reject";
    log.code = "unauthorized";
    return unauthorized();
  }
  // The rate quota (spec D.2) before a byte of the body is read: a throttled client costs
  // one Durable Object call, no body read and no wasm work (the upload is cut off).
  let names = null;
  if (cfg.quota.on) {
    const q = await beforeBody(cfg, url, auth, firstValue(request.headers, "Content-Encoding"), log);
    if (q.response !== null) {
      await cancelBody(request, plan);
      return q.response;
    }
    names = q.names;
  }
  // The isolate's budget of bodies in flight: what does not fit waits for another try.
  const release = reserve(plan.hold, cfg);
  if (release === null) {
    log.action = "busy";
    await cancelBody(request, plan);
    return busy(cfg.retryAfter);
  }
  try {
    const res = await checkAndForward(request, plan, url, auth, cfg, log, names);
    if (names !== null && res.status >= 200 && res.status < 300 && log.decoded !== undefined) {
      await countBytes(cfg, names, log.decoded, log);
    }
    return res;
  } finally {
    release();
  }
}

// A body answered unread: a small one is dropped as any other (index.js drains it, so the
// client reads the answer on a healthy connection); a large or unsized one is cut off at
// once rather than read (a throttled 200 MiB upload costs nothing).
const DRAIN_MAX = 1024 * 1024;

async function cancelBody(request, plan) {
  if (plan.declared !== null && plan.declared <= DRAIN_MAX) return;
  try {
    await request.body?.cancel();
  } catch {
    // Already gone.
  }
}

async function checkAndForward(request, plan, url, auth, cfg, log, names) {
  const series = names !== null && cfg.quota.series !== null;
  // The check runs as the body arrives (a Checker fed each chunk as read); its body limit
  // is readBody's cap (core's `bodyRead`), so a prefix of an oversized body checks as exactly
  // too large, after the checks that come first in InfluxDB's order.
  let checker = null;
  let checkMs = 0;
  const start = (cap) => {
    checker = Checker.forRequest({
      endpoint: url.pathname,
      query: url.search.slice(1),
      headers: {
        authorization: auth,
        "content-encoding": firstValue(request.headers, "Content-Encoding") ?? undefined,
      },
      limits: { maxBody: cap, maxBatch: cfg.maxBatch, maxMessage: cfg.maxMessage },
      acceptPartial: cfg.partialWrites,
      // "held": the series stay in wasm, asked about there (quota.js, admitBatch).
      series: series ? "held" : false,
      decoded: names !== null,
      upstream: cfg.backendKind,
    });
    return {
      push(chunk) {
        const t = performance.now();
        checker.push(chunk);
        checkMs += performance.now() - t;
      },
      decided: () => checker.decided(),
    };
  };
  let verdict;
  let body;
  try {
    const read = await readBody(request, plan.cap, start, plan.declared);
    body = read;
    log.bytes = read.length;
    if (read.over) log.over = true;
    if (read.decided) log.early = true;
    if (checker === null) start(cfg.maxBody);
    const t = performance.now();
    verdict = checker.finish();
    log.check_ms = round(checkMs + performance.now() - t);
    // The series quota: new series admitted (with partial writes, the lines of those that
    // do not fit become rejected lines: the checker, kept until then, makes the verdict
    // again).
    if (series && verdict.action !== "reject") {
      const a = await admitBatch(cfg, names, checker, verdict, log);
      if (a.response !== null) return a.response;
      verdict = a.verdict;
    }
  } finally {
    if (checker !== null) checker.free();
  }

  if (verdict.action === "reject") {
    log.action = "reject";
    log.code = verdict.code;
    if (verdict.line !== null) log.line = verdict.line;
    return new Response(verdict.body, { status: verdict.status, headers: verdict.headers });
  }

  // The write quotas: a partial write counts the accepted lines it forwards.
  if (verdict.decoded !== undefined) {
    log.decoded = verdict.action === "partial" ? verdict.forward.length : verdict.decoded;
  }
  if (cfg.backend === null) {
    log.action = "unavailable";
    log.error = "BACKEND_URL is not set";
    return unavailable(cfg.retryAfter);
  }
  const headers = {};
  for (const name of FORWARDED) {
    const v = FIRST_VALUE.has(name) ? firstValue(request.headers, name) : request.headers.get(name);
    if (v !== null) headers[name] = v;
  }
  const client = clientAddress(request);
  if (client !== null) headers[CLIENT_ADDRESS_HEADER] = client;
  // The write's own id, on the forward and on every delivery the spool makes of it: the
  // backend stores a repeated id once, so a forward whose answer a crash cut off (then
  // spooled) or a delivery repeated after one is not stored twice.
  headers[BATCH_ID_HEADER] = newBatchId();
  let target = url.pathname + url.search;
  if (url.pathname === "/api/v2/write" && cfg.backendKind !== "influxdb2") {
    // A v2 write to InfluxDB 1.x or VictoriaMetrics: the path and credentials they read.
    const up = upstreamWrite({ endpoint: url.pathname, query: url.search.slice(1), headers: { authorization: auth ?? undefined }, upstream: cfg.backendKind });
    if (up !== null && up.action === "reject") {
      log.action = "reject";
      log.code = up.code;
      return new Response(up.body, { status: up.status, headers: up.headers });
    }
    if (up !== null) {
      target = up.path;
      delete headers.Authorization;
      if (up.authorization !== null) headers.Authorization = up.authorization;
    }
  }
  if (verdict.action === "partial") return partialWrite(cfg, url, target, headers, verdict, log, request);
  log.action = "forward";
  log.points = verdict.points;
  log.lines = verdict.lines;
  const send = () => forward(cfg, target, headers, body.stream(), log, request);
  if (cfg.spool.mode !== "off") {
    return spoolWrite(cfg, url, { target, headers, body: body.bytes }, log, send);
  }
  return (await send()) ?? unavailable(cfg.retryAfter);
}

// A partial write (spec Part D.1): the accepted lines go on (plain: no Content-Encoding),
// or to the spool under SPOOL; once they are stored or held, the rejected lines are kept in
// the destination's spool object and the partial 400 is the answer. Any other answer of
// the backend (or the spool) is returned unchanged, and then nothing is kept.
async function partialWrite(cfg, url, target, headers, verdict, log, request) {
  log.action = "partial";
  log.accepted = verdict.accepted;
  log.rejected = verdict.rejected;
  log.line = verdict.line;
  const plain = { ...headers };
  delete plain["Content-Encoding"];
  const send = () => forward(cfg, target, plain, verdict.forward, log, request);
  const res =
    cfg.spool.mode !== "off"
      ? await spoolWrite(cfg, url, { target, headers: plain, body: verdict.forward }, log, send)
      : ((await send()) ?? unavailable(cfg.retryAfter));
  if (res.status < 200 || res.status > 299) return res;
  await res.body?.cancel();
  const stored = log.action;
  log.action = "partial";
  log.stored = stored;
  try {
    const { name, stub } = destination(cfg, url);
    const notKept = verdict.rejected - verdict.rejectedLines.length;
    const kept = await stub.keepRejected(name, verdict.destination, verdict.rejectedLines, notKept);
    log.quarantined = kept.kept;
    if (kept.dropped > 0) log.quarantine_dropped = kept.dropped;
  } catch (e) {
    // The accepted lines are stored: a quarantine that fails never fails the write.
    log.quarantine_error = String(e && e.message).slice(0, 200);
  }
  return new Response(verdict.body, { status: verdict.status, headers: verdict.headers });
}

// Sends the batch to the backend now: its Response, or null when it was unreachable or did
// not answer in time (`log` says why).
async function forward(cfg, target, headers, body, log, request) {
  const t1 = performance.now();
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), cfg.timeoutMs);
  let res;
  try {
    res = await fetch(cfg.backend + target, {
      method: "POST",
      headers,
      body,
      redirect: "manual",
      signal: abort.signal,
    });
  } catch (e) {
    // Unreachable, refused, reset or timed out: nothing can be claimed written.
    log.action = "unavailable";
    log.error = abort.signal.aborted ? "backend timeout" : String(e && e.message).slice(0, 200);
    return null;
  } finally {
    // Only the wait for the answer is bounded; its body streams through untouched.
    clearTimeout(timer);
  }
  log.backend_ms = round(performance.now() - t1);
  log.action = "backend";
  // Status, headers (Retry-After among them) and body exactly as the backend sent them, in
  // an encoding the client accepts.
  return asAccepted(request, res);
}

// Step 1 before the body, as core decides it (credentialsCheck): no credentials is 401 (on
// v2 also a blank Authorization; in front of InfluxDB 1.x a v1 write without any goes on,
// the server decides). With EDGE_TOKENS, the secret must be one of them (edgeAuthorized).
async function admitted(request, url, auth, cfg) {
  const head = { endpoint: url.pathname, query: url.search.slice(1), headers: { authorization: auth ?? undefined } };
  if (credentialsCheck({ ...head, upstream: cfg.backendKind }) !== null) return false;
  return edgeAuthorized(request, cfg);
}

function round(ms) {
  return Math.round(ms * 100) / 100;
}
