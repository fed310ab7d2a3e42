// The transparent edge: a request the Worker does not check (any other path or method) goes
// to BACKEND_URL as it came — method, path, query, headers, body streamed through — and the
// backend's answer comes back as it was sent (status, headers, streamed body). Edge
// authentication, the body size limit and the backend-down 503 apply as for writes.
// PASS_THROUGH = "off" turns this off (unknown paths 404, other methods 405, as before).

import { clientAddress, edgeAuthorized } from "./auth.js";
import { CLIENT_ADDRESS_HEADER } from "./linegate.js";
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

export async function passThrough(request, url, cfg, log) {
  if (!(await allowed(request, cfg))) {
    log.action = "reject";
    log.code = "unauthorized";
    return unauthorized();
  }
  const declared = request.headers.get("Content-Length");
  if (declared !== null && /^\d+$/.test(declared) && Number(declared) >= cfg.maxBody) {
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
  // Only the Worker names the client to the backend.
  headers.delete(CLIENT_ADDRESS_HEADER);
  const client = clientAddress(request);
  if (client !== null) headers.set(CLIENT_ADDRESS_HEADER, client);
  const state = { over: false };
  const abort = new AbortController();
  let body = null;
  if (request.body !== null) {
    // A declared length is enforced by HTTP framing itself; only undeclared ones are counted.
    body = declared !== null ? request.body : capped(request.body, cfg.maxBody, state, abort);
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
  return new Response(res.body, res);
}
