//! Diagnostics beyond InfluxDB (spec Part A §6): for each rejected line its position, reason
//! and a hint for the usual traps; warnings for what storage would reject with 422; and a
//! summary of an accepted batch. None of this ever goes into an HTTP 400 body.

mod hasher;
mod summary;
mod warnings;

use std::borrow::Cow;

use crate::error::{ErrorKind, LineError};
use crate::limits::EXCERPT_MAX;
use crate::precision::Precision;

pub use summary::{Summary, SummaryBuilder};
pub use warnings::{Warning, WarningKind, Warnings};

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
    /// Length in bytes of the quoted line text.
    pub text_len: usize,
    /// The physical line where the rejected line starts, as written (at most about 400
    /// bytes of it, around the failing spot), for showing it with the spot marked.
    pub excerpt: Vec<u8>,
    /// Byte offset of `excerpt` within its physical line (non-zero when cut on the left);
    /// the spot is at `column - 1 - excerpt_offset` in `excerpt`.
    pub excerpt_offset: usize,
}

/// The physical line starting at `start`, cut to a window around byte `spot` of it.
///
/// The one excerpt window of linegate: the CLI, the package and the page show this.
pub fn excerpt(body: &[u8], start: usize, spot: usize) -> (Vec<u8>, usize) {
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

pub(crate) fn unit_name(p: Precision) -> &'static str {
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
