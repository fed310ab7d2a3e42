//! Corpus points as storage keeps them, for the tests that write the corpus over HTTP
//! and read it back (v2 and v1).
#![allow(dead_code)]

use std::collections::HashMap;

use linegate_core::{json, read_batch, ParseOptions, Precision};
use serde_json::Value;

fn field_len(v: &Value) -> usize {
    match v {
        Value::String(s) => s.len(),
        Value::Object(o) => o["hex"].as_str().map_or(0, |h| h.len() / 2),
        _ => 0,
    }
}

/// Whether storage rejects part of an accepted batch (spec Part B §6): a field named
/// `time`, a string over 1 MiB, or two types for one field in one shard group (a week).
pub fn storage_rejects(points: &[Value]) -> bool {
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
pub fn merge(points: &[Value]) -> Vec<Value> {
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
pub fn read_export(text: &[u8]) -> Vec<Value> {
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
