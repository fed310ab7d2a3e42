//! Batches (or parts) the upstream refused.

use super::*;

/// A batch upstream refused.
#[derive(Clone, Debug, serde::Serialize)]
pub struct DeadLetter {
    pub id: i64,
    pub seq: i64,
    pub bucket_id: String,
    pub status: u16,
    pub reason: String,
    pub precision: String,
    pub points_text: String,
    pub at_ns: i64,
    /// The upstream that refused it (empty: the first `--upstream`).
    pub upstream: String,
}

pub fn dead_letters(conn: &Connection) -> Result<Vec<DeadLetter>, String> {
    let mut st = conn
        .prepare("SELECT id, seq, bucket_id, status, reason, precision, body, at_ns, upstream FROM dead_letters ORDER BY id")
        .map_err(|e| e.to_string())?;
    let rows = st
        .query_map([], |r| {
            Ok(DeadLetter {
                id: r.get(0)?,
                seq: r.get(1)?,
                bucket_id: format!("{:016x}", to_u(r.get(2)?)),
                status: r.get::<_, i64>(3)? as u16,
                reason: r.get(4)?,
                precision: r.get(5)?,
                points_text: String::from_utf8_lossy(
                    &lz4_flex::decompress_size_prepended(&r.get::<_, Vec<u8>>(6)?)
                        .unwrap_or_default(),
                )
                .into_owned(),
                at_ns: r.get(7)?,
                upstream: r.get(8)?,
            })
        })
        .map_err(|e| e.to_string())?;
    rows.collect::<Result<_, _>>().map_err(|e| e.to_string())
}

/// A batch (or part) upstream refused, on its way into the dead-letter table.
pub struct NewDeadLetter<'a> {
    pub seq: i64,
    pub bucket_id: u64,
    pub status: u16,
    pub reason: &'a str,
    pub precision: Precision,
    pub body: &'a [u8],
    pub at_ns: i64,
    /// The upstream that refused it (empty: the first).
    pub upstream: &'a str,
}

pub fn insert_dead_letter(tx: &Connection, d: &NewDeadLetter<'_>) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO dead_letters(seq, bucket_id, status, reason, precision, body, at_ns, upstream) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            d.seq,
            to_i(d.bucket_id),
            d.status as i64,
            d.reason,
            d.precision.as_str(),
            lz4_flex::compress_prepend_size(d.body),
            d.at_ns,
            d.upstream
        ],
    )?;
    Ok(())
}

/// Adds the `replay` mark and the `upstream` name to a dead-letter table made before them.
pub(super) fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    for (col, def) in [
        ("replay", "INTEGER NOT NULL DEFAULT 0"),
        ("upstream", "TEXT NOT NULL DEFAULT ''"),
    ] {
        let has = conn
            .prepare("SELECT 1 FROM pragma_table_info('dead_letters') WHERE name = ?1")?
            .exists([col])?;
        if !has {
            conn.execute_batch(&format!("ALTER TABLE dead_letters ADD COLUMN {col} {def}"))?;
        }
    }
    Ok(())
}

/// Marks dead letters (all, or those `ids`) to be sent again by the relay; their count.
pub fn mark_replay(conn: &Connection, ids: &[i64]) -> rusqlite::Result<usize> {
    if ids.is_empty() {
        return conn.execute("UPDATE dead_letters SET replay = 1", []);
    }
    let mut n = 0;
    for id in ids {
        n += conn.execute("UPDATE dead_letters SET replay = 1 WHERE id = ?1", [id])?;
    }
    Ok(n)
}

/// Deletes dead letters (all, or those `ids`); their count.
pub fn drop_dead_letters(conn: &Connection, ids: &[i64]) -> rusqlite::Result<usize> {
    if ids.is_empty() {
        return conn.execute("DELETE FROM dead_letters", []);
    }
    let mut n = 0;
    for id in ids {
        n += conn.execute("DELETE FROM dead_letters WHERE id = ?1", [id])?;
    }
    Ok(n)
}

/// The oldest dead letter of `upstream` marked for replay, as its relay sends it: (id, the
/// batch).
pub fn next_replay(
    conn: &Connection,
    upstream: &str,
) -> Result<Option<(i64, StoredBatch)>, String> {
    conn.query_row(
        "SELECT id, seq, bucket_id, precision, body, at_ns FROM dead_letters WHERE replay = 1 AND upstream = ?1 ORDER BY id LIMIT 1",
        [upstream],
        |r| {
            let body = lz4_flex::decompress_size_prepended(&r.get::<_, Vec<u8>>(4)?)
                .unwrap_or_default();
            let precision: String = r.get(3)?;
            Ok((
                r.get(0)?,
                StoredBatch {
                    seq: r.get(1)?,
                    bucket_id: to_u(r.get(2)?),
                    precision: Precision::from_param(precision.as_bytes()).unwrap_or_default(),
                    now: r.get(5)?,
                    points: 0,
                    body,
                },
            ))
        },
    )
    .optional()
    .map_err(|e| e.to_string())
}
