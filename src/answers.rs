//! InfluxDB's answers to what a door answers itself (`/ping`, `/health`, unknown paths and
//! methods, 401, the edge's 503 and 500), built by `linegate_core::answers` and handed to
//! JS whole: `{ status, headers, body }`, ready for `new Response(body, { status, headers })`.
//! The Worker (worker/respond.js) sends these; no answer text is written in JS.

use linegate_core::answers::{self, Answer, Rejection};
use wasm_bindgen::prelude::*;

use crate::options::type_error;
use crate::results::set;

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

fn js(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Result<JsValue, JsValue> {
    let o = js_sys::Object::new();
    let h = js_sys::Object::new();
    for (k, v) in headers {
        set(&h, k, &JsValue::from_str(v))?;
    }
    set(&o, "status", &JsValue::from(status))?;
    set(&o, "headers", &h)?;
    let body = if body.is_empty() {
        JsValue::NULL
    } else {
        JsValue::from_str(&String::from_utf8_lossy(body))
    };
    set(&o, "body", &body)?;
    Ok(o.into())
}

fn rejection(r: &Rejection, extra: Option<(&str, &str)>) -> Result<JsValue, JsValue> {
    let mut headers = r.headers().to_vec();
    headers.extend(extra);
    js(r.status, &headers, &r.body)
}

fn whole(a: &Answer) -> Result<JsValue, JsValue> {
    let headers: Vec<(&str, &str)> = a.headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    js(a.status, &headers, &a.body)
}

/// One answer by kind: `unauthorized`, `not-found`, `internal`, `method-not-allowed`
/// (`args.allow`, also sent as `Allow`), `unavailable` (`args.retryAfter` seconds, sent as
/// `Retry-After`), `ping` (`args.version`), `health` (`args.version`, `args.commit`), and
/// `error`: an InfluxDB-shaped error of linegate's own (`args.status`, `args.code`,
/// `args.message`; the body JSON-escaped as InfluxDB escapes it).
#[wasm_bindgen]
pub fn answer(kind: &str, args: JsValue) -> Result<JsValue, JsValue> {
    match kind {
        "unauthorized" => rejection(&Rejection::unauthorized(), None),
        "not-found" => rejection(&Rejection::not_found(), None),
        "internal" => rejection(&Rejection::internal(), None),
        "method-not-allowed" => {
            let allow = text(&args, "allow")?;
            rejection(
                &Rejection::method_not_allowed(&allow),
                Some(("Allow", &allow)),
            )
        }
        "unavailable" => {
            let secs = arg(&args, "retryAfter")?
                .as_f64()
                .filter(|s| s.is_finite() && *s >= 0.0)
                .ok_or_else(|| {
                    type_error("linegate: args.retryAfter must be a number of seconds")
                })?;
            let secs = (secs as u64).to_string();
            rejection(&Rejection::unavailable(), Some(("Retry-After", &secs)))
        }
        "error" => {
            let status = arg(&args, "status")?
                .as_f64()
                .filter(|s| (400.0..600.0).contains(s) && s.fract() == 0.0)
                .ok_or_else(|| type_error("linegate: args.status must be an HTTP error status"))?;
            let code = text(&args, "code")?;
            let body = linegate_core::json::error_body(&code, text(&args, "message")?.as_bytes());
            let headers = [
                ("Content-Type", answers::JSON_TYPE),
                ("X-Platform-Error-Code", &code),
            ];
            js(status as u16, &headers, &body)
        }
        "ping" => whole(&answers::ping(&text(&args, "version")?)),
        "health" => whole(&answers::health(
            &text(&args, "version")?,
            &text(&args, "commit")?,
        )),
        _ => Err(type_error(&format!(
            "linegate: no answer of kind \"{kind}\""
        ))),
    }
}
