//! Every InfluxDB decision is written once, in linegate-core (issue: one home). No source
//! file outside `crates/core/src` (tests aside) holds an InfluxDB answer text, and no JS
//! file reads a verdict out of a message or a body.

use std::path::{Path, PathBuf};

/// Answer texts that only `crates/core/src` may hold.
const TEXTS: &[&str] = &[
    "unauthorized access",
    "insufficient permissions for",
    "already exists as type",
    "path not found",
    "ready for queries and writes",
    "bucket not found",
    "Please provide either orgID or org",
    "points batch is too large",
    "An internal error has occurred",
    "invalid precision; valid precision units",
    "no dbrp mapping found",
    "missing db",
    "failure writing points to database",
    "unexpected error writing points to database",
    "write backend unavailable",
    "has exceeded limited_write plan limit",
    "Series cardinality exceeds",
    "too many writes in flight",
    "too many password checks in progress",
    "\" not found",
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Source files of the doors: Rust and JS outside tests, build output and dependencies.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().to_string();
        if p.is_dir() {
            let skip = [
                "target",
                "node_modules",
                "pkg",
                "dist",
                "tests",
                "test",
                "fuzz",
                ".git",
                "bench",
                "benches",
                "examples",
                ".linegate",
                "test-output",
                "bench-data",
                ".wrangler",
                ".venv-clients",
            ];
            if !skip.contains(&name.as_str()) && !name.starts_with("pkg.") {
                sources(&p, out);
            }
        } else if [".rs", ".js", ".mjs", ".ts", ".html"]
            .iter()
            .any(|x| name.ends_with(x))
        {
            out.push(p);
        }
    }
}

/// The file's text without its test module (Rust files keep unit tests at their end).
fn code_of(p: &Path) -> String {
    let text = std::fs::read_to_string(p).unwrap_or_default();
    match text.find("#[cfg(test)]") {
        Some(i) if p.extension().is_some_and(|e| e == "rs") => text[..i].to_string(),
        _ => text,
    }
}

#[test]
fn no_answer_text_outside_the_core() {
    let root = root();
    let core_src = root.join("crates/core/src");
    let mut files = Vec::new();
    sources(&root, &mut files);
    assert!(
        files.len() > 20,
        "found the sources under {}",
        root.display()
    );
    let mut found = Vec::new();
    for f in files.iter().filter(|f| !f.starts_with(&core_src)) {
        let code = code_of(f);
        for t in TEXTS {
            if code.contains(t) {
                found.push(format!(
                    "{}: {t:?}",
                    f.strip_prefix(&root).unwrap().display()
                ));
            }
        }
    }
    assert!(
        found.is_empty(),
        "InfluxDB answer texts outside crates/core/src:\n{}",
        found.join("\n")
    );
}

#[test]
fn no_js_reads_a_verdict_from_a_body() {
    let root = root();
    let mut files = Vec::new();
    sources(&root, &mut files);
    let mut found = Vec::new();
    for f in files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "js" || e == "mjs"))
    {
        let code = code_of(f);
        for pat in [
            "\"line\":",
            ".message ===",
            ".message==",
            "message.includes(",
            "body.includes(",
            "body.match(",
            "exec(verdict",
            "exec(body",
        ] {
            if code.contains(pat) {
                found.push(format!(
                    "{}: {pat:?}",
                    f.strip_prefix(&root).unwrap().display()
                ));
            }
        }
    }
    assert!(
        found.is_empty(),
        "JS reading a verdict from text:\n{}",
        found.join("\n")
    );
}
