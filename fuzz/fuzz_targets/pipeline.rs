//! The write pipeline on arbitrary request heads and bodies, at both endpoints, for a
//! server that knows tokens, v1 users, orgs and buckets and for an edge that knows none.
//! It must never panic; every rejection must be InfluxDB's JSON shape; a server never
//! accepts what the edge rejects, and when both accept they read the same points.
#![no_main]

use libfuzzer_sys::fuzz_target;
use linegate_core::pipeline::{self, Edge, Endpoint, Head, Lookup};
use linegate_core::{Limits, Rejection};

/// Org 1 "o" with buckets 2 "b" and 3 "db/rp"; token "w" writes, "r" does not; v1 user "u"
/// with password "pw"; an explicit DBRP mapping of "x" to bucket 2.
struct Server;

impl Lookup for Server {
    type Auth = bool;
    type Org = u64;
    type Bucket = u64;
    fn token(&mut self, s: &[u8]) -> Option<bool> {
        match s {
            b"w" => Some(true),
            b"r" => Some(false),
            _ => None,
        }
    }
    fn v1_user(&mut self, u: &[u8], p: &[u8]) -> Option<Option<bool>> {
        (u == b"u").then_some((p == b"pw").then_some(true))
    }
    fn org_by_id(&mut self, id: u64) -> Option<u64> {
        (id == 1).then_some(1)
    }
    fn org_by_name(&mut self, n: &[u8]) -> Option<u64> {
        (n == b"o").then_some(1)
    }
    fn org_of(&mut self, _: &bool) -> Option<u64> {
        Some(1)
    }
    fn bucket_by_id(&mut self, _: &u64, id: u64) -> Option<u64> {
        (id == 2 || id == 3).then_some(id)
    }
    fn bucket_by_name(&mut self, _: &u64, n: &[u8]) -> Option<u64> {
        match n {
            b"b" => Some(2),
            b"db/rp" => Some(3),
            _ => None,
        }
    }
    fn dbrp(&mut self, _: &u64, db: &[u8], _rp: Option<&[u8]>) -> Option<u64> {
        (db == b"x").then_some(2)
    }
    fn can_write(&mut self, a: &bool, _: &u64) -> bool {
        *a
    }
}

fn run<L: Lookup>(
    lookup: &mut L,
    head: &Head<'_>,
    body: &[u8],
    limits: &Limits,
) -> Result<u64, Rejection> {
    let admitted = pipeline::admit(head, lookup)?;
    // Step 4 on a prefix must agree with step 4 on the whole body.
    let cut = body.len().min(7);
    if let Ok(pipeline::Prefix::Ready(n)) = admitted.gzip_header(&body[..cut], false) {
        assert_eq!(
            admitted.gzip_header(body, true),
            Ok(pipeline::Prefix::Ready(n))
        );
    }
    let resolved = admitted.resolve(body, lookup)?;
    let read = resolved.read(body, limits, 1_700_000_000_123_456_789, |_| {})?;
    Ok(read.report.points)
}

fn well_formed(r: &Rejection) {
    assert!(r.body.starts_with(b"{\"code\":\""), "{:?}", r);
    assert!(r.body.ends_with(b"}"));
    assert!(std::str::from_utf8(&r.body).is_ok());
    assert_eq!(r.headers()[1].1, r.code);
}

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, rest)) = data.split_first() else {
        return;
    };
    let mut parts = rest.splitn(3, |&b| b == 0xff);
    let query = parts.next().unwrap_or_default();
    let authorization = parts.next();
    let body = parts.next().unwrap_or_default();
    let head = Head {
        endpoint: if ctl & 1 == 0 {
            Endpoint::V2
        } else {
            Endpoint::V1
        },
        query,
        authorization: authorization.filter(|_| ctl & 2 == 0),
        content_encoding: (ctl & 4 != 0).then_some(&b"gzip"[..]),
    };
    let limits = Limits {
        max_body: if ctl & 8 != 0 { 64 } else { 1 << 20 },
        max_batch: if ctl & 16 != 0 { 128 } else { 1 << 22 },
        max_message: if ctl & 32 != 0 { 100 } else { 1 << 16 },
    };
    let server = run(&mut Server, &head, body, &limits);
    let edge = run(&mut Edge, &head, body, &limits);
    for r in [&server, &edge]
        .into_iter()
        .filter_map(|r| r.as_ref().err())
    {
        well_formed(r);
    }
    match (&server, &edge) {
        (Ok(a), Ok(b)) => assert_eq!(a, b),
        (Ok(_), Err(r)) => panic!("the server accepts what the edge rejects: {r:?}"),
        _ => {}
    }
});
