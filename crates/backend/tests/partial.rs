//! Partial writes on the real server (spec Part D.1): every row of
//! `partial-expected.jsonl` over HTTP (answer byte-exact, the accepted points read back,
//! the rejected lines in the quarantine), SIGKILL under partial-write load, and the
//! quarantine's bounds under a flood of bad lines.

mod support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use linegate_core::{encode_query_value, read_batch, Endpoint, ParseOptions};
use linegate_corpus::{load_partial, point_hex, NOW};
use serde_json::Value;
use support::{Resp, Server};

const TOKEN: &str = "partial-token";

fn auth() -> String {
    format!("Token {TOKEN}")
}

fn get(s: &Server, path: &str) -> Resp {
    get_as(s, TOKEN, path)
}

fn get_as(s: &Server, token: &str, path: &str) -> Resp {
    s.request(
        "GET",
        path,
        &[("Authorization", &format!("Token {token}"))],
        b"",
    )
}

/// A bucket's stored points, in write order, in `partial-expected.jsonl`'s format.
fn stored_points(s: &Server, bucket: &str) -> Vec<Value> {
    let e = get(s, &format!("/api/v2/export?org=o&bucket={bucket}&raw=true"));
    assert_eq!(e.status, 200, "{}", e.text());
    let mut out = Vec::new();
    let r = read_batch(&e.body, &ParseOptions::default(), 1 << 20, |p| {
        out.push(point_hex(p))
    });
    assert!(r.is_ok(), "export parses");
    out
}

fn quarantined(s: &Server, bucket: &str) -> Vec<Value> {
    quarantined_as(s, TOKEN, bucket)
}

fn quarantined_as(s: &Server, token: &str, bucket: &str) -> Vec<Value> {
    let r = get_as(
        s,
        token,
        &format!("/api/v2/quarantine?org=o&bucket={bucket}"),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    v["rejected"].as_array().unwrap().clone()
}

#[test]
fn every_partial_row_over_http() {
    let Some(shared) = support::shared_dir() else {
        eprintln!("SKIPPED every_partial_row_over_http: ../shared/corpus is absent (it sits beside the project root in CI)");
        return;
    };
    let rows = load_partial(&shared.join("corpus"));
    let dir = support::temp_dir("partial-corpus");
    let now = NOW.to_string();
    let mut args = support::setup("o", "b", TOKEN).to_vec();
    args.extend_from_slice(&["--now-ns", &now, "--partial-writes", "request"]);
    let server = Server::start(&dir, &args);
    let mut failures = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let c = &row.case;
        let bucket = format!("case{i}");
        support::create_bucket(&server, TOKEN, "o", &bucket);
        let mut q = match c.endpoint {
            Endpoint::V2 => format!("org=o&bucket={bucket}"),
            Endpoint::V1 => format!("db={bucket}&u=anyone&p={TOKEN}"),
        };
        if let Some(p) = &c.precision {
            q.push_str("&precision=");
            q.push_str(&encode_query_value(p.as_bytes()));
        }
        let auth = auth();
        let mut headers = Vec::new();
        if c.endpoint == Endpoint::V2 {
            headers.push(("Authorization", auth.as_str()));
        }
        if let Some(ce) = &c.content_encoding {
            headers.push(("Content-Encoding", ce.as_str()));
        }
        let path = c.endpoint.path();
        let name = format!("{path} {} {}", c.run, c.file);
        // Without the parameter, `request` mode answers as OSS: the whole batch's 400.
        let whole = server.request("POST", &format!("{path}?{q}"), &headers, &c.body);
        if let Err(e) = c.check_answer(whole.status, &whole.text()) {
            failures.push(format!("{name} (not partial): {e}"));
        }
        let r = server.request(
            "POST",
            &format!("{path}?{q}&accept_partial=true"),
            &headers,
            &c.body,
        );
        let res = if (r.status, r.text()) != (400, row.body_expected.clone()) {
            Err(format!(
                "answer {} {}\n  want {}",
                r.status,
                r.text(),
                row.body_expected
            ))
        } else if r.header("X-Platform-Error-Code") != Some("invalid") {
            Err("no X-Platform-Error-Code".into())
        } else {
            row.check_points(&stored_points(&server, &bucket))
                .and_then(|()| {
                    let q = quarantined(&server, &bucket);
                    let want = c.row["failures"].as_array().unwrap();
                    let same = q.len() == want.len()
                        && q.iter().zip(want).all(|(g, w)| {
                            g["line"] == w["line"]
                                && g["reason"] == w["reason"]
                                && (!w["text"].is_string() || g["text"] == w["text"])
                                && !g["destination"].as_str().unwrap().contains("p=")
                        });
                    if same {
                        Ok(())
                    } else {
                        Err(format!("quarantine {q:?}\n  want {want:?}"))
                    }
                })
        };
        if let Err(e) = res {
            failures.push(format!("{name}: {e}"));
        }
    }
    // The line-protocol download gives the lines alone; drop empties the bucket's share.
    let lp = get(&server, "/api/v2/quarantine?org=o&bucket=case0&format=lp");
    let texts: Vec<String> = quarantined(&server, "case0")
        .iter()
        .map(|e| format!("{}\n", e["text"].as_str().unwrap()))
        .collect();
    assert_eq!(lp.text(), texts.concat());
    let d = server.request(
        "DELETE",
        "/api/v2/quarantine?org=o&bucket=case0",
        &[("Authorization", &auth())],
        b"",
    );
    assert_eq!(d.status, 200, "{}", d.text());
    assert!(quarantined(&server, "case0").is_empty());
    assert!(!quarantined(&server, "case1").is_empty());
    assert_eq!(
        get(&server, "/api/v2/quarantine").status,
        200,
        "an all-access token lists every bucket"
    );
    assert_eq!(
        server.request("GET", "/api/v2/quarantine", &[], b"").status,
        401
    );
    // The subcommand reads the same store while the server runs.
    let data = server.data.to_str().unwrap().to_string();
    let (ok, out, err) = support::run(&["rejected", "--data", &data, "--bucket", "case1", "lp"]);
    assert!(ok, "{err}");
    assert_eq!(
        out,
        get(&server, "/api/v2/quarantine?org=o&bucket=case1&format=lp").body
    );
    let (ok, out, _) = support::run(&["rejected", "--data", &data, "list"]);
    assert!(ok && out.split(|&b| b == b'\n').filter(|l| !l.is_empty()).count() > 10);
    let (ok, _, err) = support::run(&["rejected", "--data", &data, "--bucket", "case1", "drop"]);
    assert!(ok, "{err}");
    assert!(quarantined(&server, "case1").is_empty());
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

const LINES: usize = 10;

/// Every partial write answered (its 400 after the accepted lines were committed) is
/// stored exactly once, its rejected line in the quarantine, across SIGKILLs.
#[test]
fn answered_partial_writes_survive_sigkill() {
    let dir = support::temp_dir("partial-crash");
    let data = dir.join("data");
    let mut args = support::setup("o", "b", "t").to_vec();
    args.extend_from_slice(&["--partial-writes", "always"]);
    let mut server = Server::start(&data, &args);
    let addr = Arc::new(Mutex::new(server.addr.clone()));
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Vec::<u64>::new()));
    let clients: Vec<_> = (0..3u64)
        .map(|th| {
            let (addr, stop, acked) = (addr.clone(), stop.clone(), acked.clone());
            std::thread::spawn(move || {
                let mut i = 0u64;
                while !stop.load(Ordering::SeqCst) {
                    i += 1;
                    let id = th * 1_000_000 + i;
                    let mut body = String::new();
                    for j in 0..LINES as u64 {
                        body.push_str(&format!("crash,batch={id} v={j}i {}\n", id * 100 + j));
                        if j == 4 {
                            body.push_str(&format!("bad{id}\n"));
                        }
                    }
                    let a = addr.lock().unwrap().clone();
                    match support::request(
                        &a,
                        "POST",
                        "/api/v2/write?org=o&bucket=b",
                        &[("Authorization", "Token t")],
                        body.as_bytes(),
                    ) {
                        Ok(r) if r.status == 400 && r.text().contains("partial write error") => {
                            acked.lock().unwrap().push(id)
                        }
                        Ok(r) => panic!("unexpected answer {} {}", r.status, r.text()),
                        Err(_) => std::thread::sleep(Duration::from_millis(10)),
                    }
                }
            })
        })
        .collect();
    for k in 0..4 {
        std::thread::sleep(Duration::from_millis(400 + 150 * k));
        server.kill();
        server = Server::start(&data, &["--partial-writes", "always"]);
        *addr.lock().unwrap() = server.addr.clone();
    }
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::SeqCst);
    for c in clients {
        c.join().unwrap();
    }
    server.kill();
    let acked = acked.lock().unwrap().clone();
    let raw = support::export_cli(&data, "b", &["--raw"]);
    let mut count: HashMap<u64, usize> = HashMap::new();
    for l in raw.lines() {
        let id: u64 = l
            .split([',', ' '])
            .find_map(|kv| kv.strip_prefix("batch="))
            .and_then(|v| v.parse().ok())
            .expect("batch tag");
        *count.entry(id).or_default() += 1;
    }
    let d = data.to_str().unwrap();
    let (ok, lp, err) = support::run(&["rejected", "--data", d, "lp"]);
    assert!(ok, "{err}");
    let mut bad: HashMap<u64, usize> = HashMap::new();
    for l in String::from_utf8(lp).unwrap().lines() {
        *bad.entry(l.strip_prefix("bad").unwrap().parse().unwrap())
            .or_default() += 1;
    }
    println!(
        "partial crash test: {} answered, {} stored, {} quarantined",
        acked.len(),
        count.len(),
        bad.len()
    );
    assert!(
        acked.len() >= 30,
        "too few answered writes to mean anything"
    );
    for id in &acked {
        assert_eq!(
            count.get(id),
            Some(&LINES),
            "answered batch {id} not stored once"
        );
        assert_eq!(
            bad.get(id),
            Some(&1),
            "answered batch {id}: its rejected line"
        );
    }
    for (id, n) in &count {
        assert_eq!(*n, LINES, "batch {id} stored in part or twice");
        assert_eq!(
            bad.get(id),
            Some(&1),
            "batch {id} stored without its rejected line"
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}

fn metric(s: &Server, name: &str) -> u64 {
    let m = s.request("GET", "/metrics", &[], b"").text();
    m.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} in /metrics"))
}

/// A flood of bad lines: writes keep succeeding, the quarantine stays within its bound
/// (oldest dropped first), and the metric counts what was dropped.
#[test]
fn quarantine_bounds_hold_under_a_flood() {
    let (dir, server) = support::serve(
        "partial-flood",
        &["--partial-writes", "always", "--quarantine-bytes", "200000"],
    );
    let mut rejected = 0u64;
    for round in 0..40u64 {
        let mut body = format!("m v={round}i {round}\n");
        for k in 0..500u64 {
            body.push_str(&format!("flood{round}x{k} nonsense\n"));
        }
        let r = server.write("tok", "org=o&bucket=b", body.as_bytes());
        assert_eq!(r.status, 400, "{}", r.text());
        assert!(r.text().starts_with(
            r#"{"code":"invalid","message":"partial write error (1 accepted): 500 out of 501 lines rejected\n"#
        ));
        rejected += 500;
    }
    // Every accepted line is stored.
    assert_eq!(
        support::export_cli(&server.data, "b", &["--raw"])
            .lines()
            .count(),
        40
    );
    let list = quarantined_as(&server, "tok", "b");
    let kept: u64 = list
        .iter()
        .map(|e| {
            (e["text"].as_str().unwrap().len() + e["reason"].as_str().unwrap().len() + 32) as u64
        })
        .sum();
    assert!(kept <= 200_000, "quarantine holds {kept} bytes");
    assert!(
        kept > 150_000,
        "quarantine holds {kept} bytes: too few kept"
    );
    // The newest are kept, the oldest went first.
    assert!(list.last().unwrap()["text"]
        .as_str()
        .unwrap()
        .starts_with("flood39x499"));
    assert!(!list
        .iter()
        .any(|e| e["text"].as_str().unwrap().starts_with("flood0x")));
    let (stored, dropped) = (
        metric(&server, "linegate_quarantine_lines_total"),
        metric(&server, "linegate_quarantine_dropped_total"),
    );
    assert_eq!(stored, rejected);
    assert_eq!(dropped, rejected - list.len() as u64);
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}
