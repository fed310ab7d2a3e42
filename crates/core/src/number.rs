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

/// Reads a numeric value at `buf[i..]` in one pass, the way InfluxDB's `scanNumber` and its
/// field iterator together would, and returns it with the index where it ends (a `,`, a
/// space, a LF or the end of `buf`). `None` means "not a plain valid number": the caller
/// hands the line to the reference parser, which gives InfluxDB's exact error (or, for the
/// rare valid forms declined here, the value).
#[inline]
pub(crate) fn scan_fast(buf: &[u8], mut i: usize) -> Option<(Num, usize)> {
    let start = i;
    let neg = buf.get(i) == Some(&b'-');
    i += neg as usize;
    let mut mant: u64 = 0;
    let int_start = i;
    while let Some(&b) = buf.get(i) {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        mant = mant.wrapping_mul(10).wrapping_add(d as u64);
        i += 1;
    }
    let int_digits = i - int_start;
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
        i += 1;
        let fstart = i;
        while let Some(&b) = buf.get(i) {
            let d = b.wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            mant = mant.wrapping_mul(10).wrapping_add(d as u64);
            i += 1;
        }
        frac_digits = i - fstart;
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
    let e10 = exp - frac_digits as i64;
    // Clinger's fast path: exact when the mantissa and the power of ten are both exact.
    let v = if digits <= 19 && mant <= (1u64 << 53) && (-22..=22).contains(&e10) {
        let m = mant as f64;
        let v = if e10 >= 0 {
            m * POW10[e10 as usize]
        } else {
            m / POW10[(-e10) as usize]
        };
        if neg {
            -v
        } else {
            v
        }
    } else {
        let v = parse_f64(&buf[start..i]);
        // Go range-checks scientific and long literals; shorter ones cannot overflow.
        if v.is_none() && (scientific || i - start >= 25) {
            return None;
        }
        v?
    };
    Some((Num::Float(v), i))
}

#[cfg(test)]
mod tests {
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
