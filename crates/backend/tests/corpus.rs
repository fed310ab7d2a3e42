//! The parity corpus over HTTP: every recorded request, each into a fresh bucket of the real
//! server, gets InfluxDB's status and body (or storage's 422 where spec Part A §7 says so),
//! and the accepted points read back through export equal the recorded ones.

mod support;

use std::collections::HashMap;

use linegate_core::{json, read_batch, ParseOptions, Precision};
use serde_json::Value;
use support::Server;

const NOW: i64 = 1_700_000_000_123_456_789;
const TOKEN: &str = "corpus-token";

struct Case {
    row: Value,
    run: String,
    file: String,
    body: Vec<u8>,
    oracle_gzip: bool,
    precision: Option<String>,
    content_encoding: Option<String>,
    bucket: bool,
    max_batch: Option<usize>,
    status: u16,
    body_expected: String,
}

fn load(corpus: &std::path::Path) -> Vec<Case> {
    let text = std::fs::read(corpus.join("expected.jsonl")).expect("read expected.jsonl");
    // Rows hold raw U+2028 and friends: split on LF only.
    text.split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| {
            let row: Value = serde_json::from_slice(l).expect("corpus row is JSON");
            let run = row["run"].as_str().unwrap().to_string();
            let file = row["file"].as_str().unwrap().to_string();
            let raw = std::fs::read(corpus.join("cases").join(&file)).expect("case file");
            let oracle_gzip = row["gzipped_by_oracle"].as_bool().unwrap_or(false);
            let body = if oracle_gzip {
                linegate_core::gzip::compress(&raw)
            } else {
                raw
            };
            let max_batch = run.strip_prefix("max-batch-bytes=").map(|s| {
                s.split(|c: char| !c.is_ascii_digit())
                    .next()
                    .unwrap()
                    .parse()
                    .unwrap()
            });
            Case {
                precision: row["precision"].as_str().map(str::to_string),
                content_encoding: row["content_encoding"].as_str().map(str::to_string),
                bucket: !run.starts_with("no-bucket-param"),
                status: row["status"].as_u64().unwrap() as u16,
                body_expected: row["body"].as_str().unwrap().to_string(),
                run,
                file,
                body,
                oracle_gzip,
                max_batch,
                row,
            }
        })
        .collect()
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// OSS's answer with linegate's `line` added to parse errors (spec Part A §1).
fn expected_body(c: &Case) -> String {
    let line = c.row["failures"]
        .get(0)
        .map(|f| f["line"].as_u64().unwrap());
    match line {
        Some(n) if c.status == 400 => {
            let inner = c.body_expected.strip_suffix('}').unwrap();
            format!("{inner},\"line\":{n}}}")
        }
        _ => c.body_expected.clone(),
    }
}

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

fn same_points(got: &[Value], want: &[Value]) -> Result<(), String> {
    if got.len() != want.len() {
        return Err(format!(
            "{} points read back, want {}",
            got.len(),
            want.len()
        ));
    }
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        for k in ["measurement", "tags", "time"] {
            if g[k] != w[k] {
                return Err(format!("point {i}: {k} {} want {}", g[k], w[k]));
            }
        }
        let (gf, wf) = (
            g["fields"].as_array().unwrap(),
            w["fields"].as_array().unwrap(),
        );
        if gf.len() != wf.len() {
            return Err(format!("point {i}: {} fields want {}", gf.len(), wf.len()));
        }
        for (a, b) in gf.iter().zip(wf) {
            let same = a["key"] == b["key"]
                && a["type"] == b["type"]
                && if b["type"] == "float" {
                    a["f64_bits"] == b["f64_bits"]
                } else {
                    a["value"] == b["value"]
                };
            if !same {
                return Err(format!("point {i}: field {a} want {b}"));
            }
        }
    }
    Ok(())
}

fn start(dir: &std::path::Path, max_batch: Option<usize>) -> Server {
    let now = NOW.to_string();
    let mb = max_batch.map(|n| n.to_string());
    let mut args = vec![
        "--setup-org",
        "o",
        "--setup-bucket",
        "b",
        "--setup-token",
        TOKEN,
        "--now-ns",
        &now,
    ];
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
            q.push_str(&encode(p));
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
        } else if body != expected_body(c) {
            Err(format!("body\n  got  {body}\n  want {}", expected_body(c)))
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
            same_points(&read_export(&e.body), &merge(&points))
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
