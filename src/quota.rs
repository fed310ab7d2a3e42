//! The write quotas' decisions for JS (spec Part D.2), from `linegate_core::quota`: the names
//! a Worker keys its counters by, the rate check with its 429, the window arithmetic, and the
//! admission of new series. The Worker (worker/quota.js), or a user's Worker through the
//! package, keeps the counts and sets in its own storage and calls these (through
//! `npm/api.js`, which shapes the plain arrays returned here).

use linegate_core::pipeline::Head;
use linegate_core::quota::{self, Usage};
use linegate_core::{encode_query_value, Query};
use wasm_bindgen::prelude::*;

use crate::answers::rejection;
use crate::js::to_js;
use crate::options::{type_error, CheckOptions};
use crate::results::{JsQuotaNames, JsRateUsage, JsSeriesAdmission};

// One message for every count (a formatted one per call site would cost wasm size).
#[inline(never)]
fn count(v: f64) -> Result<u64, JsValue> {
    if v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v <= 9_007_199_254_740_991.0 {
        Ok(v as u64)
    } else {
        Err(type_error(
            "linegate: quota counts, limits and times must be whole numbers ≥ 0",
        ))
    }
}

fn usage(window: f64, bytes: f64) -> Result<Usage, JsValue> {
    Ok(Usage {
        window: count(window)?,
        bytes: count(bytes)?,
    })
}

/// The names of a write request's quotas, from its head (`checkWrite`'s request without the
/// body): the tenant (the org as the request names it, query-encoded) and the destination
/// bucket, joined by LF (neither holds one), or an empty string when InfluxDB answers the
/// head first.
#[wasm_bindgen(js_name = quotaNames)]
pub fn quota_names(opts: JsValue) -> Result<JsValue, JsValue> {
    let o = CheckOptions::read(opts)?;
    let head = Head {
        endpoint: o.endpoint,
        query: o.query.as_deref().unwrap_or_default().as_bytes(),
        authorization: o.authorization.as_deref().map(str::as_bytes),
        content_encoding: o.content_encoding.as_deref().map(str::as_bytes),
    };
    to_js(
        &quota::edge_names(&head).map(|(tenant, bucket)| JsQuotaNames {
            tenant: encode_query_value(&tenant),
            bucket,
        }),
    )
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
    let query = format!("t={tenant}");
    let raw = Query::parse(query.as_bytes()).get_or_empty("t").to_vec();
    let now = count(now_ms)?;
    match quota::check_rate(&raw, usage(window, bytes)?, count(limit)?, now) {
        Ok(()) => Ok(JsValue::NULL),
        Err(r) => rejection(r),
    }
}

/// A tenant's usage after `add` more bytes at `nowMs`, as `{ window, bytes }` (a count of
/// an older window starts over).
#[wasm_bindgen(js_name = countRate)]
pub fn count_rate(window: f64, bytes: f64, now_ms: f64, add: f64) -> Result<JsValue, JsValue> {
    let u = usage(window, bytes)?.add(count(now_ms)?, count(add)?);
    to_js(&JsRateUsage {
        window: u.window as f64,
        bytes: u.bytes as f64,
    })
}

/// The admission of a batch's distinct series (in input order) against a bucket's set:
/// `known[i]` is 1 when series `i` is in the set, `count` the set's size. Returns how many
/// were refused, the indices to add to the set (none when a series was refused and the
/// write is not `partial`), and the indices of those refused.
#[wasm_bindgen(js_name = admitSeries)]
pub fn admit_series(
    known: &[u8],
    count_now: f64,
    limit: f64,
    partial: bool,
) -> Result<JsValue, JsValue> {
    let known = known.iter().map(|&k| k != 0);
    let a = quota::admit(known, count(count_now)?, count(limit)?);
    to_js(&JsSeriesAdmission {
        refused: a.refused as u32 as f64,
        add: a.to_add(partial),
        refused_at: a.refused_at(),
    })
}
