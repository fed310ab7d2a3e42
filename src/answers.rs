//! InfluxDB's answers to what a door answers itself (`/ping`, `/health`, unknown paths and
//! methods, 401, the edge's 503 and 500), built by `linegate_core::answers` and handed to
//! JS whole: `{ status, headers, body }`, ready for `new Response(body, { status, headers })`.
//! The Worker (worker/respond.js) sends these; no answer text is written in JS.

use linegate_core::answers::{self, Answer, Rejection};
use wasm_bindgen::prelude::*;

use crate::js::to_js;
use crate::options::type_error;
use crate::results::JsAnswer;

fn arg(args: &JsValue, key: &str) -> Result<JsValue, JsValue> {
    let v = if args.is_object() {
        js_sys::Reflect::get(args, &JsValue::from_str(key))?
    } else {
        JsValue::UNDEFINED
    };
    if v.is_undefined() || v.is_null() {
        return Err(type_error(&format!("linegate: answer needs args.{key}")));
    }
    Ok(v)
}

fn text(args: &JsValue, key: &str) -> Result<String, JsValue> {
    arg(args, key)?
        .as_string()
        .ok_or_else(|| type_error(&format!("linegate: args.{key} must be a string")))
}

/// `args.version`, or core's InfluxDB version when it is absent.
fn version(args: &JsValue) -> Result<String, JsValue> {
    match arg(args, "version") {
        // Absent (or null): not an error here.
        Err(_) => Ok(answers::INFLUX_VERSION.to_string()),
        Ok(v) => v
            .as_string()
            .ok_or_else(|| type_error("linegate: args.version must be a string")),
    }
}

pub(crate) fn rejection(r: Rejection) -> Result<JsValue, JsValue> {
    whole(&r.into())
}

fn whole(a: &Answer) -> Result<JsValue, JsValue> {
    to_js(&JsAnswer {
        status: a.status,
        headers: &a.headers,
        body: (!a.body.is_empty()).then(|| String::from_utf8_lossy(&a.body)),
    })
}

/// `args.retryAfter`: whole seconds, sent as `Retry-After`.
fn retry_after(args: &JsValue) -> Result<u64, JsValue> {
    let secs = arg(args, "retryAfter")?
        .as_f64()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .ok_or_else(|| type_error("linegate: args.retryAfter must be a number of seconds"))?;
    Ok(secs as u64)
}

/// One answer by kind: `unauthorized`, `not-found`, `internal`, `too-large`, `method-not-allowed`
/// (`args.allow`, also sent as `Allow`), `unavailable` (`args.retryAfter` seconds, sent as
/// `Retry-After`), `spool-full` and `spool-unavailable` (the spool's 503s, `args.retryAfter`
/// too), `series-quota` (spec D.2's 429), `busy` (the isolate's bodies in flight, 503 with
/// `args.retryAfter`), `ping` (`args.version`, default core's InfluxDB version) and `health`
/// (the same, and `args.commit`).
#[wasm_bindgen]
pub fn answer(kind: &str, args: JsValue) -> Result<JsValue, JsValue> {
    // One `rejection` call for every kind that is one (smaller wasm than one per arm).
    let r = match kind {
        "unauthorized" => Rejection::unauthorized(),
        "not-found" => Rejection::not_found(),
        "internal" => Rejection::internal(),
        // The body size limit, on a request the edge passes through unchecked.
        "too-large" => Rejection::too_large(),
        "method-not-allowed" => Rejection::method_not_allowed(&text(&args, "allow")?),
        "unavailable" => Rejection::unavailable().with_retry_after(retry_after(&args)?),
        "spool-full" => Rejection::spool_full().with_retry_after(retry_after(&args)?),
        "spool-unavailable" => Rejection::spool_unavailable().with_retry_after(retry_after(&args)?),
        // Spec D.2's series-cardinality 429 (no Retry-After).
        "series-quota" => Rejection::series_quota(),
        // The isolate's budget of bodies in flight is spent.
        "busy" => Rejection::busy().with_retry_after(retry_after(&args)?),
        "ping" => return whole(&answers::ping(&version(&args)?)),
        "health" => return whole(&answers::health(&version(&args)?, &text(&args, "commit")?)),
        _ => {
            return Err(type_error(&format!(
                "linegate: no answer of kind \"{kind}\""
            )))
        }
    };
    rejection(r)
}
