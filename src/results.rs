//! What crosses back to JS: verdicts, validations, diagnostics, warnings and summaries, as
//! typed data. Every field a JS caller needs is its own field (`line`, `code`, …): nothing
//! is meant to be read back out of a body or a message. Each is built with `js`'s
//! [`ToJs`]; its TypeScript (`npm/types.d.ts`, which `npm/index.d.ts` re-exports) is derived
//! here (ts-rs, `--features ts` only) and written by `dts` (`tests/dts.rs` fails when the
//! file and these types differ); `tests/node/dts-drift.test.mjs` checks real answers
//! against the declared types.

use linegate_core::diagnostics::{Diagnostic, Summary, Warning};
use linegate_core::limits::EXCERPT_MAX;
use linegate_core::partial::{Decision, RejectedLine, Split};
use linegate_core::{FieldType, Validation, Verdict};
use wasm_bindgen::JsValue;

use crate::js::{utf8, Bytes, Obj, OwnedText, Raw, Text, ToJs};
#[cfg(feature = "ts")]
use crate::ts::*;

/// The headers of an error answer, as core lists them (`answers::error_headers`), as one
/// object.
pub(crate) struct ErrorHeaders(&'static str);

impl ErrorHeaders {
    fn new(code: &'static str) -> Self {
        ErrorHeaders(code)
    }
}

impl ToJs for ErrorHeaders {
    fn to_js(&self) -> JsValue {
        linegate_core::answers::error_headers(self.0)
            .into_iter()
            .fold(Obj::new(), |o, (name, value)| o.put(name, value))
            .done()
    }
}

/// `checkWrite`'s answer: `forward`, or `reject` with the exact answer and, as data, the
/// error code and the first rejected line (parse errors; else null). Its TypeScript
/// (`Forward`, `Reject`, `PartialWrite` in `npm/types.d.ts`) is generated from it.
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(
        tag = "action",
        rename_all = "lowercase",
        rename_all_fields = "camelCase"
    )
)]
pub(crate) enum CheckAnswer<'a> {
    Forward {
        points: f64,
        lines: f64,
    },
    Reject {
        #[cfg_attr(feature = "ts", ts(as = "RejectStatus"))]
        status: u16,
        /// InfluxDB's error code (also the X-Platform-Error-Code header).
        #[cfg_attr(feature = "ts", ts(as = "ErrorCode"))]
        code: &'static str,
        /// The first rejected line, for parse errors (it is also in the body); null otherwise.
        line: Option<f64>,
        /// The response headers, ready for `new Response(body, { status, headers })`.
        #[cfg_attr(feature = "ts", ts(type = "ErrorHeaders"))]
        headers: ErrorHeaders,
        /// The exact response body.
        body: String,
    },
    /// A partial write (spec Part D.1): forward `forward` (plain, no Content-Encoding), and
    /// once it is stored answer `status`/`headers`/`body`; `rejectedLines` are to be kept.
    Partial {
        #[cfg_attr(feature = "ts", ts(as = "PartialStatus"))]
        status: u16,
        #[cfg_attr(feature = "ts", ts(as = "PartialCode"))]
        code: &'static str,
        /// The first rejected line (it is also in the body): a partial write has one.
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        line: Option<f64>,
        #[cfg_attr(feature = "ts", ts(type = "ErrorHeaders<PartialCode>"))]
        headers: ErrorHeaders,
        /// The answer to give once `forward` is stored.
        body: String,
        accepted: f64,
        rejected: f64,
        #[cfg_attr(feature = "ts", ts(type = "Uint8Array"))]
        forward: &'a [u8],
        /// The rejected lines (up to 64 MiB of them; `rejected` counts them all).
        #[cfg_attr(feature = "ts", ts(as = "Vec<JsRejectedLine>"))]
        rejected_lines: &'a [RejectedLine],
        /// What the rejected lines are recorded under: the path and query string without
        /// `u` and `p`.
        destination: String,
    },
}

// The TypeScript of core's `RejectedLine` as the answer lists it (its `ToJs` is below).
/// A rejected line of a partial write, to keep (and fix).
#[cfg(feature = "ts")]
#[derive(ts_rs::TS)]
#[ts(rename = "RejectedLine")]
#[allow(dead_code)]
pub(crate) struct JsRejectedLine {
    line: f64,
    #[ts(type = "Text")]
    reason: OwnedText,
    #[ts(type = "Text")]
    text: OwnedText,
}

// The rejected lines as the answer lists them (borrowed from the split, which a `Checker`
// keeps for `refuseSeries`: nothing is copied in Rust before the JS values are made).
impl ToJs for RejectedLine {
    fn to_js(&self) -> JsValue {
        Obj::new()
            .put("line", self.line as f64)
            .put("reason", Text(&self.reason))
            .put("text", Text(&self.text))
            .done()
    }
}

impl ToJs for CheckAnswer<'_> {
    fn to_js(&self) -> JsValue {
        match self {
            CheckAnswer::Forward { points, lines } => Obj::new()
                .put("action", "forward")
                .put("points", *points)
                .put("lines", *lines)
                .done(),
            CheckAnswer::Reject {
                status,
                code,
                line,
                headers,
                body,
            } => Obj::new()
                .put("action", "reject")
                .put("status", *status)
                .put("code", *code)
                .put("line", *line)
                .put("headers", headers)
                .put("body", body)
                .done(),
            CheckAnswer::Partial {
                status,
                code,
                line,
                headers,
                body,
                accepted,
                rejected,
                forward,
                rejected_lines,
                destination,
            } => Obj::new()
                .put("action", "partial")
                .put("status", *status)
                .put("code", *code)
                .put("line", *line)
                .put("headers", headers)
                .put("body", body)
                .put("accepted", *accepted)
                .put("rejected", *rejected)
                .put("forward", forward)
                .put("rejectedLines", rejected_lines)
                .put("destination", destination)
                .done(),
        }
    }
}

impl<'a> CheckAnswer<'a> {
    /// The answer of a split batch; `whole` is the verdict without the switch (for R = 0).
    pub(crate) fn of_split(
        split: &'a Split,
        destination: Vec<u8>,
        whole: impl FnOnce() -> Verdict,
    ) -> CheckAnswer<'a> {
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
                forward: &split.body,
                rejected_lines: &split.kept,
                destination: utf8(destination),
            },
        }
    }
}

impl From<Verdict> for CheckAnswer<'_> {
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
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(rename = "Diagnostic", rename_all = "camelCase")
)]
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

impl ToJs for JsDiagnostic {
    fn to_js(&self) -> JsValue {
        Obj::new()
            .put("line", self.line)
            .put("column", self.column)
            .put("code", self.code)
            .put("reason", &self.reason)
            .put("hint", &self.hint)
            .put("spans", self.spans)
            .put("textStart", self.text_start)
            .put("textLength", self.text_length)
            .put("excerpt", &self.excerpt)
            .put("excerptSpot", self.excerpt_spot)
            .put("excerptCutBefore", self.excerpt_cut_before)
            .put("excerptCutAfter", self.excerpt_cut_after)
            .done()
    }
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
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename = "Warning"))]
pub(crate) struct JsWarning {
    line: f64,
    #[cfg_attr(feature = "ts", ts(as = "WarningName"))]
    kind: &'static str,
    message: String,
}

impl ToJs for JsWarning {
    fn to_js(&self) -> JsValue {
        Obj::new()
            .put("line", self.line)
            .put("kind", self.kind)
            .put("message", &self.message)
            .done()
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

#[derive(Default)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub(crate) struct FieldTypeCounts {
    float: f64,
    integer: f64,
    unsigned: f64,
    string: f64,
    boolean: f64,
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub(crate) struct NamedCount {
    #[cfg_attr(feature = "ts", ts(type = "Text"))]
    name: OwnedText,
    points: f64,
}

/// What a batch holds.
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(rename = "Summary", rename_all = "camelCase")
)]
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

impl ToJs for FieldTypeCounts {
    fn to_js(&self) -> JsValue {
        Obj::new()
            .put("float", self.float)
            .put("integer", self.integer)
            .put("unsigned", self.unsigned)
            .put("string", self.string)
            .put("boolean", self.boolean)
            .done()
    }
}

impl ToJs for NamedCount {
    fn to_js(&self) -> JsValue {
        Obj::new()
            .put("name", &self.name)
            .put("points", self.points)
            .done()
    }
}

impl ToJs for JsSummary {
    fn to_js(&self) -> JsValue {
        Obj::new()
            .put("points", self.points)
            .put("fields", self.fields)
            .put("series", self.series)
            .put("measurements", &self.measurements)
            .put("fieldTypes", &self.field_types)
            .put("minTime", self.min_time)
            .put("maxTime", self.max_time)
            .put("histogram", &self.histogram)
            .done()
    }
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
/// and an empty body when accepted) plus what linegate explains beyond InfluxDB. Its
/// TypeScript is `Explained` (these explanations, generated) with the verdict's fields
/// (`AcceptedValidation`, `RejectedValidation`: see `dts::typescript`).
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(rename = "Explained", rename_all = "camelCase")
)]
pub(crate) struct JsValidation {
    #[cfg_attr(feature = "ts", ts(skip))]
    action: &'static str,
    #[cfg_attr(feature = "ts", ts(skip))]
    status: u16,
    #[cfg_attr(feature = "ts", ts(skip))]
    headers: Option<ErrorHeaders>,
    #[cfg_attr(feature = "ts", ts(skip))]
    body: String,
    #[cfg_attr(feature = "ts", ts(skip))]
    code: Option<&'static str>,
    #[cfg_attr(feature = "ts", ts(skip))]
    line: Option<f64>,
    #[cfg_attr(feature = "ts", ts(skip))]
    precision: Option<&'static str>,
    /// Points in the batch (of the accepted lines, when some are rejected).
    points: f64,
    lines: f64,
    /// Lines rejected (the diagnostics list is capped like the message; this is the total).
    rejected: f64,
    diagnostics: Vec<JsDiagnostic>,
    warnings: Vec<JsWarning>,
    warnings_total: f64,
    summary: Option<JsSummary>,
}

impl ToJs for JsValidation {
    fn to_js(&self) -> JsValue {
        Obj::new()
            .put("action", self.action)
            .put("status", self.status)
            .put("headers", &self.headers)
            .put("body", &self.body)
            .put("code", self.code)
            .put("line", self.line)
            .put("precision", self.precision)
            .put("points", self.points)
            .put("lines", self.lines)
            .put("rejected", self.rejected)
            .put("diagnostics", &self.diagnostics)
            .put("warnings", &self.warnings)
            .put("warningsTotal", self.warnings_total)
            .put("summary", &self.summary)
            .done()
    }
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
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename = "Credentials"))]
pub(crate) struct JsCredentials {
    #[cfg_attr(feature = "ts", ts(type = "Text | null"))]
    pub user: Option<OwnedText>,
    #[cfg_attr(feature = "ts", ts(type = "Text"))]
    pub secret: OwnedText,
}

/// A `precision` value an endpoint's clients send, and how the endpoint reads given
/// timestamps under it (`precisions`).
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(rename = "PrecisionRule", rename_all = "camelCase")
)]
pub(crate) struct JsPrecisionRule {
    pub value: &'static str,
    /// The unit given timestamps are read in.
    #[cfg_attr(feature = "ts", ts(as = "Precision"))]
    pub unit: &'static str,
    /// A coarser 1.x unit (`u`, `m`, `h`) that `/write` reads as nanoseconds.
    pub ignores_unit: bool,
}

impl ToJs for JsPrecisionRule {
    fn to_js(&self) -> JsValue {
        Obj::new()
            .put("value", self.value)
            .put("unit", self.unit)
            .put("ignoresUnit", self.ignores_unit)
            .done()
    }
}

/// How much of a request body to read and hold, from its declared `Content-Length`
/// (core's `limits::BodyRead`): `tooLarge` is answered 413 after the checks that come
/// first, which need no more than `cap` bytes.
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(rename = "BodyRead", rename_all = "camelCase")
)]
pub(crate) struct JsBodyRead {
    /// The declared length, or null when there is none or it is not decimal digits.
    pub declared: Option<f64>,
    /// The declared length is at or above `maxBody`: the answer is 413.
    pub too_large: bool,
    /// The most bytes to read, and the `maxBody` the check runs under.
    pub cap: f64,
    /// The most bytes the body can occupy while held.
    pub hold: f64,
}

impl ToJs for JsBodyRead {
    fn to_js(&self) -> JsValue {
        Obj::new()
            .put("declared", self.declared)
            .put("tooLarge", self.too_large)
            .put("cap", self.cap)
            .put("hold", self.hold)
            .done()
    }
}

impl From<linegate_core::limits::BodyRead> for JsBodyRead {
    fn from(r: linegate_core::limits::BodyRead) -> Self {
        JsBodyRead {
            declared: r.declared.map(|n| n as f64),
            too_large: r.too_large,
            cap: r.cap as f64,
            hold: r.hold as f64,
        }
    }
}

/// Where a checked v2 write goes on an upstream of another kind, and the Authorization to
/// send (null: none).
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename = "UpstreamWrite"))]
pub(crate) struct JsUpstreamWrite {
    pub path: String,
    pub authorization: Option<String>,
}

impl ToJs for JsUpstreamWrite {
    fn to_js(&self) -> JsValue {
        Obj::new()
            .put("path", &self.path)
            .put("authorization", &self.authorization)
            .done()
    }
}

/// A complete answer: `new Response(a.body, { status: a.status, headers: a.headers })`.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename = "Answer"))]
pub(crate) struct JsAnswer<'a> {
    pub status: u16,
    #[cfg_attr(feature = "ts", ts(type = "Record<string, string>"))]
    pub headers: &'a [(&'static str, String)],
    #[cfg_attr(feature = "ts", ts(type = "string | null"))]
    pub body: Option<std::borrow::Cow<'a, str>>,
}

impl ToJs for JsAnswer<'_> {
    fn to_js(&self) -> JsValue {
        let headers = self
            .headers
            .iter()
            .fold(Obj::new(), |o, (k, v)| o.put(k, v))
            .done();
        Obj::new()
            .put("status", self.status)
            .put("headers", Raw(headers))
            .put("body", &self.body)
            .done()
    }
}

/// The kinds `answers::answer` gives, in the order its TypeScript (`AnswerKind`) lists them
/// (kept here, beside the shape, so the answers module does not depend back on this one).
#[cfg_attr(not(feature = "ts"), allow(dead_code))]
pub(crate) const ANSWER_KINDS: &[&str] = &[
    "unauthorized",
    "not-found",
    "internal",
    "too-large",
    "method-not-allowed",
    "unavailable",
    "spool-full",
    "spool-unavailable",
    "busy",
    "series-quota",
    "ping",
    "health",
];

/// The names a request's quotas are kept under: the tenant (query-encoded) and the
/// destination bucket.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename = "QuotaNames"))]
pub(crate) struct JsQuotaNames {
    pub tenant: String,
    pub bucket: String,
}

impl ToJs for JsQuotaNames {
    fn to_js(&self) -> JsValue {
        Obj::new()
            .put("tenant", &self.tenant)
            .put("bucket", &self.bucket)
            .done()
    }
}

/// A tenant's count: the window's start (seconds of Unix time) and the bytes in it.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename = "RateUsage"))]
pub(crate) struct JsRateUsage {
    pub window: f64,
    pub bytes: f64,
}

impl ToJs for JsRateUsage {
    fn to_js(&self) -> JsValue {
        Obj::new()
            .put("window", self.window)
            .put("bytes", self.bytes)
            .done()
    }
}

/// New series admitted in input order while the set's `count` is below `limit`: how many
/// were refused, the indices to add (none when one was refused, unless `partial`), and the
/// indices of those refused.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename = "SeriesAdmission"))]
pub(crate) struct JsSeriesAdmission {
    pub refused: f64,
    #[cfg_attr(feature = "ts", ts(type = "Uint32Array"))]
    pub add: Vec<u32>,
    /// The indices of the new series that did not fit (whose lines a partial write rejects).
    #[cfg_attr(feature = "ts", ts(type = "Uint32Array"))]
    #[cfg_attr(feature = "ts", ts(rename = "refusedAt"))]
    pub refused_at: Vec<u32>,
}

impl ToJs for JsSeriesAdmission {
    fn to_js(&self) -> JsValue {
        Obj::new()
            .put("refused", self.refused)
            .put("add", Raw(js_sys::Uint32Array::from(&self.add[..]).into()))
            .put(
                "refusedAt",
                Raw(js_sys::Uint32Array::from(&self.refused_at[..]).into()),
            )
            .done()
    }
}

/// What a door keeps of a batch's attempts between them.
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(rename = "DeliveryHistory", rename_all = "camelCase")
)]
pub(crate) struct JsDeliveryHistory {
    pub attempts: u32,
    pub strikes: u32,
    pub first_strike_ms: Option<f64>,
}

impl ToJs for JsDeliveryHistory {
    #[inline(never)]
    fn to_js(&self) -> JsValue {
        Obj::new()
            .put("attempts", self.attempts)
            .put("strikes", self.strikes)
            .put("firstStrikeMs", self.first_strike_ms)
            .done()
    }
}

/// What to do with the batch; `history` is what to keep for its next attempt.
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(
        rename = "DeliveryDecision",
        tag = "action",
        rename_all = "lowercase",
        rename_all_fields = "camelCase"
    )
)]
pub(crate) enum JsDeliveryDecision {
    Delivered {
        history: JsDeliveryHistory,
    },
    Retry {
        after_ms: f64,
        strike: bool,
        history: JsDeliveryHistory,
    },
    Split {
        at: f64,
        #[cfg_attr(feature = "ts", ts(type = "Uint8Array | null"))]
        plain: Option<Bytes>,
        history: JsDeliveryHistory,
    },
    Dead {
        #[cfg_attr(feature = "ts", ts(as = "DeadLetterReason"))]
        reason: &'static str,
        history: JsDeliveryHistory,
    },
}

impl ToJs for JsDeliveryDecision {
    fn to_js(&self) -> JsValue {
        let (o, history) = match self {
            JsDeliveryDecision::Delivered { history } => {
                (Obj::new().put("action", "delivered"), history)
            }
            JsDeliveryDecision::Retry {
                after_ms,
                strike,
                history,
            } => (
                Obj::new()
                    .put("action", "retry")
                    .put("afterMs", *after_ms)
                    .put("strike", *strike),
                history,
            ),
            JsDeliveryDecision::Split { at, plain, history } => (
                Obj::new()
                    .put("action", "split")
                    .put("at", *at)
                    .put("plain", plain),
                history,
            ),
            JsDeliveryDecision::Dead { reason, history } => (
                Obj::new().put("action", "dead").put("reason", *reason),
                history,
            ),
        };
        o.put("history", history).done()
    }
}

impl ToJs for JsCredentials {
    fn to_js(&self) -> JsValue {
        Obj::new()
            .put("user", &self.user)
            .put("secret", &self.secret)
            .done()
    }
}
