// Write quotas (spec Part D.2) at the edge: QUOTA_WRITE_BYTES (bytes per tenant and 300 s
// window) and QUOTA_SERIES (distinct series per bucket). Counters and series sets live in
// Durable Objects with SQLite storage — one object per tenant for the rate, one per bucket
// for the series — so the check and the count are atomic (an object runs one call at a
// time) and survive restarts. Every decision and every answer is core's (the package's
// checkRate, countRate, admitSeries, answer); this file only moves counts. See
// worker/README.md, "Quotas".

import { DurableObject } from "cloudflare:workers";
import { admitSeries, answer, checkRate, countRate, KnownSeries, quotaNames, SERIES_HASH_VERSION } from "./linegate.js";
import { adminAuthorized } from "./auth.js";
import { notFound, unauthorized } from "./respond.js";
import { config } from "./config.js";

// The object that lists the others for the admin endpoint.
const INDEX = "\u0000index";

const stubOf = (cfg, name) => cfg.quota.ns.get(cfg.quota.ns.idFromName(name));

const toResponse = (a) => new Response(a.body, { status: a.status, headers: a.headers });


// Series this isolate knows are admitted, each under its bucket: a batch whose distinct
// series are all here needs no object call. Admitted series are never removed from a set (no
// route deletes them), and only what an object answered as admitted (or known) is put here,
// so the object stays the authority for every new series and N still holds across isolates.
// The set is the package's KnownSeries, held in wasm and asked about the checker's series
// there (a batch of known series hands no hash to JS); one set for every bucket, so one
// bound: when a batch's new series would pass KNOWN_MAX, it is dropped whole (core's rule;
// the next batches ask the objects again).
export const KNOWN_MAX = 200_000;
let known = null;
const knownSet = () => (known ??= new KnownSeries(KNOWN_MAX));

/**
 * Before the body is read: the quota names of the request, and the rate's 429 when its
 * tenant is at or above QUOTA_WRITE_BYTES in this window (`response`, else null). A head
 * InfluxDB answers first (no credentials, precision, bucket, org) gets no names: the usual
 * check answers it.
 */
export async function beforeBody(cfg, url, auth, contentEncoding, log) {
  const names = quotaNames({
    endpoint: url.pathname,
    query: url.search.slice(1),
    headers: { authorization: auth ?? undefined, "content-encoding": contentEncoding ?? undefined },
  });
  if (names === null || cfg.quota.writeBytes === null) return { names, response: null };
  const t0 = performance.now();
  const a = await stubOf(cfg, `rate ${names.tenant}`).check(names.tenant, cfg.quota.writeBytes);
  log.quota_ms = round(performance.now() - t0);
  if (a === null) return { names, response: null };
  log.action = "throttled";
  log.code = "too many requests";
  return { names, response: toResponse(a) };
}

/**
 * After the check passed, before forwarding: the batch's distinct series (held in the
 * checker, `series: "held"`) admitted against the bucket's set. Those this isolate knows
 * are not asked again; the others go to the object as hex hashes. When one does not fit,
 * nothing is added; a write that is not partial gets the series 429 (`response`), a partial
 * one has the lines of the refused series moved to its rejected lines (the checker's
 * `refuseSeries`, core's decision) and the series left are admitted again (the set may
 * have filled meanwhile). `{ response, verdict }`: the answer to give now, else null and
 * the verdict to go on with.
 */
export async function admitBatch(cfg, names, checker, verdict, log) {
  const t0 = performance.now();
  let v = verdict;
  log.series_calls = 0;
  try {
    for (;;) {
      // The indices (into the checker's series) of those this isolate does not know.
      const at = checker.unknownSeries(knownSet(), names.bucket);
      if (at.length === 0) return { response: null, verdict: v };
      const hashes = checker.seriesHashes(at);
      log.series_calls++;
      log.series_asked = (log.series_asked ?? 0) + hashes.length;
      const refused = await stubOf(cfg, `series ${names.bucket}`).admit(names.bucket, hashes, cfg.quota.series);
      if (refused.length === 0) {
        knownSet().remember(checker, names.bucket);
        return { response: null, verdict: v };
      }
      log.refused = (log.refused ?? 0) + refused.length;
      const again = checker.refuseSeries(refused.map((i) => at[i]));
      if (again === null || (again.action === "reject" && again.status === 429)) {
        log.action = "series_refused";
        log.code = "too many requests";
        return { response: toResponse(answer("series-quota")), verdict: null };
      }
      v = again;
      // No line left but the parser rejected some: its 400, as the caller answers it.
      if (v.action === "reject") return { response: null, verdict: v };
    }
  } finally {
    log.series_ms = round(performance.now() - t0);
  }
}

/** Once the batch was stored or spooled (a 2xx): its decoded bytes count for its tenant. */
export async function countBytes(cfg, names, bytes, log) {
  if (cfg.quota.writeBytes === null || names === null) return;
  try {
    await stubOf(cfg, `rate ${names.tenant}`).count(names.tenant, bytes);
  } catch (e) {
    // The write is stored; a count that failed lets the tenant run over, never blocks it.
    log.quota_error = String(e && e.message).slice(0, 200);
  }
}

// ---- admin endpoint -------------------------------------------------------------------

export const isQuotaAdmin = (pathname) => pathname === "/quota";

/** GET /quota: every tenant's bytes in its window and every bucket's series, behind QUOTA_ADMIN_TOKEN. */
export async function quotaAdmin(request, cfg) {
  const q = cfg.quota;
  if (q.adminToken === null || q.ns === null) return notFound();
  if (!(await adminAuthorized(request, q.adminToken))) return unauthorized();
  const tenants = [];
  const buckets = [];
  for (const { id } of await stubOf(cfg, INDEX).list()) {
    const s = await q.ns.get(q.ns.idFromString(id)).stats();
    (s.kind === "rate" ? tenants : buckets).push(s);
  }
  const body = {
    window_secs: 300,
    quota_write_bytes: q.writeBytes,
    quota_series: q.series,
    tenants,
    buckets,
  };
  return new Response(JSON.stringify(body, null, 2) + "\n", {
    headers: { "Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store" },
  });
}

// ---- the Durable Object ---------------------------------------------------------------

export class Quota extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v);
      CREATE TABLE IF NOT EXISTS series (hash TEXT PRIMARY KEY) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS listed (id TEXT PRIMARY KEY, name TEXT NOT NULL) WITHOUT ROWID;
    `);
    this.rehash();
  }

  // A set of another hash version (version 1: FNV-1a, before it was recorded) cannot be
  // converted: the object keeps no keys. Its count is kept, so never more than N series are
  // admitted in total, and a new set starts: a series known before counts once more the
  // first time it comes again. Logged once, when the set is dropped.
  rehash() {
    const had = this.meta("series_hash", null);
    if (had === SERIES_HASH_VERSION) return;
    const old = this.sql.exec("SELECT COUNT(*) AS n FROM series").one().n;
    this.ctx.storage.transactionSync(() => {
      if (old > 0) this.sql.exec("DELETE FROM series");
      this.setMeta("series_hash", SERIES_HASH_VERSION);
    });
    if (old > 0) {
      const msg = "series quota: a set of an older series hash was dropped (its count kept; its series count once more)";
      console.warn(JSON.stringify({ linegate_quota: { msg, bucket: this.meta("name", ""), dropped: old, from_version: had ?? 1, count: this.meta("count", 0) } }));
    }
  }

  now() {
    return Date.now() + config(this.env).quota.clockOffsetMs;
  }

  usage() {
    return { window: this.meta("window", 0), bytes: this.meta("bytes", 0) };
  }

  meta(k, dflt) {
    const r = this.sql.exec("SELECT v FROM meta WHERE k = ?", k).toArray();
    return r.length ? r[0].v : dflt;
  }

  setMeta(k, v) {
    this.sql.exec("INSERT OR REPLACE INTO meta (k, v) VALUES (?, ?)", k, v);
  }

  // Listed at the index on first use, so the admin endpoint finds every object.
  async named(kind, name) {
    if (this.meta("kind", null) !== null) return;
    await this.env.QUOTA_DO.get(this.env.QUOTA_DO.idFromName(INDEX)).register(this.ctx.id.toString(), `${kind} ${name}`);
    this.setMeta("kind", kind);
    this.setMeta("name", name);
  }

  /** The rate decision: null, or the 429 `{ status, headers, body }` (core's). */
  async check(tenant, limit) {
    const a = checkRate(tenant, this.usage(), limit, this.now());
    if (a !== null) this.setMeta("throttled", this.meta("throttled", 0) + 1);
    return a;
  }

  /** Counts a stored batch's decoded bytes in the current window. */
  async count(tenant, bytes) {
    await this.named("rate", tenant);
    const u = countRate(this.usage(), bytes, this.now());
    this.ctx.storage.transactionSync(() => {
      this.setMeta("window", u.window);
      this.setMeta("bytes", u.bytes);
    });
  }

  /**
   * Admits a batch's distinct series in input order (core's admitSeries) and adds the new
   * ones that fit, in one transaction; returns the indices of those refused (empty: go on).
   * A batch with a refused series adds none (a partial write comes again without them).
   */
  async admit(bucket, hashes, limit) {
    await this.named("series", bucket);
    // One statement for the whole batch (a lookup per series costs ~6 µs each).
    const found = new Set();
    for (const r of this.sql.exec("SELECT s.hash FROM json_each(?) j JOIN series s ON s.hash = j.value", JSON.stringify(hashes))) {
      found.add(r.hash);
    }
    const known = Uint8Array.from(hashes, (h) => (found.has(h) ? 1 : 0));
    const a = admitSeries(known, this.meta("count", 0), limit, { partial: true });
    if (a.refused > 0) {
      this.setMeta("refused", this.meta("refused", 0) + 1);
      return Array.from(a.refusedAt);
    }
    if (a.add.length > 0) {
      this.ctx.storage.transactionSync(() => {
        for (const i of a.add) this.sql.exec("INSERT INTO series (hash) VALUES (?)", hashes[i]);
        this.setMeta("count", this.meta("count", 0) + a.add.length);
      });
    }
    return [];
  }

  /** What the admin endpoint shows of this object. */
  stats() {
    const kind = this.meta("kind", null);
    const name = this.meta("name", "");
    if (kind === "rate") {
      const u = countRate(this.usage(), 0, this.now());
      return { kind, tenant: name, window_start: u.window, bytes: u.bytes, throttled: this.meta("throttled", 0) };
    }
    return { kind, bucket: name, series: this.meta("count", 0), refused: this.meta("refused", 0) };
  }

  // The index object's side.
  register(id, name) {
    this.sql.exec("INSERT OR IGNORE INTO listed (id, name) VALUES (?, ?)", id, name);
  }

  list() {
    return this.sql.exec("SELECT id, name FROM listed ORDER BY name").toArray();
  }
}

function round(ms) {
  return Math.round(ms * 100) / 100;
}
