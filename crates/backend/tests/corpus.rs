//! The parity corpus over HTTP: every recorded request, each into a fresh bucket of the real
//! server, gets InfluxDB's status and body (or storage's 422 where spec Part A §7 says so),
//! and the accepted points read back through export equal the recorded ones.

mod support;

use std::collections::HashMap;

use linegate_core::encode_query_value;
use linegate_core::{json, read_batch, ParseOptions, Precision};
use linegate_corpus::{load, same_points, NOW};
use serde_json::Value;
use support::Server;

const TOKEN: &str = "corpus-token";

fn field_len(v: &Value) -> usize {
    match v {
        Value::String(s) => s.len(),
        Value::Object(o) => o["hex"].as_str().map_or(0, |h| h.len() / 2),
        _ => 0,
    }
}

/// Whether storage rejects part of an accepted batch (spec Part B §6): a field named
/// `time`, a string over 1 MiB, or two types for one field in one shard group (a week).
fn storage_rejects(points: &[Value]) -> bool {
    const WEEK: i128 = 7 * 86_400 * 1_000_000_000;
    const MONDAY_SHIFT: i128 = 3 * 86_400 * 1_000_000_000;
    let mut types: HashMap<(String, String, i128), String> = HashMap::new();
    for p in points {
        let t: i128 = p["time"].to_string().parse().unwrap();
        let shard = (t + MONDAY_SHIFT).div_euclid(WEEK);
        for f in p["fields"].as_array().unwrap() {
            if f["key"] == "time" {
                return true;
            }
            if f["type"] == "string" && field_len(&f["value"]) > 1 << 20 {
                return true;
            }
            let k = (p["measurement"].to_string(), f["key"].to_string(), shard);
            let ty = f["type"].as_str().unwrap().to_string();
            if let Some(old) = types.insert(k, ty.clone()) {
                if old != ty {
                    return true;
                }
            }
        }
    }
    false
}

/// Points as storage keeps them: one per series and time, later fields replacing earlier.
fn merge(points: &[Value]) -> Vec<Value> {
    let mut order: Vec<(String, Value)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    // Per point: field key → position (a line of the corpus holds ~100k fields).
    let mut field_pos: Vec<HashMap<String, usize>> = Vec::new();
    for p in points {
        let key = format!("{}|{}|{}", p["measurement"], p["tags"], p["time"]);
        let i = *index.entry(key.clone()).or_insert_with(|| {
            let mut q = p.clone();
            q["fields"] = Value::Array(vec![]);
            order.push((key, q));
            field_pos.push(HashMap::new());
            order.len() - 1
        });
        let fields = order[i].1["fields"].as_array_mut().unwrap();
        for f in p["fields"].as_array().unwrap() {
            let k = f["key"].to_string();
            match field_pos[i].get(&k) {
                Some(&j) => fields[j] = f.clone(),
                None => {
                    field_pos[i].insert(k, fields.len());
                    fields.push(f.clone());
                }
            }
        }
    }
    let mut out: Vec<(String, Value)> = order;
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out.into_iter().map(|(_, v)| v).collect()
}

/// Exported line protocol read back as corpus-format points, sorted like `merge`.
fn read_export(text: &[u8]) -> Vec<Value> {
    let mut out: Vec<(String, Value)> = Vec::new();
    let r = read_batch(text, &ParseOptions::new(Precision::Ns, 0), 1 << 20, |p| {
        let mut j = Vec::new();
        json::write_point(&mut j, p);
        let v: Value = serde_json::from_slice(&j).unwrap();
        out.push((
            format!("{}|{}|{}", v["measurement"], v["tags"], v["time"]),
            v,
        ));
    });
    assert!(r.is_ok(), "export does not parse back: {:?}", r.first_error);
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out.into_iter().map(|(_, v)| v).collect()
}

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
