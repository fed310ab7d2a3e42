//! The quarantine (spec Part D.1.5): the rejected lines of partial writes, kept per bucket
//! within a byte bound and an age, oldest dropped first. Lines go in within the transaction
//! that stores the accepted lines of their write, so an answered partial write has both.

use std::sync::atomic::AtomicU64;

use linegate_core::partial::RejectedLine;

use super::*;

pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS quarantine(id INTEGER PRIMARY KEY, bucket_id INTEGER NOT NULL,
  destination BLOB NOT NULL, at_ns INTEGER NOT NULL, line INTEGER NOT NULL,
  text BLOB NOT NULL, reason BLOB NOT NULL, size INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS quarantine_by_bucket ON quarantine(bucket_id, id);
CREATE INDEX IF NOT EXISTS quarantine_by_time ON quarantine(at_ns);
CREATE TABLE IF NOT EXISTS quarantine_usage(bucket_id INTEGER PRIMARY KEY,
  bytes INTEGER NOT NULL);
";

/// How much the quarantine keeps per bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuarantineBounds {
    pub bytes: u64,
    pub age_ns: i64,
}

impl Default for QuarantineBounds {
    fn default() -> Self {
        QuarantineBounds {
            bytes: linegate_core::partial::DEFAULT_KEEP as u64,
            age_ns: linegate_core::partial::DEFAULT_QUARANTINE_AGE_SECS as i64 * 1_000_000_000,
        }
    }
}

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct QuarantineStats {
    pub stored: AtomicU64,
    /// Lines dropped: past a bound, or not kept by the split (its own bound).
    pub dropped: AtomicU64,
}

/// The rejected lines of one write, on their way in.
pub struct Quarantined {
    pub bucket_id: u64,
    pub destination: Vec<u8>,
    pub at_ns: i64,
    pub lines: Vec<RejectedLine>,
    /// Rejected lines the split counted but did not keep.
    pub not_kept: u64,
    pub bounds: QuarantineBounds,
    pub stats: Arc<QuarantineStats>,
}

/// Stores the lines and enforces the bounds, inside the writer's transaction. A failure
/// here is rolled back alone and counted as dropped lines: a quarantine never fails a write.
pub(crate) fn insert(tx: &Transaction<'_>, q: &Quarantined) {
    let res = tx
        .execute_batch("SAVEPOINT quarantine")
        .and_then(|()| insert_bounded(tx, q))
        .and_then(|dropped| tx.execute_batch("RELEASE quarantine").map(|()| dropped));
    let stats = &q.stats;
    match res {
        Ok(dropped) => {
            stats
                .stored
                .fetch_add(q.lines.len() as u64, Ordering::Relaxed);
            stats
                .dropped
                .fetch_add(dropped + q.not_kept, Ordering::Relaxed);
        }
        Err(e) => {
            let _ = tx.execute_batch("ROLLBACK TO quarantine; RELEASE quarantine");
            tracing::warn!(error = %e, "quarantine: lines not kept");
            stats
                .dropped
                .fetch_add(q.lines.len() as u64 + q.not_kept, Ordering::Relaxed);
        }
    }
}

fn insert_bounded(tx: &Transaction<'_>, q: &Quarantined) -> rusqlite::Result<u64> {
    let bucket = to_i(q.bucket_id);
    let mut added = 0i64;
    {
        let mut st = tx.prepare_cached(
            "INSERT INTO quarantine(bucket_id, destination, at_ns, line, text, reason, size) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        for l in &q.lines {
            let size = l.cost() as i64;
            st.execute(params![
                bucket,
                q.destination,
                q.at_ns,
                l.line as i64,
                l.text,
                l.reason,
                size
            ])?;
            added += size;
        }
    }
    add_usage(tx, bucket, added)?;
    let mut dropped = 0u64;
    // Age: every bucket's lines older than the bound.
    let old: Vec<(i64, i64)> = tx
        .prepare_cached("DELETE FROM quarantine WHERE at_ns < ?1 RETURNING bucket_id, size")?
        .query_map([q.at_ns.saturating_sub(q.bounds.age_ns)], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?
        .collect::<Result<_, _>>()?;
    for (b, size) in &old {
        add_usage(tx, *b, -size)?;
    }
    dropped += old.len() as u64;
    // Bytes: this bucket's oldest lines until it fits.
    let cap = q.bounds.bytes.min(i64::MAX as u64) as i64;
    loop {
        let used: i64 = tx
            .prepare_cached("SELECT bytes FROM quarantine_usage WHERE bucket_id = ?1")?
            .query_row([bucket], |r| r.get(0))
            .optional()?
            .unwrap_or(0);
        if used <= cap {
            break;
        }
        let gone: Vec<i64> = tx
            .prepare_cached(
                "DELETE FROM quarantine WHERE id IN (SELECT id FROM quarantine WHERE bucket_id = ?1 ORDER BY id LIMIT 256) RETURNING size",
            )?
            .query_map([bucket], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        if gone.is_empty() {
            add_usage(tx, bucket, -used)?;
            break;
        }
        dropped += gone.len() as u64;
        add_usage(tx, bucket, -gone.iter().sum::<i64>())?;
    }
    Ok(dropped)
}

fn add_usage(tx: &Connection, bucket: i64, delta: i64) -> rusqlite::Result<()> {
    if delta == 0 {
        return Ok(());
    }
    tx.prepare_cached(
        "INSERT INTO quarantine_usage(bucket_id, bytes) VALUES (?1, MAX(?2, 0)) ON CONFLICT(bucket_id) DO UPDATE SET bytes = MAX(bytes + ?2, 0)",
    )?
    .execute(params![bucket, delta])?;
    Ok(())
}

/// One quarantined line, as listed.
#[derive(Clone, Debug, serde::Serialize)]
pub struct QuarantineEntry {
    pub id: i64,
    #[serde(rename = "bucketID")]
    pub bucket_id: String,
    pub destination: String,
    /// Time received, ns since the epoch.
    pub time: i64,
    pub line: u64,
    pub reason: String,
    /// The line's bytes (not UTF-8: replaced here; the line-protocol download is exact).
    pub text: String,
}

/// Which buckets' lines (`None`: all).
pub type BucketSet = Option<HashSet<u64>>;

fn wanted(set: &BucketSet, bucket: i64) -> bool {
    set.as_ref().is_none_or(|s| s.contains(&to_u(bucket)))
}

/// The quarantined lines of `buckets`, oldest first, at most `limit`.
pub fn quarantine_list(
    conn: &Connection,
    buckets: &BucketSet,
    limit: usize,
) -> Result<Vec<QuarantineEntry>, String> {
    let mut out = Vec::new();
    quarantine_rows(conn, |id, bucket, dest, at, line, text, reason| {
        if wanted(buckets, bucket) && out.len() < limit {
            out.push(QuarantineEntry {
                id,
                bucket_id: format!("{:016x}", to_u(bucket)),
                destination: String::from_utf8_lossy(dest).into_owned(),
                time: at,
                line,
                reason: String::from_utf8_lossy(reason).into_owned(),
                text: String::from_utf8_lossy(text).into_owned(),
            });
        }
        Ok(())
    })?;
    Ok(out)
}

/// The quarantined lines of `buckets` as line protocol: each line's bytes and LF, so a
/// fixed file can be sent again.
pub fn quarantine_lp(
    conn: &Connection,
    buckets: &BucketSet,
    out: &mut dyn std::io::Write,
) -> Result<u64, String> {
    let mut n = 0;
    quarantine_rows(conn, |_, bucket, _, _, _, text, _| {
        if wanted(buckets, bucket) {
            out.write_all(text).map_err(|e| e.to_string())?;
            out.write_all(b"\n").map_err(|e| e.to_string())?;
            n += 1;
        }
        Ok(())
    })?;
    Ok(n)
}

type Row<'r> = (i64, i64, &'r [u8], i64, u64, &'r [u8], &'r [u8]);

fn quarantine_rows(
    conn: &Connection,
    mut f: impl FnMut(i64, i64, &[u8], i64, u64, &[u8], &[u8]) -> Result<(), String>,
) -> Result<(), String> {
    let e = |e: rusqlite::Error| e.to_string();
    let mut st = conn
        .prepare("SELECT id, bucket_id, destination, at_ns, line, text, reason FROM quarantine ORDER BY id")
        .map_err(e)?;
    let mut rows = st.query([]).map_err(e)?;
    while let Some(r) = rows.next().map_err(e)? {
        let row: Row<'_> = (
            r.get(0).map_err(e)?,
            r.get(1).map_err(e)?,
            r.get_ref(2).and_then(|v| Ok(v.as_blob()?)).map_err(e)?,
            r.get(3).map_err(e)?,
            r.get::<_, i64>(4).map_err(e)? as u64,
            r.get_ref(5).and_then(|v| Ok(v.as_blob()?)).map_err(e)?,
            r.get_ref(6).and_then(|v| Ok(v.as_blob()?)).map_err(e)?,
        );
        f(row.0, row.1, row.2, row.3, row.4, row.5, row.6)?;
    }
    Ok(())
}

/// Drops the quarantined lines of `buckets`; gives how many.
pub fn quarantine_drop(tx: &Connection, buckets: &BucketSet) -> rusqlite::Result<u64> {
    let ids: Vec<i64> = match buckets {
        None => tx
            .prepare("SELECT bucket_id FROM quarantine_usage")?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?,
        Some(s) => s.iter().map(|b| to_i(*b)).collect(),
    };
    let mut n = 0;
    for b in ids {
        n += tx.execute("DELETE FROM quarantine WHERE bucket_id = ?1", [b])? as u64;
        tx.execute("DELETE FROM quarantine_usage WHERE bucket_id = ?1", [b])?;
    }
    Ok(n)
}
