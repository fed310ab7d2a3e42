//! Decompression speed of the gzip reader alone: `cargo run --release -p linegate-core --example gunzip_speed -- FILE.gz`
use std::time::Instant;
fn main() {
    for f in std::env::args().skip(1) {
        let body = std::fs::read(&f).unwrap();
        let start = linegate_core::gzip::read_header(&body).unwrap();
        let mut best = f64::MAX;
        let mut n = 0;
        for _ in 0..7 {
            let t = Instant::now();
            let out = linegate_core::gzip::decompress_members(&body, start, usize::MAX).unwrap();
            best = best.min(t.elapsed().as_secs_f64());
            n = out.len();
        }
        println!(
            "{f}: {n} bytes, {:.0} MB/s of output",
            n as f64 / 1e6 / best
        );
    }
}
