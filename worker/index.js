// linegate as a Cloudflare Worker in front of an InfluxDB v2 write endpoint (BACKEND_URL).
// Malformed or over-limit writes are answered here exactly as InfluxDB would answer them;
// the rest is forwarded unchanged. See worker/README.md.

import { config } from "./config.js";
import { handleWrite } from "./write.js";
import { drain } from "./body.js";
import { backendReachable, passThrough, PROBES, probesPass } from "./forward.js";
import { isSpoolAdmin, spoolAdmin } from "./spool.js";
import { isQuotaAdmin, quotaAdmin } from "./quota.js";
import {
  corsOrigin,
  health,
  internal,
  methodNotAllowed,
  notFound,
  ping,
  preflight,
  unavailable,
  withCors,
} from "./respond.js";

// The spool's Durable Object class (SPOOL=fallback|always), bound as SPOOL_DO.
export { Spool } from "./spool.js";
// The write quotas' Durable Object class (QUOTA_WRITE_BYTES, QUOTA_SERIES), bound as QUOTA_DO.
export { Quota } from "./quota.js";

const ROUTES = {
  "/api/v2/write": ["POST"],
  "/write": ["POST"],
  "/ping": ["GET", "HEAD"],
  "/health": ["GET", "HEAD"],
};

const PASS_METHODS = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS";

export default {
  async fetch(request, env) {
    const start = performance.now();
    const url = new URL(request.url);
    const log = { method: request.method, path: url.pathname };
    // Cloudflare's request id, to find the line next to the platform's own logs.
    const ray = request.headers.get("CF-Ray");
    if (ray !== null) log.ray = ray.slice(0, 64);
    let response;
    let origin = null;
    try {
      const cfg = config(env);
      origin = corsOrigin(request, cfg);
      response = await route(request, url, cfg, origin, log);
    } catch (e) {
      log.error = String(e && e.message).slice(0, 200);
      response = internal();
    }
    // A passed-through body went to the backend as a stream; nothing is left to drain.
    if (!(request.body && request.body.locked)) await drain(request);
    response = withCors(response, origin);
    log.status = response.status;
    log.ms = Math.round((performance.now() - start) * 100) / 100;
    // One structured line per request; never the token, the query or the body.
    console.log(JSON.stringify({ linegate: log }));
    return response;
  },
};

async function route(request, url, cfg, origin, log) {
  if (isSpoolAdmin(url.pathname)) return spoolAdmin(request, url, cfg);
  if (isQuotaAdmin(url.pathname) && cfg.quota.adminToken !== null) return quotaAdmin(request, cfg);
  const methods = ROUTES[url.pathname];
  if (PROBES.has(url.pathname) && (request.method === "GET" || request.method === "HEAD") && probesPass(cfg)) {
    return passThrough(request, url, cfg, log, { probe: true });
  }
  const checked = methods !== undefined && (methods.includes(request.method) || request.method === "OPTIONS");
  if (!checked && cfg.passThrough && !(request.method === "OPTIONS" && origin !== null)) {
    return passThrough(request, url, cfg, log);
  }
  if (methods === undefined) {
    // A browser's preflight for a passed-through path is the edge's to answer.
    if (cfg.passThrough && origin !== null) return preflight(origin, PASS_METHODS);
    return notFound();
  }
  if (request.method === "OPTIONS" && origin !== null) {
    return preflight(origin, [...methods, "OPTIONS"].join(", "));
  }
  if (!methods.includes(request.method)) {
    const allow = cfg.corsOrigins.length > 0 ? [...methods, "OPTIONS"] : methods;
    return methodNotAllowed(allow.join(", "));
  }
  switch (url.pathname) {
    case "/api/v2/write":
    case "/write":
      return handleWrite(request, cfg, log);
    case "/ping":
      return ping(cfg);
    default:
      if (!(await backendReachable(cfg))) {
        log.action = "unavailable";
        return unavailable(cfg.retryAfter);
      }
      return health(cfg, request.method === "HEAD");
  }
}
