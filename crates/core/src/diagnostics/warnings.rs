//! Warnings about accepted lines: what storage would reject with 422 (through the storage
//! rules of `crate::storage`, for a batch alone), timestamps in a surprising unit, and v1's
//! precision trap.

use std::collections::HashMap;

use super::hasher::{BuildFast, FastHasher};
use super::likely_unit;
use super::unit_name;
use crate::point::{FieldType, FieldValue, Point};
use crate::precision::Precision;
use crate::set64::Set64;
use crate::storage::{self, BucketRules};

/// Field types by their discriminant (`ty as u64`), to unpack `Warnings::types`.
const TYPES: [FieldType; 5] = [
    FieldType::Float,
    FieldType::Integer,
    FieldType::Unsigned,
    FieldType::String,
    FieldType::Boolean,
];

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
    /// A v1 write at precision `u`, `m` or `h` with timestamps: OSS reads them as
    /// nanoseconds (spec Part C §C.2).
    V1Precision,
}

impl WarningKind {
    /// Every kind, in the order they are declared.
    pub const ALL: [WarningKind; 5] = [
        WarningKind::FieldTypeConflict,
        WarningKind::TimeField,
        WarningKind::StringTooLong,
        WarningKind::TimestampUnit,
        WarningKind::V1Precision,
    ];

    /// The warning's stable name, as the package and the CLI show it.
    pub fn name(self) -> &'static str {
        match self {
            WarningKind::FieldTypeConflict => "field-type-conflict",
            WarningKind::TimeField => "time-field",
            WarningKind::StringTooLong => "string-too-long",
            WarningKind::TimestampUnit => "timestamp-unit",
            WarningKind::V1Precision => "v1-precision",
        }
    }
}

/// A warning about an accepted line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    /// The physical line the point starts on.
    pub line: u64,
    /// What is suspicious.
    pub kind: WarningKind,
    /// The warning, for a person.
    pub message: String,
}

use crate::limits::MAX_STRING_LEN;

/// Collects warnings over the points of a batch. Keeps at most `cap` warnings (and counts
/// the rest); each kind of warning about the same measurement and field is reported once.
#[derive(Debug)]
pub struct Warnings {
    cap: usize,
    precision: Precision,
    /// Type of each field seen, keyed by unescaped measurement, 0xFF, unescaped field key.
    /// The first type and line of each field, as `line << 3 | type` (one u64, so the map is
    /// the same type as the summary's counts and wasm carries one copy of its code).
    types: HashMap<Vec<u8>, u64, BuildFast>,
    /// The (kind, measurement, field) already reported, as the kind, the measurement's
    /// length (4 bytes LE), the measurement and the field (a key of the same map type as
    /// `types`: wasm carries one copy of its code).
    reported: HashMap<Vec<u8>, u64, BuildFast>,
    /// Hashes of the (raw measurement, field keys and types) shapes already checked: a
    /// batch repeats a few shapes, and a known shape cannot add a conflict.
    shapes: Set64,
    key: Vec<u8>,
    unit_checked: bool,
    /// On `/write` at `u`, `m` or `h`: the parameter and the time given to lines without a
    /// timestamp (any other time was given, and read as nanoseconds).
    v1_unit: Option<(Vec<u8>, i64)>,
    /// The warnings kept (at most the cap).
    pub list: Vec<Warning>,
    /// Warnings found, kept or not.
    pub total: u64,
}

impl Warnings {
    /// A collector for a batch written at `precision`, keeping at most `cap` warnings.
    pub fn new(precision: Precision, cap: usize) -> Self {
        Warnings {
            cap,
            precision,
            types: HashMap::default(),
            reported: HashMap::default(),
            shapes: Set64::default(),
            key: Vec::new(),
            unit_checked: false,
            v1_unit: None,
            list: Vec::new(),
            total: 0,
        }
    }

    /// Warns, once, about the first line with a timestamp of a v1 write whose precision
    /// parameter is a 1.x spelling OSS does not scale by.
    pub fn with_v1_unit(mut self, param: &[u8], default_time: i64) -> Self {
        self.v1_unit = Some((param.to_vec(), default_time));
        self
    }

    fn check_v1_unit(&mut self, p: &Point<'_>) {
        let Some((param, default_time)) = &self.v1_unit else {
            return;
        };
        if p.time() == *default_time {
            return;
        }
        let (unit, fix) = match param.as_slice() {
            b"u" => ("microseconds", "send precision=us"),
            b"m" => (
                "minutes",
                "multiply the timestamps by 60 and send precision=s",
            ),
            _ => (
                "hours",
                "multiply the timestamps by 3600 and send precision=s",
            ),
        };
        let message = format!(
            "precision={} on /write: InfluxDB reads timestamp {} as nanoseconds ({}), not {unit}; {fix}",
            String::from_utf8_lossy(param),
            p.time(),
            crate::time::format_rfc3339_nano(p.time()),
        );
        self.v1_unit = None;
        self.push(WarningKind::V1Precision, b"", b"", p.line(), message);
    }

    fn push(&mut self, kind: WarningKind, m: &[u8], f: &[u8], line: u64, message: String) {
        let mut key = vec![kind as u8];
        key.extend_from_slice(&(m.len() as u32).to_le_bytes());
        key.extend_from_slice(m);
        key.extend_from_slice(f);
        if self.reported.insert(key, 0).is_some() {
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
        if self.v1_unit.is_some() {
            self.check_v1_unit(p);
        }
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
                Some(&seen) => (TYPES[(seen & 7) as usize], seen >> 3),
                None => {
                    self.types
                        .insert(self.key.clone(), p.line() << 3 | ty as u64);
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

#[cfg(test)]
mod tests {
    use super::TYPES;

    /// `Warnings::types` packs a type as its discriminant and unpacks it through `TYPES`.
    #[test]
    fn types_table_follows_the_discriminants() {
        for (i, &t) in TYPES.iter().enumerate() {
            assert_eq!(t as usize, i);
        }
    }
}
