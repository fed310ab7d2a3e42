//! What crosses back to JS: verdicts, validations, diagnostics, warnings and summaries, as
//! typed data. Every field a JS caller needs is its own field (`line`, `code`, …): nothing
//! is meant to be read back out of a body or a message. `npm/index.d.ts` declares these
//! shapes; `tests/node/dts-drift.test.mjs` fails when the two disagree.

use linegate_core::diagnostics::{Diagnostic, Summary, Warning};
use linegate_core::limits::EXCERPT_MAX;
use linegate_core::partial::{Decision, Split};
use linegate_core::{FieldType, Validation, Verdict};
use serde::{Serialize, Serializer};
use wasm_bindgen::JsValue;

/// i64/u64 become BigInt (exact), `None` becomes `null`; counts are sent as f64 on purpose
/// so they stay plain numbers.
pub(crate) fn to_js<T: Serialize>(v: &T) -> Result<JsValue, JsValue> {
    let s = serde_wasm_bindgen::Serializer::new()
        .serialize_large_number_types_as_bigints(true)
        .serialize_missing_as_null(true);
    v.serialize(&s)
        .map_err(|e| js_sys::Error::new(&format!("linegate: {e}")).into())
}

/// Sets `o[k] = v`.
pub(crate) fn set(o: &js_sys::Object, k: &str, v: &JsValue) -> Result<(), JsValue> {
    js_sys::Reflect::set(o, &JsValue::from_str(k), v).map(drop)
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

/// The headers of an error answer, as core lists them (`answers::error_headers`), as one
/// object.
pub(crate) struct ErrorHeaders(&'static str);

impl ErrorHeaders {
    fn new(code: &'static str) -> Self {
        ErrorHeaders(code)
    }
}

impl Serialize for ErrorHeaders {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let headers = linegate_core::answers::error_headers(self.0);
        let mut o = s.serialize_struct("Headers", headers.len())?;
        for (name, value) in headers {
            o.serialize_field(name, value)?;
        }
        o.end()
    }
}

/// `checkWrite`'s answer: `forward`, or `reject` with the exact answer and, as data, the
/// error code and the first rejected line (parse errors; else null).
#[derive(Serialize)]
#[serde(tag = "action", rename_all = "lowercase")]
pub(crate) enum CheckAnswer {
    Forward {
        points: f64,
        lines: f64,
    },
    Reject {
        status: u16,
        code: &'static str,
        line: Option<f64>,
        headers: ErrorHeaders,
        body: String,
    },
    /// A partial write (spec Part D.1): forward `forward` (plain, no Content-Encoding), and
    /// once it is stored answer `status`/`headers`/`body`; `rejectedLines` are to be kept.
    #[serde(rename_all = "camelCase")]
    Partial {
        status: u16,
        code: &'static str,
        line: Option<f64>,
        headers: ErrorHeaders,
        body: String,
        accepted: f64,
        rejected: f64,
        forward: Bytes,
        rejected_lines: Vec<JsRejectedLine>,
        /// What the rejected lines are recorded under: path and query without `u`, `p`.
        destination: String,
    },
}

/// Bytes as a `Uint8Array`.
pub(crate) struct Bytes(pub Vec<u8>);

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

/// A rejected line of a partial write, to keep (and fix).
#[derive(Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename = "RejectedLine"))]
pub(crate) struct JsRejectedLine {
    line: f64,
    #[cfg_attr(feature = "ts", ts(type = "Text"))]
    reason: OwnedText,
    #[cfg_attr(feature = "ts", ts(type = "Text"))]
    text: OwnedText,
}

impl CheckAnswer {
    /// The answer of a split batch; `whole` is the verdict without the switch (for R = 0).
    pub(crate) fn of_split(
        split: Split,
        destination: Vec<u8>,
        whole: impl FnOnce() -> Verdict,
    ) -> CheckAnswer {
        match split.decision() {
            Decision::Forward => whole().into(),
            Decision::Reject(r) => Verdict::Reject(r).into(),
            Decision::Partial(r) => CheckAnswer::Partial {
                status: r.status,
                code: r.code,
                line: r.line.map(|l| l as f64),
                headers: ErrorHeaders::new(r.code),
                body: utf8(r.body),
                accepted: split.accepted as f64,
                rejected: split.rejected as f64,
                forward: Bytes(split.body),
                rejected_lines: split
                    .kept
                    .into_iter()
                    .map(|l| JsRejectedLine {
                        line: l.line as f64,
                        reason: OwnedText(l.reason),
                        text: OwnedText(l.text),
                    })
                    .collect(),
                destination: utf8(destination),
            },
        }
    }
}

impl From<Verdict> for CheckAnswer {
    fn from(v: Verdict) -> Self {
        match v {
            Verdict::Forward { points, lines } => CheckAnswer::Forward {
                points: points as f64,
                lines: lines as f64,
            },
            Verdict::Reject(r) => CheckAnswer::Reject {
                status: r.status,
                code: r.code,
                line: r.line.map(|l| l as f64),
                headers: ErrorHeaders::new(r.code),
                body: utf8(r.body),
            },
        }
    }
}

/// A rejected line, explained.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename = "Diagnostic"))]
pub(crate) struct JsDiagnostic {
    /// 1-based physical line where the rejected line starts.
    line: f64,
    /// 1-based byte column of the failing spot in that line.
    column: f64,
    /// Stable name of the error (`invalid-number`, `bad-timestamp`, …).
    code: &'static str,
    /// InfluxDB's reason, exactly (`invalid number`, …).
    reason: std::borrow::Cow<'static, str>,
    /// What probably went wrong and how to fix it.
    hint: std::borrow::Cow<'static, str>,
    /// Physical lines the logical line spans (> 1 when a stray quote or `\` joined lines).
    spans: u32,
    /// Byte range of the quoted line text in the (decoded) body.
    text_start: f64,
    text_length: f64,
    /// The physical line as written (at most 400 bytes of it, around the spot), for
    /// display: core's one excerpt window (`linegate_core::diagnostics::excerpt`), the same
    /// the CLI shows.
    excerpt: String,
    /// Index of the failing spot in `excerpt` (a JS string index: UTF-16 units).
    excerpt_spot: f64,
    /// Whether `excerpt` is cut from a longer line before and after it.
    excerpt_cut_before: bool,
    excerpt_cut_after: bool,
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
            excerpt_cut_before: d.excerpt_offset > 0,
            // The window is the first physical line of the text, which is all of it for a
            // one-line text; when lines were joined, a full window is taken as cut.
            excerpt_cut_after: d.excerpt_offset + d.excerpt.len() < d.text_len
                && (d.spans == 1 || d.excerpt.len() >= EXCERPT_MAX),
            excerpt: String::from_utf8_lossy(&d.excerpt).into_owned(),
        }
    }
}

/// A warning about an accepted line: what storage would do with its point.
#[derive(Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename = "Warning"))]
pub(crate) struct JsWarning {
    line: f64,
    #[cfg_attr(feature = "ts", ts(as = "WarningName"))]
    kind: &'static str,
    message: String,
}

/// A warning's kind in TypeScript: the union of core's names (`WarningKind::name`).
#[cfg(feature = "ts")]
pub(crate) struct WarningName;

#[cfg(feature = "ts")]
impl ts_rs::TS for WarningName {
    type WithoutGenerics = Self;
    type OptionInnerType = Self;
    fn name() -> String {
        Self::inline()
    }
    fn inline() -> String {
        let names: Vec<String> = linegate_core::diagnostics::WarningKind::ALL
            .iter()
            .map(|k| format!("\"{}\"", k.name()))
            .collect();
        names.join(" | ")
    }
    fn inline_flattened() -> String {
        Self::inline()
    }
    fn decl() -> String {
        format!("type WarningName = {};", Self::inline())
    }
    fn decl_concrete() -> String {
        Self::decl()
    }
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
pub(crate) struct OwnedText(pub Vec<u8>);

impl Serialize for OwnedText {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Text(&self.0).serialize(s)
    }
}

#[derive(Serialize, Default)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub(crate) struct FieldTypeCounts {
    float: f64,
    integer: f64,
    unsigned: f64,
    string: f64,
    boolean: f64,
}

#[derive(Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub(crate) struct NamedCount {
    #[cfg_attr(feature = "ts", ts(type = "Text"))]
    name: OwnedText,
    points: f64,
}

/// What a batch holds.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename = "Summary"))]
pub(crate) struct JsSummary {
    points: f64,
    fields: f64,
    /// Distinct series (exact up to a million, a lower bound past that).
    series: f64,
    /// Points per measurement, sorted by name.
    #[cfg_attr(feature = "ts", ts(inline))]
    measurements: Vec<NamedCount>,
    #[cfg_attr(feature = "ts", ts(inline))]
    field_types: FieldTypeCounts,
    min_time: Option<i64>,
    max_time: Option<i64>,
    /// Points per time bucket of equal width between minTime and maxTime.
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
pub(crate) struct JsValidation {
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

/// A request's credentials: a token (`user` null), or a v1 user name and password.
#[derive(Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename = "Credentials"))]
pub(crate) struct JsCredentials {
    #[cfg_attr(feature = "ts", ts(type = "Text | null"))]
    pub user: Option<OwnedText>,
    #[cfg_attr(feature = "ts", ts(type = "Text"))]
    pub secret: OwnedText,
}

/// The TypeScript declarations of the data types above, as `npm/types.d.ts` holds them
/// (`--features ts`, host only): `index.d.ts` re-exports them, `tests/dts.rs` fails when
/// the file and the Rust types differ, and `scripts/build-pkg.sh` writes the package's copy.
#[cfg(feature = "ts")]
pub fn typescript() -> String {
    use ts_rs::TS;
    let mut out = String::from(
        "// Generated from the Rust types of src/results.rs (ts-rs) by tests/dts.rs: do not\n\
         // edit. `LINEGATE_DTS_WRITE=npm/types.d.ts cargo test -p linegate --features ts\n\
         // --test dts` writes it again; index.d.ts re-exports these types.\n\n\
         import type { Text } from \"./index.js\";\n",
    );
    for (docs, decl) in [
        (JsDiagnostic::docs(), JsDiagnostic::decl()),
        (JsWarning::docs(), JsWarning::decl()),
        (JsSummary::docs(), JsSummary::decl()),
        (JsRejectedLine::docs(), JsRejectedLine::decl()),
        (JsCredentials::docs(), JsCredentials::decl()),
    ] {
        out.push('\n');
        if let Some(d) = docs {
            out.push_str(&d);
        }
        out.push_str("export ");
        out.push_str(&decl);
        out.push('\n');
    }
    out
}
