//! Parsed points as a few flat arrays, which `npm/api.js` turns into plain objects.
//! Building each object through JS property calls from wasm costs about ten times more
//! than one copy of these arrays and a loop in JS.

use linegate_core::{FieldValue, Point};
use wasm_bindgen::prelude::*;

/// Field value types in [`PointColumns`]' `shape` (booleans carry their value in the code).
/// Exported to JS as `FieldCode`, which `npm/api.js` reads: the codes have this one source.
#[wasm_bindgen]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum FieldCode {
    Float = 0,
    Integer = 1,
    Unsigned = 2,
    String = 3,
    False = 4,
    True = 5,
}

/// Texts (measurement, tag keys and values, field keys, string values, in that order) are
/// numbered in order of first appearance: `refs` holds each text's number. A new text is
/// appended to `text` and described in `lens` as `utf16_len << 1` (a slice of `text`,
/// which is decoded once as UTF-8), or as `byte_len << 1 | 1` for bytes that are not UTF-8
/// (a slice of `raw`). Names repeat on every line, so the JS side makes each string once
/// (fewer allocations, much less garbage collection); string values are not looked up.
/// Per point, `shape` holds `[tags, fields, line]`, then one [`FieldCode`] per field;
/// floats go to `floats`; integers, unsigned values (as their bits) and times to `ints`.
#[derive(Default)]
pub(crate) struct PointColumns {
    shape: Vec<u32>,
    refs: Vec<u32>,
    lens: Vec<u32>,
    text: Vec<u8>,
    raw: Vec<u8>,
    floats: Vec<f64>,
    ints: Vec<i64>,
    points: u32,
    // u64 values (names are numbered in u32) so this map is the same type as the
    // summary's measurement counts, and wasm carries one copy of its code.
    seen: std::collections::HashMap<Vec<u8>, u64, linegate_core::MapState>,
}

/// Distinct names remembered for reuse; past it, new names are sent each time.
const MAX_SEEN: usize = 1 << 16;

/// UTF-16 code units of valid UTF-8: one per sequence, two for the 4-byte ones.
fn utf16_len(s: &str) -> usize {
    if s.is_ascii() {
        return s.len();
    }
    s.bytes()
        .map(|b| usize::from(b & 0xC0 != 0x80) + usize::from(b >= 0xF0))
        .sum()
}

impl PointColumns {
    /// A name: sent once, then referred to by number.
    fn name(&mut self, t: &[u8]) {
        if let Some(&n) = self.seen.get(t) {
            self.refs.push(n as u32);
            return;
        }
        let n = self.lens.len() as u32;
        if self.seen.len() < MAX_SEEN {
            self.seen.insert(t.to_vec(), u64::from(n));
        }
        self.text(t);
    }

    /// A text sent as it is.
    fn text(&mut self, t: &[u8]) {
        self.refs.push(self.lens.len() as u32);
        match std::str::from_utf8(t) {
            Ok(s) => {
                self.text.extend_from_slice(t);
                self.lens.push((utf16_len(s) as u32) << 1);
            }
            Err(_) => {
                self.raw.extend_from_slice(t);
                self.lens.push((t.len() as u32) << 1 | 1);
            }
        }
    }

    pub fn push(&mut self, p: &Point<'_>) {
        self.points += 1;
        self.shape.extend([
            p.tags().len() as u32,
            p.fields().len() as u32,
            p.line() as u32,
        ]);
        self.name(&p.measurement());
        for t in p.tags() {
            self.name(&t.key());
            self.name(&t.value());
        }
        for f in p.fields() {
            self.name(&f.key());
            let code = match f.value() {
                FieldValue::Float(v) => {
                    self.floats.push(v);
                    FieldCode::Float
                }
                FieldValue::Integer(v) => {
                    self.ints.push(v);
                    FieldCode::Integer
                }
                FieldValue::Unsigned(v) => {
                    self.ints.push(v as i64);
                    FieldCode::Unsigned
                }
                FieldValue::String(v) => {
                    self.text(&v.unescape());
                    FieldCode::String
                }
                FieldValue::Boolean(false) => FieldCode::False,
                FieldValue::Boolean(true) => FieldCode::True,
            };
            self.shape.push(code as u32);
        }
        self.ints.push(p.time());
    }

    pub fn into_js(self) -> Result<JsValue, JsValue> {
        use crate::js::set;
        let o = js_sys::Object::new();
        set(&o, "count", &JsValue::from_f64(self.points as f64))?;
        set(&o, "shape", &js_sys::Uint32Array::from(&self.shape[..]))?;
        set(&o, "refs", &js_sys::Uint32Array::from(&self.refs[..]))?;
        set(&o, "lens", &js_sys::Uint32Array::from(&self.lens[..]))?;
        set(&o, "text", &js_sys::Uint8Array::from(&self.text[..]))?;
        set(&o, "raw", &js_sys::Uint8Array::from(&self.raw[..]))?;
        set(&o, "floats", &js_sys::Float64Array::from(&self.floats[..]))?;
        set(&o, "ints", &js_sys::BigInt64Array::from(&self.ints[..]))?;
        Ok(o.into())
    }
}
