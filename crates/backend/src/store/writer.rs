//! The one writer thread: group commits, the bounded field-type cache, the fast path and
//! storage's rules for each batch.

use super::*;

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
    /// What the batch brings to the write quotas (spec D.2), when they are on.
    pub quota: Option<Box<QuotaJob>>,
    /// `Ok(None)`: stored whole; `Ok(Some(message))`: storage's 422 (the kept points are
    /// stored); `Err`: nothing stored.
    pub reply: oneshot::Sender<WriteResult>,
    /// A partial write's rejected lines, stored in the same transaction (spec D.1.5).
    pub quarantine: Option<Box<Quarantined>>,
    /// The batch's id (core's `delivery::batch_id`), recorded with it in the same
    /// transaction; a batch whose id its bucket stored before is not stored again.
    pub batch_id: Option<Vec<u8>>,
    /// The time the id is recorded at (ns since the epoch).
    pub at_ns: i64,
}

/// The writer's answer to a batch.
pub type WriteResult = Result<Option<Vec<u8>>, WriteError>;

/// Why nothing of a batch was stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteError {
    /// Storage failed (the text goes into the 500).
    Failed(String),
    /// A new series did not fit the bucket's series quota (spec D.2's 429).
    SeriesQuota,
    /// A partial write's series that did not fit (one flag per distinct series of the job,
    /// `Admission::refused_mask`): nothing was stored or added.
    SeriesRefused(Vec<bool>),
    /// The bucket stored a batch of the same id before: stored once, not again.
    Duplicate,
}

impl From<String> for WriteError {
    fn from(e: String) -> WriteError {
        WriteError::Failed(e)
    }
}

pub(crate) type ExecFn = Box<dyn FnOnce(&Transaction<'_>) -> rusqlite::Result<()> + Send>;

pub(crate) enum Msg {
    Write(WriteJob),
    Exec(ExecFn, oneshot::Sender<Result<(), String>>),
}

/// Records the fields a slow-path write creates, so a failed commit can take them back.
struct Tracking<'a, 'c> {
    /// In a cell: a lookup may fill the cache, and `Schema::get` takes `&self`.
    schema: std::cell::RefCell<&'a mut FieldCache>,
    conn: &'c Connection,
    created: &'a mut Vec<(SchemaKey, FieldType)>,
    /// A failed lookup: the batch fails rather than risk a type conflict going unseen.
    failed: std::cell::RefCell<Option<rusqlite::Error>>,
}

impl Schema for Tracking<'_, '_> {
    fn get(&self, key: &SchemaKey) -> Option<FieldType> {
        match self.schema.borrow_mut().get(self.conn, key) {
            Ok(t) => t,
            Err(e) => {
                *self.failed.borrow_mut() = Some(e);
                None
            }
        }
    }
    fn create(&mut self, key: SchemaKey, ty: FieldType) {
        self.schema.get_mut().put(key.clone(), ty);
        self.created.push((key, ty));
    }
}

/// Field types by (bucket, shard, measurement, field), at most `cap` of them in memory:
/// two generations, the older dropped whole when the newer fills half the cap, so the
/// entries in use stay and memory does not grow with the number of distinct fields ever
/// written. A miss reads the `fields` table (inside the writer's transaction, so fields
/// created by batches of the same commit are seen).
pub struct FieldCache {
    cap: usize,
    cur: HashMap<SchemaKey, FieldType>,
    old: HashMap<SchemaKey, FieldType>,
}

impl FieldCache {
    pub fn new(cap: usize) -> FieldCache {
        FieldCache {
            cap: cap.max(2),
            cur: HashMap::new(),
            old: HashMap::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.cur.len() + self.old.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn put(&mut self, k: SchemaKey, t: FieldType) {
        if self.cur.len() >= self.cap / 2 {
            self.old = std::mem::take(&mut self.cur);
        }
        self.cur.insert(k, t);
    }

    fn get(&mut self, conn: &Connection, k: &SchemaKey) -> rusqlite::Result<Option<FieldType>> {
        if let Some(t) = self.cur.get(k) {
            return Ok(Some(*t));
        }
        if let Some(t) = self.old.remove(k) {
            self.put(k.clone(), t);
            return Ok(Some(t));
        }
        let t = conn
            .prepare_cached(
                "SELECT type FROM fields WHERE bucket_id = ?1 AND shard = ?2 AND measurement = ?3 AND field = ?4",
            )?
            .query_row(params![to_i(k.0), k.1, k.2, k.3], |r| r.get::<_, i64>(0))
            .optional()?
            .map(type_from);
        if let Some(t) = t {
            self.put(k.clone(), t);
        }
        Ok(t)
    }

    fn remove(&mut self, k: &SchemaKey) {
        self.cur.remove(k);
        self.old.remove(k);
    }
}

pub(crate) struct Writer {
    pub(crate) conn: Connection,
    pub(crate) schema: FieldCache,
    pub(crate) committed: Arc<Notify>,
    pub(crate) last_seq: Arc<AtomicI64>,
    pub(crate) series: SeriesCache,
    pub(crate) usages: Arc<Usages>,
}

/// Most batches one commit takes, and most bytes.
const GROUP_MAX: usize = 512;
const GROUP_BYTES: usize = 256 << 20;

enum Reply {
    Write(oneshot::Sender<WriteResult>, WriteResult),
    Exec(oneshot::Sender<Result<(), String>>, Result<(), String>),
}

impl Writer {
    pub(crate) fn run(&mut self, rx: mpsc::Receiver<Msg>) {
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
        // IMMEDIATE: the write lock is taken at the start, where the busy timeout applies.
        // A deferred transaction reads first (batch ids, known series) and SQLite refuses its
        // later upgrade at once, busy handler or not, while a RESTART checkpoint holds the
        // lock: the batch got 500 `database is locked`.
        let tx = match self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        {
            Ok(tx) => tx,
            Err(e) => {
                let e = e.to_string();
                for m in group {
                    match m {
                        Msg::Write(j) => drop(j.reply.send(Err(e.clone().into()))),
                        Msg::Exec(_, r) => drop(r.send(Err(e.clone()))),
                    }
                }
                return;
            }
        };
        let mut max_seq = None;
        let mut series_added = Vec::new();
        let mut usages = Vec::new();
        for m in group {
            match m {
                Msg::Write(job) => {
                    let b = to_i(job.bucket.id);
                    // What this job adds to the caches, taken back if its id cannot be kept.
                    let marks = (created.len(), series_added.len(), usages.len());
                    let duplicate = match &job.batch_id {
                        Some(id) => tx
                            .execute_batch("SAVEPOINT job")
                            .and_then(|()| batch_ids::seen(&tx, b, id, job.at_ns)),
                        None => Ok(false),
                    };
                    let res = match duplicate {
                        Err(e) => Err(WriteError::Failed(e.to_string())),
                        Ok(true) => Err(WriteError::Duplicate),
                        Ok(false) => match &job.quota {
                            None => write_one(&tx, &mut self.schema, &mut created, &job)
                                .map_err(WriteError::from),
                            Some(q) => write_counted(
                                &tx,
                                (&mut self.schema, &mut self.series),
                                q,
                                &job,
                                &mut created,
                                (&mut series_added, &mut usages),
                            ),
                        },
                    };
                    if let (Ok(_), Some(q)) = (&res, &job.quarantine) {
                        quarantine::insert(&tx, q);
                    }
                    // The id goes with what it names: if it cannot be recorded, the batch
                    // is taken back whole (the group's other batches are not held up by it).
                    let res = match (res, &job.batch_id) {
                        (Ok(r), Some(id)) => match batch_ids::record(&tx, b, id, job.at_ns) {
                            Ok(()) => Ok(r),
                            Err(e) => {
                                let _ = tx.execute_batch("ROLLBACK TO job");
                                for (k, _) in created.drain(marks.0..) {
                                    self.schema.remove(&k);
                                }
                                self.series.forget(&series_added[marks.1..]);
                                series_added.truncate(marks.1);
                                usages.truncate(marks.2);
                                Err(WriteError::Failed(e.to_string()))
                            }
                        },
                        (res, _) => res,
                    };
                    if job.batch_id.is_some() {
                        let _ = tx.execute_batch("RELEASE job");
                    }
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
            self.series.forget(&series_added);
            tracing::error!(error = %e, "commit failed");
        } else {
            if let Some(s) = max_seq {
                self.last_seq.store(s, Ordering::SeqCst);
            }
            for (tenant, u) in usages {
                self.usages.set(tenant, u);
            }
        }
        for r in replies {
            match (r, &commit) {
                (Reply::Write(tx, res), Ok(())) => drop(tx.send(res)),
                (Reply::Exec(tx, res), Ok(())) => drop(tx.send(res)),
                (Reply::Write(tx, _), Err(e)) => drop(tx.send(Err(e.clone().into()))),
                (Reply::Exec(tx, _), Err(e)) => drop(tx.send(Err(e.clone()))),
            }
        }
        if wrote && commit.is_ok() {
            self.committed.notify_one();
        }
    }
}

/// A (bucket, series hash) pair of the series quota.
type SeriesPair = (u64, u64);

/// A batch under the write quotas (spec D.2): its new series admitted, the batch stored and
/// its bytes counted, all or nothing (a savepoint inside the group's transaction), so the
/// quotas count exactly what was stored. What the commit publishes goes to `done`.
fn write_counted(
    tx: &Transaction<'_>,
    (schema, series): (&mut FieldCache, &mut SeriesCache),
    q: &QuotaJob,
    job: &WriteJob,
    created: &mut Vec<(SchemaKey, FieldType)>,
    done: (&mut Vec<SeriesPair>, &mut Vec<(u64, Usage)>),
) -> Result<(Option<Vec<u8>>, Option<i64>), WriteError> {
    let e = |e: rusqlite::Error| WriteError::Failed(e.to_string());
    tx.execute_batch("SAVEPOINT quota").map_err(e)?;
    let mut added = Vec::new();
    let mut run = || {
        if let Some((hashes, limit)) = &q.series {
            let a =
                admit_series(tx, series, job.bucket.id, hashes, *limit, &mut added).map_err(e)?;
            if a.check().is_err() {
                return Err(match q.partial {
                    true => WriteError::SeriesRefused(a.refused_mask()),
                    false => WriteError::SeriesQuota,
                });
            }
        }
        let stored = write_one(tx, schema, created, job)?;
        let u = match q.rate {
            true => Some(count_bytes(tx, q.tenant, q.now_ms, q.bytes).map_err(e)?),
            false => None,
        };
        Ok((stored, u))
    };
    match run() {
        Ok((stored, u)) => {
            tx.execute_batch("RELEASE quota").map_err(e)?;
            done.0.extend(added);
            done.1.extend(u.map(|u| (q.tenant, u)));
            Ok(stored)
        }
        Err(err) => {
            let _ = tx.execute_batch("ROLLBACK TO quota; RELEASE quota");
            series.forget(&added);
            Err(err)
        }
    }
}

/// Stores one batch inside the group's transaction; gives the 422 message, if any, and the
/// batch's sequence number when something was stored.
fn write_one(
    tx: &Transaction<'_>,
    schema: &mut FieldCache,
    created: &mut Vec<(SchemaKey, FieldType)>,
    job: &WriteJob,
) -> Result<(Option<Vec<u8>>, Option<i64>), String> {
    let b = job.bucket;
    let e = |e: rusqlite::Error| e.to_string();
    // The fast path: no rule applies and every field is new or of the type stored.
    let mut unseen: Vec<(SchemaKey, FieldType)> = Vec::new();
    let mut fast = !job.scan.slow && job.compressed.is_some();
    if fast {
        for (shard, m, f, ty) in &job.scan.fields {
            let k = (b.id, *shard, m.clone(), f.clone());
            match schema.get(tx, &k).map_err(e)? {
                Some(t) if t != *ty => {
                    fast = false;
                    break;
                }
                Some(_) => {}
                None => unseen.push((k, *ty)),
            }
        }
    }
    let mut new_fields: Vec<(SchemaKey, FieldType)> = Vec::new();
    let kept_blob: Vec<u8>;
    // (blob, encoding, precision, points, min, max, 422 message)
    let (blob, encoding, precision, points, min_t, max_t, message): (&[u8], i64, _, _, _, _, _) =
        if fast {
            for (k, ty) in unseen {
                schema.put(k.clone(), ty);
                new_fields.push((k, ty));
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
                schema: std::cell::RefCell::new(&mut *schema),
                conn: tx,
                created: &mut new_fields,
                failed: std::cell::RefCell::new(None),
            };
            let a = storage::apply(&job.body, job.precision, job.now, b, &mut t);
            if let Some(err) = t.failed.into_inner() {
                // Nothing of this batch is kept: the cache must not keep its fields either.
                for (k, _) in &new_fields {
                    schema.remove(k);
                }
                return Err(err.to_string());
            }
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
