//! The core pipeline's lookup over the store: tokens by salted hash, orgs and buckets from
//! the in-memory registry, and the write permission.

use std::sync::Arc;

use linegate_core::pipeline::Lookup;

use crate::store::{Bucket, Org, Store, Token};

/// Each question takes the registry's read lock for just that question, so nothing the
/// pipeline hands back borrows it across an await.
pub struct StoreLookup {
    pub store: Arc<Store>,
}

impl Lookup for StoreLookup {
    type Auth = Token;
    type Org = Org;
    type Bucket = Bucket;

    fn token(&mut self, secret: &[u8]) -> Option<Token> {
        self.store.registry().token(secret).cloned()
    }
    fn org_by_id(&mut self, id: u64) -> Option<Org> {
        self.store.registry().orgs.get(&id).cloned()
    }
    fn org_by_name(&mut self, name: &[u8]) -> Option<Org> {
        self.store.registry().org_by_name(name).cloned()
    }
    fn org_of(&mut self, auth: &Token) -> Option<Org> {
        let reg = self.store.registry();
        auth.org_id.and_then(|id| reg.orgs.get(&id).cloned())
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
