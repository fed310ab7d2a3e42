// The transparent edge: a request the Worker does not check (any other path or method) goes
// to BACKEND_URL as it came — method, path, query, headers, body streamed through — and the
// backend's answer comes back as it was sent (status, headers, streamed body). Edge
// authentication, the body size limit and the backend-down 503 apply as for writes.
// PASS_THROUGH = "off" turns this off (unknown paths 404, other methods 405, as before).
// The probes (/ping, /health, /ready) go too, so a client sees the backend's version and
// state, not the edge's (see `probesPass`).

import { clientAddress, edgeAuthorized } from "./auth.js";
import { BATCH_ID_HEADER, bodyRead, CLIENT_ADDRESS_HEADER } from "./linegate.js";
import { tooLarge, unauthorized, unavailable } from "./respond.js";

// Hop-by-hop headers (RFC 9110 §7.6.1) belong to one connection, not to the request.
const HOP = ["connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade", "host"];

// Whether the request may pass the edge: with EDGE_TOKENS set, exactly the credential the
// backend will act on must be one of them (issue 25: a v1 password in the query passed the
// edge while the backend acted on the request's own Authorization).
const allowed = (request, cfg) => edgeAuthorized(request, cfg);

// A body whose length nobody declared (chunked), counted on its way: at `max` bytes the
// request to the backend is aborted — not ended, which would hand the backend a cut body
// as if it were whole (workerd ends a request body cleanly when its stream errors).
function capped(body, max, state, abort) {
  let n = 0;
  return body.pipeThrough(
    new TransformStream({
      transform(chunk, controller) {
        if (state.over) return;
        n += chunk.byteLength;
        if (n >= max) {
          state.over = true;
          abort.abort();
          return;
        }
        controller.enqueue(chunk);
      },
    }),
  );
}

// GET|HEAD /ping, /health, /ready with PROBES=backend: the backend's answers (its version,
// its state; the writes' 503 when it cannot be reached, never a `pass` of the edge's own).
// Not when a spool makes the edge the one that accepts writes: then the edge's own answers
// say what clients need (writes are taken while the backend is down). Probes carry no data
// and InfluxDB asks no credentials for them, so EDGE_TOKENS does not apply.
export const PROBES = new Set(["/ping", "/health", "/ready"]);

export function probesPass(cfg) {
  return cfg.passThrough && cfg.spool.mode === "off" && cfg.probes === "backend";
}

// PROBES=edge: whether the edge's own `/health` may say `pass`. Without a spool, writes
// succeed only while the backend answers, so it is asked (its /ping, bounded in time).
export async function backendReachable(cfg) {
  if (cfg.spool.mode !== "off") return true;
  if (cfg.backend === null) return false;
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), Math.min(cfg.timeoutMs, 5_000));
  try {
    const res = await fetch(cfg.backend + "/ping", { signal: abort.signal, redirect: "manual" });
    await res.body?.cancel();
    return res.status < 500;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

export async function passThrough(request, url, cfg, log, { probe = false } = {}) {
  if (!probe && !(await allowed(request, cfg))) {
    log.action = "reject";
    log.code = "unauthorized";
    return unauthorized();
  }
  const size = bodyRead(request.headers.get("Content-Length"), cfg.maxBody);
  if (size.tooLarge) {
    log.action = "reject";
    log.code = "request too large";
    return tooLarge();
  }
  if (cfg.backend === null) {
    log.action = "unavailable";
    log.error = "BACKEND_URL is not set";
    return unavailable(cfg.retryAfter);
  }
  const headers = new Headers(request.headers);
  for (const h of HOP) headers.delete(h);
  // Only the Worker names the client, and its writes' batches, to the backend.
  headers.delete(CLIENT_ADDRESS_HEADER);
  headers.delete(BATCH_ID_HEADER);
  const client = clientAddress(request);
  if (client !== null) headers.set(CLIENT_ADDRESS_HEADER, client);
  // The backend is asked for what the client accepts, not the platform's `br, gzip`.
  headers.set("Accept-Encoding", clientAccepts(request) || "identity");
  const state = { over: false };
  const abort = new AbortController();
  let body = null;
  // A GET or HEAD may arrive with an empty body (npm influx sends `Content-Length: 0`), which
  // fetch refuses to send on.
  if (request.body !== null && request.method !== "GET" && request.method !== "HEAD") {
    // A declared length is enforced by HTTP framing itself; only undeclared ones are counted.
    body = size.declared !== null ? request.body : capped(request.body, cfg.maxBody, state, abort);
  }
  log.action = "pass";
  const timer = setTimeout(() => abort.abort(), cfg.timeoutMs);
  let res;
  try {
    res = await fetch(cfg.backend + url.pathname + url.search, {
      method: request.method,
      headers,
      body,
      redirect: "manual",
      signal: abort.signal,
    });
  } catch (e) {
    if (state.over) {
      log.code = "request too large";
      return tooLarge();
    }
    log.action = "unavailable";
    log.error = abort.signal.aborted ? "backend timeout" : String(e && e.message).slice(0, 200);
    return unavailable(cfg.retryAfter);
  } finally {
    // Only the wait for the answer is bounded; its body streams through untouched.
    clearTimeout(timer);
  }
  log.status_backend = res.status;
  return asAccepted(request, res);
}

// The platform rewrites a request's Accept-Encoding to `br, gzip` (the client's own is in
// `request.cf.clientAcceptEncoding`, empty when it sent none); `passThrough` asks the backend
// for the client's own (identity for none: tests/worker/realdb.test.mjs shows what arrives
// under wrangler dev). workerd decodes an encoded answer and encodes it again on the way out
// as its Content-Encoding says, so one in an encoding the client did not accept (a backend
// that ignores Accept-Encoding) goes out without that header: the decoded bytes, as
// identity. One the client accepts is left as it is.
export function asAccepted(request, res) {
  const out = new Response(res.body, res);
  const enc = res.headers.get("Content-Encoding");
  if (enc !== null && !accepts(clientAccepts(request) || null, enc)) {
    out.headers.delete("Content-Encoding");
    out.headers.delete("Content-Length");
  }
  return out;
}

// The client's own Accept-Encoding ("" when it sent none).
function clientAccepts(request) {
  return request.cf?.clientAcceptEncoding ?? request.headers.get("Accept-Encoding") ?? "";
}

// RFC 9110 §12.5.3: a coding is acceptable when listed (or `*`) without q=0.
function accepts(header, coding) {
  if (header === null) return false;
  coding = coding.trim().toLowerCase();
  for (const part of header.split(",")) {
    const [name, ...params] = part.split(";").map((x) => x.trim().toLowerCase());
    if (name !== coding && name !== "*") continue;
    const q = params.find((p) => p.startsWith("q="));
    if (q === undefined || Number(q.slice(2)) > 0) return true;
  }
  return false;
}
