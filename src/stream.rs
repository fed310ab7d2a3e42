//! The incremental check for JS: [`StreamChecker`] wraps `linegate_core::Checker`, so a body
//! is checked as it arrives (a `ReadableStream`, a Worker's request body, a file being read)
//! and never held whole. `npm/api.js` wraps it as the package's `Checker` class and
//! `checkStream`; the answers are `checkWrite`'s verdict for a live request and
//! `validate`'s Validation for a batch, equal to the one-shot calls' for every chunking.

use linegate_core::pipeline::Head;
use linegate_core::Checker;
use wasm_bindgen::prelude::*;

use crate::options::{BatchOptions, CheckOptions};
use crate::results::{to_js, CheckAnswer, JsValidation};

/// One body being checked. `finish` ends it; pushing after that is an error.
#[wasm_bindgen]
pub struct StreamChecker {
    inner: Option<Checker>,
    /// A live request (answer: the verdict), or a batch (answer: the Validation).
    request: bool,
    /// A partial write's destination (see `CheckOptions::destination`).
    destination: Vec<u8>,
}

#[wasm_bindgen]
impl StreamChecker {
    /// A live write request, from `checkWrite`'s options without the body.
    #[wasm_bindgen(js_name = forRequest)]
    pub fn for_request(opts: JsValue) -> Result<StreamChecker, JsValue> {
        let o = CheckOptions::read(opts)?;
        let head = Head {
            endpoint: o.endpoint,
            query: o.query.as_deref().unwrap_or_default().as_bytes(),
            authorization: o.authorization.as_deref().map(str::as_bytes),
            content_encoding: o.content_encoding.as_deref().map(str::as_bytes),
        };
        let mut c = Checker::for_request_to(&head, &o.limits, o.now, o.upstream);
        if o.is_partial() {
            c = c.accept_partial(linegate_core::partial::DEFAULT_KEEP);
        }
        Ok(StreamChecker {
            inner: Some(c),
            request: true,
            destination: o.destination(),
        })
    }

    /// A batch, from `validate`'s options (`onProgress` and `signal` are the JS side's).
    #[wasm_bindgen(js_name = forBatch)]
    pub fn for_batch(opts: JsValue) -> Result<StreamChecker, JsValue> {
        let o = BatchOptions::read(opts, true)?;
        Ok(StreamChecker {
            inner: Some(Checker::new(&o.core())),
            request: false,
            destination: Vec::new(),
        })
    }

    fn live(&mut self) -> Result<&mut Checker, JsValue> {
        self.inner
            .as_mut()
            .ok_or_else(|| js_sys::Error::new("linegate: this Checker has finished").into())
    }

    /// Feeds the next bytes of the body (copied into wasm memory by the glue, then dropped
    /// once parsed: only a pending partial line is kept).
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), JsValue> {
        self.live()?.push(chunk);
        Ok(())
    }

    /// The accepted lines parsed since the last call (a partial write's `forward`, produced
    /// as the body is checked: a door may send them on as they come).
    #[wasm_bindgen(js_name = takeAccepted)]
    pub fn take_accepted(&mut self) -> Result<Vec<u8>, JsValue> {
        Ok(self.live()?.take_accepted())
    }

    /// Whether the answer is known whatever else arrives: the caller may stop reading.
    pub fn decided(&self) -> bool {
        self.inner.as_ref().is_some_and(|c| c.decided().is_some())
    }

    /// Bytes of the body pushed so far.
    #[wasm_bindgen(getter)]
    pub fn received(&self) -> f64 {
        self.inner.as_ref().map_or(0, |c| c.received()) as f64
    }

    /// Ends the body: the verdict (a request) or the Validation (a batch).
    pub fn finish(&mut self) -> Result<JsValue, JsValue> {
        self.live()?;
        let c = self.inner.take().expect("checked live");
        if self.request {
            let (v, split) = c.finish_request_split();
            match split {
                Some(split) => to_js(&CheckAnswer::of_split(
                    split,
                    std::mem::take(&mut self.destination),
                    || v,
                )),
                None => to_js(&CheckAnswer::from(v)),
            }
        } else {
            to_js(&JsValidation::from(c.finish()))
        }
    }
}
