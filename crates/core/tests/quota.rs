//! The series keys of the quota (spec Part D.2) are the corpus's `series_key`, for every
//! point InfluxDB returned, and the 64-bit hash a door may keep is the hash of that key.

use linegate_core::pipeline::{prepare, Request};
use linegate_core::quota::{point_series_hash, series_hash, BatchSeries, SeriesMemo};
use linegate_core::{read_batch, Limits, ParseOptions, Precision};

#[test]
fn series_keys_and_hashes_match_every_corpus_point() {
    let Some(dir) = linegate_corpus::corpus_dir("series_keys_and_hashes_match_every_corpus_point")
    else {
        return;
    };
    let mut cases = linegate_corpus::load(&dir);
    cases.extend(linegate_corpus::load_v1(&dir));
    let mut checked = 0;
    // Memos kept across the cases: a large one (hits from earlier cases), and one of two
    // entries (every case churns it: evictions and replacements).
    let (mut big, mut tiny) = (SeriesMemo::new(), SeriesMemo::with_capacity(2));
    for case in cases.iter().filter(|c| c.status == 204) {
        let want = case.points();
        if want.is_empty() {
            continue;
        }
        let limits = Limits {
            max_batch: case.max_batch.unwrap_or(Limits::default().max_batch),
            ..Limits::default()
        };
        let encoding = case.content_encoding.as_deref().map(str::as_bytes);
        let query = case.query();
        let req = Request {
            query: query.as_bytes(),
            authorization: Some(b"Token t"),
            content_encoding: encoding,
            body: &case.body,
        };
        let prepared = prepare(case.endpoint, &req, &limits)
            .unwrap_or_else(|r| panic!("{}: {:?}", case.file, r.reason));
        let mut keys = Vec::new();
        let mut series = BatchSeries::new();
        let (mut via_big, mut via_tiny) = (BatchSeries::new(), BatchSeries::new());
        let report = prepared.read(linegate_corpus::NOW, 1 << 20, |p| {
            keys.push(p.series_key());
            series.push(p);
            // Twice each: a miss (or a hit from an earlier case), then a hit.
            for _ in 0..2 {
                assert_eq!(big.series_hash(p), series_hash(&p.series_key()));
                assert_eq!(tiny.series_hash(p), series_hash(&p.series_key()));
            }
            via_big.push_memo(p, &mut big);
            via_tiny.push_memo(p, &mut tiny);
        });
        for via in [&via_big, &via_tiny] {
            assert_eq!((&via.hashes, &via.points), (&series.hashes, &series.points));
        }
        assert!(report.is_ok(), "{}", case.file);
        assert_eq!(keys.len(), want.len(), "{}", case.file);
        for (i, (got, w)) in keys.iter().zip(&want).enumerate() {
            let key = text(&w["series_key"]);
            assert_eq!(got, &key, "{} point {i}", case.file);
            let (line, idx) = series.points[i];
            assert_eq!(line, w["line"].as_u64().unwrap(), "{} point {i}", case.file);
            assert_eq!(series.hashes[idx as usize], series_hash(&key));
            checked += 1;
        }
    }
    assert!(checked > 300, "only {checked} points checked");
    eprintln!("{checked} corpus points: series keys and hashes match");
}

/// A small deterministic generator (xorshift64*), so that a failure repeats.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n
    }
}

/// Lines of 200 series, each written many ways: tags shuffled, escapes, spaces before the
/// measurement, more than one space before the fields, an escaped space ending a value,
/// the same key reached through different spellings (`a\,b` and `a\,b` as written, both
/// kept raw by InfluxDB), and keys long enough to take several of the memo hash's blocks.
fn generated_lines(rng: &mut Rng, n: usize) -> String {
    let measurements = ["cpu", "m", "w\\ x\\,y", "disk\\ io", "a\\=b", "\\"];
    let keys = [
        "host",
        "a",
        "b",
        "region",
        "k\\ 1",
        "z\\=",
        "c\\,d",
        "service_environment",
    ];
    let values = [
        "1",
        "host_7",
        "v\\,1",
        "\\=q",
        "x\\\\y",
        "us-west-2a",
        "\\ ",
        "é",
        "long_value_of_the_tag_0123456789",
    ];
    let mut out = String::new();
    for _ in 0..n {
        // One of 200 series, its tags drawn from its own generator: each series comes back
        // many times, spelled differently.
        let mut series = Rng(rng.below(200) as u64 + 1);
        let m = measurements[series.below(measurements.len())];
        let mut tags: Vec<(&str, &str)> = Vec::new();
        for k in keys {
            if series.below(3) > 0 {
                tags.push((k, values[series.below(values.len())]));
            }
        }
        for i in (1..tags.len()).rev() {
            tags.swap(i, rng.below(i + 1));
        }
        out.push_str(["", " ", "\t "][rng.below(3)]);
        out.push_str(m);
        for (k, v) in &tags {
            out.push(',');
            out.push_str(k);
            out.push('=');
            out.push_str(v);
        }
        out.push_str([" ", "  "][rng.below(2)]);
        out.push_str("v=1i 1\n");
    }
    out
}

#[test]
fn the_series_memo_gives_the_series_hash_of_every_generated_line() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let opts = ParseOptions::new(Precision::Ns, 0);
    // One memo per size, kept across batches: evictions at every size but the largest.
    let mut memos: Vec<SeriesMemo> = [2, 4, 64, 1 << 16]
        .into_iter()
        .map(SeriesMemo::with_capacity)
        .collect();
    assert_eq!(memos[0].capacity(), 2);
    let mut seen = 0;
    let mut distinct = std::collections::HashSet::new();
    let mut spellings = std::collections::HashSet::new();
    let mut body = String::new();
    for round in 0..40 {
        // Each body twice in a row: the second time each position is its memo's trace.
        if round % 2 == 0 {
            body = generated_lines(&mut rng, 500);
        }
        let mut plain = BatchSeries::new();
        let mut via: Vec<BatchSeries> = memos.iter().map(|_| BatchSeries::new()).collect();
        let report = read_batch(body.as_bytes(), &opts, 1 << 20, |p| {
            let want = series_hash(&p.series_key());
            assert_eq!(point_series_hash(p), want);
            for (memo, s) in memos.iter_mut().zip(&mut via) {
                assert_eq!(memo.series_hash(p), want, "line {}", p.line());
                s.push_memo(p, memo);
            }
            plain.push(p);
            seen += 1;
            distinct.insert(want);
            spellings.insert(p.raw_series().to_vec());
        });
        assert!(report.is_ok(), "{report:?}\n{body}");
        for s in &via {
            assert_eq!((&s.hashes, &s.points), (&plain.hashes, &plain.points));
        }
    }
    assert_eq!(seen, 40 * 500);
    // Many spellings of each series (raw spans that differ, keys that do not).
    assert!(
        distinct.len() > 150 && spellings.len() > 3 * distinct.len(),
        "{} {}",
        distinct.len(),
        spellings.len()
    );
}

/// A corpus text: a string, or `{"hex": …}` for bytes that are not UTF-8.
fn text(v: &serde_json::Value) -> Vec<u8> {
    if let Some(s) = v.as_str() {
        return s.as_bytes().to_vec();
    }
    let hex = v["hex"].as_str().expect("series_key is text or hex");
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}
