//! The wasm-bindgen layer over `linegate-core`: what the npm package (`pkg/`, built from
//! `npm/` by `scripts/build-pkg.sh`) calls. Thin by design: every check, message and count
//! comes from the core crate; this file only moves bytes in and shapes answers as JS objects.
//!
//! The JS entry modules (`npm/api.js`) normalise user input (body types, headers, URL) and
//! call the raw exports below with a [`BodyBuffer`] and a flat options object.

use linegate_core::diagnostics::{Diagnostic, Summary, Warning};
use linegate_core::{
    check_request, validate_with_progress, FieldType, FieldValue, Limits, Point, Request,
    ValidateOptions, Validation, Verdict, DEFAULT_LIMITS,
};
use serde::{Serialize, Serializer};
use wasm_bindgen::prelude::*;

pub use linegate_core as core;

/// A request body held in wasm memory. The JS API copies a `Uint8Array` or string into one
/// per call; a page reading a large file can fill one chunk by chunk instead, so the file is
/// never held twice and the reading itself can show progress.
#[wasm_bindgen]
#[derive(Default)]
pub struct BodyBuffer {
    bytes: Vec<u8>,
}

#[wasm_bindgen]
impl BodyBuffer {
    /// An empty buffer with room for `capacity` bytes (the file size, when known).
    #[wasm_bindgen(constructor)]
    pub fn new(capacity: Option<usize>) -> BodyBuffer {
        BodyBuffer {
            bytes: Vec::with_capacity(capacity.unwrap_or(0)),
        }
    }

    /// Takes the bytes as they are (one copy, into wasm memory, done by the glue).
    #[wasm_bindgen(js_name = fromBytes)]
    pub fn from_bytes(bytes: Vec<u8>) -> BodyBuffer {
        BodyBuffer { bytes }
    }

    /// Takes a string as its UTF-8 bytes (encoded straight into wasm memory by the glue).
    #[wasm_bindgen(js_name = fromString)]
    pub fn from_string(text: String) -> BodyBuffer {
        BodyBuffer {
            bytes: text.into_bytes(),
        }
    }

    /// Appends a chunk.
    pub fn push(&mut self, chunk: &[u8]) {
        self.bytes.extend_from_slice(chunk);
    }

    /// Empties the buffer, keeping its memory for the next body.
    pub fn clear(&mut self) {
        self.bytes.clear();
    }

    #[wasm_bindgen(getter)]
    pub fn length(&self) -> usize {
        self.bytes.len()
    }

    /// Grows the body by `n` zero bytes and returns their address in wasm memory. The JS
    /// side encodes a string straight there with `TextEncoder.encodeInto`, then truncates to
    /// what it wrote: wasm-bindgen's own string passing copies ASCII one character at a time
    /// in JS first, ~10× slower on large bodies.
    #[doc(hidden)]
    #[wasm_bindgen(js_name = __grow)]
    pub fn grow(&mut self, n: usize) -> usize {
        let start = self.bytes.len();
        self.bytes.resize(start + n, 0);
        self.bytes[start..].as_mut_ptr() as usize
    }

    /// Cuts the body to `len` bytes (the end of what the JS side wrote after `grow`).
    #[doc(hidden)]
    #[wasm_bindgen(js_name = __truncate)]
    pub fn truncate(&mut self, len: usize) {
        self.bytes.truncate(len);
    }
}

impl BodyBuffer {
    /// The bytes held, for native callers and tests.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// Reads the flat options object the JS wrapper builds. Read by hand rather than through
/// serde's `Deserialize`: its error messages format floats, and that formatting code alone
/// would add a tenth to the module.
struct Opts(JsValue);

impl Opts {
    fn new(v: JsValue) -> Opts {
        Opts(v)
    }

    fn get(&self, key: &str) -> Result<Option<JsValue>, JsError> {
        if self.0.is_undefined() || self.0.is_null() {
            return Ok(None);
        }
        if !self.0.is_object() {
            return Err(JsError::new("linegate: options must be an object"));
        }
        let v = js_sys::Reflect::get(&self.0, &JsValue::from_str(key))
            .map_err(|_| JsError::new("linegate: cannot read the options"))?;
        Ok((!v.is_undefined() && !v.is_null()).then_some(v))
    }

    fn string(&self, key: &str) -> Result<Option<String>, JsError> {
        self.get(key)?
            .map(|v| {
                v.as_string()
                    .ok_or_else(|| JsError::new(&format!("linegate: {key} must be a string")))
            })
            .transpose()
    }

    fn number(&self, key: &str) -> Result<Option<f64>, JsError> {
        self.get(key)?
            .map(|v| {
                v.as_f64()
                    .ok_or_else(|| JsError::new(&format!("linegate: {key} must be a number")))
            })
            .transpose()
    }

    fn bool(&self, key: &str) -> Result<Option<bool>, JsError> {
        self.get(key)?
            .map(|v| {
                v.as_bool()
                    .ok_or_else(|| JsError::new(&format!("linegate: {key} must be a boolean")))
            })
            .transpose()
    }

    /// "Now" in ns as a BigInt that fits in 64 bits.
    fn now(&self) -> Result<Option<i64>, JsError> {
        self.get("now")?
            .map(|v| {
                i64::try_from(v).map_err(|_| {
                    JsError::new(
                        "linegate: now must be a bigint (nanoseconds) that fits in 64 bits",
                    )
                })
            })
            .transpose()
    }

    /// Limits in bytes; absent = the library default. Non-finite or huge values mean "no
    /// limit" (wasm32 cannot hold more than 4 GiB anyway).
    fn limits(&self) -> Result<Limits, JsError> {
        let Some(l) = self.get("limits")? else {
            return Ok(DEFAULT_LIMITS);
        };
        let l = Opts::new(l);
        let pick =
            |k: &str, d: usize| -> Result<usize, JsError> { Ok(l.number(k)?.map_or(d, to_usize)) };
        Ok(Limits {
            max_body: pick("maxBody", DEFAULT_LIMITS.max_body)?,
            max_batch: pick("maxBatch", DEFAULT_LIMITS.max_batch)?,
            max_message: pick("maxMessage", DEFAULT_LIMITS.max_message)?,
        })
    }
}

fn to_usize(v: f64) -> usize {
    if v.is_nan() || v < 0.0 {
        0
    } else if v >= usize::MAX as f64 {
        usize::MAX
    } else {
        v as usize
    }
}

/// Options of `validate` and `parse`, as the JS wrapper normalises them.
struct BatchOptions {
    precision: Option<String>,
    content_encoding: Option<String>,
    now: Option<i64>,
    limits: Limits,
    warnings: Option<bool>,
    summary_buckets: Option<u32>,
}

impl BatchOptions {
    fn read(v: JsValue) -> Result<BatchOptions, JsError> {
        let o = Opts::new(v);
        Ok(BatchOptions {
            precision: o.string("precision")?,
            content_encoding: o.string("contentEncoding")?,
            now: o.now()?,
            limits: o.limits()?,
            warnings: o.bool("warnings")?,
            summary_buckets: o
                .number("summaryBuckets")?
                .map(|n| n.clamp(0.0, 1e6) as u32),
        })
    }
}

/// The wall clock in ns when the caller gives no `now` (ms resolution is what JS has).
fn now_or_clock(now: Option<i64>) -> i64 {
    now.unwrap_or_else(|| (js_sys::Date::now() as i64).saturating_mul(1_000_000))
}

/// i64/u64 become BigInt (exact), `None` becomes `null`; counts are sent as f64 on purpose
/// so they stay plain numbers.
fn to_js<T: Serialize>(v: &T) -> Result<JsValue, JsError> {
    let s = serde_wasm_bindgen::Serializer::new()
        .serialize_large_number_types_as_bigints(true)
        .serialize_missing_as_null(true);
    v.serialize(&s)
        .map_err(|e| JsError::new(&format!("linegate: {e}")))
}

/// Text from the body: a string when it is valid UTF-8, else the raw bytes (`Uint8Array`),
/// so nothing is lost to replacement characters.
struct Text<'a>(&'a [u8]);

impl Serialize for Text<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match std::str::from_utf8(self.0) {
            Ok(t) => s.serialize_str(t),
            Err(_) => s.serialize_bytes(self.0),
        }
    }
}

fn utf8(bytes: Vec<u8>) -> String {
    // Bodies are Go-escaped JSON, always valid UTF-8; lossy only as a guard.
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

#[derive(Serialize)]
struct ErrorHeaders {
    #[serde(rename = "Content-Type")]
    content_type: &'static str,
    #[serde(rename = "X-Platform-Error-Code")]
    code: &'static str,
}

impl ErrorHeaders {
    fn new(code: &'static str) -> Self {
        ErrorHeaders {
            content_type: "application/json; charset=utf-8",
            code,
        }
    }
}

/// `checkWrite`'s answer, exactly the documented shape.
#[derive(Serialize)]
#[serde(tag = "action", rename_all = "lowercase")]
enum CheckAnswer {
    Forward {
        points: f64,
        lines: f64,
    },
    Reject {
        status: u16,
        headers: ErrorHeaders,
        body: String,
    },
}

/// The whole request check (spec Part A) of a live write request.
#[wasm_bindgen(js_name = checkWrite)]
pub fn check_write(body: &BodyBuffer, opts: JsValue) -> Result<JsValue, JsError> {
    let o = Opts::new(opts);
    let (query, authorization, content_encoding) = (
        o.string("query")?,
        o.string("authorization")?,
        o.string("contentEncoding")?,
    );
    let req = Request {
        query: query.as_deref().unwrap_or_default().as_bytes(),
        authorization: authorization.as_deref().map(str::as_bytes),
        content_encoding: content_encoding.as_deref().map(str::as_bytes),
        body: &body.bytes,
    };
    let answer = match check_request(&req, &o.limits()?, now_or_clock(o.now()?)) {
        Verdict::Forward { points, lines } => CheckAnswer::Forward {
            points: points as f64,
            lines: lines as f64,
        },
        Verdict::Reject(r) => CheckAnswer::Reject {
            status: r.status,
            headers: ErrorHeaders::new(r.code),
            body: utf8(r.body),
        },
    };
    to_js(&answer)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsDiagnostic {
    line: f64,
    column: f64,
    code: &'static str,
    reason: String,
    hint: String,
    spans: u32,
    text_start: f64,
    text_length: f64,
    /// The physical line as written (cut to a window around the spot), for display.
    excerpt: String,
    /// Where the failing spot is in `excerpt`, in UTF-16 units (a JS string index).
    excerpt_spot: f64,
}

impl From<Diagnostic> for JsDiagnostic {
    fn from(d: Diagnostic) -> Self {
        JsDiagnostic {
            line: d.line as f64,
            column: d.column as f64,
            code: d.code,
            reason: d.reason,
            hint: d.hint,
            spans: d.spans,
            text_start: d.text_start as f64,
            text_length: d.text_len as f64,
            excerpt_spot: {
                let spot = (d.column - 1)
                    .saturating_sub(d.excerpt_offset)
                    .min(d.excerpt.len());
                String::from_utf8_lossy(&d.excerpt[..spot])
                    .encode_utf16()
                    .count() as f64
            },
            excerpt: String::from_utf8_lossy(&d.excerpt).into_owned(),
        }
    }
}

#[derive(Serialize)]
struct JsWarning {
    line: f64,
    kind: &'static str,
    message: String,
}

impl From<Warning> for JsWarning {
    fn from(w: Warning) -> Self {
        JsWarning {
            line: w.line as f64,
            kind: w.kind.name(),
            message: w.message,
        }
    }
}

/// Owned text for the summary (measurement names outlive the body there).
struct OwnedText(Vec<u8>);

impl Serialize for OwnedText {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Text(&self.0).serialize(s)
    }
}

#[derive(Serialize, Default)]
struct FieldTypeCounts {
    float: f64,
    integer: f64,
    unsigned: f64,
    string: f64,
    boolean: f64,
}

#[derive(Serialize)]
struct NamedCount {
    name: OwnedText,
    points: f64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsSummary {
    points: f64,
    fields: f64,
    series: f64,
    measurements: Vec<NamedCount>,
    field_types: FieldTypeCounts,
    min_time: Option<i64>,
    max_time: Option<i64>,
    histogram: Vec<f64>,
}

impl From<Summary> for JsSummary {
    fn from(s: Summary) -> Self {
        let mut types = FieldTypeCounts::default();
        for (t, n) in &s.field_types {
            let n = *n as f64;
            match t {
                FieldType::Float => types.float = n,
                FieldType::Integer => types.integer = n,
                FieldType::Unsigned => types.unsigned = n,
                FieldType::String => types.string = n,
                FieldType::Boolean => types.boolean = n,
            }
        }
        JsSummary {
            points: s.points as f64,
            fields: s.fields as f64,
            series: s.series as f64,
            measurements: s
                .measurements
                .into_iter()
                .map(|(name, n)| NamedCount {
                    name: OwnedText(name),
                    points: n as f64,
                })
                .collect(),
            field_types: types,
            min_time: s.min_time,
            max_time: s.max_time,
            histogram: s.histogram.into_iter().map(|n| n as f64).collect(),
        }
    }
}

/// `validate`'s answer: the verdict as `checkWrite` shapes it (with `status` 204, no headers
/// and an empty body when accepted) plus what linegate explains beyond InfluxDB.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsValidation {
    action: &'static str,
    status: u16,
    headers: Option<ErrorHeaders>,
    body: String,
    code: Option<&'static str>,
    line: Option<f64>,
    precision: Option<&'static str>,
    points: f64,
    lines: f64,
    rejected: f64,
    diagnostics: Vec<JsDiagnostic>,
    warnings: Vec<JsWarning>,
    warnings_total: f64,
    summary: Option<JsSummary>,
}

impl From<Validation> for JsValidation {
    fn from(v: Validation) -> Self {
        let accepted = v.accepted();
        JsValidation {
            action: if accepted { "forward" } else { "reject" },
            status: v.status,
            headers: v.code.map(ErrorHeaders::new),
            body: utf8(v.body),
            code: v.code,
            line: v.line.map(|l| l as f64),
            precision: v.precision.map(|p| p.as_str()),
            points: v.points as f64,
            lines: v.lines as f64,
            rejected: v.rejected as f64,
            diagnostics: v.diagnostics.into_iter().map(Into::into).collect(),
            warnings: v.warnings.into_iter().map(Into::into).collect(),
            warnings_total: v.warnings_total as f64,
            summary: v.summary.map(Into::into),
        }
    }
}

/// Forwards the core's progress (`bytes read, bytes total` of the decoded body, about every
/// MiB) to a JS callback; the callback returning `false` cancels the check.
struct Progress {
    callback: Option<js_sys::Function>,
    cancelled: bool,
}

impl Progress {
    fn new(callback: Option<js_sys::Function>) -> Self {
        Progress {
            callback,
            cancelled: false,
        }
    }

    fn report(&mut self, done: usize, total: usize) -> bool {
        let Some(cb) = &self.callback else {
            return true;
        };
        // A throwing callback does not abort the check; only an explicit `false` cancels.
        let r = cb.call2(
            &JsValue::NULL,
            &JsValue::from_f64(done as f64),
            &JsValue::from_f64(total as f64),
        );
        if r.is_ok_and(|v| v == JsValue::FALSE) {
            self.cancelled = true;
        }
        !self.cancelled
    }

    fn check(&self) -> Result<(), JsError> {
        if self.cancelled {
            let e = JsError::new("linegate: cancelled by onProgress");
            return Err(e);
        }
        Ok(())
    }
}

fn batch_options<'a>(o: &'a BatchOptions) -> ValidateOptions<'a> {
    ValidateOptions {
        precision: o.precision.as_deref().map(str::as_bytes),
        content_encoding: o.content_encoding.as_deref().map(str::as_bytes),
        now: now_or_clock(o.now),
        limits: o.limits,
        warnings: o.warnings.unwrap_or(true),
        summary_buckets: o.summary_buckets.map(|n| n as usize),
    }
}

/// A batch checked as the server would answer an authorized write to an existing bucket,
/// explained: diagnostics for rejected lines, storage warnings, and an optional summary.
#[wasm_bindgen]
pub fn validate(
    body: &BodyBuffer,
    opts: JsValue,
    on_progress: Option<js_sys::Function>,
) -> Result<JsValue, JsError> {
    let o = BatchOptions::read(opts)?;
    let mut progress = Progress::new(on_progress);
    let v = validate_with_progress(
        &body.bytes,
        &batch_options(&o),
        |_| {},
        |done, total| progress.report(done, total),
    );
    progress.check()?;
    to_js(&JsValidation::from(v))
}

/// A field value: float → number, integer and unsigned → BigInt, string, boolean.
#[derive(Serialize)]
#[serde(untagged)]
enum JsValue_<'a> {
    Float(f64),
    Integer(i64),
    Unsigned(u64),
    String(OwnedOrText<'a>),
    Boolean(bool),
}

/// A field string is unescaped (so sometimes owned).
enum OwnedOrText<'a> {
    Borrowed(&'a [u8]),
    Owned(Vec<u8>),
}

impl Serialize for OwnedOrText<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            OwnedOrText::Borrowed(b) => Text(b).serialize(s),
            OwnedOrText::Owned(b) => Text(b).serialize(s),
        }
    }
}

impl<'a> From<std::borrow::Cow<'a, [u8]>> for OwnedOrText<'a> {
    fn from(c: std::borrow::Cow<'a, [u8]>) -> Self {
        match c {
            std::borrow::Cow::Borrowed(b) => OwnedOrText::Borrowed(b),
            std::borrow::Cow::Owned(v) => OwnedOrText::Owned(v),
        }
    }
}

#[derive(Serialize)]
struct JsField<'a> {
    key: OwnedOrText<'a>,
    #[serde(rename = "type")]
    ty: &'static str,
    value: JsValue_<'a>,
}

#[derive(Serialize)]
struct JsPoint<'a> {
    measurement: OwnedOrText<'a>,
    tags: Vec<(OwnedOrText<'a>, OwnedOrText<'a>)>,
    fields: Vec<JsField<'a>>,
    time: i64,
    line: f64,
}

fn js_point<'a>(p: &Point<'a>) -> JsPoint<'a> {
    JsPoint {
        measurement: p.measurement().into(),
        tags: p
            .tags()
            .iter()
            .map(|t| (t.key().into(), t.value().into()))
            .collect(),
        fields: p
            .fields()
            .iter()
            .map(|f| JsField {
                key: f.key().into(),
                ty: f.value().field_type().as_str(),
                value: match f.value() {
                    FieldValue::Float(v) => JsValue_::Float(v),
                    FieldValue::Integer(v) => JsValue_::Integer(v),
                    FieldValue::Unsigned(v) => JsValue_::Unsigned(v),
                    FieldValue::String(s) => JsValue_::String(s.unescape().into()),
                    FieldValue::Boolean(v) => JsValue_::Boolean(v),
                },
            })
            .collect(),
        time: p.time(),
        line: p.line() as f64,
    }
}

/// The points of an accepted batch as plain objects (`points`), or, when InfluxDB would
/// reject it, `points: null` and the validation explaining why (`validation`).
#[wasm_bindgen]
pub fn parse(
    body: &BodyBuffer,
    opts: JsValue,
    on_progress: Option<js_sys::Function>,
) -> Result<JsValue, JsError> {
    let o = BatchOptions::read(opts)?;
    let mut progress = Progress::new(on_progress);
    let points = js_sys::Array::new();
    let mut failed: Option<JsError> = None;
    let v = validate_with_progress(
        &body.bytes,
        &batch_options(&o),
        |p| {
            if failed.is_none() {
                match to_js(&js_point(p)) {
                    Ok(js) => {
                        points.push(&js);
                    }
                    Err(e) => failed = Some(e),
                }
            }
        },
        |done, total| progress.report(done, total),
    );
    if let Some(e) = failed {
        return Err(e);
    }
    progress.check()?;
    let accepted = v.accepted();
    let out = js_sys::Object::new();
    let set = |k: &str, val: &JsValue| js_sys::Reflect::set(&out, &JsValue::from_str(k), val);
    set(
        "points",
        &if accepted {
            points.into()
        } else {
            JsValue::NULL
        },
    )
    .map_err(|_| JsError::new("linegate: cannot build the result"))?;
    set("validation", &to_js(&JsValidation::from(v))?)
        .map_err(|_| JsError::new("linegate: cannot build the result"))?;
    Ok(out.into())
}

/// The crate version (the npm package's version is stamped from the same Cargo field).
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}
