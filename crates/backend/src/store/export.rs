//! Reading stored batches back: the relay's feed and `export` (streamed, merged in
//! memory or on disk).

use super::*;

/// One stored batch, decompressed.
pub struct StoredBatch {
    pub seq: i64,
    pub bucket_id: u64,
    pub precision: Precision,
    pub now: i64,
    pub points: i64,
    pub body: Vec<u8>,
}

fn precision_of(s: &str) -> Precision {
    Precision::from_param(s.as_bytes()).unwrap_or_default()
}

/// Batches after `seq`, in order, at most `limit`.
pub fn batches_after(
    conn: &Connection,
    seq: i64,
    limit: usize,
) -> Result<Vec<StoredBatch>, String> {
    let mut st = conn
        .prepare_cached(
            "SELECT seq, bucket_id, precision, now, points, body, encoding FROM batches WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        )
        .map_err(|e| e.to_string())?;
    let rows = st
        .query_map(params![seq, limit as i64], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                to_u(r.get(1)?),
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, Vec<u8>>(5)?,
                r.get::<_, i64>(6)?,
            ))
        })
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for r in rows {
        let (seq, bucket_id, p, now, points, blob, enc) = r.map_err(|e| e.to_string())?;
        let body = decode_blob(enc, blob)?;
        out.push(StoredBatch {
            seq,
            bucket_id,
            precision: precision_of(&p),
            now,
            points,
            body,
        });
    }
    Ok(out)
}

/// What `export` selects.
#[derive(Clone, Debug, Default)]
pub struct ExportFilter {
    pub start: Option<i64>,
    pub stop: Option<i64>,
    pub measurement: Option<Vec<u8>>,
    /// Every stored point in write order, without merging points of one series and time.
    pub raw: bool,
}

/// Exports of more stored points than this merge through a temporary table on disk
/// instead of memory.
pub const MERGE_IN_MEMORY: i64 = 20_000;

/// The bucket's points as line protocol (one point per series and time unless `raw`),
/// written to `out` as they come: memory stays bounded whatever the bucket holds.
pub fn export(
    conn: &Connection,
    bucket_id: u64,
    f: &ExportFilter,
    out: &mut dyn std::io::Write,
) -> Result<u64, String> {
    export_with(conn, bucket_id, f, out, MERGE_IN_MEMORY)
}

/// [`export`], merging in memory only up to `in_memory` stored points.
pub fn export_with(
    conn: &Connection,
    bucket_id: u64,
    f: &ExportFilter,
    out: &mut dyn std::io::Write,
    in_memory: i64,
) -> Result<u64, String> {
    let e = |e: rusqlite::Error| e.to_string();
    let io = |e: std::io::Error| e.to_string();
    let start = f.start.unwrap_or(i64::MIN);
    let stop = f.stop.unwrap_or(i64::MAX);
    let stored: i64 = conn
        .query_row(
            "SELECT COALESCE(SUM(points), 0) FROM batches WHERE bucket_id = ?1 AND max_time >= ?2 AND min_time < ?3",
            params![to_i(bucket_id), start, stop],
            |r| r.get(0),
        )
        .map_err(e)?;
    let mut out = std::io::BufWriter::with_capacity(256 << 10, out);
    let mut n = 0u64;
    let mut line = Vec::new();
    if f.raw {
        for_each_point(conn, bucket_id, f, |pt| {
            line.clear();
            lp::write_line(&mut line, pt, |_| true);
            n += 1;
            out.write_all(&line).map_err(io)
        })?;
    } else if stored <= in_memory {
        let mut merged = Merged::default();
        for_each_point(conn, bucket_id, f, |pt| {
            merged.add(pt);
            Ok(())
        })?;
        n = merged.len() as u64;
        for p in merged.into_sorted() {
            line.clear();
            p.write(&mut line);
            out.write_all(&line).map_err(io)?;
        }
    } else {
        n = merge_on_disk(conn, bucket_id, f, &mut out)?;
    }
    use std::io::Write;
    out.flush().map_err(io)?;
    Ok(n)
}

/// Every stored point of the bucket the filter keeps, in write order.
fn for_each_point(
    conn: &Connection,
    bucket_id: u64,
    f: &ExportFilter,
    mut each: impl FnMut(&linegate_core::Point<'_>) -> Result<(), String>,
) -> Result<(), String> {
    let start = f.start.unwrap_or(i64::MIN);
    let stop = f.stop.unwrap_or(i64::MAX);
    let mut st = conn
        .prepare(
            "SELECT precision, now, body, encoding FROM batches WHERE bucket_id = ?1 AND max_time >= ?2 AND min_time < ?3 ORDER BY seq",
        )
        .map_err(|e| e.to_string())?;
    let mut rows = st
        .query(params![to_i(bucket_id), start, stop])
        .map_err(|e| e.to_string())?;
    let mut failed = None;
    while let Some(r) = rows.next().map_err(|e| e.to_string())? {
        let p: String = r.get(0).map_err(|e| e.to_string())?;
        let now: i64 = r.get(1).map_err(|e| e.to_string())?;
        let blob: Vec<u8> = r.get(2).map_err(|e| e.to_string())?;
        let enc: i64 = r.get(3).map_err(|e| e.to_string())?;
        let body = decode_blob(enc, blob)?;
        read_batch(
            &body,
            &ParseOptions::new(precision_of(&p), now),
            1 << 10,
            |pt| {
                if failed.is_some() || pt.time() < start || pt.time() >= stop {
                    return;
                }
                if let Some(m) = &f.measurement {
                    if pt.measurement().as_ref() != m.as_slice() {
                        return;
                    }
                }
                if let Err(e) = each(pt) {
                    failed = Some(e);
                }
            },
        );
        if let Some(e) = failed {
            return Err(e);
        }
    }
    Ok(())
}

/// The merge of a large export: every point goes into a temporary table keyed by series
/// identity and time, SQLite sorts it on disk, and each run of one series and time is
/// merged on its own, exactly as [`Merged`] merges them in memory.
fn merge_on_disk(
    conn: &Connection,
    bucket_id: u64,
    f: &ExportFilter,
    out: &mut dyn std::io::Write,
) -> Result<u64, String> {
    let e = |e: rusqlite::Error| e.to_string();
    conn.execute_batch(
        "PRAGMA temp_store = FILE; PRAGMA temp.cache_size = -4096;
         DROP TABLE IF EXISTS temp.export_points;
         CREATE TEMP TABLE export_points(ord INTEGER PRIMARY KEY, id BLOB NOT NULL,
           time INTEGER NOT NULL, line BLOB NOT NULL);",
    )
    .map_err(e)?;
    let res = (|| {
        conn.execute_batch("BEGIN").map_err(e)?;
        {
            let mut ins = conn
                .prepare("INSERT INTO temp.export_points(id, time, line) VALUES (?1, ?2, ?3)")
                .map_err(e)?;
            let mut line = Vec::new();
            for_each_point(conn, bucket_id, f, |pt| {
                line.clear();
                lp::write_line(&mut line, pt, |_| true);
                ins.execute(params![lp::series_identity(pt), pt.time(), line])
                    .map(|_| ())
                    .map_err(e)
            })?;
        }
        let mut st = conn
            .prepare("SELECT id, time, line FROM temp.export_points ORDER BY id, time, ord")
            .map_err(e)?;
        let mut rows = st.query([]).map_err(e)?;
        let mut n = 0u64;
        let mut run: Vec<u8> = Vec::new();
        let mut key: Option<(Vec<u8>, i64)> = None;
        let mut text = Vec::new();
        let mut flush = |run: &mut Vec<u8>, n: &mut u64| -> Result<(), String> {
            if run.is_empty() {
                return Ok(());
            }
            let mut m = Merged::default();
            read_batch(run, &ParseOptions::new(Precision::Ns, 0), 1 << 10, |p| {
                m.add(p)
            });
            for p in m.into_sorted() {
                text.clear();
                p.write(&mut text);
                out.write_all(&text).map_err(|e| e.to_string())?;
                *n += 1;
            }
            run.clear();
            Ok(())
        };
        while let Some(r) = rows.next().map_err(e)? {
            let id: Vec<u8> = r.get(0).map_err(e)?;
            let time: i64 = r.get(1).map_err(e)?;
            let same = key.as_ref().is_some_and(|(k, t)| *k == id && *t == time);
            if !same {
                flush(&mut run, &mut n)?;
                key = Some((id, time));
            }
            let l = r.get_ref(2).map_err(e)?;
            run.extend_from_slice(l.as_blob().map_err(|x| x.to_string())?);
        }
        flush(&mut run, &mut n)?;
        Ok(n)
    })();
    let _ = conn.execute_batch("ROLLBACK; DROP TABLE IF EXISTS temp.export_points;");
    res
}

/// Export output as pieces on a channel (for a streamed HTTP answer). `first` says once
/// whether the export started (its first piece, or its end) or failed before any output.
/// A client that stops reading stalls the export only for `stall`: then the export ends
/// (and with it its thread and its read snapshot, which would otherwise hold the WAL).
pub struct ChunkSink {
    tx: tokio::sync::mpsc::Sender<Result<Bytes, String>>,
    first: Option<oneshot::Sender<Result<(), String>>>,
    stall: std::time::Duration,
    rt: tokio::runtime::Handle,
    /// Set once the export ended well: a stream that stops without it was cut short, and
    /// must end in an error, never look complete.
    pub done: Arc<std::sync::atomic::AtomicBool>,
}

impl ChunkSink {
    /// Made on a runtime thread; written from a blocking one.
    pub fn new(
        tx: tokio::sync::mpsc::Sender<Result<Bytes, String>>,
        first: oneshot::Sender<Result<(), String>>,
        stall: std::time::Duration,
        rt: tokio::runtime::Handle,
    ) -> ChunkSink {
        ChunkSink {
            tx,
            first: Some(first),
            stall,
            rt,
            done: Arc::default(),
        }
    }

    pub fn finish(mut self) {
        self.done.store(true, Ordering::SeqCst);
        if let Some(f) = self.first.take() {
            let _ = f.send(Ok(()));
        }
    }

    pub fn fail(mut self, e: String) {
        match self.first.take() {
            Some(f) => drop(f.send(Err(e))),
            // Never wait here: the client may be the one not reading.
            None => drop(self.tx.try_send(Err(e))),
        }
    }
}

impl std::io::Write for ChunkSink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        if let Some(f) = self.first.take() {
            let _ = f.send(Ok(()));
        }
        let piece = Ok(Bytes::copy_from_slice(b));
        match self
            .rt
            .block_on(tokio::time::timeout(self.stall, self.tx.send(piece)))
        {
            Ok(Ok(())) => Ok(b.len()),
            Ok(Err(_)) => Err(std::io::Error::other("the client went away")),
            Err(_) => Err(std::io::Error::other("the client stopped reading")),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
