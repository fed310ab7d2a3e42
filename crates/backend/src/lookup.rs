//! The core pipeline's lookup over the store, for both write endpoints: tokens by salted
//! hash, v1 authorizations (user name and salted PBKDF2 password, `crate::store::v1`), orgs,
//! buckets and explicit DBRP mappings from the in-memory registry, and the write permission.

use std::sync::Arc;

use linegate_core::pipeline::Lookup;

use crate::store::{Bucket, Org, Store, Token};

/// Each question takes the registry's read lock for just that question, so nothing the
/// pipeline hands back borrows it across an await.
pub struct StoreLookup {
    pub store: Arc<Store>,
    /// A v1 user name and password judged before the pipeline ran (awaited on the hashing
    /// pool), with the answer: asked again, the lookup gives it without hashing again.
    pub judged: Option<Judged>,
}

/// A v1 password's answer, as [`Lookup::v1_user`] gives it.
pub struct Judged {
    pub user: Vec<u8>,
    pub password: Vec<u8>,
    pub found: Option<Option<Token>>,
}

impl StoreLookup {
    /// A lookup over `store`.
    pub fn new(store: Arc<Store>) -> StoreLookup {
        StoreLookup {
            store,
            judged: None,
        }
    }
}

impl Lookup for StoreLookup {
    type Auth = Token;
    type Org = Org;
    type Bucket = Bucket;

    fn token(&mut self, secret: &[u8]) -> Option<Token> {
        self.store.registry().token(secret).cloned()
    }
    fn v1_user(&mut self, user: &[u8], password: &[u8]) -> Option<Option<Token>> {
        if let Some(j) = &self.judged {
            if j.user == user && j.password == password {
                return j.found.clone();
            }
        }
        crate::store::v1::v1_user(&self.store, user, password)
    }
    fn dbrp(&mut self, org: &Org, db: &[u8], rp: Option<&[u8]>) -> Option<Bucket> {
        crate::store::v1::dbrp(&self.store.registry(), org.id, db, rp)
    }
    fn org_by_id(&mut self, id: u64) -> Option<Org> {
        self.store.registry().orgs.get(&id).cloned()
    }
    fn org_by_name(&mut self, name: &[u8]) -> Option<Org> {
        self.store.registry().org_by_name(name).cloned()
    }
    fn org_of(&mut self, auth: &Token) -> Option<Org> {
        let reg = self.store.registry();
        match auth.org_id {
            Some(id) => reg.orgs.get(&id).cloned(),
            // An operator token belongs to no org: v1 finds buckets when there is only one.
            None => {
                let mut orgs = reg.orgs.values();
                match (orgs.next(), orgs.next()) {
                    (Some(o), None) => Some(o.clone()),
                    _ => None,
                }
            }
        }
    }
    fn bucket_by_id(&mut self, org: &Org, id: u64) -> Option<Bucket> {
        let reg = self.store.registry();
        reg.buckets.get(&id).filter(|b| b.org_id == org.id).cloned()
    }
    fn bucket_by_name(&mut self, org: &Org, name: &[u8]) -> Option<Bucket> {
        self.store.registry().bucket_by_name(org.id, name).cloned()
    }
    fn can_write(&mut self, auth: &Token, bucket: &Bucket) -> bool {
        auth.can_write(bucket)
    }
}
