//! A door's memory of the series its quota authority admitted (spec D.2): a bounded set of
//! series hashes (`quota::series_hash`), so a batch whose series are all known needs no
//! call to the authority. Only series the authority answered as admitted go in, and
//! admitted series are never removed there, so a door that forgets (drops the set) only
//! asks again; N is the authority's, never this set's.
//!
//! One set may hold the series of many buckets, each under its scope ([`scope`]): a hash is
//! held as [`scoped`] of it, so one bound covers every bucket an isolate serves.

use crate::series::BatchSeries;
use crate::set64::Set64;

/// A bounded set of 64-bit series hashes (the core's [`Set64`]: open addressing over the
/// hashes themselves, which are uniform already). At most `max` hashes: a batch that would
/// take it past `max` drops the set whole first (see [`KnownSet::remember`]).
#[derive(Debug, Default, Clone)]
pub struct KnownSet {
    set: Set64,
    max: usize,
    /// The last batch whose series were all found here ([`KnownSet::unknown_of`]), as its
    /// memo ticket, scope and number of points (ticket 0: none). Hashes are only added
    /// until the set is dropped (which forgets this too), so they are all here still.
    last: (u64, u64, usize),
}

impl KnownSet {
    /// An empty set that holds at most `max` hashes (its table grows as they come, to
    /// twice the next power of two above `max`).
    pub fn new(max: usize) -> KnownSet {
        KnownSet {
            max,
            ..KnownSet::default()
        }
    }

    /// How many hashes the set holds.
    pub fn len(&self) -> usize {
        self.set.len()
    }

    /// Whether the set holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most hashes it holds.
    pub fn max(&self) -> usize {
        self.max
    }

    /// Whether `hash` is in the set.
    // One copy for every caller (the wasm package pays for each inlined one).
    #[inline(never)]
    pub fn contains(&self, hash: u64) -> bool {
        self.set.contains(hash)
    }

    /// The indices of `hashes` not in the set, in order.
    pub fn unknown<'a>(&'a self, hashes: &'a [u64]) -> impl Iterator<Item = usize> + 'a {
        self.unknown_in(0, hashes)
    }

    /// The indices of `hashes` not in the set under `scope` ([`scope`]; 0: unscoped), in
    /// order.
    pub fn unknown_in<'a>(
        &'a self,
        scope: u64,
        hashes: &'a [u64],
    ) -> impl Iterator<Item = usize> + 'a {
        hashes
            .iter()
            .enumerate()
            .filter(move |(_, &h)| !self.contains(scoped(h, scope)))
            .map(|(i, _)| i)
    }

    /// The indices of `batch`'s distinct series not in the set under `scope`, in order.
    /// None is looked up when `batch` replayed whole ([`BatchSeries::push_memo`]) the batch
    /// begun before it on its memo, and that one's series were all found here under the
    /// same scope: every point of `batch` then has the series of that batch's point at the
    /// same position (a batch of known series in the usual order costs no lookup).
    pub fn unknown_of(&mut self, scope: u64, batch: &BatchSeries) -> Vec<u32> {
        if self.answered(scope, batch) {
            // Its series are that batch's: the next batch may replay this one.
            self.found(scope, batch);
            return Vec::new();
        }
        let unknown: Vec<u32> = self
            .unknown_in(scope, &batch.hashes)
            .map(|i| i as u32)
            .collect();
        if unknown.is_empty() {
            self.found(scope, batch);
        }
        unknown
    }

    /// Whether every series of `batch` is here by [`KnownSet::unknown_of`]'s rule.
    fn answered(&self, scope: u64, batch: &BatchSeries) -> bool {
        let (ticket, s, points) = self.last;
        ticket != 0 && batch.replay && batch.after == ticket && s == scope && batch.len() <= points
    }

    /// Notes that every series of `batch` is here under `scope`.
    fn found(&mut self, scope: u64, batch: &BatchSeries) {
        if batch.ticket != 0 {
            self.last = (batch.ticket, scope, batch.len());
        }
    }

    /// [`KnownSet::remember_in`] of `batch`'s distinct series, noting them as found when
    /// recorded (see [`KnownSet::unknown_of`]).
    pub fn remember_of(&mut self, scope: u64, batch: &BatchSeries) -> usize {
        let Some(added) = self.record(scope, &batch.hashes) else {
            return 0;
        };
        self.found(scope, batch);
        added
    }

    /// Drops every hash (and the table).
    pub fn clear(&mut self) {
        *self = KnownSet::new(self.max);
    }

    /// Records a batch of admitted series. When the ones not yet known would take the set
    /// past `max`, it is dropped whole first (the next batches ask the authority again: no
    /// eviction order to keep); a batch of more than `max` new series is not recorded.
    /// Returns how many hashes were added.
    pub fn remember(&mut self, hashes: &[u64]) -> usize {
        self.remember_in(0, hashes)
    }

    /// [`KnownSet::remember`] under `scope` ([`scope`]; 0: unscoped): the bound counts the
    /// series of every scope together.
    pub fn remember_in(&mut self, scope: u64, hashes: &[u64]) -> usize {
        self.record(scope, hashes).unwrap_or(0)
    }

    /// [`KnownSet::remember_in`]: how many were added, or `None` when they were not
    /// recorded (more new series than the bound).
    fn record(&mut self, scope: u64, hashes: &[u64]) -> Option<usize> {
        let new = self.unknown_in(scope, hashes).count();
        if new > self.max {
            return None;
        }
        if new == 0 {
            return Some(0);
        }
        if self.len() + new > self.max {
            self.clear();
        }
        self.set.reserve(new);
        Some(
            hashes
                .iter()
                .filter(|&&h| self.set.insert(scoped(h, scope)))
                .count(),
        )
    }
}

/// The scope of a bucket's series in a [`KnownSet`] shared by buckets: a hash of its name,
/// never 0; an empty name (no bucket) is the unscoped set, 0.
pub fn scope(bucket: &[u8]) -> u64 {
    if bucket.is_empty() {
        return 0;
    }
    crate::series::series_hash(bucket) | 1
}

/// A series hash as a set holds it under `scope`: itself unscoped (0); otherwise mixed
/// with the scope by a bijection, so within one scope distinct series stay distinct, and
/// across scopes two series meet only as often as two series hashes collide (a client
/// could make its own bucket's series look known, as it could collide them anyway).
pub fn scoped(hash: u64, scope: u64) -> u64 {
    if scope == 0 {
        return hash;
    }
    let h = (hash ^ scope).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    h ^ (h >> 29) ^ scope.rotate_left(17)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remember_contains_unknown() {
        let mut k = KnownSet::new(100);
        assert!(k.is_empty());
        assert!(!k.contains(7));
        assert_eq!(k.unknown(&[1, 2]).collect::<Vec<_>>(), [0, 1]);
        // Duplicates, the hash 0, and hashes sharing their low bits (one probe chain).
        assert_eq!(k.remember(&[5, 0, 5, 1 << 40, 2 << 40, 3]), 5);
        assert_eq!(k.len(), 5);
        for h in [5, 0, 1 << 40, 2 << 40, 3] {
            assert!(k.contains(h), "{h}");
        }
        assert!(!k.contains(3 << 40));
        assert!(!k.contains(4));
        assert_eq!(
            k.unknown(&[3, 4, 0, 3 << 40, 5]).collect::<Vec<_>>(),
            [1, 3]
        );
        assert_eq!(k.remember(&[3, 5]), 0, "all known: nothing added");
        assert_eq!(k.len(), 5);
    }

    #[test]
    fn grows_past_its_first_table() {
        let mut k = KnownSet::new(10_000);
        let hashes: Vec<u64> = (1..=3000u64)
            .map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15))
            .collect();
        for chunk in hashes.chunks(7) {
            k.remember(chunk);
        }
        assert_eq!(k.len(), 3000);
        assert!(hashes.iter().all(|&h| k.contains(h)));
        assert_eq!(k.unknown(&hashes).count(), 0);
        assert!(!k.contains(0x9e37_79b9_7f4a_7c15u64.wrapping_mul(3001)));
    }

    #[test]
    fn scopes_share_one_set_and_its_bound() {
        let (a, b) = (scope(b"metrics"), scope(b"other"));
        assert!(a != 0 && b != 0 && a != b);
        let mut k = KnownSet::new(5);
        assert_eq!(k.remember_in(a, &[1, 2, 3]), 3);
        // The same hashes are unknown in another scope and unscoped.
        assert_eq!(k.unknown_in(b, &[1, 2, 3]).collect::<Vec<_>>(), [0, 1, 2]);
        assert_eq!(k.unknown(&[1, 2, 3]).count(), 3);
        assert_eq!(k.unknown_in(a, &[3, 4, 1]).collect::<Vec<_>>(), [1]);
        assert_eq!(k.remember_in(b, &[1, 2]), 2);
        assert_eq!(k.len(), 5);
        // One bound for all scopes: a third new series in b drops the whole set first.
        assert_eq!(k.remember_in(b, &[7]), 1);
        assert_eq!(k.len(), 1);
        assert_eq!(k.unknown_in(a, &[1]).count(), 1);
        // Within a scope, distinct hashes stay distinct (the mix is a bijection).
        let hashes: Vec<u64> = (0..1000u64).map(|i| i << 40 | i).collect();
        let mut seen = std::collections::HashSet::new();
        assert!(hashes.iter().all(|&h| seen.insert(scoped(h, a))));
        assert_eq!(scoped(42, 0), 42);
        assert_eq!(scope(b""), 0);
    }

    #[test]
    fn a_batch_replaying_one_found_known_is_answered_without_lookups() {
        use crate::series::SeriesMemo;
        use crate::{read_batch, ParseOptions, Precision};
        let opts = ParseOptions::new(Precision::Ns, 0);
        let mut memo = SeriesMemo::with_capacity(64);
        let batch = |memo: &mut SeriesMemo, body: &str| {
            let mut s = BatchSeries::new();
            read_batch(body.as_bytes(), &opts, 1 << 20, |p| s.push_memo(p, memo));
            s
        };
        let body = "a,t=1 v=1 1\nb v=1 1\na,t=1 v=2 2\n";
        let (x, y) = (scope(b"x"), scope(b"y"));
        let mut k = KnownSet::new(100);
        let first = batch(&mut memo, body);
        assert!(!k.answered(x, &first));
        assert_eq!(k.unknown_of(x, &first), [0, 1]);
        assert_eq!(k.remember_of(x, &first), 2);
        // The same lines again, twice: each replays the one before, found known.
        for _ in 0..2 {
            let again = batch(&mut memo, body);
            assert!(k.answered(x, &again));
            assert!(k.unknown_of(x, &again).is_empty());
            // Under another scope: looked up (and unknown there).
            assert!(!k.answered(y, &again));
            assert_eq!(k.unknown_of(y, &again), [0, 1]);
        }
        // A changed line, right after a batch found known: not replayed whole, looked up.
        let changed = batch(&mut memo, "a,t=1 v=1 1\nb v=1 1\nd v=2 2\n");
        assert!(!k.answered(x, &changed));
        assert_eq!(k.unknown_of(x, &changed), [2]);
        // A new series after the same lines: its position was never traced, so the batch
        // is not replayed whole, and the new series is found.
        let more = batch(&mut memo, "a,t=1 v=1 1\nb v=1 1\na,t=1 v=2 2\nc v=1 1\n");
        assert!(!k.answered(x, &more));
        assert_eq!(k.unknown_of(x, &more), [2]);
        // The batch before was not all known: the next is looked up, then noted.
        let back = batch(&mut memo, body);
        assert!(!k.answered(x, &back));
        assert!(k.unknown_of(x, &back).is_empty());
        let next = batch(&mut memo, body);
        assert!(k.answered(x, &next));
        // Dropped: the note goes with the hashes.
        k.clear();
        let after = batch(&mut memo, body);
        assert!(!k.answered(x, &after));
        assert_eq!(k.unknown_of(x, &after), [0, 1]);
        // A batch found known half way, then given more lines: the next batch, replaying
        // it whole, is looked up past the points it had when found.
        let mut half = BatchSeries::new();
        for part in ["a,t=1 v=1 1\nb v=1 1\n", "e v=1 1\nf v=1 1\n"] {
            read_batch(part.as_bytes(), &opts, 1 << 20, |p| {
                half.push_memo(p, &mut memo)
            });
            if part.starts_with('a') {
                k.remember_of(x, &half);
            }
        }
        let whole = batch(&mut memo, "a,t=1 v=1 1\nb v=1 1\ne v=1 1\nf v=1 1\n");
        assert!(whole.replay && !k.answered(x, &whole));
        assert_eq!(k.unknown_of(x, &whole), [2, 3]);
        // Series not noted through a memo are looked up, and never noted.
        let mut plain = BatchSeries::new();
        read_batch(b"g v=1 1\na,t=1 v=1 1\n", &opts, 1 << 20, |p| plain.push(p));
        let last = k.last;
        assert_eq!(k.unknown_of(x, &plain), [0]);
        assert_eq!(k.remember_of(x, &plain), 1);
        assert!(k.unknown_of(x, &plain).is_empty() && k.last == last);
    }

    #[test]
    fn dropped_whole_when_full() {
        let mut k = KnownSet::new(4);
        assert_eq!(k.remember(&[1, 2, 3]), 3);
        // One more fits exactly.
        assert_eq!(k.remember(&[3, 4]), 1);
        assert_eq!(k.len(), 4);
        // Two new ones would pass the bound: the set is dropped, then the batch recorded.
        assert_eq!(k.remember(&[4, 5, 6]), 3);
        assert_eq!(k.len(), 3);
        assert!(!k.contains(1) && !k.contains(2) && !k.contains(3));
        assert!(k.contains(4) && k.contains(5) && k.contains(6));
        // More new series than the bound: not recorded, the set kept.
        assert_eq!(k.remember(&[7, 8, 9, 10, 11]), 0);
        assert_eq!(k.len(), 3);
        assert!(k.contains(4));
        k.clear();
        assert!(k.is_empty() && !k.contains(4));
        assert_eq!(k.max(), 4);
    }
}
