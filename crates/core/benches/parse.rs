//! Throughput of the full check (every line split, every value parsed and typed, the verdict
//! and any message ready) on the `../shared/bench` datasets, beside the peers measured in
//! the same run: `influxdb-line-protocol` (InfluxDB 3's parser) and `tremor-influx`.
//!
//! `cargo bench -p linegate-core --bench parse` — data is generated once into
//! `<workspace>/bench-data` (50 MB per dataset; `LINEGATE_BENCH_MB` changes the size,
//! `LINEGATE_BENCH_DATA` the directory).

use std::path::PathBuf;

// The peers allocate per line (tremor-influx builds a value tree); a fast allocator gives them
// their best figures. linegate allocates nothing per line either way.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::time::Duration;

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use linegate_core::{check_request, read_batch, Limits, ParseOptions, Request, Verdict};

const DATASETS: [&str; 4] = ["cpu", "cpuf", "telegraf", "escape"];

fn data_dir() -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = std::env::var_os("LINEGATE_BENCH_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("bench-data"));
    if DATASETS
        .iter()
        .all(|d| dir.join(format!("{d}.lp")).is_file())
    {
        return Some(dir);
    }
    let gen = root.join("../shared/bench/gen.py");
    if !gen.is_file() {
        eprintln!(
            "SKIPPED benchmarks: no data in {} and ../shared/bench/gen.py is absent",
            dir.display()
        );
        return None;
    }
    let mb = std::env::var("LINEGATE_BENCH_MB").unwrap_or_else(|_| "50".into());
    eprintln!("generating {mb} MB per dataset into {}", dir.display());
    let ok = std::process::Command::new("python3")
        .arg(&gen)
        .args(["--out"])
        .arg(&dir)
        .args(["--size-mb", &mb])
        .status()
        .is_ok_and(|s| s.success());
    ok.then_some(dir)
}

fn linegate_check(body: &[u8], gzip: bool) -> u64 {
    let req = Request {
        query: b"org=o&bucket=b&precision=ns",
        authorization: Some(b"Token t"),
        content_encoding: gzip.then_some(&b"gzip"[..]),
        body,
    };
    match check_request(&req, &Limits::default(), 1_700_000_000_123_456_789) {
        Verdict::Forward { points, .. } => points,
        Verdict::Reject(r) => panic!("rejected: {}", String::from_utf8_lossy(&r.body)),
    }
}

fn influxdb3(body: &str) -> usize {
    let mut fields = 0;
    for line in influxdb_line_protocol::parse_lines(body) {
        match line {
            Ok(l) => fields += l.field_set.len(),
            Err(_) => fields += 1_000_000,
        }
    }
    fields
}

fn tremor(body: &str) -> usize {
    let mut ok = 0;
    for line in body.split('\n') {
        if let Ok(Some(v)) = tremor_influx::decode::<simd_json::BorrowedValue>(line, 0) {
            black_box(&v);
            ok += 1;
        }
    }
    ok
}

fn bench(c: &mut Criterion) {
    let Some(dir) = data_dir() else { return };
    for ds in DATASETS {
        let body = std::fs::read(dir.join(format!("{ds}.lp"))).expect("dataset");
        let text = std::str::from_utf8(&body).expect("datasets are UTF-8");
        let mut g = c.benchmark_group(ds);
        g.sample_size(10)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(8))
            .throughput(Throughput::Bytes(body.len() as u64));
        g.bench_function("linegate check", |b| {
            b.iter(|| black_box(linegate_check(&body, false)))
        });
        g.bench_function("linegate points", |b| {
            b.iter(|| {
                let mut n = 0usize;
                read_batch(&body, &ParseOptions::default(), 1 << 24, |p| {
                    n += p.fields().len()
                });
                black_box(n)
            })
        });
        g.bench_function("influxdb-line-protocol", |b| {
            b.iter(|| black_box(influxdb3(text)))
        });
        g.bench_function("tremor-influx", |b| b.iter(|| black_box(tremor(text))));
        let gz = dir.join(format!("{ds}.lp.gz"));
        if let Ok(gz) = std::fs::read(gz) {
            // Throughput is still counted in decompressed bytes.
            g.bench_function(BenchmarkId::new("linegate check", "gzip"), |b| {
                b.iter(|| black_box(linegate_check(&gz, true)))
            });
        }
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
