//! The options objects of `checkWrite`, `validate` and `parse`, read and validated here,
//! once: `npm/api.js` hands over what the user passed (it only turns a URL and headers into
//! the query and header strings). Read by hand rather than through serde's `Deserialize`:
//! its error messages format floats, and that formatting code alone would add a tenth to
//! the module. Wrong types are `TypeError`s, out-of-range values `RangeError`s, each naming
//! the option.

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

    fn get(&self, key: &str) -> Result<Option<JsValue>, JsValue> {
        if self.0.is_undefined() || self.0.is_null() {
            return Ok(None);
        }
        let v = js_sys::Reflect::get(&self.0, &JsValue::from_str(key))?;
        Ok((!v.is_undefined() && !v.is_null()).then_some(v))
    }

    fn string(&self, key: &str) -> Result<Option<String>, JsValue> {
        self.get(key)?
            .map(|v| {
                v.as_string()
                    .ok_or_else(|| type_error(&format!("linegate: {key} must be a string")))
            })
            .transpose()
    }

    /// "Now" in ns: a BigInt, or a safe integer number, that fits in 64 bits.
    /// The write endpoint (its path): `/api/v2/write` (absent) or v1's `/write`.
    fn endpoint(&self) -> Result<Endpoint, JsValue> {
        match self.string("endpoint")? {
            None => Ok(Endpoint::V2),
            Some(p) => Endpoint::from_path(&p).ok_or_else(|| {
                type_error("linegate: endpoint must be \"/api/v2/write\" or \"/write\"")
            }),
        }
    }

    /// The upstream kind (absent: `influxdb2`).
    pub(crate) fn upstream(&self) -> Result<Kind, JsValue> {
        match self.string("upstream")? {
            None => Ok(Kind::InfluxDb2),
            Some(k) => Kind::parse(&k).ok_or_else(|| {
                type_error(
                    "linegate: upstream must be \"influxdb2\", \"influxdb1\" or \"victoriametrics\"",
                )
            }),
        }
    }

    fn partial(&self) -> Result<PartialWrites, JsValue> {
        const MSG: &str =
            "linegate: acceptPartial must be a boolean or \"off\", \"request\" or \"always\"";
        match self.get("acceptPartial")? {
            None => Ok(PartialWrites::Off),
            Some(v) => match v.as_bool() {
                Some(true) => Ok(PartialWrites::Always),
                Some(false) => Ok(PartialWrites::Off),
                None => v
                    .as_string()
                    .and_then(|s| PartialWrites::parse(&s))
                    .ok_or_else(|| type_error(MSG)),
            },
        }
    }

    fn now(&self) -> Result<Option<i64>, JsValue> {
        let Some(v) = self.get("now")? else {
            return Ok(None);
        };
        const MSG: &str = "linegate: now must be a bigint (nanoseconds since the epoch)";
        if let Some(n) = v.as_f64() {
            return if n.fract() == 0.0 && n.abs() <= 9_007_199_254_740_991.0 {
                Ok(Some(n as i64))
            } else {
                Err(type_error(MSG))
            };
        }
        if !v.is_bigint() {
            return Err(type_error(MSG));
        }
        i64::try_from(v)
            .map(Some)
            .map_err(|_| range_error("linegate: now must fit in 64 bits"))
    }

    /// Limits in bytes; absent = the library default. Infinity or values past what wasm32
    /// can address mean "no limit" (it cannot hold more than 4 GiB anyway).
    fn limits(&self) -> Result<Limits, JsValue> {
        let Some(l) = self.get("limits")? else {
            return Ok(DEFAULT_LIMITS);
        };
        let l = Opts::new(l, "limits")?;
        let pick = |k: &str| -> Result<Option<usize>, JsValue> {
            let Some(v) = l.get(k)? else { return Ok(None) };
            let bad = || {
                type_error(&format!(
                    "linegate: limits.{k} must be a non-negative number of bytes"
                ))
            };
            if let Some(n) = v.as_f64() {
                if n.is_nan() || n < 0.0 {
                    return Err(bad());
                }
                return Ok(Some(if n >= usize::MAX as f64 {
                    usize::MAX
                } else {
                    n as usize
                }));
            }
            if v.is_bigint() {
                let n = u64::try_from(v).map_err(|_| bad())?;
                return Ok(Some(usize::try_from(n).unwrap_or(usize::MAX)));
            }
            Err(bad())
        };
        let l = JsLimits {
            max_body: pick("maxBody")?,
            max_batch: pick("maxBatch")?,
            max_message: pick("maxMessage")?,
        };
        Ok(Limits {
            max_body: l.max_body.unwrap_or(DEFAULT_LIMITS.max_body),
            max_batch: l.max_batch.unwrap_or(DEFAULT_LIMITS.max_batch),
            max_message: l.max_message.unwrap_or(DEFAULT_LIMITS.max_message),
        })
    }
}

/// Size limits in bytes (spec Part A §4). A size equal to or above a limit gets 413;
/// `Infinity` is none.
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(rename = "Limits", rename_all = "camelCase")
)]
pub(crate) struct JsLimits {
    /// Body as received (compressed, if it is). Default 512 MiB.
    #[cfg_attr(feature = "ts", ts(optional, type = "number | bigint | undefined"))]
    pub max_body: Option<usize>,
    /// Body after gzip decoding (InfluxDB's MaxBatchSizeBytes). Default 512 MiB.
    #[cfg_attr(feature = "ts", ts(optional, type = "number | bigint | undefined"))]
    pub max_batch: Option<usize>,
    /// Escaped bytes of the 400 message before it is cut short. Default 16 MiB.
    #[cfg_attr(feature = "ts", ts(optional, type = "number | bigint | undefined"))]
    pub max_message: Option<usize>,
}

/// The wall clock in ns when the caller gives no `now` (ms resolution is what JS has).
fn now_or_clock(now: Option<i64>) -> i64 {
    now.unwrap_or_else(|| (js_sys::Date::now() as i64).saturating_mul(1_000_000))
}

/// `checkWrite`'s request, as `npm/api.js` passes it: the raw query and header values.
pub(crate) struct CheckOptions {
    pub endpoint: Endpoint,
    pub query: Option<String>,
    pub authorization: Option<String>,
    pub content_encoding: Option<String>,
    /// The request's path, when the caller gave a URL rather than an endpoint
    /// (`credentials` reads it by core's rule for the path).
    pub path: Option<String>,
    pub now: i64,
    pub limits: Limits,
    /// `acceptPartial` (spec Part D.1): `true`/`"always"`, `"request"` (with
    /// `accept_partial=true` in the query), `false`/`"off"`/absent.
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
        Ok(CheckOptions {
            endpoint: o.endpoint()?,
            query: o.string("query")?,
            authorization: o.string("authorization")?,
            content_encoding: o.string("contentEncoding")?,
            path: o.string("path")?,
            now: now_or_clock(o.now()?),
            limits: o.limits()?,
            partial: o.partial()?,
            upstream: o.upstream()?,
        })
    }
}

/// Histogram bars of `summary: true`.
const DEFAULT_SUMMARY_BUCKETS: usize = 50;

/// Options of `validate` and `parse`, as the user wrote them.
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
        let summary_buckets = match o.get("summary")? {
            None => None,
            Some(v) if v.as_bool() == Some(false) => None,
            Some(v) if v.as_bool() == Some(true) => Some(DEFAULT_SUMMARY_BUCKETS),
            Some(v) => match v.as_f64() {
                Some(n) if !n.is_nan() => Some(n.floor().clamp(0.0, 1e6) as usize),
                _ => {
                    return Err(type_error(
                        "linegate: summary must be a boolean or a number of histogram bars",
                    ))
                }
            },
        };
        let on_progress = match o.get("onProgress")? {
            None => None,
            Some(f) => Some(
                f.dyn_into::<js_sys::Function>()
                    .map_err(|_| type_error("linegate: onProgress must be a function"))?,
            ),
        };
        let signal = match o.get("signal")? {
            Some(s) if !s.is_object() => {
                return Err(type_error("linegate: signal must be an AbortSignal"))
            }
            s => s,
        };
        Ok(BatchOptions {
            endpoint: o.endpoint()?,
            precision: o.string("precision")?,
            content_encoding: o.string("contentEncoding")?,
            now: now_or_clock(o.now()?),
            limits: o.limits()?,
            warnings: explain && o.get("warnings")?.is_none_or(|w| w.is_truthy()),
            summary_buckets: summary_buckets.filter(|_| explain),
            on_progress,
            signal,
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
