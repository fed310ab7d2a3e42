//! Partial writes (spec Part D.1) against `partial-expected.jsonl`: for every row, the split
//! (one-shot and incremental) gives the counts, the exact answer, the forwarded body (sha256)
//! and the points; every other corpus row answers exactly as without the switch.

use linegate_core::partial::{self, Decision, Split, DEFAULT_KEEP};
use linegate_core::{check_request, read_batch, Checker, Endpoint, Limits, Request, Verdict};
use linegate_corpus::{self as corpus, point_hex, Case, NOW};
use serde_json::Value;

fn limits(case: &Case) -> Limits {
    let mut l = Limits::default();
    if let Some(n) = case.max_batch {
        l.max_batch = n;
    }
    l
}

fn request<'a>(case: &'a Case, query: &'a str) -> Request<'a> {
    Request {
        query: query.as_bytes(),
        authorization: Some(b"Token t"),
        content_encoding: case.content_encoding.as_deref().map(str::as_bytes),
        body: &case.body,
    }
}

/// The one-shot split of a case, with the points of its accepted lines.
/// A rejection before parsing: status and body.
type Early = (u16, Vec<u8>);

fn one_shot(case: &Case) -> Result<(Split, Vec<Value>), Early> {
    let query = case.query();
    let limits = limits(case);
    let prepared = linegate_core::pipeline::prepare(case.endpoint, &request(case, &query), &limits)
        .map_err(|r| (r.status, r.body))?;
    let mut points = Vec::new();
    let (_, split) = partial::split_batch(
        &prepared.body,
        &prepared.time.options(NOW),
        limits.max_message,
        DEFAULT_KEEP,
        |p| points.push(point_hex(p)),
    );
    Ok((split, points))
}

/// The incremental split, fed `chunk` bytes at a time, taking the accepted lines as they
/// come; the answer of a rejection before parsing as `Err`.
fn incremental(case: &Case, chunk: usize) -> Result<(Split, Vec<Value>), Early> {
    let query = case.query();
    let limits = limits(case);
    let head = request(case, &query).head(case.endpoint);
    let mut c = Checker::for_request(&head, &limits, NOW)
        .accept_partial(DEFAULT_KEEP)
        .eager();
    let mut points = Vec::new();
    let mut body = Vec::new();
    let mut see = |p: &linegate_core::Point<'_>| points.push(point_hex(p));
    for ch in case.body.chunks(chunk.max(1)) {
        c.push_with(ch, &mut see);
        body.extend(c.take_accepted());
    }
    let (v, split) = c.finish_split_with(&mut see);
    let Some(mut split) = split else {
        return Err((v.status, v.body));
    };
    body.extend_from_slice(&split.body);
    split.body = body;
    Ok((split, points))
}

fn check_row(row: &corpus::PartialCase, split: &Split, points: &[Value]) -> Result<(), String> {
    let Decision::Partial(r) = split.decision() else {
        return Err(format!("not partial: {:?}", split.decision()));
    };
    let got = String::from_utf8_lossy(&r.body);
    if got != row.body_expected {
        return Err(format!(
            "answer\n  got  {got}\n  want {}",
            row.body_expected
        ));
    }
    if (r.status, r.code, r.line) != (400, "invalid", Some(row.line)) {
        return Err(format!("{} {} {:?}", r.status, r.code, r.line));
    }
    if (split.accepted, split.rejected) != (row.accepted, row.rejected) {
        return Err(format!("counts {} {}", split.accepted, split.rejected));
    }
    if split.kept.len() as u64 != row.rejected {
        return Err("not every rejected line kept".into());
    }
    row.check_forwarded(&split.body)?;
    row.check_points(points)?;
    // The forwarded body, sent again, is accepted whole with the same points.
    let opts = linegate_core::ParseOptions::new(
        linegate_core::pipeline::prepare(
            row.case.endpoint,
            &request(&row.case, &row.case.query()),
            &limits(&row.case),
        )
        .unwrap()
        .time
        .precision,
        NOW,
    );
    let mut again = Vec::new();
    let report = read_batch(&split.body, &opts, 1 << 20, |p| again.push(point_hex(p)));
    if !report.is_ok() || report.points != row.accepted {
        return Err(format!(
            "forwarded body rejected: {:?}",
            report.error_body()
        ));
    }
    Ok(())
}

#[test]
fn every_partial_row() {
    let Some(dir) = corpus::corpus_dir("every_partial_row") else {
        return;
    };
    let rows = corpus::load_partial(&dir);
    assert!(rows.len() >= 75, "{} rows", rows.len());
    let mut failures = Vec::new();
    for row in &rows {
        let name = format!(
            "{} {} {}",
            row.case.endpoint.path(),
            row.case.run,
            row.case.file
        );
        let mut runs = vec![("one-shot", one_shot(&row.case))];
        for chunk in [1, 7, 4096] {
            runs.push(("incremental", incremental(&row.case, chunk)));
        }
        for (how, got) in runs {
            let res = match got {
                Ok((split, points)) => check_row(row, &split, &points),
                Err((status, body)) => Err(format!(
                    "rejected early: {status} {}",
                    String::from_utf8_lossy(&body)
                )),
            };
            if let Err(e) = res {
                failures.push(format!("{name} ({how}): {e}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Rows with R = 0 or A = 0 (and every answer before parsing) are exactly as today. Rows the
/// partial file leaves out but that split by the rule (gzip bodies: it lists plain runs) get
/// the whole batch's 400 under the counts line.
#[test]
fn other_rows_as_today() {
    let Some(dir) = corpus::corpus_dir("other_rows_as_today") else {
        return;
    };
    let partial: Vec<(Endpoint, String, String)> = corpus::load_partial(&dir)
        .into_iter()
        .map(|r| (r.case.endpoint, r.case.run, r.case.file))
        .collect();
    let cases = corpus::load(&dir).into_iter().chain(corpus::load_v1(&dir));
    let (mut n, mut split_too) = (0, 0);
    for case in cases {
        if partial.contains(&(case.endpoint, case.run.clone(), case.file.clone())) {
            continue;
        }
        n += 1;
        let query = case.query();
        let today = match linegate_core::pipeline::prepare(
            case.endpoint,
            &request(&case, &query),
            &limits(&case),
        ) {
            Ok(p) => {
                linegate_core::pipeline::verdict(&p.read(NOW, limits(&case).max_message, |_| {}))
            }
            Err(r) => Verdict::Reject(r),
        };
        if case.endpoint == Endpoint::V2 {
            assert_eq!(
                today,
                check_request(&request(&case, &query), &limits(&case), NOW)
            );
        }
        for got in [
            one_shot(&case).map(|s| s.0),
            incremental(&case, 4096).map(|s| s.0),
        ] {
            let same = match (&today, got) {
                (Verdict::Forward { .. }, Ok(s)) => s.decision() == Decision::Forward,
                (Verdict::Reject(r), Ok(s)) if s.accepted > 0 && s.rejected > 0 => {
                    split_too += 1;
                    let want = linegate_core::Rejection::partial_parse(s.accepted, s.rejected, r);
                    s.decision() == Decision::Partial(want)
                }
                (Verdict::Reject(r), Ok(s)) => s.decision() == Decision::Reject(r.clone()),
                (Verdict::Reject(r), Err(e)) => (r.status, &r.body) == (e.0, &e.1),
                (Verdict::Forward { .. }, Err(_)) => false,
            };
            assert!(same, "{} {} {}", case.endpoint.path(), case.run, case.file);
        }
    }
    println!("{n} other rows as today, {split_too} of them split by the rule too (gzip bodies)");
    assert!(n > 100, "{n} rows");
}
