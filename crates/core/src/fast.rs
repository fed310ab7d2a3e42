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
use crate::find::{find, FIELD_KEY, MEASUREMENT, TAG};
use crate::number::{self, Num};
use crate::point::{EscapedStr, Field, FieldValue, Point, Tag};
use crate::precision::Precision;
use crate::reference::{is_ws, MAX_KEY_LENGTH};

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
        cache
            .order
            .sort_unstable_by(|&a, &b| cmp_bytes(tags[a].key, tags[b].key));
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

/// Scans a key-like token from `i` to the first unescaped byte of `SET` (other than a
/// backslash); returns its index. `None` on a bad escape.
#[inline(always)]
fn token_end<const SET: u8>(body: &[u8], mut i: usize) -> Option<usize> {
    loop {
        let j = find::<SET>(body, i);
        if j < body.len() && body[j] == b'\\' {
            if !escape_ok(body, j) {
                return None;
            }
            i = j + 2;
        } else {
            return Some(j);
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
    let n = body.len();
    // Measurement.
    if body[start] == b',' {
        return None;
    }
    let mut j = token_end::<MEASUREMENT>(body, first_byte(body, start)?)?;
    if j >= n || body[j] == b'\n' {
        return None;
    }
    out.measurement = &body[start..j];
    // Tags.
    if body[j] == b',' {
        let mut known = true;
        loop {
            let ks = j + 1;
            if ks >= n || matches!(body[ks], b' ' | b',' | b'=' | b'\n') {
                return None;
            }
            j = token_end::<TAG>(body, first_byte(body, ks)?)?;
            if j >= n || body[j] != b'=' {
                return None;
            }
            let key = &body[ks..j];
            let vs = j + 1;
            if vs >= n || matches!(body[vs], b',' | b' ' | b'\n') {
                return None;
            }
            j = token_end::<TAG>(body, first_byte(body, vs)?)?;
            if j >= n || !matches!(body[j], b',' | b' ') {
                return None;
            }
            known = known
                && cache
                    .keys
                    .get(out.tags.len())
                    .is_some_and(|k| eq_bytes(k, key));
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
    while i < n && is_ws(body[i]) {
        i += 1;
    }
    loop {
        if i >= n || matches!(body[i], b'=' | b',' | b' ' | b'\n' | b'"') {
            return None;
        }
        let ks = i;
        j = token_end::<FIELD_KEY>(body, first_byte(body, ks)?)?;
        if j >= n || body[j] != b'=' {
            return None;
        }
        let key = &body[ks..j];
        if key_len + 4 + key.len() > MAX_KEY_LENGTH {
            return None;
        }
        let vs = j + 1;
        let (value, end) = match *body.get(vs)? {
            b'"' => {
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
            b't' | b'f' | b'T' | b'F' => {
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
            c if c.is_ascii_digit() || c == b'-' || c == b'.' => {
                let (num, e) = number::scan_fast(body, vs)?;
                let v = match num {
                    Num::Float(f) => FieldValue::Float(f),
                    Num::Integer(v) => FieldValue::Integer(v),
                    Num::Unsigned(v) => FieldValue::Unsigned(v),
                };
                (v, e)
            }
            _ => return None,
        };
        out.fields.push(Field { key, value });
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
    while i < n && is_ws(body[i]) {
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
