//! Why a line was rejected: data with positions, rendered to InfluxDB's exact text on demand.

use std::borrow::Cow;
use std::fmt;

/// A tag key InfluxDB reserves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReservedTagKey {
    /// The single byte `0xFF` (InfluxDB's internal field-key tag).
    Xff,
    /// The single byte `0x00` (InfluxDB's internal measurement tag).
    X00,
    /// The tag key `_field`.
    Field,
    /// The tag key `_measurement`.
    Measurement,
    /// The tag key `time`.
    Time,
}

impl ReservedTagKey {
    #[inline]
    pub(crate) fn of(key: &[u8]) -> Option<ReservedTagKey> {
        if !matches!(key.len(), 1 | 4 | 6 | 12) {
            return None;
        }
        match key {
            b"\xff" => Some(ReservedTagKey::Xff),
            b"\x00" => Some(ReservedTagKey::X00),
            b"_field" => Some(ReservedTagKey::Field),
            b"_measurement" => Some(ReservedTagKey::Measurement),
            b"time" => Some(ReservedTagKey::Time),
            _ => None,
        }
    }

    /// The key as Go's `%q` prints it.
    pub fn quoted(self) -> &'static str {
        match self {
            ReservedTagKey::Xff => r#""\xff""#,
            ReservedTagKey::X00 => r#""\x00""#,
            ReservedTagKey::Field => r#""_field""#,
            ReservedTagKey::Measurement => r#""_measurement""#,
            ReservedTagKey::Time => r#""time""#,
        }
    }
}

/// Why InfluxDB rejects a line. Ranges are byte offsets into the line text (the logical line
/// after its leading whitespace), so the message can quote the exact bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// No measurement before the first separator.
    MissingMeasurement,
    /// A line without a field set.
    MissingFields,
    /// A tag without a key.
    MissingTagKey,
    /// A tag without a value.
    MissingTagValue,
    /// A tag without `=`.
    InvalidTagFormat,
    /// A tag key InfluxDB reserves.
    ReservedTagKey(ReservedTagKey),
    /// The same tag key twice in one series key.
    DuplicateTags,
    /// The series key (or series key + 4 + field key) is longer than 65535 bytes.
    MaxKeyLength(usize),
    /// A field without a key.
    MissingFieldKey,
    /// A field without a value.
    MissingFieldValue,
    /// A malformed integer or unsigned value.
    InvalidNumber,
    /// A value that starts like a boolean and is not one.
    InvalidBoolean,
    /// A malformed float value.
    InvalidFloat,
    /// An integer field that does not fit in i64; the range holds its digits.
    IntegerOutOfRange {
        /// Start of the digits in the line text.
        start: usize,
        /// End of the digits in the line text.
        end: usize,
    },
    /// An unsigned field that does not fit in u64; the range holds its digits.
    UnsignedOutOfRange {
        /// Start of the digits in the line text.
        start: usize,
        /// End of the digits in the line text.
        end: usize,
    },
    /// A string field value without its closing quote.
    UnbalancedQuotes,
    /// A field without `=` or with a malformed separator.
    InvalidFieldFormat,
    /// The two tokenizers of InfluxDB's field set disagree; the range holds the field key.
    InvalidFieldValue {
        /// Start of the field key in the line text.
        start: usize,
        /// End of the field key in the line text.
        end: usize,
    },
    /// A timestamp that is not a number.
    BadTimestamp,
    /// The timestamp does not fit in i64 (`strconv.ParseInt … value out of range`).
    TimestampOutOfRange {
        /// Start of the timestamp in the line text.
        start: usize,
        /// End of the timestamp in the line text.
        end: usize,
    },
    /// The timestamp is a lone `-` (`strconv.ParseInt … invalid syntax`).
    TimestampSyntax {
        /// Start of the timestamp in the line text.
        start: usize,
        /// End of the timestamp in the line text.
        end: usize,
    },
    /// The timestamp times the precision is outside what InfluxDB stores.
    TimeOutsideRange,
    /// Something other than spaces follows the timestamp.
    PointInvalid,
}

impl ErrorKind {
    /// The reason when it quotes nothing from the line (most of them).
    pub fn fixed_reason(&self) -> Option<&'static str> {
        Some(match self {
            ErrorKind::MissingMeasurement => "missing measurement",
            ErrorKind::MissingFields => "missing fields",
            ErrorKind::MissingTagKey => "missing tag key",
            ErrorKind::MissingTagValue => "missing tag value",
            ErrorKind::InvalidTagFormat => "invalid tag format",
            ErrorKind::DuplicateTags => "duplicate tags",
            ErrorKind::MissingFieldKey => "missing field key",
            ErrorKind::MissingFieldValue => "missing field value",
            ErrorKind::InvalidNumber => "invalid number",
            ErrorKind::InvalidBoolean => "invalid boolean",
            ErrorKind::InvalidFloat => "invalid float",
            ErrorKind::UnbalancedQuotes => "unbalanced quotes",
            ErrorKind::InvalidFieldFormat => "invalid field format",
            ErrorKind::BadTimestamp => "bad timestamp",
            ErrorKind::TimeOutsideRange => {
                "time outside range -9223372036854775806 - 9223372036854775806"
            }
            ErrorKind::PointInvalid => "point is invalid",
            _ => return None,
        })
    }

    /// Appends InfluxDB's reason text for this error, quoting bytes from `text` (the line
    /// text) where the reason includes them.
    pub fn write_reason(&self, text: &[u8], out: &mut Vec<u8>) {
        if let Some(f) = self.fixed_reason() {
            out.extend_from_slice(f.as_bytes());
            return;
        }
        let slice = |s: usize, e: usize| text.get(s..e).unwrap_or_default();
        let (prefix, quoted, go_func, tail): (&str, &[u8], &str, &str) = match *self {
            ErrorKind::ReservedTagKey(k) => {
                out.extend_from_slice(b"cannot use reserved tag key ");
                out.extend_from_slice(k.quoted().as_bytes());
                return;
            }
            ErrorKind::MaxKeyLength(n) => {
                out.extend_from_slice(format!("max key length exceeded: {n} > 65535").as_bytes());
                return;
            }
            ErrorKind::InvalidFieldValue { start, end } => {
                out.extend_from_slice(b"invalid value: field-key=");
                out.extend_from_slice(slice(start, end));
                return;
            }
            ErrorKind::IntegerOutOfRange { start, end } => (
                "unable to parse integer ",
                slice(start, end),
                "ParseInt",
                "value out of range",
            ),
            ErrorKind::UnsignedOutOfRange { start, end } => (
                "unable to parse unsigned ",
                slice(start, end),
                "ParseUint",
                "value out of range",
            ),
            ErrorKind::TimestampOutOfRange { start, end } => {
                ("", slice(start, end), "ParseInt", "value out of range")
            }
            ErrorKind::TimestampSyntax { start, end } => {
                ("", slice(start, end), "ParseInt", "invalid syntax")
            }
            _ => return,
        };
        // Go's `strconv.NumError`, after "<prefix><digits>: " when there is a prefix.
        if !prefix.is_empty() {
            out.extend_from_slice(prefix.as_bytes());
            out.extend_from_slice(quoted);
            out.extend_from_slice(b": ");
        }
        out.extend_from_slice(b"strconv.");
        out.extend_from_slice(go_func.as_bytes());
        out.extend_from_slice(b": parsing \"");
        out.extend_from_slice(quoted);
        out.extend_from_slice(b"\": ");
        out.extend_from_slice(tail.as_bytes());
    }

    /// The reason as text for people: borrowed when it quotes nothing from the line.
    pub fn reason(&self, text: &[u8]) -> Cow<'static, str> {
        match self.fixed_reason() {
            Some(f) => Cow::Borrowed(f),
            None => {
                let mut v = Vec::new();
                self.write_reason(text, &mut v);
                Cow::Owned(String::from_utf8_lossy(&v).into_owned())
            }
        }
    }

    /// A short stable name for programs (`missing-fields`, `invalid-number`, …).
    pub fn name(&self) -> &'static str {
        match self {
            ErrorKind::MissingMeasurement => "missing-measurement",
            ErrorKind::MissingFields => "missing-fields",
            ErrorKind::MissingTagKey => "missing-tag-key",
            ErrorKind::MissingTagValue => "missing-tag-value",
            ErrorKind::InvalidTagFormat => "invalid-tag-format",
            ErrorKind::ReservedTagKey(_) => "reserved-tag-key",
            ErrorKind::DuplicateTags => "duplicate-tags",
            ErrorKind::MaxKeyLength(_) => "max-key-length",
            ErrorKind::MissingFieldKey => "missing-field-key",
            ErrorKind::MissingFieldValue => "missing-field-value",
            ErrorKind::InvalidNumber => "invalid-number",
            ErrorKind::InvalidBoolean => "invalid-boolean",
            ErrorKind::InvalidFloat => "invalid-float",
            ErrorKind::IntegerOutOfRange { .. } => "integer-out-of-range",
            ErrorKind::UnsignedOutOfRange { .. } => "unsigned-out-of-range",
            ErrorKind::UnbalancedQuotes => "unbalanced-quotes",
            ErrorKind::InvalidFieldFormat => "invalid-field-format",
            ErrorKind::InvalidFieldValue { .. } => "invalid-field-value",
            ErrorKind::BadTimestamp => "bad-timestamp",
            ErrorKind::TimestampOutOfRange { .. } => "timestamp-out-of-range",
            ErrorKind::TimestampSyntax { .. } => "timestamp-syntax",
            ErrorKind::TimeOutsideRange => "time-outside-range",
            ErrorKind::PointInvalid => "point-invalid",
        }
    }
}

/// A rejected line: where it is in the body, and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineError {
    /// 1-based physical line where the logical line starts.
    pub line: u64,
    /// Byte offset in the body where the logical line starts (before leading whitespace).
    pub line_start: usize,
    /// Byte offset in the body of the line text InfluxDB quotes (after leading whitespace).
    pub text_start: usize,
    /// Length of the quoted line text.
    pub text_len: usize,
    /// How many physical lines the logical line spans (more than 1 when an escaped newline
    /// or a newline inside quotes joins them).
    pub spans: u32,
    /// Offset within the line text where the parser stopped: the failing spot.
    pub at: usize,
    /// Why the line was rejected.
    pub kind: ErrorKind,
}

impl LineError {
    /// The text InfluxDB quotes: `unable to parse '<text>': <reason>`.
    pub fn text<'b>(&self, body: &'b [u8]) -> &'b [u8] {
        &body[self.text_start..self.text_start + self.text_len]
    }

    /// 1-based column of the failing spot, in bytes from the start of the physical line.
    pub fn column(&self) -> usize {
        self.text_start - self.line_start + self.at + 1
    }

    /// Appends InfluxDB's entry for this line: `unable to parse '<text>': <reason>`.
    pub fn write_entry(&self, body: &[u8], out: &mut Vec<u8>) {
        let text = self.text(body);
        out.extend_from_slice(b"unable to parse '");
        out.extend_from_slice(text);
        out.extend_from_slice(b"': ");
        self.kind.write_reason(text, out);
    }
}

/// The reason as InfluxDB prints it needs the line text, so `Display` shows only the kind's
/// name; use [`ErrorKind::reason`] for the exact text.
impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
