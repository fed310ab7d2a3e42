//! Store-and-forward's policy (`linegate_core::delivery`) and Go's gzip reader for the JS
//! doors: the Worker's spool asks [`delivery_decision`] what to do after each answer and
//! reads gzip with [`gunzip`]; the page's viewer decodes a gzip file with [`Gunzip`], so the
//! viewer, the spool's 413 split and the check read the same bytes.

use linegate_core::delivery::{self, Answer, Batch, Decision, History, Policy};
use linegate_core::gzip;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::js::{to_js, Bytes};
use crate::options::{type_error, JsAttemptAnswer, JsDeliveryAttempt, JsDeliveryPolicy};
use crate::results::{JsDeliveryDecision, JsDeliveryHistory};

fn get(o: &JsValue, key: &str) -> Result<Option<JsValue>, JsValue> {
    if !o.is_object() {
        return Ok(None);
    }
    let v = js_sys::Reflect::get(o, &JsValue::from_str(key))?;
    Ok((!v.is_undefined() && !v.is_null()).then_some(v))
}

/// A non-negative number at `o[key]`, if present.
fn num(o: &JsValue, key: &str) -> Result<Option<f64>, JsValue> {
    match get(o, key)? {
        None => Ok(None),
        Some(v) => match v.as_f64() {
            Some(n) if n >= 0.0 => Ok(Some(n)),
            _ => Err(type_error(&format!(
                "linegate: {key} must be a non-negative number"
            ))),
        },
    }
}

fn text(o: &JsValue, key: &str) -> Result<Option<String>, JsValue> {
    get(o, key)?
        .map(|v| {
            v.as_string()
                .ok_or_else(|| type_error(&format!("linegate: {key} must be a string")))
        })
        .transpose()
}

/// `policy` as JS gives it (absent and null fields are `None`).
fn read_policy(o: &JsValue) -> Result<JsDeliveryPolicy, JsValue> {
    Ok(JsDeliveryPolicy {
        backoff_base_ms: num(o, "backoffBaseMs")?,
        backoff_cap_ms: num(o, "backoffCapMs")?,
        own_credentials: get(o, "ownCredentials")?.map(|v| v.is_truthy()),
        auth_retry_ms: num(o, "authRetryMs")?,
        max_strikes: num(o, "maxStrikes")?,
        max_strike_age_ms: num(o, "maxStrikeAgeMs")?,
        split_limit: num(o, "splitLimit")?,
    })
}

// Saturating float-to-int casts: Infinity means "no limit".
fn policy(p: JsDeliveryPolicy) -> Policy {
    let d = Policy::default();
    Policy {
        backoff_base_ms: p.backoff_base_ms.map_or(d.backoff_base_ms, |n| n as u64),
        backoff_cap_ms: p.backoff_cap_ms.map_or(d.backoff_cap_ms, |n| n as u64),
        own_credentials: p.own_credentials.unwrap_or(d.own_credentials),
        auth_retry_ms: p.auth_retry_ms.map_or(d.auth_retry_ms, |n| n as u64),
        max_strikes: p.max_strikes.map_or(d.max_strikes, |n| n as u32),
        max_strike_age_ms: p
            .max_strike_age_ms
            .map_or(d.max_strike_age_ms, |n| n as u64),
        split_limit: p.split_limit.map_or(d.split_limit, |n| n as usize),
    }
}

fn read_history(o: &JsValue) -> Result<JsDeliveryHistory, JsValue> {
    Ok(JsDeliveryHistory {
        attempts: num(o, "attempts")?.map_or(0, |n| n as u32),
        strikes: num(o, "strikes")?.map_or(0, |n| n as u32),
        first_strike_ms: num(o, "firstStrikeMs")?,
    })
}

/// `deliveryDecision`'s attempt, read in the order its checks have always run.
fn read_attempt(o: &JsValue) -> Result<JsDeliveryAttempt, JsValue> {
    let retry_after = text(o, "retryAfter")?;
    let answer = match (num(o, "status")?, text(o, "failure")?.as_deref()) {
        (Some(s), None) if s.fract() == 0.0 && s <= 999.0 => JsAttemptAnswer::Status {
            status: s as u16,
            retry_after,
        },
        (None, Some("unreachable")) => JsAttemptAnswer::Failure {
            failure: "unreachable",
        },
        (None, Some("timeout")) => JsAttemptAnswer::Failure { failure: "timeout" },
        _ => {
            return Err(type_error(
                "linegate: an attempt has a status (100-999) or a failure (\"unreachable\" or \"timeout\")",
            ))
        }
    };
    Ok(JsDeliveryAttempt {
        answer,
        body: get(o, "body")?,
        content_encoding: text(o, "contentEncoding")?,
        history: get(o, "history")?.map(|h| read_history(&h)).transpose()?,
        now: num(o, "now")?,
        random: num(o, "random")?,
        policy: get(o, "policy")?.map(|p| read_policy(&p)).transpose()?,
    })
}

/// What to do with a batch after one delivery attempt (see `npm/index.d.ts`,
/// `deliveryDecision`): `attempt` says what the upstream did (`status` and `retryAfter`, or
/// `failure`: `"unreachable"` or `"timeout"`), what the batch is (`body`,
/// `contentEncoding`, read only on a 413), its `history` so far, `now` (ms), `random` and
/// the `policy`. The answer carries the history to keep for the next attempt.
#[wasm_bindgen(js_name = deliveryDecision)]
pub fn delivery_decision(attempt: JsValue) -> Result<JsValue, JsValue> {
    if !attempt.is_object() {
        return Err(type_error(
            "linegate: deliveryDecision needs an attempt object",
        ));
    }
    let a = read_attempt(&attempt)?;
    let answer = match &a.answer {
        JsAttemptAnswer::Status {
            status,
            retry_after,
        } => Answer::Status {
            status: *status,
            retry_after: retry_after.as_deref().map(str::as_bytes),
        },
        JsAttemptAnswer::Failure { failure } if *failure == "unreachable" => Answer::Unreachable,
        JsAttemptAnswer::Failure { .. } => Answer::Timeout,
    };
    // The body is copied into wasm memory only when the decision reads it (a 413).
    let body = match a.body {
        Some(b) if delivery::needs_batch(&answer) => b
            .dyn_into::<js_sys::Uint8Array>()
            .map_err(|_| type_error("linegate: body must be a Uint8Array"))?
            .to_vec(),
        _ => Vec::new(),
    };
    let batch = Batch {
        body: &body,
        content_encoding: a.content_encoding.as_deref().map(str::as_bytes),
    };
    let mut h = a.history.map_or(
        History {
            attempts: 0,
            strikes: 0,
            first_strike_ms: None,
        },
        |h| History {
            attempts: h.attempts,
            strikes: h.strikes,
            first_strike_ms: h.first_strike_ms.map(|n| n as u64),
        },
    );
    let now = a.now.unwrap_or_else(js_sys::Date::now) as u64;
    let random = a.random.unwrap_or_else(js_sys::Math::random);
    let p = policy(a.policy.unwrap_or_default());
    let d = delivery::classify(&answer, &batch, &h, now, random, &p);
    h.record(&d, now);

    let n = |v: u64| v as f64;
    let history = JsDeliveryHistory {
        attempts: h.attempts,
        strikes: h.strikes,
        first_strike_ms: h.first_strike_ms.map(n),
    };
    to_js(&match d {
        Decision::Delivered => JsDeliveryDecision::Delivered { history },
        Decision::Retry { after_ms, strike } => JsDeliveryDecision::Retry {
            after_ms: n(after_ms),
            strike,
            history,
        },
        Decision::Split { at, plain } => JsDeliveryDecision::Split {
            at: n(at as u64),
            plain: plain.map(Bytes),
            history,
        },
        Decision::DeadLetter { reason } => JsDeliveryDecision::Dead {
            reason: reason.as_str(),
            history,
        },
    })
}

/// Where a 413's batch is cut (the start of the logical line with points nearest the
/// middle), or `undefined` when it holds fewer than two.
#[wasm_bindgen(js_name = splitPoint)]
pub fn split_point(body: &[u8]) -> Option<usize> {
    delivery::split_point(body)
}

/// `SPOOL=fallback`: whether a live write's answer `status` means the batch is spooled for
/// later instead of answered (linegate-core's `delivery::fallback_holds`).
#[wasm_bindgen(js_name = fallbackHolds)]
pub fn fallback_holds(status: u16) -> bool {
    delivery::fallback_holds(status)
}

fn limit(v: Option<f64>) -> usize {
    v.map_or(linegate_core::limits::DEFAULT_LIMITS.max_batch, |n| {
        n as usize
    })
}

fn gzip_error(e: gzip::ReadError) -> JsValue {
    js_sys::Error::new(&format!("linegate: gzip: {}", e.go_text())).into()
}

/// A whole gzip body decoded as InfluxDB reads it (every member; Go's error texts), up to
/// `limit` decoded bytes (default: the decompressed batch limit, 512 MiB).
#[wasm_bindgen]
pub fn gunzip(body: &[u8], limit_bytes: Option<f64>) -> Result<Vec<u8>, JsValue> {
    gzip::decompress(body, limit(limit_bytes)).map_err(gzip_error)
}

/// [`gunzip`] fed in pieces: `push` each chunk (its decoded bytes come back), then
/// `finish`; free it with `free()`.
#[wasm_bindgen(js_name = Gunzip)]
pub struct GunzipStream(gzip::Gunzip);

#[wasm_bindgen(js_class = Gunzip)]
impl GunzipStream {
    /// A decoder stopping at `limit` decoded bytes (default 512 MiB).
    #[wasm_bindgen(constructor)]
    pub fn new(limit_bytes: Option<f64>) -> GunzipStream {
        GunzipStream(gzip::Gunzip::new(limit(limit_bytes)))
    }

    /// The decoded bytes of the next chunk.
    pub fn push(&mut self, chunk: &[u8]) -> Result<Vec<u8>, JsValue> {
        let mut out = Vec::new();
        self.0
            .push(chunk, &mut |d| out.extend_from_slice(d))
            .map_err(gzip_error)?;
        Ok(out)
    }

    /// The last decoded bytes; throws when the body did not end after a whole member.
    pub fn finish(&mut self) -> Result<Vec<u8>, JsValue> {
        let mut out = Vec::new();
        self.0
            .finish(&mut |d| out.extend_from_slice(d))
            .map_err(gzip_error)?;
        Ok(out)
    }
}
