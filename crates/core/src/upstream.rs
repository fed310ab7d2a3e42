//! What linegate forwards to, and each kind's rules: where a v2 write goes, which
//! credentials it carries, which points the upstream cannot store as sent, and how its
//! answers read. Pure; the Worker (through the package) and the backend's relay only send
//! what these functions return.
//!
//! - `influxdb2` (the default): InfluxDB OSS v2, as linegate itself; nothing changes.
//! - `influxdb1`: InfluxDB 1.x. A v2 write goes to `/write?db=&rp=` by the rule InfluxDB 1.8
//!   applies on its own `/api/v2/write` (`bucket` is `db/rp`, or `db` for the default
//!   retention policy); precision as 1.x spells it (`u`, not `us`: 1.6 reads an unknown
//!   spelling as nanoseconds); `Token user:pass` becomes Basic (1.6 knows no `Token`);
//!   unsigned integers are refused (1.x answers `1u` with 400).
//! - `victoriametrics`: a v2 write goes to `/write?db=<bucket>` so the bucket survives as
//!   VictoriaMetrics' `db` label (its `/api/v2/write` drops `org` and `bucket`); points it
//!   would lose or change behind a 204 are refused ([`refuse_point`]: a raw line feed inside
//!   a string, `.5` or `5.`, a time before 1970 or more than two days ahead).

use crate::answers::Rejection;
use crate::delivery;
use crate::pipeline::{credentials, Credentials, Endpoint, Head, Lookup, Scope};
use crate::point::{FieldValue, Point};
use crate::precision::Precision;
use crate::query::{encode_value, Query};

/// The kind of server behind linegate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Kind {
    /// InfluxDB OSS v2 (and linegate-backend): writes go as they came.
    #[default]
    InfluxDb2,
    /// InfluxDB 1.x: `/write?db=&rp=`, Basic credentials, no unsigned values.
    InfluxDb1,
    /// VictoriaMetrics: `/write?db=<bucket>`, no raw line feed inside a string.
    VictoriaMetrics,
}

/// The lookup of an edge in front of an upstream of a given kind:
/// [`Edge`](crate::pipeline::Edge)'s, except that in front of InfluxDB 1.x a v1 write without
/// credentials goes on (the server decides).
#[derive(Clone, Copy, Debug, Default)]
pub struct EdgeFor(pub Kind);

impl Lookup for EdgeFor {
    type Auth = ();
    type Org = ();
    type Bucket = ();
    fn scope(&self) -> Scope {
        Scope::Edge
    }
    fn v1_open(&self) -> bool {
        self.0 == Kind::InfluxDb1
    }
}

impl Kind {
    /// Every kind (the package's TypeScript `UpstreamKind` lists their names).
    pub const ALL: [Kind; 3] = [Kind::InfluxDb2, Kind::InfluxDb1, Kind::VictoriaMetrics];

    /// `influxdb2`, `influxdb1` or `victoriametrics` (as in `BACKEND_KIND` and `--upstream-kind`).
    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "influxdb2" => Some(Kind::InfluxDb2),
            "influxdb1" => Some(Kind::InfluxDb1),
            "victoriametrics" => Some(Kind::VictoriaMetrics),
            _ => None,
        }
    }

    /// The kind's name, as [`Kind::parse`] reads it.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::InfluxDb2 => "influxdb2",
            Kind::InfluxDb1 => "influxdb1",
            Kind::VictoriaMetrics => "victoriametrics",
        }
    }
}

/// A write as the upstream wants it: path with query, and the `Authorization` to send
/// (`None`: send none).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outgoing {
    /// Path and query on the upstream (`/write?db=d&precision=u`).
    pub path: String,
    /// The `Authorization` header to send, if any.
    pub authorization: Option<String>,
}

/// InfluxDB 1.8's `bucket2dbrp`: `db/rp` or `db` (default policy); a leading `/` has no
/// database.
pub fn bucket_to_dbrp(bucket: &str) -> Result<(&str, Option<&str>), Rejection> {
    // Bytes and `get`, not `find` and indexing: no searcher and no char-boundary panic path
    // (with its formatting) in the wasm build.
    let Some(i) = bucket.bytes().position(|b| b == b'/') else {
        return Ok((bucket, None));
    };
    match (bucket.get(..i), bucket.get(i + 1..)) {
        (Some(db), Some(rp)) if !db.is_empty() => Ok((db, (!rp.is_empty()).then_some(rp))),
        _ => {
            let mut m = b"bucket name \"".to_vec();
            m.extend_from_slice(bucket.as_bytes());
            m.extend_from_slice(b"\" is missing a database");
            Err(Rejection::invalid(&m))
        }
    }
}

/// `precision` as InfluxDB 1.x's `/write` reads it (`n`, `u`, `ms`, `s`).
pub fn v1_precision(p: Precision) -> &'static str {
    match p {
        Precision::Ns => "n",
        Precision::Us => "u",
        Precision::Ms => "ms",
        Precision::S => "s",
    }
}

/// The `Authorization` for a 1.x-style upstream from a v2 token: `user:pass` becomes Basic;
/// a token without a colon names no 1.x user, so none is sent (a server with auth off takes
/// the write; one with auth on answers 401 itself).
pub fn basic_from_token(token: &[u8]) -> Option<String> {
    token.contains(&b':').then_some(())?;
    Some(format!("Basic {}", base64(token)))
}

/// Where a v2 write (`org`, `bucket`, `precision`, the token after `Token `) goes.
pub fn v2_write(
    kind: Kind,
    org: &str,
    bucket: &str,
    precision: Precision,
    token: Option<&[u8]>,
) -> Result<Outgoing, Rejection> {
    match kind {
        Kind::InfluxDb2 => Ok(Outgoing {
            path: format!(
                "/api/v2/write?org={}&bucket={}&precision={}",
                encode_value(org.as_bytes()),
                encode_value(bucket.as_bytes()),
                precision.as_str()
            ),
            authorization: token.map(|t| format!("Token {}", String::from_utf8_lossy(t))),
        }),
        Kind::InfluxDb1 => {
            let (db, rp) = bucket_to_dbrp(bucket)?;
            let mut path = format!("/write?db={}", encode_value(db.as_bytes()));
            if let Some(rp) = rp {
                path.push_str("&rp=");
                path.push_str(&encode_value(rp.as_bytes()));
            }
            path.push_str("&precision=");
            path.push_str(v1_precision(precision));
            Ok(Outgoing {
                path,
                authorization: token.and_then(basic_from_token),
            })
        }
        Kind::VictoriaMetrics => Ok(Outgoing {
            path: format!(
                "/write?db={}&precision={}",
                encode_value(bucket.as_bytes()),
                v1_precision(precision)
            ),
            authorization: token.map(|t| match basic_from_token(t) {
                Some(b) => b,
                None => format!("Bearer {}", String::from_utf8_lossy(t)),
            }),
        }),
    }
}

/// Where a v2 write request an edge checked (its raw query and `Authorization`) goes on an
/// upstream of `kind`: `None` when it goes unchanged (`influxdb2`).
pub fn v2_request(
    kind: Kind,
    query: &[u8],
    authorization: Option<&[u8]>,
) -> Result<Option<Outgoing>, Rejection> {
    if kind == Kind::InfluxDb2 {
        return Ok(None);
    }
    let q = Query::parse(query);
    let head = Head {
        endpoint: Endpoint::V2,
        query,
        authorization,
        content_encoding: None,
    };
    let token = match credentials(&head, &q) {
        Some(Credentials::Token(t)) => Some(t),
        _ => None,
    };
    let precision = Precision::from_param(q.get_or_empty("precision")).unwrap_or_default();
    let text = |k| String::from_utf8_lossy(q.get_or_empty(k)).into_owned();
    v2_write(kind, &text("org"), &text("bucket"), precision, token).map(Some)
}

/// VictoriaMetrics drops points more than this far ahead of its clock (ns; 2 days).
pub const VM_MAX_AHEAD_NS: i64 = 2 * 86_400 * 1_000_000_000;

/// Why the upstream cannot store this point as sent (a 400 `invalid` naming the line),
/// or `None`. `now` is the edge's clock (ns).
///
/// VictoriaMetrics (1.79.5, tried) answers 204 and loses or changes, without a word: a
/// string holding a raw line feed (split into two bad lines); a float written with a
/// leading or trailing dot (`.5`, `-.5`, `5.`: stored as 0); a time before
/// 1970-01-01T00:00:00.001Z (0 becomes the time of arrival, earlier ones are dropped); a
/// time more than two days ahead (dropped).
pub fn refuse_point(kind: Kind, p: &Point<'_>, now: i64) -> Option<Rejection> {
    let bad = |what: &[u8], why: &str| {
        let mut m = format!("line {}: ", p.line()).into_bytes();
        m.extend_from_slice(what);
        m.push(b' ');
        m.extend_from_slice(why.as_bytes());
        let mut r = Rejection::invalid(&m);
        r.line = Some(p.line());
        Some(r)
    };
    let field = |f: &crate::point::Field<'_>| {
        let mut w = b"field \"".to_vec();
        w.extend_from_slice(&f.key());
        w.push(b'"');
        w
    };
    for f in p.fields() {
        match (kind, f.value()) {
            (Kind::InfluxDb1, FieldValue::Unsigned(_)) => {
                return bad(
                    &field(f),
                    "is an unsigned integer, which InfluxDB 1.x cannot store",
                )
            }
            (Kind::VictoriaMetrics, FieldValue::String(s)) if s.raw().contains(&b'\n') => {
                return bad(
                    &field(f),
                    "holds a line feed, which VictoriaMetrics would split and lose",
                )
            }
            (Kind::VictoriaMetrics, FieldValue::Float(_)) if vm_loses_float(f.raw_value()) => {
                return bad(
                    &field(f),
                    "has a number with a leading or trailing dot, which VictoriaMetrics would store as 0",
                )
            }
            _ => {}
        }
    }
    if kind == Kind::VictoriaMetrics {
        if p.time() < 1_000_000 {
            return bad(
                b"time",
                "is before 1970-01-01T00:00:00.001Z, which VictoriaMetrics would drop (or move to the time of arrival)",
            );
        }
        if p.time() > now.saturating_add(VM_MAX_AHEAD_NS) {
            return bad(
                b"time",
                "is more than 2 days ahead, which VictoriaMetrics would drop",
            );
        }
    }
    None
}

/// Whether VictoriaMetrics reads this float as 0: a mantissa that starts or ends with a
/// dot (`.5`, `-.5`, `.5e1`, `5.`; `1.e3` it reads right).
fn vm_loses_float(raw: &[u8]) -> bool {
    let m = raw.strip_prefix(b"-").unwrap_or(raw);
    m.first() == Some(&b'.') || m.last() == Some(&b'.')
}

/// How an upstream's answer to a write reads, beside its status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reading {
    /// Stored (2xx).
    Stored,
    /// Part was stored and `dropped` points were refused (1.x `400 partial write: …
    /// dropped=N`): sending it again stores nothing more.
    Partial {
        /// Points the upstream dropped, as it said (0 when it did not say).
        dropped: u64,
    },
    /// Will never succeed as sent (1.x `500 … retention policy not found`, `database not
    /// found`): a dead letter at once, not a retry.
    Permanent,
    /// Nothing special: classify by status.
    ByStatus,
}

/// Reads an upstream's answer to a write by its kind's conventions.
pub fn read_answer(kind: Kind, status: u16, body: &[u8]) -> Reading {
    if (200..300).contains(&status) {
        return Reading::Stored;
    }
    if kind != Kind::InfluxDb1 {
        return Reading::ByStatus;
    }
    let text = String::from_utf8_lossy(body);
    if status == 400 && text.contains("partial write") {
        let dropped = text
            .split("dropped=")
            .nth(1)
            .map(|s| s.bytes().take_while(u8::is_ascii_digit).collect::<Vec<_>>())
            .and_then(|d| std::str::from_utf8(&d).ok()?.parse().ok())
            .unwrap_or(0);
        return Reading::Partial { dropped };
    }
    if status == 500
        && (text.contains("retention policy not found") || text.contains("database not found"))
    {
        return Reading::Permanent;
    }
    if status == 404 && text.contains("database not found") {
        return Reading::Permanent;
    }
    Reading::ByStatus
}

/// The delivery decision for an upstream of `kind`: its own reading of the answer first
/// ([`read_answer`]: a 1.x partial write or permanent error is a dead letter at once, as
/// retrying cannot change it), then core's one delivery policy
/// ([`delivery::classify`](crate::delivery::classify)). `body` is the answer's body.
#[allow(clippy::too_many_arguments)]
pub fn decide(
    kind: Kind,
    answer: &delivery::Answer<'_>,
    body: &[u8],
    batch: &delivery::Batch<'_>,
    history: &delivery::History,
    now_ms: u64,
    random01: f64,
    policy: &delivery::Policy,
) -> delivery::Decision {
    if let delivery::Answer::Status { status, .. } = *answer {
        if let Reading::Partial { .. } | Reading::Permanent = read_answer(kind, status, body) {
            return delivery::Decision::DeadLetter {
                reason: delivery::DeadReason::Refused,
            };
        }
    }
    delivery::classify(answer, batch, history, now_ms, random01, policy)
}

/// Standard base64 with padding (RFC 4648), for Basic credentials.
pub fn base64(input: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::with_capacity(input.len().div_ceil(3) * 4);
    for c in input.chunks(3) {
        let n = c
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | (b as u32) << (16 - 8 * i));
        for i in 0..4 {
            out.push(if i <= c.len() {
                A[(n >> (18 - 6 * i) & 63) as usize]
            } else {
                b'='
            });
        }
    }
    // Only ASCII was pushed.
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{read_batch, ParseOptions};

    #[test]
    fn all_lists_every_kind_once() {
        for (i, k) in Kind::ALL.into_iter().enumerate() {
            // A new variant stops this compiling until ALL (and this) lists it.
            let at = match k {
                Kind::InfluxDb2 => 0,
                Kind::InfluxDb1 => 1,
                Kind::VictoriaMetrics => 2,
            };
            assert_eq!((at, Kind::parse(k.as_str())), (i, Some(k)));
        }
    }

    #[test]
    fn kinds_parse_and_print() {
        for k in [Kind::InfluxDb2, Kind::InfluxDb1, Kind::VictoriaMetrics] {
            assert_eq!(Kind::parse(k.as_str()), Some(k));
        }
        assert_eq!(Kind::parse("influxdb"), None);
    }

    #[test]
    fn bucket_maps_like_influxdb_1_8() {
        assert_eq!(bucket_to_dbrp("db").unwrap(), ("db", None));
        assert_eq!(bucket_to_dbrp("db/rp").unwrap(), ("db", Some("rp")));
        assert_eq!(bucket_to_dbrp("db/").unwrap(), ("db", None));
        assert_eq!(bucket_to_dbrp("db/r/p").unwrap(), ("db", Some("r/p")));
        let r = bucket_to_dbrp("/rp").unwrap_err();
        assert_eq!(r.status, 400);
        assert_eq!(
            String::from_utf8(r.body).unwrap(),
            r#"{"code":"invalid","message":"bucket name \"/rp\" is missing a database"}"#
        );
    }

    #[test]
    fn v2_writes_per_kind() {
        let o = v2_write(
            Kind::InfluxDb1,
            "o",
            "my db/one",
            Precision::Us,
            Some(b"u:p"),
        )
        .unwrap();
        assert_eq!(o.path, "/write?db=my%20db&rp=one&precision=u");
        assert_eq!(o.authorization.as_deref(), Some("Basic dTpw"));
        let o = v2_write(Kind::InfluxDb1, "o", "db", Precision::Ns, Some(b"tok")).unwrap();
        assert_eq!(o.path, "/write?db=db&precision=n");
        assert_eq!(o.authorization, None);
        let o = v2_write(Kind::VictoriaMetrics, "o", "b", Precision::Ms, Some(b"t")).unwrap();
        assert_eq!(o.path, "/write?db=b&precision=ms");
        assert_eq!(o.authorization.as_deref(), Some("Bearer t"));
        let o = v2_write(Kind::InfluxDb2, "o&", "b", Precision::S, Some(b"t")).unwrap();
        assert_eq!(o.path, "/api/v2/write?org=o%26&bucket=b&precision=s");
        assert_eq!(o.authorization.as_deref(), Some("Token t"));
    }

    #[test]
    fn an_edges_v2_request() {
        let q = b"org=o&bucket=d%2Frp&precision=us";
        assert_eq!(v2_request(Kind::InfluxDb2, q, Some(b"Token t")), Ok(None));
        let o = v2_request(Kind::InfluxDb1, q, Some(b"Token a:b"))
            .unwrap()
            .unwrap();
        assert_eq!(o.path, "/write?db=d&rp=rp&precision=u");
        assert_eq!(o.authorization.as_deref(), Some("Basic YTpi"));
        let o = v2_request(Kind::VictoriaMetrics, b"org=o&bucket=b", Some(b"Bearer x"))
            .unwrap()
            .unwrap();
        assert_eq!(o.path, "/write?db=b&precision=n");
        assert_eq!(o.authorization.as_deref(), Some("Bearer x"));
    }

    const NOW: i64 = 1_796_642_004_000_000_000;

    fn refusals(kind: Kind, body: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        let r = read_batch(body, &ParseOptions::new(Precision::Ns, NOW), 1 << 20, |p| {
            if let Some(r) = refuse_point(kind, p, NOW) {
                out.push(String::from_utf8(r.body).unwrap());
            }
        });
        assert!(r.is_ok());
        out
    }

    #[test]
    fn points_each_kind_cannot_store() {
        let body = b"m a=1u\nm s=\"x\ny\"\nm b=2i\n";
        assert_eq!(refusals(Kind::InfluxDb2, body), Vec::<String>::new());
        assert_eq!(
            refusals(Kind::InfluxDb1, body),
            [
                r#"{"code":"invalid","message":"line 1: field \"a\" is an unsigned integer, which InfluxDB 1.x cannot store"}"#
            ]
        );
        assert_eq!(
            refusals(Kind::VictoriaMetrics, body),
            [
                r#"{"code":"invalid","message":"line 2: field \"s\" holds a line feed, which VictoriaMetrics would split and lose"}"#
            ]
        );
    }

    #[test]
    fn what_victoriametrics_would_lose() {
        let vm = |body: &str| refusals(Kind::VictoriaMetrics, body.as_bytes());
        // Read right by VictoriaMetrics 1.79.5: kept.
        let fine = format!(
            "m a=1.e3,b=1.5,c=-0.5,d=1E+3,e=1i,f=t,s=\"\",g=0.5 {NOW}\nm a=1 1000000\nm a=1 {}\nm a=1\n",
            NOW + VM_MAX_AHEAD_NS
        );
        assert_eq!(vm(&fine), Vec::<String>::new());
        for (line, why) in [
            (
                "m x=.5",
                r#"field \"x\" has a number with a leading or trailing dot"#,
            ),
            ("m x=-.5", r#"field \"x\" has a number"#),
            ("m x=.5e1", r#"field \"x\" has a number"#),
            ("m a=1,x=5.", r#"field \"x\" has a number"#),
            ("m x=-1.", r#"field \"x\" has a number"#),
        ] {
            let got = vm(&format!("{line} {NOW}\n"));
            assert_eq!(got.len(), 1, "{line}");
            assert!(got[0].contains(why), "{line}: {got:?}");
        }
        for t in ["0".to_string(), "-1000".into(), "999999".into()] {
            let got = vm(&format!("m x=1 {t}\n"));
            assert_eq!(
                got,
                [
                    r#"{"code":"invalid","message":"line 1: time is before 1970-01-01T00:00:00.001Z, which VictoriaMetrics would drop (or move to the time of arrival)"}"#
                ],
                "{t}"
            );
        }
        let got = vm(&format!("m x=1 {}\n", NOW + VM_MAX_AHEAD_NS + 1));
        assert_eq!(
            got,
            [
                r#"{"code":"invalid","message":"line 1: time is more than 2 days ahead, which VictoriaMetrics would drop"}"#
            ]
        );
        // Other kinds store all of these.
        let all = format!(
            "m x=.5,y=5. 0\nm x=1 -1\nm x=1 {}\n",
            NOW + 4 * VM_MAX_AHEAD_NS
        );
        assert!(refusals(Kind::InfluxDb1, all.as_bytes()).is_empty());
        assert!(refusals(Kind::InfluxDb2, all.as_bytes()).is_empty());
    }

    #[test]
    fn an_edge_in_front_of_each_kind() {
        use crate::{Checker, Limits, Verdict};
        let check = |kind, auth: Option<&[u8]>, body: &[u8]| {
            let head = Head {
                endpoint: Endpoint::V1,
                query: b"db=d",
                authorization: auth,
                content_encoding: None,
            };
            let mut c = Checker::for_request_to(&head, &Limits::default(), 0, kind);
            c.push(body);
            match c.finish_request() {
                Verdict::Forward { points, .. } => Ok(points),
                Verdict::Reject(r) => Err((r.status, r.line)),
            }
        };
        // InfluxDB 1.x decides about a v1 write without credentials; OSS v2 needs them.
        assert_eq!(check(Kind::InfluxDb1, None, b"m a=1 1\n"), Ok(1));
        assert_eq!(check(Kind::InfluxDb2, None, b"m a=1 1\n"), Err((401, None)));
        assert_eq!(
            check(Kind::VictoriaMetrics, None, b"m a=1 1\n"),
            Err((401, None))
        );
        // What the upstream cannot store is refused, after the body's own errors.
        let tok = Some(&b"Token t"[..]);
        assert_eq!(
            check(Kind::InfluxDb1, tok, b"m a=1 1\nm a=2u 2\n"),
            Err((400, Some(2)))
        );
        assert_eq!(check(Kind::InfluxDb2, tok, b"m a=1 1\nm a=2u 2\n"), Ok(2));
        assert_eq!(
            check(Kind::InfluxDb1, tok, b"m a=2u 2\nbad\n"),
            Err((400, Some(2)))
        );
        assert_eq!(
            check(Kind::VictoriaMetrics, tok, b"m s=\"a\nb\" 1\n"),
            Err((400, Some(1)))
        );
    }

    #[test]
    fn a_partial_write_holding_a_refused_point_is_refused_whole() {
        use crate::{Checker, Limits, Verdict};
        let head = Head {
            endpoint: Endpoint::V2,
            query: b"org=o&bucket=b",
            authorization: Some(b"Token t"),
            content_encoding: None,
        };
        let split = |kind, body: &[u8]| {
            let mut c =
                Checker::for_request_to(&head, &Limits::default(), 0, kind).accept_partial(1000);
            c.push(body);
            c.finish_request_split()
        };
        // A line that does not parse and an accepted line VictoriaMetrics would store as 0:
        // nothing goes (the accepted lines would carry the loss behind a 2xx).
        let (v, s) = split(
            Kind::VictoriaMetrics,
            b"m a=1 1000000000\nbad\nm x=.5 1000000000\n",
        );
        assert!(s.is_none());
        let Verdict::Reject(r) = v else {
            panic!("forwarded")
        };
        assert_eq!((r.status, r.line), (400, Some(3)));
        // The same body in front of InfluxDB 2 is an ordinary partial write.
        let (_, s) = split(
            Kind::InfluxDb2,
            b"m a=1 1000000000\nbad\nm x=.5 1000000000\n",
        );
        let s = s.expect("split");
        assert_eq!((s.accepted, s.rejected), (2, 1));
    }

    #[test]
    fn influxdb1_answers() {
        let k = Kind::InfluxDb1;
        assert_eq!(read_answer(k, 204, b""), Reading::Stored);
        assert_eq!(
            read_answer(
                k,
                400,
                br#"{"error":"partial write: field type conflict: input field \"v\" on measurement \"m\" is type string, already exists as type float dropped=3"}"#
            ),
            Reading::Partial { dropped: 3 }
        );
        assert_eq!(
            read_answer(k, 500, br#"{"error":"retention policy not found: nope"}"#),
            Reading::Permanent
        );
        assert_eq!(
            read_answer(k, 404, br#"{"error":"database not found: \"x\""}"#),
            Reading::Permanent
        );
        assert_eq!(
            read_answer(k, 500, b"{\"error\":\"timeout\"}"),
            Reading::ByStatus
        );
        assert_eq!(
            read_answer(Kind::InfluxDb2, 400, b"partial write dropped=1"),
            Reading::ByStatus
        );
    }

    #[test]
    fn decisions_read_the_kind_first() {
        use delivery::{Answer, Batch, DeadReason, Decision, History, Policy};
        let batch = Batch {
            body: b"m f=1 1\n",
            content_encoding: None,
        };
        let d = |kind, status, body: &[u8]| {
            let a = Answer::Status {
                status,
                retry_after: None,
            };
            decide(
                kind,
                &a,
                body,
                &batch,
                &History::default(),
                0,
                0.5,
                &Policy::default(),
            )
        };
        let refused = Decision::DeadLetter {
            reason: DeadReason::Refused,
        };
        let rp = br#"{"error":"retention policy not found: x"}"#;
        assert_eq!(d(Kind::InfluxDb1, 500, rp), refused);
        assert!(matches!(
            d(Kind::InfluxDb2, 500, rp),
            Decision::Retry { .. }
        ));
        assert_eq!(
            d(Kind::InfluxDb1, 400, b"partial write: x dropped=2"),
            refused
        );
        assert_eq!(d(Kind::InfluxDb1, 204, b""), Decision::Delivered);
        assert!(matches!(
            d(Kind::InfluxDb1, 503, b"{}"),
            Decision::Retry { .. }
        ));
    }

    #[test]
    fn base64_pads() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"user:pass"), "dXNlcjpwYXNz");
    }
}
