// The quarantine (spec Part D.1.5): the rejected lines of partial writes, kept in the
// destination's spool object beside its batches, bounded by bytes and age (oldest dropped
// first, counted). Plain statements over `ctx.storage.sql`; which lines and why is core's.

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS rejected (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    received INTEGER NOT NULL,    -- ms since the epoch
    destination TEXT NOT NULL,    -- path and query string without u and p
    line INTEGER NOT NULL,
    text BLOB NOT NULL,
    reason TEXT NOT NULL,
    size INTEGER NOT NULL
  );
  CREATE TABLE IF NOT EXISTS rejected_meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL);
`;

const enc = new TextEncoder();
const dec = new TextDecoder();
const bytesOf = (t) => (typeof t === "string" ? enc.encode(t) : new Uint8Array(t));
const textOf = (t) => (typeof t === "string" ? t : dec.decode(t));

export class Quarantine {
  constructor(sql) {
    this.sql = sql;
    sql.exec(SCHEMA);
    this.bytes = sql.exec("SELECT coalesce(sum(size), 0) AS b FROM rejected").one().b;
  }

  counter(k) {
    return this.sql.exec("SELECT v FROM rejected_meta WHERE k = ?", k).toArray()[0]?.v ?? 0;
  }

  bump(k, n) {
    if (n > 0) {
      this.sql.exec("INSERT INTO rejected_meta (k, v) VALUES (?, ?) ON CONFLICT(k) DO UPDATE SET v = v + ?", k, n, n);
    }
  }

  /**
   * Keeps `lines` ({ line, reason, text }) received at `at`, then drops what is past the
   * bounds, oldest first; `notKept` lines the split already left out count as dropped.
   * Returns { kept, dropped }.
   */
  add(destination, at, lines, notKept, maxBytes, maxAgeMs) {
    for (const l of lines) {
      const text = bytesOf(l.text);
      const reason = textOf(l.reason);
      const size = text.length + reason.length + 32;
      this.sql.exec(
        "INSERT INTO rejected (received, destination, line, text, reason, size) VALUES (?, ?, ?, ?, ?, ?)",
        at, destination, l.line, text, reason, size,
      );
      this.bytes += size;
    }
    let dropped = notKept;
    for (const r of this.sql.exec("DELETE FROM rejected WHERE received < ? RETURNING size", at - maxAgeMs)) {
      this.bytes -= r.size;
      dropped++;
    }
    while (this.bytes > maxBytes) {
      const gone = this.sql
        .exec("DELETE FROM rejected WHERE id IN (SELECT id FROM rejected ORDER BY id LIMIT 256) RETURNING size")
        .toArray();
      if (gone.length === 0) {
        this.bytes = 0;
        break;
      }
      for (const r of gone) this.bytes -= r.size;
      dropped += gone.length;
    }
    this.bump("kept", lines.length);
    this.bump("dropped", dropped);
    return { kept: lines.length, dropped };
  }

  list(limit) {
    return this.sql
      .exec("SELECT id, received, destination, line, text, reason FROM rejected ORDER BY id LIMIT ?", limit)
      .toArray()
      .map((r) => ({
        id: r.id,
        received: new Date(r.received).toISOString(),
        destination: r.destination,
        line: r.line,
        reason: r.reason,
        text: dec.decode(new Uint8Array(r.text)),
      }));
  }

  /** The lines alone, each followed by LF: line protocol to fix and send again. */
  lp() {
    const parts = this.sql.exec("SELECT text FROM rejected ORDER BY id").toArray().map((r) => new Uint8Array(r.text));
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length + 1, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      out[at + p.length] = 0x0a;
      at += p.length + 1;
    }
    return out;
  }

  drop() {
    const n = this.sql.exec("SELECT count(*) AS n FROM rejected").one().n;
    this.sql.exec("DELETE FROM rejected");
    this.bytes = 0;
    return n;
  }

  stats() {
    const n = this.sql.exec("SELECT count(*) AS n FROM rejected").one().n;
    return { rejected: n, rejected_bytes: this.bytes, rejected_kept_total: this.counter("kept"), rejected_dropped_total: this.counter("dropped") };
  }
}
