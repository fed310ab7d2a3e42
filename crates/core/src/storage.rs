//! What InfluxDB OSS v2's storage does with a parsed batch (spec Part B §6): retention,
//! shard groups, field types per shard (against stored data and within the batch), fields
//! named `time`, strings over 1 MiB — and the exact `partial write` messages.

use std::collections::{BTreeMap, HashMap};

use crate::batch::{read_batch, ParseOptions};
use crate::limits::MAX_STRING_LEN;
use crate::lp::{self, field_identity, series_identity, OwnedPoint, OwnedValue};
use crate::point::{FieldType, FieldValue, Point};
use crate::precision::Precision;
use crate::time::{format_rfc3339_nano as rfc3339_nano, go_duration};

const HOUR: i64 = 3_600_000_000_000;
const DAY: i64 = 24 * HOUR;

/// What a bucket's storage rules depend on.
#[derive(Clone, Copy, Debug)]
pub struct BucketRules {
    /// The bucket's ID.
    pub id: u64,
    /// Seconds; 0 keeps everything.
    pub retention_secs: i64,
}

impl BucketRules {
    /// The rules a batch checked on its own meets: an empty bucket that keeps everything
    /// (weekly shard groups), as the corpus was made.
    pub const BATCH_ALONE: BucketRules = BucketRules {
        id: 0,
        retention_secs: 0,
    };

    /// OSS's shard group duration for a retention period.
    pub fn shard_duration(&self) -> i64 {
        let r = self.retention_secs.saturating_mul(1_000_000_000);
        if r == 0 || r >= 180 * DAY {
            7 * DAY
        } else if r >= 2 * DAY {
            DAY
        } else {
            HOUR
        }
    }

    /// Start of the shard group holding `t` (Go's `Time.Truncate`, which counts from year 1,
    /// so weekly groups start on Mondays).
    pub fn shard_of(&self, t: i64) -> i64 {
        const YEAR1_TO_UNIX: i128 = 62_135_596_800 * 1_000_000_000;
        let d = self.shard_duration() as i128;
        let abs = t as i128 + YEAR1_TO_UNIX;
        (t as i128 - abs.rem_euclid(d)) as i64
    }

    /// Points before this instant are dropped; `None` with infinite retention.
    pub fn lower_bound(&self, now: i64) -> Option<i64> {
        (self.retention_secs > 0)
            .then(|| now.saturating_sub(self.retention_secs.saturating_mul(1_000_000_000)))
    }
}

/// Field types as storage knows them: (bucket, shard group, measurement, field).
pub type SchemaKey = (u64, i64, Vec<u8>, Vec<u8>);

/// Where the field types of a bucket are kept (the first type written wins).
pub trait Schema {
    /// The type a field already has, if any.
    fn get(&self, key: &SchemaKey) -> Option<FieldType>;
    /// Records the type of a new field.
    fn create(&mut self, key: SchemaKey, ty: FieldType);
}

impl Schema for HashMap<SchemaKey, FieldType> {
    fn get(&self, key: &SchemaKey) -> Option<FieldType> {
        HashMap::get(self, key).copied()
    }
    fn create(&mut self, key: SchemaKey, ty: FieldType) {
        self.insert(key, ty);
    }
}

/// A summary of an accepted batch, made where it is parsed: enough for the writer to decide
/// quickly that no storage rule applies.
#[derive(Clone, Debug, Default)]
pub struct Scan {
    /// Points in the batch.
    pub points: u64,
    /// Earliest timestamp (ns).
    pub min_time: i64,
    /// Latest timestamp (ns).
    pub max_time: i64,
    /// Some rule may apply, or a line may lack a timestamp: the writer must look at each point.
    pub slow: bool,
    /// Each (shard group, measurement, field) of the batch once, with its type.
    pub fields: Vec<(i64, Vec<u8>, Vec<u8>, FieldType)>,
}

/// A point's shard group, raw measurement and field keys with types.
type Shape = (i64, Vec<u8>, Vec<(Vec<u8>, FieldType)>);

/// Builds a [`Scan`] point by point.
pub struct Scanner {
    rules: BucketRules,
    default_time: i64,
    bound: Option<i64>,
    scan: Scan,
    seen: HashMap<(i64, Vec<u8>, Vec<u8>), FieldType>,
    last_shape: Option<Shape>,
}

impl Scanner {
    /// A scanner for a batch to `rules`'s bucket written at `precision` at `now`.
    pub fn new(rules: BucketRules, precision: Precision, now: i64) -> Scanner {
        Scanner {
            rules,
            default_time: precision.truncate(now),
            bound: rules.lower_bound(now),
            scan: Scan {
                min_time: i64::MAX,
                max_time: i64::MIN,
                ..Scan::default()
            },
            seen: HashMap::new(),
            last_shape: None,
        }
    }

    fn same_shape(&self, shard: i64, p: &Point<'_>) -> bool {
        match &self.last_shape {
            Some((s, m, f)) => {
                *s == shard
                    && m.as_slice() == p.raw_measurement()
                    && f.len() == p.fields().len()
                    && f.iter().zip(p.fields()).all(|((k, t), x)| {
                        k.as_slice() == x.raw_key() && *t == x.value().field_type()
                    })
            }
            None => false,
        }
    }

    /// Takes in one point.
    pub fn observe(&mut self, p: &Point<'_>) {
        let t = p.time();
        let s = &mut self.scan;
        s.points += 1;
        s.min_time = s.min_time.min(t);
        s.max_time = s.max_time.max(t);
        // A line without a timestamp got the default time; it is stored with it written out.
        if t == self.default_time || self.bound.is_some_and(|b| t < b) {
            s.slow = true;
        }
        for f in p.fields() {
            if f.raw_key() == b"time" {
                s.slow = true;
            }
            if let FieldValue::String(v) = f.value() {
                if v.raw().len() > MAX_STRING_LEN && v.unescape().len() > MAX_STRING_LEN {
                    s.slow = true;
                }
            }
        }
        let shard = self.rules.shard_of(t);
        if self.same_shape(shard, p) {
            return;
        }
        let m = p.measurement().into_owned();
        for f in p.fields() {
            let ty = f.value().field_type();
            let key = (shard, m.clone(), f.key().into_owned());
            match self.seen.get(&key) {
                Some(&old) if old != ty => self.scan.slow = true,
                Some(_) => {}
                None => {
                    self.scan
                        .fields
                        .push((key.0, key.1.clone(), key.2.clone(), ty));
                    self.seen.insert(key, ty);
                }
            }
        }
        self.last_shape = Some((
            shard,
            p.raw_measurement().to_vec(),
            p.fields()
                .iter()
                .map(|f| (f.raw_key().to_vec(), f.value().field_type()))
                .collect(),
        ));
    }

    /// The scan of the points taken in.
    pub fn finish(self) -> Scan {
        self.scan
    }
}

/// The outcome of storing a batch point by point.
#[derive(Debug, Default)]
pub struct Applied {
    /// The points storage keeps, as line protocol with explicit ns timestamps and without
    /// fields named `time`.
    pub kept_lp: Vec<u8>,
    /// Points storage keeps.
    pub kept: u64,
    /// Earliest kept timestamp (ns).
    pub min_time: i64,
    /// Latest kept timestamp (ns).
    pub max_time: i64,
    /// The 422 message, when storage dropped or changed something.
    pub error: Option<Vec<u8>>,
}

/// Runs storage's rules over every point of an (accepted) body, creating fields in `schema`
/// as OSS does, even for fields of points it then drops.
pub fn apply(
    body: &[u8],
    precision: Precision,
    now: i64,
    rules: BucketRules,
    schema: &mut dyn Schema,
) -> Applied {
    let mut points: Vec<Point<'_>> = Vec::new();
    read_batch(body, &ParseOptions::new(precision, now), 1 << 10, |p| {
        points.push(p.clone())
    });
    let bound = rules.lower_bound(now);
    let mut expired: Vec<usize> = Vec::new();
    let mut shards: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
    for (i, p) in points.iter().enumerate() {
        if bound.is_some_and(|b| p.time() < b) {
            expired.push(i);
        } else {
            shards.entry(rules.shard_of(p.time())).or_default().push(i);
        }
    }
    let mut keep = vec![false; points.len()];
    let mut shard_error: Option<Vec<u8>> = None;
    for (&shard, idx) in &shards {
        let mut reason: Option<Vec<u8>> = None;
        let mut dropped = 0u64;
        for &i in idx {
            let p = &points[i];
            let m = p.measurement();
            if p.fields().iter().all(|f| f.raw_key() == b"time") {
                reason.get_or_insert_with(|| invalid_time_field(&m));
                dropped += 1;
                continue;
            }
            if let Some(r) = validate_and_create(rules.id, shard, p, &m, schema) {
                reason.get_or_insert(r);
                dropped += 1;
                continue;
            }
            if p.fields().iter().any(|f| f.raw_key() == b"time") {
                reason.get_or_insert_with(|| {
                    let mut r = invalid_time_field(&m);
                    r.extend_from_slice(b". Field \"time\" has been stripped from point.");
                    r
                });
            }
            keep[i] = true;
        }
        if let (None, Some(r)) = (&shard_error, reason) {
            let mut msg = b"partial write: ".to_vec();
            msg.extend_from_slice(&r);
            msg.extend_from_slice(format!(" dropped={dropped}").as_bytes());
            shard_error = Some(msg);
        }
    }
    let retention_error = (!expired.is_empty()).then(|| {
        let b = bound.unwrap_or(0);
        let (mut oldest, mut newest) = (expired[0], expired[0]);
        for &i in &expired {
            if points[i].time() < points[oldest].time() {
                oldest = i;
            }
            if points[i].time() > points[newest].time() {
                newest = i;
            }
        }
        let at = |i: usize, which: &str| {
            let mut s = format!("{which} point ").into_bytes();
            s.extend_from_slice(&points[i].series_key());
            s.extend_from_slice(
                format!(
                    " at {} dropped because it violates a Retention Policy Lower Bound at {}",
                    rfc3339_nano(points[i].time()),
                    rfc3339_nano(b)
                )
                .as_bytes(),
            );
            s
        };
        let mut msg = format!(
            "partial write: dropped {} points outside retention policy of duration {} - ",
            expired.len(),
            go_duration(rules.retention_secs.saturating_mul(1_000_000_000))
        )
        .into_bytes();
        msg.extend_from_slice(&at(oldest, "oldest"));
        msg.extend_from_slice(b", ");
        msg.extend_from_slice(&at(newest, "newest"));
        msg.extend_from_slice(
            format!(
                " dropped={} for database: {:016x} for retention policy: autogen",
                expired.len(),
                rules.id
            )
            .as_bytes(),
        );
        msg
    });
    let mut out = Applied {
        min_time: i64::MAX,
        max_time: i64::MIN,
        ..Applied::default()
    };
    for (p, _) in points.iter().zip(&keep).filter(|(_, k)| **k) {
        lp::write_line(&mut out.kept_lp, p, |k| k != b"time");
        out.kept += 1;
        out.min_time = out.min_time.min(p.time());
        out.max_time = out.max_time.max(p.time());
    }
    // The coordinator reports a shard's error before the retention one.
    out.error = shard_error.or(retention_error).map(|m| {
        let mut full = b"failure writing points to database: ".to_vec();
        full.extend_from_slice(&m);
        full
    });
    out
}

/// Storage's reason for a point whose only field is `time` (the point is dropped).
pub fn invalid_time_field(m: &[u8]) -> Vec<u8> {
    let mut r = b"invalid field name: input field \"time\" on measurement \"".to_vec();
    r.extend_from_slice(m);
    r.extend_from_slice(b"\" is invalid");
    r
}

/// Storage's reason for a field whose type differs from the one the shard already has.
pub fn type_conflict(field: &[u8], m: &[u8], ty: FieldType, old: FieldType) -> Vec<u8> {
    let mut r = b"field type conflict: input field \"".to_vec();
    r.extend_from_slice(field);
    r.extend_from_slice(b"\" on measurement \"");
    r.extend_from_slice(m);
    r.extend_from_slice(format!("\" is type {ty}, already exists as type {old}").as_bytes());
    r
}

/// Storage's reason for a string value over [`MAX_STRING_LEN`] (`n` bytes once unescaped).
pub fn too_long(field: &[u8], m: &[u8], n: usize) -> Vec<u8> {
    let mut r = b"input field \"".to_vec();
    r.extend_from_slice(field);
    r.extend_from_slice(b"\" on measurement \"");
    r.extend_from_slice(m);
    r.extend_from_slice(format!("\" is too long, {n} > {MAX_STRING_LEN}").as_bytes());
    r
}

/// OSS's `ValidateAndCreateFields`: per field in order, the string size, then the type
/// against the shard's fields (creating new ones on the way).
fn validate_and_create(
    bucket: u64,
    shard: i64,
    p: &Point<'_>,
    m: &[u8],
    schema: &mut dyn Schema,
) -> Option<Vec<u8>> {
    for f in p.fields() {
        let key = f.key();
        if let FieldValue::String(s) = f.value() {
            if s.raw().len() > MAX_STRING_LEN {
                let n = s.unescape().len();
                if n > MAX_STRING_LEN {
                    return Some(too_long(&key, m, n));
                }
            }
        }
        if f.raw_key() == b"time" {
            continue;
        }
        let ty = f.value().field_type();
        let k: SchemaKey = (bucket, shard, m.to_vec(), key.into_owned());
        match schema.get(&k) {
            Some(old) if old != ty => {
                return Some(type_conflict(&k.3, m, ty, old));
            }
            Some(_) => {}
            None => schema.create(k, ty),
        }
    }
    None
}

/// Points merged as InfluxDB stores them: one point per series and time; a later write of
/// a field replaces the earlier value of that field, other fields stay.
#[derive(Default)]
pub struct Merged {
    index: HashMap<(Vec<u8>, i64), usize>,
    points: Vec<OwnedPoint>,
    /// Series identity of each point, for sorting.
    ids: Vec<Vec<u8>>,
    /// Field identity → position, for points with many fields (a line can hold 100k).
    wide: HashMap<usize, HashMap<Vec<u8>, usize>>,
}

/// Points with more fields than this get a field index instead of a linear search.
const WIDE: usize = 16;

impl Merged {
    fn set_field(&mut self, i: usize, raw_key: &[u8], v: OwnedValue) {
        let fid = field_identity(raw_key);
        let stored = &mut self.points[i];
        if let Some(map) = self.wide.get_mut(&i) {
            match map.get(&fid) {
                Some(&j) => stored.fields[j] = (raw_key.to_vec(), v),
                None => {
                    map.insert(fid, stored.fields.len());
                    stored.fields.push((raw_key.to_vec(), v));
                }
            }
            return;
        }
        match stored
            .fields
            .iter_mut()
            .find(|(k, _)| field_identity(k) == fid)
        {
            Some(slot) => *slot = (raw_key.to_vec(), v),
            None => {
                stored.fields.push((raw_key.to_vec(), v));
                if stored.fields.len() > WIDE {
                    let map = stored
                        .fields
                        .iter()
                        .enumerate()
                        .map(|(j, (k, _))| (field_identity(k), j))
                        .collect();
                    self.wide.insert(i, map);
                }
            }
        }
    }

    /// Adds a point: same series and time as one added before, its fields overwrite.
    pub fn add(&mut self, p: &Point<'_>) {
        let id = series_identity(p);
        let i = match self.index.get(&(id.clone(), p.time())) {
            Some(&i) => {
                // The latest spelling of the series wins, like the latest values.
                self.points[i].key = p.series_key();
                i
            }
            None => {
                let i = self.points.len();
                self.index.insert((id.clone(), p.time()), i);
                self.points.push(OwnedPoint {
                    key: p.series_key(),
                    fields: Vec::new(),
                    time: p.time(),
                });
                self.ids.push(id);
                i
            }
        };
        // Duplicate keys within one point and later writes: the last value is stored.
        for f in p.fields() {
            self.set_field(i, f.raw_key(), OwnedValue::from(f.value()));
        }
    }

    /// Points held.
    pub fn len(&self) -> usize {
        self.points.len()
    }

    /// Whether no point is held.
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// The points sorted by series, then time (the order `influxd inspect export-lp` uses).
    pub fn into_sorted(self) -> Vec<OwnedPoint> {
        let mut order: Vec<usize> = (0..self.points.len()).collect();
        order.sort_by(|&a, &b| {
            (&self.ids[a], self.points[a].time).cmp(&(&self.ids[b], self.points[b].time))
        });
        let mut slots: Vec<Option<OwnedPoint>> = self.points.into_iter().map(Some).collect();
        order.into_iter().filter_map(|i| slots[i].take()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: BucketRules = BucketRules {
        id: 0x0123456789abcdef,
        retention_secs: 0,
    };

    fn run(body: &str, schema: &mut HashMap<SchemaKey, FieldType>) -> (String, Option<String>) {
        let a = apply(
            body.as_bytes(),
            Precision::Ns,
            1_700_000_000_000_000_000,
            B,
            schema,
        );
        (
            String::from_utf8(a.kept_lp).unwrap(),
            a.error.map(|e| String::from_utf8(e).unwrap()),
        )
    }

    #[test]
    fn conflicts_within_a_point_and_against_stored_data() {
        let mut s = HashMap::new();
        let (kept, err) = run("m f=1,f=2i 1\nm g=1 2\n", &mut s);
        assert_eq!(kept, "m g=1.0 2\n");
        assert_eq!(
            err.unwrap(),
            "failure writing points to database: partial write: field type conflict: input field \"f\" on measurement \"m\" is type integer, already exists as type float dropped=1"
        );
        let (kept, err) = run("m g=\"x\" 3\nm g=2 4\n", &mut s);
        assert_eq!(kept, "m g=2.0 4\n");
        assert!(err
            .unwrap()
            .ends_with("is type string, already exists as type float dropped=1"));
        // Another shard group (weeks apart) has its own types.
        let (_, err) = run("m g=\"x\" 1700000000000000000\n", &mut s);
        assert_eq!(err, None);
    }

    #[test]
    fn time_fields() {
        let mut s = HashMap::new();
        let (kept, err) = run("m time=1 1\n", &mut s);
        assert_eq!(kept, "");
        assert_eq!(err.unwrap(), "failure writing points to database: partial write: invalid field name: input field \"time\" on measurement \"m\" is invalid dropped=1");
        let (kept, err) = run("m time=1,f=2 1\n", &mut s);
        assert_eq!(kept, "m f=2.0 1\n");
        assert!(err
            .unwrap()
            .ends_with("has been stripped from point. dropped=0"));
    }

    #[test]
    fn long_strings_and_retention() {
        let mut s = HashMap::new();
        let big = "x".repeat(MAX_STRING_LEN + 1);
        let (_, err) = run(&format!("m s=\"{big}\" 1\n"), &mut s);
        assert!(err.unwrap().ends_with(
            "input field \"s\" on measurement \"m\" is too long, 1048577 > 1048576 dropped=1"
        ));
        let rules = BucketRules {
            retention_secs: 3600,
            ..B
        };
        let a = apply(
            b"m,t=a f=1 5\nm f=1 1700000000000000000\n",
            Precision::Ns,
            1_700_000_000_000_000_000,
            rules,
            &mut s,
        );
        assert_eq!(a.kept, 1);
        assert_eq!(String::from_utf8(a.error.unwrap()).unwrap(),
            "failure writing points to database: partial write: dropped 1 points outside retention policy of duration 1h0m0s - oldest point m,t=a at 1970-01-01T00:00:00.000000005Z dropped because it violates a Retention Policy Lower Bound at 2023-11-14T21:13:20Z, newest point m,t=a at 1970-01-01T00:00:00.000000005Z dropped because it violates a Retention Policy Lower Bound at 2023-11-14T21:13:20Z dropped=1 for database: 0123456789abcdef for retention policy: autogen");
    }

    #[test]
    fn shard_groups_start_on_monday() {
        // 2023-11-13 was a Monday.
        let monday = 1_699_833_600_000_000_000;
        assert_eq!(B.shard_of(monday + 5 * DAY), monday);
        assert_eq!(B.shard_of(monday), monday);
        assert_eq!(B.shard_of(monday - 1), monday - 7 * DAY);
        assert_eq!(rfc3339_nano(-1), "1969-12-31T23:59:59.999999999Z");
    }

    #[test]
    fn merge_keeps_one_point_per_series_and_time() {
        let mut m = Merged::default();
        read_batch(
            b"m,t=a f=1,g=2 5\nm,t=a f=3 5\nm,t=b f=1 5\nm,t=a f=1,f=9 6\n",
            &ParseOptions::new(Precision::Ns, 0),
            1 << 20,
            |p| m.add(p),
        );
        let mut out = Vec::new();
        for p in m.into_sorted() {
            p.write(&mut out);
        }
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "m,t=a f=3.0,g=2.0 5\nm,t=a f=9.0 6\nm,t=b f=1.0 5\n"
        );
    }
}
