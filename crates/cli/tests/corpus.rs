//! The parity corpus (`../shared/corpus`): every recorded request through the core and through
//! the `linegate` binary gives InfluxDB's status, body and points.

mod support;

use linegate_core::{json, prepare, verdict, Limits, Request, Verdict};
use serde_json::Value;
use support::{Case, NOW};

fn limits(case: &Case) -> Limits {
    let mut l = Limits::default();
    if let Some(n) = case.max_batch {
        l.max_batch = n;
    }
    l
}

/// Runs one case through the core's request check; returns (status, body, points).
fn run_core(case: &Case) -> (u16, String, Vec<Value>) {
    let query = case.query();
    let req = Request {
        query: query.as_bytes(),
        authorization: Some(b"Token t"),
        content_encoding: case.content_encoding.as_deref().map(str::as_bytes),
        body: &case.body,
    };
    let lim = limits(case);
    let prepared = match prepare(&req, &lim) {
        Ok(p) => p,
        Err(r) => return (r.status, String::from_utf8(r.body).unwrap(), vec![]),
    };
    let mut points = Vec::new();
    let report = prepared.read(NOW, lim.max_message, |p| {
        let mut out = Vec::new();
        json::write_point(&mut out, p);
        points.push(serde_json::from_slice(&out).expect("point JSON"));
    });
    match verdict(&report) {
        Verdict::Forward { .. } => (204, String::new(), points),
        Verdict::Reject(r) => (r.status, String::from_utf8(r.body).unwrap(), vec![]),
    }
}

#[test]
fn corpus_through_the_core() {
    let Some(dir) = support::corpus_dir("corpus_through_the_core") else {
        return;
    };
    let cases = support::load(&dir);
    let mut failures = Vec::new();
    for case in &cases {
        let (status, body, points) = run_core(case);
        let res = case.check_answer(status, &body).and_then(|()| {
            if status == 204 && !case.oracle_gzip {
                case.check_points(&points)
            } else {
                Ok(())
            }
        });
        if let Err(e) = res {
            failures.push(format!("[{}] {}: {e}", case.run, case.file));
        }
    }
    println!(
        "corpus through the core: {} cases checked, {} failed",
        cases.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    assert!(cases.len() > 2000, "the corpus should hold over 2000 cases");
}
