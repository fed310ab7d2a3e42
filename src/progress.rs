//! Progress and cancellation. The core reports `bytes read, bytes total` of the decoded
//! body about every MiB; here that reaches `onProgress`, and either of two signals stops
//! the check at the next report:
//!
//! - `signal`, an `AbortSignal`, once aborted (before the call, or from `onProgress`):
//!   the call throws `signal.reason`, as `fetch` does;
//! - `onProgress` returning `false`: the call throws an `Error` named `AbortError`.
//!
//! Either way the thrown value is the signal itself, set here: no JS code reads a message.

use wasm_bindgen::JsValue;

pub(crate) struct Progress {
    callback: Option<js_sys::Function>,
    signal: Option<JsValue>,
    /// Why the check stopped, once it has.
    stopped: Option<JsValue>,
}

/// `signal.aborted`, read as AbortSignal defines it (a plain boolean property).
fn aborted(signal: &JsValue) -> bool {
    js_sys::Reflect::get(signal, &JsValue::from_str("aborted")).is_ok_and(|v| v.is_truthy())
}

fn reason(signal: &JsValue) -> JsValue {
    match js_sys::Reflect::get(signal, &JsValue::from_str("reason")) {
        Ok(r) if !r.is_undefined() => r,
        _ => abort_error("linegate: the check was aborted"),
    }
}

fn abort_error(message: &str) -> JsValue {
    let e = js_sys::Error::new(message);
    e.set_name("AbortError");
    e.into()
}

impl Progress {
    /// Fails at once with the signal's reason when it is already aborted.
    pub fn new(
        callback: Option<js_sys::Function>,
        signal: Option<JsValue>,
    ) -> Result<Self, JsValue> {
        if let Some(s) = &signal {
            if aborted(s) {
                return Err(reason(s));
            }
        }
        Ok(Progress {
            callback,
            signal,
            stopped: None,
        })
    }

    /// Whether to go on.
    pub fn report(&mut self, done: usize, total: usize) -> bool {
        if self.stopped.is_some() {
            return false;
        }
        if let Some(cb) = &self.callback {
            // A throwing callback does not abort the check; only an explicit `false` cancels.
            let r = cb.call2(
                &JsValue::NULL,
                &JsValue::from_f64(done as f64),
                &JsValue::from_f64(total as f64),
            );
            if r.is_ok_and(|v| v == JsValue::FALSE) {
                self.stopped = Some(abort_error("linegate: cancelled by onProgress"));
                return false;
            }
        }
        if let Some(s) = &self.signal {
            if aborted(s) {
                self.stopped = Some(reason(s));
                return false;
            }
        }
        true
    }

    /// After the check: the cancel, if there was one.
    pub fn check(self) -> Result<(), JsValue> {
        self.stopped.map_or(Ok(()), Err)
    }
}
