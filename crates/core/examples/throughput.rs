//! Throughput of the full check on files, for quick measurements and for the Node benchmark's
//! native figure: `cargo run --release -p linegate-core --example throughput -- FILE…`
//! prints one JSON line per file: `{"file", "bytes", "points", "best_mb_s", "median_mb_s"}`.

use std::time::Instant;

use linegate_core::{check_request, Limits, Request, Verdict};

fn main() {
    let mut iters = 7;
    let mut files = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--iters" {
            iters = args.next().and_then(|n| n.parse().ok()).expect("--iters N");
        } else {
            files.push(a);
        }
    }
    for f in files {
        let body = std::fs::read(&f).expect("read file");
        let gz = f.ends_with(".gz");
        let req = Request {
            query: b"org=o&bucket=b&precision=ns",
            authorization: Some(b"Token t"),
            content_encoding: gz.then_some(&b"gzip"[..]),
            body: &body,
        };
        let mut times = Vec::new();
        let mut points = 0;
        for _ in 0..iters {
            let t = Instant::now();
            let v = check_request(&req, &Limits::default(), 1_700_000_000_123_456_789);
            times.push(t.elapsed().as_secs_f64());
            points = match v {
                Verdict::Forward { points, .. } => points,
                Verdict::Reject(r) => panic!("{f}: rejected {}", String::from_utf8_lossy(&r.body)),
            };
        }
        times.sort_by(f64::total_cmp);
        let mb = body.len() as f64 / 1e6;
        println!(
            "{{\"file\":{:?},\"bytes\":{},\"points\":{},\"best_mb_s\":{:.1},\"median_mb_s\":{:.1}}}",
            f,
            body.len(),
            points,
            mb / times[0],
            mb / times[times.len() / 2]
        );
    }
}
