//! The whole request at once (spec Part A), as an edge or a tool holding every byte checks
//! it: the three stages of the pipeline in one call — forward, or reject with the exact
//! status, headers and body InfluxDB OSS v2 would send (plus `line` on parse errors).
//!
//! It checks only what OSS decides from the request itself, in OSS's order: a missing
//! `Authorization` → 401; `precision` → 400; empty `bucket` → 404; the gzip header → 500;
//! neither `org` nor `orgID` → 400; reading the body (gzip errors, size limits); parsing.

use std::borrow::Cow;

use super::{admit, parse_rejection, Batch, Edge, Endpoint, Head, Lookup, TimeRule};
use crate::answers::Rejection;
use crate::batch::BatchReport;
use crate::limits::Limits;
use crate::partial::{split_batch, Split};
use crate::point::Point;
use crate::precision::Precision;
use crate::stream::Checker;

/// The parts of a write request the check reads.
#[derive(Clone, Copy, Debug, Default)]
pub struct Request<'a> {
    /// The raw query string, without `?`.
    pub query: &'a [u8],
    /// The `Authorization` header, if sent.
    pub authorization: Option<&'a [u8]>,
    /// The `Content-Encoding` header, if sent (compared verbatim: `gzip` and `x-gzip` only).
    pub content_encoding: Option<&'a [u8]>,
    /// The body as received.
    pub body: &'a [u8],
}

impl<'a> Request<'a> {
    /// The head of this request at `endpoint`.
    pub fn head(&self, endpoint: Endpoint) -> Head<'a> {
        Head {
            endpoint,
            query: self.query,
            authorization: self.authorization,
            content_encoding: self.content_encoding,
        }
    }
}

/// The outcome of a check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Forward the request unchanged; the counts describe the batch.
    Forward {
        /// Points the batch holds.
        points: u64,
        /// Physical lines of the (decompressed) body.
        lines: u64,
    },
    /// Answer with this instead.
    Reject(Rejection),
}

/// A request that passed every check before parsing: its precision and its body, decoded.
#[derive(Clone, Debug)]
pub struct Prepared<'a> {
    /// The multiplier of given timestamps.
    pub precision: Precision,
    /// The whole time rule (v1 truncates "now" by its own spellings).
    pub time: TimeRule,
    /// The body after gzip decoding (borrowed when it was not compressed).
    pub body: Cow<'a, [u8]>,
}

impl Prepared<'_> {
    /// Parses the body; `on_point` sees each point.
    pub fn read<'s>(
        &'s self,
        now: i64,
        max_message: usize,
        on_point: impl FnMut(&Point<'s>),
    ) -> BatchReport {
        crate::batch::read_batch(&self.body, &self.time.options(now), max_message, on_point)
    }

    /// [`read`](Prepared::read) without points ([`check_batch`](crate::check_batch)): the
    /// same report, the floats validated rather than converted.
    pub fn check(&self, now: i64, max_message: usize) -> BatchReport {
        crate::batch::check_batch(&self.body, &self.time.options(now), max_message)
    }
}

fn prepare_with<'a, L: Lookup>(
    head: &Head<'_>,
    lookup: &mut L,
    body: &'a [u8],
    limits: &Limits,
) -> Result<Prepared<'a>, Rejection> {
    let resolved = admit(head, lookup)?.resolve(body, lookup)?;
    Ok(Prepared {
        precision: resolved.time.precision,
        time: resolved.time,
        body: resolved.decode(body, limits)?,
    })
}

/// Runs every check up to parsing on a live write request at `endpoint`, as an edge does
/// (spec Part A §3).
pub fn prepare<'a>(
    endpoint: Endpoint,
    req: &Request<'a>,
    limits: &Limits,
) -> Result<Prepared<'a>, Rejection> {
    prepare_with(&req.head(endpoint), &mut Edge, req.body, limits)
}

/// Runs the checks up to parsing for a batch checked outside a live request (CLI,
/// `validate`): only the precision, the content encoding and the limits apply.
pub(crate) fn prepare_batch<'a>(
    endpoint: Endpoint,
    precision: Option<&[u8]>,
    content_encoding: Option<&[u8]>,
    body: &'a [u8],
    limits: &Limits,
) -> Result<Prepared<'a>, Rejection> {
    let mut query = Vec::new();
    if let Some(p) = precision {
        query.extend_from_slice(b"precision=");
        query.extend_from_slice(crate::query::encode_value(p).as_bytes());
    }
    let head = Head {
        endpoint,
        query: &query,
        authorization: None,
        content_encoding,
    };
    prepare_with(&head, &mut Batch, body, limits)
}

/// The verdict for a parsed batch.
pub fn verdict(report: &BatchReport) -> Verdict {
    match parse_rejection(report) {
        Some(r) => Verdict::Reject(r),
        None => Verdict::Forward {
            points: report.points,
            lines: report.lines,
        },
    }
}

/// The whole check of a live `/api/v2/write` request: forward or reject (spec Part A).
pub fn check_request(req: &Request<'_>, limits: &Limits, now: i64) -> Verdict {
    check_write(Endpoint::V2, req, limits, now, None).0
}

/// The whole check of a live write at `endpoint` ([`check_request`] for either endpoint),
/// and, given `keep` (a partial write, spec Part D.1), the split of its lines (`None` when
/// the request was rejected before its body was parsed).
///
/// A gzip body is parsed as it inflates ([`Checker`]), never held decoded: the decoded body
/// round trip through memory costs more than the parse gains from one buffer; only the
/// split's accepted lines are kept.
pub fn check_write(
    endpoint: Endpoint,
    req: &Request<'_>,
    limits: &Limits,
    now: i64,
    keep: Option<usize>,
) -> (Verdict, Option<Split>) {
    if super::is_gzip(req.content_encoding) {
        let mut c = Checker::for_request(&req.head(endpoint), limits, now);
        if let Some(keep) = keep {
            c = c.accept_partial(keep);
        }
        c.push(req.body);
        return c.finish_request_split();
    }
    let p = match prepare(endpoint, req, limits) {
        Ok(p) => p,
        Err(r) => return (Verdict::Reject(r), None),
    };
    let Some(keep) = keep else {
        return (verdict(&p.check(now, limits.max_message)), None);
    };
    let opts = p.time.options(now);
    let (report, split) = split_batch(&p.body, &opts, limits.max_message, keep, |_| {});
    (verdict(&report), Some(split))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(query: &str, auth: bool, ce: Option<&str>, body: &[u8]) -> Verdict {
        let req = Request {
            query: query.as_bytes(),
            authorization: auth.then_some(b"Token t".as_slice()),
            content_encoding: ce.map(str::as_bytes),
            body,
        };
        check_request(&req, &Limits::default(), 1_700_000_000_123_456_789)
    }

    fn status(v: &Verdict) -> u16 {
        match v {
            Verdict::Forward { .. } => 204,
            Verdict::Reject(r) => r.status,
        }
    }

    #[test]
    fn order_of_checks() {
        assert_eq!(status(&run("org=o&bucket=b", false, None, b"bad")), 401);
        assert_eq!(status(&run("precision=n", true, None, b"bad")), 400);
        assert_eq!(status(&run("org=o&precision=s", true, None, b"bad")), 404);
        assert_eq!(status(&run("bucket=b", true, Some("gzip"), b"bad")), 500);
        assert_eq!(status(&run("bucket=b", true, None, b"bad")), 400);
        assert_eq!(status(&run("orgID=1&bucket=b", true, None, b"")), 204);
        let v = run("org=o&bucket=b", true, None, b"m f=1\nbad\n");
        let Verdict::Reject(r) = v else { panic!() };
        assert_eq!(
            r.body,
            br#"{"code":"invalid","message":"unable to parse 'bad': missing fields","line":2}"#
        );
    }

    #[test]
    fn body_steps() {
        use crate::gzip;
        use crate::pipeline::{decode_body, is_gzip};
        assert!(is_gzip(Some(b"x-gzip")) && !is_gzip(Some(b"GZIP")) && !is_gzip(None));
        let gz = gzip::compress(b"m f=1 1\n");
        let start = gzip::read_header(&gz).ok();
        assert_eq!(start, Some(10));
        let lim = Limits::default();
        assert_eq!(&*decode_body(&gz, start, &lim).unwrap(), b"m f=1 1\n");
        assert_eq!(&*decode_body(b"m f=1", None, &lim).unwrap(), b"m f=1");
        let small = Limits { max_body: 5, ..lim };
        assert_eq!(decode_body(b"m f=1", None, &small).unwrap_err().status, 413);
        let mut bad = gz.clone();
        let k = bad.len() - 8;
        bad[k] ^= 1;
        let r = decode_body(&bad, start, &lim).unwrap_err();
        assert_eq!(
            r.body,
            br#"{"code":"invalid","message":"unable to read data: gzip: invalid checksum"}"#
        );
    }
}
