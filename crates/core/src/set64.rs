//! A set of 64-bit hashes: open addressing with linear probing over the hashes themselves
//! (they are uniform already, so their low bits pick the slot; 0 marks an empty slot, and
//! the hash 0 is kept aside). The one set of hashes in the core: the quota's known series
//! ([`crate::known::KnownSet`]) and the diagnostics' distinct series and field shapes share
//! its code (the wasm package pays for each copy of a general map).

/// A set of uniform 64-bit hashes, at most half full.
#[derive(Debug, Default, Clone)]
pub(crate) struct Set64 {
    slots: Vec<u64>,
    len: usize,
    zero: bool,
}

impl Set64 {
    /// How many hashes it holds.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Whether `hash` is in the set.
    #[inline(always)]
    pub(crate) fn contains(&self, hash: u64) -> bool {
        if hash == 0 {
            return self.zero;
        }
        if self.slots.is_empty() {
            return false;
        }
        let mask = self.slots.len() - 1;
        let mut s = hash as usize & mask;
        loop {
            match self.slots[s] {
                0 => return false,
                h if h == hash => return true,
                _ => s = (s + 1) & mask,
            }
        }
    }

    /// Makes room for `more` hashes beyond those held (the table stays at most half full).
    pub(crate) fn reserve(&mut self, more: usize) {
        let want = (2 * (self.len + more)).next_power_of_two().max(16);
        if self.slots.len() < want {
            let old = std::mem::replace(&mut self.slots, vec![0; want]);
            for h in old.into_iter().filter(|&h| h != 0) {
                self.place(h);
            }
        }
    }

    /// Adds `hash`; whether it was new.
    #[inline(never)]
    pub(crate) fn insert(&mut self, hash: u64) -> bool {
        let new = if hash == 0 {
            !std::mem::replace(&mut self.zero, true)
        } else {
            self.reserve(1);
            self.place(hash)
        };
        self.len += usize::from(new);
        new
    }

    fn place(&mut self, hash: u64) -> bool {
        let mask = self.slots.len() - 1;
        let mut s = hash as usize & mask;
        loop {
            match self.slots[s] {
                0 => {
                    self.slots[s] = hash;
                    return true;
                }
                h if h == hash => return false,
                _ => s = (s + 1) & mask,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_contains_len() {
        let mut s = Set64::default();
        assert!(!s.contains(0) && !s.contains(5));
        // The hash 0, duplicates, and hashes sharing their low bits (one probe chain).
        for (h, new) in [
            (5, true),
            (0, true),
            (5, false),
            (1 << 40, true),
            (0, false),
        ] {
            assert_eq!(s.insert(h), new, "{h}");
        }
        assert_eq!(s.len(), 3);
        assert!(s.contains(0) && s.contains(5) && s.contains(1 << 40));
        assert!(!s.contains(2 << 40) && !s.contains(6));
        // Past its first tables.
        let many: Vec<u64> = (1..=3000u64)
            .map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15))
            .collect();
        for &h in &many {
            s.insert(h);
        }
        assert_eq!(s.len(), 3003);
        assert!(many.iter().all(|&h| s.contains(h)));
    }
}
