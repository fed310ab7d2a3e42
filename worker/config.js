// Worker settings from `env` (wrangler.toml [vars], `--var`, secrets), parsed once per env.

const MiB = 1024 * 1024;

// Defaults sized for the Worker's 128 MB, from measurements of the package (see
// worker/README.md): a body is held in JS (it is what gets forwarded) and copied into wasm
// memory; inflating gzip peaks at about 4x the decoded size in wasm memory when the body is
// small (the output buffer doubles and the freed steps are not reused). Worst case at these
// defaults: 16 MiB JS + ~65 MiB wasm, under 128 MB with room for the runtime.
export const DEFAULTS = Object.freeze({
  maxBody: 16 * MiB,
  maxBatch: 16 * MiB,
  maxMessage: 1 * MiB,
  timeoutMs: 30_000,
  retryAfter: 5,
  // Body bytes all writes of one isolate may hold at once (issue 25 item 8): three bodies
  // at the default MAX_BODY_BYTES, so that with the wasm memory (~65 MiB at worst, see
  // above) and the runtime an isolate stays inside its 128 MB under any concurrency.
  bodyBudget: 48 * MiB,
});

const cache = new WeakMap();

export function config(env) {
  let c = cache.get(env);
  if (!c) {
    c = parse(env);
    cache.set(env, c);
  }
  return c;
}

function parse(env) {
  return Object.freeze({
    backend: backendUrl(env.BACKEND_URL),
    maxBody: count(env, "MAX_BODY_BYTES", DEFAULTS.maxBody),
    maxBatch: count(env, "MAX_BATCH_BYTES", DEFAULTS.maxBatch),
    maxMessage: count(env, "MAX_MESSAGE_BYTES", DEFAULTS.maxMessage),
    timeoutMs: count(env, "BACKEND_TIMEOUT_MS", DEFAULTS.timeoutMs),
    retryAfter: count(env, "RETRY_AFTER_SECONDS", DEFAULTS.retryAfter),
    corsOrigins: list(env.CORS_ORIGINS),
    edgeTokens: edgeTokens(env.EDGE_TOKENS),
    // Absent: core's InfluxDB version (the package's answer() fills it in).
    influxVersion: str(env.INFLUX_VERSION) || undefined,
    // What BACKEND_URL is: influxdb2 (linegate-backend or InfluxDB OSS v2), influxdb1 or
    // victoriametrics; its rules are the core's, through the package (worker/README.md).
    backendKind: backendKind(env.BACKEND_KIND),
    // /ping, /health, /ready: the backend's own answers ("backend", the default in front of
    // InfluxDB 1.x and VictoriaMetrics) or the edge's InfluxDB v2 answers with /health
    // failing while the backend cannot be reached ("edge", the default for influxdb2).
    probes: probes(env),
    spool: spoolSettings(env),
    quota: quotaSettings(env),
    bodyBudget: count(env, "BODY_BUDGET_BYTES", DEFAULTS.bodyBudget),
    partialWrites: partialWrites(env),
    quarantine: Object.freeze({
      maxBytes: count(env, "QUARANTINE_MAX_BYTES", 64 * MiB),
      maxAgeMs: count(env, "QUARANTINE_HOURS", 168) * 3_600_000,
    }),
    // Requests the Worker does not check go to the backend unchanged (worker/forward.js).
    passThrough: str(env.PASS_THROUGH).toLowerCase() !== "off",
  });
}

// SPOOL=off|fallback|always and its bounds (worker/README.md, "Spool").
export const SPOOL_DEFAULTS = Object.freeze({
  maxBytes: 1024 * MiB,
  maxBatches: 100_000,
  backoffBaseMs: 1_000,
  backoffCapMs: 300_000,
  // A batch failing in a way that may be its own fault (500, 408...) is a dead letter after
  // this many such failures once the first is this old (linegate-core's delivery policy).
  maxStrikes: 10,
  maxStrikeAgeMs: 600_000,
  deadLetterHours: 168,
  // Spool-wide bounds, kept by the index object: destinations holding batches, and bytes.
  maxDestinations: 100,
  maxTotalBytes: 4096 * MiB,
});

function spoolSettings(env) {
  const mode = str(env.SPOOL) || "off";
  if (!["off", "fallback", "always"].includes(mode)) {
    throw new ConfigError(`SPOOL must be off, fallback or always, got ${JSON.stringify(mode)}`);
  }
  const ns = env.SPOOL_DO ?? null;
  if (mode !== "off" && ns === null) {
    throw new ConfigError("SPOOL needs the SPOOL_DO Durable Object binding (wrangler.toml)");
  }
  // The credentials kept with each batch (Authorization, v1's p=) are sealed under
  // SPOOL_KEY; without it a spool mode is a configuration error (500 on every request,
  // logged) unless the operator says plain text is fine (SPOOL_PLAINTEXT_SECRETS=on).
  const key = str(env.SPOOL_KEY) || null;
  const plaintext = onOff(env, "SPOOL_PLAINTEXT_SECRETS");
  if (mode !== "off" && key === null && !plaintext) {
    throw new ConfigError(
      `SPOOL=${mode} keeps each batch's credentials: set the secret SPOOL_KEY to seal them ` +
        "(wrangler secret put SPOOL_KEY; locally .dev.vars or --var), or SPOOL_PLAINTEXT_SECRETS=on to keep them in plain text",
    );
  }
  const d = SPOOL_DEFAULTS;
  return Object.freeze({
    mode,
    ns,
    maxBytes: count(env, "SPOOL_MAX_BYTES", d.maxBytes),
    maxBatches: count(env, "SPOOL_MAX_BATCHES", d.maxBatches),
    backoffBaseMs: count(env, "SPOOL_BACKOFF_BASE_MS", d.backoffBaseMs),
    backoffCapMs: count(env, "SPOOL_BACKOFF_CAP_MS", d.backoffCapMs),
    maxStrikes: count(env, "SPOOL_MAX_STRIKES", d.maxStrikes),
    maxStrikeAgeMs: count(env, "SPOOL_MAX_STRIKE_AGE_MS", d.maxStrikeAgeMs),
    deadLetterMs: count(env, "SPOOL_DEAD_LETTER_HOURS", d.deadLetterHours) * 3_600_000,
    maxDestinations: count(env, "SPOOL_MAX_DESTINATIONS", d.maxDestinations),
    maxTotalBytes: count(env, "SPOOL_MAX_TOTAL_BYTES", d.maxTotalBytes),
    adminToken: str(env.SPOOL_ADMIN_TOKEN) || null,
    // Seals the credentials kept with each batch (worker/spool/secrets.js).
    key,
    plaintext,
    // Without EDGE_TOKENS the spool refuses writes unless this says it may run open.
    open: onOff(env, "SPOOL_OPEN"),
  });
}

function probes(env) {
  // The backend's answers by default, whatever its kind (issue 24: a client asks the edge
  // about the database behind it); `edge` keeps the edge's own.
  const p = str(env.PROBES) || "backend";
  if (p !== "edge" && p !== "backend") {
    throw new ConfigError(`PROBES must be edge or backend, got ${JSON.stringify(p)}`);
  }
  return p;
}

const KINDS = ["influxdb2", "influxdb1", "victoriametrics"];

function backendKind(v) {
  const k = str(v) || "influxdb2";
  if (!KINDS.includes(k)) {
    throw new ConfigError(`BACKEND_KIND must be ${KINDS.join(", ")}, got ${JSON.stringify(k)}`);
  }
  return k;
}

// PARTIAL_WRITES=off|request|always (spec Part D.1): the rejected lines are kept in the
// destination's spool object, so the switch needs its binding even with SPOOL=off.
function partialWrites(env) {
  const mode = str(env.PARTIAL_WRITES) || "off";
  if (!["off", "request", "always"].includes(mode)) {
    throw new ConfigError(`PARTIAL_WRITES must be off, request or always, got ${JSON.stringify(mode)}`);
  }
  if (mode !== "off" && (env.SPOOL_DO ?? null) === null) {
    throw new ConfigError("PARTIAL_WRITES needs the SPOOL_DO Durable Object binding (wrangler.toml)");
  }
  return mode;
}

// QUOTA_WRITE_BYTES and QUOTA_SERIES (spec D.2; unset: off), kept in QUOTA_DO objects.
function quotaSettings(env) {
  const optional = (name) => (str(env[name]) === "" ? null : count(env, name, null));
  const writeBytes = optional("QUOTA_WRITE_BYTES");
  const series = optional("QUOTA_SERIES");
  const ns = env.QUOTA_DO ?? null;
  if ((writeBytes !== null || series !== null) && ns === null) {
    throw new ConfigError("QUOTA_WRITE_BYTES and QUOTA_SERIES need the QUOTA_DO Durable Object binding (wrangler.toml)");
  }
  return Object.freeze({
    on: writeBytes !== null || series !== null,
    writeBytes,
    series,
    ns,
    adminToken: str(env.QUOTA_ADMIN_TOKEN) || null,
    // Added to the quota clock (tests only: a window boundary on demand).
    clockOffsetMs: count(env, "QUOTA_CLOCK_OFFSET_MS", 0),
  });
}

function onOff(env, name) {
  const v = str(env[name]) || "off";
  if (v !== "on" && v !== "off") throw new ConfigError(`${name} must be on or off, got ${JSON.stringify(v)}`);
  return v === "on";
}

function str(v) {
  return v === undefined || v === null ? "" : String(v).trim();
}

// A misconfigured limit must fail loudly, not silently fall back to a default.
function count(env, name, dflt) {
  const v = env[name];
  if (typeof v === "number" && Number.isSafeInteger(v) && v >= 0) return v;
  const s = str(v);
  if (s === "") return dflt;
  if (!/^\d+$/.test(s) || !Number.isSafeInteger(Number(s))) {
    throw new ConfigError(`${name} must be a whole number, got ${JSON.stringify(s)}`);
  }
  return Number(s);
}

function list(v) {
  return str(v)
    .split(/[\s,]+/)
    .filter((x) => x !== "");
}

// Unset or empty: edge authentication is off. Set to anything that names no token (" , "):
// a mistake that must not silently turn it off, so every request fails (500, logged) until
// it is fixed.
function edgeTokens(v) {
  if (v === undefined || v === null || v === "") return [];
  const tokens = list(v);
  if (tokens.length === 0) {
    throw new ConfigError("EDGE_TOKENS is set but names no token: unset it or list tokens");
  }
  return tokens;
}

function backendUrl(v) {
  const s = str(v);
  if (s === "") return null;
  let u;
  try {
    u = new URL(s);
  } catch {
    throw new ConfigError("BACKEND_URL is not a URL");
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") {
    throw new ConfigError("BACKEND_URL must be http: or https:");
  }
  // The request's path is appended, so a base path like https://host/influx is kept.
  return u.origin + u.pathname.replace(/\/+$/, "");
}

export class ConfigError extends Error {}
