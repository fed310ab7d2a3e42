//! The fast parser: one pass over a line, straight from the body.
//!
//! InfluxDB reads a line with five scanners (`scanLine`, `scanKey`, `scanFields`,
//! `walkFields`, `scanTime`) whose rules differ around backslashes, quotes and leading
//! whitespace. On a line without those corner cases they all agree, and one pass gives the
//! same point. This parser accepts only lines where that agreement holds by construction:
//!
//! - the line starts with neither whitespace nor `#` (the caller checks);
//! - no backslash is followed by a backslash or a LF, or sits within two bytes of the body's
//!   end (there `scanLine` stops skipping escapes) — except doubled backslashes inside string
//!   values, where all scanners pair them alike;
//! - quotes appear only as string values that close right before `,`, a space or the line end,
//!   and string values hold no raw LF;
//! - everything else is well formed.
//!
//! For anything else it returns `None` and the batch driver runs the reference parser, which
//! also produces every error. It never reports an error itself, so it cannot disagree with
//! InfluxDB about one; the tests check that every point it returns equals the reference
//! parser's.

use crate::error::ReservedTagKey;
use crate::find::Structurals;
use crate::limits::MAX_KEY_LENGTH;
use crate::number::{self, Num};
use crate::point::{EscapedStr, Field, FieldValue, Point, Tag};
use crate::precision::Precision;

/// State the fast parser keeps between lines of a batch. Lines of one batch usually share
/// their tag keys, and when those are written unsorted (TSBS, Telegraf) sorting them for
/// every line is most of the work: the last line's keys and their sorted order are kept, and
/// a line with the same keys reuses the order without comparing or checking them again.
#[derive(Default)]
pub(crate) struct Cache<'a> {
    /// Raw keys of the last line with tags, in input order (all checked: not reserved, no
    /// duplicates).
    keys: Vec<&'a [u8]>,
    /// Input indices in sorted order; empty when the input order is sorted.
    order: Vec<usize>,
    tmp: Vec<Tag<'a>>,
    /// Where the structural bytes are, 64 bytes at a time.
    pub(crate) structurals: Structurals,
    /// Only validity is asked (nobody sees the points' values): floats whose acceptance
    /// does not depend on their value are not converted (`number::scan_valid`).
    pub(crate) skip_values: bool,
}

/// Bytewise comparison of short slices, 8 bytes at a time (keys are a few bytes long, and a
/// call to `memcmp` costs more than comparing them).
#[inline(always)]
fn cmp_bytes(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    let n = a.len().min(b.len());
    let mut i = 0;
    while i + 8 <= n {
        let mut x = [0u8; 8];
        let mut y = [0u8; 8];
        x.copy_from_slice(&a[i..i + 8]);
        y.copy_from_slice(&b[i..i + 8]);
        if x != y {
            return u64::from_be_bytes(x).cmp(&u64::from_be_bytes(y));
        }
        i += 8;
    }
    while i < n {
        if a[i] != b[i] {
            return a[i].cmp(&b[i]);
        }
        i += 1;
    }
    a.len().cmp(&b.len())
}

#[inline(always)]
fn eq_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && cmp_bytes(a, b).is_eq()
}

/// `LOW_BYTES[n]` has the low `n` bytes set.
static LOW_BYTES: [u128; 17] = {
    let mut t = [0u128; 17];
    let mut i = 1;
    while i < 17 {
        t[i] = (t[i - 1] << 8) | 0xff;
        i += 1;
    }
    t
};

/// `eq_bytes` for two slices of `body`: short keys are compared as one 16-byte word each
/// when 16 bytes can be read from both.
#[inline(always)]
fn eq_in(body: &[u8], a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let base = body.as_ptr() as usize;
    let (oa, ob) = (a.as_ptr() as usize - base, b.as_ptr() as usize - base);
    if a.len() <= 16 && oa.max(ob) + 16 <= body.len() {
        let mut x = [0u8; 16];
        let mut y = [0u8; 16];
        x.copy_from_slice(&body[oa..oa + 16]);
        y.copy_from_slice(&body[ob..ob + 16]);
        let diff = u128::from_le_bytes(x) ^ u128::from_le_bytes(y);
        return diff & LOW_BYTES[a.len()] == 0;
    }
    cmp_bytes(a, b).is_eq()
}

/// Checks the tags of a line the cache did not know (reserved keys, duplicates), sorts them
/// by raw key, and remembers their keys and order. `None` when InfluxDB rejects them.
#[cold]
fn check_and_sort<'a>(tags: &mut Vec<Tag<'a>>, cache: &mut Cache<'a>) -> Option<()> {
    cache.keys.clear();
    cache.order.clear();
    if tags.iter().any(|t| ReservedTagKey::of(t.key).is_some()) {
        return None;
    }
    let sorted = tags
        .windows(2)
        .all(|w| cmp_bytes(w[0].key, w[1].key).is_lt());
    if !sorted {
        cache.order.extend(0..tags.len());
        crate::sort::sort_indices(&mut cache.order, &mut |a, b| {
            cmp_bytes(tags[a].key, tags[b].key).is_lt()
        });
        if cache
            .order
            .windows(2)
            .any(|w| eq_bytes(tags[w[0]].key, tags[w[1]].key))
        {
            cache.order.clear();
            return None;
        }
    }
    cache.keys.extend(tags.iter().map(|t| t.key));
    apply_order(tags, cache);
    Some(())
}

#[inline(always)]
fn apply_order<'a>(tags: &mut Vec<Tag<'a>>, cache: &mut Cache<'a>) {
    if !cache.order.is_empty() {
        cache.tmp.clear();
        cache.tmp.extend(cache.order.iter().map(|&i| tags[i]));
        std::mem::swap(tags, &mut cache.tmp);
    }
}

/// A backslash at `j` escapes the next byte for every scanner alike.
#[inline(always)]
fn escape_ok(body: &[u8], j: usize) -> bool {
    j + 2 < body.len() && body[j + 1] != b'\\' && body[j + 1] != b'\n'
}

/// Byte classes for the checks on a token's first byte (one table load instead of a chain of
/// compares).
const BAD_TAG_KEY_START: u8 = 1; // ' ' ',' '=' LF
const BAD_TAG_VALUE_START: u8 = 2; // ',' ' ' LF
const BAD_FIELD_KEY_START: u8 = 4; // '=' ',' ' ' LF '"'
const NUMBER_START: u8 = 8; // digits '-' '.'
const BOOL_START: u8 = 16; // t f T F
const WHITESPACE: u8 = 32; // ' ' TAB NUL

static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    t[b' ' as usize] = BAD_TAG_KEY_START | BAD_TAG_VALUE_START | BAD_FIELD_KEY_START | WHITESPACE;
    t[b',' as usize] = BAD_TAG_KEY_START | BAD_TAG_VALUE_START | BAD_FIELD_KEY_START;
    t[b'=' as usize] = BAD_TAG_KEY_START | BAD_FIELD_KEY_START;
    t[b'\n' as usize] = BAD_TAG_KEY_START | BAD_TAG_VALUE_START | BAD_FIELD_KEY_START;
    t[b'"' as usize] = BAD_FIELD_KEY_START;
    t[b'\t' as usize] = WHITESPACE;
    t[0] = WHITESPACE;
    let mut d = b'0';
    while d <= b'9' {
        t[d as usize] = NUMBER_START;
        d += 1;
    }
    t[b'-' as usize] = NUMBER_START;
    t[b'.' as usize] = NUMBER_START;
    t[b't' as usize] = BOOL_START;
    t[b'f' as usize] = BOOL_START;
    t[b'T' as usize] = BOOL_START;
    t[b'F' as usize] = BOOL_START;
    t
};

/// Whether the byte at `i` exists and is not of class `bad`.
#[inline(always)]
fn starts_ok(body: &[u8], i: usize, bad: u8) -> bool {
    body.get(i).is_some_and(|&b| CLASS[b as usize] & bad == 0)
}

/// Moves past the first byte of a token at `i` (which the caller has checked is not a
/// delimiter), honouring a leading escape.
#[inline(always)]
fn first_byte(body: &[u8], i: usize) -> Option<usize> {
    if body[i] == b'\\' {
        escape_ok(body, i).then_some(i + 2)
    } else {
        Some(i + 1)
    }
}

/// Scans a token from `i` to the first unescaped structural byte that is not in `skip`
/// (bytes that are plain data in this position); returns its index, `body.len()` at the
/// end. `None` on a bad escape.
#[inline(always)]
fn token_end(st: &mut Structurals, body: &[u8], mut i: usize, skip: &[u8]) -> Option<usize> {
    loop {
        let j = st.next(body, i);
        match body.get(j) {
            Some(b'\\') => {
                if !escape_ok(body, j) {
                    return None;
                }
                i = j + 2;
            }
            Some(b) if skip.contains(b) => i = j + 1,
            _ => return Some(j),
        }
    }
}

/// Parses the line starting at `start` into `out`. Returns the index of the byte that ends
/// the line (its LF, or `body.len()`), or `None` to defer to the reference parser.
#[inline]
pub(crate) fn parse<'a>(
    body: &'a [u8],
    start: usize,
    precision: Precision,
    default_time: i64,
    out: &mut Point<'a>,
    cache: &mut Cache<'a>,
) -> Option<usize> {
    out.clear();
    let mut st = std::mem::take(&mut cache.structurals);
    let res = parse_with(body, start, precision, default_time, out, cache, &mut st);
    cache.structurals = st;
    res
}

#[inline(always)]
fn parse_with<'a>(
    body: &'a [u8],
    start: usize,
    precision: Precision,
    default_time: i64,
    out: &mut Point<'a>,
    cache: &mut Cache<'a>,
    st: &mut Structurals,
) -> Option<usize> {
    let n = body.len();
    // Measurement.
    if body[start] == b',' {
        return None;
    }
    let mut j = token_end(st, body, first_byte(body, start)?, b"=\"")?;
    if j >= n || body[j] == b'\n' {
        return None;
    }
    out.measurement = &body[start..j];
    // Tags.
    if body[j] == b',' {
        let mut known = true;
        loop {
            let ks = j + 1;
            if !starts_ok(body, ks, BAD_TAG_KEY_START) {
                return None;
            }
            j = token_end(st, body, first_byte(body, ks)?, b"\"")?;
            if j >= n || body[j] != b'=' {
                return None;
            }
            let key = &body[ks..j];
            let vs = j + 1;
            if !starts_ok(body, vs, BAD_TAG_VALUE_START) {
                return None;
            }
            j = token_end(st, body, first_byte(body, vs)?, b"\"")?;
            if j >= n || !matches!(body[j], b',' | b' ') {
                return None;
            }
            known = known
                && cache
                    .keys
                    .get(out.tags.len())
                    .is_some_and(|k| eq_in(body, k, key));
            out.tags.push(Tag {
                key,
                value: &body[vs..j],
            });
            if body[j] == b' ' {
                break;
            }
        }
        if known && out.tags.len() == cache.keys.len() {
            apply_order(&mut out.tags, cache);
        } else {
            check_and_sort(&mut out.tags, cache)?;
        }
    }
    let key_len = j - start;
    if key_len > MAX_KEY_LENGTH {
        return None;
    }
    // Fields.
    let mut i = j + 1;
    while i < n && CLASS[body[i] as usize] & WHITESPACE != 0 {
        i += 1;
    }
    loop {
        if !starts_ok(body, i, BAD_FIELD_KEY_START) {
            return None;
        }
        let ks = i;
        j = token_end(st, body, first_byte(body, ks)?, b"")?;
        if j >= n || body[j] != b'=' {
            return None;
        }
        let key = &body[ks..j];
        if key_len + 4 + key.len() > MAX_KEY_LENGTH {
            return None;
        }
        let vs = j + 1;
        let c = *body.get(vs)?;
        let class = CLASS[c as usize];
        let (value, end) = if class & NUMBER_START != 0 {
            let (num, e) = number::scan(body, vs, !cache.skip_values)?;
            let v = match num {
                Num::Float(f) => FieldValue::Float(f),
                Num::Integer(v) => FieldValue::Integer(v),
                Num::Unsigned(v) => FieldValue::Unsigned(v),
            };
            (v, e)
        } else if c == b'"' {
            {
                let mut k = vs + 1;
                loop {
                    let p = k + memchr::memchr3(b'"', b'\\', b'\n', &body[k..])?;
                    match body[p] {
                        b'"' => {
                            k = p;
                            break;
                        }
                        b'\\' if p + 2 < n && body[p + 1] != b'\n' => k = p + 2,
                        _ => return None,
                    }
                }
                (FieldValue::String(EscapedStr(&body[vs + 1..k])), k + 1)
            }
        } else if class & BOOL_START != 0 {
            {
                let mut e = vs + 1;
                while e < n && !matches!(body[e], b',' | b' ' | b'\n') {
                    e += 1;
                    if e - vs > 5 {
                        return None;
                    }
                }
                let v = match &body[vs..e] {
                    b"t" | b"T" | b"true" | b"True" | b"TRUE" => true,
                    b"f" | b"F" | b"false" | b"False" | b"FALSE" => false,
                    _ => return None,
                };
                (FieldValue::Boolean(v), e)
            }
        } else {
            return None;
        };
        out.fields.push(Field {
            key,
            value,
            raw_value: &body[vs..end],
        });
        match body.get(end) {
            Some(b',') => i = end + 1,
            Some(b' ') => {
                i = end + 1;
                break;
            }
            Some(b'\n') | None => {
                out.time = default_time;
                return Some(end);
            }
            Some(_) => return None,
        }
    }
    // Timestamp.
    while i < n && CLASS[body[i] as usize] & WHITESPACE != 0 {
        i += 1;
    }
    if i >= n || body[i] == b'\n' {
        out.time = default_time;
        return Some(i);
    }
    let neg = body[i] == b'-';
    i += neg as usize;
    let mut v: u64 = 0;
    let mut digits = 0;
    i = number::read_digits(body, i, &mut v, &mut digits);
    if digits == 0 || digits > 19 || (digits == 19 && v > i64::MAX as u64) {
        return None;
    }
    let ts = if neg { -(v as i64) } else { v as i64 };
    out.time = precision.scale(ts)?;
    while i < n && body[i] == b' ' {
        i += 1;
    }
    if i < n && body[i] != b'\n' {
        return None;
    }
    Some(i)
}
