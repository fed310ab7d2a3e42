//! Embedded storage: one SQLite database (WAL, `synchronous=FULL`) per data directory.
//!
//! Batches are stored whole, LZ4-compressed, in arrival order: the body as accepted when
//! storage kept every point as written, else the kept points re-rendered. One writer
//! thread owns the write connection and commits whatever is waiting as one transaction
//! (group commit), so each fsync covers every batch that arrived meanwhile; nobody is
//! answered before the commit that holds their batch has returned.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{mpsc, Arc, RwLock};

use bytes::Bytes;
use linegate_core::{read_batch, FieldType, ParseOptions, Precision};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Transaction};
use tokio::sync::{oneshot, Notify};

use crate::lp::{self, Merged};
use crate::rules::{self, BucketRules, Scan, Schema, SchemaKey};

pub const DB_FILE: &str = "linegate.db";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS orgs(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS buckets(id INTEGER PRIMARY KEY, org_id INTEGER NOT NULL,
  name TEXT NOT NULL, retention_secs INTEGER NOT NULL DEFAULT 0, UNIQUE(org_id, name));
CREATE TABLE IF NOT EXISTS tokens(token TEXT PRIMARY KEY, org_id INTEGER,
  all_access INTEGER NOT NULL, description TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS token_buckets(token TEXT NOT NULL, bucket_id INTEGER NOT NULL,
  PRIMARY KEY(token, bucket_id)) WITHOUT ROWID;
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

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Org {
    pub id: u64,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bucket {
    pub id: u64,
    pub org_id: u64,
    pub name: String,
    pub retention_secs: i64,
}

impl Bucket {
    pub fn rules(&self) -> BucketRules {
        BucketRules {
            id: self.id,
            retention_secs: self.retention_secs,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Token {
    pub token: String,
    /// The org an all-access token is for; `None` for an operator token (every org).
    pub org_id: Option<u64>,
    pub all_access: bool,
    /// Buckets this token may write to besides what `all_access` gives.
    pub buckets: HashSet<u64>,
    pub description: String,
}

impl Token {
    pub fn can_write(&self, b: &Bucket) -> bool {
        (self.all_access && self.org_id.is_none_or(|o| o == b.org_id))
            || self.buckets.contains(&b.id)
    }
    pub fn can_admin(&self, org_id: u64) -> bool {
        self.all_access && self.org_id.is_none_or(|o| o == org_id)
    }
}

/// Orgs, buckets and tokens, held in memory (every request reads them).
#[derive(Clone, Debug, Default)]
pub struct Registry {
    pub orgs: HashMap<u64, Org>,
    pub buckets: HashMap<u64, Bucket>,
    pub tokens: HashMap<String, Token>,
    /// DBRP mappings and v1 authorizations.
    pub v1: crate::v1::V1Registry,
}

impl Registry {
    pub fn org_by_name(&self, name: &[u8]) -> Option<&Org> {
        self.orgs.values().find(|o| o.name.as_bytes() == name)
    }
    pub fn bucket_by_name(&self, org_id: u64, name: &[u8]) -> Option<&Bucket> {
        self.buckets
            .values()
            .find(|b| b.org_id == org_id && b.name.as_bytes() == name)
    }
    /// A bucket by name in any org, when the name is unambiguous (for the CLI).
    pub fn find_bucket(&self, org: Option<&str>, name: &str) -> Result<Bucket, String> {
        let org_id = match org {
            Some(o) => Some(
                self.org_by_name(o.as_bytes())
                    .ok_or_else(|| format!("organization {o:?} not found"))?
                    .id,
            ),
            None => None,
        };
        let found: Vec<&Bucket> = self
            .buckets
            .values()
            .filter(|b| b.name == name && org_id.is_none_or(|o| o == b.org_id))
            .collect();
        match found.as_slice() {
            [b] => Ok((*b).clone()),
            [] => Err(format!("bucket {name:?} not found")),
            _ => Err(format!(
                "bucket {name:?} exists in several orgs: pass --org"
            )),
        }
    }
}

fn to_i(id: u64) -> i64 {
    id as i64
}
fn to_u(id: i64) -> u64 {
    id as u64
}

fn type_code(t: FieldType) -> i64 {
    t as i64
}
fn type_from(c: i64) -> FieldType {
    match c {
        0 => FieldType::Float,
        1 => FieldType::Integer,
        2 => FieldType::Unsigned,
        3 => FieldType::String,
        _ => FieldType::Boolean,
    }
}

/// A random non-zero 64-bit ID (InfluxDB's are 16 hex digits).
pub fn new_id() -> u64 {
    loop {
        let mut b = [0u8; 8];
        random_bytes(&mut b);
        let id = u64::from_le_bytes(b);
        if id != 0 {
            return id;
        }
    }
}

pub fn random_bytes(buf: &mut [u8]) {
    use std::io::Read;
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        if f.read_exact(buf).is_ok() {
            return;
        }
    }
    // Fallback: time and address entropy, good enough for IDs (not for tokens).
    let mut x = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
        ^ (buf.as_ptr() as u64);
    for b in buf {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
}

/// A fresh token: 64 URL-safe characters.
pub fn new_token() -> String {
    const ALPHA: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut b = [0u8; 64];
    random_bytes(&mut b);
    b.iter()
        .map(|&x| ALPHA[(x & 63) as usize] as char)
        .collect()
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
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.execute_batch(SCHEMA)?;
    conn.execute_batch(crate::v1::SCHEMA)?;
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

pub fn load_registry(conn: &Connection) -> rusqlite::Result<Registry> {
    let mut reg = Registry::default();
    let mut st = conn.prepare("SELECT id, name FROM orgs")?;
    for r in st.query_map([], |r| {
        Ok(Org {
            id: to_u(r.get(0)?),
            name: r.get(1)?,
        })
    })? {
        let o = r?;
        reg.orgs.insert(o.id, o);
    }
    let mut st = conn.prepare("SELECT id, org_id, name, retention_secs FROM buckets")?;
    for r in st.query_map([], |r| {
        Ok(Bucket {
            id: to_u(r.get(0)?),
            org_id: to_u(r.get(1)?),
            name: r.get(2)?,
            retention_secs: r.get(3)?,
        })
    })? {
        let b = r?;
        reg.buckets.insert(b.id, b);
    }
    let mut st = conn.prepare("SELECT token, org_id, all_access, description FROM tokens")?;
    for r in st.query_map([], |r| {
        Ok(Token {
            token: r.get(0)?,
            org_id: r.get::<_, Option<i64>>(1)?.map(to_u),
            all_access: r.get::<_, i64>(2)? != 0,
            buckets: HashSet::new(),
            description: r.get(3)?,
        })
    })? {
        let t = r?;
        reg.tokens.insert(t.token.clone(), t);
    }
    let mut st = conn.prepare("SELECT token, bucket_id FROM token_buckets")?;
    for r in st.query_map([], |r| Ok((r.get::<_, String>(0)?, to_u(r.get(1)?))))? {
        let (t, b) = r?;
        if let Some(t) = reg.tokens.get_mut(&t) {
            t.buckets.insert(b);
        }
    }
    reg.v1 = crate::v1::load(conn)?;
    Ok(reg)
}

pub fn insert_org(tx: &Connection, o: &Org) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO orgs(id, name) VALUES (?1, ?2)",
        params![to_i(o.id), o.name],
    )?;
    Ok(())
}

pub fn insert_bucket(tx: &Connection, b: &Bucket) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO buckets(id, org_id, name, retention_secs) VALUES (?1, ?2, ?3, ?4)",
        params![to_i(b.id), to_i(b.org_id), b.name, b.retention_secs],
    )?;
    Ok(())
}

pub fn upsert_token(tx: &Connection, t: &Token) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO tokens(token, org_id, all_access, description) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(token) DO UPDATE SET org_id = ?2, all_access = ?3, description = ?4",
        params![
            t.token,
            t.org_id.map(to_i),
            t.all_access as i64,
            t.description
        ],
    )?;
    tx.execute(
        "DELETE FROM token_buckets WHERE token = ?1",
        params![t.token],
    )?;
    for b in &t.buckets {
        tx.execute(
            "INSERT INTO token_buckets(token, bucket_id) VALUES (?1, ?2)",
            params![t.token, to_i(*b)],
        )?;
    }
    Ok(())
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

/// A batch accepted by the HTTP layer, on its way to the writer.
pub struct WriteJob {
    pub bucket: BucketRules,
    /// The decoded body.
    pub body: Bytes,
    pub precision: Precision,
    pub now: i64,
    pub scan: Scan,
    /// The body compressed (blob, encoding), made beside the parse when no rule applies.
    pub compressed: Option<(Vec<u8>, i64)>,
    /// How bodies are stored (`--compression`).
    pub compression: Compression,
    /// `Ok(None)`: stored whole; `Ok(Some(message))`: storage's 422 (the kept points are
    /// stored); `Err`: nothing stored.
    pub reply: oneshot::Sender<Result<Option<Vec<u8>>, String>>,
}

type ExecFn = Box<dyn FnOnce(&Transaction<'_>) -> rusqlite::Result<()> + Send>;

enum Msg {
    Write(WriteJob),
    Exec(ExecFn, oneshot::Sender<Result<(), String>>),
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
}

impl Store {
    /// Opens (creating if needed) the database in `dir` and starts the writer thread.
    pub fn open(dir: &Path) -> Result<Arc<Store>, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let conn = open_write(dir).map_err(|e| format!("opening the database: {e}"))?;
        let registry = load_registry(&conn).map_err(|e| e.to_string())?;
        let mut schema: HashMap<SchemaKey, FieldType> = HashMap::new();
        {
            let mut st = conn
                .prepare("SELECT bucket_id, shard, measurement, field, type FROM fields")
                .map_err(|e| e.to_string())?;
            let rows = st
                .query_map([], |r| {
                    Ok((
                        (to_u(r.get(0)?), r.get(1)?, r.get(2)?, r.get(3)?),
                        type_from(r.get(4)?),
                    ))
                })
                .map_err(|e| e.to_string())?;
            for r in rows {
                let (k, t) = r.map_err(|e| e.to_string())?;
                schema.insert(k, t);
            }
        }
        let last: i64 = conn
            .query_row("SELECT COALESCE(MAX(seq), 0) FROM batches", [], |r| {
                r.get(0)
            })
            .map_err(|e| e.to_string())?;
        let (tx, rx) = mpsc::channel();
        let committed = Arc::new(Notify::new());
        let last_seq = Arc::new(AtomicI64::new(last));
        let mut w = Writer {
            conn,
            schema,
            committed: committed.clone(),
            last_seq: last_seq.clone(),
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
/// wait for a checkpoint. When writes outpace it and the WAL passes ~1 GiB, a RESTART
/// checkpoint makes the writer wait once so the WAL starts over.
fn checkpointer(conn: Connection) {
    const RESTART_FRAMES: i64 = (1 << 30) / 65536;
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

/// Records the fields a slow-path write creates, so a failed commit can take them back.
struct Tracking<'a> {
    schema: &'a mut HashMap<SchemaKey, FieldType>,
    created: &'a mut Vec<(SchemaKey, FieldType)>,
}

impl Schema for Tracking<'_> {
    fn get(&self, key: &SchemaKey) -> Option<FieldType> {
        self.schema.get(key).copied()
    }
    fn create(&mut self, key: SchemaKey, ty: FieldType) {
        self.schema.insert(key.clone(), ty);
        self.created.push((key, ty));
    }
}

struct Writer {
    conn: Connection,
    schema: HashMap<SchemaKey, FieldType>,
    committed: Arc<Notify>,
    last_seq: Arc<AtomicI64>,
}

/// Most batches one commit takes, and most bytes.
const GROUP_MAX: usize = 512;
const GROUP_BYTES: usize = 256 << 20;

enum Reply {
    Write(
        oneshot::Sender<Result<Option<Vec<u8>>, String>>,
        Result<Option<Vec<u8>>, String>,
    ),
    Exec(oneshot::Sender<Result<(), String>>, Result<(), String>),
}

impl Writer {
    fn run(&mut self, rx: mpsc::Receiver<Msg>) {
        while let Ok(first) = rx.recv() {
            let mut group = vec![first];
            let mut bytes = 0;
            while group.len() < GROUP_MAX && bytes < GROUP_BYTES {
                match rx.try_recv() {
                    Ok(m) => {
                        if let Msg::Write(j) = &m {
                            bytes += j.body.len();
                        }
                        group.push(m);
                    }
                    Err(_) => break,
                }
            }
            self.commit_group(group);
        }
    }

    fn commit_group(&mut self, group: Vec<Msg>) {
        let mut created: Vec<(SchemaKey, FieldType)> = Vec::new();
        let mut replies: Vec<Reply> = Vec::with_capacity(group.len());
        let mut wrote = false;
        let tx = match self.conn.transaction() {
            Ok(tx) => tx,
            Err(e) => {
                let e = e.to_string();
                for m in group {
                    match m {
                        Msg::Write(j) => drop(j.reply.send(Err(e.clone()))),
                        Msg::Exec(_, r) => drop(r.send(Err(e.clone()))),
                    }
                }
                return;
            }
        };
        let mut max_seq = None;
        for m in group {
            match m {
                Msg::Write(job) => {
                    let res = write_one(&tx, &mut self.schema, &mut created, &job);
                    if let Ok((_, Some(seq))) = &res {
                        wrote = true;
                        max_seq = Some(*seq);
                    }
                    replies.push(Reply::Write(job.reply, res.map(|(e, _)| e)));
                }
                Msg::Exec(f, reply) => {
                    let res = tx
                        .execute_batch("SAVEPOINT exec")
                        .and_then(|()| f(&tx))
                        .and_then(|()| tx.execute_batch("RELEASE exec"));
                    let res = match res {
                        Ok(()) => Ok(()),
                        Err(e) => {
                            let _ = tx.execute_batch("ROLLBACK TO exec; RELEASE exec");
                            Err(e.to_string())
                        }
                    };
                    replies.push(Reply::Exec(reply, res));
                }
            }
        }
        // The commit returns after SQLite has synced the WAL: only then is anyone answered.
        let commit = tx.commit().map_err(|e| format!("commit: {e}"));
        if let Err(e) = &commit {
            for (k, _) in created {
                self.schema.remove(&k);
            }
            tracing::error!(error = %e, "commit failed");
        } else if let Some(s) = max_seq {
            self.last_seq.store(s, Ordering::SeqCst);
        }
        for r in replies {
            match (r, &commit) {
                (Reply::Write(tx, res), Ok(())) => drop(tx.send(res)),
                (Reply::Exec(tx, res), Ok(())) => drop(tx.send(res)),
                (Reply::Write(tx, _), Err(e)) => drop(tx.send(Err(e.clone()))),
                (Reply::Exec(tx, _), Err(e)) => drop(tx.send(Err(e.clone()))),
            }
        }
        if wrote && commit.is_ok() {
            self.committed.notify_one();
        }
    }
}

/// Stores one batch inside the group's transaction; gives the 422 message, if any, and the
/// batch's sequence number when something was stored.
fn write_one(
    tx: &Transaction<'_>,
    schema: &mut HashMap<SchemaKey, FieldType>,
    created: &mut Vec<(SchemaKey, FieldType)>,
    job: &WriteJob,
) -> Result<(Option<Vec<u8>>, Option<i64>), String> {
    let b = job.bucket;
    let fast = !job.scan.slow
        && job.compressed.is_some()
        && job.scan.fields.iter().all(|(shard, m, f, ty)| {
            schema
                .get(&(b.id, *shard, m.clone(), f.clone()))
                .is_none_or(|t| t == ty)
        });
    let e = |e: rusqlite::Error| e.to_string();
    let mut new_fields: Vec<(SchemaKey, FieldType)> = Vec::new();
    let kept_blob: Vec<u8>;
    // (blob, encoding, precision, points, min, max, 422 message)
    let (blob, encoding, precision, points, min_t, max_t, message): (&[u8], i64, _, _, _, _, _) =
        if fast {
            for (shard, m, f, ty) in &job.scan.fields {
                let k = (b.id, *shard, m.clone(), f.clone());
                if !schema.contains_key(&k) {
                    schema.insert(k.clone(), *ty);
                    new_fields.push((k, *ty));
                }
            }
            let (blob, enc) = match &job.compressed {
                Some((c, enc)) => (c.as_slice(), *enc),
                None => (&job.body[..], ENC_RAW),
            };
            (
                blob,
                enc,
                job.precision,
                job.scan.points,
                job.scan.min_time,
                job.scan.max_time,
                None,
            )
        } else {
            let mut t = Tracking {
                schema,
                created: &mut new_fields,
            };
            let a = rules::apply(&job.body, job.precision, job.now, b, &mut t);
            let enc = match job.compression {
                Compression::None => {
                    kept_blob = a.kept_lp;
                    ENC_RAW
                }
                c => {
                    let (b, enc) = c.encode(&a.kept_lp);
                    kept_blob = b;
                    enc
                }
            };
            (
                kept_blob.as_slice(),
                enc,
                Precision::Ns,
                a.kept,
                a.min_time,
                a.max_time,
                a.error,
            )
        };
    for (k, ty) in &new_fields {
        tx.prepare_cached(
            "INSERT OR REPLACE INTO fields(bucket_id, shard, measurement, field, type) VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .and_then(|mut st| st.execute(params![to_i(k.0), k.1, k.2, k.3, type_code(*ty)]))
        .map_err(e)?;
    }
    created.extend(new_fields);
    if points == 0 {
        return Ok((message, None));
    }
    tx.prepare_cached(
        "INSERT INTO batches(bucket_id, precision, now, points, min_time, max_time, encoding, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )
    .and_then(|mut st| {
        st.execute(params![
            to_i(b.id),
            precision.as_str(),
            job.now,
            points as i64,
            min_t,
            max_t,
            encoding,
            blob
        ])
    })
    .map_err(e)?;
    Ok((message, Some(tx.last_insert_rowid())))
}

/// Stored bodies: as received, LZ4 with the size in front, or a zstd frame.
const ENC_RAW: i64 = 0;
const ENC_LZ4: i64 = 1;
const ENC_ZSTD: i64 = 2;

/// How batch bodies are stored. zstd at level 1 compresses line protocol ~3× better than
/// LZ4 at about the same speed here, and the disk is what fsync'd writes wait for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Compression {
    None,
    Lz4,
    #[default]
    Zstd,
}

impl Compression {
    pub fn parse(s: &str) -> Option<Compression> {
        match s {
            "none" => Some(Compression::None),
            "lz4" => Some(Compression::Lz4),
            "zstd" => Some(Compression::Zstd),
            _ => None,
        }
    }

    /// (blob, encoding) for a body.
    pub fn encode(self, data: &[u8]) -> (Vec<u8>, i64) {
        match self {
            Compression::None => (data.to_vec(), ENC_RAW),
            Compression::Lz4 => (lz4_flex::compress_prepend_size(data), ENC_LZ4),
            Compression::Zstd => {
                thread_local! {
                    static ZSTD: std::cell::RefCell<Option<zstd::bulk::Compressor<'static>>> =
                        const { std::cell::RefCell::new(None) };
                }
                let out = ZSTD.with(|c| {
                    let mut c = c.borrow_mut();
                    if c.is_none() {
                        *c = zstd::bulk::Compressor::new(1).ok();
                    }
                    c.as_mut().and_then(|c| c.compress(data).ok())
                });
                match out {
                    Some(b) => (b, ENC_ZSTD),
                    // Should zstd fail, the batch is still stored.
                    None => (lz4_flex::compress_prepend_size(data), ENC_LZ4),
                }
            }
        }
    }
}

fn decode_blob(encoding: i64, blob: Vec<u8>) -> Result<Vec<u8>, String> {
    match encoding {
        ENC_RAW => Ok(blob),
        ENC_ZSTD => zstd::stream::decode_all(&blob[..]).map_err(|e| e.to_string()),
        _ => lz4_flex::decompress_size_prepended(&blob).map_err(|e| e.to_string()),
    }
}

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

/// The bucket's points as line protocol (one point per series and time unless `raw`).
pub fn export(
    conn: &Connection,
    bucket_id: u64,
    f: &ExportFilter,
    out: &mut Vec<u8>,
) -> Result<u64, String> {
    let start = f.start.unwrap_or(i64::MIN);
    let stop = f.stop.unwrap_or(i64::MAX);
    let mut st = conn
        .prepare(
            "SELECT precision, now, body, encoding FROM batches WHERE bucket_id = ?1 AND max_time >= ?2 AND min_time < ?3 ORDER BY seq",
        )
        .map_err(|e| e.to_string())?;
    let rows = st
        .query_map(params![to_i(bucket_id), start, stop], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, Vec<u8>>(2)?,
                r.get::<_, i64>(3)?,
            ))
        })
        .map_err(|e| e.to_string())?;
    let mut merged = Merged::default();
    let mut n = 0u64;
    for r in rows {
        let (p, now, blob, enc) = r.map_err(|e| e.to_string())?;
        let body = decode_blob(enc, blob)?;
        read_batch(
            &body,
            &ParseOptions::new(precision_of(&p), now),
            1 << 10,
            |pt| {
                if pt.time() < start || pt.time() >= stop {
                    return;
                }
                if let Some(m) = &f.measurement {
                    if pt.measurement().as_ref() != m.as_slice() {
                        return;
                    }
                }
                if f.raw {
                    lp::write_line(out, pt, |_| true);
                    n += 1;
                } else {
                    merged.add(pt);
                }
            },
        );
    }
    if !f.raw {
        n = merged.len() as u64;
        for p in merged.into_sorted() {
            p.write(out);
        }
    }
    Ok(n)
}

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
}

pub fn dead_letters(conn: &Connection) -> Result<Vec<DeadLetter>, String> {
    let mut st = conn
        .prepare("SELECT id, seq, bucket_id, status, reason, precision, body, at_ns FROM dead_letters ORDER BY id")
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
}

pub fn insert_dead_letter(tx: &Connection, d: &NewDeadLetter<'_>) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO dead_letters(seq, bucket_id, status, reason, precision, body, at_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            d.seq,
            to_i(d.bucket_id),
            d.status as i64,
            d.reason,
            d.precision.as_str(),
            lz4_flex::compress_prepend_size(d.body),
            d.at_ns
        ],
    )?;
    Ok(())
}
