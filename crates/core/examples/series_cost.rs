//! The series quota's hashing against the check itself (BENCHMARKS.md, "Write quotas"):
//! `cargo run --release -p linegate-core --example series_cost [FILE]` (default
//! /tmp/linegate-bench-data/cpu.lp): the first 5,000 lines of FILE (cpu.lp: 1,000 series),
//! and 5,000 lines of 5,000 distinct series of the same shape; the fastest of 51 runs each
//! (the machine is shared: medians moved by ±50% between runs).

use std::time::Instant;

use linegate_core::quota::{series_hash_v1, BatchSeries};
use linegate_core::{read_batch, ParseOptions, Point, Precision};

/// The hash of version 1 as it was computed (FNV-1a over the key's pieces, a byte at a
/// time): the "before" of the same run.
fn fnv_pieces(p: &Point<'_>) -> u64 {
    fn piece(h: u64, b: &[u8]) -> u64 {
        b.iter()
            .fold(h, |h, &x| (h ^ u64::from(x)).wrapping_mul(0x0100_0000_01b3))
    }
    let mut h = piece(0xcbf2_9ce4_8422_2325, p.raw_measurement());
    for t in p.tags() {
        h = piece(
            piece(piece(piece(h, b","), t.raw_key()), b"="),
            t.raw_value(),
        );
    }
    h
}

fn median(mut f: impl FnMut()) -> f64 {
    let mut t: Vec<f64> = (0..51)
        .map(|_| {
            let t0 = Instant::now();
            f();
            t0.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    // The fastest run: on a shared machine the others only add other processes' time.
    t.sort_by(f64::total_cmp);
    t[0]
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
    // cpu.lp's lines with their tags written sorted (the key is then one span of the line).
    let sorted: Vec<u8> = {
        let mut out = Vec::new();
        assert!(
            read_batch(&cpu, &ParseOptions::new(Precision::Ns, 0), 1 << 20, |p| {
                let line = cpu
                    .split(|&b| b == b'\n')
                    .nth(p.line() as usize - 1)
                    .unwrap();
                let rest = &line[line.iter().position(|&b| b == b' ').unwrap()..];
                out.extend_from_slice(&p.series_key());
                out.extend_from_slice(rest);
                out.push(b'\n');
            })
            .is_ok()
        );
        out
    };
    let opts = ParseOptions::new(Precision::Ns, 0);
    for (name, body) in [
        ("cpu.lp, 1,000 series (tags unsorted)", &cpu),
        ("cpu.lp, tags sorted", &sorted),
        ("5,000 series (tags unsorted)", &wide),
    ] {
        let check = median(|| assert!(read_batch(body, &opts, 1 << 20, |_| {}).is_ok()));
        let mut sink = 0u64;
        let fnv = median(|| {
            let mut s = BatchSeries::new();
            assert!(read_batch(body, &opts, 1 << 20, |p| s
                .push_hash(p.line(), fnv_pieces(p)))
            .is_ok());
            sink ^= s.hashes.len() as u64;
        });
        let one: u64 = [series_hash_v1(b"")].iter().sum();
        sink ^= one;
        let set = median(|| {
            let mut s = BatchSeries::new();
            assert!(read_batch(body, &opts, 1 << 20, |p| s.push(p)).is_ok());
            sink ^= s.hashes.len() as u64;
        });
        println!(
            "{name}: check {check:.0} µs; series check (hash + distinct set) +{:.0} µs = {:.1}% \
             [before, FNV-1a v1: +{:.0} µs = {:.1}%] [{sink:x}]",
            set - check,
            100.0 * (set - check) / check,
            fnv - check,
            100.0 * (fnv - check) / check,
        );
    }
}
