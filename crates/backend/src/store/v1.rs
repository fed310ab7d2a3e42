//! What InfluxDB OSS v2's v1-compatibility write endpoint, `POST /write` (spec Part C),
//! keeps in the store: v1 authorizations (a user name and a salted, hashed password) and
//! explicit DBRP mappings, read by the pipeline's lookup (`crate::lookup::StoreLookup`).
//! Authorizations are changed by the `v1-auth` command (`crate::cli`), mappings by the DBRP
//! API (`crate::http::dbrp`, its SQL in `crate::store::dbrps`); `crate::http::v1` answers
//! `/write`'s other methods.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rusqlite::{params, Connection};
use sha2::{Digest, Sha256};
use std::sync::Arc;

use crate::store::{self, Bucket, Registry, Store, Token};

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
        // A v1 authorization writes (and reads what it writes), like OSS's.
        Token {
            hash: Vec::new(),
            org_id: Some(self.org_id),
            all_access: self.all_access,
            write: self.buckets.clone(),
            read: self.buckets.clone(),
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
    subtle::ConstantTimeEq::ct_eq(a, b).into()
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

fn cached(a: &V1Auth, key: &[u8; 32]) -> bool {
    let cache = VERIFIED.lock().unwrap_or_else(|e| e.into_inner());
    cache
        .as_ref()
        .and_then(|c| c.get(&a.username))
        .is_some_and(|k| same(k, key))
}

/// Whether `password` verified for `user` recently: such a request costs no hashing, so it
/// owes no delay either.
pub fn recently_verified(store: &Store, user: &[u8], password: &[u8]) -> bool {
    let Ok(user) = std::str::from_utf8(user) else {
        return false;
    };
    let reg = store.registry();
    reg.v1
        .users
        .get(user)
        .is_some_and(|a| cached(a, &verified_key(a, password)))
}

fn check_password(a: &V1Auth, password: &[u8]) -> bool {
    let key = verified_key(a, password);
    if cached(a, &key) {
        return true;
    }
    // On the hashing pool: a bounded number at once, at the lowest priority.
    let (salt, given, rounds) = (a.salt.clone(), password.to_vec(), a.iterations);
    // Past the pool's bounded queue it is not hashed and does not verify (the async path,
    // `v1_user_async`, which every request takes first, answers 503 instead).
    let hashed = crate::auth::hash_pool().run(move || hash_password(&salt, &given, rounds));
    let ok = hashed.is_ok_and(|h| same(&h, &a.hash));
    if ok {
        remember(a, key);
    }
    ok
}

/// The lookup's `v1_user` for an async caller: the same answer, the hash awaited on the
/// pool rather than waited for on a thread of the server's (`http::access::password_first`);
/// `Err(Busy)` when the pool's queue stayed full (nothing was hashed: the request gets a
/// 503, neither a 401 nor a 204).
pub async fn v1_user_async(
    store: &Arc<Store>,
    user: &[u8],
    password: &[u8],
) -> Result<Option<Option<Token>>, crate::auth::NotHashed> {
    let Ok(user) = std::str::from_utf8(user) else {
        return Ok(None);
    };
    refresh_users(store);
    let Some(a) = store.registry().v1.users.get(user).cloned() else {
        return Ok(None);
    };
    let key = verified_key(&a, password);
    if cached(&a, &key) {
        return Ok(Some(Some(a.as_token())));
    }
    let (salt, given, rounds) = (a.salt.clone(), password.to_vec(), a.iterations);
    let hashed = crate::auth::hash_pool()
        .run_async(move || hash_password(&salt, &given, rounds))
        .await;
    match hashed {
        Err(crate::auth::NotHashed::Busy) => Err(crate::auth::NotHashed::Busy),
        Ok(h) if same(&h, &a.hash) => {
            remember(&a, key);
            Ok(Some(Some(a.as_token())))
        }
        _ => Ok(Some(None)),
    }
}

fn remember(a: &V1Auth, key: [u8; 32]) {
    let mut cache = VERIFIED.lock().unwrap_or_else(|e| e.into_inner());
    let c = cache.get_or_insert_with(HashMap::new);
    // Bounded: one entry per v1 user at most, and never more than this many.
    if c.len() >= 10_000 {
        c.clear();
    }
    c.insert(a.username.clone(), key);
}

/// The lookup's `v1_user`: `None` when no v1 authorization has that name (the password is
/// then tried as a token), `Some(None)` when the password does not match. A password that
/// verified recently is not hashed again; otherwise the hash runs on the hashing pool
/// (`crate::auth::hash_pool`), waited for off the async scheduler's way (`block_in_place`). The registry is first reloaded (at
/// most once a second), so a `v1-auth create` or `delete` made while the server runs takes
/// effect.
pub fn v1_user(store: &Arc<Store>, user: &[u8], password: &[u8]) -> Option<Option<Token>> {
    let user = std::str::from_utf8(user).ok()?;
    refresh_users(store);
    let a = store.registry().v1.users.get(user).cloned()?;
    Some(tokio::task::block_in_place(|| check_password(&a, password)).then(|| a.as_token()))
}

/// The lookup's `dbrp`: an explicit mapping in the org, for (`db`, `rp`), or the default one
/// of `db` when `rp` is absent.
pub fn dbrp(reg: &Registry, org: u64, db: &[u8], rp: Option<&[u8]>) -> Option<Bucket> {
    let m = reg.v1.dbrps.iter().find(|m| {
        m.org_id == org
            && m.db.as_bytes() == db
            && match rp {
                Some(rp) => m.rp.as_bytes() == rp,
                None => m.default,
            }
    })?;
    reg.buckets.get(&m.bucket_id).cloned()
}

/// The v1 authorizations a command-line change may have added while the server runs are
/// picked up at most this often, when requests bring a user name and password.
const REFRESH: Duration = Duration::from_secs(1);
static LAST_REFRESH: Mutex<Option<Instant>> = Mutex::new(None);

fn refresh_users(store: &Store) {
    let mut last = LAST_REFRESH.lock().unwrap_or_else(|e| e.into_inner());
    if last.is_some_and(|t| t.elapsed() < REFRESH) {
        return;
    }
    *last = Some(Instant::now());
    drop(last);
    if let Err(e) = tokio::task::block_in_place(|| store.reload_registry()) {
        tracing::warn!(error = %e, "reloading v1 authorizations");
    }
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
