//! Embedded storage: one SQLite database (WAL, `synchronous=FULL`) per data directory.
//!
//! Batches are stored whole, compressed (`--compression`), in arrival order: the body as accepted when
//! storage kept every point as written, else the kept points re-rendered. One writer
//! thread owns the write connection and commits whatever is waiting as one transaction
//! (group commit), so each fsync covers every batch that arrived meanwhile; nobody is
//! answered before the commit that holds their batch has returned.

pub mod batch_ids;
mod codec;
pub mod dbrps;
mod dead_letters;
pub mod deliveries;
mod export;
mod ids;
mod quarantine;
pub mod quota;
mod registry;
pub mod v1;
mod writer;

pub use codec::*;
pub use dead_letters::*;
pub use export::*;
pub use ids::*;
use linegate_core::quota::Usage;
pub use quarantine::*;
use quota::{admit_series, count_bytes, SeriesCache};
pub use quota::{QuotaJob, Usages};
pub use registry::*;
pub use writer::*;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{mpsc, Arc, RwLock};

use bytes::Bytes;
use linegate_core::{read_batch, FieldType, ParseOptions, Precision};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Transaction};
use tokio::sync::{oneshot, Notify};

use linegate_core::lp;
use linegate_core::storage::Merged;
use linegate_core::storage::{self, BucketRules, Scan, Schema, SchemaKey};

pub const DB_FILE: &str = "linegate.db";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS orgs(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS buckets(id INTEGER PRIMARY KEY, org_id INTEGER NOT NULL,
  name TEXT NOT NULL, retention_secs INTEGER NOT NULL DEFAULT 0, UNIQUE(org_id, name));
CREATE TABLE IF NOT EXISTS auth(id INTEGER PRIMARY KEY, hash BLOB NOT NULL UNIQUE,
  org_id INTEGER, all_access INTEGER NOT NULL, description TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS auth_buckets(auth_id INTEGER NOT NULL, bucket_id INTEGER NOT NULL,
  action INTEGER NOT NULL, PRIMARY KEY(auth_id, bucket_id, action)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS batches(seq INTEGER PRIMARY KEY, bucket_id INTEGER NOT NULL,
  precision TEXT NOT NULL, now INTEGER NOT NULL, points INTEGER NOT NULL,
  min_time INTEGER NOT NULL, max_time INTEGER NOT NULL, encoding INTEGER NOT NULL,
  body BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS batches_by_bucket ON batches(bucket_id, seq);
CREATE TABLE IF NOT EXISTS fields(bucket_id INTEGER NOT NULL, shard INTEGER NOT NULL,
  measurement BLOB NOT NULL, field BLOB NOT NULL, type INTEGER NOT NULL,
  PRIMARY KEY(bucket_id, shard, measurement, field)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS dead_letters(id INTEGER PRIMARY KEY, seq INTEGER NOT NULL,
  bucket_id INTEGER NOT NULL, status INTEGER NOT NULL, reason TEXT NOT NULL,
  precision TEXT NOT NULL, body BLOB NOT NULL, at_ns INTEGER NOT NULL);
";

/// Field types held in memory by default.
pub const DEFAULT_FIELD_CACHE: usize = 100_000;

/// The data directory, created 0700 (and made 0700 if it exists): only the server's user
/// reads the database. The database file is created 0600 before SQLite opens it, so its
/// `-wal` and `-shm` files, which SQLite creates with the database's mode, are 0600 too.
fn private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(db_path(dir))?;
    Ok(())
}

/// Existing files of a data directory made before it was private.
fn private_files(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        if e.file_type()?.is_file() {
            std::fs::set_permissions(e.path(), std::fs::Permissions::from_mode(0o600))?;
        }
    }
    Ok(())
}

pub fn db_path(dir: &Path) -> PathBuf {
    dir.join(DB_FILE)
}

fn open_write(dir: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(db_path(dir))?;
    // Large pages suit large blobs; only takes effect on a new database.
    conn.pragma_update(None, "page_size", 65536)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // FULL: the WAL is synced at every commit, so a committed batch survives power loss.
    conn.pragma_update(None, "synchronous", "FULL")?;
    // Checkpoints run on their own thread (see `checkpointer`), not inside commits.
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    // Deleted rows are overwritten: a dropped plain-text token table leaves nothing behind.
    conn.pragma_update(None, "secure_delete", "ON")?;
    // The writer waits out a RESTART checkpoint (`checkpointer`) rather than failing a
    // write (its transactions take the write lock first: see `Writer::commit_group`).
    conn.busy_timeout(std::time::Duration::from_secs(60))?;
    conn.execute_batch(SCHEMA)?;
    conn.execute_batch(v1::SCHEMA)?;
    conn.execute_batch(quota::SCHEMA)?;
    conn.execute_batch(quarantine::SCHEMA)?;
    conn.execute_batch(deliveries::SCHEMA)?;
    conn.execute_batch(batch_ids::SCHEMA)?;
    migrate_tokens(&conn)?;
    dead_letters::migrate(&conn)?;
    if let Some(r) = quota::rehash(&conn)? {
        tracing::warn!(
            old = r.old,
            found = r.found,
            version = linegate_core::quota::SERIES_HASH_VERSION,
            "series quota: sets rebuilt from the stored batches under the new series hash \
             (series not found in a batch count once more if they come again)"
        );
    }
    if get_meta(&conn, SALT_KEY)?.is_none() {
        let mut salt = [0u8; 32];
        random_bytes(&mut salt);
        set_meta(&conn, SALT_KEY, &hex(&salt))?;
    }
    Ok(conn)
}

/// A read-only connection that works while a server writes (WAL readers never block).
pub fn open_read(dir: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        db_path(dir),
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    Ok(conn)
}

pub fn get_meta(conn: &Connection, key: &str) -> rusqlite::Result<Option<String>> {
    conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()
}

pub fn set_meta(conn: &Connection, key: &str, value: &str) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO meta(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = ?2",
        params![key, value],
    )?;
    Ok(())
}

pub fn delete_meta(conn: &Connection, key: &str) -> rusqlite::Result<()> {
    conn.execute("DELETE FROM meta WHERE key = ?1", [key])?;
    Ok(())
}

/// The handle the server holds: registry, writer queue, and a notifier for the relay.
pub struct Store {
    pub dir: PathBuf,
    tx: mpsc::Sender<Msg>,
    pub registry: RwLock<Registry>,
    /// Wakes the relay when batches were committed.
    pub committed: Arc<Notify>,
    /// The highest committed batch sequence number.
    pub last_seq: Arc<AtomicI64>,
    /// Each tenant's bytes in its current window, as last committed (spec D.2).
    pub usages: Arc<Usages>,
}

impl Store {
    /// Opens (creating if needed) the database in `dir` and starts the writer thread.
    pub fn open(dir: &Path) -> Result<Arc<Store>, String> {
        Self::open_with(dir, DEFAULT_FIELD_CACHE)
    }

    /// Same, holding at most `field_cache` field types in memory (the rest are read from
    /// the `fields` table when a write needs them).
    pub fn open_with(dir: &Path, field_cache: usize) -> Result<Arc<Store>, String> {
        private_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let conn = open_write(dir).map_err(|e| format!("opening the database: {e}"))?;
        private_files(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let registry = load_registry(&conn).map_err(|e| e.to_string())?;
        let schema = FieldCache::new(field_cache);
        let last: i64 = conn
            .query_row("SELECT COALESCE(MAX(seq), 0) FROM batches", [], |r| {
                r.get(0)
            })
            .map_err(|e| e.to_string())?;
        let (tx, rx) = mpsc::channel();
        let committed = Arc::new(Notify::new());
        let last_seq = Arc::new(AtomicI64::new(last));
        let usages = Arc::new(Usages::load(&conn).map_err(|e| e.to_string())?);
        let mut w = Writer {
            conn,
            schema,
            committed: committed.clone(),
            last_seq: last_seq.clone(),
            series: SeriesCache::new(quota::SERIES_CACHE),
            usages: usages.clone(),
        };
        std::thread::Builder::new()
            .name("linegate-writer".into())
            .spawn(move || w.run(rx))
            .map_err(|e| e.to_string())?;
        let cp = open_read(dir).map_err(|e| e.to_string())?;
        std::thread::Builder::new()
            .name("linegate-checkpoint".into())
            .spawn(move || checkpointer(cp))
            .map_err(|e| e.to_string())?;
        Ok(Arc::new(Store {
            dir: dir.to_path_buf(),
            tx,
            registry: RwLock::new(registry),
            committed,
            last_seq,
            usages,
        }))
    }

    /// Hands a batch to the writer; its `reply` says when it is committed (or failed).
    pub fn submit(&self, job: WriteJob) -> Result<(), String> {
        self.tx
            .send(Msg::Write(job))
            .map_err(|_| "the writer stopped".to_string())
    }

    /// Runs `f` inside the writer's next transaction; resolves after the commit.
    pub async fn exec(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> rusqlite::Result<()> + Send + 'static,
    ) -> Result<(), String> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Msg::Exec(Box::new(f), tx))
            .map_err(|_| "writer stopped".to_string())?;
        rx.await.map_err(|_| "writer stopped".to_string())?
    }

    /// Reloads orgs, buckets and tokens after a change.
    pub fn reload_registry(&self) -> Result<(), String> {
        let conn = open_read(&self.dir).map_err(|e| e.to_string())?;
        let reg = load_registry(&conn).map_err(|e| e.to_string())?;
        *self.registry.write().unwrap_or_else(|e| e.into_inner()) = reg;
        Ok(())
    }

    pub fn registry(&self) -> std::sync::RwLockReadGuard<'_, Registry> {
        self.registry.read().unwrap_or_else(|e| e.into_inner())
    }
}

/// Copies committed WAL frames into the database file in the background, so commits never
/// wait for a checkpoint. When writes outpace it and the WAL passes 256 MiB, a RESTART
/// checkpoint makes the writer wait once so the WAL starts over (a shorter wait than at
/// 1 GiB).
fn checkpointer(conn: Connection) {
    const RESTART_FRAMES: i64 = (256 << 20) / 65536;
    loop {
        std::thread::sleep(std::time::Duration::from_millis(200));
        let frames: rusqlite::Result<(i64, i64)> =
            conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                Ok((r.get(1)?, r.get(2)?))
            });
        match frames {
            Ok((log, done)) if log > RESTART_FRAMES && done < log => {
                let _ = conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |_| Ok(()));
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "checkpoint"),
        }
    }
}
