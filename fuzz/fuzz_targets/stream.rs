//! The incremental checker against the one-shot check on arbitrary bodies and arbitrary
//! chunkings: pushing the body in random pieces gives `validate`'s answer (status, body,
//! `line`, counts, diagnostics, warnings, summary) and the same points, and a live request
//! gives the verdict of the whole inflated body (and `check_request`'s).
#![no_main]

use libfuzzer_sys::fuzz_target;
use linegate_core::pipeline::{prepare, verdict, Verdict};
use linegate_core::{
    check_request, json, validate, Checker, Endpoint, Limits, Point, Request, ValidateOptions,
    Validation,
};

const NOW: i64 = 1_700_000_000_123_456_789;

/// A body refused as a whole (gzip, size) has no points in the one-shot check; the
/// incremental one has shown those of the lines that came before.
fn render(v: &Validation, points: &[u8]) -> String {
    let points = if v.precision.is_some() { points } else { b"" };
    format!("{v:?}\npoints {}", String::from_utf8_lossy(points))
}

fuzz_target!(|data: &[u8]| {
    // Byte 0: options; byte 1: a seed for the chunk sizes; then the body.
    let [ctl, seed, body @ ..] = data else {
        return;
    };
    let ce: Option<&[u8]> = match ctl & 3 {
        0 | 3 => None,
        1 => Some(b"gzip"),
        _ => Some(b"x-gzip"),
    };
    let limits = Limits {
        max_body: if ctl & 4 != 0 { 96 } else { 1 << 20 },
        max_batch: if ctl & 8 != 0 { 160 } else { 1 << 22 },
        max_message: if ctl & 16 != 0 { 120 } else { 1 << 16 },
    };
    let opts = ValidateOptions {
        endpoint: if ctl & 128 != 0 {
            Endpoint::V1
        } else {
            Endpoint::V2
        },
        precision: (ctl & 32 != 0).then_some(&b"ms"[..]),
        content_encoding: ce,
        now: NOW,
        limits,
        warnings: ctl & 64 != 0,
        summary_buckets: (ctl & 64 != 0).then_some(6),
    };
    let mut want_points = Vec::new();
    let want = validate(body, &opts, |p| json::write_point(&mut want_points, p));
    // Chunk sizes from a small generator seeded by byte 1: 1 to 64 bytes, or the rest.
    let mut state = u32::from(*seed) | 0x100;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state
    };
    let mut got_points = Vec::new();
    let mut see = |p: &Point<'_>| json::write_point(&mut got_points, p);
    // Eager: every chunk boundary is one the parser sees (the live run below gathers).
    let mut c = Checker::new(&opts).eager();
    let mut rest = body;
    let mut sizes = Vec::new();
    while !rest.is_empty() {
        let r = next();
        let n = if r % 8 == 0 {
            rest.len()
        } else {
            1 + (r as usize >> 3) % 64
        }
        .min(rest.len());
        sizes.push(n);
        c.push_with(&rest[..n], &mut see);
        rest = &rest[n..];
    }
    let got = c.finish_with(&mut see);
    assert_eq!(
        render(&got, &got_points),
        render(&want, &want_points),
        "chunks {sizes:?}"
    );

    let req = Request {
        query: b"org=o&bucket=b",
        authorization: Some(b"Token t"),
        content_encoding: ce,
        body,
    };
    // The materialising path (inflate whole, then check): `check_request` itself now reads
    // gzip through a `Checker`, so it would not be an independent reference.
    let want = match prepare(Endpoint::V2, &req, &limits) {
        Ok(p) => verdict(&p.check(NOW, limits.max_message)),
        Err(r) => Verdict::Reject(r),
    };
    assert_eq!(check_request(&req, &limits, NOW), want);
    let mut c = Checker::for_request(&req.head(Endpoint::V2), &limits, NOW);
    for ch in body.chunks(sizes.first().copied().unwrap_or(1)) {
        c.push(ch);
    }
    assert_eq!(c.finish_request(), want);
});
