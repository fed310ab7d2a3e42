//! The options objects of `checkWrite`, `validate`, `parse` and the `Checker`, read and
//! validated here, once: `npm/api.js` hands over what the user passed (it only turns a URL
//! and headers into the query and header strings). Each object is declared once, with
//! `js_options!`: its fields (JS key, reader type, doc comment) make both the reader and
//! the TypeScript declaration (`npm/types.d.ts`, written by `dts`; `tests/dts.rs` fails when
//! the committed file differs), so the published types cannot drift from what is read.
//! Read by hand rather than through serde's `Deserialize`: its error messages format
//! floats, and that formatting code alone would add a tenth to the module. Wrong types are
//! `TypeError`s, out-of-range values `RangeError`s, each naming the option.

use linegate_core::limits::DEFAULT_LIMITS;
use linegate_core::partial::PartialWrites;
use linegate_core::upstream::Kind;
use linegate_core::{Endpoint, Limits, ValidateOptions};
use wasm_bindgen::{JsCast, JsValue};

use crate::results::JsDeliveryHistory;

pub(crate) fn type_error(msg: &str) -> JsValue {
    js_sys::TypeError::new(msg).into()
}

fn range_error(msg: &str) -> JsValue {
    js_sys::RangeError::new(msg).into()
}

/// One options object (`undefined` and `null` read as empty).
struct Opts(JsValue);

impl Opts {
    fn new(v: JsValue, what: &str) -> Result<Opts, JsValue> {
        if !(v.is_undefined() || v.is_null() || v.is_object()) {
            return Err(type_error(&format!("linegate: {what} must be an object")));
        }
        Ok(Opts(v))
    }

    /// `o[key]`; absent, `undefined` and `null` are `None`.
    #[inline(never)]
    fn get(&self, key: &str) -> Result<Option<JsValue>, JsValue> {
        if self.0.is_undefined() || self.0.is_null() {
            return Ok(None);
        }
        let v = js_sys::Reflect::get(&self.0, &JsValue::from_str(key))?;
        Ok((!v.is_undefined() && !v.is_null()).then_some(v))
    }
}

impl Opts {
    /// `o[key]` read as a `T` (absent, `undefined` and `null`: `None`); `name` in errors.
    fn field<T: FromJs>(&self, key: &str, name: &'static str) -> Result<Option<T>, JsValue> {
        match self.get(key)? {
            None => Ok(None),
            Some(v) => T::from_js(v, name).map(Some),
        }
    }
}

/// A value of an options object: how it is read from JS (`key` names it in errors; absent
/// and `null` never reach here) and, for the declarations, its TypeScript type, written
/// beside the reader it describes.
trait FromJs: Sized {
    fn from_js(v: JsValue, key: &'static str) -> Result<Self, JsValue>;
    #[cfg(feature = "ts")]
    fn ts() -> String;
}

/// An options object, declared once: the struct (every field `Option`, absent = `None`),
/// its reader (fields read in the order written, each by its JS key, which errors name) and, with `--features ts`, its TypeScript declaration (`docs`, `decl`,
/// as ts-rs names them) from the doc comments and each field type's `FromJs::ts`. Every
/// field is optional there (`?: T | undefined`, as `undefined` and `null` read as absent).
macro_rules! js_options {
    (
        $(#[doc = $doc:literal])*
        struct $name:ident as $ts:literal {
            $( $(#[doc = $fdoc:literal])* $field:ident: $ty:ty = $key:literal, )*
        }
    ) => {
        $(#[doc = $doc])*
        pub(crate) struct $name {
            $( $(#[doc = $fdoc])* pub $field: Option<$ty>, )*
        }

        #[cfg_attr(feature = "ts", allow(dead_code))]
        impl $name {
            fn read(o: &Opts) -> Result<Self, JsValue> {
                Ok($name {
                    $( $field: o.field::<$ty>($key, $key)?, )*
                })
            }

            /// The declaration's JSDoc, from the struct's doc comment.
            #[cfg(feature = "ts")]
            pub(crate) fn docs() -> Option<String> {
                Some(ts_rs::format_docs(&[$($doc),*])).filter(|d| !d.is_empty())
            }

            /// `type $ts = { … }`: each field with its doc comment as JSDoc.
            #[cfg(feature = "ts")]
            pub(crate) fn decl() -> String {
                let fields: Vec<String> = vec![$(
                    format!(
                        "\n{}{}?: {} | undefined,",
                        ts_rs::format_docs(&[$($fdoc),*]),
                        $key,
                        <$ty as FromJs>::ts(),
                    )
                ),*];
                format!("type {} = {{{}\n}};", $ts, fields.concat())
            }
        }
    };
}

impl FromJs for String {
    fn from_js(v: JsValue, key: &'static str) -> Result<Self, JsValue> {
        v.as_string()
            .ok_or_else(|| type_error(&format!("linegate: {key} must be a string")))
    }
    #[cfg(feature = "ts")]
    fn ts() -> String {
        "string".into()
    }
}

/// The write endpoint, by its path: `/api/v2/write` or v1's `/write`.
impl FromJs for Endpoint {
    fn from_js(v: JsValue, key: &'static str) -> Result<Self, JsValue> {
        Endpoint::from_path(&String::from_js(v, key)?)
            .ok_or_else(|| type_error("linegate: endpoint must be \"/api/v2/write\" or \"/write\""))
    }
    #[cfg(feature = "ts")]
    fn ts() -> String {
        <crate::ts::Endpoint as ts_rs::TS>::name()
    }
}

/// The upstream kind: `influxdb2`, `influxdb1` or `victoriametrics`.
impl FromJs for Kind {
    #[inline]
    fn from_js(v: JsValue, key: &'static str) -> Result<Self, JsValue> {
        Kind::parse(&String::from_js(v, key)?).ok_or_else(|| {
            type_error(
                "linegate: upstream must be \"influxdb2\", \"influxdb1\" or \"victoriametrics\"",
            )
        })
    }
    #[cfg(feature = "ts")]
    fn ts() -> String {
        <crate::ts::UpstreamKind as ts_rs::TS>::name()
    }
}

/// `acceptPartial`: a boolean (`true` is `always`) or core's names of the switch.
impl FromJs for PartialWrites {
    #[inline]
    fn from_js(v: JsValue, _: &'static str) -> Result<Self, JsValue> {
        const MSG: &str =
            "linegate: acceptPartial must be a boolean or \"off\", \"request\" or \"always\"";
        match v.as_bool() {
            Some(true) => Ok(PartialWrites::Always),
            Some(false) => Ok(PartialWrites::Off),
            None => v
                .as_string()
                .and_then(|s| PartialWrites::parse(&s))
                .ok_or_else(|| type_error(MSG)),
        }
    }
    #[cfg(feature = "ts")]
    fn ts() -> String {
        <crate::ts::AcceptPartial as ts_rs::TS>::name()
    }
}

/// "Now" in ns: a BigInt, or a safe integer number, that fits in 64 bits.
pub(crate) struct Nanos(i64);

impl FromJs for Nanos {
    fn from_js(v: JsValue, _: &'static str) -> Result<Self, JsValue> {
        const MSG: &str = "linegate: now must be a bigint (nanoseconds since the epoch)";
        if let Some(n) = v.as_f64() {
            return if n.fract() == 0.0 && n.abs() <= 9_007_199_254_740_991.0 {
                Ok(Nanos(n as i64))
            } else {
                Err(type_error(MSG))
            };
        }
        if !v.is_bigint() {
            return Err(type_error(MSG));
        }
        i64::try_from(v)
            .map(Nanos)
            .map_err(|_| range_error("linegate: now must fit in 64 bits"))
    }
    #[cfg(feature = "ts")]
    fn ts() -> String {
        "bigint".into()
    }
}

/// A size in bytes, one of `limits` (errors name it so). Infinity or values past what wasm32 can address mean "no limit" (it
/// cannot hold more than 4 GiB anyway).
pub(crate) struct ByteSize(usize);

impl FromJs for ByteSize {
    fn from_js(v: JsValue, key: &'static str) -> Result<Self, JsValue> {
        let bad = || {
            type_error(&format!(
                "linegate: limits.{key} must be a non-negative number of bytes"
            ))
        };
        if let Some(n) = v.as_f64() {
            if n.is_nan() || n < 0.0 {
                return Err(bad());
            }
            return Ok(ByteSize(if n >= usize::MAX as f64 {
                usize::MAX
            } else {
                n as usize
            }));
        }
        if v.is_bigint() {
            let n = u64::try_from(v).map_err(|_| bad())?;
            return Ok(ByteSize(usize::try_from(n).unwrap_or(usize::MAX)));
        }
        Err(bad())
    }
    #[cfg(feature = "ts")]
    fn ts() -> String {
        "number | bigint".into()
    }
}

/// A nested object of limits.
impl FromJs for JsLimits {
    fn from_js(v: JsValue, key: &'static str) -> Result<Self, JsValue> {
        JsLimits::read(&Opts::new(v, key)?)
    }
    #[cfg(feature = "ts")]
    fn ts() -> String {
        "Limits".into()
    }
}

/// `summary`: `true` (the default number of bars), `false` (none), or a number of bars.
pub(crate) struct Bars(Option<usize>);

/// Histogram bars of `summary: true`.
const DEFAULT_SUMMARY_BUCKETS: usize = 50;

impl FromJs for Bars {
    #[inline]
    fn from_js(v: JsValue, _: &'static str) -> Result<Self, JsValue> {
        match v.as_bool() {
            Some(false) => Ok(Bars(None)),
            Some(true) => Ok(Bars(Some(DEFAULT_SUMMARY_BUCKETS))),
            None => match v.as_f64() {
                Some(n) if !n.is_nan() => Ok(Bars(Some(n.floor().clamp(0.0, 1e6) as usize))),
                _ => Err(type_error(
                    "linegate: summary must be a boolean or a number of histogram bars",
                )),
            },
        }
    }
    #[cfg(feature = "ts")]
    fn ts() -> String {
        "boolean | number".into()
    }
}

/// A switch read as JS reads a condition (any value; truthy is on).
pub(crate) struct Truthy(bool);

impl FromJs for Truthy {
    #[inline]
    fn from_js(v: JsValue, _: &'static str) -> Result<Self, JsValue> {
        Ok(Truthy(v.is_truthy()))
    }
    #[cfg(feature = "ts")]
    fn ts() -> String {
        "boolean".into()
    }
}

/// The progress callback (see `progress`): called with the bytes read and the total.
pub(crate) struct ProgressFn(js_sys::Function);

impl FromJs for ProgressFn {
    #[inline]
    fn from_js(v: JsValue, _: &'static str) -> Result<Self, JsValue> {
        v.dyn_into::<js_sys::Function>()
            .map(ProgressFn)
            .map_err(|_| type_error("linegate: onProgress must be a function"))
    }
    #[cfg(feature = "ts")]
    fn ts() -> String {
        "((bytesRead: number, bytesTotal: number) => boolean | void)".into()
    }
}

/// An `AbortSignal` (`progress` reads its `aborted` and `reason`).
pub(crate) struct Signal(JsValue);

impl FromJs for Signal {
    #[inline]
    fn from_js(v: JsValue, _: &'static str) -> Result<Self, JsValue> {
        if !v.is_object() {
            return Err(type_error("linegate: signal must be an AbortSignal"));
        }
        Ok(Signal(v))
    }
    #[cfg(feature = "ts")]
    fn ts() -> String {
        "AbortSignalLike".into()
    }
}

js_options! {
    /// Size limits in bytes (spec Part A §4). A size equal to or above a limit gets 413;
    /// `Infinity` is none.
    struct JsLimits as "Limits" {
        /// Body as received (compressed, if it is). Default 512 MiB.
        max_body: ByteSize = "maxBody",
        /// Body after gzip decoding (InfluxDB's MaxBatchSizeBytes). Default 512 MiB.
        max_batch: ByteSize = "maxBatch",
        /// Escaped bytes of the 400 message before it is cut short. Default 16 MiB.
        max_message: ByteSize = "maxMessage",
    }
}

impl JsLimits {
    /// Absent limits take the library's defaults.
    fn resolve(l: Option<JsLimits>) -> Limits {
        let Some(l) = l else { return DEFAULT_LIMITS };
        let pick = |v: Option<ByteSize>, d: usize| v.map_or(d, |b| b.0);
        Limits {
            max_body: pick(l.max_body, DEFAULT_LIMITS.max_body),
            max_batch: pick(l.max_batch, DEFAULT_LIMITS.max_batch),
            max_message: pick(l.max_message, DEFAULT_LIMITS.max_message),
        }
    }
}

js_options! {
    /// What the wasm side reads of a write request, as the caller gives it (`checkWrite`,
    /// `Checker.forRequest`, `checkStream`'s `request`, and the head-only calls).
    struct WriteRequest as "WriteRequest" {
        /// Which endpoint the request goes to. Default: `/write` when that is the path of
        /// `url`, else `/api/v2/write`.
        endpoint: Endpoint = "endpoint",
        /// The raw query string (`org=o&bucket=b&precision=s`; a leading `?` is ignored).
        query: String = "query",
        /// The server's clock in ns (lines without a timestamp get it). Default: the wall
        /// clock.
        now: Nanos = "now",
        limits: JsLimits = "limits",
        /// Partial writes (spec Part D.1): `true` or `"always"` splits every batch with
        /// good and bad lines, `"request"` those whose query has `accept_partial=true`.
        /// Default: off.
        accept_partial: PartialWrites = "acceptPartial",
    }
}

js_options! {
    /// What `npm/api.js` takes out of the request's `url` and `headers` for the wasm side
    /// (not a type of the package: callers give `url` and `headers`).
    struct RequestHead as "RequestHead" {
        authorization: String = "authorization",
        content_encoding: String = "contentEncoding",
        /// The request's path, when the caller gave a URL rather than an endpoint
        /// (`credentials` reads it by core's rule for the path).
        path: String = "path",
    }
}

js_options! {
    /// The upstream an edge forwards to, whose rules apply (`Checker.forRequest`,
    /// `credentialsCheck`, `upstreamWrite`).
    struct UpstreamOption as "UpstreamOption" {
        /// InfluxDB OSS v2 (default), InfluxDB 1.x or VictoriaMetrics: 1.x takes v1 writes
        /// without credentials, and points the upstream cannot store as sent are refused.
        upstream: Kind = "upstream",
    }
}

/// The wall clock in ns when the caller gives no `now` (ms resolution is what JS has).
fn now_or_clock(now: Option<Nanos>) -> i64 {
    now.map_or_else(
        || (js_sys::Date::now() as i64).saturating_mul(1_000_000),
        |n| n.0,
    )
}

/// `checkWrite`'s request, as `npm/api.js` passes it (the raw query and header values),
/// with the defaults applied.
pub(crate) struct CheckOptions {
    pub endpoint: Endpoint,
    pub query: Option<String>,
    pub authorization: Option<String>,
    pub content_encoding: Option<String>,
    /// The request's path, when the caller gave a URL rather than an endpoint.
    pub path: Option<String>,
    pub now: i64,
    pub limits: Limits,
    /// `acceptPartial` (spec Part D.1).
    pub partial: PartialWrites,
    /// What the edge forwards to (`upstream`: `influxdb2`, `influxdb1`, `victoriametrics`).
    pub upstream: Kind,
}

impl CheckOptions {
    /// Where a partial write's rejected lines are recorded (core's rule).
    pub fn destination(&self) -> Vec<u8> {
        linegate_core::partial::destination(
            self.endpoint.path(),
            self.query.as_deref().unwrap_or_default().as_bytes(),
        )
    }

    /// Whether this write is split (a partial write) rather than judged whole.
    pub fn is_partial(&self) -> bool {
        self.partial
            .applies(self.query.as_deref().unwrap_or_default().as_bytes())
    }

    pub fn read(v: JsValue) -> Result<CheckOptions, JsValue> {
        let o = Opts::new(v, "the request")?;
        let req = WriteRequest::read(&o)?;
        let head = RequestHead::read(&o)?;
        let up = UpstreamOption::read(&o)?;
        Ok(CheckOptions {
            endpoint: req.endpoint.unwrap_or_default(),
            query: req.query,
            authorization: head.authorization,
            content_encoding: head.content_encoding,
            path: head.path,
            now: now_or_clock(req.now),
            limits: JsLimits::resolve(req.limits),
            partial: req.accept_partial.unwrap_or_default(),
            upstream: up.upstream.unwrap_or(Kind::InfluxDb2),
        })
    }
}

js_options! {
    /// What `validate` explains beyond InfluxDB's answer (also `new Checker(opts)`'s).
    struct ExplainOptions as "ExplainOptions" {
        /// Build a summary; a number sets the histogram's bars (true = 50).
        summary: Bars = "summary",
        /// Look for what storage would reject with 422 (default true).
        warnings: Truthy = "warnings",
    }
}

js_options! {
    /// Options of `validate` and `parse`: the batch is checked as a write of it with these
    /// parameters and headers.
    struct JsBatchOptions as "BatchOptions" {
        /// Called about every MiB and at the end with the bytes of the (decoded) body read
        /// so far and its size. Returning `false` cancels: the call then throws an Error
        /// named "AbortError".
        on_progress: ProgressFn = "onProgress",
        /// Cancels the check once aborted (checked before it starts and at each progress
        /// step): the call throws `signal.reason`.
        signal: Signal = "signal",
        /// Check as a write to this endpoint (default `/api/v2/write`); `/write` reads
        /// `precision` as InfluxDB's v1 endpoint does.
        endpoint: Endpoint = "endpoint",
        /// The `precision` query parameter, verbatim (absent or "" = ns).
        precision: String = "precision",
        /// The Content-Encoding header, verbatim (`gzip` and `x-gzip` decode).
        content_encoding: String = "contentEncoding",
        /// The server's clock in ns (lines without a timestamp get it). Default: the wall
        /// clock.
        now: Nanos = "now",
        limits: JsLimits = "limits",
    }
}

/// Options of `validate` and `parse`, with the defaults applied.
pub(crate) struct BatchOptions {
    endpoint: Endpoint,
    precision: Option<String>,
    content_encoding: Option<String>,
    now: i64,
    limits: Limits,
    warnings: bool,
    summary_buckets: Option<usize>,
    pub on_progress: Option<js_sys::Function>,
    pub signal: Option<JsValue>,
}

impl BatchOptions {
    /// `explain`: whether warnings and the summary are asked for here (`validate`), or
    /// never looked for (`parse`).
    pub fn read(v: JsValue, explain: bool) -> Result<BatchOptions, JsValue> {
        let o = Opts::new(v, "options")?;
        let x = ExplainOptions::read(&o)?;
        let b = JsBatchOptions::read(&o)?;
        Ok(BatchOptions {
            endpoint: b.endpoint.unwrap_or_default(),
            precision: b.precision,
            content_encoding: b.content_encoding,
            now: now_or_clock(b.now),
            limits: JsLimits::resolve(b.limits),
            warnings: explain && x.warnings.is_none_or(|w| w.0),
            summary_buckets: x.summary.and_then(|s| s.0).filter(|_| explain),
            on_progress: b.on_progress.map(|f| f.0),
            signal: b.signal.map(|s| s.0),
        })
    }

    pub fn core(&self) -> ValidateOptions<'_> {
        ValidateOptions {
            endpoint: self.endpoint,
            precision: self.precision.as_deref().map(str::as_bytes),
            content_encoding: self.content_encoding.as_deref().map(str::as_bytes),
            now: self.now,
            limits: self.limits,
            warnings: self.warnings,
            summary_buckets: self.summary_buckets,
        }
    }
}

/// Store-and-forward's knobs (linegate-core's `delivery::Policy`); absent fields take its
/// defaults. Read from JS (`deliveryDecision`'s `policy`).
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(rename = "DeliveryPolicy", rename_all = "camelCase")
)]
#[derive(Default)]
pub(crate) struct JsDeliveryPolicy {
    /// First backoff step, doubling per failed attempt (default 1000).
    #[cfg_attr(feature = "ts", ts(optional))]
    pub backoff_base_ms: Option<f64>,
    /// Longest backoff step (default 300000).
    #[cfg_attr(feature = "ts", ts(optional))]
    pub backoff_cap_ms: Option<f64>,
    /// The door sends its own token with every batch: 401/403 wait instead of being dead
    /// letters (default false).
    #[cfg_attr(feature = "ts", ts(optional))]
    pub own_credentials: Option<bool>,
    /// Shortest wait after 401/403 with `ownCredentials` (default 60000).
    #[cfg_attr(feature = "ts", ts(optional))]
    pub auth_retry_ms: Option<f64>,
    /// Strikes (failures that may be the batch's fault) before it may become a dead letter
    /// (default 10).
    #[cfg_attr(feature = "ts", ts(optional))]
    pub max_strikes: Option<f64>,
    /// Age of the first strike before it may become a dead letter (default 600000).
    #[cfg_attr(feature = "ts", ts(optional))]
    pub max_strike_age_ms: Option<f64>,
    /// Largest decoded gzip body taken apart on a 413 (default 512 MiB).
    #[cfg_attr(feature = "ts", ts(optional))]
    pub split_limit: Option<f64>,
}

/// The upstream's answer to a delivery attempt, or why there was none.
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(untagged, rename_all_fields = "camelCase")
)]
pub(crate) enum JsAttemptAnswer {
    Status {
        status: u16,
        #[cfg_attr(feature = "ts", ts(optional = nullable))]
        retry_after: Option<String>,
    },
    Failure {
        #[cfg_attr(feature = "ts", ts(type = "\"unreachable\" | \"timeout\""))]
        failure: &'static str,
    },
}

/// One delivery attempt: the upstream's answer (or why there was none), the batch, its
/// history. Read from JS (`deliveryDecision`).
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(rename = "DeliveryAttempt", rename_all = "camelCase")
)]
pub(crate) struct JsDeliveryAttempt {
    #[cfg_attr(feature = "ts", ts(flatten))]
    pub answer: JsAttemptAnswer,
    /// The batch as stored (read only on a 413).
    #[cfg_attr(feature = "ts", ts(optional, type = "Uint8Array"))]
    pub body: Option<JsValue>,
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub content_encoding: Option<String>,
    #[cfg_attr(feature = "ts", ts(optional))]
    pub history: Option<JsDeliveryHistory>,
    /// ms since the epoch (default: now).
    #[cfg_attr(feature = "ts", ts(optional))]
    pub now: Option<f64>,
    /// In [0, 1): the backoff's jitter (default: Math.random()).
    #[cfg_attr(feature = "ts", ts(optional))]
    pub random: Option<f64>,
    #[cfg_attr(feature = "ts", ts(optional))]
    pub policy: Option<JsDeliveryPolicy>,
}
