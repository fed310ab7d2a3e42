// Answers the edge makes itself, shaped like InfluxDB OSS v2's.

const JSON_TYPE = "application/json; charset=utf-8";

// InfluxDB's two-field error (`WriteErrorResponse`): compact, no trailing newline.
export function influxError(status, code, message, extra = {}) {
  return new Response(JSON.stringify({ code, message }), {
    status,
    headers: { "Content-Type": JSON_TYPE, "X-Platform-Error-Code": code, ...extra },
  });
}

export const unauthorized = () => influxError(401, "unauthorized", "unauthorized access");

export const unavailable = (retryAfter) =>
  influxError(503, "unavailable", "write backend unavailable", {
    "Retry-After": String(retryAfter),
  });

export const internal = () =>
  influxError(500, "internal error", "An internal error has occurred - check server logs");

// InfluxDB's API router answers unknown paths through its pretty-printing JSON encoder.
export function notFound() {
  const body = '{\n\t"code": "not found",\n\t"message": "path not found"\n}';
  return new Response(body, {
    status: 404,
    headers: { "Content-Type": JSON_TYPE, "X-Platform-Error-Code": "not found" },
  });
}

export function methodNotAllowed(allow) {
  return influxError(405, "method not allowed", `allow: ${allow}`, { Allow: allow });
}

function buildHeaders(cfg) {
  return { "X-Influxdb-Build": "OSS", "X-Influxdb-Version": cfg.influxVersion };
}

// GET|HEAD /ping: 204 with the build headers, as InfluxDB does.
export function ping(cfg) {
  return new Response(null, { status: 204, headers: buildHeaders(cfg) });
}

// GET|HEAD /health: InfluxDB's fixed text (with its spacing and trailing newline). It says
// the edge is up; whether the backend is reachable shows on writes (503 + Retry-After).
export function health(cfg, head) {
  const body =
    `{"name":"influxdb", "message":"ready for queries and writes", "status":"pass", ` +
    `"checks":[], "version": ${JSON.stringify(cfg.influxVersion)}, "commit": "linegate-worker"}\n`;
  return new Response(head ? null : body, {
    status: 200,
    headers: { "Content-Type": JSON_TYPE, ...buildHeaders(cfg) },
  });
}

const PREFLIGHT_HEADERS =
  "Authorization, Content-Type, Content-Encoding, Zap-Trace-Span, Accept, Accept-Encoding, User-Agent";
const EXPOSED_HEADERS =
  "Retry-After, X-Platform-Error-Code, X-Influxdb-Build, X-Influxdb-Version";

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
