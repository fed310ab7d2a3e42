//! The native side of the Node benchmark (`bench/wasm.mjs`): the same check `checkWrite`
//! runs (linegate-core's `check_request`, same query, headers and clock) on the same files,
//! natively. Prints one JSON line per file with the best wall-clock and the best thread-CPU
//! time of `--iters` runs: on a shared machine the CPU time is the steadier figure.
//!
//! `cargo run --release --example check_throughput -- [--iters N] FILE…` (`.gz` files are
//! sent with `Content-Encoding: gzip`).

use std::time::Instant;

use linegate::core::{check_request, Limits, Request, Verdict};

/// Seconds of CPU this thread has used (CLOCK_THREAD_CPUTIME_ID), where the OS has it.
#[cfg(target_os = "linux")]
fn thread_cpu() -> Option<f64> {
    #[repr(C)]
    struct Timespec {
        sec: i64,
        nsec: i64,
    }
    extern "C" {
        fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
    }
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
    let mut ts = Timespec { sec: 0, nsec: 0 };
    // SAFETY: clock_gettime writes one timespec to the valid pointer it is given.
    let rc = unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    (rc == 0).then_some(ts.sec as f64 + ts.nsec as f64 * 1e-9)
}

#[cfg(not(target_os = "linux"))]
fn thread_cpu() -> Option<f64> {
    None
}

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
        let req = Request {
            query: b"org=o&bucket=b&precision=ns",
            authorization: Some(b"Token t"),
            content_encoding: f.ends_with(".gz").then_some(&b"gzip"[..]),
            body: &body,
        };
        let (mut wall, mut cpu) = (f64::INFINITY, f64::INFINITY);
        let mut points = 0;
        for _ in 0..iters {
            let (t, c) = (Instant::now(), thread_cpu());
            let v = check_request(&req, &Limits::default(), 1_700_000_000_123_456_789);
            wall = wall.min(t.elapsed().as_secs_f64());
            if let (Some(c0), Some(c1)) = (c, thread_cpu()) {
                cpu = cpu.min(c1 - c0);
            }
            points = match v {
                Verdict::Forward { points, .. } => points,
                Verdict::Reject(r) => {
                    panic!("{f}: rejected: {}", String::from_utf8_lossy(&r.body))
                }
            };
        }
        let cpu = if cpu.is_finite() { cpu } else { wall };
        println!(
            "{{\"file\":{f:?},\"bytes\":{},\"points\":{points},\"wall_s\":{wall:.6},\"cpu_s\":{cpu:.6}}}",
            body.len()
        );
    }
}
