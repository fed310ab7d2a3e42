// Answers the edge makes itself: built by linegate-core (through the package's `answer`),
// sent unchanged. No InfluxDB text is written here.

import { answer } from "./linegate.js";

function send({ status, headers, body }, head = false) {
  return new Response(head ? null : body, { status, headers });
}

export const unauthorized = () => send(answer("unauthorized"));

export const unavailable = (retryAfter) => send(answer("unavailable", { retryAfter }));

// The spool's 503s: its queue for a destination is full, or its durable store failed.
export const spoolFull = (retryAfter) => send(answer("spool-full", { retryAfter }));

export const spoolUnavailable = (retryAfter) => send(answer("spool-unavailable", { retryAfter }));

export const internal = () => send(answer("internal"));

export const tooLarge = () => send(answer("too-large"));

export const notFound = () => send(answer("not-found"));

export const methodNotAllowed = (allow) => send(answer("method-not-allowed", { allow }));

// GET|HEAD /ping: 204 with the build headers, as InfluxDB does.
export const ping = (cfg) => send(answer("ping", { version: cfg.influxVersion }));

// GET|HEAD /health: InfluxDB's fixed text. It says the edge is up; whether the backend is
// reachable shows on writes (503 + Retry-After).
export const health = (cfg, head) =>
  send(answer("health", { version: cfg.influxVersion, commit: "linegate-worker" }), head);

const PREFLIGHT_HEADERS =
  "Authorization, Content-Type, Content-Encoding, Zap-Trace-Span, Accept, Accept-Encoding, User-Agent";
const EXPOSED_HEADERS =
  "Retry-After, X-Platform-Error-Code, X-Influxdb-Build, X-Influxdb-Version, X-Linegate-Spooled";

export function corsOrigin(request, cfg) {
  if (cfg.corsOrigins.length === 0) return null;
  const origin = request.headers.get("Origin");
  if (origin === null) return null;
  return cfg.corsOrigins.includes("*") || cfg.corsOrigins.includes(origin) ? origin : null;
}

export function preflight(origin, methods) {
  return new Response(null, {
    status: 204,
    headers: {
      "Access-Control-Allow-Origin": origin,
      "Access-Control-Allow-Methods": methods,
      "Access-Control-Allow-Headers": PREFLIGHT_HEADERS,
      "Access-Control-Max-Age": "7200",
      Vary: "Origin",
    },
  });
}

// Adds CORS headers to any answer (ours or the backend's) for an allowed origin.
export function withCors(response, origin) {
  if (origin === null) return response;
  const r = new Response(response.body, response);
  r.headers.set("Access-Control-Allow-Origin", origin);
  r.headers.set("Access-Control-Expose-Headers", EXPOSED_HEADERS);
  r.headers.append("Vary", "Origin");
  return r;
}
