//! Orgs, buckets and tokens: the registry every request reads, and its tables. Tokens are
//! kept as salted hashes only.

use super::*;

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

/// What a token may do. Tokens themselves are never stored: only a salted SHA-256 of each
/// (see [`Registry::hash_token`]), so the data directory gives no token away.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Token {
    /// The salted hash of the token.
    pub hash: Vec<u8>,
    /// The org an all-access token is for; `None` for an operator token (every org).
    pub org_id: Option<u64>,
    /// Read and write in every bucket of `org_id` (every org when `None`), and admin.
    pub all_access: bool,
    /// Buckets this token may write to besides what `all_access` gives.
    pub write: HashSet<u64>,
    /// Buckets this token may read (export) besides what `all_access` gives.
    pub read: HashSet<u64>,
    pub description: String,
}

/// `auth_buckets.action`.
const ACTION_READ: i64 = 1;
const ACTION_WRITE: i64 = 2;

impl Token {
    pub fn can_write(&self, b: &Bucket) -> bool {
        self.can_admin(b.org_id) || self.write.contains(&b.id)
    }
    pub fn can_read(&self, b: &Bucket) -> bool {
        self.can_admin(b.org_id) || self.read.contains(&b.id)
    }
    pub fn can_admin(&self, org_id: u64) -> bool {
        self.all_access && self.org_id.is_none_or(|o| o == org_id)
    }
    /// Whether the token names the bucket at all (to list it).
    pub fn sees(&self, b: &Bucket) -> bool {
        self.can_write(b) || self.can_read(b)
    }
}

/// Orgs, buckets and tokens, held in memory (every request reads them).
#[derive(Clone, Debug, Default)]
pub struct Registry {
    pub orgs: HashMap<u64, Org>,
    pub buckets: HashMap<u64, Bucket>,
    /// Tokens by salted hash.
    pub tokens: HashMap<Vec<u8>, Token>,
    /// This database's salt for token hashes (random, made with the database).
    pub salt: Vec<u8>,
    /// DBRP mappings and v1 authorizations.
    pub v1: super::v1::V1Registry,
}

impl Registry {
    /// SHA-256 over the database's salt and the token. Tokens this server makes are 64
    /// random characters, so one round suffices; the salt makes a stolen database useless
    /// against precomputed tables and lets the lookup stay one hash and one map probe.
    pub fn hash_token(&self, token: &[u8]) -> Vec<u8> {
        hash_token(&self.salt, token)
    }
    /// The token presented, if it is known.
    pub fn token(&self, presented: &[u8]) -> Option<&Token> {
        self.tokens.get(&self.hash_token(presented))
    }
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

pub fn hash_token(salt: &[u8], token: &[u8]) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(salt);
    h.update(token);
    h.finalize().to_vec()
}

pub(crate) const SALT_KEY: &str = "token_salt";

pub(crate) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub(crate) fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .filter_map(|i| u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok())
        .collect()
}

/// Databases made before tokens were hashed kept them in `tokens` in plain text: each is
/// hashed into `auth` (its buckets become write permissions, as they were), the old
/// tables are dropped, and the WAL that saw them is truncated.
pub(crate) fn migrate_tokens(conn: &Connection) -> rusqlite::Result<()> {
    let old: i64 = conn.query_row(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'tokens'",
        [],
        |r| r.get(0),
    )?;
    if old == 0 {
        return Ok(());
    }
    let salt = match get_meta(conn, SALT_KEY)? {
        Some(s) => unhex(&s),
        None => {
            let mut salt = [0u8; 32];
            random_bytes(&mut salt);
            set_meta(conn, SALT_KEY, &hex(&salt))?;
            salt.to_vec()
        }
    };
    let tx = conn.unchecked_transaction()?;
    let rows: Vec<(String, Option<i64>, i64, String)> = tx
        .prepare("SELECT token, org_id, all_access, description FROM tokens")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (token, org_id, all, desc) in rows {
        let mut t = Token {
            hash: hash_token(&salt, token.as_bytes()),
            org_id: org_id.map(to_u),
            all_access: all != 0,
            description: desc,
            ..Token::default()
        };
        let mut st = tx.prepare("SELECT bucket_id FROM token_buckets WHERE token = ?1")?;
        for b in st.query_map([&token], |r| r.get::<_, i64>(0))? {
            t.write.insert(to_u(b?));
        }
        upsert_token(&tx, &t)?;
    }
    tx.execute_batch("DROP TABLE IF EXISTS token_buckets; DROP TABLE tokens;")?;
    tx.commit()?;
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    Ok(())
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
    let mut ids: HashMap<i64, Vec<u8>> = HashMap::new();
    let mut st = conn.prepare("SELECT id, hash, org_id, all_access, description FROM auth")?;
    for r in st.query_map([], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            Token {
                hash: r.get(1)?,
                org_id: r.get::<_, Option<i64>>(2)?.map(to_u),
                all_access: r.get::<_, i64>(3)? != 0,
                description: r.get(4)?,
                ..Token::default()
            },
        ))
    })? {
        let (id, t) = r?;
        ids.insert(id, t.hash.clone());
        reg.tokens.insert(t.hash.clone(), t);
    }
    let mut st = conn.prepare("SELECT auth_id, bucket_id, action FROM auth_buckets")?;
    for r in st.query_map([], |r| {
        Ok((r.get::<_, i64>(0)?, to_u(r.get(1)?), r.get::<_, i64>(2)?))
    })? {
        let (id, b, action) = r?;
        if let Some(t) = ids.get(&id).and_then(|h| reg.tokens.get_mut(h)) {
            if action == ACTION_READ {
                t.read.insert(b);
            } else {
                t.write.insert(b);
            }
        }
    }
    reg.salt = get_meta(conn, SALT_KEY)?
        .map(|s| unhex(&s))
        .unwrap_or_default();
    reg.v1 = super::v1::load(conn)?;
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

/// Stores a token's hash and permissions (replacing those of the same hash).
pub fn upsert_token(tx: &Connection, t: &Token) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO auth(hash, org_id, all_access, description) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(hash) DO UPDATE SET org_id = ?2, all_access = ?3, description = ?4",
        params![
            t.hash,
            t.org_id.map(to_i),
            t.all_access as i64,
            t.description
        ],
    )?;
    let id: i64 = tx.query_row("SELECT id FROM auth WHERE hash = ?1", [&t.hash], |r| {
        r.get(0)
    })?;
    tx.execute("DELETE FROM auth_buckets WHERE auth_id = ?1", [id])?;
    for (set, action) in [(&t.write, ACTION_WRITE), (&t.read, ACTION_READ)] {
        for b in set {
            tx.execute(
                "INSERT INTO auth_buckets(auth_id, bucket_id, action) VALUES (?1, ?2, ?3)",
                params![id, to_i(*b), action],
            )?;
        }
    }
    Ok(())
}
