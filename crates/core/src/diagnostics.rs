//! Diagnostics beyond InfluxDB (spec Part A §6): for each rejected line its position, reason
//! and a hint for the usual traps; warnings for what storage would reject with 422; and a
//! summary of an accepted batch. None of this ever goes into an HTTP 400 body.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};

use crate::error::{ErrorKind, LineError};
use crate::point::{FieldType, FieldValue, Point};
use crate::precision::Precision;
use crate::storage::{self, BucketRules};

/// A quick 64-bit hash (multiply-rotate over 8-byte words) for counting series and field
/// shapes: SipHash's resistance to chosen collisions buys nothing for a count, and costs a
/// third of a summary.
#[derive(Default)]
struct FastHasher(u64);

impl std::hash::Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(w) ^ (rest.len() as u64) << 59)
                .wrapping_mul(K);
        }
    }

    fn finish(&self) -> u64 {
        // splitmix64's finaliser: hash tables index by the low bits, which the multiply
        // alone leaves poorly mixed.
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

type BuildFast = std::hash::BuildHasherDefault<FastHasher>;

/// A rejected line, explained.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// 1-based physical line where the logical line starts.
    pub line: u64,
    /// 1-based byte column of the failing spot, counted from the start of that line.
    pub column: usize,
    /// Stable name of the error (`invalid-number`, …).
    pub code: &'static str,
    /// InfluxDB's reason, exactly (`invalid number`, …).
    pub reason: Cow<'static, str>,
    /// What probably went wrong and how to fix it.
    pub hint: Cow<'static, str>,
    /// Physical lines the logical line spans.
    pub spans: u32,
    /// Byte range of the quoted line text in the (decoded) body.
    pub text_start: usize,
    pub text_len: usize,
    /// The physical line where the rejected line starts, as written (at most about 400
    /// bytes of it, around the failing spot), for showing it with the spot marked.
    pub excerpt: Vec<u8>,
    /// Byte offset of `excerpt` within its physical line (non-zero when cut on the left);
    /// the spot is at `column - 1 - excerpt_offset` in `excerpt`.
    pub excerpt_offset: usize,
}

const EXCERPT_MAX: usize = 400;

/// The physical line starting at `start`, cut to a window around byte `spot` of it.
fn excerpt(body: &[u8], start: usize, spot: usize) -> (Vec<u8>, usize) {
    let rest = &body[start.min(body.len())..];
    let line = &rest[..memchr::memchr(b'\n', rest).unwrap_or(rest.len())];
    if line.len() <= EXCERPT_MAX {
        return (line.to_vec(), 0);
    }
    let from = spot
        .saturating_sub(EXCERPT_MAX / 2)
        .min(line.len() - EXCERPT_MAX);
    (line[from..from + EXCERPT_MAX].to_vec(), from)
}

fn digits_unit(digits: usize) -> Option<Precision> {
    match digits {
        9..=11 => Some(Precision::S),
        12..=14 => Some(Precision::Ms),
        15..=17 => Some(Precision::Us),
        18..=20 => Some(Precision::Ns),
        _ => None,
    }
}

/// The unit a timestamp of this size most likely has (for dates between 2001 and 2286).
pub fn likely_unit(ts: i64) -> Option<Precision> {
    digits_unit(
        ts.unsigned_abs()
            .checked_ilog10()
            .map_or(1, |d| d as usize + 1),
    )
}

fn hint_for(err: &LineError, text: &[u8], precision: Precision) -> Cow<'static, str> {
    let before_spot = &text[..err.at.min(text.len())];
    if err.spans > 1 {
        let joined = err.spans - 1;
        if err.kind == ErrorKind::UnbalancedQuotes || memchr::memchr(b'"', text).is_some() {
            return format!(
                "an unterminated string (a stray `\"`) swallowed the next {joined} line(s) into this one; \
                 close the quote or escape it as `\\\"`"
            )
            .into();
        }
        return format!(
            "a backslash at the end of a line joins it with the next ({joined} line(s) joined); \
             remove it or escape it as `\\\\`"
        )
        .into();
    }
    if text.last() == Some(&b'\r') || before_spot.last() == Some(&b'\r') {
        return "the line ends with a carriage return: the file has Windows (CRLF) line endings, \
                which InfluxDB rejects; convert it to LF endings"
            .into();
    }
    match err.kind {
        ErrorKind::TimeOutsideRange => {
            let ts: &[u8] = &text[err.at..];
            let end = ts.iter().position(|&b| b == b' ').unwrap_or(ts.len());
            let digits = ts[..end].iter().filter(|b| b.is_ascii_digit()).count();
            let text: String = match digits_unit(digits) {
                Some(unit) if unit != precision => format!(
                    "the timestamp has {digits} digits, which looks like {}, but the precision is {}; \
                     send precision={} or convert the timestamps",
                    unit_name(unit),
                    precision,
                    unit
                ),
                _ => format!(
                    "timestamps in {precision} times the unit must stay within ±9223372036854775806 ns \
                     (years 1677–2262)"
                ),
            };
            text.into()
        }
        ErrorKind::BadTimestamp | ErrorKind::PointInvalid => {
            let tail = &text[err.at.min(text.len())..];
            if memchr::memchr(b'=', tail).is_some() || memchr::memchr(b'=', before_spot.rsplit(|&b| b == b' ').next().unwrap_or_default()).is_some() {
                "a space ended the field set early: escape spaces in field keys as `\\ `, and \
                 double-quote string values"
                    .into()
            } else {
                "the timestamp must be an integer (optionally negative) followed only by spaces".into()
            }
        }
        ErrorKind::InvalidFieldFormat | ErrorKind::MissingFieldKey => {
            "a space in the measurement or a tag value must be escaped as `\\ `, and fields are \
             `key=value` pairs separated by commas without spaces"
                .into()
        }
        ErrorKind::InvalidTagFormat => {
            "a tag value holds an unescaped `=` (or a `\\` right before a delimiter); escape it as `\\=`"
                .into()
        }
        ErrorKind::MissingTagValue | ErrorKind::MissingTagKey => {
            "tags are `,key=value` with non-empty key and value; escape spaces, commas and `=` in them"
                .into()
        }
        ErrorKind::MissingFields | ErrorKind::MissingMeasurement => {
            "a line needs a measurement, a space and at least one field: `measurement,tag=v field=1`"
                .into()
        }
        ErrorKind::MissingFieldValue => "every field needs a value: `key=1`, `key=\"text\"`, `key=true`".into(),
        ErrorKind::InvalidBoolean => {
            "strings must be double-quoted; booleans are t, true, True, TRUE, f, false, False or FALSE"
                .into()
        }
        ErrorKind::InvalidNumber => {
            "numbers are floats (`1.5`, `1e3`), integers with `i` (`-3i`) or unsigned with `u` (`3u`); \
             NaN, Inf and a comma as decimal mark are not allowed"
                .into()
        }
        ErrorKind::InvalidFloat => "the float is not valid or is out of range (±1.8e308)".into(),
        ErrorKind::IntegerOutOfRange { .. } => "integers must fit in 64 bits (±9223372036854775807)".into(),
        ErrorKind::UnsignedOutOfRange { .. } => "unsigned values must fit in 64 bits (≤ 18446744073709551615)".into(),
        ErrorKind::UnbalancedQuotes => "a string value is not closed; close it with `\"`".into(),
        ErrorKind::DuplicateTags => "a tag key appears twice in the line".into(),
        ErrorKind::ReservedTagKey(_) => "`_field`, `_measurement` and `time` cannot be tag keys; rename the tag".into(),
        ErrorKind::MaxKeyLength(_) => "the measurement, tags and field key together must stay within 65535 bytes".into(),
        ErrorKind::InvalidFieldValue { .. } => {
            "a backslash or quote confuses InfluxDB's field reader here; check `\\\\` before `=` and quotes inside values"
                .into()
        }
        ErrorKind::TimestampOutOfRange { .. } | ErrorKind::TimestampSyntax { .. } => {
            "the timestamp must be a 64-bit integer".into()
        }
    }
}

fn unit_name(p: Precision) -> &'static str {
    match p {
        Precision::Ns => "nanoseconds",
        Precision::Us => "microseconds",
        Precision::Ms => "milliseconds",
        Precision::S => "seconds",
    }
}

/// Explains a rejected line of `body`.
pub fn diagnose(err: &LineError, body: &[u8], precision: Precision) -> Diagnostic {
    let text = err.text(body);
    let (excerpt, excerpt_offset) = excerpt(body, err.line_start, err.column() - 1);
    Diagnostic {
        line: err.line,
        column: err.column(),
        code: err.kind.name(),
        reason: err.kind.reason(text),
        hint: hint_for(err, text, precision),
        spans: err.spans,
        text_start: err.text_start,
        text_len: err.text_len,
        excerpt,
        excerpt_offset,
    }
}

/// What storage would do with an accepted point.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WarningKind {
    /// A field has two types within the batch: storage answers 422 `field type conflict`.
    FieldTypeConflict,
    /// A field named `time` is dropped by storage (422, or the point is dropped).
    TimeField,
    /// A string over 1 MiB: storage answers 422 `… is too long`.
    StringTooLong,
    /// Timestamps whose size suggests another unit than the precision.
    TimestampUnit,
}

impl WarningKind {
    pub fn name(self) -> &'static str {
        match self {
            WarningKind::FieldTypeConflict => "field-type-conflict",
            WarningKind::TimeField => "time-field",
            WarningKind::StringTooLong => "string-too-long",
            WarningKind::TimestampUnit => "timestamp-unit",
        }
    }
}

/// A warning about an accepted line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    pub line: u64,
    pub kind: WarningKind,
    pub message: String,
}

pub use crate::storage::MAX_STRING_LEN;

/// Collects warnings over the points of a batch. Keeps at most `cap` warnings (and counts
/// the rest); each kind of warning about the same measurement and field is reported once.
#[derive(Debug)]
pub struct Warnings {
    cap: usize,
    precision: Precision,
    /// Type of each field seen, keyed by unescaped measurement, 0xFF, unescaped field key.
    types: HashMap<Vec<u8>, (FieldType, u64), BuildFast>,
    reported: HashSet<(WarningKind, Vec<u8>, Vec<u8>)>,
    /// Hashes of the (raw measurement, field keys and types) shapes already checked: a
    /// batch repeats a few shapes, and a known shape cannot add a conflict.
    shapes: HashSet<u64, BuildFast>,
    key: Vec<u8>,
    unit_checked: bool,
    pub list: Vec<Warning>,
    pub total: u64,
}

impl Warnings {
    pub fn new(precision: Precision, cap: usize) -> Self {
        Warnings {
            cap,
            precision,
            types: HashMap::default(),
            reported: HashSet::new(),
            shapes: HashSet::default(),
            key: Vec::new(),
            unit_checked: false,
            list: Vec::new(),
            total: 0,
        }
    }

    fn push(&mut self, kind: WarningKind, m: &[u8], f: &[u8], line: u64, message: String) {
        if !self.reported.insert((kind, m.to_vec(), f.to_vec())) {
            return;
        }
        self.total += 1;
        if self.list.len() < self.cap {
            self.list.push(Warning {
                line,
                kind,
                message,
            });
        }
    }

    fn shape(p: &Point<'_>, shard: i64) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = FastHasher::default();
        shard.hash(&mut h);
        p.measurement.hash(&mut h);
        for f in &p.fields {
            f.key.hash(&mut h);
            (f.value.field_type() as u8).hash(&mut h);
        }
        h.finish()
    }

    /// Looks at one accepted point.
    pub fn observe(&mut self, p: &Point<'_>) {
        let m = p.measurement();
        if !self.unit_checked && p.time() != 0 {
            self.unit_checked = true;
            let ts = p.time() / self.precision.multiplier();
            if let Some(unit) = likely_unit(ts) {
                if unit != self.precision {
                    self.push(
                        WarningKind::TimestampUnit,
                        b"",
                        b"",
                        p.line(),
                        format!(
                            "timestamp {ts} looks like {}, but the precision is {}: the points land in {}",
                            unit_name(unit),
                            self.precision,
                            if (unit as u8) < (self.precision as u8) { "the far future (or fail)" } else { "1970" }
                        ),
                    );
                }
            }
        }
        for f in &p.fields {
            if let FieldValue::String(s) = f.value {
                if s.raw().len() > MAX_STRING_LEN {
                    let n = s.unescape().len();
                    if n > MAX_STRING_LEN {
                        let key = f.key();
                        let reason = storage::too_long(&key, &m, n);
                        self.push(
                            WarningKind::StringTooLong,
                            &m,
                            &key,
                            p.line(),
                            format!("{}: storage answers 422", String::from_utf8_lossy(&reason)),
                        );
                    }
                }
            }
            if f.key == b"time" {
                self.push(
                    WarningKind::TimeField,
                    &m,
                    b"time",
                    p.line(),
                    format!(
                        "field \"time\" on measurement \"{}\" is dropped by storage (422{})",
                        String::from_utf8_lossy(&m),
                        if p.fields.len() == 1 {
                            ", and the point with it"
                        } else {
                            ""
                        }
                    ),
                );
            }
        }
        let shard = BucketRules::BATCH_ALONE.shard_of(p.time());
        if !self.shapes.insert(Self::shape(p, shard)) {
            return;
        }
        for f in &p.fields {
            let ty = f.value.field_type();
            let fkey = f.key();
            // Types are per shard group, as storage keeps them; a batch alone meets an
            // empty bucket with the default rules.
            self.key.clear();
            self.key.extend_from_slice(&shard.to_le_bytes());
            self.key.extend_from_slice(&m);
            self.key.push(0xff);
            self.key.extend_from_slice(&fkey);
            let (first, first_line) = match self.types.get(self.key.as_slice()) {
                Some(&seen) => seen,
                None => {
                    self.types.insert(self.key.clone(), (ty, p.line()));
                    continue;
                }
            };
            if first != ty {
                self.push(
                    WarningKind::FieldTypeConflict,
                    &m,
                    &fkey,
                    p.line(),
                    format!(
                        "{} (line {first_line}): storage answers 422",
                        String::from_utf8_lossy(&storage::type_conflict(&fkey, &m, ty, first))
                    ),
                );
            }
        }
    }
}

/// Counts that describe an accepted batch, for people (the page's summary, the CLI).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Summary {
    pub points: u64,
    pub fields: u64,
    /// Points per measurement (unescaped name), sorted by name.
    pub measurements: BTreeMap<Vec<u8>, u64>,
    /// Distinct series keys.
    pub series: u64,
    /// Field values per type.
    pub field_types: BTreeMap<FieldType, u64>,
    pub min_time: Option<i64>,
    pub max_time: Option<i64>,
    /// Points per time bucket between `min_time` and `max_time` (`buckets` of equal width).
    pub histogram: Vec<u64>,
}

/// Builds a [`Summary`] over the points of a batch. Series are counted exactly up to a
/// million distinct keys, after which the count is a lower bound.
#[derive(Debug, Default)]
pub struct SummaryBuilder {
    summary: Summary,
    series: HashSet<u64, BuildFast>,
    times: Vec<i64>,
    /// Points per raw measurement; unescaped and merged at the end.
    raw_measurements: HashMap<Vec<u8>, u64, BuildFast>,
    /// The last raw measurement and its pending count, so runs of one measurement cost no
    /// map lookup.
    last: Option<(Vec<u8>, u64)>,
    field_types: [u64; 5],
}

const MAX_SERIES_TRACKED: usize = 1 << 20;
const MAX_TIMES_KEPT: usize = 1 << 22;

impl SummaryBuilder {
    pub fn new() -> Self {
        Self::default()
    }

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{read_batch, ParseOptions};

    fn diags(body: &[u8], precision: Precision) -> Vec<Diagnostic> {
        let r = read_batch(body, &ParseOptions::new(precision, 0), 1 << 20, |_| {});
        r.errors
            .iter()
            .map(|e| diagnose(e, body, precision))
            .collect()
    }

    #[test]
    fn hints_for_the_known_traps() {
        let d = diags(b"m f=1i\r\nm f=2i\r\n", Precision::Ns);
        assert_eq!(d.len(), 2);
        assert!(d[0].hint.contains("CRLF"), "{}", d[0].hint);
        assert_eq!((d[1].line, &*d[1].reason), (2, "invalid number"));
        let d = diags(b"m f=\"abc\nm f=1 1000\nbad\n", Precision::Ns);
        assert_eq!(d.len(), 1);
        assert!(d[0].hint.contains("stray"), "{}", d[0].hint);
        let d = diags(b"m f=1 1700000000000000000\n", Precision::S);
        assert!(d[0].hint.contains("nanoseconds"), "{}", d[0].hint);
        let d = diags(b"m,host=my server f=1\n", Precision::Ns);
        assert!(d[0].hint.contains("escaped"), "{}", d[0].hint);
        assert_eq!(d[0].column, 11);
        assert_eq!(d[0].excerpt, b"m,host=my server f=1");
        let long = format!("m f=1 {}x\n", "1".repeat(1000));
        let d = diags(long.as_bytes(), Precision::Ns);
        assert_eq!(d[0].excerpt.len(), 400);
        assert_eq!(d[0].excerpt[d[0].column - 1 - d[0].excerpt_offset], b'x');
    }

    #[test]
    fn warnings_for_storage_rejections() {
        let body = b"m f=1,time=2\nm f=2i\nm f=3i\n";
        let mut w = Warnings::new(Precision::Ns, 10);
        read_batch(body, &ParseOptions::default(), 1 << 20, |p| w.observe(p));
        let kinds: Vec<_> = w.list.iter().map(|w| w.kind).collect();
        assert!(kinds.contains(&WarningKind::TimeField));
        assert!(kinds.contains(&WarningKind::FieldTypeConflict));
        assert_eq!(
            w.list
                .iter()
                .filter(|w| w.kind == WarningKind::FieldTypeConflict)
                .count(),
            1
        );
    }

    #[test]
    fn summary_counts() {
        let body = b"a,t=1 f=1 10\na,t=2 f=2i 20\nb g=\"x\" 30\n";
        let mut s = SummaryBuilder::new();
        read_batch(body, &ParseOptions::default(), 1 << 20, |p| s.observe(p));
        let s = s.finish(3);
        assert_eq!((s.points, s.series, s.measurements.len()), (3, 3, 2));
        assert_eq!((s.min_time, s.max_time), (Some(10), Some(30)));
        assert_eq!(s.histogram, vec![1, 1, 1]);
    }
}
