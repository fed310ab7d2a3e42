//! Time as InfluxDB writes and reads it: RFC 3339 with nanoseconds (Go's `time.RFC3339Nano`
//! in UTC) and Go's `time.Duration` text, used in storage's 422 messages, `/ready` and the
//! backend's time parameters.

const NS: i64 = 1_000_000_000;

/// Go's `time.RFC3339Nano` in UTC: trailing zeros of the fraction dropped.
pub fn format_rfc3339_nano(ns: i64) -> String {
    let secs = ns.div_euclid(NS);
    let frac = ns.rem_euclid(NS);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, mo, d) = civil_from_days(days);
    let mut s = format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    );
    if frac > 0 {
        let f = format!("{frac:09}");
        s.push('.');
        s.push_str(f.trim_end_matches('0'));
    }
    s.push('Z');
    s
}

/// `YYYY-MM-DDTHH:MM:SS[.fffffffff](Z|±HH:MM)` to nanoseconds since the epoch.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || (b[10] != b'T' && b[10] != b't') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let n = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    let (y, mo, d, h, mi, se) = (
        n(0..4)?,
        n(5..7)?,
        n(8..10)?,
        n(11..13)?,
        n(14..16)?,
        n(17..19)?,
    );
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut i = 19;
    let mut frac: i64 = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let mut digits = 0;
        while i < b.len() && b[i].is_ascii_digit() {
            if digits < 9 {
                frac = frac * 10 + (b[i] - b'0') as i64;
                digits += 1;
            }
            i += 1;
        }
        if digits == 0 {
            return None;
        }
        for _ in digits..9 {
            frac *= 10;
        }
    }
    let offset = match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => 0,
        c @ (b'+' | b'-') if i + 6 == b.len() && b[i + 3] == b':' => {
            let o = n(i + 1..i + 3)? * 3600 + n(i + 4..i + 6)? * 60;
            if *c == b'+' {
                o
            } else {
                -o
            }
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo, d);
    let secs = days * 86_400 + h * 3600 + mi * 60 + se - offset;
    secs.checked_mul(NS)?.checked_add(frac)
}

/// A time parameter as linegate's APIs take it: integer nanoseconds or RFC 3339.
pub fn parse_time_param(s: &str) -> Option<i64> {
    s.parse::<i64>().ok().or_else(|| parse_rfc3339(s))
}

/// Go's `time.Duration.String`: `1h2m3.5s`, `1.5ms`, `0s`.
pub fn go_duration(ns: i64) -> String {
    let neg = ns < 0;
    let u = ns.unsigned_abs();
    let mut s = String::new();
    if neg {
        s.push('-');
    }
    if u == 0 {
        return "0s".into();
    }
    let frac = |whole: u64, rem: u64, digits: usize| -> String {
        let mut t = whole.to_string();
        if rem > 0 {
            let f = format!("{rem:0digits$}");
            t.push('.');
            t.push_str(f.trim_end_matches('0'));
        }
        t
    };
    if u < 1_000 {
        s.push_str(&format!("{u}ns"));
    } else if u < 1_000_000 {
        s.push_str(&frac(u / 1_000, u % 1_000, 3));
        s.push_str("µs");
    } else if u < NS as u64 {
        s.push_str(&frac(u / 1_000_000, u % 1_000_000, 6));
        s.push_str("ms");
    } else {
        let secs = u / NS as u64;
        let (h, m) = (secs / 3600, secs / 60 % 60);
        if h > 0 {
            s.push_str(&format!("{h}h"));
        }
        if h > 0 || m > 0 {
            s.push_str(&format!("{m}m"));
        }
        s.push_str(&frac(secs % 60, u % NS as u64, 9));
        s.push('s');
    }
    s
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
pub(crate) fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// (year, month, day) to days since 1970-01-01, proleptic Gregorian.
pub(crate) fn days_from_civil(y: i64, mo: i64, d: i64) -> i64 {
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trip() {
        for ns in [
            0,
            1,
            1_700_000_000_123_456_789,
            -1,
            -86_400 * NS,
            9_000_000_000 * NS,
        ] {
            assert_eq!(parse_rfc3339(&format_rfc3339_nano(ns)), Some(ns), "{ns}");
        }
        assert_eq!(
            format_rfc3339_nano(1_700_000_000_123_000_000),
            "2023-11-14T22:13:20.123Z"
        );
        assert_eq!(
            parse_rfc3339("2024-01-01T01:00:00+01:00"),
            Some(1_704_067_200 * NS)
        );
        assert_eq!(parse_rfc3339("2024-01-01T00:00:00.Z"), None);
        assert_eq!(
            parse_rfc3339("2023-11-14T23:13:20.5+01:00"),
            Some(1_700_000_000_500_000_000)
        );
        assert_eq!(parse_rfc3339("nope"), None);
        assert_eq!(parse_rfc3339("2024-13-01T00:00:00Z"), None);
        assert_eq!(parse_time_param("17"), Some(17));
    }

    #[test]
    fn durations_as_go_prints_them() {
        assert_eq!(go_duration(0), "0s");
        assert_eq!(go_duration(999), "999ns");
        assert_eq!(go_duration(1_500), "1.5µs");
        assert_eq!(go_duration(1_500_000), "1.5ms");
        assert_eq!(go_duration(3_600 * NS), "1h0m0s");
        assert_eq!(go_duration(7 * 24 * 3_600 * NS), "168h0m0s");
        assert_eq!(go_duration(62 * NS + 500_000_000), "1m2.5s");
        assert_eq!(go_duration(-NS), "-1s");
    }
}
