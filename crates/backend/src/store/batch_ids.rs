//! The ids of the batches stored (core's `delivery::BATCH_ID_HEADER`), so a batch that an
//! edge delivers again — its first delivery was stored, the answer lost — is stored once.
//! An id is recorded in the transaction that stores its batch (a SIGKILL cannot keep one
//! without the other), scoped to the bucket written (a client cannot suppress another
//! destination's write by naming its id), and kept for [`BATCH_IDS_KEPT_NS`] and at most
//! [`BATCH_IDS_MAX`] rows.

use linegate_core::delivery::{BATCH_IDS_KEPT_NS, BATCH_IDS_MAX};
use rusqlite::{params, Connection, OptionalExtension};

pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS batch_ids(seq INTEGER PRIMARY KEY, bucket_id INTEGER NOT NULL,
  id BLOB NOT NULL, at_ns INTEGER NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS batch_ids_by_id ON batch_ids(bucket_id, id);
CREATE INDEX IF NOT EXISTS batch_ids_by_time ON batch_ids(at_ns);
";

/// Whether bucket `bucket_id` stored a batch named `id` within the window.
pub fn seen(conn: &Connection, bucket_id: i64, id: &[u8], now_ns: i64) -> rusqlite::Result<bool> {
    Ok(conn
        .prepare_cached("SELECT at_ns FROM batch_ids WHERE bucket_id = ?1 AND id = ?2")?
        .query_row(params![bucket_id, id], |r| r.get::<_, i64>(0))
        .optional()?
        .is_some_and(|at| at >= now_ns.saturating_sub(BATCH_IDS_KEPT_NS)))
}

/// Records that bucket `bucket_id` stored the batch named `id`; prunes what is past the
/// window or over the cap.
pub fn record(conn: &Connection, bucket_id: i64, id: &[u8], now_ns: i64) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO batch_ids(bucket_id, id, at_ns) VALUES (?1, ?2, ?3)
         ON CONFLICT(bucket_id, id) DO UPDATE SET at_ns = ?3",
    )?
    .execute(params![bucket_id, id, now_ns])?;
    let seq = conn.last_insert_rowid();
    conn.prepare_cached("DELETE FROM batch_ids WHERE at_ns < ?1")?
        .execute([now_ns.saturating_sub(BATCH_IDS_KEPT_NS)])?;
    if seq % 1024 == 0 {
        conn.prepare_cached("DELETE FROM batch_ids WHERE seq <= ?1")?
            .execute([seq - BATCH_IDS_MAX])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_per_bucket_for_the_window() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(SCHEMA).unwrap();
        let id = b"0123456789abcdef0123456789abcdef";
        assert!(!seen(&conn, 1, id, 10).unwrap());
        record(&conn, 1, id, 10).unwrap();
        assert!(seen(&conn, 1, id, 11).unwrap());
        // Another bucket's id space is its own.
        assert!(!seen(&conn, 2, id, 11).unwrap());
        // Past the window: forgotten (and pruned by the next record).
        let later = 11 + BATCH_IDS_KEPT_NS;
        assert!(!seen(&conn, 1, id, later).unwrap());
        record(&conn, 2, id, later).unwrap();
        let n: i64 = conn
            .query_row("SELECT COUNT(*) FROM batch_ids", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
    }
}
