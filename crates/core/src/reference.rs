//! The reference parser: InfluxDB OSS v2's line scanner and point parser (`models/points.go`),
//! check for check, in Go's order, with Go's quirks (spec Part B §3–§4 and §7).
//!
//! It runs several passes over a line, as Go does, so it is the slow path: the batch driver
//! uses it for lines the fast parser (`fast.rs`) declines, which are the malformed and the
//! unusual ones, and the tests use it as the oracle the fast parser must agree with.

use crate::error::{ErrorKind, ReservedTagKey};
use crate::limits::MAX_KEY_LENGTH;
use crate::number;
use crate::point::{EscapedStr, Field, FieldValue, Point, Tag};
use crate::precision::Precision;

/// A line failure: what and where (offset into the line text).
pub(crate) type Fail = (ErrorKind, usize);

#[inline]
pub(crate) fn is_ws(b: u8) -> bool {
    b == b' ' || b == b'\t' || b == 0
}

/// Go's `skipWhitespace`: SPACE, TAB and NUL.
#[inline]
pub(crate) fn skip_ws(buf: &[u8], mut i: usize) -> usize {
    while i < buf.len() && is_ws(buf[i]) {
        i += 1;
    }
    i
}

/// Go's `scanLine`: the end (index of the terminating LF, or `buf.len()`) of the logical
/// line starting at `i`. A backslash with two more bytes after it skips the next byte (so
/// `\` LF joins lines); after the first space, a `"` in value position toggles quoting, and
/// a LF inside quotes does not end the line.
pub(crate) fn scan_line(buf: &[u8], i: usize) -> usize {
    LineScan::default().run(buf, i, buf.len()).0
}

/// `scan_line`'s state, so a scan can pause where the bytes so far end and resume when more
/// arrive (the incremental checker, on a logical line longer than a chunk).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct LineScan {
    quoted: bool,
    fields: bool,
    equals: usize,
    commas: usize,
}

impl LineScan {
    /// Scans from `i` while `i < stop`; returns where it stopped and whether that is the LF
    /// ending the line. Backslashes skip as in a body of `buf.len()` bytes, so a caller that
    /// has not seen the end of the body passes `stop <= buf.len() - 2`.
    #[inline(always)]
    pub(crate) fn run(&mut self, buf: &[u8], mut i: usize, stop: usize) -> (usize, bool) {
        while i < stop {
            let b = buf[i];
            if b == b'\\' && i + 2 < buf.len() {
                i += 2;
                continue;
            }
            if b == b' ' {
                self.fields = true;
            }
            if self.fields {
                if !self.quoted && b == b'=' {
                    i += 1;
                    self.equals += 1;
                    continue;
                } else if !self.quoted && b == b',' {
                    i += 1;
                    self.commas += 1;
                    continue;
                } else if b == b'"' && self.equals > self.commas {
                    i += 1;
                    self.quoted = !self.quoted;
                    continue;
                }
            }
            if b == b'\n' && !self.quoted {
                return (i, true);
            }
            i += 1;
        }
        (i, false)
    }
}

/// Byte at `i`, or a byte that matches nothing the scanners test, past the end.
#[inline]
fn at(buf: &[u8], i: usize) -> Option<u8> {
    buf.get(i).copied()
}

/// "Escaped" in Go's scanners means the previous byte is a backslash.
#[inline]
fn escaped(buf: &[u8], i: usize) -> bool {
    i > 0 && buf[i - 1] == b'\\'
}

/// Go's `scanTo(buf, 0, stop)`: index of the first `stop` not preceded by a backslash.
#[inline]
fn scan_to(buf: &[u8], stop: u8) -> usize {
    let mut i = 0;
    while i < buf.len() {
        if buf[i] == stop && (i == 0 || buf[i - 1] != b'\\') {
            break;
        }
        i += 1;
    }
    i
}

/// Go's `scanFieldValue`: a value ends at an unquoted comma; `\"` and `\\` are skipped.
#[inline]
fn scan_field_value(buf: &[u8], mut i: usize) -> usize {
    let mut quoted = false;
    while i < buf.len() {
        let b = buf[i];
        if b == b'\\' && i + 1 < buf.len() && (buf[i + 1] == b'"' || buf[i + 1] == b'\\') {
            i += 2;
            continue;
        }
        if b == b'"' {
            i += 1;
            quoted = !quoted;
            continue;
        }
        if b == b',' && !quoted {
            break;
        }
        i += 1;
    }
    i
}

/// Reused buffers, so slow lines allocate nothing once warm.
#[derive(Default)]
pub(crate) struct Scratch {
    indices: Vec<usize>,
}

enum After {
    Tags,
    Fields,
}

/// Go's `scanMeasurement`: the state after it and the index where that starts.
fn scan_measurement(buf: &[u8], mut i: usize) -> Result<(After, usize), Fail> {
    if i >= buf.len() || buf[i] == b',' {
        return Err((ErrorKind::MissingMeasurement, i));
    }
    loop {
        i += 1;
        if i >= buf.len() {
            return Err((ErrorKind::MissingFields, i));
        }
        if buf[i - 1] == b'\\' {
            continue;
        }
        match buf[i] {
            b',' => return Ok((After::Tags, i + 1)),
            b' ' => return Ok((After::Fields, i)),
            _ => {}
        }
    }
}

/// Go's `scanTagsKey`: index after the key's `=`.
fn scan_tags_key(buf: &[u8], mut i: usize) -> Result<usize, Fail> {
    if matches!(at(buf, i), None | Some(b' ' | b',' | b'=')) {
        return Err((ErrorKind::MissingTagKey, i));
    }
    loop {
        i += 1;
        match at(buf, i) {
            None => return Err((ErrorKind::MissingTagValue, i)),
            Some(b' ' | b',') if !escaped(buf, i) => return Err((ErrorKind::MissingTagValue, i)),
            Some(b'=') if !escaped(buf, i) => return Ok(i + 1),
            _ => {}
        }
    }
}

/// Go's `scanTagsValue`: the state after the value and where it starts.
fn scan_tags_value(buf: &[u8], mut i: usize) -> Result<(After, usize), Fail> {
    if matches!(at(buf, i), None | Some(b',' | b' ')) {
        return Err((ErrorKind::MissingTagValue, i));
    }
    loop {
        i += 1;
        match at(buf, i) {
            None => return Err((ErrorKind::MissingFields, i)),
            Some(b'=') if !escaped(buf, i) => return Err((ErrorKind::InvalidTagFormat, i)),
            Some(b',') if !escaped(buf, i) => return Ok((After::Tags, i + 1)),
            Some(b' ') if !escaped(buf, i) => return Ok((After::Fields, i)),
            _ => {}
        }
    }
}

/// Go's `scanKey` (measurement, tags, reserved keys, duplicates) and the key-length check of
/// `parsePoint`. Fills `out.measurement` and `out.tags` (sorted); returns the index of the
/// space that ends the key and the key's length.
fn scan_key<'a>(
    buf: &'a [u8],
    out: &mut Point<'a>,
    scratch: &mut Scratch,
) -> Result<(usize, usize), Fail> {
    let start = skip_ws(buf, 0);
    let (mut state, mut i) = scan_measurement(buf, start)?;
    let indices = &mut scratch.indices;
    indices.clear();
    let meas_end = match state {
        After::Tags => i - 1,
        After::Fields => i,
    };
    out.measurement = &buf[start..meas_end];
    while let After::Tags = state {
        indices.push(i);
        i = scan_tags_key(buf, i)?;
        (state, i) = scan_tags_value(buf, i)?;
    }
    // The entry after the last tag points one past its terminating space.
    indices.push(i + 1);
    let n = indices.len() - 1;
    for j in 0..n {
        let text = &buf[indices[j]..indices[j + 1] - 1];
        let k = scan_to(text, b'=');
        out.tags.push(Tag {
            key: &text[..k],
            value: text.get(k + 1..).unwrap_or_default(),
        });
    }
    for (j, t) in out.tags.iter().enumerate() {
        if let Some(r) = ReservedTagKey::of(t.key) {
            return Err((ErrorKind::ReservedTagKey(r), indices[j]));
        }
    }
    let mut sorted = true;
    for (w, &at) in out.tags.windows(2).zip(&indices[1..]) {
        match w[0].key.cmp(w[1].key) {
            std::cmp::Ordering::Greater => {
                sorted = false;
                break;
            }
            std::cmp::Ordering::Equal => return Err((ErrorKind::DuplicateTags, at)),
            std::cmp::Ordering::Less => {}
        }
    }
    if !sorted {
        // Go's insertion sort is stable, and equal keys are an error anyway.
        let mut order: Vec<usize> = (0..out.tags.len()).collect();
        let tags = &out.tags;
        crate::sort::sort_indices(&mut order, &mut |a, b| tags[a].key < tags[b].key);
        let sorted: Vec<Tag<'a>> = order.iter().map(|&j| out.tags[j]).collect();
        out.tags.copy_from_slice(&sorted);
        if out.tags.windows(2).any(|w| w[0].key == w[1].key) {
            return Err((ErrorKind::DuplicateTags, start));
        }
    }
    let key_len = i - start;
    if key_len == 0 {
        return Err((ErrorKind::MissingMeasurement, start));
    }
    if key_len > MAX_KEY_LENGTH {
        return Err((ErrorKind::MaxKeyLength(key_len), start));
    }
    out.series = &buf[start..i];
    Ok((i, key_len))
}

/// Go's `scanNumber`: validates a numeric value starting at `i`; returns where it ends.
fn scan_number(buf: &[u8], mut i: usize) -> Result<usize, Fail> {
    let start = i;
    let (mut is_int, mut is_unsigned) = (false, false);
    if at(buf, i) == Some(b'-') {
        i += 1;
        if i == buf.len() {
            return Err((ErrorKind::InvalidNumber, i));
        }
    }
    let (mut decimal, mut scientific) = (false, false);
    while i < buf.len() {
        let b = buf[i];
        if b == b',' || b == b' ' {
            break;
        }
        if b == b'i' && i > start && !(is_int || is_unsigned) {
            is_int = true;
            i += 1;
            continue;
        } else if b == b'u' && i > start && !(is_int || is_unsigned) {
            is_unsigned = true;
            i += 1;
            continue;
        }
        if b == b'.' {
            if decimal {
                return Err((ErrorKind::InvalidNumber, i));
            }
            decimal = true;
        }
        if i > start && (b == b'e' || b == b'E') {
            scientific = true;
            i += 1;
            continue;
        }
        if (b == b'+' || b == b'-') && (buf[i - 1] == b'e' || buf[i - 1] == b'E') {
            i += 1;
            continue;
        }
        if !(b.is_ascii_digit() || b == b'.') {
            return Err((ErrorKind::InvalidNumber, i));
        }
        i += 1;
    }
    if (is_int || is_unsigned) && (decimal || scientific) {
        return Err((ErrorKind::InvalidNumber, start));
    }
    let mut digits = i - start;
    if is_int {
        digits -= 1;
    }
    if decimal {
        digits -= 1;
    }
    if buf[start] == b'-' {
        digits -= 1;
    }
    if digits == 0 {
        return Err((ErrorKind::InvalidNumber, start));
    }
    if is_int {
        if buf[i - 1] != b'i' {
            return Err((ErrorKind::InvalidNumber, start));
        }
        let lit = &buf[start..i - 1];
        if lit.len() >= 19 && number::parse_i64(lit).is_none() {
            return Err((ErrorKind::IntegerOutOfRange { start, end: i - 1 }, start));
        }
    } else if is_unsigned {
        if buf[i - 1] != b'u' || buf[start] == b'-' {
            return Err((ErrorKind::InvalidNumber, start));
        }
        let lit = &buf[start..i - 1];
        if lit.len() >= 20 && number::parse_u64(lit).is_none() {
            return Err((ErrorKind::UnsignedOutOfRange { start, end: i - 1 }, start));
        }
    } else if (scientific || i - start >= 25) && number::parse_f64(&buf[start..i]).is_none() {
        return Err((ErrorKind::InvalidFloat, start));
    }
    Ok(i)
}

/// Go's `scanBoolean`.
fn scan_boolean(buf: &[u8], mut i: usize) -> Result<usize, Fail> {
    let start = i;
    if i < buf.len() && !matches!(buf[i], b't' | b'f' | b'T' | b'F') {
        return Err((ErrorKind::InvalidBoolean, i));
    }
    i += 1;
    while i < buf.len() && buf[i] != b',' && buf[i] != b' ' {
        i += 1;
    }
    let tok = &buf[start..i.min(buf.len())];
    let ok = matches!(
        tok,
        b"t" | b"T" | b"f" | b"F" | b"true" | b"True" | b"TRUE" | b"false" | b"False" | b"FALSE"
    );
    if ok {
        Ok(i)
    } else {
        Err((ErrorKind::InvalidBoolean, start))
    }
}

/// Go's `scanFields`: the field set's bounds `(start, end)`.
fn scan_fields(buf: &[u8], i: usize) -> Result<(usize, usize), Fail> {
    let start = skip_ws(buf, i);
    let mut i = start;
    let mut quoted = false;
    let mut quote_at = start;
    let (mut equals, mut commas) = (0usize, 0usize);
    while i < buf.len() {
        let b = buf[i];
        if b == b'\\' && i + 1 < buf.len() {
            i += 2;
            continue;
        }
        if b == b'"' && equals > commas {
            quoted = !quoted;
            quote_at = i;
            i += 1;
            continue;
        }
        if b == b'=' && !quoted {
            equals += 1;
            let before = buf[i - 1];
            if (before == b' ' || before == b',') && (i < 2 || buf[i - 2] != b'\\') {
                return Err((ErrorKind::MissingFieldKey, i));
            }
            match at(buf, i + 1) {
                None | Some(b',' | b' ') => return Err((ErrorKind::MissingFieldValue, i + 1)),
                Some(c) if c.is_ascii_digit() || matches!(c, b'.' | b'-' | b'N' | b'n') => {
                    i = scan_number(buf, i + 1)?;
                    continue;
                }
                Some(b'"') => {}
                Some(_) => {
                    i = scan_boolean(buf, i + 1)?;
                    continue;
                }
            }
        }
        if b == b',' && !quoted {
            commas += 1;
        }
        if b == b' ' && !quoted {
            break;
        }
        i += 1;
    }
    if quoted {
        return Err((ErrorKind::UnbalancedQuotes, quote_at));
    }
    if equals == 0 || commas + 1 != equals {
        return Err((ErrorKind::InvalidFieldFormat, start));
    }
    Ok((start, i))
}

/// The typed value of a field the way InfluxDB's field iterator reads it: the type from the
/// first (and last) byte of the raw value, the value from Go's `strconv` (whose fallback on
/// a failure, possible only when the two tokenizers disagree, is what is returned here).
pub(crate) fn typed_value(v: &[u8]) -> FieldValue<'_> {
    let Some(&c) = v.first() else {
        return FieldValue::String(EscapedStr(v));
    };
    if c == b'"' {
        let inner = if v.len() >= 2 {
            &v[1..v.len() - 1]
        } else {
            &v[..0]
        };
        return FieldValue::String(EscapedStr(inner));
    }
    if b"0123456789-.nNiIu".contains(&c) {
        let last = v[v.len() - 1];
        return match last {
            b'i' => FieldValue::Integer(number::go_parse_i64(&v[..v.len() - 1])),
            b'u' => FieldValue::Unsigned(number::go_parse_u64(&v[..v.len() - 1])),
            _ => FieldValue::Float(number::go_parse_f64(v)),
        };
    }
    FieldValue::Boolean(matches!(
        v,
        b"1" | b"t" | b"T" | b"true" | b"True" | b"TRUE"
    ))
}

/// Parses one line text (leading whitespace and a trailing LF already removed) exactly as
/// Go's `parsePoint` does. On success `out` holds the point (time included).
pub(crate) fn parse_line<'a>(
    buf: &'a [u8],
    precision: Precision,
    default_time: i64,
    out: &mut Point<'a>,
    scratch: &mut Scratch,
) -> Result<(), Fail> {
    out.clear();
    let (pos, key_len) = scan_key(buf, out, scratch)?;
    let (fstart, fend) = scan_fields(buf, pos)?;
    if fstart == fend {
        return Err((ErrorKind::MissingFields, fstart));
    }
    // Go's walkFields: a second tokenizer over the field set.
    let fields = &buf[fstart..fend];
    let mut p = 0;
    while p < fields.len() {
        let sub = &fields[p..];
        let k = scan_to(sub, b'=');
        if k + 2 > sub.len() {
            return Err((
                ErrorKind::InvalidFieldValue {
                    start: fstart + p,
                    end: fstart + p + k,
                },
                fstart + p,
            ));
        }
        let vstart = p + k + 1;
        let vend = scan_field_value(fields, vstart);
        let size = key_len + 4 + k;
        if size > MAX_KEY_LENGTH {
            return Err((ErrorKind::MaxKeyLength(size), fstart + p));
        }
        out.fields.push(Field {
            key: &sub[..k],
            value: typed_value(&fields[vstart..vend]),
            raw_value: &fields[vstart..vend],
        });
        p = vend;
        if p < fields.len() {
            p += 1;
        }
    }
    // Go's scanTime.
    let tstart = skip_ws(buf, fend);
    let mut i = tstart;
    while i < buf.len() {
        let b = buf[i];
        if b == b'\n' || b == b' ' {
            break;
        }
        if i == tstart && b == b'-' {
            i += 1;
            continue;
        }
        if !b.is_ascii_digit() {
            return Err((ErrorKind::BadTimestamp, i));
        }
        i += 1;
    }
    if i == tstart {
        out.time = default_time;
        return Ok(());
    }
    let ts = &buf[tstart..i];
    let Some(ts) = number::parse_i64(ts) else {
        let range = (tstart, i);
        let kind = if ts == b"-" {
            ErrorKind::TimestampSyntax {
                start: range.0,
                end: range.1,
            }
        } else {
            ErrorKind::TimestampOutOfRange {
                start: range.0,
                end: range.1,
            }
        };
        return Err((kind, tstart));
    };
    out.time = precision
        .scale(ts)
        .ok_or((ErrorKind::TimeOutsideRange, tstart))?;
    while i < buf.len() {
        if buf[i] != b' ' {
            return Err((ErrorKind::PointInvalid, i));
        }
        i += 1;
    }
    Ok(())
}
