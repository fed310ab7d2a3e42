//! The `linegate` command line as a user runs it.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn linegate(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_linegate"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The CLI stops reading once the answer is known (an invalid precision needs no body):
    // a closed pipe is then expected.
    match child.stdin.take().unwrap().write_all(stdin) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        r => r.unwrap(),
    }
    child.wait_with_output().unwrap()
}

fn tmp(name: &str, data: &[u8]) -> String {
    let dir = std::env::temp_dir().join(format!("linegate-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, data).unwrap();
    p.to_str().unwrap().to_string()
}

#[test]
fn exit_status_and_usage_errors() {
    let ok = linegate(&["check", "-"], b"m f=1 1\n");
    assert_eq!(ok.status.code(), Some(0));
    assert_eq!(
        ok.stdout,
        b"{\"file\":\"-\",\"status\":204,\"body\":\"\"}\n"
    );
    let bad = linegate(&["check", "-"], b"m f=1 1\nbad\n");
    assert_eq!(bad.status.code(), Some(1));
    let unknown = linegate(&["check", "--bogus", "-"], b"");
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("unknown option --bogus"));
    let missing = linegate(&["check", "/nonexistent/file.lp"], b"");
    assert_eq!(missing.status.code(), Some(2));
    assert!(missing.stdout.is_empty());
    assert_eq!(linegate(&["check"], b"").status.code(), Some(2));
    assert_eq!(linegate(&["frobnicate"], b"").status.code(), Some(2));
}

#[test]
fn precision_and_encoding_are_taken_verbatim() {
    // An invalid precision is InfluxDB's 400 record, not a usage error.
    let out = linegate(&["check", "--precision", "n", "-"], b"m f=1 1\n");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("invalid precision"));
    // Empty precision means ns.
    let out = linegate(&["check", "--precision=", "--points", "-"], b"m f=1 5\n");
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"time\":5,"));
    let out = linegate(
        &["check", "--precision", "s", "--points", "-"],
        b"m f=1 5\n",
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"time\":5000000000,"));
    // .gz files are sent as gzip unless told otherwise.
    let gz = tmp("a.lp.gz", &linegate_core::gzip::compress(b"m f=1 1\n"));
    assert_eq!(linegate(&["check", &gz], b"").status.code(), Some(0));
    let out = linegate(&["check", "--content-encoding", "identity", &gz], b"");
    assert_eq!(out.status.code(), Some(1));
    let out = linegate(&["check", "--content-encoding", "gzip", "-"], b"m f=1 1\n");
    assert!(String::from_utf8_lossy(&out.stdout).contains("An internal error has occurred"));
}

#[test]
fn now_fills_lines_without_timestamp() {
    let out = linegate(
        &[
            "check",
            "--now",
            "1700000000123456789",
            "--precision",
            "ms",
            "--points",
            "-",
        ],
        b"m f=1\n",
    );
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(s.contains("\"time\":1700000000123000000,"), "{s}");
}

#[test]
fn json_is_one_array_and_limits_apply() {
    let a = tmp("ok.lp", b"m f=1 1\n");
    let b = tmp("big.lp", b"m f=1 1\nm f=2 2\n");
    let out = linegate(
        &["check", "--format", "json", "--max-batch", "10", &a, &b],
        b"",
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 2);
    assert_eq!(v[0]["status"], 204);
    assert_eq!(v[1]["status"], 413);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn message_cap() {
    let body = "bad\n".repeat(1000);
    let out = linegate(&["check", "--max-message", "200", "-"], body.as_bytes());
    let rec: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let inner: serde_json::Value = serde_json::from_str(rec["body"].as_str().unwrap()).unwrap();
    let msg = inner["message"].as_str().unwrap();
    // 'unable to parse 'bad': missing fields' is 37 bytes; 5 of them and 4 "\n" fit in 200.
    assert_eq!(
        msg.matches("unable to parse 'bad': missing fields").count(),
        5
    );
    assert!(msg.ends_with("\n… and 995 more rejected lines"), "{msg}");
    assert_eq!(inner["line"], 1);
}

#[test]
fn human_report_points_at_the_spot() {
    let out = linegate(
        &["check", "--format", "human", "-"],
        b"m f=1 1\nm,t=a f=1i\r\n",
    );
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(s.contains("--> -:2:11"), "{s}");
    assert!(s.contains("m,t=a f=1i\\r"), "{s}");
    assert!(s.contains("          ^"), "{s}");
    assert!(s.contains("CRLF"), "{s}");
    assert!(s.contains("1 of 2 lines rejected"), "{s}");
    assert_eq!(out.status.code(), Some(1));
}

/// Standard input is read only until the answer is known: an invalid precision is answered
/// without reading a byte, and a body past `--max-body` stops the reading there.
#[test]
fn stdin_is_read_only_until_the_answer_is_known() {
    for (args, status) in [
        (&["check", "--precision", "n", "-"][..], "400"),
        (&["check", "--max-body", "1000000", "-"][..], "413"),
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_linegate"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        // Far more than the CLI needs: it must answer and exit without reading it all.
        let block = b"m f=1 1\n".repeat(1 << 13);
        let mut written = 0usize;
        while written < 1 << 30 {
            if stdin.write_all(&block).is_err() {
                break;
            }
            written += block.len();
        }
        assert!(written < 1 << 30, "{args:?}: the CLI read all of stdin");
        let out = child.wait_with_output().unwrap();
        assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("\"status\":{status}")));
    }
}
