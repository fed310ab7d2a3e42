//! The write pipeline: InfluxDB OSS v2's steps for `POST /api/v2/write` (spec Part B §1) and
//! `POST /write` (Part C §C.1), in their order, as pure functions over the request's parts
//! and a caller-supplied [`Lookup`] (tokens, orgs, buckets, DBRP mappings, permissions).
//!
//! A request goes through three stages, so that nothing is read before it may be:
//!
//! 1. [`admit`]: the head only (credentials, `precision`, `bucket`/`db`). The body is not
//!    read before the token is judged.
//! 2. [`Admitted::resolve`]: the first bytes of the body (the gzip header, when the body is
//!    gzip), then the org, the bucket and the permission.
//! 3. [`Resolved::read`]: the whole body (size limits, gzip stream) and the parse.
//!
//! ```
//! use linegate_core::pipeline::{self, Edge, Endpoint, Head};
//! use linegate_core::Limits;
//!
//! let head = Head {
//!     endpoint: Endpoint::V2,
//!     query: b"org=acme&bucket=metrics&precision=s",
//!     authorization: Some(b"Token secret"),
//!     content_encoding: None,
//! };
//! let body = b"cpu,host=a usage=0.5 1700000000\n";
//! let admitted = pipeline::admit(&head, &mut Edge).unwrap();
//! let resolved = admitted.resolve(body, &mut Edge).unwrap();
//! let read = resolved.read(body, &Limits::default(), 0, |_| {}).unwrap();
//! assert_eq!(read.report.points, 1);
//! ```
//!
//! Who supplies the lookup decides how much is judged: a server knows its tokens and
//! buckets ([`Scope::Server`]); an edge knows none of them and judges only what the request
//! itself decides, then forwards (Part A §3, [`Edge`]); a tool checking a batch answers as
//! the server would for an authorized request naming an existing bucket ([`Batch`]).
//!
//! An edge holding the whole request at once runs the three stages in one call:
//! [`prepare`] (every step before the parse) and [`check_request`] (the verdict).

use std::borrow::Cow;

use crate::answers::Rejection;
use crate::batch::{read_batch, BatchReport, ParseOptions};
use crate::gzip::{self, HeaderError, ReadError};
use crate::limits::{Limits, MAX_GZIP_HEADER};
use crate::point::Point;
use crate::precision::Precision;
use crate::query::Query;

mod whole;

pub(crate) use whole::prepare_batch;
pub use whole::{check_request, check_write, prepare, verdict, Prepared, Request, Verdict};

/// Which write endpoint a request came to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `POST /api/v2/write` (spec Part B).
    #[default]
    V2,
    /// `POST /write`, the v1-compatibility endpoint (spec Part C).
    V1,
}

impl Endpoint {
    /// The endpoint a request path names, if it is a write path.
    pub fn from_path(path: &str) -> Option<Endpoint> {
        match path {
            "/api/v2/write" => Some(Endpoint::V2),
            "/write" => Some(Endpoint::V1),
            _ => None,
        }
    }

    /// The request path of this endpoint.
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::V2 => "/api/v2/write",
            Endpoint::V1 => "/write",
        }
    }
}

/// The parts of a write request the pipeline reads before the body.
#[derive(Clone, Copy, Debug, Default)]
pub struct Head<'a> {
    /// The endpoint the request came to.
    pub endpoint: Endpoint,
    /// The raw query string, without `?`.
    pub query: &'a [u8],
    /// The first `Authorization` header, if sent.
    pub authorization: Option<&'a [u8]>,
    /// The first `Content-Encoding` header, if sent (compared verbatim).
    pub content_encoding: Option<&'a [u8]>,
}

/// Credentials as the endpoint reads them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credentials<'a> {
    /// An API token (`Authorization: Token <t>`; on v1 also `Token user:<t>`).
    Token(&'a [u8]),
    /// A v1 user name and password (`u`/`p` parameters or HTTP Basic).
    Password {
        /// The user name.
        user: Vec<u8>,
        /// The password.
        password: Vec<u8>,
    },
}

/// How much of the pipeline a lookup lets run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// A server: every step, with the lookup's answers.
    Server,
    /// An edge in front of a server: only what the request itself decides; the rest is the
    /// server's, so the request is forwarded.
    Edge,
    /// A batch checked outside a live request: only precision, content encoding, limits and
    /// the parse, as for an authorized request naming an existing org and bucket.
    Batch,
}

/// What the pipeline asks of the caller: who a token is, which orgs and buckets exist, and
/// what an authorization may do. Every method has an answer of "nothing", so an edge or a
/// tool implements only [`Lookup::scope`].
pub trait Lookup {
    /// Who a credential is (a server's authorization record).
    type Auth;
    /// An organization.
    type Org;
    /// A bucket.
    type Bucket;

    /// How much of the pipeline runs (every step, for a server).
    fn scope(&self) -> Scope {
        Scope::Server
    }
    /// Whether a v1 write without credentials goes on (an edge in front of InfluxDB 1.x,
    /// which decides itself: with auth off, its common setup, it takes them).
    fn v1_open(&self) -> bool {
        false
    }
    /// The authorization of an API token.
    fn token(&mut self, _secret: &[u8]) -> Option<Self::Auth> {
        None
    }
    /// A v1 authorization by user name: `None` when no v1 authorization has that name (the
    /// password is then tried as a token); `Some(None)` when the password does not match.
    fn v1_user(&mut self, _user: &[u8], _password: &[u8]) -> Option<Option<Self::Auth>> {
        None
    }
    /// The org of an `orgID`.
    fn org_by_id(&mut self, _id: u64) -> Option<Self::Org> {
        None
    }
    /// The org of an `org` name.
    fn org_by_name(&mut self, _name: &[u8]) -> Option<Self::Org> {
        None
    }
    /// The org an authorization belongs to (v1 looks buckets up there).
    fn org_of(&mut self, _auth: &Self::Auth) -> Option<Self::Org> {
        None
    }
    /// The bucket of a `bucket` ID in `org`.
    fn bucket_by_id(&mut self, _org: &Self::Org, _id: u64) -> Option<Self::Bucket> {
        None
    }
    /// The bucket of a `bucket` name in `org`.
    fn bucket_by_name(&mut self, _org: &Self::Org, _name: &[u8]) -> Option<Self::Bucket> {
        None
    }
    /// An explicit DBRP mapping (`/api/v2/dbrps`) in the org: for `rp` given, the mapping of
    /// (`db`, `rp`); for `rp` absent, the one marked default for `db`.
    fn dbrp(&mut self, _org: &Self::Org, _db: &[u8], _rp: Option<&[u8]>) -> Option<Self::Bucket> {
        None
    }
    /// Whether `auth` may write `bucket`.
    fn can_write(&mut self, _auth: &Self::Auth, _bucket: &Self::Bucket) -> bool {
        false
    }
}

/// The lookup of an edge: knows no token, org or bucket.
#[derive(Clone, Copy, Debug, Default)]
pub struct Edge;

impl Lookup for Edge {
    type Auth = ();
    type Org = ();
    type Bucket = ();
    fn scope(&self) -> Scope {
        Scope::Edge
    }
}

/// The lookup of a tool that checks a batch rather than a live request.
#[derive(Clone, Copy, Debug, Default)]
pub struct Batch;

impl Lookup for Batch {
    type Auth = ();
    type Org = ();
    type Bucket = ();
    fn scope(&self) -> Scope {
        Scope::Batch
    }
}

/// How timestamps are read: the multiplier for given ones, and "now" for lines without.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeRule {
    /// Multiplier of given timestamps.
    pub precision: Precision,
    /// How "now" is truncated for lines without a timestamp, in nanoseconds (1 = not at all).
    pub truncate_ns: i64,
}

/// The `precision` values clients of an endpoint send, in the order a chooser lists them:
/// v2's four (anything else is its 400), and on `/write` also 1.x's `n`, `u`, `m` and `h`
/// (never rejected there; [`TimeRule::of`] says how each is read).
pub fn precision_params(endpoint: Endpoint) -> &'static [&'static str] {
    match endpoint {
        Endpoint::V2 => &["ns", "us", "ms", "s"],
        Endpoint::V1 => &["n", "u", "us", "ms", "s", "m", "h"],
    }
}

impl TimeRule {
    /// How an endpoint reads timestamps under a `precision` parameter; `None` when it
    /// rejects the parameter (v2's 400; `/write` rejects none).
    pub fn of(endpoint: Endpoint, param: &[u8]) -> Option<TimeRule> {
        match endpoint {
            Endpoint::V2 => Precision::from_param(param).map(TimeRule::v2),
            Endpoint::V1 => Some(TimeRule::v1(param)),
        }
    }

    /// The v2 rule: one precision for both.
    pub fn v2(precision: Precision) -> TimeRule {
        TimeRule {
            precision,
            truncate_ns: precision.multiplier(),
        }
    }

    /// The v1 rule (Part C step 8): the precision is never rejected; given timestamps are
    /// scaled only by `us`, `ms` and `s`, and "now" is truncated by the 1.x spellings too.
    pub fn v1(param: &[u8]) -> TimeRule {
        let (precision, truncate_ns) = match param {
            b"us" => (Precision::Us, 1_000),
            b"ms" => (Precision::Ms, 1_000_000),
            b"s" => (Precision::S, 1_000_000_000),
            b"u" => (Precision::Ns, 1_000),
            b"m" => (Precision::Ns, 60_000_000_000),
            b"h" => (Precision::Ns, 3_600_000_000_000),
            _ => (Precision::Ns, 1),
        };
        TimeRule {
            precision,
            truncate_ns,
        }
    }

    /// Parse options for a batch read at the server's `now`.
    pub fn options(&self, now: i64) -> ParseOptions {
        let t = now as i128;
        let m = self.truncate_ns.max(1) as i128;
        let now = (t - t.rem_euclid(m)) as i64;
        ParseOptions::new(self.precision, now)
    }

    /// The server's clock as storage is to see it for this write: v1's `u`, `m` and `h`
    /// read given timestamps as ns but truncate "now" to their unit (spec Part C step 8),
    /// so storage sees the truncated clock; otherwise the clock as it is (storage truncates
    /// it to the precision itself).
    pub fn storage_now(&self, now: i64) -> i64 {
        if self.truncate_ns == self.precision.multiplier() {
            now
        } else {
            self.options(now).now
        }
    }

    /// Whether given timestamps are read as nanoseconds although the parameter names a
    /// coarser 1.x unit (`u`, `m`, `h`): OSS's silent trap on `/write`.
    pub fn ignores_unit(&self) -> bool {
        self.precision == Precision::Ns && self.truncate_ns > 1
    }
}

/// Whose credential rule a request at `path` is read by, as InfluxDB reads credentials
/// there: v1's (`u`/`p`, `Token [user:]secret`, Basic) on the v1-compatibility paths
/// `/write` and `/query`, v2's (`Token`/`Bearer` only) everywhere else. An edge judging
/// credentials for a server judges this one, so it judges what the server will act on.
pub fn credentials_rule(path: &str) -> Endpoint {
    match path {
        "/write" | "/query" => Endpoint::V1,
        _ => Endpoint::V2,
    }
}

/// The header an edge sets to its client's address when it forwards a request, so a server
/// behind it counts failed authentication per client rather than per edge. A server
/// believes it only from proxies its operator names.
pub const CLIENT_ADDRESS_HEADER: &str = "X-Linegate-Client-Address";

/// Reads the credentials of a request as its endpoint does (Part C step 1 for v1).
pub fn credentials<'a>(head: &Head<'a>, query: &Query<'a>) -> Option<Credentials<'a>> {
    let auth = head.authorization;
    match head.endpoint {
        Endpoint::V2 => {
            let v = auth?;
            let t = v
                .strip_prefix(b"Token ")
                .or_else(|| v.strip_prefix(b"Bearer "))?;
            Some(Credentials::Token(t))
        }
        Endpoint::V1 => {
            let (u, p) = (query.get_or_empty("u"), query.get_or_empty("p"));
            if !u.is_empty() && !p.is_empty() {
                return Some(Credentials::Password {
                    user: u.to_vec(),
                    password: p.to_vec(),
                });
            }
            let v = auth.filter(|v| !v.is_empty())?;
            let mut parts = v.split(|&b| b == b' ');
            if let (Some(b"Token"), Some(second), None) = (parts.next(), parts.next(), parts.next())
            {
                let secret = match second.iter().position(|&b| b == b':') {
                    Some(i) => &second[i + 1..],
                    None => second,
                };
                return Some(Credentials::Token(secret));
            }
            basic_auth(v).map(|(user, password)| Credentials::Password { user, password })
        }
    }
}

/// Go's `Request.BasicAuth`: `Basic ` (any case), standard padded base64, split at the
/// first `:`.
fn basic_auth(v: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let rest = v
        .get(..6)
        .filter(|p| p.eq_ignore_ascii_case(b"basic "))
        .map(|_| &v[6..])?;
    let decoded = base64_decode(rest)?;
    let i = decoded.iter().position(|&b| b == b':')?;
    Some((decoded[..i].to_vec(), decoded[i + 1..].to_vec()))
}

/// Go's `base64.StdEncoding.DecodeString` (padding required; CR and LF are skipped).
fn base64_decode(s: &[u8]) -> Option<Vec<u8>> {
    let s: Vec<u8> = s
        .iter()
        .copied()
        .filter(|&b| b != b'\r' && b != b'\n')
        .collect();
    if s.len() % 4 != 0 {
        return None;
    }
    let val = |b: u8| -> Option<u32> {
        Some(match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    let quads = s.len() / 4;
    for (qi, q) in s.chunks(4).enumerate() {
        let pad = q.iter().rev().take_while(|&&b| b == b'=').count();
        if pad > 2 || (pad > 0 && qi + 1 != quads) {
            return None;
        }
        let mut n = 0u32;
        for &b in &q[..4 - pad] {
            n = n << 6 | val(b)?;
        }
        n <<= 6 * pad as u32;
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..3 - pad]);
    }
    Some(out)
}

/// Steps 1–3: the head. Returns what the request may go on with, or the answer.
pub fn admit<'a, L: Lookup>(head: &Head<'a>, lookup: &mut L) -> Result<Admitted<'a, L>, Rejection> {
    let query = Query::parse(head.query);
    let scope = lookup.scope();
    // 1. Credentials. An edge decides only their absence; a server judges them.
    let mut auth = None;
    if scope != Scope::Batch {
        let creds = given_credentials(head, &query, lookup)?;
        if scope == Scope::Server {
            let creds = creds.ok_or_else(Rejection::unauthorized)?;
            auth = Some(authenticate(lookup, &creds).ok_or_else(Rejection::unauthorized)?);
        }
    }
    // 2. Precision; 3. the bucket (v2) or db (v1) parameter.
    let time = match head.endpoint {
        Endpoint::V2 => {
            let p = Precision::from_param(query.get_or_empty("precision"))
                .ok_or_else(Rejection::invalid_precision)?;
            if scope != Scope::Batch && query.get_or_empty("bucket").is_empty() {
                return Err(Rejection::bucket_not_found());
            }
            TimeRule::v2(p)
        }
        Endpoint::V1 => {
            let t = TimeRule::v1(query.get_or_empty("precision"));
            if scope != Scope::Batch && query.get_or_empty("db").is_empty() {
                return Err(Rejection::missing_db());
            }
            t
        }
    };
    Ok(Admitted {
        endpoint: head.endpoint,
        gzip: is_gzip(head.content_encoding),
        query,
        auth,
        time,
        scope,
    })
}

/// Step 1 as far as the request alone decides it (what an edge judges before reading the
/// body): the credentials it carries, `None` for a v1 write without any that `lookup` lets
/// go on ([`Lookup::v1_open`]), or the 401 when it has none. On v2 no `Authorization`, or a
/// blank one, fails whoever judges it; what a present one is worth is the server's.
pub fn given_credentials<'a, L: Lookup>(
    head: &Head<'a>,
    query: &Query<'a>,
    lookup: &L,
) -> Result<Option<Credentials<'a>>, Rejection> {
    match head.endpoint {
        Endpoint::V2 => {
            if head.authorization.is_none_or(|a| a.trim_ascii().is_empty()) {
                return Err(Rejection::unauthorized());
            }
            Ok(credentials(head, query))
        }
        Endpoint::V1 => match credentials(head, query) {
            None if lookup.v1_open() => Ok(None),
            None => Err(Rejection::unauthorized()),
            c => Ok(c),
        },
    }
}

/// Step 1 on a server: the authorization credentials stand for, if any (a v1 user name
/// that names no v1 authorization has its password tried as a token).
pub fn authenticate<L: Lookup>(lookup: &mut L, creds: &Credentials<'_>) -> Option<L::Auth> {
    match creds {
        Credentials::Token(t) => lookup.token(t),
        Credentials::Password { user, password } => match lookup.v1_user(user, password) {
            Some(found) => found,
            // No v1 authorization of that name: any user name with a token as password.
            None => lookup.token(password),
        },
    }
}

/// Whether a `Content-Encoding` value means gzip: exactly `gzip` or `x-gzip`, as OSS compares
/// it (`GZIP`, `identity`, `deflate` … mean the body is read as it is).
pub fn is_gzip(content_encoding: Option<&[u8]>) -> bool {
    matches!(content_encoding, Some(b"gzip" | b"x-gzip"))
}

/// A request whose head passed steps 1–3.
pub struct Admitted<'a, L: Lookup> {
    /// The endpoint the request came to.
    pub endpoint: Endpoint,
    /// Whether the body is gzip (step 4 applies).
    pub gzip: bool,
    /// The parsed query string.
    pub query: Query<'a>,
    /// The authorization, when a server judged the credentials.
    pub auth: Option<L::Auth>,
    /// How timestamps are read.
    pub time: TimeRule,
    /// How much of the pipeline runs.
    pub scope: Scope,
}

/// Step 4's answer about the first bytes of a body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prefix {
    /// Not gzip, or a complete first header of this length.
    Ready(Option<usize>),
    /// The header may go on past these bytes: read more (up to [`MAX_GZIP_HEADER`]).
    NeedMore,
}

impl<'a, L: Lookup> Admitted<'a, L> {
    /// Step 4 on the bytes of the body that have arrived (`complete`: they are all of it).
    pub fn gzip_header(&self, prefix: &[u8], complete: bool) -> Result<Prefix, Rejection> {
        if !self.gzip {
            return Ok(Prefix::Ready(None));
        }
        match gzip::read_header(prefix) {
            Ok(n) => Ok(Prefix::Ready(Some(n))),
            Err(HeaderError::Empty | HeaderError::Truncated)
                if !complete && prefix.len() < MAX_GZIP_HEADER =>
            {
                Ok(Prefix::NeedMore)
            }
            Err(_) => Err(Rejection::gzip_header()),
        }
    }

    /// Steps 4–7, given the whole body or at least its first bytes as far as
    /// [`Admitted::gzip_header`] needs (pass the whole body when it is there).
    pub fn resolve(self, prefix: &[u8], lookup: &mut L) -> Result<Resolved<L>, Rejection> {
        let gzip_start = match self.gzip_header(prefix, true)? {
            Prefix::Ready(n) => n,
            Prefix::NeedMore => return Err(Rejection::gzip_header()),
        };
        self.resolve_with(gzip_start, lookup)
    }

    /// Steps 5–7, once step 4 gave `gzip_start` (the first header's length, for gzip).
    pub fn resolve_with(
        self,
        gzip_start: Option<usize>,
        lookup: &mut L,
    ) -> Result<Resolved<L>, Rejection> {
        let q = &self.query;
        let bucket = match (self.endpoint, self.scope) {
            (_, Scope::Batch) => None,
            (Endpoint::V2, scope) => {
                let org = q.get_or_empty("org");
                let org_id = q.get_or_empty("orgID");
                if org.is_empty() && org_id.is_empty() {
                    return Err(Rejection::missing_org());
                }
                match (scope, &self.auth) {
                    (Scope::Server, Some(auth)) => {
                        let b = find_bucket_v2(lookup, q)?;
                        if !lookup.can_write(auth, &b) {
                            return Err(Rejection::forbidden_write());
                        }
                        Some(b)
                    }
                    _ => None,
                }
            }
            (Endpoint::V1, Scope::Server) => match &self.auth {
                Some(auth) => {
                    let b = find_bucket_v1(lookup, auth, q)?;
                    if !lookup.can_write(auth, &b) {
                        return Err(Rejection::forbidden_write());
                    }
                    Some(b)
                }
                None => None,
            },
            (Endpoint::V1, _) => None,
        };
        Ok(Resolved {
            endpoint: self.endpoint,
            gzip_start,
            auth: self.auth,
            bucket,
            time: self.time,
        })
    }
}

/// Go's `platform.IDFromString`: 16 hex digits, not zero.
pub fn parse_id(s: &[u8]) -> Result<u64, &'static str> {
    if s.len() != 16 {
        return Err("id must have a length of 16 bytes");
    }
    if !s.iter().all(u8::is_ascii_hexdigit) {
        return Err("invalid ID");
    }
    let text = std::str::from_utf8(s).map_err(|_| "invalid ID")?;
    match u64::from_str_radix(text, 16) {
        Ok(0) | Err(_) => Err("invalid ID"),
        Ok(id) => Ok(id),
    }
}

/// Steps 5 and 6 of v2: the org from `org` (16 hex digits: an ID, else a name) or `orgID`,
/// then the bucket in it (16 hex digits: tried as an ID, then as a name).
pub fn find_bucket_v2<L: Lookup>(lookup: &mut L, q: &Query<'_>) -> Result<L::Bucket, Rejection> {
    let org = find_org(lookup, q)?;
    let b = q.get_or_empty("bucket");
    parse_id(b)
        .ok()
        .and_then(|id| lookup.bucket_by_id(&org, id))
        .or_else(|| lookup.bucket_by_name(&org, b))
        .ok_or_else(|| Rejection::bucket_named_not_found(b))
}

/// Step 5 of v2 alone: the org a request names.
pub fn find_org<L: Lookup>(lookup: &mut L, q: &Query<'_>) -> Result<L::Org, Rejection> {
    let org_param = q.get_or_empty("org");
    let org_id_param = q.get_or_empty("orgID");
    let mut by_id = None;
    let mut by_name = None;
    if !org_param.is_empty() {
        match parse_id(org_param) {
            Ok(id) => by_id = Some(id),
            Err(_) => by_name = Some(org_param),
        }
    }
    if !org_id_param.is_empty() {
        by_id = Some(parse_id(org_id_param).map_err(Rejection::invalid_id)?);
    }
    match (by_id, by_name) {
        (Some(id), _) => lookup.org_by_id(id).ok_or_else(Rejection::org_id_not_found),
        (None, Some(name)) => lookup
            .org_by_name(name)
            .ok_or_else(|| Rejection::org_name_not_found(name)),
        (None, None) => Err(Rejection::missing_org()),
    }
}

/// A bucket's virtual DBRP mapping (spec Part C step 5): `db/rp` → (`db`, `rp`); a name
/// without `/` → (name, `autogen`), the default of its database. Returns (db, rp, default).
/// [`find_bucket_v1`] finds buckets by the same rule, from the other side.
pub fn virtual_mapping(bucket_name: &[u8]) -> (&[u8], &[u8], bool) {
    match bucket_name.iter().position(|&c| c == b'/') {
        Some(i) => (&bucket_name[..i], &bucket_name[i + 1..], false),
        None => (bucket_name, b"autogen", true),
    }
}

/// Whether an explicit mapping of database `db` can take `/write`s meant for the virtual
/// mapping of bucket `bucket_name` ([`find_bucket_v1`] looks explicit mappings up first, and
/// the first mapping of a database becomes its default, so any explicit mapping of that
/// database can). Creating one then needs the right to write that bucket too, unless the
/// operator asks for OSS's behaviour (OSS checks only the mapping's own bucket).
pub fn shadows_virtual(db: &[u8], bucket_name: &[u8]) -> bool {
    virtual_mapping(bucket_name).0 == db
}

/// Step 5 of v1: the bucket of a DBRP mapping in the token's org; explicit mappings first,
/// then every bucket's virtual one ([`virtual_mapping`]).
pub fn find_bucket_v1<L: Lookup>(
    lookup: &mut L,
    auth: &L::Auth,
    q: &Query<'_>,
) -> Result<L::Bucket, Rejection> {
    let org = lookup.org_of(auth).ok_or_else(Rejection::no_dbrp)?;
    let db = q.get_or_empty("db");
    let rp = q.get("rp").filter(|r| !r.is_empty());
    if let Some(b) = lookup.dbrp(&org, db, rp) {
        return Ok(b);
    }
    let found = match rp {
        None => (!db.contains(&b'/'))
            .then(|| lookup.bucket_by_name(&org, db))
            .flatten(),
        Some(rp) => {
            let mut name = db.to_vec();
            name.push(b'/');
            name.extend_from_slice(rp);
            lookup.bucket_by_name(&org, &name).or_else(|| {
                (rp == b"autogen" && !db.contains(&b'/'))
                    .then(|| lookup.bucket_by_name(&org, db))
                    .flatten()
            })
        }
    };
    found.ok_or_else(Rejection::no_dbrp)
}

/// A request that passed every step before the body: its bucket (for a server) and how to
/// read the body.
pub struct Resolved<L: Lookup> {
    /// The endpoint the request came to.
    pub endpoint: Endpoint,
    /// The first gzip header's length, when the body is gzip.
    pub gzip_start: Option<usize>,
    /// The authorization, when a server judged the credentials.
    pub auth: Option<L::Auth>,
    /// The bucket written to, when a server resolved it.
    pub bucket: Option<L::Bucket>,
    /// How timestamps are read.
    pub time: TimeRule,
}

/// A body that was read and parsed without a rejected line.
pub struct Read<'b> {
    /// The body after gzip decoding (borrowed when it was not compressed).
    pub body: Cow<'b, [u8]>,
    /// The parse's counts.
    pub report: BatchReport,
    /// The options the body was parsed with.
    pub options: ParseOptions,
}

impl<L: Lookup> Resolved<L> {
    /// Step 8 alone: the size limits and the gzip stream.
    pub fn decode<'b>(&self, body: &'b [u8], limits: &Limits) -> Result<Cow<'b, [u8]>, Rejection> {
        decode_body(body, self.gzip_start, limits)
    }

    /// Steps 8 and 9: reads the body (as received) and parses it at the server's `now`;
    /// `on_point` sees each point.
    pub fn read<'b>(
        &self,
        body: &'b [u8],
        limits: &Limits,
        now: i64,
        on_point: impl FnMut(&Point<'_>),
    ) -> Result<Read<'b>, Rejection> {
        let body = self.decode(body, limits)?;
        let options = self.time.options(now);
        let report = read_batch(&body, &options, limits.max_message, on_point);
        match parse_rejection(&report) {
            Some(r) => Err(r),
            None => Ok(Read {
                body,
                report,
                options,
            }),
        }
    }
}

/// Step 8: the size limits and the gzip stream (`gzip_start` as step 4 gave it), with OSS's
/// statuses and messages.
pub fn decode_body<'b>(
    body: &'b [u8],
    gzip_start: Option<usize>,
    limits: &Limits,
) -> Result<Cow<'b, [u8]>, Rejection> {
    if body.len() >= limits.max_body {
        return Err(Rejection::too_large());
    }
    match gzip_start {
        Some(start) => Ok(Cow::Owned(
            gzip::decompress_members(body, start, limits.max_batch).map_err(read_error)?,
        )),
        None if body.len() >= limits.max_batch => Err(Rejection::too_large()),
        None => Ok(Cow::Borrowed(body)),
    }
}

/// OSS's answer to a failed read of the body.
pub fn read_error(e: ReadError) -> Rejection {
    match e {
        ReadError::TooLarge => Rejection::too_large(),
        ReadError::Checksum | ReadError::InvalidHeader => Rejection::read_data(400, e.go_text()),
        ReadError::UnexpectedEof | ReadError::Corrupt(_) => Rejection::read_data(500, e.go_text()),
    }
}

/// The 400 of a parsed batch with rejected lines, if it has any.
pub fn parse_rejection(report: &BatchReport) -> Option<Rejection> {
    Some(Rejection::parse_errors(
        report.error_body()?,
        report.first_error_line(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server with one org (id 1, "o"), buckets "b" (id 2) and "db/rp" (id 3), a token "w"
    /// that may write "b", a token "r" that may not, and a v1 user "u" with password "pw".
    struct Server;

    impl Lookup for Server {
        type Auth = &'static str;
        type Org = u64;
        type Bucket = u64;
        fn token(&mut self, s: &[u8]) -> Option<&'static str> {
            match s {
                b"w" => Some("w"),
                b"r" => Some("r"),
                _ => None,
            }
        }
        fn v1_user(&mut self, u: &[u8], p: &[u8]) -> Option<Option<&'static str>> {
            (u == b"u").then_some((p == b"pw").then_some("w"))
        }
        fn org_by_id(&mut self, id: u64) -> Option<u64> {
            (id == 1).then_some(1)
        }
        fn org_by_name(&mut self, n: &[u8]) -> Option<u64> {
            (n == b"o").then_some(1)
        }
        fn org_of(&mut self, _: &&'static str) -> Option<u64> {
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
        fn can_write(&mut self, a: &&'static str, _: &u64) -> bool {
            *a == "w"
        }
    }

    fn run<L: Lookup>(
        lookup: &mut L,
        endpoint: Endpoint,
        query: &str,
        auth: Option<&str>,
        body: &[u8],
    ) -> Result<u64, Rejection> {
        let head = Head {
            endpoint,
            query: query.as_bytes(),
            authorization: auth.map(str::as_bytes),
            content_encoding: None,
        };
        let a = admit(&head, lookup)?;
        let r = a.resolve(body, lookup)?;
        let read = r.read(body, &Limits::default(), 0, |_| {})?;
        Ok(read.report.points)
    }

    fn status<T>(r: Result<T, Rejection>) -> u16 {
        r.map_or_else(|r| r.status, |_| 204)
    }

    /// A bucket's virtual mapping names it back: find_bucket_v1 with the mapping's db and
    /// rp (and without rp when it is the default) finds that bucket.
    #[test]
    fn virtual_mappings_find_their_bucket() {
        for (name, id, want) in [
            ("b", 2, (&b"b"[..], &b"autogen"[..], true)),
            ("db/rp", 3, (&b"db"[..], &b"rp"[..], false)),
        ] {
            let (db, rp, default) = virtual_mapping(name.as_bytes());
            assert_eq!((db, rp, default), want);
            let q = format!(
                "db={}&rp={}",
                String::from_utf8_lossy(db),
                String::from_utf8_lossy(rp)
            );
            assert_eq!(
                find_bucket_v1(&mut Server, &"w", &Query::parse(q.as_bytes())),
                Ok(id)
            );
            let no_rp = format!("db={}", String::from_utf8_lossy(db));
            let found = find_bucket_v1(&mut Server, &"w", &Query::parse(no_rp.as_bytes()));
            assert_eq!(found.is_ok(), default, "{name} without rp");
        }
        assert_eq!(virtual_mapping(b"a/b/c"), (&b"a"[..], &b"b/c"[..], false));
    }

    #[test]
    fn credentials_rule_follows_the_path() {
        assert_eq!(credentials_rule("/write"), Endpoint::V1);
        assert_eq!(credentials_rule("/query"), Endpoint::V1);
        for p in ["/api/v2/write", "/api/v2/orgs", "/metrics", "/write/", "/"] {
            assert_eq!(credentials_rule(p), Endpoint::V2, "{p}");
        }
    }

    /// What an edge decides of step 1 before the body: absence (and, on v2, blankness) only.
    #[test]
    fn given_credentials_before_the_body() {
        let head = |endpoint, authorization: Option<&'static [u8]>| Head {
            endpoint,
            query: b"",
            authorization,
            content_encoding: None,
        };
        let q = Query::parse(b"");
        /// An edge whose server may take v1 writes without credentials (or not).
        struct Open(bool);
        impl Lookup for Open {
            type Auth = ();
            type Org = ();
            type Bucket = ();
            fn scope(&self) -> Scope {
                Scope::Edge
            }
            fn v1_open(&self) -> bool {
                self.0
            }
        }
        let given = |h: &Head<'static>, open: bool| {
            let r = given_credentials(h, &q, &Open(open));
            r.map(|c| c.is_some()).map_err(|r| r.status)
        };
        for blank in [None, Some(&b""[..]), Some(b" \t "), Some(b"\t")] {
            assert_eq!(
                given(&head(Endpoint::V2, blank), true),
                Err(401),
                "{blank:?}"
            );
        }
        // A present v2 value is the server's to judge, even one no token can be read from.
        assert_eq!(
            given(&head(Endpoint::V2, Some(b"Basic eA==")), false),
            Ok(false)
        );
        assert_eq!(
            given(&head(Endpoint::V2, Some(b"Token x")), false),
            Ok(true)
        );
        assert_eq!(given(&head(Endpoint::V1, None), false), Err(401));
        assert_eq!(given(&head(Endpoint::V1, None), true), Ok(false));
        assert_eq!(
            given(&head(Endpoint::V1, Some(b"Token u:x")), false),
            Ok(true)
        );
    }

    /// Any explicit mapping of a bucket's virtual database can take its writes (issue 25
    /// item 9: `secret/autogen → b` shadowed bucket `secret`).
    #[test]
    fn explicit_mappings_shadow_virtual_ones_of_their_database() {
        assert!(shadows_virtual(b"secret", b"secret"));
        assert!(shadows_virtual(b"db", b"db/rp"));
        assert!(!shadows_virtual(b"other", b"secret"));
        assert!(!shadows_virtual(b"db/rp", b"db/rp"));
    }

    #[test]
    fn server_v2_order() {
        let s = &mut Server;
        let v2 = Endpoint::V2;
        assert_eq!(status(run(s, v2, "org=o&bucket=b", None, b"bad")), 401);
        assert_eq!(
            status(run(s, v2, "org=o&bucket=b", Some("Token x"), b"bad")),
            401
        );
        assert_eq!(status(run(s, v2, "precision=n", Some("Token w"), b"")), 400);
        assert_eq!(status(run(s, v2, "org=o", Some("Token w"), b"")), 404);
        assert_eq!(status(run(s, v2, "bucket=b", Some("Token w"), b"")), 400);
        let r = run(s, v2, "org=x&bucket=b", Some("Token w"), b"").unwrap_err();
        assert_eq!(
            r.body,
            br#"{"code":"not found","message":"organization name \"x\" not found"}"#
        );
        let r = run(s, v2, "orgID=12&bucket=b", Some("Token w"), b"").unwrap_err();
        assert_eq!(r.status, 400);
        let r = run(s, v2, "org=o&bucket=c", Some("Token w"), b"").unwrap_err();
        assert_eq!(
            r.body,
            br#"{"code":"not found","message":"bucket \"c\" not found"}"#
        );
        assert_eq!(
            status(run(s, v2, "org=o&bucket=b", Some("Token r"), b"bad")),
            403
        );
        assert_eq!(
            status(run(s, v2, "org=o&bucket=b", Some("Token w"), b"bad")),
            400
        );
        assert_eq!(
            run(
                s,
                v2,
                "org=0000000000000001&bucket=0000000000000002",
                Some("Bearer w"),
                b"m f=1"
            ),
            Ok(1)
        );
    }

    #[test]
    fn server_v1_order() {
        let s = &mut Server;
        let v1 = Endpoint::V1;
        assert_eq!(status(run(s, v1, "db=b", None, b"")), 401);
        assert_eq!(status(run(s, v1, "db=b&u=u&p=no", None, b"")), 401);
        assert_eq!(run(s, v1, "db=b&u=u&p=pw", None, b"m f=1"), Ok(1));
        // No v1 user of that name: the password is tried as a token.
        assert_eq!(run(s, v1, "db=b&u=anyone&p=w", None, b"m f=1"), Ok(1));
        assert_eq!(run(s, v1, "db=b", Some("Token someone:w"), b"m f=1"), Ok(1));
        assert_eq!(status(run(s, v1, "db=b", Some("Token  w"), b"")), 401);
        assert_eq!(status(run(s, v1, "precision=n", Some("Token w"), b"")), 400);
        let r = run(s, v1, "db=x", Some("Token w"), b"").unwrap_err();
        assert_eq!(
            r.body,
            br#"{"code":"not found","message":"no dbrp mapping found"}"#
        );
        assert_eq!(
            run(
                s,
                v1,
                "db=db&rp=rp&precision=h",
                Some("Token w"),
                b"m f=1 5"
            ),
            Ok(1)
        );
        assert_eq!(status(run(s, v1, "db=db", Some("Token w"), b"")), 404);
        assert_eq!(run(s, v1, "db=b&rp=autogen", Some("Token w"), b""), Ok(0));
        assert_eq!(status(run(s, v1, "db=b", Some("Token r"), b"")), 403);
    }

    #[test]
    fn edge_and_batch() {
        let v2 = Endpoint::V2;
        assert_eq!(status(run(&mut Edge, v2, "org=o&bucket=b", None, b"")), 401);
        assert_eq!(
            status(run(&mut Edge, v2, "org=o&bucket=b", Some(" \t"), b"")),
            401
        );
        // The edge cannot judge a token, an org or a bucket: those are forwarded.
        assert_eq!(
            run(&mut Edge, v2, "org=x&bucket=y", Some("Token ?"), b"m f=1"),
            Ok(1)
        );
        assert_eq!(
            status(run(&mut Edge, v2, "bucket=y", Some("Token ?"), b"")),
            400
        );
        assert_eq!(status(run(&mut Edge, Endpoint::V1, "db=d", None, b"")), 401);
        assert_eq!(
            status(run(&mut Edge, Endpoint::V1, "u=a&p=b", None, b"")),
            400
        );
        assert_eq!(
            run(&mut Edge, Endpoint::V1, "db=d&u=a&p=b", None, b"m f=1"),
            Ok(1)
        );
        assert_eq!(run(&mut Batch, v2, "", None, b"m f=1"), Ok(1));
        assert_eq!(status(run(&mut Batch, v2, "precision=h", None, b"")), 400);
    }

    #[test]
    fn basic_auth_as_go_reads_it() {
        assert_eq!(
            basic_auth(b"basic dTpwdw=="),
            Some((b"u".to_vec(), b"pw".to_vec()))
        );
        assert_eq!(basic_auth(b"Basic dTpwdw"), None);
        assert_eq!(basic_auth(b"Basic dXB3"), None);
        assert_eq!(base64_decode(b"YWJjZA=="), Some(b"abcd".to_vec()));
        assert_eq!(base64_decode(b"YQ==YQ=="), None);
        let s = &mut Server;
        assert_eq!(
            run(s, Endpoint::V1, "db=b", Some("Basic dTpwdw=="), b""),
            Ok(0)
        );
    }

    #[test]
    fn v1_time_rules() {
        let now = 1_700_000_000_123_456_789;
        let t = |p: &str| TimeRule::v1(p.as_bytes());
        assert_eq!(t("h").options(now).now, 1_699_999_200_000_000_000);
        assert_eq!(t("h").precision, Precision::Ns);
        assert!(t("h").ignores_unit() && t("u").ignores_unit() && !t("us").ignores_unit());
        // Every value a chooser offers is read by its endpoint, v1's 1.x units as ns.
        for ep in [Endpoint::V2, Endpoint::V1] {
            for p in precision_params(ep) {
                assert!(TimeRule::of(ep, p.as_bytes()).is_some(), "{p}");
            }
        }
        assert_eq!(TimeRule::of(Endpoint::V2, b"h"), None);
        assert_eq!(t("h").storage_now(now), 1_699_999_200_000_000_000);
        assert_eq!(t("ms").storage_now(now), now);
        assert_eq!(TimeRule::v2(Precision::S).storage_now(now), now);
        let m = TimeRule::of(Endpoint::V1, b"m").unwrap();
        assert!(m.ignores_unit() && m.precision == Precision::Ns);
        assert_eq!(t("m").options(now).now, 1_699_999_980_000_000_000);
        assert_eq!(t("u").options(now).now, 1_700_000_000_123_456_000);
        assert_eq!(t("xyz").options(now).now, now);
        assert_eq!(t("s").options(now).now, 1_700_000_000_000_000_000);
    }

    #[test]
    fn gzip_header_needs_its_bytes() {
        let head = Head {
            endpoint: Endpoint::V2,
            query: b"org=o&bucket=b",
            authorization: Some(b"Token t"),
            content_encoding: Some(b"gzip"),
        };
        let a = admit(&head, &mut Edge).unwrap();
        let gz = crate::gzip::compress(b"m f=1 1\n");
        assert_eq!(a.gzip_header(&gz[..4], false), Ok(Prefix::NeedMore));
        assert_eq!(a.gzip_header(&gz, false), Ok(Prefix::Ready(Some(10))));
        assert_eq!(a.gzip_header(&gz[..4], true).unwrap_err().status, 500);
        assert_eq!(a.gzip_header(b"plain text", false).unwrap_err().status, 500);
    }
}
