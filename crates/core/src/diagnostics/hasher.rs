//! A quick hasher for the diagnostics' counting maps.

/// A quick 64-bit hash (multiply-rotate over 8-byte words) for counting series and field
/// shapes: SipHash's resistance to chosen collisions buys nothing for a count, and costs a
/// third of a summary.
#[derive(Default)]
#[allow(unreachable_pub)] // named by `MapState` on wasm only
pub struct FastHasher(u64);

impl std::hash::Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(w) ^ (rest.len() as u64) << 59)
                .wrapping_mul(K);
        }
    }

    fn finish(&self) -> u64 {
        // splitmix64's finaliser: hash tables index by the low bits, which the multiply
        // alone leaves poorly mixed.
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

pub(crate) type BuildFast = std::hash::BuildHasherDefault<FastHasher>;

/// The hash state of maps keyed by request data outside the diagnostics: here the quick
/// hasher. On wasm32-unknown-unknown std's `RandomState` has no entropy to draw on (its keys
/// are constants), so SipHash resists nothing there and only costs code.
#[cfg(target_arch = "wasm32")]
pub type MapState = BuildFast;
/// The hash state of maps keyed by request data outside the diagnostics: natively
/// `RandomState`, for its resistance to chosen collisions.
#[cfg(not(target_arch = "wasm32"))]
pub type MapState = std::collections::hash_map::RandomState;
