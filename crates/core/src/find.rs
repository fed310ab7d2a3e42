//! Finding the next structural byte of a line (`,` ` ` `=` `\` `"` LF) 16 bytes at a time:
//! SSE2 on x86_64, simd128 on wasm32 when the build enables it, SWAR elsewhere.
//!
//! Tokens in line protocol are short (a tag key or value is a few bytes), so what matters is
//! finding each token's end without a mispredicted branch per byte.

pub(crate) const COMMA: u8 = 1;
pub(crate) const SPACE: u8 = 2;
pub(crate) const EQUALS: u8 = 4;
pub(crate) const BACKSLASH: u8 = 8;
pub(crate) const QUOTE: u8 = 16;
pub(crate) const NEWLINE: u8 = 32;

/// Bytes that end a measurement.
pub(crate) const MEASUREMENT: u8 = COMMA | SPACE | BACKSLASH | NEWLINE;
/// Bytes that end a tag key or value.
pub(crate) const TAG: u8 = COMMA | SPACE | EQUALS | BACKSLASH | NEWLINE;
/// Bytes that end a field key.
pub(crate) const FIELD_KEY: u8 = COMMA | SPACE | EQUALS | BACKSLASH | QUOTE | NEWLINE;

#[inline(always)]
const fn in_set<const SET: u8>(b: u8) -> bool {
    (SET & COMMA != 0 && b == b',')
        || (SET & SPACE != 0 && b == b' ')
        || (SET & EQUALS != 0 && b == b'=')
        || (SET & BACKSLASH != 0 && b == b'\\')
        || (SET & QUOTE != 0 && b == b'"')
        || (SET & NEWLINE != 0 && b == b'\n')
}

/// Index of the first byte at or after `i` that is in `SET`, or `buf.len()`.
#[inline(always)]
pub(crate) fn find<const SET: u8>(buf: &[u8], mut i: usize) -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: SSE2 is part of the x86_64 baseline; loads stay within `buf` (i + 16 ≤ len).
        unsafe {
            use core::arch::x86_64::*;
            let ptr = buf.as_ptr();
            while i + 16 <= buf.len() {
                let v = _mm_loadu_si128(ptr.add(i) as *const __m128i);
                let eq = |c: u8| _mm_cmpeq_epi8(v, _mm_set1_epi8(c as i8));
                let mut m = _mm_setzero_si128();
                if SET & COMMA != 0 {
                    m = _mm_or_si128(m, eq(b','));
                }
                if SET & SPACE != 0 {
                    m = _mm_or_si128(m, eq(b' '));
                }
                if SET & EQUALS != 0 {
                    m = _mm_or_si128(m, eq(b'='));
                }
                if SET & BACKSLASH != 0 {
                    m = _mm_or_si128(m, eq(b'\\'));
                }
                if SET & QUOTE != 0 {
                    m = _mm_or_si128(m, eq(b'"'));
                }
                if SET & NEWLINE != 0 {
                    m = _mm_or_si128(m, eq(b'\n'));
                }
                let mask = _mm_movemask_epi8(m) as u32;
                if mask != 0 {
                    return i + mask.trailing_zeros() as usize;
                }
                i += 16;
            }
        }
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        use core::arch::wasm32::*;
        while i + 16 <= buf.len() {
            // SAFETY: the 16 bytes read are within `buf` (i + 16 ≤ len); unaligned loads are
            // allowed by v128_load.
            let v = unsafe { v128_load(buf.as_ptr().add(i) as *const v128) };
            let eq = |c: u8| u8x16_eq(v, u8x16_splat(c));
            let mut m = u8x16_splat(0);
            if SET & COMMA != 0 {
                m = v128_or(m, eq(b','));
            }
            if SET & SPACE != 0 {
                m = v128_or(m, eq(b' '));
            }
            if SET & EQUALS != 0 {
                m = v128_or(m, eq(b'='));
            }
            if SET & BACKSLASH != 0 {
                m = v128_or(m, eq(b'\\'));
            }
            if SET & QUOTE != 0 {
                m = v128_or(m, eq(b'"'));
            }
            if SET & NEWLINE != 0 {
                m = v128_or(m, eq(b'\n'));
            }
            let mask = u8x16_bitmask(m) as u32;
            if mask != 0 {
                return i + mask.trailing_zeros() as usize;
            }
            i += 16;
        }
    }
    #[cfg(not(any(
        target_arch = "x86_64",
        all(target_arch = "wasm32", target_feature = "simd128")
    )))]
    {
        // SWAR: a zero byte in (word ^ splat(c)) marks c. The lowest flagged byte is exact.
        const LO: u64 = 0x0101_0101_0101_0101;
        const HI: u64 = 0x8080_8080_8080_8080;
        let zero = |x: u64| x.wrapping_sub(LO) & !x & HI;
        while i + 8 <= buf.len() {
            let mut w = [0u8; 8];
            w.copy_from_slice(&buf[i..i + 8]);
            let v = u64::from_le_bytes(w);
            let mut m = 0;
            for (flag, c) in [
                (COMMA, b','),
                (SPACE, b' '),
                (EQUALS, b'='),
                (BACKSLASH, b'\\'),
                (QUOTE, b'"'),
                (NEWLINE, b'\n'),
            ] {
                if SET & flag != 0 {
                    m |= zero(v ^ (LO * c as u64));
                }
            }
            if m != 0 {
                return i + (m.trailing_zeros() / 8) as usize;
            }
            i += 8;
        }
    }
    while i < buf.len() && !in_set::<SET>(buf[i]) {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_first_in_set() {
        let s = b"abcdefghijklmnopqrstuvwxyz0123456789=, \\\"\n";
        for start in 0..s.len() {
            for (set, want) in [(MEASUREMENT, b','), (TAG, b'='), (FIELD_KEY, b'=')] {
                let expect = (start..s.len())
                    .find(|&k| match set {
                        MEASUREMENT => in_set::<MEASUREMENT>(s[k]),
                        TAG => in_set::<TAG>(s[k]),
                        _ => in_set::<FIELD_KEY>(s[k]),
                    })
                    .unwrap_or(s.len());
                let got = match set {
                    MEASUREMENT => find::<MEASUREMENT>(s, start),
                    TAG => find::<TAG>(s, start),
                    _ => find::<FIELD_KEY>(s, start),
                };
                assert_eq!(got, expect, "start {start} want {}", want as char);
            }
        }
    }
}
