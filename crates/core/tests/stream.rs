//! The incremental checker against the one-shot check: for every split of every corpus body
//! (and random bodies, random chunkings, gzip members cut anywhere), `Checker` gives the
//! answer of `validate` (batch) and of `check_request` (live request) byte for byte, with
//! the same points in the same order.

use linegate_core::pipeline::{prepare, verdict};
use linegate_core::{
    gzip, json, validate, Checker, Endpoint, Limits, Point, Request, ValidateOptions, Verdict,
};
use linegate_corpus::{self as corpus, NOW};
use proptest::prelude::*;

/// Everything a door can see of a batch check, as text: the verdict, the counts, the
/// diagnostics, warnings and summary, and the points in order.
fn one_shot(body: &[u8], opts: &ValidateOptions<'_>) -> String {
    let mut points = Vec::new();
    let v = validate(body, opts, |p| json::write_point(&mut points, p));
    render(&v, &points)
}

/// A body refused as a whole (gzip, size: no precision in the answer) has no points in the
/// one-shot check; the incremental one has shown those of the lines that came before.
fn render(v: &linegate_core::Validation, points: &[u8]) -> String {
    let points = if v.precision.is_some() { points } else { b"" };
    format!("{v:?}\npoints {}", String::from_utf8_lossy(points))
}

/// Pushes `chunks` into a `Checker` that parses each as it comes (`eager`: every boundary
/// is a boundary the parser sees) and, for the same answer, into one that gathers 32 KiB.
fn incremental(chunks: &[&[u8]], opts: &ValidateOptions<'_>) -> String {
    let eager = incremental_with(chunks, opts, true);
    assert_eq!(
        eager,
        incremental_with(chunks, opts, false),
        "gathering changed the answer"
    );
    eager
}

fn incremental_with(chunks: &[&[u8]], opts: &ValidateOptions<'_>, eager: bool) -> String {
    let mut points = Vec::new();
    let mut c = Checker::new(opts);
    if eager {
        c = c.eager();
    }
    let mut see = |p: &Point<'_>| json::write_point(&mut points, p);
    for ch in chunks {
        c.push_with(ch, &mut see);
    }
    let v = c.finish_with(&mut see);
    render(&v, &points)
}

/// Chunk boundaries: every two-piece split of small bodies, a spread of them for large ones
/// (`dense` = false: a spread for every body, for the larger v1 corpus).
fn splits(len: usize, dense: bool) -> Vec<usize> {
    if dense && len <= 1500 {
        (0..=len).collect()
    } else {
        let n = if dense { 64 } else { 12 };
        (0..=n)
            .map(|k| k * len / n)
            .chain([1, 2, len.saturating_sub(1)])
            .filter(|&k| k <= len)
            .collect()
    }
}

/// The one-shot verdict of a live request at either endpoint (`check_request` for v2).
fn live_one_shot(endpoint: Endpoint, req: &Request<'_>, limits: &Limits) -> Verdict {
    match prepare(endpoint, req, limits) {
        Ok(p) => verdict(&p.read(NOW, limits.max_message, |_| {})),
        Err(r) => Verdict::Reject(r),
    }
}

fn opts_for<'a>(case: &'a corpus::Case, full: bool) -> ValidateOptions<'a> {
    let mut limits = Limits::default();
    if let Some(n) = case.max_batch {
        limits.max_batch = n;
    }
    ValidateOptions {
        endpoint: case.endpoint,
        precision: case.precision.as_deref().map(str::as_bytes),
        content_encoding: case.content_encoding.as_deref().map(str::as_bytes),
        now: NOW,
        limits,
        warnings: full,
        summary_buckets: full.then_some(7),
    }
}

#[test]
fn every_split_of_every_corpus_body() {
    let Some(dir) = corpus::corpus_dir("every_split_of_every_corpus_body") else {
        return;
    };
    let mut checked = 0usize;
    for (cases, dense) in [(corpus::load(&dir), true), (corpus::load_v1(&dir), false)] {
        for case in &cases {
            checked += check_case(case, dense);
        }
    }
    assert!(checked > 20_000, "only {checked} splits checked");
}

fn check_case(case: &corpus::Case, dense: bool) -> usize {
    let body = &case.body;
    let mut checked = 0;
    for full in [false, true] {
        let opts = opts_for(case, full);
        let want = one_shot(body, &opts);
        for k in splits(body.len(), dense) {
            let got = incremental(&[&body[..k], &body[k..]], &opts);
            assert_eq!(got, want, "[{}] {} split at {k}", case.run, case.file);
            checked += 1;
        }
        if dense && body.len() <= 600 {
            let bytes: Vec<&[u8]> = body.chunks(1).collect();
            let got = incremental(&bytes, &opts);
            assert_eq!(got, want, "[{}] {} byte by byte", case.run, case.file);
        }
    }
    // The live request: the same verdict as the one-shot request check.
    let query = case.query();
    let req = Request {
        query: query.as_bytes(),
        authorization: Some(b"Token t"),
        content_encoding: case.content_encoding.as_deref().map(str::as_bytes),
        body,
    };
    let limits = opts_for(case, false).limits;
    let want = live_one_shot(case.endpoint, &req, &limits);
    let sizes: &[usize] = if dense {
        &[1, 3, 64, 1 << 16]
    } else {
        &[7, 1 << 16]
    };
    for &size in sizes {
        let mut c = Checker::for_request(&req.head(case.endpoint), &limits, NOW).eager();
        for ch in body.chunks(size) {
            c.push(ch);
        }
        assert_eq!(
            c.finish_request(),
            want,
            "[{}] {} live",
            case.run,
            case.file
        );
    }
    checked
}

fn live(query: &str, auth: bool, ce: Option<&str>) -> Checker {
    let req = Request {
        query: query.as_bytes(),
        authorization: auth.then_some(&b"Token t"[..]),
        content_encoding: ce.map(str::as_bytes),
        body: b"",
    };
    Checker::for_request(&req.head(Endpoint::V2), &Limits::default(), 0)
}

#[test]
fn live_requests_refused_before_the_body() {
    let status = |c: &Checker| c.decided().map(|r| r.status);
    assert_eq!(status(&live("org=o&bucket=b", false, None)), Some(401));
    assert_eq!(
        status(&live("org=o&bucket=b&precision=h", true, None)),
        Some(400)
    );
    assert_eq!(status(&live("org=o", true, None)), Some(404));
    assert_eq!(status(&live("bucket=b", true, None)), Some(400));
    // With gzip, the header is read before the org is missed: a bad header is 500 first.
    let mut c = live("bucket=b", true, Some("gzip"));
    assert_eq!(status(&c), None);
    c.push(b"not gzip at all");
    assert_eq!(status(&c), Some(500));
    let mut c = live("bucket=b", true, Some("gzip"));
    c.push(&gzip::compress(b"m f=1 1\n"));
    assert_eq!(status(&c), Some(400));
}

#[test]
fn size_limits_decide_as_soon_as_reached() {
    let lim = Limits {
        max_body: 100,
        ..Limits::default()
    };
    let opts = ValidateOptions {
        limits: lim,
        ..ValidateOptions::default()
    };
    let mut c = Checker::new(&opts);
    c.push(&[b'x'; 99]);
    assert!(c.decided().is_none());
    c.push(b"y");
    assert_eq!(c.decided().map(|r| r.status), Some(413));
    // A gzip error is not final: reaching max_body afterwards makes it 413, as one-shot.
    let gz = gzip::compress(b"m f=1 1\n");
    let mut bad = gz[..gz.len() - 3].to_vec();
    let gzip_opts = ValidateOptions {
        content_encoding: Some(b"gzip"),
        ..opts
    };
    bad.extend_from_slice(&[0; 200]);
    let want = validate(&bad, &gzip_opts, |_| {});
    let mut c = Checker::new(&gzip_opts);
    for ch in bad.chunks(7) {
        c.push(ch);
    }
    let got = c.finish();
    assert_eq!((got.status, got.body), (want.status, want.body));
    assert_eq!(want.status, 413);
}

/// Bytes that make line protocol interesting at chunk boundaries: escapes, quotes, LFs,
/// CRs, comments, whitespace, and numbers.
fn piece() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => Just(b"m,t=a f=1i 1\n".to_vec()),
        2 => Just(b"cpu,host=x\\ y usage=0.5,s=\"a\\\"b\" 17\n".to_vec()),
        1 => Just(b"\\".to_vec()),
        1 => Just(b"\\\\".to_vec()),
        2 => Just(b"\"".to_vec()),
        3 => Just(b"\n".to_vec()),
        1 => Just(b"\r\n".to_vec()),
        1 => Just(b"# c\n".to_vec()),
        1 => Just(b" \t".to_vec()),
        1 => Just(b"=".to_vec()),
        1 => Just(b",".to_vec()),
        1 => Just(b" ".to_vec()),
        2 => "[a-z0-9.e+-]{1,6}".prop_map(String::into_bytes),
        1 => Just(b"m s=\"multi\nline\" 3\n".to_vec()),
        1 => prop::collection::vec(any::<u8>(), 1..4),
    ]
}

fn random_body() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(piece(), 0..40).prop_map(|v| v.concat())
}

fn cuts(len: usize, raw: &[usize]) -> Vec<usize> {
    let mut c: Vec<usize> = raw.iter().map(|&r| r % (len + 1)).collect();
    c.sort_unstable();
    c
}

fn chunked<'b>(body: &'b [u8], cuts: &[usize]) -> Vec<&'b [u8]> {
    let mut out = Vec::new();
    let mut at = 0;
    for &c in cuts {
        out.push(&body[at..c]);
        at = c;
    }
    out.push(&body[at..]);
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn random_bodies_any_chunks(
        body in random_body(),
        raw in prop::collection::vec(any::<usize>(), 0..12),
        max_message in prop_oneof![Just(1usize << 20), 20usize..400],
        precision in prop_oneof![Just(None), Just(Some(&b"s"[..])), Just(Some(&b"x"[..])), Just(Some(&b"h"[..]))],
        v1 in any::<bool>(),
    ) {
        let opts = ValidateOptions {
            endpoint: if v1 { Endpoint::V1 } else { Endpoint::V2 },
            precision,
            now: NOW,
            limits: Limits { max_message, ..Limits::default() },
            warnings: true,
            summary_buckets: Some(5),
            ..ValidateOptions::default()
        };
        let want = one_shot(&body, &opts);
        let got = incremental(&chunked(&body, &cuts(body.len(), &raw)), &opts);
        prop_assert_eq!(got, want);
    }

    #[test]
    fn random_gzip_bodies_any_chunks(
        parts in prop::collection::vec(random_body(), 1..4),
        raw in prop::collection::vec(any::<usize>(), 0..12),
        damage in prop::option::of((any::<usize>(), any::<u8>())),
        cut in prop::option::of(any::<usize>()),
        trailing in prop::collection::vec(any::<u8>(), 0..14),
        max_batch in prop_oneof![Just(512usize << 20), 1usize..300],
    ) {
        // Members concatenated, then damaged, cut or followed by junk: every Go error.
        let mut body: Vec<u8> = parts.iter().flat_map(|p| gzip::compress(p)).collect();
        if let Some((at, x)) = damage {
            let i = at % body.len();
            body[i] ^= x | 1;
        }
        if let Some(c) = cut {
            body.truncate(c % (body.len() + 1));
        }
        body.extend_from_slice(&trailing);
        let opts = ValidateOptions {
            content_encoding: Some(b"gzip"),
            now: NOW,
            limits: Limits { max_batch, ..Limits::default() },
            ..ValidateOptions::default()
        };
        let want = one_shot(&body, &opts);
        let got = incremental(&chunked(&body, &cuts(body.len(), &raw)), &opts);
        prop_assert_eq!(got, want);
    }
}

/// Long logical lines across many chunks (a stray quote swallows the rest): same answer, and
/// the time stays linear (the paused scan resumes instead of starting over).
#[test]
fn a_stray_quote_across_many_chunks() {
    let mut body = b"m f=\"open\n".to_vec();
    for i in 0..50_000 {
        body.extend_from_slice(format!("m,host=h{i} f={i} {i}\n").as_bytes());
    }
    let opts = ValidateOptions::default();
    let want = one_shot(&body, &opts);
    let t = std::time::Instant::now();
    let chunks: Vec<&[u8]> = body.chunks(100).collect();
    let got = incremental(&chunks, &opts);
    assert_eq!(got, want);
    // Quadratic rescanning would take minutes here (13,000 chunks of a 1.3 MB line).
    assert!(t.elapsed().as_secs() < 20, "{:?}", t.elapsed());
}

/// A server with one token "w" that may write bucket "b" of org "o".
struct Server;

impl linegate_core::pipeline::Lookup for Server {
    type Auth = ();
    type Org = ();
    type Bucket = ();
    fn token(&mut self, secret: &[u8]) -> Option<()> {
        (secret == b"w").then_some(())
    }
    fn org_by_name(&mut self, name: &[u8]) -> Option<()> {
        (name == b"o").then_some(())
    }
    fn bucket_by_name(&mut self, _org: &(), name: &[u8]) -> Option<()> {
        (name == b"b").then_some(())
    }
    fn can_write(&mut self, _auth: &(), _bucket: &()) -> bool {
        true
    }
}

/// A server runs steps 1–7 itself (with its lookups), then streams the body through
/// `Checker::for_resolved`: the answer of the server's one-shot read, for any chunks.
#[test]
fn a_server_streams_the_body_after_its_lookups() {
    use linegate_core::pipeline::{admit, Prefix};
    let limits = Limits::default();
    let bodies: Vec<(Option<&[u8]>, Vec<u8>)> = vec![
        (None, b"m f=1 1\nm f=oops 2\nm f=3 3\n".to_vec()),
        (Some(b"gzip"), gzip::compress(b"m,t=a f=1i 1\nm f=2 2\n")),
        (Some(b"gzip"), {
            let mut g = gzip::compress(b"m f=1 1\n");
            g.truncate(g.len() - 3);
            g
        }),
    ];
    for (ce, body) in bodies {
        let req = Request {
            query: b"org=o&bucket=b&precision=s",
            authorization: Some(b"Token w"),
            content_encoding: ce,
            body: &body,
        };
        let head = req.head(Endpoint::V2);
        let admitted = admit(&head, &mut Server).unwrap();
        let start = match admitted
            .gzip_header(&body[..body.len().min(20)], false)
            .unwrap()
        {
            Prefix::Ready(n) => n,
            Prefix::NeedMore => panic!("a 10-byte header"),
        };
        let resolved = admitted.resolve_with(start, &mut Server).unwrap();
        let want = match resolved.read(&body, &limits, NOW, |_| {}) {
            Ok(r) => Verdict::Forward {
                points: r.report.points,
                lines: r.report.lines,
            },
            Err(r) => Verdict::Reject(r),
        };
        for size in [1, 5, 1 << 16] {
            let mut c = Checker::for_resolved(&resolved, &limits, NOW).eager();
            for ch in body.chunks(size) {
                c.push(ch);
            }
            assert_eq!(c.finish_request(), want, "chunks of {size}");
        }
    }
}
