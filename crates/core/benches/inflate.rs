//! Inflate and CRC-32, natively: the decoder linegate uses (miniz_oxide, streaming through
//! a 64 KiB window, CRC-32 by crc32fast) beside zlib-rs on the same deflate data, CRC-32
//! implementations alone, and the gzip and plain checks, one-shot and incremental. The wasm figures come from
//! `bench/inflate-wasm.mjs` (same functions, compiled for wasm32 with simd128).
//!
//! `cargo bench -p linegate-core --bench inflate` — reads `<workspace>/bench-data/*.lp.gz`
//! (made by `cargo bench --bench parse` or `../shared/bench/gen.py`; `LINEGATE_BENCH_DATA`
//! picks another directory). Throughput is MB/s of decompressed output.

use std::path::PathBuf;
use std::time::Duration;

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use linegate_core::{gzip, validate, Checker, ValidateOptions};
use miniz_oxide::inflate::core::inflate_flags::TINFL_FLAG_HAS_MORE_INPUT;
use miniz_oxide::inflate::core::{decompress, DecompressorOxide};
use miniz_oxide::inflate::TINFLStatus;

const DATASETS: [&str; 2] = ["cpu", "telegraf"];

fn data_dir() -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = std::env::var_os("LINEGATE_BENCH_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("bench-data"));
    let ok = DATASETS
        .iter()
        .all(|d| dir.join(format!("{d}.lp.gz")).is_file());
    if !ok {
        eprintln!("SKIPPED inflate benchmarks: no bench-data/*.lp.gz (run the parse bench once)");
    }
    ok.then_some(dir)
}

/// miniz_oxide alone, as linegate's decoder drives it (64 KiB wrapping window).
fn miniz(deflate: &[u8]) -> usize {
    let mut st = Box::<DecompressorOxide>::default();
    let mut win = vec![0u8; 64 << 10];
    let (mut input, mut pos, mut total) = (deflate, 0usize, 0usize);
    loop {
        let (s, used, out) = decompress(&mut st, input, &mut win, pos, TINFL_FLAG_HAS_MORE_INPUT);
        input = &input[used..];
        total += out;
        pos = (pos + out) & (win.len() - 1);
        match s {
            TINFLStatus::Done => return total,
            TINFLStatus::HasMoreOutput => {}
            TINFLStatus::NeedsMoreInput if !input.is_empty() => {}
            other => panic!("{other:?}"),
        }
    }
}

/// zlib-rs alone: raw deflate into a 64 KiB buffer, reused.
fn zlib_rs(deflate: &[u8]) -> usize {
    let mut z = zlib_rs::Inflate::new(false, 15);
    let mut out = vec![0u8; 64 << 10];
    let mut input = deflate;
    loop {
        let before = z.total_in();
        let st = z
            .decompress(input, &mut out, zlib_rs::InflateFlush::NoFlush)
            .expect("valid deflate");
        input = &input[(z.total_in() - before) as usize..];
        black_box(&out);
        if st == zlib_rs::Status::StreamEnd {
            return z.total_out() as usize;
        }
    }
}

fn benches(c: &mut Criterion) {
    let Some(dir) = data_dir() else { return };
    for d in DATASETS {
        let gz = std::fs::read(dir.join(format!("{d}.lp.gz"))).unwrap();
        let start = gzip::read_header(&gz).unwrap();
        let deflate = &gz[start..gz.len() - 8];
        let plain = gzip::decompress_members(&gz, start, usize::MAX).unwrap();
        let mut g = c.benchmark_group(format!("inflate/{d}"));
        g.throughput(Throughput::Bytes(plain.len() as u64))
            .sample_size(10)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(4));
        g.bench_function(BenchmarkId::new("miniz_oxide", "inflate"), |b| {
            b.iter(|| assert_eq!(miniz(black_box(deflate)), plain.len()))
        });
        g.bench_function(BenchmarkId::new("zlib-rs", "inflate"), |b| {
            b.iter(|| assert_eq!(zlib_rs(black_box(deflate)), plain.len()))
        });
        g.bench_function(BenchmarkId::new("crc32fast", "crc"), |b| {
            b.iter(|| crc32fast::hash(black_box(&plain)))
        });
        g.bench_function(BenchmarkId::new("crc32fast-slice16", "crc"), |b| {
            b.iter(|| {
                let mut h = crc32fast::Hasher::internal_new_baseline(0, 0);
                h.update(black_box(&plain));
                h.finalize()
            })
        });
        g.bench_function(BenchmarkId::new("zlib-rs", "crc"), |b| {
            b.iter(|| zlib_rs::crc32::crc32(0, black_box(&plain)))
        });
        g.bench_function(BenchmarkId::new("linegate", "gunzip"), |b| {
            let mut d = 0usize;
            b.iter(|| {
                let mut dec = gzip::Decoder::new(usize::MAX);
                dec.push(black_box(&gz[start..]), &mut |x| d += x.len())
                    .unwrap();
                dec.finish(&mut |x| d += x.len()).unwrap();
            })
        });
        let opts = ValidateOptions {
            content_encoding: Some(b"gzip"),
            limits: linegate_core::Limits {
                max_body: usize::MAX,
                max_batch: usize::MAX,
                ..Default::default()
            },
            ..ValidateOptions::default()
        };
        g.bench_function(BenchmarkId::new("linegate", "gzip-check-whole"), |b| {
            b.iter(|| assert_eq!(validate(black_box(&gz), &opts, |_| {}).status, 204))
        });
        g.bench_function(BenchmarkId::new("linegate", "plain-check-streamed"), |b| {
            let plain_opts = ValidateOptions {
                content_encoding: None,
                ..opts
            };
            b.iter(|| {
                let mut ch = Checker::new(&plain_opts);
                for piece in plain.chunks(64 << 10) {
                    ch.push(piece);
                }
                assert_eq!(ch.finish().status, 204);
            })
        });
        g.bench_function(BenchmarkId::new("linegate", "plain-check-whole"), |b| {
            let plain_opts = ValidateOptions {
                content_encoding: None,
                ..opts
            };
            b.iter(|| assert_eq!(validate(black_box(&plain), &plain_opts, |_| {}).status, 204))
        });
        g.bench_function(BenchmarkId::new("linegate", "gzip-check-streamed"), |b| {
            b.iter(|| {
                let mut ch = Checker::new(&opts);
                for piece in gz.chunks(64 << 10) {
                    ch.push(piece);
                }
                assert_eq!(ch.finish().status, 204);
            })
        });
        g.finish();
    }
}

criterion_group!(inflate, benches);
criterion_main!(inflate);
