// The spool's Durable Object: one per destination, holding its batches in SQLite (store.js)
// and delivering them in order from its alarm, one attempt at a time (deliver.js), doing
// what the package's delivery policy decides. One object, named INDEX, lists the
// destinations for the admin endpoint and grants each the bytes it may hold, so the whole
// spool stays within SPOOL_MAX_DESTINATIONS and SPOOL_MAX_TOTAL_BYTES.
//
// Delivery is at-least-once: a batch is removed only after the backend's 2xx, and that
// removal is synced to storage before the next batch is sent, so a crash re-sends at most
// the one batch whose removal was not confirmed. Each attempt is recorded before it is
// made, so full storage stops delivery instead of repeating it: a removal that storage
// refuses is retried before anything else is sent, never by sending the batch again.

import { DurableObject } from "cloudflare:workers";
import { config } from "../config.js";
import { Store } from "./store.js";
import { attempt, header } from "./deliver.js";
import { seal, unseal } from "./secrets.js";
import { withNewBatchId } from "./batch-id.js";
import { Quarantine } from "./quarantine.js";

// The object that lists the destinations and holds the spool-wide byte budget.
export const INDEX = "\u0000index";
// One alarm run delivers for at most this long, then hands over to a fresh alarm.
const RUN_MS = 20_000;
// After a run failed on storage (or anything unforeseen): the next one this much later.
const RESCUE_MS = 5_000;
// Bytes a destination asks the index for beyond what it needs, so the index is asked
// rarely: 8 MiB, or a 64th of the whole spool's budget when that is smaller.
const block = (s) => Math.min(8 << 20, Math.floor(s.maxTotalBytes / 64));

const message = (e) => String(e && e.message).slice(0, 200);

/** The delivery policy's knobs from the Worker's settings (worker/README.md, "Spool"). */
function policy(cfg) {
  const s = cfg.spool;
  return {
    backoffBaseMs: s.backoffBaseMs,
    backoffCapMs: s.backoffCapMs,
    maxStrikes: s.maxStrikes,
    maxStrikeAgeMs: s.maxStrikeAgeMs,
    // A gzip batch split on 413 is decoded within the edge's own decompressed limit.
    splitLimit: cfg.maxBatch,
  };
}

export class Spool extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.store = new Store(ctx.storage.sql);
    this.store.collect();
    this.quarantine = new Quarantine(ctx.storage.sql);
    const t = this.store.totals();
    this.count = t.count;
    this.bytes = t.bytes;
    this.maxOrd = t.maxOrd;
    this.queued = t.queued;
    // Bytes the index granted this destination (kept here too, to ask it only once per block).
    this.reserved = Number(this.store.meta("reserved") ?? 0);
    this.delivering = false;
    // Whether the alarm waits out a backoff (lost on restart: then one early attempt).
    this.backingOff = false;
    // A delivered batch whose removal storage refused: removed before anything is sent.
    this.unrecorded = null;
    // A delivered batch whose parts are still stored: they go with the next attempt's record.
    this.garbage = null;
  }

  index() {
    return this.env.SPOOL_DO.get(this.env.SPOOL_DO.idFromName(INDEX));
  }

  /** Queued batches (the fallback path forwards directly only when there are none). */
  waiting() {
    return this.queued;
  }

  /** Stores one batch; resolves once the write is on disk. `{ ok, seq }` or `{ ok: false }`. */
  async hold(name, target, headers, body) {
    const cfg = config(this.env);
    const s = cfg.spool;
    // Sealed first: the checks below and the insert then run with no await between them
    // but the index's (after which they are made again).
    const sealedTarget = await seal(cfg, target);
    const sealedHeaders = await seal(cfg, JSON.stringify(headers));
    const fits = () => this.count + 1 <= s.maxBatches && this.bytes + body.length <= s.maxBytes;
    if (!fits()) return { ok: false };
    if (this.bytes + body.length > this.reserved) {
      // Room from the spool-wide budget (the first time, this also lists the destination
      // at the index, before its first 204, so the admin endpoint sees every batch).
      const need = this.bytes + body.length;
      const granted = await this.index().reserve(this.ctx.id.toString(), name, need, Math.min(s.maxBytes, need + block(s)));
      if (granted === null) return { ok: false };
      this.reserved = Math.max(this.reserved, granted);
      this.store.setMeta("reserved", this.reserved);
      if (!fits() || this.bytes + body.length > this.reserved) return { ok: false };
    }
    if (this.store.meta("name") === null) this.store.setMeta("name", name);
    const seq = this.ctx.storage.transactionSync(() =>
      this.store.insert(this.maxOrd + 1, Date.now(), sealedTarget, sealedHeaders, body),
    );
    this.maxOrd++;
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

  // Never throws: a run that fails (storage full, anything unforeseen) is logged and the
  // next one is set, so workerd never gives up on this destination's alarm.
  async alarm() {
    try {
      await this.deliverAll();
    } catch (e) {
      this.log({ outcome: "run_failed", error: message(e) });
      try {
        await this.ctx.storage.setAlarm(Date.now() + RESCUE_MS);
      } catch {}
    }
  }

  async deliverAll() {
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
    await this.release();
  }

  /** Delivers from the head until empty, a retry wait or RUN_MS; when to wake up next. */
  async run() {
    const cfg = config(this.env);
    const s = cfg.spool;
    this.purge(s);
    const until = Date.now() + RUN_MS;
    for (;;) {
      if (this.unrecorded !== null && !this.tryRemove(this.unrecorded, true)) {
        return { at: Date.now() + RESCUE_MS, retrying: true };
      }
      const head = this.store.head();
      if (head === undefined) break;
      const wait = await this.deliver(head, cfg);
      // What the attempt left (a removal, a dead letter, halves) is on disk before the next
      // batch goes: synced here when the run stops, else with the next attempt's record.
      if (wait !== null) {
        await this.ctx.storage.sync();
        return { at: Date.now() + wait, retrying: true };
      }
      if (Date.now() > until) {
        await this.ctx.storage.sync();
        return { at: Date.now(), retrying: false };
      }
    }
    await this.ctx.storage.sync();
    // Nothing queued: wake up again only to expire dead letters.
    const first = this.store.firstDeadAt();
    return { at: first === null ? null : first + s.deadLetterMs + 1000, retrying: false };
  }

  log(line) {
    console.log(JSON.stringify({ linegate_spool: { dest: this.ctx.id.toString().slice(0, 16), ...line } }));
  }

  /** One attempt at the head batch: null when done with it, else ms to wait before retrying. */
  async deliver(row, cfg) {
    // One log line per attempt: never the token, the query string or the body.
    const line = { seq: row.seq, attempt: row.attempts + 1, bytes: row.size };
    const history = { attempts: row.attempts, strikes: row.strikes, firstStrikeMs: row.first_strike };
    let batch;
    try {
      batch = {
        target: await unseal(cfg, row.target),
        headers: JSON.parse(await unseal(cfg, row.headers)),
        body: this.store.body(row),
        history,
      };
    } catch (e) {
      // Sealed under another SPOOL_KEY: kept, and tried again once the key is back.
      line.error = message(e);
      line.outcome = "retry";
      line.retry_in_ms = cfg.spool.backoffCapMs;
      this.store.failed(row.seq, { ...history, attempts: row.attempts + 1 });
      this.log(line);
      return line.retry_in_ms;
    }
    // The attempt is on disk before it is made, in one commit with what the previous one
    // left. Storage too full to take this small write cannot take the outcome either: then
    // nothing is sent (the object restarts and tries again), rather than sent again and
    // again because its removal never commits. It touches the pages a removal does, and
    // carries the last delivered batch's parts.
    this.ctx.storage.transactionSync(() => {
      if (this.garbage !== null) this.store.collect(this.garbage);
      this.store.started(row.seq, row.attempts + 1);
    });
    this.garbage = null;
    await this.ctx.storage.sync();
    const t0 = Date.now();
    const r = await attempt(cfg, batch, policy(cfg));
    line.ms = Date.now() - t0;
    if (r.status !== null) line.status = r.status;
    if (r.error !== null) line.error = r.error;
    const d = r.decision;
    let wait = null;
    if (d.action === "delivered") {
      line.outcome = "delivered";
      if (!this.tryRemove(row, true)) line.unrecorded = true;
    } else if (d.action === "retry") {
      this.store.failed(row.seq, d.history);
      wait = d.afterMs;
      line.outcome = "retry";
      line.retry_in_ms = wait;
      if (d.strike) line.strikes = d.history.strikes;
    } else if (d.action === "split") {
      await this.split(row, batch, d, cfg);
      line.outcome = "split";
      line.halves = [d.at, (d.plain ?? batch.body).length - d.at];
    } else {
      this.store.dead(row.seq, r.status, r.answer ?? "", d.reason, row.attempts + 1, Date.now());
      this.queued--;
      line.outcome = "dead";
      line.reason = d.reason;
    }
    this.log(line);
    return wait;
  }

  // Removes a delivered batch; when storage refuses, remembers it so that it is removed
  // (not sent) first thing next time.
  tryRemove(row, delivered = false) {
    try {
      this.removeRow(row, delivered);
      this.unrecorded = null;
      return true;
    } catch (e) {
      this.unrecorded = row;
      this.log({ seq: row.seq, outcome: "remove_failed", error: message(e) });
      return false;
    }
  }

  // A delivered batch loses only its row now (the smallest write, so that storage which
  // took the attempt's record takes this too); its parts go with the next record.
  removeRow(row, delivered = false) {
    const gone = this.ctx.storage.transactionSync(() => (delivered ? this.store.forget(row.seq) : this.store.remove(row.seq)));
    if (delivered) this.garbage = row.seq;
    if (gone) {
      this.count--;
      this.bytes -= row.size;
      if (row.state === "queued") this.queued--;
    }
  }

  // 413: the batch is replaced, in place, by its two halves, cut where the policy said (on a
  // logical line, as Telegraf does). A gzip batch was decoded by the policy: its halves go
  // plain, without Content-Encoding (recompressing would cost CPU the edge need not spend).
  async split(row, batch, d, cfg) {
    const body = d.plain ?? batch.body;
    const h = { ...batch.headers };
    if (d.plain !== null) delete h[Object.keys(h).find((k) => k.toLowerCase() === "content-encoding")];
    // Each half is a batch of its own: an id of its own too (under the whole's id the
    // backend would store the first half delivered and take the second for a repeat).
    const first = await seal(cfg, JSON.stringify(withNewBatchId(h)));
    const second = await seal(cfg, JSON.stringify(withNewBatchId(h)));
    const ord2 = this.store.ordAfter(row.ord);
    this.ctx.storage.transactionSync(() => {
      this.store.remove(row.seq);
      this.store.insert(row.ord, row.received, row.target, first, body.subarray(0, d.at));
      this.store.insert(ord2, row.received, row.target, second, body.subarray(d.at));
    });
    this.count += 1;
    this.queued += 1;
    this.bytes += body.length - row.size;
  }

  purge(s) {
    for (const row of this.store.expired(Date.now() - s.deadLetterMs)) this.removeRow(row);
  }

  // Hands back to the index what this destination no longer needs (all of it once empty);
  // best effort: a failure only keeps the budget conservative until the next run.
  async release() {
    const b = block(config(this.env).spool);
    const keep = this.count === 0 ? 0 : this.bytes + b;
    if (this.reserved === 0 || (this.count > 0 && this.reserved - this.bytes <= 2 * b)) return;
    try {
      const name = this.store.meta("name") ?? "";
      const granted = await this.index().reserve(this.ctx.id.toString(), name, keep, keep);
      if (granted !== null) {
        this.reserved = granted;
        this.store.setMeta("reserved", granted);
      }
    } catch {}
  }

  /**
   * Keeps a partial write's rejected lines (spec Part D.1.5); resolves once on disk. Lists
   * this destination at the index, so the admin endpoint finds it.
   */
  async keepRejected(name, destination, lines, notKept) {
    const q = config(this.env).quarantine;
    const r = this.ctx.storage.transactionSync(() =>
      this.quarantine.add(destination, Date.now(), lines, notKept, q.maxBytes, q.maxAgeMs),
    );
    if (this.store.meta("name") === null) this.store.setMeta("name", name);
    if (this.store.meta("listed") === null) {
      await this.index().listDestination(this.ctx.id.toString(), name);
      this.store.setMeta("listed", 1);
    }
    await this.ctx.storage.sync();
    if (r.dropped > 0) this.log({ outcome: "rejected_dropped", dropped: r.dropped });
    return r;
  }

  /** Admin: the rejected lines kept here (JSON), as line protocol, or dropped. */
  rejected(limit) {
    return this.quarantine.list(limit);
  }

  rejectedLp() {
    return this.quarantine.lp();
  }

  async dropRejected() {
    const n = this.quarantine.drop();
    await this.ctx.storage.sync();
    return n;
  }

  /** Admin: what this destination holds. Looking also wakes a destination whose alarm was
   * lost (workerd drops an alarm it failed to store, as on a full disk) while it holds
   * batches; so does any write to it (hold). */
  async stats() {
    this.purge(config(this.env).spool);
    if (this.queued > 0 && !this.delivering && (await this.ctx.storage.getAlarm()) === null) {
      await this.ctx.storage.setAlarm(Date.now());
    }
    const now = Date.now();
    const q = this.store.queueStats();
    const dead = this.store.deadLetters().map((d) => ({
      id: d.seq,
      status: d.status,
      reason: d.reason,
      body: d.answer,
      bytes: d.size,
      attempts: d.attempts,
      received: new Date(d.received).toISOString(),
      dead_at: new Date(d.dead_at).toISOString(),
    }));
    const name = this.store.meta("name");
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
      ...this.quarantine.stats(),
    };
  }

  /** Admin: dead letters (one, or all) back in the queue, after what is queued now. */
  async replay(id) {
    const rows = this.store.deadOnes(id);
    this.ctx.storage.transactionSync(() => {
      for (const { seq } of rows) this.store.requeue(seq, ++this.maxOrd);
    });
    this.queued += rows.length;
    if (rows.length > 0 && !this.delivering) await this.ctx.storage.setAlarm(Date.now());
    await this.ctx.storage.sync();
    return rows.length;
  }

  /** Admin: delete dead letters (one, or all). */
  async drop(id) {
    const rows = this.store.deadOnes(id);
    for (const r of rows) this.removeRow(r);
    await this.ctx.storage.sync();
    return rows.length;
  }

  // ---- the index object (named INDEX) ----

  /**
   * Grants destination `id` a budget of at least `need` bytes (up to `want`) within
   * SPOOL_MAX_TOTAL_BYTES, listing it on first use within SPOOL_MAX_DESTINATIONS
   * (destinations holding nothing do not count); null when it does not fit. A budget below
   * what is granted now hands the difference back.
   */
  reserve(id, name, need, want) {
    const s = config(this.env).spool;
    const mine = this.store.hasDestination(id) ? this.store.reserved(id) : 0;
    if (need > 0 && mine === 0 && this.store.holdingCount() >= s.maxDestinations) return null;
    const room = s.maxTotalBytes - (this.store.reservedTotal() - mine);
    if (need > room) return null;
    const granted = Math.min(want, room);
    this.store.register(id, name);
    this.store.setReserved(id, granted);
    return granted;
  }

  destinations() {
    return this.store.destinations();
  }

  /** Lists destination `id` (holding rejected lines only: no budget asked). */
  listDestination(id, name) {
    this.store.register(id, name);
  }
}
