//! Reading `../shared/corpus` — InfluxDB OSS v2's recorded answers — for the parity tests
//! of every part of linegate (core, CLI, backend). See `../shared/corpus/README.md`.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// The server clock the corpus was recorded with.
pub const NOW: i64 = 1_700_000_000_123_456_789;

/// `../shared` beside the workspace root, when it holds the corpus. Cargo sets
/// `CARGO_MANIFEST_DIR` (a `crates/<name>` directory) when it runs tests: reading it then
/// lets a test binary built in a shared target directory look beside its own checkout.
pub fn shared_dir() -> Option<PathBuf> {
    let manifest = std::env::var("CARGO_MANIFEST_DIR")
        .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string());
    let dir = PathBuf::from(manifest).join("../../../shared");
    dir.join("corpus/expected.jsonl").is_file().then_some(dir)
}

/// The corpus directory, or `None` after saying clearly that the test is skipped.
pub fn corpus_dir(test: &str) -> Option<PathBuf> {
    match shared_dir() {
        Some(d) => Some(d.join("corpus")),
        None => {
            eprintln!("SKIPPED {test}: ../shared/corpus is absent (it sits beside the project root in CI)");
            None
        }
    }
}

/// One recorded request and InfluxDB's answer.
pub struct Case {
    /// `/api/v2/write` (`expected.jsonl`) or v1's `/write` (`v1-expected.jsonl`).
    pub endpoint: linegate_core::Endpoint,
    pub row: Value,
    pub run: String,
    pub file: String,
    /// The body as sent.
    pub body: Vec<u8>,
    /// Whether the body was gzipped by the oracle (the file holds the plain text).
    pub oracle_gzip: bool,
    pub precision: Option<String>,
    pub content_encoding: Option<String>,
    pub bucket: bool,
    pub max_batch: Option<usize>,
    pub status: u16,
    pub body_expected: String,
}

/// Every row of `expected.jsonl` (requests to `/api/v2/write`), with its body as sent.
pub fn load(corpus: &Path) -> Vec<Case> {
    load_file(corpus, "expected.jsonl", linegate_core::Endpoint::V2)
}

/// Every row of `v1-expected.jsonl` (requests to v1's `/write?db=b`), with its body as sent.
pub fn load_v1(corpus: &Path) -> Vec<Case> {
    load_file(corpus, "v1-expected.jsonl", linegate_core::Endpoint::V1)
}

fn load_file(corpus: &Path, name: &str, endpoint: linegate_core::Endpoint) -> Vec<Case> {
    let text = std::fs::read(corpus.join(name)).expect("read the corpus rows");
    // Split on LF only: rows hold raw U+2028 and friends.
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
                endpoint,
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

impl Case {
    pub fn query(&self) -> String {
        let mut q = match self.endpoint {
            linegate_core::Endpoint::V2 => String::from("org=o"),
            linegate_core::Endpoint::V1 => String::from("db=b"),
        };
        if self.bucket && self.endpoint == linegate_core::Endpoint::V2 {
            q.push_str("&bucket=b");
        }
        if let Some(p) = &self.precision {
            q.push_str("&precision=");
            q.push_str(&linegate_core::encode_query_value(p.as_bytes()));
        }
        q
    }

    /// The one case whose message may differ (Go's corrupt-deflate offset, spec Part A §2).
    pub fn offset_exempt(&self) -> bool {
        self.body_expected
            .contains("flate: corrupt input before offset")
    }

    /// InfluxDB's body with linegate's `line` added to parse errors (spec Part A §1).
    pub fn expected_body(&self) -> String {
        let want_line = self.row["failures"]
            .get(0)
            .map(|f| f["line"].as_u64().unwrap());
        match want_line {
            Some(n) if self.status == 400 => {
                let inner = self.body_expected.strip_suffix('}').unwrap();
                format!("{inner},\"line\":{n}}}")
            }
            _ => self.body_expected.clone(),
        }
    }

    /// The recorded points (corpus format), empty for rejected batches.
    pub fn points(&self) -> Vec<Value> {
        self.row["points"].as_array().cloned().unwrap_or_default()
    }

    /// The request path.
    pub fn path(&self) -> &'static str {
        self.endpoint.path()
    }

    /// Checks our answer (status and exact body) against InfluxDB's.
    pub fn check_answer(&self, status: u16, body: &str) -> Result<(), String> {
        if status != self.status {
            return Err(format!(
                "status {status}, want {}; body {body}",
                self.status
            ));
        }
        if self.offset_exempt() {
            let code = |b: &str| {
                serde_json::from_str::<Value>(b)
                    .ok()
                    .map(|v| v["code"].clone())
            };
            return if code(body) == code(&self.body_expected)
                && body.contains("flate: corrupt input before offset")
            {
                Ok(())
            } else {
                Err(format!("body {body}"))
            };
        }
        let want_line = self.row["failures"]
            .get(0)
            .map(|f| f["line"].as_u64().unwrap());
        let expected = match want_line {
            Some(n) if self.status == 400 => {
                let inner = self.body_expected.strip_suffix('}').unwrap();
                format!("{inner},\"line\":{n}}}")
            }
            _ => self.body_expected.clone(),
        };
        if body != expected {
            return Err(format!("body\n  got  {body}\n  want {expected}"));
        }
        Ok(())
    }

    /// Compares points rendered in the corpus format with the recorded ones.
    pub fn check_points(&self, got: &[Value]) -> Result<(), String> {
        same_points(got, &self.points(), true)
    }
}

/// Whether two lists of corpus-format points are equal: measurement, tags, time, fields in
/// order (floats by their bits), and the physical `line` when `with_line`.
pub fn same_points(got: &[Value], want: &[Value], with_line: bool) -> Result<(), String> {
    if got.len() != want.len() {
        return Err(format!("{} points, want {}", got.len(), want.len()));
    }
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        for k in ["measurement", "tags", "time", "line"] {
            if (k != "line" || with_line) && g[k] != w[k] {
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

/// One row of `partial-expected.jsonl` (spec Part D.1): a 400 of `expected.jsonl` or
/// `v1-expected.jsonl` with accepted lines, and what a partial write of it gives.
pub struct PartialCase {
    /// The request, as its row in `expected.jsonl` / `v1-expected.jsonl` has it.
    pub case: Case,
    pub row: Value,
    pub accepted: u64,
    pub rejected: u64,
    pub line: u64,
    /// The exact D.1.2 answer.
    pub body_expected: String,
    pub forwarded_sha256: String,
    pub forwarded_len: usize,
}

/// Every row of `partial-expected.jsonl`, joined with its request.
pub fn load_partial(corpus: &Path) -> Vec<PartialCase> {
    let mut cases: Vec<Option<Case>> = load(corpus)
        .into_iter()
        .chain(load_v1(corpus))
        .map(Some)
        .collect();
    let text = std::fs::read(corpus.join("partial-expected.jsonl")).expect("read partial rows");
    text.split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| {
            let row: Value = serde_json::from_slice(l).expect("partial row is JSON");
            let endpoint = match row["endpoint"].as_str() {
                Some("v1") => linegate_core::Endpoint::V1,
                _ => linegate_core::Endpoint::V2,
            };
            let slot = cases
                .iter_mut()
                .find(|c| {
                    c.as_ref().is_some_and(|c| {
                        c.endpoint == endpoint && c.run == row["run"] && c.file == row["file"]
                    })
                })
                .expect("a partial row has its request row");
            PartialCase {
                case: slot.take().unwrap(),
                accepted: row["accepted"].as_u64().unwrap(),
                rejected: row["rejected"].as_u64().unwrap(),
                line: row["line"].as_u64().unwrap(),
                body_expected: row["body"].as_str().unwrap().to_string(),
                forwarded_sha256: row["forwarded_sha256"].as_str().unwrap().to_string(),
                forwarded_len: row["forwarded_len"].as_u64().unwrap() as usize,
                row,
            }
        })
        .collect()
}

/// Lowercase hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of bytes, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex(&sha2::Sha256::digest(bytes))
}

/// A point in `partial-expected.jsonl`'s format (names and values as hex of their bytes).
pub fn point_hex(p: &linegate_core::Point<'_>) -> Value {
    use linegate_core::FieldValue;
    let mut tags: Vec<_> = p.tags().iter().collect();
    tags.sort_by_key(|t| t.raw_key());
    let fields: Vec<Value> = p
        .fields()
        .iter()
        .map(|f| {
            let (ty, value) = match f.value() {
                FieldValue::Float(x) => ("float", format!("{:x}", x.to_bits())),
                FieldValue::Integer(i) => ("integer", i.to_string()),
                FieldValue::Unsigned(u) => ("unsigned", u.to_string()),
                FieldValue::String(s) => ("string", hex(&s.unescape())),
                FieldValue::Boolean(b) => ("boolean", b.to_string()),
            };
            serde_json::json!({"key_hex": hex(&f.key()), "type": ty, "value": value})
        })
        .collect();
    serde_json::json!({
        "measurement_hex": hex(&p.measurement()),
        "tags_hex": tags.iter().map(|t| vec![hex(&t.key()), hex(&t.value())]).collect::<Vec<_>>(),
        "fields": fields,
        "time": p.time(),
    })
}

impl PartialCase {
    /// Checks a forwarded (or stored) body: its length and SHA-256.
    pub fn check_forwarded(&self, body: &[u8]) -> Result<(), String> {
        if body.len() != self.forwarded_len || sha256_hex(body) != self.forwarded_sha256 {
            return Err(format!(
                "forwarded {} bytes {:?}, want {} bytes sha256 {}",
                body.len(),
                String::from_utf8_lossy(body),
                self.forwarded_len,
                self.forwarded_sha256
            ));
        }
        Ok(())
    }

    /// Compares points in [`point_hex`]'s format with the recorded ones (exact JSON).
    pub fn check_points(&self, got: &[Value]) -> Result<(), String> {
        let want = self.row["points"].as_array().cloned().unwrap_or_default();
        if got.len() != want.len() {
            return Err(format!("{} points, want {}", got.len(), want.len()));
        }
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            // Numbers keep their text (`arbitrary_precision`): `time` compares exactly.
            if g != w {
                return Err(format!("point {i}: {g}\n   want {w}"));
            }
        }
        Ok(())
    }
}
