//! The native side of `bench/speed.mjs` (issue 22): one core, thread CPU time, rounds
//! interleaved so that every probe sees the same machine, median of the rounds. Prints one
//! JSON line per figure.
//!
//! `cargo bench -p linegate-core --bench speed -- [--data DIR] [--rounds N] [--gz-mb N]`
//!
//! - `parse`: the whole request check (`check_request`) and tremor-influx (line by line into
//!   its value tree, mimalloc as for `benches/parse.rs`) on each 50 MB dataset;
//! - `stage`: inflate (zlib-rs alone, 64 KiB output buffer reused, and the whole body into one
//!   buffer), CRC-32 (zlib-rs's, crc32fast's and linegate's `crc::Crc32`), lines (memchr), the structural pass, the
//!   number reader alone, the plain check, the gzip check one-shot and streamed, on the first
//!   `--gz-mb` MB of lines of cpu / cpuf / telegraf / escape gzipped at level 6.

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::hint::black_box;
use std::path::PathBuf;

use linegate_core::{check_request, stages, Checker, Limits, Request, ValidateOptions, Verdict};

const DATASETS: [&str; 4] = ["cpu", "cpuf", "telegraf", "escape"];

fn thread_cpu() -> f64 {
    #[repr(C)]
    struct Timespec {
        sec: i64,
        nsec: i64,
    }
    extern "C" {
        fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
    }
    let mut ts = Timespec { sec: 0, nsec: 0 };
    // SAFETY: clock_gettime writes one timespec to the valid pointer it is given.
    unsafe { clock_gettime(3, &mut ts) };
    ts.sec as f64 + ts.nsec as f64 * 1e-9
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn check(body: &[u8], gzip: bool) -> u64 {
    let req = Request {
        query: b"org=o&bucket=b&precision=ns",
        authorization: Some(b"Token t"),
        content_encoding: gzip.then_some(&b"gzip"[..]),
        body,
    };
    let limits = Limits {
        max_body: usize::MAX,
        max_batch: usize::MAX,
        ..Limits::default()
    };
    match check_request(&req, &limits, 1_700_000_000_123_456_789) {
        Verdict::Forward { points, .. } => points,
        Verdict::Reject(r) => panic!("rejected: {}", String::from_utf8_lossy(&r.body)),
    }
}

fn tremor(body: &str) -> usize {
    let mut ok = 0;
    for line in body.split('\n') {
        if let Ok(Some(v)) = tremor_influx::decode::<simd_json::BorrowedValue<'_>>(line, 0) {
            black_box(&v);
            ok += 1;
        }
    }
    ok
}

fn deflate_of(gz: &[u8]) -> &[u8] {
    let start = linegate_core::gzip::read_header(gz).unwrap_or(10);
    &gz[start..gz.len() - 8]
}

fn inflate_window(gz: &[u8]) -> usize {
    let mut input = deflate_of(gz);
    let mut z = zlib_rs::Inflate::new(false, 15);
    let mut out = vec![0u8; 64 << 10];
    loop {
        let before = z.total_in();
        match z.decompress(input, &mut out, zlib_rs::InflateFlush::NoFlush) {
            Ok(zlib_rs::Status::StreamEnd) | Err(_) => return z.total_out() as usize,
            Ok(_) => {}
        }
        input = &input[(z.total_in() - before) as usize..];
        black_box(&out);
    }
}

fn inflate_whole(gz: &[u8], size: usize) -> usize {
    let mut z = zlib_rs::Inflate::new(false, 15);
    let mut out = vec![0u8; size];
    let _ = z.decompress(deflate_of(gz), &mut out, zlib_rs::InflateFlush::Finish);
    black_box(&out);
    z.total_out() as usize
}

fn gzip_opts() -> ValidateOptions<'static> {
    ValidateOptions {
        content_encoding: Some(b"gzip"),
        limits: Limits {
            max_body: usize::MAX,
            max_batch: usize::MAX,
            ..Limits::default()
        },
        ..ValidateOptions::default()
    }
}

fn streamed(gz: &[u8]) -> u16 {
    let opts = gzip_opts();
    let mut c = Checker::new(&opts);
    for piece in gz.chunks(64 << 10) {
        c.push(piece);
    }
    c.finish().status
}

type Probe<'a> = (&'static str, Box<dyn Fn() -> u64 + 'a>);

fn main() {
    let mut data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../bench-data");
    let mut rounds = 7;
    let mut gz_mb = 5.0f64;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--data" => data = args.next().expect("--data DIR").into(),
            "--rounds" => rounds = args.next().and_then(|n| n.parse().ok()).expect("N"),
            "--gz-mb" => gz_mb = args.next().and_then(|n| n.parse().ok()).expect("N"),
            _ => {} // cargo bench passes --bench
        }
    }
    let bodies: Vec<(&str, Vec<u8>)> = DATASETS
        .iter()
        .map(|d| {
            let f = data.join(format!("{d}.lp"));
            (
                *d,
                std::fs::read(&f).unwrap_or_else(|e| panic!("{}: {e}", f.display())),
            )
        })
        .collect();

    // parse: linegate check and tremor-influx, interleaved.
    for (ds, body) in &bodies {
        let text = std::str::from_utf8(body).expect("UTF-8");
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            let t = thread_cpu();
            black_box(check(body, false));
            a.push(thread_cpu() - t);
            let t = thread_cpu();
            black_box(tremor(text));
            b.push(thread_cpu() - t);
        }
        println!(
            "{{\"kind\":\"parse\",\"ds\":\"{ds}\",\"bytes\":{},\"linegate_s\":{:.6},\"tremor_s\":{:.6}}}",
            body.len(),
            median(&mut a),
            median(&mut b)
        );
    }

    // stages, on the first gz_mb MB of lines, gzipped at level 6 (by `bench/speed.mjs`, with
    // Node's zlib, into DATA/speed/; by miniz_oxide here when those are absent).
    for (ds, body) in &bodies {
        let cut_lp = data.join(format!("speed/{ds}.lp"));
        let cut_gz = data.join(format!("speed/{ds}.lp.gz"));
        let (lp, gz) = match (std::fs::read(&cut_lp), std::fs::read(&cut_gz)) {
            (Ok(lp), Ok(gz)) => (lp, gz),
            _ => {
                let cut = (gz_mb * 1e6) as usize;
                let end = body[..cut.min(body.len())]
                    .iter()
                    .rposition(|&b| b == b'\n')
                    .map_or(0, |i| i + 1);
                let lp = body[..end].to_vec();
                let gz = linegate_core::gzip::compress(&lp);
                (lp, gz)
            }
        };
        let lp = &lp[..];
        let spans = stages::numeric_values(lp);
        let probes: Vec<Probe<'_>> = vec![
            (
                "inflate, 64 KiB buffer",
                Box::new(|| inflate_window(&gz) as u64),
            ),
            (
                "inflate, whole body",
                Box::new(|| inflate_whole(&gz, lp.len()) as u64),
            ),
            (
                "crc32 zlib-rs",
                Box::new(|| u64::from(zlib_rs::crc32::crc32(0, lp))),
            ),
            (
                "crc32 crc32fast",
                Box::new(|| u64::from(crc32fast::hash(lp))),
            ),
            (
                "crc32 linegate (Chorba)",
                Box::new(|| u64::from(linegate_core::crc::crc32_of(lp))),
            ),
            ("lines (memchr)", Box::new(|| stages::lines(lp) as u64)),
            ("structural pass", Box::new(|| stages::scan(lp))),
            ("numbers", Box::new(|| stages::numbers(lp, &spans))),
            (
                "numbers, validity only",
                Box::new(|| stages::numbers_valid(lp, &spans)),
            ),
            ("check plain", Box::new(|| check(lp, false))),
            ("check gzip one-shot", Box::new(|| check(&gz, true))),
            ("check gzip streamed", Box::new(|| u64::from(streamed(&gz)))),
        ];
        let mut t: Vec<Vec<f64>> = vec![Vec::new(); probes.len()];
        for _ in 0..rounds {
            for (k, (_, f)) in probes.iter().enumerate() {
                let t0 = thread_cpu();
                black_box(f());
                t[k].push(thread_cpu() - t0);
            }
        }
        for (k, (name, _)) in probes.iter().enumerate() {
            println!(
                "{{\"kind\":\"stage\",\"ds\":\"{ds}\",\"stage\":\"{name}\",\"bytes\":{},\"values\":{},\"s\":{:.6}}}",
                lp.len(),
                spans.len(),
                median(&mut t[k])
            );
        }
    }
}
