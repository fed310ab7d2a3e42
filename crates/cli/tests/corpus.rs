//! The parity corpus (`../shared/corpus`): every recorded request through the core and through
//! the `linegate` binary gives InfluxDB's status, body and points.

use linegate_core::pipeline::{prepare, verdict};
use linegate_core::{json, Limits, Request, Verdict};
use linegate_corpus::{self as support, Case, NOW};
use serde_json::Value;

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
    let prepared = match prepare(case.endpoint, &req, &lim) {
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
    core_run(&support::load(&dir), "corpus", 2000);
}

#[test]
fn v1_corpus_through_the_core() {
    let Some(dir) = support::corpus_dir("v1_corpus_through_the_core") else {
        return;
    };
    core_run(&support::load_v1(&dir), "v1 corpus", 5000);
}

fn core_run(cases: &[Case], name: &str, at_least: usize) {
    let mut failures = Vec::new();
    for case in cases {
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
        "{name} through the core: {} cases checked, {} failed",
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
    assert!(
        cases.len() > at_least,
        "the {name} should hold over {at_least} cases"
    );
}

/// The command-line options that reproduce a case's request, and the path to pass.
fn cli_args(
    case: &Case,
    tmp: &std::path::Path,
    dir: &std::path::Path,
) -> (Vec<String>, std::path::PathBuf) {
    let mut args = Vec::new();
    if case.endpoint == linegate_core::Endpoint::V1 {
        args.push("--v1".to_string());
    }
    if let Some(p) = &case.precision {
        args.push(format!("--precision={p}"));
    }
    let path = if case.oracle_gzip {
        let p = tmp.join(format!("{}.gz", case.file.replace('/', "__")));
        std::fs::write(&p, &case.body).unwrap();
        p
    } else {
        dir.join("cases").join(&case.file)
    };
    let default_ce = path
        .extension()
        .is_some_and(|e| e == "gz")
        .then_some("gzip");
    if case.content_encoding.as_deref() != default_ce {
        args.push(format!(
            "--content-encoding={}",
            case.content_encoding.as_deref().unwrap_or("")
        ));
    }
    if let Some(n) = case.max_batch {
        args.push(format!("--max-batch={n}"));
    }
    (args, path)
}

#[test]
fn corpus_through_the_cli() {
    let Some(dir) = support::corpus_dir("corpus_through_the_cli") else {
        return;
    };
    corpus_run(&dir, true, None);
}

/// Without `--points` the CLI reads a body in two halves on two threads from
/// `LINEGATE_SPLIT_MIN` bytes on; at 0 every corpus body goes that way.
#[test]
fn corpus_through_the_cli_split_in_two() {
    let Some(dir) = support::corpus_dir("corpus_through_the_cli_split_in_two") else {
        return;
    };
    corpus_run(&dir, false, Some("0"));
}

/// Files are checked as they are read (like standard input) from `LINEGATE_STREAM_MIN`
/// bytes on; at 0 every corpus body, both corpora, goes through the incremental checker.
#[test]
fn corpus_through_the_cli_streamed() {
    let Some(dir) = support::corpus_dir("corpus_through_the_cli_streamed") else {
        return;
    };
    STREAM_ALL.with(|s| s.set(true));
    corpus_run(&dir, true, None);
    corpus_run_cases(&dir, &support::load_v1(&dir), true, None);
}

thread_local! {
    /// Set by the streamed run: the binary gets `LINEGATE_STREAM_MIN=0`.
    static STREAM_ALL: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// v1's `/write` (`--v1`): every row of `v1-expected.jsonl` through the binary.
#[test]
fn v1_corpus_through_the_cli() {
    let Some(dir) = support::corpus_dir("v1_corpus_through_the_cli") else {
        return;
    };
    corpus_run_cases(&dir, &support::load_v1(&dir), true, None);
}

fn corpus_run(dir: &std::path::Path, points: bool, split_min: Option<&str>) {
    corpus_run_cases(dir, &support::load(dir), points, split_min);
}

fn corpus_run_cases(dir: &std::path::Path, cases: &[Case], points: bool, split_min: Option<&str>) {
    let tmp = std::env::temp_dir().join(format!(
        "linegate-cli-corpus-{}-{}-{:?}-{}",
        std::process::id(),
        points,
        cases.first().map(|c| c.endpoint),
        STREAM_ALL.with(|s| s.get())
    ));
    std::fs::create_dir_all(&tmp).unwrap();
    // One run of the binary per distinct set of options, with all its files.
    // (options, [(case index, path)])
    type Group = (Vec<String>, Vec<(usize, std::path::PathBuf)>);
    let mut groups: Vec<Group> = Vec::new();
    let mut skipped = 0;
    for (i, case) in cases.iter().enumerate() {
        if !case.bucket {
            skipped += 1; // the CLI answers as for a request naming a bucket
            continue;
        }
        let (args, path) = cli_args(case, &tmp, dir);
        match groups.iter_mut().find(|g| g.0 == args) {
            Some(g) => g.1.push((i, path)),
            None => groups.push((args, vec![(i, path)])),
        }
    }
    let mut failures = Vec::new();
    let mut checked = 0;
    for (args, files) in &groups {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_linegate"));
        cmd.arg("check")
            .args(args)
            .args(["--format", "jsonl", "--now", &NOW.to_string()]);
        if points {
            cmd.arg("--points");
        }
        match split_min {
            Some(n) => cmd.env("LINEGATE_SPLIT_MIN", n),
            None => cmd.env_remove("LINEGATE_SPLIT_MIN"),
        };
        match STREAM_ALL.with(|s| s.get()) {
            true => cmd.env("LINEGATE_STREAM_MIN", "0"),
            false => cmd.env_remove("LINEGATE_STREAM_MIN"),
        };
        let out = cmd
            .args(files.iter().map(|f| &f.1))
            .output()
            .expect("run linegate");
        let lines: Vec<&[u8]> = out
            .stdout
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .collect();
        assert_eq!(lines.len(), files.len(), "one record per file for {args:?}");
        let mut any_rejected = false;
        for ((i, path), line) in files.iter().zip(lines) {
            let case = &cases[*i];
            let rec: Value = serde_json::from_slice(line).expect("jsonl record");
            assert_eq!(rec["file"].as_str().unwrap(), path.to_str().unwrap());
            let status = rec["status"].as_u64().unwrap() as u16;
            any_rejected |= status != 204;
            let body = rec["body"].as_str().unwrap();
            let got_points = rec.get("points").and_then(Value::as_array).cloned();
            let res = case
                .check_answer(status, body)
                .and_then(|()| match (status, got_points) {
                    (204, Some(p)) if !case.oracle_gzip => case.check_points(&p),
                    (204, Some(_)) => Ok(()),
                    (204, None) if points => Err("no points for an accepted file".into()),
                    (204, None) => Ok(()),
                    (_, Some(_)) => Err("points for a rejected file".into()),
                    (_, None) => Ok(()),
                });
            if let Err(e) = res {
                failures.push(format!("[{}] {}: {e}", case.run, case.file));
            }
            checked += 1;
        }
        let want_code = if any_rejected { 1 } else { 0 };
        assert_eq!(
            out.status.code(),
            Some(want_code),
            "exit status for {args:?}"
        );
    }
    std::fs::remove_dir_all(&tmp).ok();
    println!(
        "corpus through the CLI{}: {checked} cases checked in {} runs, {skipped} skipped (no-bucket runs need a live request), {} failed",
        if split_min.is_some() { " (split in two)" } else { "" },
        groups.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} cases differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(checked > 2000);
}
