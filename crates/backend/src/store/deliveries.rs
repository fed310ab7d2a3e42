//! The delivery log: which batches each upstream acknowledged, and when. One row per
//! delivered request, written in the transaction that saves the relay's cursor, kept for
//! the replay window (`--upstream-replay-window`, default 1 h) and at most
//! [`MAX_ROWS`] rows per upstream. `replay --since T` reads it to send again what an
//! upstream acknowledged at or after T — batches committed long before, when it drained a
//! backlog, included — which commit times alone cannot say.
//!
//! The batches themselves are the backend's own data (`export` reads them): the window
//! bounds this log, never them.

use rusqlite::{params, Connection, OptionalExtension};

pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS deliveries(upstream TEXT NOT NULL, first_seq INTEGER NOT NULL,
  last_seq INTEGER NOT NULL, at_ns INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS deliveries_by_time ON deliveries(upstream, at_ns);
";

/// Rows kept per upstream whatever the window (a row is one request of up to 16 batches).
pub const MAX_ROWS: i64 = 200_000;

/// Records that `upstream` acknowledged batches `first..=last` at `at_ns`; prunes what is
/// past `window_ns` (0: keeps no log) or over [`MAX_ROWS`] (checked every 1,024th row).
pub fn record(
    conn: &Connection,
    upstream: &str,
    first: i64,
    last: i64,
    at_ns: i64,
    window_ns: i64,
) -> rusqlite::Result<()> {
    if window_ns <= 0 {
        return Ok(());
    }
    let id: i64 = conn.query_row(
        "INSERT INTO deliveries(upstream, first_seq, last_seq, at_ns) VALUES (?1, ?2, ?3, ?4) RETURNING rowid",
        params![upstream, first, last, at_ns],
        |r| r.get(0),
    )?;
    conn.prepare_cached("DELETE FROM deliveries WHERE upstream = ?1 AND at_ns < ?2")?
        .execute(params![upstream, at_ns.saturating_sub(window_ns)])?;
    if id % 1024 == 0 {
        conn.execute(
            "DELETE FROM deliveries WHERE upstream = ?1 AND rowid <= (SELECT rowid FROM deliveries WHERE upstream = ?1 ORDER BY rowid DESC LIMIT 1 OFFSET ?2)",
            params![upstream, MAX_ROWS],
        )?;
    }
    Ok(())
}

/// The cursor that sends again every batch `upstream` acknowledged at or after `since_ns`
/// (the batch before the first of them), if the log holds any.
pub fn replay_from(
    conn: &Connection,
    upstream: &str,
    since_ns: i64,
) -> rusqlite::Result<Option<i64>> {
    let first: Option<i64> = conn
        .query_row(
            "SELECT MIN(first_seq) FROM deliveries WHERE upstream = ?1 AND at_ns >= ?2",
            params![upstream, since_ns],
            |r| r.get(0),
        )
        .optional()?
        .flatten();
    Ok(first.map(|f| f - 1))
}

/// Upstreams in the log with the time of their oldest row kept.
pub fn logged(conn: &Connection) -> rusqlite::Result<Vec<(String, i64)>> {
    let mut st = conn.prepare(
        "SELECT upstream, MIN(at_ns) FROM deliveries GROUP BY upstream ORDER BY upstream",
    )?;
    let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_for_the_window_then_pruned() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(SCHEMA).unwrap();
        let s = 1_000_000_000;
        record(&conn, "", 1, 16, 10 * s, 60 * s).unwrap();
        record(&conn, "", 17, 20, 20 * s, 60 * s).unwrap();
        record(&conn, "b", 1, 20, 25 * s, 60 * s).unwrap();
        // What the first upstream acknowledged at or after 15 s: batches 17..=20.
        assert_eq!(replay_from(&conn, "", 15 * s).unwrap(), Some(16));
        assert_eq!(replay_from(&conn, "", 5 * s).unwrap(), Some(0));
        assert_eq!(replay_from(&conn, "", 21 * s).unwrap(), None);
        assert_eq!(replay_from(&conn, "b", 21 * s).unwrap(), Some(0));
        // 75 s: the row of 10 s is past the 60 s window.
        record(&conn, "", 21, 21, 75 * s, 60 * s).unwrap();
        assert_eq!(replay_from(&conn, "", 0).unwrap(), Some(16));
        assert_eq!(
            logged(&conn).unwrap(),
            [(String::new(), 20 * s), ("b".to_string(), 25 * s)]
        );
        // A zero window keeps no log.
        record(&conn, "z", 1, 1, 80 * s, 0).unwrap();
        assert_eq!(replay_from(&conn, "z", 0).unwrap(), None);
    }
}
