//! The series quota's hashing against the check itself (BENCHMARKS.md, "Write quotas"):
//! `cargo run --release -p linegate-core --example series_cost [FILE]` (default
//! /tmp/linegate-bench-data/cpu.lp): the first 5,000 lines of FILE (cpu.lp: 1,000 series),
//! and 5,000 lines of 5,000 distinct series of the same shape; median of 51 runs each.

use std::time::Instant;

use linegate_core::quota::{point_series_hash, BatchSeries};
use linegate_core::{read_batch, ParseOptions, Point, Precision};

/// What a word-at-a-time hash would cost instead (an estimate of what is left: 8 bytes per
/// multiply, each piece of the key on its own; not the stored hash).
fn word_hash(p: &Point<'_>) -> u64 {
    fn piece(mut h: u64, b: &[u8]) -> u64 {
        let mut c = b.chunks_exact(8);
        for w in &mut c {
            let v = u64::from_le_bytes(w.try_into().unwrap());
            h = (h ^ v).wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(29);
        }
        for &x in c.remainder() {
            h = (h ^ u64::from(x)).wrapping_mul(0x0100_0000_01b3);
        }
        h
    }
    let mut h = piece(0xcbf2_9ce4_8422_2325, p.raw_measurement());
    for t in p.tags() {
        h = piece(piece(h, t.raw_key()), t.raw_value());
    }
    h ^ (h >> 31)
}

fn median(mut f: impl FnMut()) -> f64 {
    let mut t: Vec<f64> = (0..51)
        .map(|_| {
            let t0 = Instant::now();
            f();
            t0.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[25]
}

fn main() {
    let file = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "/tmp/linegate-bench-data/cpu.lp".into());
    let text = std::fs::read(&file).expect("FILE (python3 ../shared/bench/gen.py)");
    let cpu: Vec<u8> = (text.split_inclusive(|&b| b == b'\n').take(5000))
        .flatten()
        .copied()
        .collect();
    let wide: Vec<u8> = (0..5000)
        .flat_map(|i| {
            format!(
                "cpu,hostname=host_{i},region=eu-west-1,datacenter=eu-west-1a,rack={},os=Ubuntu16.04LTS,arch=x64,team=SF,service={},service_version=1,service_environment=production usage_user=49i,usage_system=84i,usage_idle=44i,usage_nice=75i,usage_iowait=67i,usage_irq=30i,usage_softirq=39i,usage_steal=47i,usage_guest=45i,usage_guest_nice=3i 1451606400000000000\n",
                i % 100,
                i % 20
            )
            .into_bytes()
        })
        .collect();
    let opts = ParseOptions::new(Precision::Ns, 0);
    for (name, body) in [("cpu.lp, 1,000 series", &cpu), ("5,000 series", &wide)] {
        let check = median(|| assert!(read_batch(body, &opts, 1 << 20, |_| {}).is_ok()));
        let mut sink = 0u64;
        let hash = median(|| {
            assert!(read_batch(body, &opts, 1 << 20, |p| sink ^= point_series_hash(p)).is_ok())
        });
        let word =
            median(|| assert!(read_batch(body, &opts, 1 << 20, |p| sink ^= word_hash(p)).is_ok()));
        let set = median(|| {
            let mut s = BatchSeries::new();
            assert!(read_batch(body, &opts, 1 << 20, |p| s.push(p)).is_ok());
            sink ^= s.hashes.len() as u64;
        });
        println!(
            "{name}: check {check:.0} µs; + hashing {:.0} µs ({:.1}%); + distinct set {:.0} µs ({:.1}%); \
             a word-at-a-time hash instead: +{:.0} µs ({:.1}%) [{sink}]",
            hash - check,
            100.0 * (hash - check) / check,
            set - hash,
            100.0 * (set - hash) / check,
            word - check,
            100.0 * (word - check) / check,
        );
    }
}
