//! The parity corpus over HTTP: every recorded request, each into a fresh bucket of the real
//! server, gets InfluxDB's status and body (or storage's 422 where spec Part A §7 says so),
//! and the accepted points read back through export equal the recorded ones.

mod support;

use std::collections::HashMap;

use linegate_core::encode_query_value;
use linegate_corpus::{load, same_points, NOW};
use serde_json::Value;
use support::points::{merge, read_export, storage_rejects};
use support::Server;

const TOKEN: &str = "corpus-token";

fn start(dir: &std::path::Path, max_batch: Option<usize>) -> Server {
    let now = NOW.to_string();
    let mb = max_batch.map(|n| n.to_string());
    let mut args = support::setup("o", "b", TOKEN).to_vec();
    args.extend_from_slice(&["--now-ns", &now]);
    if let Some(n) = &mb {
        args.extend_from_slice(&["--max-batch", n]);
    }
    Server::start(dir, &args)
}

#[test]
fn corpus_over_http() {
    let Some(shared) = support::shared_dir() else {
        eprintln!("SKIPPED corpus_over_http: ../shared/corpus is absent (it sits beside the project root in CI)");
        return;
    };
    let cases = load(&shared.join("corpus"));
    assert!(cases.len() > 2000, "the corpus should hold over 2000 cases");
    let root = support::temp_dir("corpus");
    let mut servers: HashMap<Option<usize>, Server> = HashMap::new();
    // Rows of gzip-compressed-by-oracle runs carry no points: the plain rows of the same file
    // and precision do.
    let mut plain_points: HashMap<(String, Option<String>), Vec<Value>> = HashMap::new();
    for c in cases.iter().filter(|c| !c.oracle_gzip && c.status == 204) {
        let pts = c.row["points"].as_array().cloned().unwrap_or_default();
        plain_points.insert((c.file.clone(), c.precision.clone()), pts);
    }
    let mut failures = Vec::new();
    let (mut checked_points, mut storage_422) = (0usize, 0usize);
    for (i, c) in cases.iter().enumerate() {
        let server = servers.entry(c.max_batch).or_insert_with(|| {
            let d = root.join(format!("srv-{}", c.max_batch.unwrap_or(0)));
            start(&d, c.max_batch)
        });
        let bucket = format!("case{i}");
        support::create_bucket(server, TOKEN, "o", &bucket);
        let mut q = String::from("org=o");
        if c.bucket {
            q.push_str("&bucket=");
            q.push_str(&bucket);
        }
        if let Some(p) = &c.precision {
            q.push_str("&precision=");
            q.push_str(&encode_query_value(p.as_bytes()));
        }
        let auth = format!("Token {TOKEN}");
        let mut headers = vec![("Authorization", auth.as_str())];
        if let Some(ce) = &c.content_encoding {
            headers.push(("Content-Encoding", ce.as_str()));
        }
        let t0 = std::time::Instant::now();
        let r = server.request("POST", &format!("/api/v2/write?{q}"), &headers, &c.body);
        if std::env::var("LINEGATE_TEST_TRACE").is_ok() {
            eprintln!(
                "case {i} {} {}: {} in {:?}",
                c.run,
                c.file,
                r.status,
                t0.elapsed()
            );
        }
        let body = r.text();
        let points: Vec<Value> = if c.oracle_gzip {
            let p = c.precision.clone().or(Some("ns".into()));
            let none = plain_points.get(&(c.file.clone(), None));
            plain_points
                .get(&(c.file.clone(), p))
                .or(none)
                .cloned()
                .unwrap_or_default()
        } else {
            c.row["points"].as_array().cloned().unwrap_or_default()
        };
        let res = if c.status == 204 && storage_rejects(&points) {
            storage_422 += 1;
            if r.status == 422
                && body.starts_with(r#"{"code":"unprocessable entity","message":"failure writing points to database: partial write: "#)
            {
                Ok(())
            } else {
                Err(format!("status {} body {body}, want storage's 422", r.status))
            }
        } else if r.status != c.status {
            Err(format!(
                "status {}, want {}; body {body}",
                r.status, c.status
            ))
        } else if body.contains("flate: corrupt input before offset") {
            // Go's offset may differ (spec Part A §2): the code must match.
            let code = |b: &str| {
                serde_json::from_str::<Value>(b)
                    .ok()
                    .map(|v| v["code"].clone())
            };
            if code(&body) == code(&c.body_expected) {
                Ok(())
            } else {
                Err(format!("body {body}"))
            }
        } else if body != c.expected_body() {
            Err(format!("body\n  got  {body}\n  want {}", c.expected_body()))
        } else if r.status >= 400 && r.header("x-platform-error-code").is_none() {
            Err("no X-Platform-Error-Code header".into())
        } else if c.status == 204 && !c.oracle_gzip {
            let auth = format!("Token {TOKEN}");
            let e = server.request(
                "GET",
                &format!("/api/v2/export?org=o&bucket={bucket}"),
                &[("Authorization", &auth)],
                b"",
            );
            checked_points += points.len();
            same_points(&read_export(&e.body), &merge(&points), false)
        } else {
            Ok(())
        };
        if let Err(e) = res {
            failures.push(format!("[{}] {}: {e}", c.run, c.file));
        }
    }
    // The CLI export reads the same store while the server runs.
    let main = servers.get(&None).unwrap();
    let cli = support::export_cli(&main.data, "case0", &[]);
    let http = main.request(
        "GET",
        "/api/v2/export?org=o&bucket=case0",
        &[("Authorization", &format!("Token {TOKEN}"))],
        b"",
    );
    assert_eq!(cli.as_bytes(), &http.body[..]);
    println!(
        "corpus over HTTP: {} cases, {} points read back, {} storage 422s, {} failed",
        cases.len(),
        checked_points,
        storage_422,
        failures.len()
    );
    drop(servers);
    let _ = std::fs::remove_dir_all(&root);
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    assert!(checked_points > 1000);
}
