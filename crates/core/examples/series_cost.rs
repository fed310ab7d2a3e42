//! The series quota's hashing against the check itself (BENCHMARKS.md, "Write quotas"):
//! `cargo run --release -p linegate-core --example series_cost [FILE]` (default
//! /tmp/linegate-bench-data/cpu.lp): the first 5,000 lines of FILE (cpu.lp: 1,000 series),
//! the same with tags written sorted, and 5,000 lines of 5,000 distinct series of the same
//! shape. For each: the check alone, the series step without a memo (`BatchSeries::push`)
//! and with a warm one (`push_memo`, the memo filled by the batches before: the steady
//! state of a quota, whose series are known). The fastest and the median of 51 runs, the
//! three measured in turn within each run, in a rotating order (the machine is shared),
//! each timed on its second of two passes.

use std::time::Instant;

use linegate_core::quota::{BatchSeries, SeriesMemo};
use linegate_core::{read_batch, ParseOptions, Precision};

/// Fastest and median of the runs, in µs.
fn stats(mut t: Vec<f64>) -> (f64, f64) {
    t.sort_by(f64::total_cmp);
    (t[0], t[t.len() / 2])
}

fn time(f: impl FnOnce()) -> f64 {
    let t0 = Instant::now();
    f();
    t0.elapsed().as_secs_f64() * 1e6
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
    println!("fastest / median of 51, µs; the series step's cost as a share of the check");
    for (name, body) in [
        ("cpu.lp, 1,000 series (tags unsorted)", &cpu),
        ("cpu.lp, tags sorted", &sorted),
        ("5,000 series (tags unsorted)", &wide),
    ] {
        let mut memo = SeriesMemo::new();
        let mut sink = 0u64;
        let (mut check, mut plain, mut memoed) = (Vec::new(), Vec::new(), Vec::new());
        for run in 0..52 {
            // The three in turn, starting with a different one each run (what ran just
            // before leaves the caches in its own state).
            let mut t = [0.0; 3];
            for k in 0..3 {
                let which = (run + k) % 3;
                // Each step twice, the second timed: a door does the same step batch after
                // batch, with its branches and caches trained on it (timed after another
                // step, the memo's step measured ~2% of the check more).
                for _ in 0..2 {
                    t[which] = match which {
                        0 => time(|| assert!(read_batch(body, &opts, 1 << 20, |_| {}).is_ok())),
                        1 => time(|| {
                            let mut s = BatchSeries::new();
                            assert!(read_batch(body, &opts, 1 << 20, |p| s.push(p)).is_ok());
                            sink = sink.wrapping_add(s.hashes.len() as u64);
                        }),
                        _ => time(|| {
                            let mut s = BatchSeries::new();
                            let r = read_batch(body, &opts, 1 << 20, |p| s.push_memo(p, &mut memo));
                            assert!(r.is_ok());
                            sink = sink.wrapping_add(s.hashes.len() as u64);
                        }),
                    };
                }
            }
            // The memo is filled by the first run (its own batch before): not measured.
            if run > 0 {
                check.push(t[0]);
                plain.push(t[1]);
                memoed.push(t[2]);
            }
        }
        let (c, cm) = stats(check);
        let (p, pm) = stats(plain);
        let (m, mm) = stats(memoed);
        let pct = |x: f64, base: f64| 100.0 * (x - base) / base;
        println!(
            "{name}: check {c:.0} / {cm:.0}; without memo +{:.0} ({:.1}%) / +{:.0} ({:.1}%); \
             warm memo +{:.0} ({:.1}%) / +{:.0} ({:.1}%) [{sink:x}]",
            p - c,
            pct(p, c),
            pm - cm,
            pct(pm, cm),
            m - c,
            pct(m, c),
            mm - cm,
            pct(mm, cm),
        );
    }
}
