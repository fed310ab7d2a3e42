//! `linegate check --accept-partial --accepted A.lp --rejected R.jsonl` over every row of
//! `partial-expected.jsonl`: the answer is the partial write's, A.lp is the forwarded body
//! (and is accepted whole when checked again), R.jsonl holds the corpus's failures.

use std::process::Command;

use linegate_corpus::{self as corpus, NOW};
use serde_json::Value;

fn run(args: &[String]) -> (Option<i32>, Vec<u8>) {
    let out = Command::new(env!("CARGO_BIN_EXE_linegate"))
        .arg("check")
        .args(args)
        .args(["--format", "jsonl", "--now", &NOW.to_string()])
        .output()
        .expect("run linegate");
    (out.status.code(), out.stdout)
}

#[test]
fn salvages_every_partial_row() {
    let Some(dir) = corpus::corpus_dir("salvages_every_partial_row") else {
        return;
    };
    let tmp = std::env::temp_dir().join(format!("linegate-cli-partial-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let rows = corpus::load_partial(&dir);
    let mut failures = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let case = &row.case;
        let input = tmp.join(format!("in-{i}.lp"));
        std::fs::write(&input, &case.body).unwrap();
        let (a, r) = (
            tmp.join(format!("a-{i}.lp")),
            tmp.join(format!("r-{i}.jsonl")),
        );
        let mut opts = Vec::new();
        if case.endpoint == linegate_core::Endpoint::V1 {
            opts.push("--v1".to_string());
        }
        if let Some(p) = &case.precision {
            opts.push(format!("--precision={p}"));
        }
        if let Some(ce) = &case.content_encoding {
            opts.push(format!("--content-encoding={ce}"));
        }
        let mut args = opts.clone();
        args.extend([
            "--accept-partial".to_string(),
            format!("--accepted={}", a.display()),
            format!("--rejected={}", r.display()),
            input.display().to_string(),
        ]);
        let name = format!("{} {} {}", case.endpoint.path(), case.run, case.file);
        let (code, stdout) = run(&args);
        let rec: Value = serde_json::from_slice(&stdout).expect("one jsonl record");
        if code != Some(1) || rec["status"] != 400 || rec["body"] != row.body_expected.as_str() {
            failures.push(format!("{name}: exit {code:?} record {rec}"));
            continue;
        }
        let accepted = std::fs::read(&a).unwrap();
        if let Err(e) = row.check_forwarded(&accepted) {
            failures.push(format!("{name}: {e}"));
        }
        // R.jsonl: the corpus's failures, in order.
        let want = case.row["failures"].as_array().unwrap();
        let got: Vec<Value> = std::fs::read(&r)
            .unwrap()
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect();
        let same = got.len() == want.len()
            && got.iter().zip(want).all(|(g, w)| {
                g["line"] == w["line"]
                    && g["reason"] == w["reason"]
                    && (!w["text"].is_string() || g["text"] == w["text"])
                    && g["file"] == input.display().to_string().as_str()
            });
        if !same {
            failures.push(format!("{name}: rejected {got:?}\n  want {want:?}"));
        }
        // A.lp sent again is accepted whole.
        let mut again = opts;
        again.push(a.display().to_string());
        let (code, stdout) = run(&again);
        if code != Some(0) {
            failures.push(format!(
                "{name}: A.lp rejected: {}",
                String::from_utf8_lossy(&stdout)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn split_outputs_need_the_switch() {
    let (code, _) = run(&["--accepted=/dev/null".to_string(), "-".to_string()]);
    assert_eq!(code, Some(2));
}
