// The spool (SPOOL=fallback|always): accepted batches kept durably in a Durable Object with
// SQLite storage, one object per destination (endpoint path + org + bucket), and delivered
// to BACKEND_URL in order by the object's alarm. See worker/README.md, "Spool".
//
// Delivery is at-least-once: a batch is removed only after the backend's 2xx, and that
// removal is synced to storage before the next batch is sent, so a crash re-sends at most
// the one batch whose removal was not confirmed.

import { DurableObject } from "cloudflare:workers";
import { config } from "./config.js";
import { notFound, spoolFull, spoolUnavailable, unauthorized } from "./respond.js";

// Bytes per storage row: Durable Object SQLite values are limited to 2 MB.
const PART = 1 << 20;
// Kept of a dead letter's answer body (it is shown at the admin endpoint).
const ANSWER_MAX = 4096;
// One alarm run delivers for at most this long, then hands over to a fresh alarm.
const RUN_MS = 20_000;
// Longest Retry-After honoured; a longer one waits this long.
const RETRY_AFTER_MAX_MS = 3_600_000;
// Statuses that will not change by sending the same bytes again.
const DEAD = new Set([400, 401, 403, 404, 422]);
// The object that lists the destinations for the admin endpoint.
const INDEX = "\u0000index";

/**
 * The object of a write's destination, and its name (what the admin endpoint shows): path +
 * org + orgID + bucket for /api/v2/write, path + db + rp for v1's /write (what names the
 * bucket there), so order is kept per bucket and one bucket's backlog holds up no other.
 */
export function destination(cfg, url) {
  const q = url.searchParams;
  const name = JSON.stringify(
    url.pathname === "/write"
      ? [url.pathname, q.get("db") ?? "", q.get("rp") ?? ""]
      : [url.pathname, q.get("org") ?? "", q.get("orgID") ?? "", q.get("bucket") ?? ""],
  );
  return { name, stub: cfg.spool.ns.get(cfg.spool.ns.idFromName(name)) };
}

function spooled() {
  return new Response(null, { status: 204, headers: { "X-Linegate-Spooled": "1" } });
}

const full = (retryAfter) => spoolFull(retryAfter);

/**
 * The write path for SPOOL=fallback|always, once the edge check has passed. `batch` is
 * `{ target, headers, body }` (target: path + query string; headers: the forwarded ones);
 * `forward()` sends it to the backend now and resolves with its Response, or null when the
 * backend was unreachable or timed out (write.js logs why).
 */
export async function spoolWrite(cfg, url, batch, log, forward) {
  const { name, stub } = destination(cfg, url);
  if (cfg.spool.mode === "fallback") {
    // Batches already waiting go first: a write sent after one that got the spool's 204
    // must not overtake it.
    let waiting;
    try {
      waiting = await stub.waiting();
    } catch (e) {
      // The object cannot be asked: forward anyway (the backend being up matters more
      // than the order against batches this object may hold).
      log.spool_error = String(e && e.message).slice(0, 200);
      waiting = 0;
    }
    if (waiting === 0) {
      const res = await forward();
      if (res !== null && res.status !== 429 && res.status < 500) return res;
      if (res !== null) {
        log.backend_status = res.status;
        await res.body?.cancel();
      }
    } else {
      log.behind = waiting;
    }
  }
  const t0 = performance.now();
  let held;
  try {
    held = await stub.hold(name, batch.target, batch.headers, batch.body);
  } catch (e) {
    // Not stored, so no 204: the client is asked to retry.
    log.action = "spool_unavailable";
    log.spool_error = String(e && e.message).slice(0, 200);
    return spoolUnavailable(cfg.retryAfter);
  }
  log.spool_ms = Math.round((performance.now() - t0) * 100) / 100;
  if (!held.ok) {
    log.action = "spool_full";
    return full(cfg.retryAfter);
  }
  // The object's storage write is confirmed (hold awaits its sync): the 204 may go.
  log.action = "spooled";
  log.seq = held.seq;
  return spooled();
}

// ---- admin endpoint -------------------------------------------------------------------

const enc = new TextEncoder();
const sha256 = async (s) => new Uint8Array(await crypto.subtle.digest("SHA-256", enc.encode(s)));

async function adminAuthorized(request, token) {
  const m = /^(?:Token|Bearer) +(\S+) *$/.exec(request.headers.get("Authorization") ?? "");
  if (!m) return false;
  // Digests compared in constant time: neither content nor length shows in the timing.
  return crypto.subtle.timingSafeEqual(await sha256(m[1]), await sha256(token));
}

function json(status, value) {
  return new Response(JSON.stringify(value, null, 2) + "\n", {
    status,
    headers: { "Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store" },
  });
}

export const isSpoolAdmin = (pathname) => pathname === "/spool" || pathname.startsWith("/spool/");

/**
 * GET /spool: every destination with its queue and dead letters. POST /spool/replay and
 * /spool/drop with `dest=ID` (and optionally `id=N`, one dead letter): requeue or delete
 * dead letters. Behind `Authorization: Bearer SPOOL_ADMIN_TOKEN`; absent token: no endpoint.
 */
export async function spoolAdmin(request, url, cfg) {
  const s = cfg.spool;
  if (s.adminToken === null || s.ns === null) return notFound();
  if (!(await adminAuthorized(request, s.adminToken))) return unauthorized();
  const action = url.pathname.slice("/spool".length);
  if (action === "" && (request.method === "GET" || request.method === "HEAD")) {
    const index = s.ns.get(s.ns.idFromName(INDEX));
    const destinations = [];
    for (const { id } of await index.destinations()) {
      destinations.push({ id, ...(await s.ns.get(s.ns.idFromString(id)).stats()) });
    }
    return json(200, { destinations });
  }
  if ((action === "/replay" || action === "/drop") && request.method === "POST") {
    const dest = url.searchParams.get("dest") ?? "";
    const id = url.searchParams.get("id");
    if (!/^[0-9a-f]{64}$/.test(dest) || (id !== null && !/^\d+$/.test(id))) {
      return json(400, { error: "want dest=<destination id> and optionally id=<dead letter id>" });
    }
    let stub;
    try {
      stub = s.ns.get(s.ns.idFromString(dest));
    } catch {
      return json(400, { error: "not a destination id of this spool" });
    }
    const which = id === null ? null : Number(id);
    if (action === "/replay") return json(200, { replayed: await stub.replay(which) });
    return json(200, { dropped: await stub.drop(which) });
  }
  return json(404, { error: "GET /spool, POST /spool/replay?dest=ID[&id=N], POST /spool/drop?dest=ID[&id=N]" });
}

// ---- the Durable Object ---------------------------------------------------------------

export class Spool extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS batch (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        ord REAL NOT NULL,            -- delivery order; a 413's halves sit between neighbours
        state TEXT NOT NULL,          -- 'queued' | 'dead'
        received INTEGER NOT NULL,    -- ms since the epoch
        target TEXT NOT NULL,         -- path and query string as received
        headers TEXT NOT NULL,        -- the forwarded headers, JSON
        size INTEGER NOT NULL,
        parts INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        status INTEGER,               -- dead letters: the backend's status, body and when
        answer TEXT,
        dead_at INTEGER
      );
      CREATE INDEX IF NOT EXISTS batch_order ON batch (state, ord);
      CREATE TABLE IF NOT EXISTS part (seq INTEGER NOT NULL, i INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (seq, i));
      CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v);
      CREATE TABLE IF NOT EXISTS dest (id TEXT PRIMARY KEY, name TEXT NOT NULL);
    `);
    const t = this.sql.exec("SELECT count(*) AS n, coalesce(sum(size), 0) AS b, coalesce(max(ord), 0) AS o FROM batch").one();
    this.count = t.n;
    this.bytes = t.b;
    this.maxOrd = t.o;
    this.queued = this.sql.exec("SELECT count(*) AS n FROM batch WHERE state = 'queued'").one().n;
    this.delivering = false;
    // Whether the alarm waits out a backoff (lost on restart: then one early attempt).
    this.backingOff = false;
  }

  meta(k) {
    const r = this.sql.exec("SELECT v FROM meta WHERE k = ?", k).toArray();
    return r.length ? r[0].v : null;
  }

  /** Queued batches (the fallback path forwards directly only when there are none). */
  waiting() {
    return this.queued;
  }

  /** Stores one batch; resolves once the write is on disk. `{ ok, seq }` or `{ ok: false }`. */
  async hold(name, target, headers, body) {
    const s = config(this.env).spool;
    if (this.count + 1 > s.maxBatches || this.bytes + body.length > s.maxBytes) return { ok: false };
    if (this.meta("name") === null) {
      // Listed at the index before the first 204, so the admin endpoint sees every batch.
      await this.env.SPOOL_DO.get(this.env.SPOOL_DO.idFromName(INDEX)).register(this.ctx.id.toString(), name);
      this.sql.exec("INSERT OR REPLACE INTO meta (k, v) VALUES ('name', ?)", name);
    }
    const seq = this.ctx.storage.transactionSync(() => this.insert(++this.maxOrd, Date.now(), target, headers, body));
    this.count++;
    this.bytes += body.length;
    this.queued++;
    // Deliver now, unless a delivery is running or waiting out a backoff (the alarm set to
    // expire dead letters does not count).
    if (!this.delivering && !this.backingOff) {
      const at = await this.ctx.storage.getAlarm();
      if (at === null || at > Date.now()) await this.ctx.storage.setAlarm(Date.now());
    }
    await this.ctx.storage.sync();
    return { ok: true, seq };
  }

  insert(ord, received, target, headers, body) {
    const parts = Math.max(1, Math.ceil(body.length / PART));
    const seq = this.sql
      .exec(
        "INSERT INTO batch (ord, state, received, target, headers, size, parts) VALUES (?, 'queued', ?, ?, ?, ?, ?) RETURNING seq",
        ord, received, target, JSON.stringify(headers), body.length, parts,
      )
      .one().seq;
    for (let i = 0; i < parts; i++) {
      this.sql.exec("INSERT INTO part (seq, i, data) VALUES (?, ?, ?)", seq, i, body.subarray(i * PART, (i + 1) * PART));
    }
    return seq;
  }

  body(row) {
    const out = new Uint8Array(row.size);
    let at = 0;
    for (const { data } of this.sql.exec("SELECT data FROM part WHERE seq = ? ORDER BY i", row.seq)) {
      out.set(new Uint8Array(data), at);
      at += data.byteLength;
    }
    return out;
  }

  remove(row) {
    this.sql.exec("DELETE FROM part WHERE seq = ?", row.seq);
    const n = this.sql.exec("DELETE FROM batch WHERE seq = ?", row.seq).rowsWritten;
    if (n > 0) {
      this.count--;
      this.bytes -= row.size;
      if (row.state === "queued") this.queued--;
    }
  }

  async alarm() {
    if (this.delivering) return;
    this.delivering = true;
    let next;
    try {
      next = await this.run();
    } finally {
      this.delivering = false;
    }
    // hold() leaves the alarm to a running delivery: what it queued since goes now.
    this.backingOff = next.retrying;
    let at = next.at;
    if (!next.retrying && this.queued > 0) at = Date.now();
    if (at !== null) await this.ctx.storage.setAlarm(at);
  }

  /** Delivers from the head until empty, a retry wait or RUN_MS; when to wake up next. */
  async run() {
    const cfg = config(this.env);
    const s = cfg.spool;
    this.purge(s);
    const until = Date.now() + RUN_MS;
    for (;;) {
      const head = this.sql.exec("SELECT * FROM batch WHERE state = 'queued' ORDER BY ord LIMIT 1").toArray()[0];
      if (head === undefined) break;
      const wait = await this.deliver(head, cfg);
      // The removal (or move to the dead letters) is on disk before the next batch goes.
      await this.ctx.storage.sync();
      if (wait !== null) return { at: Date.now() + wait, retrying: true };
      if (Date.now() > until) return { at: Date.now(), retrying: false };
    }
    // Nothing queued: wake up again only to expire dead letters.
    const first = this.sql.exec("SELECT min(dead_at) AS t FROM batch WHERE state = 'dead'").one().t;
    return { at: first === null ? null : first + s.deadLetterMs + 1000, retrying: false };
  }

  purge(s) {
    const before = Date.now() - s.deadLetterMs;
    for (const row of this.sql.exec("SELECT seq, size, state FROM batch WHERE state = 'dead' AND dead_at < ?", before).toArray()) {
      this.remove(row);
    }
  }

  /** One attempt at the head batch: null when done with it, else ms to wait before retrying. */
  async deliver(row, cfg) {
    const s = cfg.spool;
    const attempt = row.attempts + 1;
    const line = { dest: this.ctx.id.toString().slice(0, 16), seq: row.seq, attempt, bytes: row.size };
    const body = this.body(row);
    const headers = JSON.parse(row.headers);
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), cfg.timeoutMs);
    const t0 = Date.now();
    let res = null;
    try {
      if (cfg.backend === null) throw new Error("BACKEND_URL is not set");
      res = await fetch(cfg.backend + row.target, { method: "POST", headers, body, redirect: "manual", signal: abort.signal });
    } catch (e) {
      line.error = abort.signal.aborted ? "backend timeout" : String(e && e.message).slice(0, 200);
    } finally {
      clearTimeout(timer);
    }
    line.ms = Date.now() - t0;
    let wait = null;
    if (res === null) {
      wait = this.retry(row, s, null, line);
    } else {
      line.status = res.status;
      if (res.status >= 200 && res.status < 300) {
        await res.body?.cancel();
        this.ctx.storage.transactionSync(() => this.remove(row));
        line.outcome = "delivered";
      } else if (res.status === 413) {
        // Kept in case the batch cannot be split: then it is a dead letter with this body.
        await this.split(row, headers, body, line, await answerText(res, ANSWER_MAX));
      } else if (DEAD.has(res.status) || (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429)) {
        this.dead(row, res.status, await answerText(res, ANSWER_MAX));
        line.outcome = "dead";
      } else {
        await res.body?.cancel();
        wait = this.retry(row, s, res.headers.get("Retry-After"), line);
      }
    }
    // One line per delivery attempt: never the token, the query string or the body.
    console.log(JSON.stringify({ linegate_spool: line }));
    return wait;
  }

  retry(row, s, retryAfter, line) {
    this.sql.exec("UPDATE batch SET attempts = attempts + 1 WHERE seq = ?", row.seq);
    // Exponential backoff with "equal jitter": between half and all of the step.
    const step = Math.min(s.backoffCapMs, s.backoffBaseMs * 2 ** Math.min(row.attempts, 30));
    let wait = Math.round(step / 2 + (Math.random() * step) / 2);
    const ra = retryAfterMs(retryAfter);
    if (ra !== null) wait = Math.max(wait, Math.min(ra, RETRY_AFTER_MAX_MS));
    line.outcome = "retry";
    line.retry_in_ms = wait;
    return wait;
  }

  dead(row, status, answer) {
    this.sql.exec(
      "UPDATE batch SET state = 'dead', status = ?, answer = ?, dead_at = ?, attempts = attempts + 1 WHERE seq = ?",
      status, answer, Date.now(), row.seq,
    );
    this.queued--;
  }

  // 413: the batch is cut in two on a line boundary and both halves go in its place (as
  // Telegraf does). A gzip body is decoded first and its halves are sent plain, without
  // Content-Encoding: recompressing would cost CPU the edge does not need to spend. Whether
  // the body is gzip was the edge check's decision; here the bytes tell: with a
  // Content-Encoding, a body that decodes as gzip members was gzip, one that does not is the
  // plain text the check accepted (its halves keep the header, meaning the same to the
  // backend as it did for the whole).
  async split(row, headers, body, line, answer) {
    let plain = body;
    let h = headers;
    const enc = Object.keys(headers).find((k) => k.toLowerCase() === "content-encoding");
    if (enc !== undefined) {
      const decoded = await gunzip(body);
      if (decoded !== null) {
        plain = decoded;
        h = { ...headers };
        delete h[enc];
      } else if (body[0] === 0x1f && body[1] === 0x8b) {
        plain = null; // gzip that this decoder cannot take apart: kept whole, not mangled
      }
    }
    const cut = plain === null ? -1 : lineCut(plain);
    if (cut < 0) {
      // The backend's own 413 body; the log line says why it could not be split.
      this.dead(row, 413, answer);
      line.unsplittable = plain === null ? "gzip not decodable" : "one line";
      line.outcome = "dead";
      return;
    }
    const next = this.sql.exec("SELECT min(ord) AS o FROM batch WHERE ord > ?", row.ord).one().o;
    const ord2 = next === null ? row.ord + 1 : (row.ord + next) / 2;
    this.ctx.storage.transactionSync(() => {
      this.remove(row);
      this.insert(row.ord, row.received, row.target, h, plain.subarray(0, cut));
      this.insert(ord2, row.received, row.target, h, plain.subarray(cut));
    });
    this.count += 2;
    this.queued += 2;
    this.bytes += plain.length;
    line.outcome = "split";
    line.halves = [cut, plain.length - cut];
  }

  /** Admin: what this destination holds. */
  stats() {
    this.purge(config(this.env).spool);
    const now = Date.now();
    const q = this.sql
      .exec("SELECT count(*) AS n, coalesce(sum(size), 0) AS b, min(received) AS oldest, max(attempts) AS attempts FROM batch WHERE state = 'queued'")
      .one();
    const dead = this.sql
      .exec("SELECT seq, received, size, status, answer, dead_at, attempts FROM batch WHERE state = 'dead' ORDER BY ord")
      .toArray()
      .map((d) => ({ id: d.seq, status: d.status, body: d.answer, bytes: d.size, attempts: d.attempts, received: new Date(d.received).toISOString(), dead_at: new Date(d.dead_at).toISOString() }));
    const name = this.meta("name");
    const parts = name === null ? [] : JSON.parse(name);
    const where =
      parts[0] === "/write"
        ? { path: parts[0], db: parts[1], rp: parts[2] }
        : { path: parts[0], org: parts[1], orgID: parts[2], bucket: parts[3] };
    return {
      ...where,
      queued: q.n,
      queued_bytes: q.b,
      oldest_age_s: q.oldest === null ? null : Math.round((now - q.oldest) / 1000),
      head_attempts: q.attempts ?? 0,
      dead_letters: dead.length,
      dead,
    };
  }

  /** Admin: dead letters (one, or all) back in the queue, after what is queued now. */
  async replay(id) {
    const rows = this.sql.exec("SELECT seq FROM batch WHERE state = 'dead' AND (? IS NULL OR seq = ?) ORDER BY ord", id, id).toArray();
    this.ctx.storage.transactionSync(() => {
      for (const { seq } of rows) {
        this.sql.exec("UPDATE batch SET state = 'queued', ord = ?, attempts = 0, status = NULL, answer = NULL, dead_at = NULL WHERE seq = ?", ++this.maxOrd, seq);
      }
    });
    this.queued += rows.length;
    if (rows.length > 0 && !this.delivering) await this.ctx.storage.setAlarm(Date.now());
    await this.ctx.storage.sync();
    return rows.length;
  }

  /** Admin: delete dead letters (one, or all). */
  async drop(id) {
    const rows = this.sql.exec("SELECT seq, size, state FROM batch WHERE state = 'dead' AND (? IS NULL OR seq = ?)", id, id).toArray();
    this.ctx.storage.transactionSync(() => rows.forEach((r) => this.remove(r)));
    await this.ctx.storage.sync();
    return rows.length;
  }

  // The index object (named INDEX) lists the destinations that ever held a batch.
  register(id, name) {
    this.sql.exec("INSERT OR IGNORE INTO dest (id, name) VALUES (?, ?)", id, name);
  }

  destinations() {
    return this.sql.exec("SELECT id, name FROM dest ORDER BY name").toArray();
  }
}

// The cut after the newline nearest the middle (so both halves are whole lines), or -1
// when the body is one line.
function lineCut(b) {
  const mid = b.length >> 1;
  let i = b.lastIndexOf(0x0a, mid);
  if (i >= 0 && i + 1 < b.length) return i + 1;
  i = b.indexOf(0x0a, mid);
  return i >= 0 && i + 1 < b.length ? i + 1 : -1;
}

async function inflate(bytes) {
  const out = new Response(new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip")));
  return new Uint8Array(await out.arrayBuffer());
}

// Gzip members decoded and joined (Go's reader, hence InfluxDB, takes several members one
// after the other; DecompressionStream takes one): null when the bytes are not that.
const MEMBERS_MAX = 64;
async function gunzip(b) {
  const out = [];
  let start = 0;
  next: while (start < b.length) {
    if (out.length === MEMBERS_MAX) return null;
    try {
      out.push(await inflate(b.subarray(start)));
      break;
    } catch {}
    // Several members: the first one ends where a decodable prefix ends at a member header.
    for (let i = b.indexOf(0x1f, start + 18); i >= 0 && i + 3 <= b.length; i = b.indexOf(0x1f, i + 1)) {
      if (b[i + 1] !== 0x8b || b[i + 2] !== 8) continue;
      try {
        out.push(await inflate(b.subarray(start, i)));
        start = i;
        continue next;
      } catch {}
    }
    return null;
  }
  const all = new Uint8Array(out.reduce((a, x) => a + x.length, 0));
  let at = 0;
  for (const x of out) {
    all.set(x, at);
    at += x.length;
  }
  return all;
}

// At most `max` bytes of an answer's body, as text; the rest is not read.
async function answerText(res, max) {
  if (res.body === null) return "";
  const reader = res.body.getReader();
  const chunks = [];
  let n = 0;
  while (n < max) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    n += value.length;
  }
  await reader.cancel().catch(() => {});
  const all = new Uint8Array(Math.min(n, max));
  let at = 0;
  for (const c of chunks) {
    const take = Math.min(c.length, all.length - at);
    all.set(c.subarray(0, take), at);
    at += take;
  }
  return new TextDecoder().decode(all);
}

// Retry-After: delay-seconds or an HTTP date.
function retryAfterMs(v) {
  if (v === null) return null;
  const s = v.trim();
  if (/^\d+$/.test(s)) return Number(s) * 1000;
  const t = Date.parse(s);
  return Number.isNaN(t) ? null : Math.max(0, t - Date.now());
}
