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
    influxVersion: str(env.INFLUX_VERSION) || "v2.9.1",
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
    key: str(env.SPOOL_KEY) || null,
    // Without EDGE_TOKENS the spool refuses writes unless this says it may run open.
    open: onOff(env, "SPOOL_OPEN"),
  });
}

