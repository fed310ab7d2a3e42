//! The summary of an accepted batch, for people.

use crate::limits::{MAX_SERIES_TRACKED, MAX_TIMES_KEPT};
use std::collections::{BTreeMap, HashMap};

use super::hasher::{BuildFast, FastHasher};
use crate::point::{FieldType, Point};
use crate::set64::Set64;

/// Counts that describe an accepted batch, for people (the page's summary, the CLI).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Summary {
    /// Points in the batch.
    pub points: u64,
    /// Field values in the batch.
    pub fields: u64,
    /// Points per measurement (unescaped name), sorted by name.
    pub measurements: BTreeMap<Vec<u8>, u64>,
    /// Distinct series keys.
    pub series: u64,
    /// Field values per type.
    pub field_types: BTreeMap<FieldType, u64>,
    /// Earliest timestamp (ns), if any point.
    pub min_time: Option<i64>,
    /// Latest timestamp (ns), if any point.
    pub max_time: Option<i64>,
    /// Points per time bucket between `min_time` and `max_time` (`buckets` of equal width).
    pub histogram: Vec<u64>,
}

/// Builds a [`Summary`] over the points of a batch. Series are counted exactly up to a
/// million distinct keys, after which the count is a lower bound.
#[derive(Debug, Default)]
pub struct SummaryBuilder {
    summary: Summary,
    series: Set64,
    times: Vec<i64>,
    /// Points per raw measurement; unescaped and merged at the end.
    raw_measurements: HashMap<Vec<u8>, u64, BuildFast>,
    /// The last raw measurement and its pending count, so runs of one measurement cost no
    /// map lookup.
    last: Option<(Vec<u8>, u64)>,
    field_types: [u64; 5],
}

impl SummaryBuilder {
    /// An empty summary.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one point.
    pub fn observe(&mut self, p: &Point<'_>) {
        use std::hash::{Hash, Hasher};
        let s = &mut self.summary;
        s.points += 1;
        s.fields += p.fields.len() as u64;
        match &mut self.last {
            Some((m, n)) if m.as_slice() == p.measurement => *n += 1,
            Some((m, n)) => {
                // Flush the run; the buffer is reused, so only new names allocate.
                match self.raw_measurements.get_mut(m.as_slice()) {
                    Some(c) => *c += *n,
                    None => {
                        self.raw_measurements.insert(m.clone(), *n);
                    }
                }
                m.clear();
                m.extend_from_slice(p.measurement);
                *n = 1;
            }
            None => self.last = Some((p.measurement.to_vec(), 1)),
        }
        for f in &p.fields {
            self.field_types[f.value.field_type() as usize] += 1;
        }
        s.min_time = Some(s.min_time.map_or(p.time, |t| t.min(p.time)));
        s.max_time = Some(s.max_time.map_or(p.time, |t| t.max(p.time)));
        if self.series.len() < MAX_SERIES_TRACKED {
            let mut h = FastHasher::default();
            p.measurement.hash(&mut h);
            for t in &p.tags {
                t.key.hash(&mut h);
                t.value.hash(&mut h);
            }
            self.series.insert(h.finish());
        }
        if self.times.len() < MAX_TIMES_KEPT {
            self.times.push(p.time);
        }
    }

    /// The summary, with a histogram of `buckets` bars.
    pub fn finish(mut self, buckets: usize) -> Summary {
        self.summary.series = self.series.len() as u64;
        if let Some((m, n)) = self.last.take() {
            *self.raw_measurements.entry(m).or_default() += n;
        }
        for (raw, n) in self.raw_measurements.drain() {
            let name = crate::point::unescape(&raw, b",\" =").into_owned();
            *self.summary.measurements.entry(name).or_default() += n;
        }
        let types = [
            FieldType::Float,
            FieldType::Integer,
            FieldType::Unsigned,
            FieldType::String,
            FieldType::Boolean,
        ];
        for (t, n) in types.into_iter().zip(self.field_types) {
            if n > 0 {
                self.summary.field_types.insert(t, n);
            }
        }
        if let (Some(lo), Some(hi), true) =
            (self.summary.min_time, self.summary.max_time, buckets > 0)
        {
            let mut h = vec![0u64; buckets];
            let span = (hi as i128 - lo as i128).max(1);
            for t in self.times {
                let k = ((t as i128 - lo as i128) * buckets as i128 / (span + 1)) as usize;
                h[k.min(buckets - 1)] += 1;
            }
            self.summary.histogram = h;
        }
        self.summary
    }
}
