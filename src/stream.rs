//! The incremental check for JS: [`StreamChecker`] wraps `linegate_core::Checker`, so a body
//! is checked as it arrives (a `ReadableStream`, a Worker's request body, a file being read)
//! and never held whole. `npm/api.js` wraps it as the package's `Checker` class and
//! `checkStream`; the answers are `checkWrite`'s verdict for a live request and
//! `validate`'s Validation for a batch, equal to the one-shot calls' for every chunking.

use linegate_core::pipeline::Head;
use linegate_core::{Checker, Verdict};
use wasm_bindgen::prelude::*;

use linegate_core::partial::{Split, DEFAULT_KEEP};
use linegate_core::quota::{self, BatchSeries, SeriesMemo};
use std::cell::Cell;

use crate::js::to_js;
use crate::options::{BatchOptions, CheckOptions};
use crate::results::{CheckAnswer, JsValidation};

/// One body being checked. `finish` ends it; pushing after that is an error.
#[wasm_bindgen]
pub struct StreamChecker {
    inner: Option<Checker>,
    /// A live request (answer: the verdict), or a batch (answer: the Validation).
    request: bool,
    /// The batch's distinct series, when asked for (the series quota, spec D.2).
    series: Option<BatchSeries>,
    /// While series are collected: the instance's memo of series spans, lent by [`MEMO`]
    /// (none when another checker has it).
    memo: Option<SeriesMemo>,
    /// After `finish`: the body's bytes after gzip decoding.
    decoded: usize,
    /// A partial write's destination (see `CheckOptions::destination`).
    destination: Vec<u8>,
    /// After `finish` of a partial write whose series are collected: its split, for the
    /// series quota to move the lines of refused series (`refuseSeries`).
    split: Option<Split>,
    /// A partial write: its series keep each point's line (for `refuseSeries`).
    partial: bool,
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
        let mut c = Checker::for_request_to(&head, &o.limits, o.now, o.upstream).without_values();
        let partial = o.is_partial();
        if partial {
            c = c.accept_partial(linegate_core::partial::DEFAULT_KEEP);
        }
        Ok(StreamChecker {
            inner: Some(c),
            request: true,
            series: None,
            memo: None,
            decoded: 0,
            destination: o.destination(),
            split: None,
            partial,
        })
    }

    /// A batch, from `validate`'s options (`onProgress` and `signal` are the JS side's).
    #[wasm_bindgen(js_name = forBatch)]
    pub fn for_batch(opts: JsValue) -> Result<StreamChecker, JsValue> {
        let o = BatchOptions::read(opts, true)?;
        Ok(StreamChecker {
            inner: Some(Checker::new(&o.core()).without_values()),
            request: false,
            series: None,
            memo: None,
            decoded: 0,
            destination: Vec::new(),
            split: None,
            partial: false,
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
        self.live()?;
        let c = self.inner.as_mut().expect("checked live");
        let (series, memo) = (&mut self.series, &mut self.memo);
        c.push_with(chunk, &mut |p| {
            if let Some(s) = series.as_mut() {
                match memo.as_mut() {
                    Some(m) => s.push_memo(p, m),
                    None => s.push(p),
                }
            }
        });
        Ok(())
    }

    /// From now on, note the distinct series of the points parsed (call before `push`).
    #[wasm_bindgen(js_name = collectSeries)]
    pub fn collect_series(&mut self) {
        let partial = self.partial;
        self.series.get_or_insert_with(|| match partial {
            true => BatchSeries::new(),
            false => BatchSeries::hashes_only(),
        });
        if self.memo.is_none() {
            // The instance's memo, made by the first checker; none while another checker has
            // it (that one's series are hashed without: memory stays one memo). `try_with`:
            // no panic path, whose formatting costs the package bytes.
            let first = MADE.try_with(|m| !m.replace(true)).unwrap_or(false);
            let lent = MEMO.try_with(Cell::take).ok().flatten();
            self.memo = lent.or_else(|| first.then(SeriesMemo::new));
        }
    }

    /// After `finish`: the batch's distinct series in input order, as their 64-bit hashes
    /// (`linegate_core::quota::series_hash` of their keys), or none when not collected.
    #[wasm_bindgen(js_name = seriesHashes)]
    pub fn series_hashes(&self) -> Vec<u64> {
        self.series().to_vec()
    }

    /// The batch's distinct series hashes so far (none when not collected).
    pub(crate) fn series(&self) -> &[u64] {
        self.series.as_ref().map_or(&[], |s| &s.hashes)
    }

    /// The batch's series as collected (none when not asked for).
    pub(crate) fn batch(&self) -> Option<&BatchSeries> {
        self.series.as_ref()
    }

    /// After `finish` of a partial write whose series were collected (spec D.2 with D.1):
    /// the lines of the series at `refused` (indices into `seriesHashes`) become rejected
    /// lines, and the verdict is made again (`seriesHashes` then lists the series left);
    /// null when the write is not partial (the door answers the series 429).
    #[wasm_bindgen(js_name = refuseSeries)]
    pub fn refuse_series(&mut self, refused: &[u32]) -> Result<JsValue, JsValue> {
        let (Some(split), Some(series)) = (self.split.as_mut(), self.series.as_mut()) else {
            return Ok(JsValue::NULL);
        };
        let mut mask = vec![false; series.hashes.len()];
        for &i in refused {
            if let Some(m) = mask.get_mut(i as usize) {
                *m = true;
            }
        }
        let whole = Verdict::Reject(linegate_core::Rejection::series_quota());
        if quota::refuse_series(split, series, &mask, DEFAULT_KEEP).is_none() {
            // Lines and points that do not match (never seen): the whole batch's 429, as
            // `split_answer` gives it for a split with nothing rejected.
            *split = Split::default();
        }
        split_answer(split, self.destination.clone(), whole)
    }

    /// After `finish` of a live request: the body's bytes after gzip decoding (what the
    /// write quota counts, spec D.2).
    #[wasm_bindgen(getter)]
    pub fn decoded(&self) -> f64 {
        self.decoded as f64
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
        let mut memo = self.memo.take();
        let out = self.end(c, &mut memo);
        // The memo goes back to the instance once the last points are noted.
        give_back(memo);
        out
    }
}

impl StreamChecker {
    fn end(&mut self, c: Checker, memo: &mut Option<SeriesMemo>) -> Result<JsValue, JsValue> {
        let series = &mut self.series;
        let mut on_point = |p: &linegate_core::Point<'_>| {
            if let Some(s) = series.as_mut() {
                match memo.as_mut() {
                    Some(m) => s.push_memo(p, m),
                    None => s.push(p),
                }
            }
        };
        if self.request {
            let (v, split, decoded) = c.finish_request_all(&mut on_point);
            self.decoded = decoded;
            match split {
                Some(split) => {
                    let answer = split_answer(&split, self.destination.clone(), v);
                    if self.series.is_some() {
                        self.split = Some(split);
                    }
                    answer
                }
                None => to_js(&CheckAnswer::from(v)),
            }
        } else {
            to_js(&JsValidation::from(c.finish_with(&mut on_point)))
        }
    }
}

impl Drop for StreamChecker {
    // A checker freed before `finish` gives the memo back too (it is made only once).
    fn drop(&mut self) {
        give_back(self.memo.take());
    }
}

fn give_back(memo: Option<SeriesMemo>) {
    if memo.is_some() {
        let _ = MEMO.try_with(|m| m.set(memo));
    }
}

thread_local! {
    /// The instance's memo of series spans (core's `SeriesMemo`, 2.25 MiB): it caches a
    /// pure function, so the checkers of an instance share it (one at a time: a checker
    /// collecting series borrows it and gives it back at `finish`), and a batch of series
    /// seen before is not re-keyed.
    static MEMO: Cell<Option<SeriesMemo>> = const { Cell::new(None) };
    /// Whether the memo was made (it is made once: a checker finding it lent goes without).
    static MADE: Cell<bool> = const { Cell::new(false) };
}

/// A split's answer (one copy of the serialisation for `finish`, `refuseSeries` and
/// `checkWrite`).
#[inline(never)]
pub(crate) fn split_answer(
    split: &Split,
    destination: Vec<u8>,
    whole: Verdict,
) -> Result<JsValue, JsValue> {
    to_js(&CheckAnswer::of_split(split, destination, || whole))
}
