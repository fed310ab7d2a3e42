//! The series of a batch (spec D.2): the 64-bit hash that stands for a series key in every
//! door's set ([`series_hash`], versioned), a point's hash without building its key where the
//! line holds it, a bounded memo across batches from a series section as written to that
//! hash ([`SeriesMemo`]), and a batch's distinct series ([`BatchSeries`]). The quota's
//! decisions over them are in [`crate::quota`], which re-exports these.

use crate::point::Point;

/// Version of [`series_hash`]. Stored sets outlive versions: a door records the version its
/// set was hashed with, and a set of another version no longer matches (version 1 was
/// FNV-1a, [`series_hash_v1`]; version 2 a multiply-rotate of each word,
/// [`series_hash_v2`], under which keys two bytes apart collided; version 3 is the
/// multiply-rotate-multiply of each word below; [`series_hash_of`] gives each).
pub const SERIES_HASH_VERSION: u32 = 3;

/// The series hash of `version` (1 to [`SERIES_HASH_VERSION`]), for a door that rebuilds a
/// set stored under an older one.
pub fn series_hash_of(version: u32) -> Option<fn(&[u8]) -> u64> {
    match version {
        1 => Some(series_hash_v1),
        2 => Some(series_hash_v2),
        3 => Some(series_hash),
        _ => None,
    }
}

/// Version 3's primes (xxHash64's: odd, bits spread).
const P1: u64 = 0x9e37_79b1_85eb_ca87;
const P2: u64 = 0xc2b2_ae3d_27d4_eb4f;
const P3: u64 = 0x1656_67b1_9e37_79f9;
const P4: u64 = 0x85eb_ca77_c2b2_ae63;
const P5: u64 = 0x27d4_eb2f_1656_67c5;

/// Version 3's lanes before the first word.
const LANES: [u64; 4] = [P1.wrapping_add(P2), P2, 0, P1.wrapping_neg()];

/// Version 3's step of a lane (xxHash64's round): the word multiplied before it is added
/// (its bits reach the ones above), the sum rotated (the high bits come down) and multiplied
/// again. A difference in one byte of a word so reaches most bits of the lane, which a
/// difference in a later word cannot cancel (version 2 XORed the word in before one
/// multiply: a change in a word's top byte stayed within one byte of the lane, and a
/// one-byte change 28 bytes on undid it).
#[inline(always)]
fn round(lane: u64, w: u64) -> u64 {
    lane.wrapping_add(w.wrapping_mul(P2))
        .rotate_left(31)
        .wrapping_mul(P1)
}

/// Version 3's end: the length, then each lane through one more round, folded in order,
/// and a full avalanche (every input bit reaches every output bit; the low bits pick a
/// slot in the sets).
#[inline(always)]
fn fold(l: [u64; 4], n: usize) -> u64 {
    let mut h = (n as u64).wrapping_mul(P5);
    for x in l {
        h = (h ^ round(0, x)).wrapping_mul(P1).wrapping_add(P4);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(P2);
    h ^= h >> 29;
    h = h.wrapping_mul(P3);
    h ^ (h >> 32)
}

/// Version 2's multipliers of the four lanes.
const K: [u64; 4] = [
    0x9e37_79b9_7f4a_7c15,
    0xc2b2_ae3d_27d4_eb4f,
    0x1656_67b1_9e37_79f9,
    0xd6e8_feb8_6659_fd93,
];

#[inline(always)]
fn word(b: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[..8]);
    u64::from_le_bytes(w)
}

/// Version 2's step of a lane: the word XORed in, multiplied and rotated.
#[inline(always)]
fn step(lane: u64, w: u64, k: u64) -> u64 {
    (lane ^ w).wrapping_mul(k).rotate_left(29)
}

/// The 64-bit hash that may stand for a series key, version [`SERIES_HASH_VERSION`]: the
/// same in every door, wasm or native (words are read little-endian, all arithmetic is
/// 64-bit), so sets made by one door are read by the others. The key is read 8 bytes at a
/// time into four independent lanes (word `i` into lane `i % 4`, each a chain of
/// [`round`]s: the lanes run in parallel), the key zero-padded to a multiple of 32 bytes;
/// the length and the lanes are then folded in order and the result goes through a full
/// avalanche. Not meant to resist chosen collisions (a client could collide only its own
/// series into one).
#[inline(never)]
pub fn series_hash(key: &[u8]) -> u64 {
    let mut l = LANES;
    let full = key.len() / 32 * 32;
    let mut last = [0u8; 32];
    last[..key.len() - full].copy_from_slice(&key[full..]);
    // One loop body for every block, the last one padded (small in wasm: no second copy of
    // the rounds for a tail).
    let tail = (full < key.len()).then_some(&last[..]);
    for c in key[..full].chunks_exact(32).chain(tail) {
        l[0] = round(l[0], word(c));
        l[1] = round(l[1], word(&c[8..]));
        l[2] = round(l[2], word(&c[16..]));
        l[3] = round(l[3], word(&c[24..]));
    }
    fold(l, key.len())
}

/// The series hash of version 2, which sets stored under it hold: for a door that rebuilds
/// such a set under the current version.
pub fn series_hash_v2(key: &[u8]) -> u64 {
    let mut l = [K[1], K[2], K[3], K[0]];
    let full = key.len() / 32 * 32;
    let mut last = [0u8; 32];
    last[..key.len() - full].copy_from_slice(&key[full..]);
    let tail = (full < key.len()).then_some(&last[..]);
    for c in key[..full].chunks_exact(32).chain(tail) {
        l[0] = step(l[0], word(c), K[0]);
        l[1] = step(l[1], word(&c[8..]), K[1]);
        l[2] = step(l[2], word(&c[16..]), K[2]);
        l[3] = step(l[3], word(&c[24..]), K[3]);
    }
    let mut h = (key.len() as u64).wrapping_mul(K[3]);
    for (x, k) in l.into_iter().zip(K) {
        h = (h ^ x).wrapping_mul(k).rotate_left(31);
    }
    avalanche(h)
}

/// Version 2's avalanche.
#[inline(always)]
fn avalanche(mut h: u64) -> u64 {
    h ^= h >> 32;
    h = h.wrapping_mul(0xd6e8_feb8_6659_fd93);
    h ^= h >> 29;
    h = h.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    h ^ (h >> 32)
}

/// The series hash of version 1 (FNV-1a, a byte at a time), which sets stored before
/// version 2 hold: for a door that rebuilds such a set under the current version.
pub fn series_hash_v1(key: &[u8]) -> u64 {
    key.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg_attr(target_arch = "wasm32", allow(dead_code))]
/// The point's series key as one slice of its line, when the line has it as written: the
/// tags in sorted order, each right after the previous one (`m,k=v,k=v`, the most common
/// case), found from the slices' addresses alone.
fn key_span<'a>(p: &Point<'a>) -> Option<&'a [u8]> {
    let m = p.raw_measurement();
    let start = m.as_ptr() as usize;
    let mut end = start + m.len();
    for t in p.tags() {
        let (k, v) = (t.raw_key(), t.raw_value());
        if k.as_ptr() as usize != end + 1 || v.as_ptr() as usize != end + 2 + k.len() {
            return None;
        }
        end += 2 + k.len() + v.len();
    }
    // SAFETY: every slice of a point borrows from the one line it was parsed from (the
    // parser never mixes buffers within a point), and each tag's key and value were found
    // one byte after the end of the previous slice: the span from the measurement's start
    // to the last value's end is that line's bytes, the `,` and `=` between them included,
    // alive for 'a.
    Some(unsafe { std::slice::from_raw_parts(m.as_ptr(), end - start) })
}

/// [`series_hash`] of a point's series key ([`Point::series_key`]), without building it
/// when the line holds it as one span ([`key_span`]).
pub fn point_series_hash(p: &Point<'_>) -> u64 {
    point_hash_in(p, &mut Vec::new())
}

/// [`point_series_hash`], assembling a key that is not one span in `buf` (reused, so that
/// its memory is allocated once per batch).
fn point_hash_in(p: &Point<'_>, buf: &mut Vec<u8>) -> u64 {
    // In wasm the key is always assembled: the span's test cost 82 bytes of the package's
    // gzipped budget, which it did not have (the hash is the same either way).
    #[cfg(not(target_arch = "wasm32"))]
    let span = key_span(p);
    #[cfg(target_arch = "wasm32")]
    let span = None;
    let key = match span {
        Some(span) => {
            // The span's premise (one line's bytes, in order), checked wherever tests run.
            debug_assert_eq!(span, &p.series_key()[..]);
            span
        }
        None => {
            buf.clear();
            p.write_series_key(buf);
            &buf[..]
        }
    };
    series_hash(key)
}

/// A bounded memory, across batches, from the series section of a line as written
/// ([`Point::raw_series`]: measurement and tags in the line's order, escapes and all) to the
/// canonical [`series_hash`] of its series key, so that a series seen before costs one
/// comparison (or one hash of that span): no sort of its tags, no assembled key, no second
/// hash.
///
/// The span determines the key: the parser reads the series section left to right and
/// nothing after it (the tags are its slices, the key their sorted concatenation). Two parts,
/// both of fixed size:
/// - the trace: the series sections of the last batches by position in the batch (the first
///   [`TRACE`] positions), their bytes kept in an arena, each with its series hash. A batch
///   of known series usually repeats the order of the one before (a collector writes its
///   series in the same order every interval), so the section at the same position is
///   compared first, byte for byte: a hit is exact, and costs less than hashing the span
///   (in wasm a third: no 64-bit multiply per word);
/// - the table, two-way set associative, from a 64-bit hash of the span to the series hash,
///   replacing the older entry of a set on a miss, for series in another order or past the
///   trace. A hit there gives exactly [`point_series_hash`] up to a collision of the span
///   hash (kept whole, less its lowest bit, in each entry): the same standing as
///   [`series_hash`]'s own note. Natively the span hash is keyed with a random key per memo,
///   so a collision cannot be crafted from outside; in wasm it is unkeyed (no random source
///   there), which a client could collide only as it can collide [`series_hash`] itself (its
///   line gets a series' hash its own bucket then checks). The span hash is internal, never
///   stored outside this memo.
///
/// Memory: 16 bytes a table entry, 16 a trace position and [`ARENA_PER_POSITION`] bytes of
/// arena a position; [`SeriesMemo::new`]: 2¹⁶ entries and 2¹⁴ positions, 2.25 MiB.
#[derive(Clone, Debug)]
pub struct SeriesMemo {
    /// (span hash with its lowest bit set, series hash); a span hash of 0 marks an empty
    /// entry. Pairs `2i`, `2i + 1` form a set; the newer entry of a set comes first.
    slots: Vec<(u64, u64)>,
    /// The section each position of the last batches had (positions at most [`TRACE`] and
    /// the table's size; made whole at once: a growing vector's code costs the package more
    /// bytes than the trace's untouched pages cost memory).
    trace: Vec<Traced>,
    /// The bytes of the traced sections, appended as positions are traced; compacted (the
    /// sections no position refers to any more dropped) when full.
    spans: Vec<u8>,
    /// Bytes of `spans` some position refers to.
    live: usize,
    /// Positions of the trace ever written (a hint of the batches' size).
    traced: usize,
    /// The ticket of the last batch begun ([`BatchSeries::push_memo`]'s first point): that
    /// batch holds the trace, and only it writes there.
    batches: u64,
    /// Positions the batch before the holder went through, and the holder so far: each
    /// such position's `idx` is that batch's numbering.
    before: usize,
    through: usize,
    /// Where a key that is not one span of its line is assembled on a miss.
    key: Vec<u8>,
    /// The span hash's key (random natively, per memo).
    seed: u64,
}

/// A position of the trace: its section at `spans[at..at + len]` (`len` [`UNTRACED`]: none),
/// the series hash of that section, and the index of that series among the distinct ones
/// of the batch that last went through the position (see [`BatchSeries::push_memo`]).
#[derive(Clone, Copy, Debug)]
struct Traced {
    at: u32,
    len: u16,
    idx: u16,
    hash: u64,
}

/// No section (and sections this long or longer are not traced).
const UNTRACED: u16 = u16::MAX;

/// Positions of a batch the memo's trace follows: past them the table alone answers.
pub const TRACE: usize = 1 << 14;

/// The trace's arena, in bytes per position: TSBS's series sections are ~165 bytes, and
/// the sections of a batch past the arena are traced as far as it goes.
pub const ARENA_PER_POSITION: usize = 64;

impl Default for SeriesMemo {
    fn default() -> SeriesMemo {
        SeriesMemo::new()
    }
}

impl SeriesMemo {
    /// A memo of 2¹⁶ entries (2.25 MiB with its trace).
    pub fn new() -> SeriesMemo {
        SeriesMemo::with_capacity(1 << 16)
    }

    /// A memo of `entries` entries, rounded up to a power of two, at least 2 (16 bytes each,
    /// and a trace of as many positions up to [`TRACE`]).
    pub fn with_capacity(entries: usize) -> SeriesMemo {
        let entries = entries.max(2).next_power_of_two();
        let positions = TRACE.min(entries);
        let none = Traced {
            at: 0,
            len: UNTRACED,
            idx: 0,
            hash: 0,
        };
        SeriesMemo {
            slots: vec![(0, 0); entries],
            trace: vec![none; positions],
            spans: Vec::with_capacity(positions * ARENA_PER_POSITION),
            live: 0,
            traced: 0,
            batches: 0,
            before: 0,
            through: 0,
            key: Vec::new(),
            seed: random_seed(),
        }
    }

    /// The number of entries (fixed).
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// [`point_series_hash`] of `p`, from the memo's table when its series section was seen
    /// before (the trace is [`BatchSeries::push_memo`]'s).
    pub fn series_hash(&mut self, p: &Point<'_>) -> u64 {
        let raw = span_hash(p.raw_series(), self.seed) | 1;
        let set = raw as usize & (self.slots.len() - 2);
        let (a, b) = (self.slots[set], self.slots[set + 1]);
        if a.0 == raw {
            a.1
        } else if b.0 == raw {
            b.1
        } else {
            let h = point_hash_in(p, &mut self.key);
            self.slots[set + 1] = a;
            self.slots[set] = (raw, h);
            h
        }
    }

    /// A batch begins: it holds the trace from now on. Its ticket (unique in the process,
    /// whatever the memo), and the ticket of the batch begun before it on this memo.
    fn begin(&mut self) -> (u64, u64) {
        use std::sync::atomic::{AtomicU64, Ordering};
        static TICKETS: AtomicU64 = AtomicU64::new(1);
        let after = self.batches;
        self.batches = TICKETS.fetch_add(1, Ordering::Relaxed);
        self.before = std::mem::take(&mut self.through);
        (self.batches, after)
    }

    /// The trace at position `at` when it has `span` there.
    #[inline]
    fn traced(&self, at: usize, span: &[u8]) -> Option<Traced> {
        let t = *self.trace.get(at)?;
        (usize::from(t.len) == span.len() && same(&self.spans[t.at as usize..][..span.len()], span))
            .then_some(t)
    }

    /// Makes `span` (of series hash `hash`, distinct index `idx`) the section traced at
    /// position `at`, when the arena has room for it, if need be once the sections no
    /// position refers to are dropped (only when they are a quarter of it: the copy is then
    /// paid for by as many bytes appended since).
    #[cold]
    fn retrace(&mut self, at: usize, span: &[u8], hash: u64, idx: u32) {
        let Some(old) = self
            .trace
            .get_mut(at)
            .map(|t| std::mem::replace(&mut t.len, UNTRACED))
        else {
            return;
        };
        self.traced = self.traced.max(at + 1);
        if old != UNTRACED {
            self.live -= usize::from(old);
        }
        let cap = self.spans.capacity();
        if span.len() >= usize::from(UNTRACED) {
            return;
        }
        if self.spans.len() + span.len() > cap {
            if self.spans.len() - self.live < cap / 4 {
                return;
            }
            let mut fresh = Vec::with_capacity(cap);
            for t in self.trace.iter_mut().filter(|t| t.len != UNTRACED) {
                let from = std::mem::replace(&mut t.at, fresh.len() as u32) as usize;
                fresh.extend_from_slice(&self.spans[from..][..usize::from(t.len)]);
            }
            self.spans = fresh;
            if self.spans.len() + span.len() > cap {
                return;
            }
        }
        self.trace[at] = Traced {
            at: self.spans.len() as u32,
            len: span.len() as u16,
            idx: idx as u16,
            hash,
        };
        self.spans.extend_from_slice(span);
        self.live += span.len();
    }
}

/// Whether two sections of equal length are the same bytes (libc's `bcmp`, vectorised).
#[cfg(not(target_arch = "wasm32"))]
#[inline]
fn same(a: &[u8], b: &[u8]) -> bool {
    a == b
}

/// Whether two sections of equal length are the same bytes: 16 at a time with simd128 (the
/// `memcmp` compiled into the module goes a byte at a time), the last 16 read where they
/// end; a section under 16 bytes by that `memcmp`.
#[cfg(target_arch = "wasm32")]
#[inline]
fn same(a: &[u8], b: &[u8]) -> bool {
    use core::arch::wasm32::{u64x2, v128, v128_any_true, v128_load, v128_or, v128_xor};
    let n = a.len().min(b.len());
    if n < 16 {
        return a == b;
    }
    // SAFETY: every load reads 16 bytes at `i` with `i + 16 <= n`, within both slices (an
    // unaligned v128 load is allowed).
    let load = |s: &[u8], i: usize| -> v128 { unsafe { v128_load(s.as_ptr().add(i).cast()) } };
    let mut d = u64x2(0, 0);
    let mut i = 0;
    while i + 16 < n {
        d = v128_or(d, v128_xor(load(a, i), load(b, i)));
        i += 16;
    }
    d = v128_or(d, v128_xor(load(a, n - 16), load(b, n - 16)));
    !v128_any_true(d)
}

/// The memo's hash of a raw span in wasm: [`series_hash`] itself (the trace answers most
/// lines; the module has no room for a second hash).
#[cfg(target_arch = "wasm32")]
fn span_hash(span: &[u8], _seed: u64) -> u64 {
    series_hash(span)
}

#[cfg(target_arch = "wasm32")]
fn random_seed() -> u64 {
    0
}

/// A random 64-bit key (std's per-process random hasher keys, advanced per call).
#[cfg(not(target_arch = "wasm32"))]
fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(K[0]);
    h.finish()
}

/// The memo's hash of a raw span, natively: 16 bytes per 64×64→128-bit multiply (its
/// halves folded), four independent lanes, the last 16 bytes read where they end
/// (overlapping the ones before), the memo's key and the length in the seed.
#[cfg(not(target_arch = "wasm32"))]
fn span_hash(span: &[u8], key: u64) -> u64 {
    #[inline(always)]
    fn fold(a: u64, b: u64) -> u64 {
        let m = u128::from(a).wrapping_mul(u128::from(b));
        (m as u64) ^ ((m >> 64) as u64)
    }
    let n = span.len();
    let seed = key ^ K[0] ^ (n as u64).wrapping_mul(K[1]);
    if n < 16 {
        // Short spans (a bare measurement): the bytes as one or two words.
        let (a, b) = if n >= 8 {
            (word(span), word(&span[n - 8..]))
        } else if n >= 4 {
            let lo = u32::from_le_bytes(span[..4].try_into().unwrap());
            let hi = u32::from_le_bytes(span[n - 4..].try_into().unwrap());
            (u64::from(lo), u64::from(hi))
        } else if n > 0 {
            let x = u64::from(span[0]) << 16 | u64::from(span[n / 2]) << 8 | u64::from(span[n - 1]);
            (x, 0)
        } else {
            (0, 0)
        };
        return fold(fold(a ^ K[2], b ^ seed), K[3] ^ seed);
    }
    let mut l = [seed, seed ^ K[1], seed ^ K[2], seed ^ K[3]];
    let mut rest = span;
    while rest.len() > 64 {
        for (i, lane) in l.iter_mut().enumerate() {
            *lane = fold(
                word(&rest[16 * i..]) ^ K[i],
                word(&rest[16 * i + 8..]) ^ *lane,
            );
        }
        rest = &rest[64..];
    }
    // 1 to 64 bytes left: whole 16-byte pieces, then the last 16 bytes of the span.
    let mut i = 0;
    while rest.len() > 16 {
        l[i] = fold(word(rest) ^ K[i], word(&rest[8..]) ^ l[i]);
        rest = &rest[16..];
        i += 1;
    }
    let last = &span[n - 16..];
    l[3] = fold(word(last) ^ K[3], word(&last[8..]) ^ l[3]);
    fold(l[0] ^ l[2], l[1] ^ l[3] ^ K[0])
}

/// The series of a batch: each distinct series once, in the order it first appears, and
/// for every point its line and the index of its series. Fed each point as it is parsed.
#[derive(Clone, Debug, Default)]
pub struct BatchSeries {
    /// Distinct series hashes in input order.
    pub hashes: Vec<u64>,
    /// (line, index into `hashes`) for every point, in input order (none when made with
    /// [`BatchSeries::hashes_only`]).
    pub points: Vec<(u64, u32)>,
    /// Points noted.
    pub(crate) count: usize,
    /// Whether `points` is left empty.
    hashes_only: bool,
    /// Open addressing over `hashes` (index + 1; 0 is empty): the hashes are uniform
    /// already, so their low bits pick the slot (and no general map is compiled into wasm).
    slots: Vec<u32>,
    /// Where a key that is not one span of its line is assembled.
    key: Vec<u8>,
    /// The memo's ticket of this batch ([`SeriesMemo::begin`]; 0: none yet), and of the
    /// batch begun before it on that memo.
    pub(crate) ticket: u64,
    pub(crate) after: u64,
    /// Every point so far was the one its position had in the memo's last batch: `slots`
    /// is not kept, the trace gives each point's index (see [`BatchSeries::push_memo`]).
    pub(crate) replay: bool,
    /// The slots `presize` reserved room for.
    want: usize,
}

impl BatchSeries {
    /// No series yet.
    pub fn new() -> BatchSeries {
        BatchSeries::default()
    }

    /// No series yet, and the points' lines and indices not kept (`points` stays empty):
    /// for a door that needs only the distinct series (a write that is not partial never
    /// moves a point's line, [`crate::quota::refuse_series`]).
    pub fn hashes_only() -> BatchSeries {
        BatchSeries {
            hashes_only: true,
            ..BatchSeries::default()
        }
    }

    /// The points noted.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether no point was noted.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Notes a point's series.
    pub fn push(&mut self, p: &Point<'_>) {
        let h = point_hash_in(p, &mut self.key);
        self.push_hash(p.line(), h);
    }

    /// Notes a point's series, its hash found through `memo` (kept across batches).
    ///
    /// The batch holds the memo's trace from its first point (until another batch begins on
    /// the same memo). While every point so far had the section its position had in the
    /// memo's last batch, the batches agree up to here, so the distinct series too: the
    /// trace's index of the position is this point's, and no set is probed (a batch of
    /// known series in the usual order costs a comparison of its section and two pushes).
    /// At the first point that differs, the set is built from the series so far.
    // Not inlined: the parser's loop, into which a door's callback is inlined, then keeps
    // its registers (measured: a few % of the check less on cpu.lp with sorted tags).
    #[inline(never)]
    pub fn push_memo(&mut self, p: &Point<'_>, memo: &mut SeriesMemo) {
        let at = self.count;
        if self.ticket == 0 {
            self.presize(memo.traced);
            (self.ticket, self.after) = memo.begin();
            self.replay = true;
        }
        let (span, line) = (p.raw_series(), p.line());
        if memo.batches != self.ticket {
            // Another batch holds the trace: the table alone.
            self.stop_replay();
            let h = memo.series_hash(p);
            self.push_hash(line, h);
            return;
        }
        memo.through = at + 1;
        if let Some(t) = memo.traced(at, span) {
            let idx = usize::from(t.idx);
            if self.replay && at < memo.before && idx <= self.hashes.len() {
                if idx == self.hashes.len() {
                    self.hashes.push(t.hash);
                }
                self.point(line, idx as u32);
                return;
            }
            self.stop_replay();
            let i = self.push_hash(line, t.hash);
            memo.trace[at].idx = i as u16;
            return;
        }
        self.stop_replay();
        let h = memo.series_hash(p);
        let i = self.push_hash(line, h);
        memo.retrace(at, span, h, i);
    }

    /// Notes the series hash of a point on `line`; its index among the distinct series.
    pub fn push_hash(&mut self, line: u64, hash: u64) -> u32 {
        if self.slots.len() < 2 * (self.hashes.len() + 1) {
            self.grow();
        }
        let mask = self.slots.len() - 1;
        let mut s = hash as usize & mask;
        let i = loop {
            match self.slots[s] {
                0 => {
                    self.hashes.push(hash);
                    self.slots[s] = self.hashes.len() as u32;
                    break self.hashes.len() as u32 - 1;
                }
                n if self.hashes[n as usize - 1] == hash => break n - 1,
                _ => s = (s + 1) & mask,
            }
        };
        self.point(line, i);
        i
    }

    /// Notes the point on `line` of series `i`.
    #[inline]
    fn point(&mut self, line: u64, i: u32) {
        self.count += 1;
        if !self.hashes_only {
            self.points.push((line, i));
        }
    }

    /// Ends the replay: the set of the series so far, at the size reserved for the batch.
    fn stop_replay(&mut self) {
        if std::mem::take(&mut self.replay) {
            self.rehash(
                self.want
                    .max((2 * self.hashes.len() + 2).next_power_of_two()),
            );
        }
    }

    /// Room for `points` points, at most 2¹⁶ series: a batch of known series is usually the
    /// size of the ones before, whose positions the memo's trace counted (up to
    /// [`TRACE`]). Rehashes and reallocations while the batch is read are then spared; room
    /// unused is only reserved (its pages are never touched).
    fn presize(&mut self, points: usize) {
        let n = points.min(1 << 16);
        if !self.hashes_only {
            self.points.reserve(n);
        }
        self.hashes.reserve(n);
        self.want = (2 * n + 2).next_power_of_two().max(1024);
    }

    /// Makes room for up to half as many series as slots. Starts at 1,024 slots and
    /// quadruples, natively reserving the vectors alike: a 5,000-line batch of new series
    /// took ~25 ns a line more when the set doubled from 16 (10 rehashes, reallocations
    /// whose memory went back to the system and faulted in again each batch). In wasm,
    /// whose memory is never given back, the reserves would cost 720 bytes of the package.
    fn grow(&mut self) {
        let cap = (self.slots.len() * 4)
            .max((2 * self.hashes.len() + 2).next_power_of_two())
            .max(1024);
        #[cfg(not(target_arch = "wasm32"))]
        {
            if !self.hashes_only {
                self.points.reserve(cap / 2);
            }
            self.hashes.reserve(cap / 2 - self.hashes.len());
        }
        self.rehash(cap);
    }

    /// The set over `hashes` in `cap` slots (a power of two, over twice their number).
    fn rehash(&mut self, cap: usize) {
        self.slots = vec![0; cap];
        for (i, &h) in self.hashes.iter().enumerate() {
            let mut s = h as usize & (cap - 1);
            while self.slots[s] != 0 {
                s = (s + 1) & (cap - 1);
            }
            self.slots[s] = i as u32 + 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{read_batch, ParseOptions, Precision};
    #[test]
    fn batch_series_are_distinct_in_first_appearance() {
        let body = b"cpu,host=b v=1 1\nmem v=1 2\ncpu,host=b v=2 3\n\ncpu,host=a v=1 4\n";
        let mut s = BatchSeries::new();
        let r = read_batch(body, &ParseOptions::new(Precision::Ns, 0), 1 << 20, |p| {
            s.push(p)
        });
        assert!(r.is_ok());
        assert_eq!(
            s.hashes,
            [
                series_hash(b"cpu,host=b"),
                series_hash(b"mem"),
                series_hash(b"cpu,host=a")
            ]
        );
        assert_eq!(s.points, [(1, 0), (2, 1), (3, 0), (5, 2)]);
    }

    #[test]
    fn the_trace_answers_repeats_exactly_and_keeps_its_arena_bounded() {
        // Eight positions and 512 bytes of arena: sections of 3 to ~130 bytes, some kept
        // and some changed each round (and repeated within a batch), so the arena fills, is
        // compacted, and refuses; batches replay the one before, or part of it.
        let mut memo = SeriesMemo::with_capacity(8);
        // And one that keeps no points (a write that is not partial), on its own memo.
        let mut lean_memo = SeriesMemo::with_capacity(8);
        let cap = memo.spans.capacity();
        assert_eq!((memo.trace.len(), cap), (8, 8 * ARENA_PER_POSITION));
        let opts = ParseOptions::new(Precision::Ns, 0);
        let (mut compacted, mut refused, mut repeats) = (false, false, 0);
        for round in 0..400usize {
            let lines = 4 + round % 5;
            let body: String = (0..lines)
                .map(|i| {
                    let i = if i == 7 { 1 } else { i };
                    let n = (round / (i + 1) * 37 + i * 11) % 120;
                    format!("m{i},t={}{} v=1 1\n", "x".repeat(n), round / (i + 1) % 3)
                })
                .collect();
            for pass in 0..2 {
                let before = memo.spans.len();
                let all = memo.trace[..lines].iter().all(|t| t.len != UNTRACED);
                let (mut plain, mut via) = (BatchSeries::new(), BatchSeries::new());
                let mut lean = BatchSeries::hashes_only();
                let r = read_batch(body.as_bytes(), &opts, 1 << 20, |p| {
                    plain.push(p);
                    via.push_memo(p, &mut memo);
                    lean.push_memo(p, &mut lean_memo);
                });
                assert!(r.is_ok());
                assert_eq!((&via.hashes, &via.points), (&plain.hashes, &plain.points));
                assert_eq!(lean.hashes, plain.hashes);
                assert!(lean.points.is_empty() && lean.len() == plain.points.len());
                assert!(memo.spans.len() <= cap);
                compacted |= memo.spans.len() < before;
                if pass == 1 && all {
                    // Every position traced: the same batch again appends nothing, and is
                    // replayed whole (no set built).
                    assert_eq!(memo.spans.len(), before, "round {round}");
                    assert!(via.slots.is_empty(), "round {round}");
                    repeats += 1;
                }
                refused |= memo.trace.iter().any(|t| t.len == UNTRACED);
            }
            // Every traced section is the bytes its hash was made of.
            let mut live = 0;
            for t in memo.trace.iter().filter(|t| t.len != UNTRACED) {
                let span = &memo.spans[t.at as usize..][..usize::from(t.len)];
                let line = [span, b" v=1 1"].concat();
                let mut key = None;
                read_batch(&line, &opts, 1 << 20, |p| key = Some(p.series_key()));
                assert_eq!(series_hash(&key.unwrap()), t.hash);
                live += usize::from(t.len);
            }
            assert_eq!(memo.live, live);
        }
        assert!(compacted && refused && repeats > 50, "{repeats}");
    }

    #[test]
    fn batches_sharing_a_memo_hold_its_trace_in_turn() {
        // A batch begun on the memo while another is under way takes the trace over; the
        // first goes on through the table, and writes no index of its numbering where the
        // next batch would replay it.
        let opts = ParseOptions::new(Precision::Ns, 0);
        let mut memo = SeriesMemo::with_capacity(16);
        let push = |s: &mut BatchSeries, memo: &mut SeriesMemo, lines: &str| {
            read_batch(lines.as_bytes(), &opts, 1 << 20, |p| s.push_memo(p, memo));
        };
        let plain = |lines: &str| {
            let mut s = BatchSeries::new();
            read_batch(lines.as_bytes(), &opts, 1 << 20, |p| s.push(p));
            s
        };
        let (mut x, mut y, mut z) = (BatchSeries::new(), BatchSeries::new(), BatchSeries::new());
        push(&mut x, &mut memo, "a v=1 1\na v=1 1\n");
        push(&mut y, &mut memo, "d v=1 1\ne v=1 1\nb v=1 1\n");
        push(&mut x, &mut memo, "b v=1 1\n");
        push(&mut z, &mut memo, "d v=1 1\ne v=1 1\nb v=1 1\n");
        assert_eq!(x.hashes, plain("a v=1 1\nb v=1 1\n").hashes);
        assert_eq!(x.points.iter().map(|p| p.1).collect::<Vec<_>>(), [0, 0, 1]);
        let want = plain("d v=1 1\ne v=1 1\nb v=1 1\n");
        for s in [&y, &z] {
            assert_eq!(s.hashes, want.hashes);
            assert_eq!(s.points.iter().map(|p| p.1).collect::<Vec<_>>(), [0, 1, 2]);
        }
        // z replayed y whole.
        assert!(z.slots.is_empty());
    }

    #[test]
    fn series_hash_vectors() {
        // Fixed values, so every door and every build hashes alike (the package's tests
        // check the same values from wasm, tests/node/quota.test.mjs).
        let cpu = b"cpu,arch=x64,datacenter=eu-west-1a,hostname=host_0,os=Ubuntu16.04LTS,rack=6,region=eu-west-1,service=19,service_environment=test,service_version=1,team=SF";
        let got: Vec<u64> = [
            &b""[..],
            b"a",
            b"cpu",
            b"cpu,host=a",
            b"01234567",
            b"0123456789abcdef0123456789abcdef!",
            cpu,
        ]
        .iter()
        .map(|k| series_hash(k))
        .collect();
        assert_eq!(got, VECTORS);
        // Version 2, for the doors' migrations: the values it gave.
        assert_eq!(series_hash_v2(b"cpu,host=a"), 0x8967_9b32_3f6f_926f);
        assert_eq!(series_hash_v2(cpu), 0x4c32_57ec_9a52_0b0f);
        assert_eq!(
            series_hash_of(2).map(|f| f(b"")),
            Some(0x484e_edc3_a584_e80d)
        );
        assert_eq!(series_hash_of(3).map(|f| f(b"a")), Some(VECTORS[1]));
        assert!(series_hash_of(4).is_none() && series_hash_of(0).is_none());
        // Version 1, for the doors' migrations: FNV-1a's reference values.
        assert_eq!(series_hash_v1(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(series_hash_v1(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    const VECTORS: [u64; 7] = [
        0xbf23_6b68_b172_c8f2,
        0xbb73_55e3_1f39_ace8,
        0xe05d_78f8_43da_b9d4,
        0xf398_3895_b69d_5aa3,
        0xa770_c5a8_19a4_7560,
        0xa182_f206_adaa_184d,
        0x25eb_b4f4_d74f_dfb0,
    ];

    #[test]
    fn series_hash_tells_apart_keys_one_or_two_bytes_apart() {
        // Keys of every length to 100 of a few fills, each byte changed to every letter and
        // digit, and pairs of bytes changed alike: version 2 gave 13,744 collisions on the
        // single changes to 200 bytes (a top-byte change undone by one 28 bytes on). The
        // memo's native span hash is held to the same.
        let alnum: Vec<u8> = (b'a'..=b'z').chain(b'0'..=b'9').collect();
        for hash in [series_hash as fn(&[u8]) -> u64, |k: &[u8]| span_hash(k, 7)] {
            let mut seen = std::collections::HashMap::new();
            let mut add = |k: Vec<u8>| {
                if let Some(o) = seen.insert(hash(&k), k.clone()) {
                    assert_eq!(o, k, "two keys, one hash");
                }
            };
            for fill in [b'm', b'0', 0] {
                for n in 0..100 {
                    let base = vec![fill; n];
                    add(base.clone());
                    for p in 0..n {
                        for &v in alnum.iter().chain(&[fill ^ 0x80]) {
                            let mut k = base.clone();
                            k[p] = v;
                            add(k);
                        }
                        for q in p + 1..n {
                            let mut k = base.clone();
                            k[p] ^= 0x15;
                            k[q] ^= 0x15;
                            add(k);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn series_hash_sees_length_order_and_every_bit() {
        // Zero padding of the last word is told apart by the length.
        let mut seen = std::collections::HashSet::new();
        for n in 0..100 {
            assert!(seen.insert(series_hash(&vec![0u8; n])));
        }
        // Words swapped between lanes, and within a lane across chunks.
        let a: Vec<u8> = (0..64).collect();
        for (i, j) in [(0, 8), (0, 32), (8, 40), (56, 24)] {
            let mut b = a.clone();
            for x in 0..8 {
                b.swap(i + x, j + x);
            }
            assert_ne!(series_hash(&a), series_hash(&b));
        }
        // Each single-bit change of a 70-byte key changes about half the output bits.
        let key: Vec<u8> = (0..70u8).map(|i| i.wrapping_mul(37)).collect();
        let h = series_hash(&key);
        let mut flipped = 0;
        for bit in 0..key.len() * 8 {
            let mut k = key.clone();
            k[bit / 8] ^= 1 << (bit % 8);
            let d = (series_hash(&k) ^ h).count_ones();
            assert!((12..=52).contains(&d), "bit {bit}: {d} bits changed");
            flipped += d;
        }
        let mean = flipped as f64 / (key.len() * 8) as f64;
        assert!((30.0..34.0).contains(&mean), "{mean}");
    }

    /// Distinct series keys of a few shapes (TSBS-like hosts, short keys differing in one
    /// byte, numbered tags): `n` of them, each once.
    fn keys(n: usize) -> impl Iterator<Item = Vec<u8>> {
        (0..n).map(|i| match i % 4 {
            0 => format!("cpu,arch=x64,datacenter=eu-west-1a,hostname=host_{i},os=Ubuntu16.04LTS,rack={},region=eu-west-1,service={},team=SF", i % 100, i % 20).into_bytes(),
            1 => format!("m,t={i}").into_bytes(),
            2 => format!("{:08x}", i).into_bytes(),
            _ => {
                let mut k = b"disk,device=sda,path=/".to_vec();
                k.extend_from_slice(&(i as u64).to_le_bytes());
                k
            }
        })
    }

    fn no_collisions(n: usize) {
        let mut h: Vec<u64> = keys(n).map(|k| series_hash(&k)).collect();
        h.sort_unstable();
        let dup = h.windows(2).filter(|w| w[0] == w[1]).count();
        // With a uniform 64-bit hash, n keys collide with probability ~n²/2⁶⁵ (2·10⁻⁶ at 8M).
        assert_eq!(dup, 0, "{dup} collisions among {n} keys");
        // And the low bits (the slot of `BatchSeries`) are spread as uniform ones: the
        // chi-square of 2¹⁶ slots is within ~8 standard deviations (√(2·2¹⁶) ≈ 362) of 2¹⁶.
        let mut slots = vec![0u32; 1 << 16];
        for x in &h {
            slots[(*x & 0xffff) as usize] += 1;
        }
        let mean = n as f64 / 65536.0;
        let chi2: f64 = slots
            .iter()
            .map(|&c| (f64::from(c) - mean).powi(2) / mean)
            .sum();
        assert!((62_500.0..68_500.0).contains(&chi2), "chi² {chi2}");
    }

    #[test]
    fn no_collisions_among_a_million_series() {
        no_collisions(1 << 20);
    }

    /// `cargo test --release -p linegate-core --lib collisions_8m -- --ignored`
    #[test]
    #[ignore]
    fn no_collisions_among_8m_series_collisions_8m() {
        no_collisions(8 << 20);
    }

    #[test]
    fn point_hash_is_the_hash_of_the_series_key_on_both_paths() {
        let body = concat!(
            "cpu,a=1,b=2,c=3 v=1 1\n",              // sorted: one span
            "cpu,c=3,b=2,a=1 v=1 1\n",              // unsorted: assembled
            "mem v=1 1\n",                          // no tags
            "w\\ x\\,y,k\\ 1=v\\,1,z=\\=q v=1 1\n", // escaped, sorted
            "w\\ x,z=\\=q,k\\ 1=v\\,1 v=1 1\n",     // escaped, unsorted
            "  cpu,b=2,a=1 v=1 1\n",                // leading spaces: the reference parser
            "cpu,a=\"q\",b=x\\\\y v=1 1\n",         // backslashes, quotes
        );
        let mut long = String::from("long");
        for i in (0..60).rev() {
            long.push_str(&format!(",tag{i:02}=value_number_{i}"));
        }
        long.push_str(" v=1 1\n");
        let body = format!("{body}{long}");
        let opts = ParseOptions::new(Precision::Ns, 0);
        let mut spans = Vec::new();
        let mut raw = Vec::new();
        let r = read_batch(body.as_bytes(), &opts, 1 << 20, |p| {
            let key = p.series_key();
            assert_eq!(point_series_hash(p), series_hash(&key), "line {}", p.line());
            spans.push(key_span(p).is_some());
            raw.push(String::from_utf8(p.raw_series().to_vec()).unwrap());
        });
        assert!(r.is_ok(), "{r:?}");
        assert_eq!(spans, [true, false, true, true, false, false, true, false]);
        // The series section as written, whichever parser read the line.
        assert_eq!(
            raw[..7],
            [
                "cpu,a=1,b=2,c=3",
                "cpu,c=3,b=2,a=1",
                "mem",
                "w\\ x\\,y,k\\ 1=v\\,1,z=\\=q",
                "w\\ x,z=\\=q,k\\ 1=v\\,1",
                "cpu,b=2,a=1",
                "cpu,a=\"q\",b=x\\\\y",
            ]
        );
        assert!(
            raw[7].starts_with("long,tag59=value_number_59,")
                && raw[7].ends_with("tag00=value_number_0")
        );
    }
}
