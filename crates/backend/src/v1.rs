//! InfluxDB OSS v2's v1-compatibility write endpoint, `POST /write` (spec Part C), and what
//! it needs: v1 authorizations (a user name and a salted, hashed password) and explicit DBRP
//! mappings (their API is in `crate::dbrp`). Every decision is the core pipeline's
//! (`linegate_core::pipeline`); this module supplies its [`Lookup`] over the store and moves
//! bytes.

// A ready answer is the natural error of each step of a handler.
#![allow(clippy::result_large_err)]

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::response::Response;
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use linegate_core::pipeline::{self, Endpoint, Head, Lookup};
use linegate_core::Rejection;
use rusqlite::{params, Connection};
use sha2::{Digest, Sha256};
use tokio::sync::oneshot;

use crate::http::App;
use crate::rules::Scanner;
use crate::store::{self, Bucket, Store, Token, WriteJob};

/// The v1 tables: explicit DBRP mappings, v1 authorizations (passwords as salted PBKDF2).
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS dbrps(id INTEGER PRIMARY KEY, org_id INTEGER NOT NULL,
  bucket_id INTEGER NOT NULL, db TEXT NOT NULL, rp TEXT NOT NULL, is_default INTEGER NOT NULL,
  UNIQUE(org_id, db, rp));
CREATE TABLE IF NOT EXISTS v1_auths(id INTEGER PRIMARY KEY, username TEXT NOT NULL UNIQUE,
  org_id INTEGER NOT NULL, all_access INTEGER NOT NULL, buckets TEXT NOT NULL,
  salt BLOB NOT NULL, iterations INTEGER NOT NULL, hash BLOB NOT NULL,
  description TEXT NOT NULL DEFAULT '');
";

/// A v1 authorization: what a user name and password may write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct V1Auth {
    pub id: u64,
    pub username: String,
    pub org_id: u64,
    /// Write on every bucket of the org.
    pub all_access: bool,
    pub buckets: HashSet<u64>,
    pub salt: Vec<u8>,
    pub iterations: u32,
    pub hash: Vec<u8>,
    pub description: String,
}

impl V1Auth {
    /// The permissions as the token type every endpoint checks.
    fn as_token(&self) -> Token {
        Token {
            token: String::new(),
            org_id: Some(self.org_id),
            all_access: self.all_access,
            buckets: self.buckets.clone(),
            description: self.description.clone(),
        }
    }
}

/// An explicit DBRP mapping (`/api/v2/dbrps`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dbrp {
    pub id: u64,
    pub org_id: u64,
    pub bucket_id: u64,
    pub db: String,
    pub rp: String,
    pub default: bool,
}

/// The v1 part of the registry, loaded with it.
#[derive(Clone, Debug, Default)]
pub struct V1Registry {
    pub users: HashMap<String, V1Auth>,
    pub dbrps: Vec<Dbrp>,
}

fn has_table(conn: &Connection, name: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
        [name],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n > 0)
}

/// Reads the v1 tables (absent in a database no server of this version has opened yet).
pub fn load(conn: &Connection) -> rusqlite::Result<V1Registry> {
    let mut v1 = V1Registry::default();
    if has_table(conn, "v1_auths")? {
        let mut st = conn.prepare(
            "SELECT id, username, org_id, all_access, buckets, salt, iterations, hash, description
             FROM v1_auths",
        )?;
        for r in st.query_map([], |r| {
            let buckets: String = r.get(4)?;
            Ok(V1Auth {
                id: r.get::<_, i64>(0)? as u64,
                username: r.get(1)?,
                org_id: r.get::<_, i64>(2)? as u64,
                all_access: r.get::<_, i64>(3)? != 0,
                buckets: buckets
                    .split(',')
                    .filter_map(|b| u64::from_str_radix(b, 16).ok())
                    .collect(),
                salt: r.get(5)?,
                iterations: r.get::<_, i64>(6)? as u32,
                hash: r.get(7)?,
                description: r.get(8)?,
            })
        })? {
            let a = r?;
            v1.users.insert(a.username.clone(), a);
        }
    }
    if has_table(conn, "dbrps")? {
        let mut st = conn
            .prepare("SELECT id, org_id, bucket_id, db, rp, is_default FROM dbrps ORDER BY id")?;
        for r in st.query_map([], |r| {
            Ok(Dbrp {
                id: r.get::<_, i64>(0)? as u64,
                org_id: r.get::<_, i64>(1)? as u64,
                bucket_id: r.get::<_, i64>(2)? as u64,
                db: r.get(3)?,
                rp: r.get(4)?,
                default: r.get::<_, i64>(5)? != 0,
            })
        })? {
            v1.dbrps.push(r?);
        }
    }
    Ok(v1)
}

/// PBKDF2-HMAC-SHA256 rounds for new passwords (OWASP's 2023 figure). Verified passwords are
/// remembered (as a digest) so a client writing every second does not pay this each time.
pub const PBKDF2_ROUNDS: u32 = 600_000;

pub fn hash_password(salt: &[u8], password: &[u8], rounds: u32) -> Vec<u8> {
    let mut out = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, rounds, &mut out);
    out.to_vec()
}

fn same(a: &[u8], b: &[u8]) -> bool {
    // Constant time in the contents: a mismatch does not say where.
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

/// Passwords that verified, by user: a digest of (auth id, salt, hash, password). A changed
/// password changes the salt and hash, so a stale entry never matches.
static VERIFIED: Mutex<Option<HashMap<String, [u8; 32]>>> = Mutex::new(None);

fn verified_key(a: &V1Auth, password: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(a.id.to_le_bytes());
    h.update(&a.salt);
    h.update(&a.hash);
    h.update(password);
    h.finalize().into()
}

fn check_password(a: &V1Auth, password: &[u8]) -> bool {
    let key = verified_key(a, password);
    let mut cache = VERIFIED.lock().unwrap_or_else(|e| e.into_inner());
    if cache
        .as_ref()
        .and_then(|c| c.get(&a.username))
        .is_some_and(|k| same(k, &key))
    {
        return true;
    }
    drop(cache);
    if !same(&hash_password(&a.salt, password, a.iterations), &a.hash) {
        return false;
    }
    cache = VERIFIED.lock().unwrap_or_else(|e| e.into_inner());
    let c = cache.get_or_insert_with(HashMap::new);
    // Bounded: one entry per v1 user at most, and never more than this many.
    if c.len() >= 10_000 {
        c.clear();
    }
    c.insert(a.username.clone(), key);
    true
}

/// The pipeline's lookup over the store's registry, for both write endpoints. It holds no
/// lock between calls, so what the pipeline returns can live across the body's reading.
pub struct StoreLookup {
    pub store: Arc<Store>,
}

impl Lookup for StoreLookup {
    type Auth = Token;
    type Org = u64;
    type Bucket = Bucket;

    fn token(&mut self, secret: &[u8]) -> Option<Token> {
        let t = std::str::from_utf8(secret).ok()?;
        self.store.registry().tokens.get(t).cloned()
    }
    fn v1_user(&mut self, user: &[u8], password: &[u8]) -> Option<Option<Token>> {
        let user = std::str::from_utf8(user).ok()?;
        let a = self.store.registry().v1.users.get(user).cloned()?;
        Some(check_password(&a, password).then(|| a.as_token()))
    }
    fn org_by_id(&mut self, id: u64) -> Option<u64> {
        self.store.registry().orgs.contains_key(&id).then_some(id)
    }
    fn org_by_name(&mut self, name: &[u8]) -> Option<u64> {
        self.store.registry().org_by_name(name).map(|o| o.id)
    }
    fn org_of(&mut self, auth: &Token) -> Option<u64> {
        match auth.org_id {
            Some(o) => Some(o),
            // An operator token belongs to no org: it finds buckets when there is one org.
            None => {
                let reg = self.store.registry();
                let mut orgs = reg.orgs.keys();
                match (orgs.next(), orgs.next()) {
                    (Some(&o), None) => Some(o),
                    _ => None,
                }
            }
        }
    }
    fn bucket_by_id(&mut self, org: &u64, id: u64) -> Option<Bucket> {
        let reg = self.store.registry();
        reg.buckets.get(&id).filter(|b| b.org_id == *org).cloned()
    }
    fn bucket_by_name(&mut self, org: &u64, name: &[u8]) -> Option<Bucket> {
        self.store.registry().bucket_by_name(*org, name).cloned()
    }
    fn dbrp(&mut self, org: &u64, db: &[u8], rp: Option<&[u8]>) -> Option<Bucket> {
        let reg = self.store.registry();
        let m = reg.v1.dbrps.iter().find(|m| {
            m.org_id == *org
                && m.db.as_bytes() == db
                && match rp {
                    Some(rp) => m.rp.as_bytes() == rp,
                    None => m.default,
                }
        })?;
        reg.buckets.get(&m.bucket_id).cloned()
    }
    fn can_write(&mut self, auth: &Token, bucket: &Bucket) -> bool {
        auth.can_write(bucket)
    }
}

/// The v1 authorizations a command-line change may have added while the server runs are
/// picked up at most this often, when a request brings a user name and password.
const REFRESH: Duration = Duration::from_secs(1);
static LAST_REFRESH: Mutex<Option<Instant>> = Mutex::new(None);

fn refresh_users(store: &Store) {
    let mut last = LAST_REFRESH.lock().unwrap_or_else(|e| e.into_inner());
    if last.is_some_and(|t| t.elapsed() < REFRESH) {
        return;
    }
    *last = Some(Instant::now());
    drop(last);
    if let Err(e) = store.reload_registry() {
        tracing::warn!(error = %e, "reloading v1 authorizations");
    }
}

fn base(status: u16) -> axum::http::response::Builder {
    Response::builder()
        .status(status)
        .header("X-Influxdb-Build", "OSS")
        .header("X-Influxdb-Version", crate::http::VERSION_HEADER)
}

pub(crate) fn reject(r: Rejection) -> Response {
    let mut b = base(r.status);
    for (k, v) in r.headers() {
        b = b.header(k, v);
    }
    b.body(Body::from(r.body)).unwrap_or_default()
}

fn error(status: u16, code: &'static str, message: &[u8]) -> Response {
    reject(Rejection {
        reason: linegate_core::answers::Reason::Invalid(message.to_vec()),
        status,
        code,
        body: linegate_core::json::error_body(code, message),
        line: None,
    })
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h [u8]> {
    headers.get(name).map(|v| v.as_bytes())
}

/// Reads the body, stopping once it reaches `max` bytes (`true` = too large).
pub(crate) async fn collect(body: Body, hint: usize, max: usize) -> Result<(Bytes, bool), ()> {
    let mut body = body;
    let mut buf = BytesMut::with_capacity(hint.min(max).min(1 << 20));
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| ())?;
        if let Ok(data) = frame.into_data() {
            buf.extend_from_slice(&data);
            if buf.len() >= max {
                return Ok((buf.freeze(), true));
            }
        }
    }
    Ok((buf.freeze(), false))
}

/// Whether the request brings a v1 user name and password (so a new v1 authorization may
/// be what it needs).
fn brings_password(query: &[u8], headers: &HeaderMap) -> bool {
    let q = linegate_core::Query::parse(query);
    (!q.get_or_empty("u").is_empty() && !q.get_or_empty("p").is_empty())
        || header(headers, "authorization")
            .and_then(|a| a.get(..6))
            .is_some_and(|p| p.eq_ignore_ascii_case(b"basic "))
}

/// `POST /write`.
pub async fn write(State(app): State<Arc<App>>, req: Request) -> Response {
    let t0 = Instant::now();
    let (parts, body) = req.into_parts();
    let query = parts.uri.query().unwrap_or("").as_bytes();
    if brings_password(query, &parts.headers) {
        let store = app.store.clone();
        let _ = tokio::task::spawn_blocking(move || refresh_users(&store)).await;
    }
    let head = Head {
        endpoint: Endpoint::V1,
        query,
        authorization: header(&parts.headers, "authorization"),
        content_encoding: header(&parts.headers, "content-encoding"),
    };
    let mut lookup = StoreLookup {
        store: app.store.clone(),
    };
    let (response, points, bytes_in) = match write_inner(&app, &head, &mut lookup, body).await {
        Ok(x) => x,
        Err((r, n)) => (r, 0, n),
    };
    let status = response.status().as_u16();
    let m = &app.metrics;
    m.request("write", status);
    m.bytes_received
        .fetch_add(bytes_in as u64, Ordering::Relaxed);
    let secs = t0.elapsed().as_secs_f64();
    m.write_latency.observe(secs);
    tracing::info!(
        method = "POST",
        path = "/write",
        status,
        bytes = bytes_in,
        points,
        ms = format_args!("{:.2}", secs * 1000.0),
        "request"
    );
    response
}

type Failed = (Response, usize);

async fn write_inner(
    app: &App,
    head: &Head<'_>,
    lookup: &mut StoreLookup,
    body: Body,
) -> Result<(Response, u64, usize), Failed> {
    // Credentials, precision and db: before a byte of the body is read. Passwords are
    // hashed off the async threads.
    let admitted = {
        let (query, auth, ce) = (
            head.query.to_vec(),
            head.authorization.map(<[u8]>::to_vec),
            head.content_encoding.map(<[u8]>::to_vec),
        );
        let store = lookup.store.clone();
        let r = tokio::task::spawn_blocking(move || {
            let head = Head {
                endpoint: Endpoint::V1,
                query: &query,
                authorization: auth.as_deref(),
                content_encoding: ce.as_deref(),
            };
            let mut l = StoreLookup { store };
            pipeline::admit(&head, &mut l).map(|a| (a.auth, a.time, a.gzip))
        })
        .await;
        match r {
            Ok(Ok(x)) => x,
            Ok(Err(rej)) => return Err((reject(rej), 0)),
            Err(_) => return Err((reject(Rejection::internal()), 0)),
        }
    };
    let (auth, time, gzip) = admitted;
    let max_body = app.limits.max_body;
    let (raw, too_large) = match collect(body, 0, max_body).await {
        Ok(x) => x,
        Err(()) => {
            return Err((
                reject(Rejection::read_data(
                    400,
                    "request body could not be read".into(),
                )),
                0,
            ))
        }
    };
    let n = raw.len();
    // Steps 4–6: the gzip header, the DBRP mapping, the permission.
    let resolved = {
        let q = linegate_core::Query::parse(head.query);
        let a = pipeline::Admitted::<StoreLookup> {
            endpoint: Endpoint::V1,
            gzip,
            query: q,
            auth,
            time,
            scope: pipeline::Scope::Server,
        };
        match a.resolve(&raw, lookup) {
            Ok(r) => r,
            Err(rej) => return Err((reject(rej), n)),
        }
    };
    let Some(bucket) = resolved.bucket.clone() else {
        return Err((reject(Rejection::internal()), n));
    };
    // Step 7: the body; 8: the parse.
    if too_large {
        return Err((reject(Rejection::too_large()), n));
    }
    let now = resolved.time.options(app.now()).now;
    let precision = resolved.time.precision;
    let mut scanner = Scanner::new(bucket.rules(), linegate_core::Precision::Ns, now);
    let read = match resolved.read(&raw, &app.limits, app.now(), |p| scanner.observe(p)) {
        Ok(r) => r,
        Err(rej) => return Err((reject(rej), n)),
    };
    let decoded = match read.body {
        std::borrow::Cow::Borrowed(_) => raw.clone(),
        std::borrow::Cow::Owned(v) => Bytes::from(v),
    };
    app.metrics
        .bytes_decoded
        .fetch_add(decoded.len() as u64, Ordering::Relaxed);
    let scan = scanner.finish();
    if scan.points == 0 {
        return Ok((base(204).body(Body::empty()).unwrap_or_default(), 0, n));
    }
    // Step 9: storage; answered only once the commit holding the batch has returned.
    let compressed = (app.compression != store::Compression::None && !scan.slow)
        .then(|| app.compression.encode(&decoded));
    let points = scan.points;
    let (tx, rx) = oneshot::channel();
    let job = WriteJob {
        bucket: bucket.rules(),
        body: decoded,
        precision,
        now,
        scan,
        compressed,
        compression: app.compression,
        reply: tx,
    };
    let failed = |e: &str| reject(Rejection::write_failed(e.as_bytes()));
    if let Err(e) = app.store.submit(job) {
        return Err((failed(&e), n));
    }
    match rx.await {
        Ok(Ok(None)) => {
            app.metrics
                .points_written
                .fetch_add(points, Ordering::Relaxed);
            app.metrics.batches_written.fetch_add(1, Ordering::Relaxed);
            Ok((base(204).body(Body::empty()).unwrap_or_default(), points, n))
        }
        // The store gives storage's whole 422 message.
        Ok(Ok(Some(msg))) => Err((error(422, "unprocessable entity", &msg), n)),
        Ok(Err(e)) => Err((failed(&e), n)),
        Err(_) => Err((failed("the writer stopped"), n)),
    }
}

/// Any other method on `/write`: the credentials are judged first (step 1), then 405.
pub async fn method_not_allowed(State(app): State<Arc<App>>, req: Request) -> Response {
    let query = req.uri().query().unwrap_or("").as_bytes().to_vec();
    let auth = header(req.headers(), "authorization").map(<[u8]>::to_vec);
    let store = app.store.clone();
    let ok = tokio::task::spawn_blocking(move || {
        let head = Head {
            endpoint: Endpoint::V1,
            query: &query,
            authorization: auth.as_deref(),
            content_encoding: None,
        };
        let q = linegate_core::Query::parse(&query);
        pipeline::credentials(&head, &q).is_some_and(|c| {
            let mut l = StoreLookup { store };
            match c {
                pipeline::Credentials::Token(t) => l.token(t).is_some(),
                pipeline::Credentials::Password { user, password } => {
                    match l.v1_user(&user, &password) {
                        Some(found) => found.is_some(),
                        None => l.token(&password).is_some(),
                    }
                }
            }
        })
    })
    .await
    .unwrap_or(false);
    if !ok {
        return reject(Rejection::unauthorized());
    }
    let r = Rejection::method_not_allowed("POST");
    let mut res = reject(r);
    res.headers_mut()
        .insert("Allow", axum::http::HeaderValue::from_static("POST"));
    res
}

/// Creates (or replaces) a v1 authorization: `linegate-backend v1-auth create`.
pub fn create_auth(
    conn: &Connection,
    username: &str,
    password: &[u8],
    org: &str,
    buckets: &[String],
    description: &str,
) -> Result<u64, String> {
    let reg = store::load_registry(conn).map_err(|e| e.to_string())?;
    let org = reg
        .org_by_name(org.as_bytes())
        .ok_or_else(|| format!("organization {org:?} not found"))?
        .clone();
    let mut ids = Vec::new();
    for b in buckets {
        let bucket = reg
            .bucket_by_name(org.id, b.as_bytes())
            .ok_or_else(|| format!("bucket {b:?} not found in {:?}", org.name))?;
        ids.push(format!("{:016x}", bucket.id));
    }
    if username.is_empty() || password.is_empty() {
        return Err("a v1 authorization needs a user name and a password".into());
    }
    let mut salt = [0u8; 16];
    store::random_bytes(&mut salt);
    let hash = hash_password(&salt, password, PBKDF2_ROUNDS);
    let id = store::new_id();
    conn.execute(
        "INSERT INTO v1_auths(id, username, org_id, all_access, buckets, salt, iterations, hash,
           description) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
         ON CONFLICT(username) DO UPDATE SET org_id = ?3, all_access = ?4, buckets = ?5,
           salt = ?6, iterations = ?7, hash = ?8, description = ?9",
        params![
            id as i64,
            username,
            org.id as i64,
            buckets.is_empty() as i64,
            ids.join(","),
            &salt[..],
            PBKDF2_ROUNDS as i64,
            hash,
            description
        ],
    )
    .map_err(|e| e.to_string())?;
    Ok(id)
}

/// Deletes a v1 authorization by user name; whether there was one.
pub fn delete_auth(conn: &Connection, username: &str) -> Result<bool, String> {
    conn.execute("DELETE FROM v1_auths WHERE username = ?1", [username])
        .map(|n| n > 0)
        .map_err(|e| e.to_string())
}

/// `linegate-backend v1-auth …`: changes the data directory directly (a running server picks
/// the change up within a second of the next request with a user name and password).
pub mod cli {
    use std::path::PathBuf;

    #[derive(clap::Subcommand)]
    pub enum V1AuthCmd {
        /// Create (or replace) a v1 authorization; prints its ID.
        Create {
            #[arg(long, env = "LINEGATE_DATA")]
            data: PathBuf,
            #[arg(long)]
            username: String,
            /// The password (else read from the environment variable LINEGATE_V1_PASSWORD).
            #[arg(long, env = "LINEGATE_V1_PASSWORD", hide_env_values = true)]
            password: String,
            #[arg(long)]
            org: String,
            /// A bucket it may write (repeatable); none: every bucket of the org.
            #[arg(long = "write-bucket")]
            write_bucket: Vec<String>,
            #[arg(long, default_value = "")]
            description: String,
        },
        /// Delete a v1 authorization.
        Delete {
            #[arg(long, env = "LINEGATE_DATA")]
            data: PathBuf,
            #[arg(long)]
            username: String,
        },
        /// List v1 authorizations (never their passwords), one JSON object per line.
        List {
            #[arg(long, env = "LINEGATE_DATA")]
            data: PathBuf,
        },
    }

    fn open(data: &std::path::Path) -> Result<rusqlite::Connection, String> {
        if !crate::store::db_path(data).exists() {
            return Err(format!("{}: no linegate database here", data.display()));
        }
        let conn = crate::store::open_read(data).map_err(|e| e.to_string())?;
        // The tables exist once a server of this version has opened the directory; make
        // them here too so the order does not matter.
        conn.execute_batch(super::SCHEMA)
            .map_err(|e| e.to_string())?;
        Ok(conn)
    }

    pub fn run(c: V1AuthCmd) -> Result<(), String> {
        match c {
            V1AuthCmd::Create {
                data,
                username,
                password,
                org,
                write_bucket,
                description,
            } => {
                let conn = open(&data)?;
                let id = super::create_auth(
                    &conn,
                    &username,
                    password.as_bytes(),
                    &org,
                    &write_bucket,
                    &description,
                )?;
                println!("{id:016x}");
                Ok(())
            }
            V1AuthCmd::Delete { data, username } => {
                let conn = open(&data)?;
                if super::delete_auth(&conn, &username)? {
                    Ok(())
                } else {
                    Err(format!("no v1 authorization named {username:?}"))
                }
            }
            V1AuthCmd::List { data } => {
                let conn = open(&data)?;
                let v1 = super::load(&conn).map_err(|e| e.to_string())?;
                let mut users: Vec<_> = v1.users.values().collect();
                users.sort_by(|a, b| a.username.cmp(&b.username));
                for a in users {
                    let mut buckets: Vec<String> =
                        a.buckets.iter().map(|b| format!("{b:016x}")).collect();
                    buckets.sort();
                    let v = serde_json::json!({
                        "id": format!("{:016x}", a.id), "username": a.username,
                        "orgID": format!("{:016x}", a.org_id), "allBuckets": a.all_access,
                        "writeBuckets": buckets, "description": a.description,
                    });
                    println!("{v}");
                }
                Ok(())
            }
        }
    }
}
