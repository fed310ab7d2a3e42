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

/// State the fast parser keeps between lines of a batch. Lines of one measurement usually
/// share their tag and field keys, and when tags are written unsorted (TSBS, Telegraf)
/// sorting them for every line is most of the work: the keys last seen with each measurement
/// (a few, hashed by its first bytes) and the tags' sorted order are kept, and a line whose
/// keys are the same bytes takes each key in one comparison, without finding its end, and
/// reuses the order without comparing or checking the keys again.
#[derive(Default)]
pub(crate) struct Cache<'a> {
    /// `SHAPES` entries once a line has been read (Telegraf interleaves a dozen or more
    /// measurements line by line: one entry would miss on almost every line).
    shapes: Vec<Shape<'a>>,
    tmp: Vec<Tag<'a>>,
    /// Where the structural bytes are, 64 bytes at a time.
    pub(crate) structurals: Structurals,
    /// Only validity is asked (nobody sees the points' values): floats whose acceptance
    /// does not depend on their value are not converted (`number::scan_valid`).
    pub(crate) skip_values: bool,
    /// Nobody looks at the points, only counts them: the fields are not stored and the tags
    /// not put in order (their checks, which decide whether the line is a point, still run).
    /// Honoured natively only (see `parse_with`).
    pub(crate) unseen: bool,
}

/// Entries of the key cache.
const SHAPES: usize = 32;

/// The keys of the last line read with one measurement.
#[derive(Default)]
struct Shape<'a> {
    /// The measurement, raw.
    measurement: &'a [u8],
    /// Raw tag keys of the last such line with tags, in input order, all checked (not
    /// reserved, no duplicates).
    keys: Vec<&'a [u8]>,
    /// Input indices in sorted order; empty when the input order is sorted.
    order: Vec<usize>,
    /// Raw field keys, in input order: only a guess of the next line's, each compared
    /// before it is taken (field keys need no check beyond their bytes).
    fields: Vec<&'a [u8]>,
}

/// The cache entry of the measurement `body[start..end]`: two entries per hash of its length
/// and first 8 bytes, the one holding this measurement or else the older one, now taken
/// for it (its keys stay as guesses: every cached key is compared before use, and the
/// tag keys were all checked whatever their line).
#[inline(always)]
fn shape_of<'a>(shapes: &mut [Shape<'a>], body: &'a [u8], start: usize, end: usize) -> usize {
    let len = end - start;
    let word = match body.get(start..start + 8) {
        Some(w) => {
            let mut b = [0u8; 8];
            b.copy_from_slice(w);
            u64::from_le_bytes(b) & (LOW_BYTES[len.min(8)] as u64)
        }
        None => 0,
    };
    let pair = ((word ^ len as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 60) as usize * 2;
    let m = &body[start..end];
    if eq_in(body, shapes[pair].measurement, m) {
        return pair;
    }
    // The most recent entry of the pair comes first: the second one, whether it holds this
    // measurement or is the older one given to it.
    shapes.swap(pair, pair + 1);
    shapes[pair].measurement = m;
    pair
}

/// Whether the key `key` (a slice of `body`, found before as a key in the same role) is
/// written again at `at`, followed by `=`. Its bytes being the same, a scan from `at` would
/// end where it ended (escapes pair alike: a cached key is followed by `=` and a value, so
/// no backslash in it was within two bytes of the end), at the `=`. The `=` is looked at
/// first (a different key seldom has one there); short keys are compared as one 16-byte
/// word.
#[inline(always)]
fn key_at(body: &[u8], at: usize, key: &[u8]) -> bool {
    let n = body.len();
    let len = key.len();
    if body.get(at + len) != Some(&b'=') {
        return false;
    }
    let ko = (key.as_ptr() as usize).wrapping_sub(body.as_ptr() as usize);
    if len <= 16 && n >= 16 && at <= n - 16 && ko <= n - 16 {
        let mut x = [0u8; 16];
        let mut y = [0u8; 16];
        x.copy_from_slice(&body[at..at + 16]);
        y.copy_from_slice(&body[ko..ko + 16]);
        return (u128::from_le_bytes(x) ^ u128::from_le_bytes(y)) & LOW_BYTES[len] == 0;
    }
    body.get(at..at + len) == Some(key)
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

/// `eq_bytes` for two slices of `body`: short ones are compared as one 16-byte word each
/// when 16 bytes can be read from both.
#[inline(always)]
fn eq_in(body: &[u8], a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let n = body.len();
    let base = body.as_ptr() as usize;
    let (oa, ob) = (
        (a.as_ptr() as usize).wrapping_sub(base),
        (b.as_ptr() as usize).wrapping_sub(base),
    );
    if a.len() <= 16 && n >= 16 && oa <= n - 16 && ob <= n - 16 {
        let mut x = [0u8; 16];
        let mut y = [0u8; 16];
        x.copy_from_slice(&body[oa..oa + 16]);
        y.copy_from_slice(&body[ob..ob + 16]);
        let diff = u128::from_le_bytes(x) ^ u128::from_le_bytes(y);
        return diff & LOW_BYTES[a.len()] == 0;
    }
    a == b
}

/// Checks the tags of a line the cache did not know (reserved keys, duplicates), sorts them
/// by raw key, and remembers their keys and order. `None` when InfluxDB rejects them.
#[cold]
fn check_and_sort<'a>(
    tags: &mut Vec<Tag<'a>>,
    shape: &mut Shape<'a>,
    tmp: &mut Vec<Tag<'a>>,
) -> Option<()> {
    shape.keys.clear();
    shape.order.clear();
    if tags.iter().any(|t| ReservedTagKey::of(t.key).is_some()) {
        return None;
    }
    let sorted = tags
        .windows(2)
        .all(|w| cmp_bytes(w[0].key, w[1].key).is_lt());
    if !sorted {
        shape.order.extend(0..tags.len());
        crate::sort::sort_indices(&mut shape.order, &mut |a, b| {
            cmp_bytes(tags[a].key, tags[b].key).is_lt()
        });
        if shape
            .order
            .windows(2)
            .any(|w| eq_bytes(tags[w[0]].key, tags[w[1]].key))
        {
            shape.order.clear();
            return None;
        }
    }
    shape.keys.extend(tags.iter().map(|t| t.key));
    apply_order(tags, &shape.order, tmp);
    Some(())
}

#[inline(always)]
fn apply_order<'a>(tags: &mut Vec<Tag<'a>>, order: &[usize], tmp: &mut Vec<Tag<'a>>) {
    if !order.is_empty() {
        tmp.clear();
        tmp.extend(order.iter().map(|&i| tags[i]));
        std::mem::swap(tags, tmp);
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

/// Where the tag or field key starting at `ks` ends (at its `=`), and whether it is
/// `cached`, the key its measurement's shape had there, taken in one comparison (tried only
/// while every key before it matched: `known`); else found through the bitmap, its first
/// byte checked against `bad_start`.
#[inline(always)]
fn key_end(
    st: &mut Structurals,
    body: &[u8],
    ks: usize,
    cached: Option<&&[u8]>,
    known: bool,
    bad_start: u8,
    skip: &[u8],
) -> Option<(usize, bool)> {
    match cached {
        Some(c) if known && key_at(body, ks, c) => Some((ks + c.len(), true)),
        _ => {
            if !starts_ok(body, ks, bad_start) {
                return None;
            }
            let j = token_end(st, body, first_byte(body, ks)?, skip)?;
            if j >= body.len() || body[j] != b'=' {
                return None;
            }
            Some((j, false))
        }
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
#[cfg_attr(target_arch = "x86_64", inline(always))]
#[cfg_attr(not(target_arch = "x86_64"), inline)]
pub(crate) fn parse<'a>(
    body: &'a [u8],
    start: usize,
    precision: Precision,
    default_time: i64,
    out: &mut Point<'a>,
    cache: &mut Cache<'a>,
) -> Option<usize> {
    out.clear();
    if cache.shapes.is_empty() {
        cache.shapes.resize_with(SHAPES, Shape::default);
    }
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
    // Natively only: in wasm its two branches cost the package ~300 bytes gzipped, and the
    // package's size is capped.
    let unseen = cfg!(target_arch = "x86_64") && cache.unseen;
    // Measurement.
    if body[start] == b',' {
        return None;
    }
    let mut j = token_end(st, body, first_byte(body, start)?, b"=\"")?;
    if j >= n || body[j] == b'\n' {
        return None;
    }
    out.measurement = &body[start..j];
    let at = shape_of(&mut cache.shapes, body, start, j);
    let shape = &mut cache.shapes[at];
    // Tags.
    if body[j] == b',' {
        let mut known = true;
        loop {
            let ks = j + 1;
            let hit;
            (j, hit) = key_end(
                st,
                body,
                ks,
                shape.keys.get(out.tags.len()),
                known,
                BAD_TAG_KEY_START,
                b"\"",
            )?;
            // After a key that differs, the rest are not guessed.
            known &= hit;
            let key = &body[ks..j];
            let vs = j + 1;
            if !starts_ok(body, vs, BAD_TAG_VALUE_START) {
                return None;
            }
            j = token_end(st, body, first_byte(body, vs)?, b"\"")?;
            if j >= n || !matches!(body[j], b',' | b' ') {
                return None;
            }
            out.tags.push(Tag {
                key,
                value: &body[vs..j],
            });
            if body[j] == b' ' {
                break;
            }
        }
        if known && out.tags.len() == shape.keys.len() {
            if !unseen {
                apply_order(&mut out.tags, &shape.order, &mut cache.tmp);
            }
        } else {
            check_and_sort(&mut out.tags, shape, &mut cache.tmp)?;
        }
    }
    out.series = &body[start..j];
    let key_len = j - start;
    if key_len > MAX_KEY_LENGTH {
        return None;
    }
    // Fields.
    let mut same_fields = true;
    // Fields read so far (`out.fields` stays empty when `unseen`).
    let mut k = 0;
    let mut i = j + 1;
    while i < n && CLASS[body[i] as usize] & WHITESPACE != 0 {
        i += 1;
    }
    loop {
        let ks = i;
        let hit;
        (j, hit) = key_end(
            st,
            body,
            ks,
            shape.fields.get(k),
            same_fields,
            BAD_FIELD_KEY_START,
            b"",
        )?;
        if !hit {
            same_fields = false;
            shape.fields.truncate(k);
            shape.fields.push(&body[ks..j]);
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
        if !unseen {
            out.fields.push(Field {
                key,
                value,
                raw_value: &body[vs..end],
            });
        }
        k += 1;
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
