//! Finding the structural bytes of a body (`,` ` ` `=` `\` `"` LF) 64 bytes at a time:
//! SSE2 on x86_64, simd128 on wasm32 when the build enables it, SWAR elsewhere.
//!
//! Tokens in line protocol are short (a tag key or value is a few bytes), so what matters is
//! finding each token's end without a loop or a mispredicted branch per byte: one bitmap per
//! 64 bytes, then a shift and a count of trailing zeros per token.

/// Bitmap of the structural bytes (`,` ` ` `=` `\` `"` LF) of `buf[base..base + 64]`: bit k
/// is set when byte `base + k` is one; bits past the end of `buf` are clear.
#[inline]
pub(crate) fn block_mask(buf: &[u8], base: usize) -> u64 {
    if base + 64 > buf.len() {
        // The tail: classify a zero-padded copy (NUL is not structural).
        let mut tmp = [0u8; 64];
        let rest = &buf[base.min(buf.len())..];
        tmp[..rest.len()].copy_from_slice(rest);
        return block_mask(&tmp, 0);
    }
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: SSE2 is part of the x86_64 baseline; the four loads read
        // buf[base..base + 64], which is in bounds (checked above).
        unsafe {
            use core::arch::x86_64::*;
            let p = buf.as_ptr().add(base);
            let class = |k: usize| -> u64 {
                let v = _mm_loadu_si128(p.add(16 * k) as *const __m128i);
                let eq = |c: u8| _mm_cmpeq_epi8(v, _mm_set1_epi8(c as i8));
                let m = _mm_or_si128(
                    _mm_or_si128(
                        _mm_or_si128(eq(b','), eq(b' ')),
                        _mm_or_si128(eq(b'='), eq(b'\\')),
                    ),
                    _mm_or_si128(eq(b'"'), eq(b'\n')),
                );
                _mm_movemask_epi8(m) as u16 as u64
            };
            class(0) | class(1) << 16 | class(2) << 32 | class(3) << 48
        }
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        use core::arch::wasm32::*;
        let class = |k: usize| -> u64 {
            // SAFETY: reads buf[base + 16k..base + 16k + 16], in bounds (checked above).
            let v = unsafe { v128_load(buf.as_ptr().add(base + 16 * k) as *const v128) };
            let eq = |c: u8| u8x16_eq(v, u8x16_splat(c));
            let m = v128_or(
                v128_or(v128_or(eq(b','), eq(b' ')), v128_or(eq(b'='), eq(b'\\'))),
                v128_or(eq(b'"'), eq(b'\n')),
            );
            u8x16_bitmask(m) as u64
        };
        class(0) | class(1) << 16 | class(2) << 32 | class(3) << 48
    }
    #[cfg(not(any(
        target_arch = "x86_64",
        all(target_arch = "wasm32", target_feature = "simd128")
    )))]
    {
        block_mask_swar(buf, base)
    }
}

/// `block_mask` 8 bytes at a time in plain integer arithmetic, for targets without SIMD.
#[cfg_attr(
    any(
        target_arch = "x86_64",
        all(target_arch = "wasm32", target_feature = "simd128")
    ),
    allow(dead_code)
)]
fn block_mask_swar(buf: &[u8], base: usize) -> u64 {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let mut out = 0u64;
    for k in 0..8 {
        let mut w = [0u8; 8];
        w.copy_from_slice(&buf[base + 8 * k..base + 8 * k + 8]);
        let v = u64::from_le_bytes(w);
        let mut m = 0u64;
        for c in [b',', b' ', b'=', b'\\', b'"', b'\n'] {
            let x = v ^ (LO * c as u64);
            // High bit of each byte set iff the byte is zero (exact, no false positives).
            m |= !(((x & !HI) + !HI) | x) & HI;
        }
        // Gather the 8 high bits into one byte.
        let bits = ((m >> 7).wrapping_mul(0x0102_0408_1020_4080)) >> 56;
        out |= bits << (8 * k);
    }
    out
}

/// A cursor over the structural bytes of a body, 64 bytes at a time: finding the next
/// delimiter is a shift and a count of trailing zeros while it stays within the current
/// block. It is a pure function of the body, so it may jump anywhere forward or back.
#[derive(Default)]
pub(crate) struct Structurals {
    base: usize,
    end: usize,
    mask: u64,
}

impl Structurals {
    /// Index of the first structural byte at or after `i`, or `buf.len()`.
    #[inline(always)]
    pub(crate) fn next(&mut self, buf: &[u8], mut i: usize) -> usize {
        loop {
            if i >= self.base && i < self.end {
                let m = self.mask >> (i - self.base);
                if m != 0 {
                    return i + m.trailing_zeros() as usize;
                }
                i = self.end;
            }
            if i >= buf.len() {
                return buf.len();
            }
            self.base = i;
            self.end = i + 64;
            self.mask = block_mask(buf, i);
        }
    }
}

#[cfg(test)]
mod structural_tests {
    use super::*;

    #[test]
    fn next_finds_every_structural_byte() {
        let mut body = Vec::new();
        for k in 0..300u32 {
            body.push(b"ab,c d=e\\f\"g\nhij\x00"[(k * 7 % 17) as usize]);
        }
        let is = |b: u8| matches!(b, b',' | b' ' | b'=' | b'\\' | b'"' | b'\n');
        let mut st = Structurals::default();
        for start in (0..body.len()).chain((0..body.len()).rev()) {
            let want = (start..body.len())
                .find(|&k| is(body[k]))
                .unwrap_or(body.len());
            assert_eq!(st.next(&body, start), want, "from {start}");
        }
        for base in 0..body.len() - 64 {
            assert_eq!(
                block_mask(&body, base),
                block_mask_swar(&body, base),
                "at {base}"
            );
        }
        let mut st = Structurals::default();
        assert_eq!(st.next(b"abc", 0), 3);
        assert_eq!(st.next(b"", 0), 0);
    }
}
