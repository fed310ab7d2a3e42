//! Write quotas (spec Part D.2) in the store: each tenant's bytes in the current window and
//! each bucket's set of series (64-bit hashes, `linegate_core::quota::series_hash`) live in
//! SQLite, written in the same transaction as the batch they admit, so a crash keeps the
//! counts and the series of every batch that was acknowledged. The decisions are core's.
//!
//! The single writer thread makes check-and-count atomic: concurrent writes are admitted one
//! after the other against the set as the previous ones left it. The series set is a
//! `WITHOUT ROWID` table keyed by (bucket, hash), so a bucket with millions of series costs
//! disk, not memory; a bounded cache of recently seen series spares SQLite the lookups of
//! the series that keep coming back.

use super::*;
use linegate_core::quota::{self, Admission, Fate, Usage};
use std::sync::Mutex;

pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS quota_usage(tenant INTEGER PRIMARY KEY, window INTEGER NOT NULL,
  bytes INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS quota_series(bucket_id INTEGER NOT NULL, hash INTEGER NOT NULL,
  PRIMARY KEY(bucket_id, hash)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS quota_series_count(bucket_id INTEGER PRIMARY KEY,
  count INTEGER NOT NULL);
";

/// The meta key recording which `linegate_core::quota::SERIES_HASH_VERSION` the series
/// sets are hashed with (absent: version 1, FNV-1a, from before it was recorded).
pub(crate) const HASH_VERSION_KEY: &str = "quota_series_hash";

/// What opening a store did to its series sets.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Rehashed {
    /// Series of the old version found again in the stored batches, now in the new set.
    pub found: u64,
    /// Series of the old version, before.
    pub old: u64,
}

/// Brings the series sets to the current hash version. Sets of an older version are rebuilt from
/// the stored batches, which the store keeps for ever (nothing deletes them): every point
/// of every batch of a bucket with a set has its key hashed both ways, and its new hash
/// goes into the new set when its old hash was in the old one, so the new set holds exactly
/// the old set's series that the batches still show. Each bucket's count is kept as it
/// was: a series admitted but in no batch (storage's rules dropped all its points, or kept
/// them re-rendered with other escapes) counts once more if it comes again, never the other
/// way (never more than the quota admitted). All in one transaction: a crash redoes it.
pub(crate) fn rehash(conn: &Connection) -> rusqlite::Result<Option<Rehashed>> {
    let want = quota::SERIES_HASH_VERSION.to_string();
    let had = get_meta(conn, HASH_VERSION_KEY)?;
    if had.as_deref() == Some(want.as_str()) {
        return Ok(None);
    }
    // Absent: version 1, from before the version was recorded.
    let old_hash = had
        .as_deref()
        .map_or(Some(1), |v| v.parse().ok())
        .filter(|&v| v < quota::SERIES_HASH_VERSION)
        .and_then(quota::series_hash_of);
    let Some(old_hash) = old_hash else {
        return Err(failure(format!(
            "the series quota's sets are hashed with version {}, this build knows {want}",
            had.as_deref().unwrap_or("1")
        )));
    };
    let tx = conn.unchecked_transaction()?;
    let old: i64 = tx.query_row("SELECT COUNT(*) FROM quota_series", [], |r| r.get(0))?;
    let mut done = Rehashed {
        found: 0,
        old: old as u64,
    };
    if old > 0 {
        tx.execute_batch(
            "ALTER TABLE quota_series RENAME TO quota_series_old;
             CREATE TABLE quota_series(bucket_id INTEGER NOT NULL, hash INTEGER NOT NULL,
               PRIMARY KEY(bucket_id, hash)) WITHOUT ROWID;",
        )?;
        let mut rows = tx.prepare(
            "SELECT bucket_id, precision, now, encoding, body FROM batches
             WHERE bucket_id IN (SELECT DISTINCT bucket_id FROM quota_series_old) ORDER BY seq",
        )?;
        let mut add = tx.prepare(
            "INSERT OR IGNORE INTO quota_series(bucket_id, hash) SELECT ?1, ?2
             WHERE EXISTS (SELECT 1 FROM quota_series_old WHERE bucket_id = ?1 AND hash = ?3)",
        )?;
        // Keys already looked up (bounded: dropped whole when full).
        let mut seen: HashSet<(i64, u64)> = HashSet::new();
        let mut q = rows.query([])?;
        while let Some(r) = q.next()? {
            let bucket: i64 = r.get(0)?;
            let precision: String = r.get(1)?;
            let now: i64 = r.get(2)?;
            let body = decode_blob(r.get(3)?, r.get(4)?)
                .map_err(|e| failure(format!("a stored batch: {e}")))?;
            let opts = ParseOptions::new(
                Precision::from_param(precision.as_bytes()).unwrap_or_default(),
                now,
            );
            let mut keys = Vec::new();
            read_batch(&body, &opts, 1 << 10, |p| {
                let key = p.series_key();
                let new = quota::series_hash(&key);
                if seen.len() >= 1 << 20 {
                    seen.clear();
                }
                if seen.insert((bucket, new)) {
                    keys.push((new, old_hash(&key)));
                }
            });
            for (new, old) in keys {
                done.found += add.execute(params![bucket, new as i64, old as i64])? as u64;
            }
        }
        drop(q);
        drop((rows, add));
        tx.execute_batch("DROP TABLE quota_series_old")?;
    }
    set_meta(&tx, HASH_VERSION_KEY, &want)?;
    tx.commit()?;
    Ok((old > 0).then_some(done))
}

fn failure(message: String) -> rusqlite::Error {
    rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ERROR),
        Some(message),
    )
}

/// Series hashes remembered as known, per process (two generations, as `FieldCache`).
pub const SERIES_CACHE: usize = 1 << 20;

/// What a write brings to the quotas, decided by the HTTP layer.
#[derive(Clone, Debug)]
pub struct QuotaJob {
    /// The org ID whose window counts the bytes (spec D.2's tenant at the backend).
    pub tenant: u64,
    /// Decoded bytes to count when the batch is stored.
    pub bytes: u64,
    /// Whether the rate quota is on: only then are the bytes counted (a series quota alone
    /// spares the writer a read and an upsert per batch).
    pub rate: bool,
    /// The quota clock (ms of Unix time) when the write arrived: its window counts them.
    pub now_ms: u64,
    /// With `--quota-series`: the batch's distinct series in input order, and the quota.
    pub series: Option<(Vec<u64>, u64)>,
    /// A partial write (spec D.1): a refused series refuses its lines, not the batch, and
    /// the writer answers which series (nothing is stored: the HTTP layer moves their lines
    /// to the rejected ones and sends the rest again).
    pub partial: bool,
}

/// Each tenant's usage as last committed: the rate check reads it without waiting for the
/// writer (the rate may run over by the writes in flight, as D.2 allows).
#[derive(Default)]
pub struct Usages(Mutex<HashMap<u64, Usage>>);

impl Usages {
    pub fn get(&self, tenant: u64) -> Usage {
        let m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        m.get(&tenant).copied().unwrap_or_default()
    }
    pub(crate) fn set(&self, tenant: u64, u: Usage) {
        let mut m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        m.insert(tenant, u);
    }
    pub(crate) fn load(conn: &Connection) -> rusqlite::Result<Usages> {
        let mut st = conn.prepare("SELECT tenant, window, bytes FROM quota_usage")?;
        let rows = st.query_map([], |r| {
            Ok((
                to_u(r.get(0)?),
                Usage {
                    window: r.get::<_, i64>(1)? as u64,
                    bytes: r.get::<_, i64>(2)? as u64,
                },
            ))
        })?;
        let mut m = HashMap::new();
        for row in rows {
            let (t, u) = row?;
            m.insert(t, u);
        }
        Ok(Usages(Mutex::new(m)))
    }
    /// Every tenant's usage (for the metrics and the admin endpoint).
    pub fn all(&self) -> Vec<(u64, Usage)> {
        let m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let mut v: Vec<_> = m.iter().map(|(k, u)| (*k, *u)).collect();
        v.sort_unstable_by_key(|(k, _)| *k);
        v
    }
}

/// Known (bucket, hash) pairs, at most `cap`: the newer generation fills to half, then the
/// older is dropped whole.
pub(crate) struct SeriesCache {
    cap: usize,
    cur: Known,
    old: Known,
}

/// A cache generation: foldhash, seeded per process, in place of SipHash (a lookup a
/// series of a 5,000-series batch: SipHash measured 8% of the check itself).
type Known = HashSet<(u64, u64), foldhash::fast::RandomState>;

impl SeriesCache {
    pub(crate) fn new(cap: usize) -> SeriesCache {
        SeriesCache {
            cap: cap.max(2),
            cur: Known::default(),
            old: Known::default(),
        }
    }
    fn put(&mut self, k: (u64, u64)) {
        if self.cur.len() >= self.cap / 2 {
            self.old = std::mem::take(&mut self.cur);
        }
        self.cur.insert(k);
    }
    fn known(&mut self, tx: &Transaction<'_>, k: (u64, u64)) -> rusqlite::Result<bool> {
        if self.cur.contains(&k) {
            return Ok(true);
        }
        if self.old.remove(&k) {
            self.put(k);
            return Ok(true);
        }
        let found = tx
            .prepare_cached("SELECT 1 FROM quota_series WHERE bucket_id = ?1 AND hash = ?2")?
            .exists(params![to_i(k.0), k.1 as i64])?;
        if found {
            self.put(k);
        }
        Ok(found)
    }
    /// Series added by a transaction that did not commit are forgotten.
    pub(crate) fn forget(&mut self, keys: &[(u64, u64)]) {
        for k in keys {
            self.cur.remove(k);
            self.old.remove(k);
        }
    }
}

/// The number of series a bucket holds.
pub fn series_count(conn: &Connection, bucket: u64) -> rusqlite::Result<u64> {
    let n: Option<i64> = conn
        .query_row(
            "SELECT count FROM quota_series_count WHERE bucket_id = ?1",
            [to_i(bucket)],
            |r| r.get(0),
        )
        .optional()?;
    Ok(n.unwrap_or(0) as u64)
}

/// Every bucket's series count.
pub fn series_counts(conn: &Connection) -> rusqlite::Result<Vec<(u64, u64)>> {
    let mut st = conn.prepare("SELECT bucket_id, count FROM quota_series_count ORDER BY 1")?;
    let rows = st.query_map([], |r| Ok((to_u(r.get(0)?), r.get::<_, i64>(1)? as u64)))?;
    rows.collect()
}

/// Admits the job's new series into the bucket's set, inside the writer's transaction.
/// Returns the admission (the batch is refused when it refused a series) and the pairs it
/// added, for the cache to forget should the commit fail.
pub(crate) fn admit_series(
    tx: &Transaction<'_>,
    cache: &mut SeriesCache,
    bucket: u64,
    hashes: &[u64],
    limit: u64,
    added: &mut Vec<(u64, u64)>,
) -> rusqlite::Result<Admission> {
    let mut known = Vec::with_capacity(hashes.len());
    for &h in hashes {
        known.push(cache.known(tx, (bucket, h))?);
    }
    let count = series_count(tx, bucket)?;
    let a = quota::admit(known, count, limit);
    let add = a.to_add(false);
    if !add.is_empty() {
        let mut ins = tx.prepare_cached(
            "INSERT OR IGNORE INTO quota_series(bucket_id, hash) VALUES (?1, ?2)",
        )?;
        for &i in &add {
            let h = hashes[i as usize];
            ins.execute(params![to_i(bucket), h as i64])?;
            cache.put((bucket, h));
            added.push((bucket, h));
        }
        tx.prepare_cached(
            "INSERT INTO quota_series_count(bucket_id, count) VALUES (?1, ?2)
             ON CONFLICT(bucket_id) DO UPDATE SET count = ?2",
        )?
        .execute(params![to_i(bucket), (count + add.len() as u64) as i64])?;
    }
    debug_assert!(a.fates.iter().filter(|f| **f == Fate::New).count() as u64 == a.new);
    Ok(a)
}

/// Counts `bytes` for `tenant` at `now_ms`, inside the writer's transaction; returns the
/// usage to publish once the commit returned.
pub(crate) fn count_bytes(
    tx: &Transaction<'_>,
    tenant: u64,
    now_ms: u64,
    bytes: u64,
) -> rusqlite::Result<Usage> {
    let old: Option<(i64, i64)> = tx
        .prepare_cached("SELECT window, bytes FROM quota_usage WHERE tenant = ?1")?
        .query_row([to_i(tenant)], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let old = old.map_or(Usage::default(), |(w, b)| Usage {
        window: w as u64,
        bytes: b as u64,
    });
    let new = old.add(now_ms, bytes);
    tx.prepare_cached(
        "INSERT INTO quota_usage(tenant, window, bytes) VALUES (?1, ?2, ?3)
         ON CONFLICT(tenant) DO UPDATE SET window = ?2, bytes = ?3",
    )?
    .execute(params![to_i(tenant), new.window as i64, new.bytes as i64])?;
    Ok(new)
}

#[cfg(test)]
mod rehash_tests {
    use super::*;
    use linegate_core::quota::{series_hash, series_hash_v1, series_hash_v2};

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("linegate-rehash-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    fn known(conn: &Connection, bucket: u64, key: &[u8]) -> bool {
        let tx = conn.unchecked_transaction().unwrap();
        let mut cache = SeriesCache::new(16);
        cache.known(&tx, (bucket, series_hash(key))).unwrap()
    }

    /// A store written before the hash was versioned (its sets hold FNV-1a hashes), and one
    /// written under version 2.
    #[test]
    fn a_store_of_an_old_hash_opens_and_still_knows_its_series() {
        old_store_opens(None, series_hash_v1);
        old_store_opens(Some("2"), series_hash_v2);
    }

    fn old_store_opens(version: Option<&str>, old_hash: fn(&[u8]) -> u64) {
        let d = dir(&format!("v{}", version.unwrap_or("1")));
        std::fs::create_dir_all(&d).unwrap();
        {
            let conn = open_write(&d).unwrap();
            // As an old build left it: its version (none before 2) and its hashes.
            match version {
                Some(v) => set_meta(&conn, HASH_VERSION_KEY, v).unwrap(),
                None => delete_meta(&conn, HASH_VERSION_KEY).unwrap(),
            }
            conn.execute("DELETE FROM quota_series", []).unwrap();
            let (raw, enc) =
                Compression::Zstd.encode(b"cpu,host=a v=1 1\nmem,x=1 v=1 2\nfree v=1 3\n");
            for (bucket, body, encoding) in [
                (
                    1i64,
                    b"cpu,host=a v=1 1\ncpu,host=a v=2 2\n".to_vec(),
                    ENC_RAW,
                ),
                (1, raw, enc),
                // A bucket without a set, and a series of bucket 1 written to it.
                (2, b"disk,d=1 v=1 1\ngone,k=v v=1 1\n".to_vec(), ENC_RAW),
            ] {
                conn.execute(
                    "INSERT INTO batches(bucket_id, precision, now, points, min_time, max_time, encoding, body) VALUES (?1, 'ns', 0, 1, 0, 0, ?2, ?3)",
                    params![bucket, encoding, body],
                )
                .unwrap();
            }
            // `free` was written while the quota was off (not in the set); `gone,k=v` was
            // admitted but no batch of bucket 1 holds it.
            for key in [&b"cpu,host=a"[..], b"mem,x=1", b"gone,k=v"] {
                conn.execute(
                    "INSERT INTO quota_series(bucket_id, hash) VALUES (1, ?1)",
                    [old_hash(key) as i64],
                )
                .unwrap();
            }
            conn.execute(
                "INSERT INTO quota_series_count(bucket_id, count) VALUES (1, 3)",
                [],
            )
            .unwrap();
        }
        // Opened by this build: rebuilt once.
        let conn = open_write(&d).unwrap();
        assert_eq!(
            get_meta(&conn, HASH_VERSION_KEY).unwrap().as_deref(),
            Some(quota::SERIES_HASH_VERSION.to_string().as_str())
        );
        assert!(known(&conn, 1, b"cpu,host=a"));
        assert!(known(&conn, 1, b"mem,x=1"));
        assert!(
            !known(&conn, 1, b"free"),
            "never admitted: not known now either"
        );
        assert!(
            !known(&conn, 1, b"gone,k=v"),
            "in no batch: cannot be found again"
        );
        assert!(!known(&conn, 2, b"disk,d=1"));
        let n: i64 = conn
            .query_row("SELECT COUNT(*) FROM quota_series", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 2);
        // The count is kept (never more admitted than the quota allows).
        assert_eq!(series_count(&conn, 1).unwrap(), 3);
        let old: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE name = 'quota_series_old'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(old, 0);
        // Opening again changes nothing.
        assert_eq!(rehash(&conn).unwrap(), None);
        drop(conn);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_new_store_records_the_version_and_an_unknown_one_is_refused() {
        let d = dir("new");
        std::fs::create_dir_all(&d).unwrap();
        let conn = open_write(&d).unwrap();
        assert_eq!(
            get_meta(&conn, HASH_VERSION_KEY).unwrap(),
            Some(quota::SERIES_HASH_VERSION.to_string())
        );
        set_meta(&conn, HASH_VERSION_KEY, "99").unwrap();
        let e = rehash(&conn).unwrap_err().to_string();
        assert!(e.contains("hashed with version 99"), "{e}");
        drop(conn);
        let _ = std::fs::remove_dir_all(&d);
    }
}

/// What the series quota costs per step against the check itself, on 5,000-line batches of
/// known series, with a bucket holding 500k series of a 1M quota (BENCHMARKS.md):
/// `cargo test --release -p linegate-backend --lib series_quota_cost -- --ignored --nocapture`
/// (`BENCH_FILE`: line protocol whose first 5,000 lines are one batch; default
/// /tmp/linegate-bench-data/cpu.lp from `../shared/bench/gen.py`).
#[cfg(test)]
mod cost {
    use super::*;
    use linegate_core::quota::{series_hash, BatchSeries, SeriesMemo};
    use std::time::Instant;

    const KNOWN: u64 = 500_000;
    const QUOTA: u64 = 1_000_000;

    /// Median of `runs` timings of `f`, in microseconds.
    fn median(runs: usize, mut f: impl FnMut()) -> f64 {
        let mut t: Vec<f64> = (0..runs)
            .map(|_| {
                let t0 = Instant::now();
                f();
                t0.elapsed().as_secs_f64() * 1e6
            })
            .collect();
        t.sort_by(f64::total_cmp);
        t[runs / 2]
    }

    fn series_of(body: &[u8]) -> BatchSeries {
        let mut s = BatchSeries::new();
        let opts = ParseOptions::new(Precision::Ns, 0);
        assert!(read_batch(body, &opts, 1 << 20, |p| s.push(p)).is_ok());
        s
    }

    #[test]
    #[ignore]
    fn series_quota_cost() {
        let file = std::env::var("BENCH_FILE")
            .unwrap_or_else(|_| "/tmp/linegate-bench-data/cpu.lp".into());
        let Ok(text) = std::fs::read(&file) else {
            eprintln!("SKIPPED: {file} is absent (python3 ../shared/bench/gen.py)");
            return;
        };
        let cpu: Vec<u8> = (text.split_inclusive(|&b| b == b'\n').take(5000))
            .flatten()
            .copied()
            .collect();
        // 5,000 lines of 5,000 distinct series, each line as long as cpu.lp's.
        let wide: Vec<u8> = (0..5000)
            .flat_map(|i| {
                format!(
                    "cpu,hostname=host_{i},region=eu-west-1,datacenter=eu-west-1a,rack={},os=Ubuntu16.04LTS,arch=x64,team=SF,service={},service_version=1,service_environment=production usage_user=49i,usage_system=84i,usage_idle=44i,usage_nice=75i,usage_iowait=67i,usage_irq=30i,usage_softirq=39i,usage_steal=47i,usage_guest=45i,usage_guest_nice=3i 1451606400000000000\n",
                    i % 100,
                    i % 20
                )
                .into_bytes()
            })
            .collect();
        let dir = std::env::temp_dir().join(format!("linegate-quota-cost-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut conn = Connection::open(dir.join("q.db")).unwrap();
        conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;")
            .unwrap();
        conn.execute_batch(SCHEMA).unwrap();
        // The bucket half full: the batches' series and filler up to 500k.
        let bucket = 1u64;
        let mut known: Vec<u64> = series_of(&cpu).hashes;
        known.extend(series_of(&wide).hashes);
        let t0 = Instant::now();
        {
            let tx = conn.transaction().unwrap();
            {
                let mut ins = tx
                    .prepare("INSERT OR IGNORE INTO quota_series(bucket_id, hash) VALUES (?1, ?2)")
                    .unwrap();
                for h in &known {
                    ins.execute(params![to_i(bucket), *h as i64]).unwrap();
                }
                for i in 0..KNOWN - known.len() as u64 {
                    let h = series_hash(format!("filler,n={i}").as_bytes());
                    ins.execute(params![to_i(bucket), h as i64]).unwrap();
                }
            }
            tx.execute(
                "INSERT INTO quota_series_count(bucket_id, count) VALUES (?1, ?2)",
                params![to_i(bucket), KNOWN as i64],
            )
            .unwrap();
            tx.commit().unwrap();
        }
        eprintln!(
            "store: {KNOWN} series in {:.1} s",
            t0.elapsed().as_secs_f64()
        );
        let opts = ParseOptions::new(Precision::Ns, 0);
        let runs = 31;
        for (name, body) in [("cpu.lp (1,000 series)", &cpu), ("5,000 series", &wide)] {
            let check = median(runs, || {
                assert!(read_batch(body, &opts, 1 << 20, |_| {}).is_ok());
            });
            let with_hash = median(runs, || {
                let mut s = BatchSeries::new();
                assert!(read_batch(body, &opts, 1 << 20, |p| s.push(p)).is_ok());
            });
            // As the write path has it: a memo warm from the batches before.
            let mut memo = SeriesMemo::new();
            let with_memo = median(runs, || {
                let mut s = BatchSeries::new();
                assert!(read_batch(body, &opts, 1 << 20, |p| s.push_memo(p, &mut memo)).is_ok());
            });
            let hashes = series_of(body).hashes;
            // The writer's side: savepoint, lookups, count, admission (nothing to add).
            let mut admit = |cache: &mut SeriesCache| {
                let tx = conn.transaction().unwrap();
                tx.execute_batch("SAVEPOINT quota").unwrap();
                let mut added = Vec::new();
                let a = admit_series(&tx, cache, bucket, &hashes, QUOTA, &mut added).unwrap();
                assert_eq!((a.new, a.refused), (0, 0));
                tx.execute_batch("RELEASE quota").unwrap();
                tx.commit().unwrap();
            };
            let mut warm = SeriesCache::new(SERIES_CACHE);
            admit(&mut warm);
            let t_warm = median(runs, || admit(&mut warm));
            let t_cold = median(runs, || admit(&mut SeriesCache::new(SERIES_CACHE)));
            let plain = (with_hash - check).max(0.0);
            let hash = (with_memo - check).max(0.0);
            eprintln!(
                "{name}: check {check:.0} µs; series hashing with a warm memo +{hash:.0} µs \
                 ({:.1}%; without +{plain:.0} µs, {:.1}%); \
                 admission, cache warm {t_warm:.0} µs ({:.1}%), cold (SQLite) {t_cold:.0} µs ({:.1}%); \
                 total warm {:.1}%, cold {:.1}%",
                100.0 * hash / check,
                100.0 * plain / check,
                100.0 * t_warm / check,
                100.0 * t_cold / check,
                100.0 * (hash + t_warm) / check,
                100.0 * (hash + t_cold) / check,
            );
        }
        drop(conn);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
