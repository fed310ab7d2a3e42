//! The isolate's memory of admitted series for JS (spec D.2): [`KnownSeries`] holds core's
//! [`KnownSet`] in wasm memory, and is asked about a [`StreamChecker`]'s distinct series
//! there, so a batch of known series hands no hash to JS. `npm/api.js` wraps it as the
//! package's `KnownSeries` and `Checker.unknownSeries`.

use linegate_core::known::{self, KnownSet};
use wasm_bindgen::prelude::*;

use crate::stream::StreamChecker;

/// A bounded set of series hashes (core's `KnownSet`).
#[wasm_bindgen]
pub struct KnownSeries(KnownSet);

#[wasm_bindgen]
impl KnownSeries {
    /// An empty set of at most `max` series.
    #[wasm_bindgen(constructor)]
    pub fn new(max: u32) -> KnownSeries {
        KnownSeries(KnownSet::new(max as usize))
    }

    /// How many series it holds.
    #[wasm_bindgen(getter)]
    pub fn size(&self) -> u32 {
        self.0.len() as u32
    }

    /// Whether the series of this hash is in the set (under `bucket`'s scope, when given:
    /// its name as UTF-8, empty for none).
    pub fn has(&self, hash: u64, bucket: &[u8]) -> bool {
        self.0.contains(known::scoped(hash, known::scope(bucket)))
    }

    /// The indices of the checker's distinct series (as `seriesHashes` lists them) that
    /// are not in the set; or, with `remember` (once the authority admitted them), records
    /// them all (core's rule when full: the set is dropped whole first) and gives none;
    /// under `bucket`'s scope when given (one set, and one bound, for many buckets). One
    /// export for both: each export's borrow checks cost wasm bytes.
    pub fn series(&mut self, checker: &StreamChecker, remember: bool, bucket: &[u8]) -> Vec<u32> {
        let scope = known::scope(bucket);
        let Some(batch) = checker.batch() else {
            return Vec::new();
        };
        if remember {
            self.0.remember_of(scope, batch);
            return Vec::new();
        }
        self.0.unknown_of(scope, batch)
    }
}
