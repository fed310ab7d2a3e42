// The spool's SQL, all of it: one destination's batches (queued and dead letters, bodies in
// parts under the 2 MB value limit), its metadata, and the index object's destinations.
// Plain statements over `ctx.storage.sql`; what to do with a batch is decided elsewhere.

// Bytes per storage row: Durable Object SQLite values are limited to 2 MB.
const PART = 1 << 20;

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS batch (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    ord REAL NOT NULL,            -- delivery order; a 413's halves sit between neighbours
    state TEXT NOT NULL,          -- 'queued' | 'dead'
    received INTEGER NOT NULL,    -- ms since the epoch
    target TEXT NOT NULL,         -- path and query string as received (sealed: see secrets.js)
    headers TEXT NOT NULL,        -- the forwarded headers, JSON (sealed: see secrets.js)
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
`;

// Columns added after the first release (objects created before have the table without them).
const ADDED = {
  batch: { strikes: "INTEGER NOT NULL DEFAULT 0", first_strike: "INTEGER", reason: "TEXT" },
  dest: { reserved: "INTEGER NOT NULL DEFAULT 0" },
};

export class Store {
  constructor(sql) {
    this.sql = sql;
    sql.exec(SCHEMA);
    for (const [table, cols] of Object.entries(ADDED)) {
      const have = new Set(sql.exec(`PRAGMA table_info(${table})`).toArray().map((c) => c.name));
      for (const [name, type] of Object.entries(cols)) {
        if (!have.has(name)) sql.exec(`ALTER TABLE ${table} ADD COLUMN ${name} ${type}`);
      }
    }
  }

  totals() {
    const t = this.sql.exec("SELECT count(*) AS n, coalesce(sum(size), 0) AS b, coalesce(max(ord), 0) AS o FROM batch").one();
    const q = this.sql.exec("SELECT count(*) AS n FROM batch WHERE state = 'queued'").one().n;
    return { count: t.n, bytes: t.b, maxOrd: t.o, queued: q };
  }

  meta(k) {
    const r = this.sql.exec("SELECT v FROM meta WHERE k = ?", k).toArray();
    return r.length ? r[0].v : null;
  }

  setMeta(k, v) {
    this.sql.exec("INSERT OR REPLACE INTO meta (k, v) VALUES (?, ?)", k, v);
  }

  /** A new queued batch at `ord`; its seq. */
  insert(ord, received, target, headers, body) {
    const parts = Math.max(1, Math.ceil(body.length / PART));
    const seq = this.sql
      .exec(
        "INSERT INTO batch (ord, state, received, target, headers, size, parts) VALUES (?, 'queued', ?, ?, ?, ?, ?) RETURNING seq",
        ord, received, target, headers, body.length, parts,
      )
      .one().seq;
    for (let i = 0; i < parts; i++) {
      this.sql.exec("INSERT INTO part (seq, i, data) VALUES (?, ?, ?)", seq, i, body.subarray(i * PART, (i + 1) * PART));
    }
    return seq;
  }

  head() {
    return this.sql.exec("SELECT * FROM batch WHERE state = 'queued' ORDER BY ord LIMIT 1").toArray()[0];
  }

  /** The ord halfway to the next batch after `ord` (where a 413's second half goes). */
  ordAfter(ord) {
    const next = this.sql.exec("SELECT min(ord) AS o FROM batch WHERE ord > ?", ord).one().o;
    return next === null ? ord + 1 : (ord + next) / 2;
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

  /** Deletes a batch, its body and its credentials; whether it was there. */
  remove(seq) {
    this.sql.exec("DELETE FROM part WHERE seq = ?", seq);
    return this.sql.exec("DELETE FROM batch WHERE seq = ?", seq).rowsWritten > 0;
  }

  /** An attempt about to be made (its number), recorded first (see object.js, deliver). */
  started(seq, attempts) {
    this.sql.exec("UPDATE batch SET attempts = ?, ord = ord WHERE seq = ?", attempts, seq);
  }

  /** A delivered batch, removed with the smallest write: its row (its parts go later). */
  forget(seq) {
    return this.sql.exec("DELETE FROM batch WHERE seq = ?", seq).rowsWritten > 0;
  }

  /** The parts of batches forgotten (one, or all of them). */
  collect(seq = null) {
    if (seq !== null) this.sql.exec("DELETE FROM part WHERE seq = ?", seq);
    else this.sql.exec("DELETE FROM part WHERE seq NOT IN (SELECT seq FROM batch)");
  }

  /** What a failed attempt leaves: the history delivery needs for the next one. */
  failed(seq, h) {
    this.sql.exec("UPDATE batch SET attempts = ?, strikes = ?, first_strike = ? WHERE seq = ?", h.attempts, h.strikes, h.firstStrikeMs, seq);
  }

  dead(seq, status, answer, reason, attempts, now) {
    this.sql.exec(
      "UPDATE batch SET state = 'dead', status = ?, answer = ?, reason = ?, dead_at = ?, attempts = ? WHERE seq = ?",
      status, answer, reason, now, attempts, seq,
    );
  }

  expired(before) {
    return this.sql.exec("SELECT seq, size, state FROM batch WHERE state = 'dead' AND dead_at < ?", before).toArray();
  }

  firstDeadAt() {
    return this.sql.exec("SELECT min(dead_at) AS t FROM batch WHERE state = 'dead'").one().t;
  }

  queueStats() {
    return this.sql
      .exec("SELECT count(*) AS n, coalesce(sum(size), 0) AS b, min(received) AS oldest, max(attempts) AS attempts FROM batch WHERE state = 'queued'")
      .one();
  }

  deadLetters() {
    return this.sql
      .exec("SELECT seq, received, size, status, answer, reason, dead_at, attempts FROM batch WHERE state = 'dead' ORDER BY ord")
      .toArray();
  }

  /** Dead letters (one, or all when `id` is null). */
  deadOnes(id) {
    return this.sql.exec("SELECT seq, size, state FROM batch WHERE state = 'dead' AND (? IS NULL OR seq = ?) ORDER BY ord", id, id).toArray();
  }

  requeue(seq, ord) {
    this.sql.exec(
      "UPDATE batch SET state = 'queued', ord = ?, attempts = 0, strikes = 0, first_strike = NULL, status = NULL, answer = NULL, reason = NULL, dead_at = NULL WHERE seq = ?",
      ord, seq,
    );
  }

  // ---- the index object: the destinations, and the bytes each may hold ----

  /** Destinations holding a budget (those that hold batches). */
  holdingCount() {
    return this.sql.exec("SELECT count(*) AS n FROM dest WHERE reserved > 0").one().n;
  }

  hasDestination(id) {
    return this.sql.exec("SELECT 1 FROM dest WHERE id = ?", id).toArray().length > 0;
  }

  register(id, name) {
    this.sql.exec("INSERT OR IGNORE INTO dest (id, name) VALUES (?, ?)", id, name);
  }

  destinations() {
    return this.sql.exec("SELECT id, name FROM dest ORDER BY name").toArray();
  }

  reservedTotal() {
    return this.sql.exec("SELECT coalesce(sum(reserved), 0) AS b FROM dest").one().b;
  }

  setReserved(id, bytes) {
    this.sql.exec("UPDATE dest SET reserved = ? WHERE id = ?", bytes, id);
  }

  reserved(id) {
    const r = this.sql.exec("SELECT reserved FROM dest WHERE id = ?", id).toArray();
    return r.length ? r[0].reserved : 0;
  }
}
