//! Numbers as Go's `strconv` reads them, and the fast path's one-pass numeric scanner.

/// Go's `strconv.ParseInt(s, 10, 64)` for `[-]digits`: `None` on overflow or bad syntax.
#[inline]
pub(crate) fn parse_i64(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, s),
    };
    if digits.is_empty() {
        return None;
    }
    let mut v: u64 = 0;
    for &b in digits {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(d as u64)?;
    }
    if neg {
        if v <= i64::MAX as u64 + 1 {
            Some((v as i64).wrapping_neg())
        } else {
            None
        }
    } else {
        i64::try_from(v).ok()
    }
}

/// Go's `strconv.ParseUint(s, 10, 64)`: `None` on overflow or bad syntax.
#[inline]
pub(crate) fn parse_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let mut v: u64 = 0;
    for &b in s {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(d as u64)?;
    }
    Some(v)
}

/// Go's `strconv.ParseFloat(s, 64)` on the characters InfluxDB lets through (digits, one
/// `.`, exponents, a leading `-`): `None` on bad syntax and on overflow to ±Inf (which Go
/// reports as a range error); underflow gives 0, as in Go.
#[inline]
pub(crate) fn parse_f64(s: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(s).ok()?;
    // Rust also reads "inf"/"nan"; the scanners never hand those over, but be exact anyway.
    if s.bytes()
        .any(|b| b.is_ascii_alphabetic() && b != b'e' && b != b'E')
    {
        return None;
    }
    let v: f64 = s.parse().ok()?;
    v.is_finite().then_some(v)
}

/// What Go's field iterator gets from `ParseInt` when it fails (0 for syntax, the clamped
/// bound for range).
pub(crate) fn go_parse_i64(s: &[u8]) -> i64 {
    parse_i64(s).unwrap_or_else(|| {
        let digits = s.strip_prefix(b"-").unwrap_or(s);
        if !digits.is_empty() && digits.iter().all(u8::is_ascii_digit) {
            if s.first() == Some(&b'-') {
                i64::MIN
            } else {
                i64::MAX
            }
        } else {
            0
        }
    })
}

pub(crate) fn go_parse_u64(s: &[u8]) -> u64 {
    parse_u64(s).unwrap_or_else(|| {
        if !s.is_empty() && s.iter().all(u8::is_ascii_digit) {
            u64::MAX
        } else {
            0
        }
    })
}

pub(crate) fn go_parse_f64(s: &[u8]) -> f64 {
    match parse_f64(s) {
        Some(v) => v,
        None => match std::str::from_utf8(s)
            .ok()
            .and_then(|t| t.parse::<f64>().ok())
        {
            Some(v) if v.is_infinite() => v,
            _ => 0.0,
        },
    }
}

/// Powers of ten exactly representable as f64.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

const POW10_U64: [u64; 20] = {
    let mut t = [1u64; 20];
    let mut i = 1;
    while i < 20 {
        t[i] = t[i - 1] * 10;
        i += 1;
    }
    t
};

/// A numeric field value read by the fast path.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Num {
    Float(f64),
    Integer(i64),
    Unsigned(u64),
}

#[inline(always)]
fn is_end(b: Option<&u8>) -> bool {
    matches!(b, None | Some(b',' | b' ' | b'\n'))
}

const ONES: u64 = 0x0101_0101_0101_0101;

/// How many of the 8 bytes of `v` (little-endian, first byte lowest) are ASCII digits before
/// the first byte that is not.
#[inline(always)]
fn leading_digits(v: u64) -> usize {
    // Per byte: zero iff the byte is '0'..='9'. Carries only run toward later bytes, so the
    // first non-digit is found exactly.
    let hi = 0xF0 * ONES;
    let x = ((v & hi) ^ (0x30 * ONES)) | ((v.wrapping_add(0x06 * ONES) & hi) ^ (0x30 * ONES));
    let nonzero = (((x & (0x7F * ONES)) + 0x7F * ONES) | x) & (0x80 * ONES);
    (nonzero.trailing_zeros() / 8) as usize
}

/// The value of the first `n` (1..=8) digit bytes of `v`.
#[inline(always)]
fn swar_value(v: u64, n: usize) -> u64 {
    // Move the digits to the top bytes; the zero bytes below act as leading zeros.
    let v = (v.wrapping_sub(0x30 * ONES)) << (8 * (8 - n));
    let v = (v & (0x0F * ONES)).wrapping_mul(2561) >> 8;
    let v = (v & 0x00FF_00FF_00FF_00FF).wrapping_mul(6_553_601) >> 16;
    (v & 0x0000_FFFF_0000_FFFF).wrapping_mul(42_949_672_960_001) >> 32
}

/// Reads a run of digits at `buf[i..]` into `mant` (wrapping past 19 digits; the caller
/// checks `count`). Returns the index after the run.
#[inline(always)]
pub(crate) fn read_digits(buf: &[u8], mut i: usize, mant: &mut u64, count: &mut usize) -> usize {
    while i + 8 <= buf.len() {
        let mut w = [0u8; 8];
        w.copy_from_slice(&buf[i..i + 8]);
        let v = u64::from_le_bytes(w);
        let n = leading_digits(v);
        if n == 0 {
            return i;
        }
        *mant = mant
            .wrapping_mul(POW10_U64[n])
            .wrapping_add(swar_value(v, n));
        *count += n;
        i += n;
        if n < 8 {
            return i;
        }
    }
    while let Some(&b) = buf.get(i) {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        *mant = mant.wrapping_mul(10).wrapping_add(d as u64);
        *count += 1;
        i += 1;
    }
    i
}

/// `w / 10^k` correctly rounded, for `w` ≥ 1 and 1 ≤ `k` ≤ 19: one 128-by-64-bit division
/// gives 64 quotient bits, the remainder a sticky bit, and the u64 → f64 conversion (round
/// to nearest, ties to even) rounds once.
#[inline]
fn div_pow10(w: u64, k: usize) -> f64 {
    let d = POW10_U64[k];
    // Scale so the quotient lands in [2^63, 2^64).
    let s = 63 + (64 - d.leading_zeros()) - (64 - w.leading_zeros());
    let (mut q, r) = div_shifted(w, s, d);
    let mut s = s as i32;
    if q >> 63 == 0 {
        // The estimate was one bit short; take one more quotient bit: (2r) / d is 0 or 1.
        let (n2, r2) = if r >= d - r {
            (1, r - (d - r))
        } else {
            (0, r << 1)
        };
        q = (q << 1) | n2;
        s += 1;
        return (q | (r2 != 0) as u64) as f64 * f64::from_bits(((1023 - s) as u64) << 52);
    }
    (q | (r != 0) as u64) as f64 * f64::from_bits(((1023 - s) as u64) << 52)
}

/// `(w << s) / d` and its remainder, for a quotient that fits in 64 bits.
#[cfg(not(target_arch = "wasm32"))]
#[inline]
fn div_shifted(w: u64, s: u32, d: u64) -> (u64, u64) {
    let n = (w as u128) << s;
    ((n / d as u128) as u64, (n % d as u128) as u64)
}

/// Wasm has no 128-bit division: the u128 operators become generic library calls that cost
/// a fifth of the time of a float-heavy batch. Two 64-bit divisions do the same here.
#[cfg(target_arch = "wasm32")]
#[inline]
fn div_shifted(w: u64, s: u32, d: u64) -> (u64, u64) {
    let (hi, lo) = match s {
        0 => (0, w),
        1..=63 => (w >> (64 - s), w << s),
        _ => (w << (s - 64), 0),
    };
    div_wide(hi, lo, d)
}

/// `(hi·2^64 + lo) / d` and its remainder, for `hi < d` (so the quotient fits in 64 bits),
/// in 64-bit operations only: schoolbook division in base 2^32 with a normalised divisor,
/// each quotient digit estimated from the top digits and corrected at most twice.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
#[inline]
fn div_wide(hi: u64, lo: u64, d: u64) -> (u64, u64) {
    debug_assert!(hi < d);
    const B: u64 = 1 << 32;
    let z = d.leading_zeros();
    let d = d << z;
    let hi = if z == 0 {
        hi
    } else {
        (hi << z) | (lo >> (64 - z))
    };
    let lo = lo << z;
    let (dh, dl) = (d >> 32, d & (B - 1));
    // One quotient digit of `top·B + next` (with `top < d`); returns it and the remainder.
    let digit = |top: u64, next: u64| -> (u64, u64) {
        let mut q = top / dh;
        let mut r = top % dh;
        while q >= B || q * dl > (r << 32 | next) {
            q -= 1;
            r += dh;
            if r >= B {
                break;
            }
        }
        (q, (top << 32 | next).wrapping_sub(q.wrapping_mul(d)))
    };
    let (q1, r1) = digit(hi, lo >> 32);
    let (q0, r0) = digit(r1, lo & (B - 1));
    (q1 << 32 | q0, r0 >> z)
}

/// The f64 nearest to `mant · 10^e10` for a mantissa read exactly (at most 19 digits), on
/// the cheap exact paths; `None` where only a full decimal conversion will do.
#[inline]
fn exact_float(mant: u64, e10: i64) -> Option<f64> {
    if mant <= 1 << 53 && (-22..=22).contains(&e10) {
        // Clinger: both operands exact, one rounding.
        let m = mant as f64;
        return Some(if e10 >= 0 {
            m * POW10[e10 as usize]
        } else {
            m / POW10[(-e10) as usize]
        });
    }
    if mant == 0 {
        return Some(0.0);
    }
    match e10 {
        0..=19 => Some((mant as u128 * POW10_U64[e10 as usize] as u128) as f64),
        -19..=-1 => Some(div_pow10(mant, (-e10) as usize)),
        _ => None,
    }
}

/// Reads a numeric value at `buf[i..]` in one pass, the way InfluxDB's `scanNumber` and its
/// field iterator together would, and returns it with the index where it ends (a `,`, a
/// space, a LF or the end of `buf`). `None` means "not a plain valid number": the caller
/// hands the line to the reference parser, which gives InfluxDB's exact error (or, for the
/// rare valid forms declined here, the value).
#[inline(always)]
pub(crate) fn scan_fast(buf: &[u8], i: usize) -> Option<(Num, usize)> {
    scan(buf, i, true)
}

/// [`scan_fast`] where only validity is asked: a float's value is computed only where
/// InfluxDB's acceptance depends on it. A float of at most 19 significant digits whose
/// decimal exponent `e` (value = mantissa · 10^e) is at most 289 is below 10^308, so Go's
/// `ParseFloat` accepts it (underflow is no error in Go: it gives 0 or a subnormal); such a
/// float comes back as `Num::Float(f64::NAN)`, a value no valid field has. Everything else
/// (integers, unsigned, longer or larger floats, every rejection) is exactly `scan_fast`'s.
#[inline(always)]
pub(crate) fn scan_valid(buf: &[u8], i: usize) -> Option<(Num, usize)> {
    scan(buf, i, false)
}

#[inline(always)]
pub(crate) fn scan(buf: &[u8], mut i: usize, values: bool) -> Option<(Num, usize)> {
    let start = i;
    let neg = buf.get(i) == Some(&b'-');
    i += neg as usize;
    let mut mant: u64 = 0;
    let mut int_digits = 0;
    let int_start = i;
    if let Some(w) = buf.get(i..i + 8) {
        // The first 8 bytes in one word: the usual integer field (up to 7 digits, `i`, a
        // delimiter) ends here; anything else goes on from the digits read.
        let mut b = [0u8; 8];
        b.copy_from_slice(w);
        let v = u64::from_le_bytes(b);
        let n = leading_digits(v);
        if n > 0 {
            mant = swar_value(v, n);
            if n < 8 && b[n] == b'i' && is_end(buf.get(i + n + 1)) {
                let m = mant as i64;
                return Some((Num::Integer(if neg { -m } else { m }), i + n + 1));
            }
        }
        int_digits = n;
        i += n;
        if n == 8 {
            i = read_digits(buf, i, &mut mant, &mut int_digits);
        }
    } else {
        i = read_digits(buf, i, &mut mant, &mut int_digits);
    }
    match buf.get(i) {
        Some(b'i') => {
            if int_digits == 0 || int_digits > 19 || !is_end(buf.get(i + 1)) {
                return None;
            }
            if int_digits == 19 && &buf[int_start..i] > b"9223372036854775807".as_slice() {
                // 2^63 itself is fine when negative; anything else longer goes the slow way.
                if !(neg && &buf[int_start..i] == b"9223372036854775808") {
                    return None;
                }
            }
            let v = if neg {
                (mant as i64).wrapping_neg()
            } else {
                mant as i64
            };
            return Some((Num::Integer(v), i + 1));
        }
        Some(b'u') => {
            if neg || int_digits == 0 || int_digits > 20 || !is_end(buf.get(i + 1)) {
                return None;
            }
            if int_digits == 20 {
                // Re-read with overflow checks; 20 digits can exceed u64.
                return Some((Num::Unsigned(parse_u64(&buf[int_start..i])?), i + 1));
            }
            return Some((Num::Unsigned(mant), i + 1));
        }
        _ => {}
    }
    // A float: [-]digits[.digits][(e|E)[+|-]digits]
    let mut digits = int_digits;
    let mut frac_digits = 0usize;
    if buf.get(i) == Some(&b'.') {
        i = read_digits(buf, i + 1, &mut mant, &mut frac_digits);
        digits += frac_digits;
    }
    if digits == 0 {
        return None;
    }
    let mut exp: i64 = 0;
    let mut scientific = false;
    if let Some(b'e' | b'E') = buf.get(i) {
        scientific = true;
        i += 1;
        let eneg = match buf.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let estart = i;
        while let Some(&b) = buf.get(i) {
            let d = b.wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            if exp < 100_000 {
                exp = exp * 10 + d as i64;
            }
            i += 1;
        }
        if i == estart {
            return None;
        }
        if eneg {
            exp = -exp;
        }
    }
    if !is_end(buf.get(i)) {
        return None;
    }
    if !values && digits <= 19 && exp - frac_digits as i64 <= 289 {
        return Some((Num::Float(f64::NAN), i));
    }
    let exact = if digits <= 19 {
        exact_float(mant, exp - frac_digits as i64)
    } else {
        None
    };
    let v = match exact {
        Some(v) => {
            if neg {
                -v
            } else {
                v
            }
        }
        None => {
            let v = parse_f64(&buf[start..i]);
            // Go range-checks scientific and long literals; shorter ones cannot overflow.
            if v.is_none() && (scientific || i - start >= 25) {
                return None;
            }
            v?
        }
    };
    if !v.is_finite() {
        return None;
    }
    Some((Num::Float(v), i))
}

#[cfg(test)]
mod tests {

    /// The validity-only reader accepts exactly what the full one accepts, ends at the same
    /// byte, and differs only by giving NaN for a float's value.
    #[test]
    fn validity_only_agrees() {
        let mut cases: Vec<String> = [
            "0",
            "-0",
            "1.5",
            "45.277914590009466",
            "-9223372036854775808i",
            "18446744073709551615u",
            "1e289",
            "9999999999999999999e289",
            "9999999999999999999e290",
            "1e308",
            "1.7976931348623157e308",
            "1.8e308",
            "17976931348623157e292",
            "179769313486231580793e288",
            "1e-400",
            "0e99999",
            "1e99999",
            "-1e-99999",
            "12345678901234567890.5",
            "1.",
            ".5",
            "1e",
            "1e+",
            "1.5x",
            "--1",
            "0.000000000000000000000000000001",
            "123456789012345678901234567890",
            "1E5",
            "1e+0010",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for d in 1..=21 {
            for e in [
                -330i32, -30, -1, 0, 1, 30, 268, 269, 270, 288, 289, 290, 291, 300, 308, 309,
            ] {
                let m = "9".repeat(d);
                cases.push(format!("{m}e{e}"));
                cases.push(format!("{}.{}e{e}", &m[..1], &m[1..]));
                cases.push(format!("-1{}e{e}", "7".repeat(d - 1)));
            }
        }
        for c in &cases {
            for tail in ["", ",", " ", "\n"] {
                let b = format!("{c}{tail}");
                let full = scan_fast(b.as_bytes(), 0);
                let valid = scan_valid(b.as_bytes(), 0);
                match (full, valid) {
                    (None, None) => {}
                    (Some((Num::Float(_), e1)), Some((Num::Float(v), e2))) => {
                        assert_eq!(e1, e2, "{b:?}");
                        if !v.is_nan() {
                            assert_eq!(full.map(|x| x.0), valid.map(|x| x.0), "{b:?}");
                        }
                    }
                    (a, b2) => assert_eq!(a, b2, "{b:?}"),
                }
            }
        }
    }
    use super::*;

    fn fast(s: &str) -> Option<Num> {
        scan_fast(s.as_bytes(), 0).map(|(n, end)| {
            assert_eq!(end, s.len());
            n
        })
    }

    #[test]
    fn ints() {
        assert_eq!(fast("0i"), Some(Num::Integer(0)));
        assert_eq!(fast("-9223372036854775808i"), Some(Num::Integer(i64::MIN)));
        assert_eq!(fast("9223372036854775807i"), Some(Num::Integer(i64::MAX)));
        assert_eq!(fast("9223372036854775808i"), None);
        assert_eq!(fast("18446744073709551615u"), Some(Num::Unsigned(u64::MAX)));
        assert_eq!(fast("18446744073709551616u"), None);
        assert_eq!(fast("-1u"), None);
        assert_eq!(fast("1i1"), None);
        assert_eq!(fast("-i"), None);
        assert_eq!(parse_i64(b"-9223372036854775809"), None);
        assert_eq!(parse_i64(b"-"), None);
    }

    #[test]
    fn swar_digits() {
        for s in [
            "0",
            "7",
            "12",
            "12345678",
            "123456789",
            "00000000000000000001",
            "58x",
            "1234567x90",
        ] {
            let mut m = 0;
            let mut c = 0;
            let end = read_digits(s.as_bytes(), 0, &mut m, &mut c);
            let want = s.bytes().take_while(u8::is_ascii_digit).count();
            assert_eq!((end, c), (want, want), "{s}");
            assert_eq!(m, s[..want].parse::<u64>().unwrap(), "{s}");
        }
    }

    #[test]
    fn exact_paths_match_std() {
        // Mantissas above 2^53 with small exponents take the division and product paths.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let digits = 1 + (x % 19) as usize;
            let mant = x % 10u64.pow(digits as u32);
            let frac = (x >> 40) as usize % (digits + 1);
            let s = format!("{mant:0digits$}");
            let lit = format!("{}.{}", &s[..digits - frac], &s[digits - frac..]);
            let want: f64 = lit.parse().unwrap();
            match fast(&lit) {
                Some(Num::Float(v)) => assert_eq!(v.to_bits(), want.to_bits(), "{lit}"),
                other => panic!("{lit}: {other:?}"),
            }
            let lit = format!("{s}e{}", (x >> 50) as i64 % 40 - 20);
            let want: f64 = lit.parse().unwrap();
            match fast(&lit) {
                Some(Num::Float(v)) => assert_eq!(v.to_bits(), want.to_bits(), "{lit}"),
                other => panic!("{lit}: {other:?}"),
            }
        }
    }

    #[test]
    fn wide_division_matches_u128() {
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for i in 0..300_000u32 {
            // Divisors of every size (powers of ten among them), dividends up to the limit.
            let d = match i % 3 {
                0 => POW10_U64[(next() % 20) as usize],
                1 => next() >> (next() % 64),
                _ => next() | 1 << 63,
            }
            .max(1);
            let hi = match i % 4 {
                0 => d - 1,
                1 => 0,
                _ => next() % d,
            };
            let lo = next();
            let n = (hi as u128) << 64 | lo as u128;
            let want = ((n / d as u128) as u64, (n % d as u128) as u64);
            assert_eq!(div_wide(hi, lo, d), want, "{n} / {d}");
        }
    }

    #[test]
    fn floats_are_bit_exact() {
        for s in [
            "1",
            "1.5",
            "-0",
            "0.1",
            "5.",
            ".5",
            "-.5",
            "1.e5",
            "1e5",
            "1E+05",
            "1e-400",
            "58.06913488396543",
            "12.345678901234567",
            "1e22",
            "1e23",
            "123456789012345678901234",
            "0.000000000000000000000000001",
            "9007199254740993",
            "-1.7976931348623157e308",
        ] {
            let want: f64 = s.parse().unwrap();
            match fast(s) {
                Some(Num::Float(v)) => assert_eq!(v.to_bits(), want.to_bits(), "{s}"),
                other => panic!("{s}: {other:?}"),
            }
        }
        for s in ["1e309", "1e", "1e+", ".", "-", ".e5", "1.5.5", "NaN", "1x"] {
            assert_eq!(fast(s), None, "{s}");
        }
    }
}
