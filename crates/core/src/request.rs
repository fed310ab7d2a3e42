//! The request check of spec Part A: from what a write request carries (query, the headers
//! that matter, body) plus limits and the clock to a verdict — forward, or reject with the
//! exact status, headers and body InfluxDB OSS v2 would send (plus `line` on parse errors).
//!
//! It checks only what OSS decides from the request itself, in OSS's order: a missing
//! `Authorization` → 401; `precision` → 400; empty `bucket` → 404; the gzip header → 500;
//! neither `org` nor `orgID` → 400; reading the body (gzip errors, size limits); parsing.

use std::borrow::Cow;

use crate::batch::{read_batch, BatchReport, ParseOptions};
use crate::gzip::{self, ReadError};
use crate::json;
use crate::point::Point;
use crate::precision::Precision;
use crate::query::Query;
use crate::DEFAULT_MAX_MESSAGE;

/// Size limits (spec Part A §4). A size equal to or above a limit is rejected with 413.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of the body as received (compressed, if it is).
    pub max_body: usize,
    /// Bytes of the body after decompression (OSS's `MaxBatchSizeBytes`).
    pub max_batch: usize,
    /// Escaped bytes of the joined parse-error message before it is cut short.
    pub max_message: usize,
}

/// The library's, the CLI's and the backend's default limits.
pub const DEFAULT_LIMITS: Limits = Limits {
    max_body: 512 << 20,
    max_batch: 512 << 20,
    max_message: DEFAULT_MAX_MESSAGE,
};

impl Default for Limits {
    fn default() -> Self {
        DEFAULT_LIMITS
    }
}

/// The parts of a `POST /api/v2/write` the check reads.
#[derive(Clone, Copy, Debug, Default)]
pub struct Request<'a> {
    /// The raw query string, without `?`.
    pub query: &'a [u8],
    /// The `Authorization` header, if sent.
    pub authorization: Option<&'a [u8]>,
    /// The `Content-Encoding` header, if sent (compared verbatim: `gzip` and `x-gzip` only).
    pub content_encoding: Option<&'a [u8]>,
    pub body: &'a [u8],
}

/// A rejection: what to answer instead of forwarding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    pub status: u16,
    /// InfluxDB's error code (`invalid`, `not found`, …); also the `X-Platform-Error-Code`.
    pub code: &'static str,
    /// The exact response body.
    pub body: Vec<u8>,
    /// The first rejected line, for parse errors.
    pub line: Option<u64>,
}

impl Rejection {
    fn new(status: u16, code: &'static str, message: &str) -> Rejection {
        Rejection {
            status,
            code,
            body: json::error_body(code, message.as_bytes()),
            line: None,
        }
    }

    /// The response headers InfluxDB sends with every error.
    pub fn headers(&self) -> [(&'static str, &'static str); 2] {
        [
            ("Content-Type", "application/json; charset=utf-8"),
            ("X-Platform-Error-Code", self.code),
        ]
    }

    pub fn unauthorized() -> Rejection {
        Rejection::new(401, "unauthorized", "unauthorized access")
    }
    pub fn invalid_precision() -> Rejection {
        Rejection::new(
            400,
            "invalid",
            "invalid precision; valid precision units are ns, us, ms, and s",
        )
    }
    pub fn bucket_not_found() -> Rejection {
        Rejection::new(404, "not found", "bucket not found")
    }
    pub fn internal() -> Rejection {
        Rejection::new(
            500,
            "internal error",
            "An internal error has occurred - check server logs",
        )
    }
    pub fn missing_org() -> Rejection {
        Rejection::new(400, "invalid", "Please provide either orgID or org")
    }
    pub fn too_large() -> Rejection {
        Rejection::new(
            413,
            "request too large",
            "unable to read data: points batch is too large",
        )
    }
    pub(crate) fn read_error(e: ReadError) -> Rejection {
        let (status, code) = match e {
            ReadError::TooLarge => return Rejection::too_large(),
            ReadError::Checksum | ReadError::InvalidHeader => (400, "invalid"),
            ReadError::UnexpectedEof | ReadError::Corrupt(_) => (500, "internal error"),
        };
        Rejection::new(
            status,
            code,
            &format!("unable to read data: {}", e.go_text()),
        )
    }
    /// The 400 of a batch with rejected lines.
    pub fn parse_errors(report: &BatchReport) -> Option<Rejection> {
        Some(Rejection {
            status: 400,
            code: "invalid",
            body: report.error_body()?,
            line: report.first_error_line(),
        })
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
    Reject(Rejection),
}

/// A request that passed every check before parsing: its precision and its body, decoded.
#[derive(Clone, Debug)]
pub struct Prepared<'a> {
    pub precision: Precision,
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
        read_batch(
            &self.body,
            &ParseOptions::new(self.precision, now),
            max_message,
            on_point,
        )
    }
}

/// Which request-level checks apply. Tools that check a batch rather than a live request
/// answer as the server would for an authorized request naming an existing org and bucket.
#[derive(Clone, Copy, Debug)]
struct Scope {
    live: bool,
}

fn prepare_inner<'a>(
    scope: Scope,
    query: &Query<'_>,
    precision: Option<&[u8]>,
    req: &Request<'a>,
    limits: &Limits,
) -> Result<Prepared<'a>, Rejection> {
    if scope.live && req.authorization.is_none_or(|a| a.trim_ascii().is_empty()) {
        return Err(Rejection::unauthorized());
    }
    let precision = Precision::from_param(precision.unwrap_or_default())
        .ok_or_else(Rejection::invalid_precision)?;
    if scope.live && query.get_or_empty("bucket").is_empty() {
        return Err(Rejection::bucket_not_found());
    }
    let header = check_gzip_header(req.content_encoding, req.body)?;
    if scope.live && query.get_or_empty("org").is_empty() && query.get_or_empty("orgID").is_empty()
    {
        return Err(Rejection::missing_org());
    }
    let body = read_body(req.body, header, limits)?;
    Ok(Prepared { precision, body })
}

/// Whether a `Content-Encoding` value means gzip: exactly `gzip` or `x-gzip`, as OSS compares
/// it (`GZIP`, `identity`, `deflate` … mean the body is read as it is).
pub fn is_gzip(content_encoding: Option<&[u8]>) -> bool {
    matches!(content_encoding, Some(b"gzip" | b"x-gzip"))
}

/// OSS's step 4 on its own (spec Part B §1): when the content encoding is gzip, reads the
/// first member header and gives its length; `Ok(None)` for a body read as it is; the
/// generic 500 for a bad header. Servers that look up orgs and buckets run it before them.
pub fn check_gzip_header(
    content_encoding: Option<&[u8]>,
    body: &[u8],
) -> Result<Option<usize>, Rejection> {
    if is_gzip(content_encoding) {
        gzip::read_header(body)
            .map(Some)
            .map_err(|_| Rejection::internal())
    } else {
        Ok(None)
    }
}

/// OSS's step 8 on its own: the size limits and the gzip stream (`gzip_header` as
/// [`check_gzip_header`] gave it), with OSS's statuses and messages.
pub fn read_body<'a>(
    body: &'a [u8],
    gzip_header: Option<usize>,
    limits: &Limits,
) -> Result<Cow<'a, [u8]>, Rejection> {
    if body.len() >= limits.max_body {
        return Err(Rejection::too_large());
    }
    match gzip_header {
        Some(start) => Ok(Cow::Owned(
            gzip::decompress_members(body, start, limits.max_batch)
                .map_err(Rejection::read_error)?,
        )),
        None if body.len() >= limits.max_batch => Err(Rejection::too_large()),
        None => Ok(Cow::Borrowed(body)),
    }
}

/// Runs every check up to parsing on a live request (spec Part A §3).
pub fn prepare<'a>(req: &Request<'a>, limits: &Limits) -> Result<Prepared<'a>, Rejection> {
    let query = Query::parse(req.query);
    prepare_inner(
        Scope { live: true },
        &query,
        query.get("precision"),
        req,
        limits,
    )
}

/// Runs the checks up to parsing for a batch checked outside a live request (CLI,
/// `validate`): only the precision, the content encoding and the limits apply.
pub fn prepare_batch<'a>(
    precision: Option<&[u8]>,
    content_encoding: Option<&'a [u8]>,
    body: &'a [u8],
    limits: &Limits,
) -> Result<Prepared<'a>, Rejection> {
    let req = Request {
        query: b"",
        authorization: None,
        content_encoding,
        body,
    };
    prepare_inner(
        Scope { live: false },
        &Query::default(),
        precision,
        &req,
        limits,
    )
}

/// The verdict for a parsed batch.
pub fn verdict(report: &BatchReport) -> Verdict {
    match Rejection::parse_errors(report) {
        Some(r) => Verdict::Reject(r),
        None => Verdict::Forward {
            points: report.points,
            lines: report.lines,
        },
    }
}

/// The whole check of a live write request: forward or reject (spec Part A).
pub fn check_request(req: &Request<'_>, limits: &Limits, now: i64) -> Verdict {
    match prepare(req, limits) {
        Ok(p) => verdict(&p.read(now, limits.max_message, |_| {})),
        Err(r) => Verdict::Reject(r),
    }
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
    fn steps_one_by_one() {
        assert!(is_gzip(Some(b"x-gzip")) && !is_gzip(Some(b"GZIP")) && !is_gzip(None));
        assert_eq!(check_gzip_header(Some(b"identity"), b"junk"), Ok(None));
        assert_eq!(
            check_gzip_header(Some(b"gzip"), b"junk")
                .unwrap_err()
                .status,
            500
        );
        let gz = gzip::compress(b"m f=1 1\n");
        let start = check_gzip_header(Some(b"gzip"), &gz).unwrap();
        assert_eq!(start, Some(10));
        let lim = Limits::default();
        assert_eq!(&*read_body(&gz, start, &lim).unwrap(), b"m f=1 1\n");
        assert_eq!(&*read_body(b"m f=1", None, &lim).unwrap(), b"m f=1");
        let small = Limits { max_body: 5, ..lim };
        assert_eq!(read_body(b"m f=1", None, &small).unwrap_err().status, 413);
        let mut bad = gz.clone();
        let k = bad.len() - 8;
        bad[k] ^= 1;
        let r = read_body(&bad, start, &lim).unwrap_err();
        assert_eq!(
            r.body,
            br#"{"code":"invalid","message":"unable to read data: gzip: invalid checksum"}"#
        );
    }
}
