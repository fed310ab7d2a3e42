//! The series keys of the quota (spec Part D.2) are the corpus's `series_key`, for every
//! point InfluxDB returned, and the 64-bit hash a door may keep is the hash of that key.

use linegate_core::pipeline::{prepare, Request};
use linegate_core::quota::{series_hash, BatchSeries};
use linegate_core::Limits;

#[test]
fn series_keys_and_hashes_match_every_corpus_point() {
    let Some(dir) = linegate_corpus::corpus_dir("series_keys_and_hashes_match_every_corpus_point")
    else {
        return;
    };
    let mut cases = linegate_corpus::load(&dir);
    cases.extend(linegate_corpus::load_v1(&dir));
    let mut checked = 0;
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
        let report = prepared.read(linegate_corpus::NOW, 1 << 20, |p| {
            keys.push(p.series_key());
            series.push(p);
        });
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
