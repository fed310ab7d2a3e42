//! The write quotas' decisions for JS (spec Part D.2), from `linegate_core::quota`: the names
//! a Worker keys its counters by, the rate check with its 429, the window arithmetic, and the
//! admission of new series. The Worker (worker/quota.js), or a user's Worker through the
//! package, keeps the counts and sets in its own storage and calls these.

use linegate_core::pipeline::Head;
use linegate_core::quota::{self, Fate, Usage};
use linegate_core::{encode_query_value, Rejection};
use wasm_bindgen::prelude::*;

use crate::options::{type_error, CheckOptions};
use crate::results::set;

fn count(v: f64, what: &str) -> Result<u64, JsValue> {
    if v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v <= 9_007_199_254_740_991.0 {
        Ok(v as u64)
    } else {
        Err(type_error(&format!(
            "linegate: {what} must be a whole number ≥ 0"
        )))
    }
}

/// A rejection as `{ status, headers, body }`, with its own `Retry-After` when it has one.
pub(crate) fn rejection_js(r: &Rejection) -> Result<JsValue, JsValue> {
    let o = js_sys::Object::new();
    let h = js_sys::Object::new();
    for (k, v) in r.headers() {
        set(&h, k, &JsValue::from_str(v))?;
    }
    if let Some(s) = r.retry_after() {
        set(&h, "Retry-After", &JsValue::from_str(&s.to_string()))?;
    }
    set(&o, "status", &JsValue::from(r.status))?;
    set(&o, "headers", &h)?;
    set(
        &o,
        "body",
        &JsValue::from_str(&String::from_utf8_lossy(&r.body)),
    )?;
    Ok(o.into())
}

/// The names of a write request's quotas, from its head (`checkWrite`'s request without the
/// body): `{ tenant, bucket }` — the tenant (the org as the request names it, query-encoded)
/// and the destination bucket — or null when InfluxDB answers the head first.
#[wasm_bindgen(js_name = quotaNames)]
pub fn quota_names(opts: JsValue) -> Result<JsValue, JsValue> {
    let o = CheckOptions::read(opts)?;
    let head = Head {
        endpoint: o.endpoint,
        query: o.query.as_deref().unwrap_or_default().as_bytes(),
        authorization: o.authorization.as_deref().map(str::as_bytes),
        content_encoding: o.content_encoding.as_deref().map(str::as_bytes),
    };
    let Some((tenant, bucket)) = quota::edge_names(&head) else {
        return Ok(JsValue::NULL);
    };
    let out = js_sys::Object::new();
    set(
        &out,
        "tenant",
        &JsValue::from_str(&encode_query_value(&tenant)),
    )?;
    set(&out, "bucket", &JsValue::from_str(&bucket))?;
    Ok(out.into())
}

/// The rate decision before the body is read: null (go on), or the 429 with `Retry-After`
/// as `{ status, headers, body }` when the tenant's `bytes` counted in `window` are at or
/// above `limit` at `nowMs`. `tenant` is `quotaNames`'s (query-encoded).
#[wasm_bindgen(js_name = checkRate)]
pub fn check_rate(
    tenant: &str,
    window: f64,
    bytes: f64,
    limit: f64,
    now_ms: f64,
) -> Result<JsValue, JsValue> {
    let usage = Usage {
        window: count(window, "window")?,
        bytes: count(bytes, "bytes")?,
    };
    let raw = linegate_core::Query::parse(format!("t={tenant}").as_bytes())
        .get_or_empty("t")
        .to_vec();
    match quota::check_rate(&raw, usage, count(limit, "limit")?, count(now_ms, "nowMs")?) {
        Ok(()) => Ok(JsValue::NULL),
        Err(r) => rejection_js(&r),
    }
}

/// A tenant's usage after `add` more bytes at `nowMs`: `{ window, bytes }` (a count of an
/// older window starts over).
#[wasm_bindgen(js_name = countRate)]
pub fn count_rate(window: f64, bytes: f64, now_ms: f64, add: f64) -> Result<JsValue, JsValue> {
    let u = Usage {
        window: count(window, "window")?,
        bytes: count(bytes, "bytes")?,
    }
    .add(count(now_ms, "nowMs")?, count(add, "add")?);
    let out = js_sys::Object::new();
    set(&out, "window", &JsValue::from(u.window as f64))?;
    set(&out, "bytes", &JsValue::from(u.bytes as f64))?;
    Ok(out.into())
}

/// Whole seconds from `nowMs` to the end of its 300 s window (at least 1).
#[wasm_bindgen(js_name = quotaRetryAfter)]
pub fn quota_retry_after(now_ms: f64) -> Result<f64, JsValue> {
    Ok(quota::retry_after(count(now_ms, "nowMs")?) as f64)
}

/// The admission of a batch's distinct series (in input order) against a bucket's set:
/// `known[i]` is 1 when series `i` is in the set, `count` the set's size. Returns
/// `{ fates, add, refused }`: `fates[i]` 0 known, 1 new, 2 refused; `add` the indices to
/// add to the set (none when a series was refused and the write is not `partial`); and
/// how many were refused.
#[wasm_bindgen(js_name = admitSeries)]
pub fn admit_series(
    known: &[u8],
    count_now: f64,
    limit: f64,
    partial: bool,
) -> Result<JsValue, JsValue> {
    let known: Vec<bool> = known.iter().map(|&k| k != 0).collect();
    let a = quota::admit(&known, count(count_now, "count")?, count(limit, "limit")?);
    let fates: Vec<u8> = (a.fates.iter())
        .map(|f| match f {
            Fate::Known => 0,
            Fate::New => 1,
            Fate::Refused => 2,
        })
        .collect();
    let add: Vec<u32> = a.to_add(partial).into_iter().map(|i| i as u32).collect();
    let out = js_sys::Object::new();
    set(&out, "fates", &js_sys::Uint8Array::from(&fates[..]).into())?;
    set(&out, "add", &js_sys::Uint32Array::from(&add[..]).into())?;
    set(&out, "refused", &JsValue::from(a.refused as f64))?;
    Ok(out.into())
}

/// The 64-bit hash of a series key (`measurement,tag=value…` as written, tags sorted), as
/// 16 hex digits: what the sets hold.
#[wasm_bindgen(js_name = seriesHash)]
pub fn series_hash(key: &[u8]) -> String {
    hex(quota::series_hash(key))
}

pub(crate) fn hex(h: u64) -> String {
    format!("{h:016x}")
}
