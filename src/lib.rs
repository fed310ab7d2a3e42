//! The wasm-bindgen layer over `linegate-core`: what the npm package (`pkg/`, built from
//! `npm/` by `scripts/build-pkg.sh`) calls. Thin by design: every check, message and count
//! comes from the core crate; this file only moves bytes in and shapes answers as JS objects.
//!
//! The JS entry modules (`npm/api.js`) normalise user input (body types, headers, URL) and
//! call the raw exports below with a [`BodyBuffer`] and a flat options object.

use linegate_core::diagnostics::{Diagnostic, Summary, Warning};
use linegate_core::{
    prepare_at, validate_with_progress, verdict, Endpoint, FieldType, FieldValue, Limits, Point,
    Request, ValidateOptions, Validation, Verdict, DEFAULT_LIMITS,
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

    /// Takes a string as its UTF-8 bytes. (`npm/api.js` replaces this with a faster path
    /// over `grow`; this is the glue's own, kept for direct callers of the raw exports.)
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

    /// The write endpoint a request goes to (its path); absent = `/api/v2/write`.
    fn endpoint(&self) -> Result<Endpoint, JsError> {
        match self.string("endpoint")? {
            None => Ok(Endpoint::V2),
            Some(p) => Endpoint::from_path(&p).ok_or_else(|| {
                JsError::new("linegate: endpoint must be \"/api/v2/write\" or \"/write\"")
            }),
        }
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
    endpoint: Endpoint,
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
            endpoint: o.endpoint()?,
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
    let (limits, now) = (o.limits()?, now_or_clock(o.now()?));
    // Either endpoint (`/write` is spec Part C), judged as an edge judges it.
    let verdict = match prepare_at(o.endpoint()?, &req, &limits) {
        Ok(p) => verdict(&p.read(now, limits.max_message, |_| {})),
        Err(r) => Verdict::Reject(r),
    };
    let answer = match verdict {
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
struct JsCredentials {
    /// The v1 user name; null for a token.
    user: Option<OwnedText>,
    /// The token, or the v1 password.
    secret: OwnedText,
}

/// The credentials of a write request as its endpoint reads them (for `/write`, spec Part C
/// step 1: `u`/`p`, `Token [user:]secret`, Basic), or null when it has none: what an edge
/// compares with the tokens it lets through.
#[wasm_bindgen(js_name = writeCredentials)]
pub fn write_credentials(opts: JsValue) -> Result<JsValue, JsError> {
    use linegate_core::pipeline::{credentials, Credentials, Head};
    let o = Opts::new(opts);
    let (query, authorization) = (o.string("query")?, o.string("authorization")?);
    let head = Head {
        endpoint: o.endpoint()?,
        query: query.as_deref().unwrap_or_default().as_bytes(),
        authorization: authorization.as_deref().map(str::as_bytes),
        content_encoding: None,
    };
    let found = match credentials(&head, &linegate_core::Query::parse(head.query)) {
        None => return Ok(JsValue::NULL),
        Some(Credentials::Token(t)) => JsCredentials {
            user: None,
            secret: OwnedText(t.to_vec()),
        },
        Some(Credentials::Password { user, password }) => JsCredentials {
            user: Some(OwnedText(user)),
            secret: OwnedText(password),
        },
    };
    to_js(&found)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsDiagnostic {
    line: f64,
    column: f64,
    code: &'static str,
    reason: std::borrow::Cow<'static, str>,
    hint: std::borrow::Cow<'static, str>,
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
        endpoint: o.endpoint,
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

/// Field value types in [`PointColumns::shape`] (booleans carry their value in the code).
const T_FLOAT: u32 = 0;
const T_INTEGER: u32 = 1;
const T_UNSIGNED: u32 = 2;
const T_STRING: u32 = 3;
const T_FALSE: u32 = 4;
const T_TRUE: u32 = 5;

/// Points laid out in a few flat arrays, which `npm/api.js` turns into plain objects.
/// Building each object through JS property calls from wasm costs about ten times more
/// than one copy of these arrays and a loop in JS.
///
/// Texts (measurement, tag keys and values, field keys, string values, in that order) are
/// numbered in order of first appearance: `refs` holds each text's number. A new text is
/// appended to `text` and described in `lens` as `utf16_len << 1` (a slice of `text`,
/// which is decoded once as UTF-8), or as `byte_len << 1 | 1` for bytes that are not UTF-8
/// (a slice of `raw`). Names repeat on every line, so the JS side makes each string once
/// (fewer allocations, much less garbage collection); string values are not looked up.
/// Per point, `shape` holds `[tags, fields, line]`, then one type code per field; floats go
/// to `floats`; integers, unsigned values (as their bits) and times to `ints`.
#[derive(Default)]
struct PointColumns {
    shape: Vec<u32>,
    refs: Vec<u32>,
    lens: Vec<u32>,
    text: Vec<u8>,
    raw: Vec<u8>,
    floats: Vec<f64>,
    ints: Vec<i64>,
    points: u32,
    seen: std::collections::HashMap<Vec<u8>, u32>,
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
            self.refs.push(n);
            return;
        }
        let n = self.lens.len() as u32;
        if self.seen.len() < MAX_SEEN {
            self.seen.insert(t.to_vec(), n);
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

    fn push(&mut self, p: &Point<'_>) {
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
                    T_FLOAT
                }
                FieldValue::Integer(v) => {
                    self.ints.push(v);
                    T_INTEGER
                }
                FieldValue::Unsigned(v) => {
                    self.ints.push(v as i64);
                    T_UNSIGNED
                }
                FieldValue::String(v) => {
                    self.text(&v.unescape());
                    T_STRING
                }
                FieldValue::Boolean(false) => T_FALSE,
                FieldValue::Boolean(true) => T_TRUE,
            };
            self.shape.push(code);
        }
        self.ints.push(p.time());
    }

    fn into_js(self) -> Result<JsValue, JsError> {
        let o = js_sys::Object::new();
        let set = |k: &str, v: JsValue| {
            js_sys::Reflect::set(&o, &JsValue::from_str(k), &v)
                .map(drop)
                .map_err(|_| JsError::new("linegate: cannot build the result"))
        };
        set("count", JsValue::from_f64(self.points as f64))?;
        set("shape", js_sys::Uint32Array::from(&self.shape[..]).into())?;
        set("refs", js_sys::Uint32Array::from(&self.refs[..]).into())?;
        set("lens", js_sys::Uint32Array::from(&self.lens[..]).into())?;
        set("text", js_sys::Uint8Array::from(&self.text[..]).into())?;
        set("raw", js_sys::Uint8Array::from(&self.raw[..]).into())?;
        set(
            "floats",
            js_sys::Float64Array::from(&self.floats[..]).into(),
        )?;
        set("ints", js_sys::BigInt64Array::from(&self.ints[..]).into())?;
        Ok(o.into())
    }
}

/// The points of an accepted batch (`points`, as [`PointColumns`]), or, when InfluxDB
/// would reject it, `points: null`; `validation` explains the answer either way.
#[wasm_bindgen]
pub fn parse(
    body: &BodyBuffer,
    opts: JsValue,
    on_progress: Option<js_sys::Function>,
) -> Result<JsValue, JsError> {
    let o = BatchOptions::read(opts)?;
    let mut progress = Progress::new(on_progress);
    let mut columns = PointColumns::default();
    let v = validate_with_progress(
        &body.bytes,
        &batch_options(&o),
        |p| columns.push(p),
        |done, total| progress.report(done, total),
    );
    progress.check()?;
    let out = js_sys::Object::new();
    let points = if v.accepted() {
        columns.into_js()?
    } else {
        JsValue::NULL
    };
    let set = |k: &str, val: &JsValue| {
        js_sys::Reflect::set(&out, &JsValue::from_str(k), val)
            .map(drop)
            .map_err(|_| JsError::new("linegate: cannot build the result"))
    };
    set("points", &points)?;
    set("validation", &to_js(&JsValidation::from(v))?)?;
    Ok(out.into())
}

/// The crate version (the npm package's version is stamped from the same Cargo field).
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}
