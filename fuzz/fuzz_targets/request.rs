//! The whole request check on arbitrary bytes: query string, headers and body (plain or
//! gzip), with small limits so the size checks run too. It must never panic, a rejection
//! must be well-formed JSON of InfluxDB's shape, and reading a body in two halves must give
//! the answer of one pass; a gzip body checked as it inflates gets the answer of
//! the whole inflated body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use linegate_core::pipeline::{prepare, verdict};
use linegate_core::{
    check_request, validate, Endpoint, validate_split, Limits, Request, ValidateOptions, Verdict,
};

fuzz_target!(|data: &[u8]| {
    let (ctl, rest) = match data.split_first() {
        Some((&c, rest)) => (c, rest),
        None => (0, data),
    };
    // The low bits pick the content encoding and the precision; the body follows a query.
    let ce: Option<&[u8]> = match ctl & 3 {
        0 => None,
        1 => Some(b"gzip"),
        2 => Some(b"x-gzip"),
        _ => Some(b"identity"),
    };
    let (query, body) = match rest.iter().position(|&b| b == 0xff) {
        Some(i) if ctl & 4 != 0 => (&rest[..i], &rest[i + 1..]),
        _ => (&b"org=o&bucket=b&precision=ns"[..], rest),
    };
    let limits = Limits {
        max_body: if ctl & 8 != 0 { 64 } else { 1 << 20 },
        max_batch: if ctl & 16 != 0 { 128 } else { 1 << 22 },
        max_message: if ctl & 32 != 0 { 100 } else { 1 << 16 },
    };
    let req = Request {
        query,
        authorization: (ctl & 64 == 0).then_some(&b"Token t"[..]),
        content_encoding: ce,
        body,
    };
    let got = check_request(&req, &limits, 1_700_000_000_123_456_789);
    // A gzip body is checked as it inflates: the same verdict as inflating it whole first.
    let whole = match prepare(Endpoint::V2, &req, &limits) {
        Ok(p) => verdict(&p.check(1_700_000_000_123_456_789, limits.max_message)),
        Err(r) => Verdict::Reject(r),
    };
    assert_eq!(got, whole);
    match got {
        Verdict::Forward { points, lines } => assert!(points <= lines),
        Verdict::Reject(r) => {
            assert!(r.body.starts_with(b"{\"code\":\""));
            assert!(r.body.ends_with(b"}"));
            assert!(std::str::from_utf8(&r.body).is_ok());
            if let Some(n) = r.line {
                assert_eq!(r.status, 400);
                assert!(r.body.ends_with(format!(",\"line\":{n}}}").as_bytes()));
            }
        }
    }
    let opts = ValidateOptions {
        precision: Some(b"s"),
        content_encoding: ce,
        limits,
        warnings: true,
        summary_buckets: Some(8),
        ..ValidateOptions::default()
    };
    let v = validate(body, &opts, |p| {
        let _ = p.series_key();
        for f in p.fields() {
            let _ = f.key();
        }
    });
    assert!(v.diagnostics.len() as u64 <= v.rejected);
    // Read in two halves (as the CLI does on two threads), the answer is the same.
    let plain = ValidateOptions {
        warnings: false,
        summary_buckets: None,
        ..opts
    };
    let whole = validate(body, &plain, |_| {});
    let halves = validate_split(body, &plain, &|a, b| {
        b();
        a();
    });
    assert_eq!((whole.status, &whole.body), (halves.status, &halves.body));
    assert_eq!((whole.points, whole.lines), (halves.points, halves.lines));
    assert_eq!(whole.diagnostics.len(), halves.diagnostics.len());
});
