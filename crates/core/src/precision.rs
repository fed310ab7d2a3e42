//! Timestamp precision (`precision` query parameter) and time arithmetic.

/// The unit of the timestamps in a write, as the `precision` query parameter names it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Precision {
    /// Nanoseconds, the default (parameter absent or empty).
    #[default]
    Ns,
    /// Microseconds (`us`).
    Us,
    /// Milliseconds (`ms`).
    Ms,
    /// Seconds (`s`).
    S,
}

/// Smallest and largest instant InfluxDB stores, in nanoseconds (`models.MinNanoTime` and
/// `models.MaxNanoTime`).
pub const MIN_NANO_TIME: i64 = i64::MIN + 2;
/// Latest time InfluxDB stores, in nanoseconds.
pub const MAX_NANO_TIME: i64 = i64::MAX - 1;

impl Precision {
    /// Every precision, finest first (the package's TypeScript `Precision` lists these).
    pub const ALL: [Precision; 4] = [Precision::Ns, Precision::Us, Precision::Ms, Precision::S];

    /// Parses the raw query parameter as InfluxDB OSS v2 does: empty means `ns`; otherwise
    /// exactly `ns`, `us`, `ms` or `s` (case-sensitive; the 1.x spellings `n`, `u`, `h`
    /// and `m` are rejected).
    pub fn from_param(raw: &[u8]) -> Option<Precision> {
        match raw {
            b"" | b"ns" => Some(Precision::Ns),
            b"us" => Some(Precision::Us),
            b"ms" => Some(Precision::Ms),
            b"s" => Some(Precision::S),
            _ => None,
        }
    }

    /// The parameter value naming this precision.
    pub fn as_str(self) -> &'static str {
        match self {
            Precision::Ns => "ns",
            Precision::Us => "us",
            Precision::Ms => "ms",
            Precision::S => "s",
        }
    }

    /// Nanoseconds per unit.
    pub fn multiplier(self) -> i64 {
        match self {
            Precision::Ns => 1,
            Precision::Us => 1_000,
            Precision::Ms => 1_000_000,
            Precision::S => 1_000_000_000,
        }
    }

    /// `ts` units in nanoseconds, or `None` when InfluxDB answers `time outside range`
    /// (overflow, or outside `[MIN_NANO_TIME, MAX_NANO_TIME]`).
    #[inline]
    pub fn scale(self, ts: i64) -> Option<i64> {
        let ns = ts.checked_mul(self.multiplier())?;
        (MIN_NANO_TIME..=MAX_NANO_TIME).contains(&ns).then_some(ns)
    }

    /// The server's clock truncated to this precision: the time InfluxDB gives to lines
    /// without a timestamp (Go's `Time.Truncate`, which rounds down).
    pub fn truncate(self, now_ns: i64) -> i64 {
        let m = self.multiplier() as i128;
        let t = now_ns as i128;
        (t - t.rem_euclid(m)).max(i64::MIN as i128) as i64
    }
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_lists_every_precision_once() {
        for (i, p) in Precision::ALL.into_iter().enumerate() {
            // A new variant stops this compiling until ALL (and this) lists it.
            let at = match p {
                Precision::Ns => 0,
                Precision::Us => 1,
                Precision::Ms => 2,
                Precision::S => 3,
            };
            assert_eq!(
                (at, Precision::from_param(p.as_str().as_bytes())),
                (i, Some(p))
            );
        }
    }

    #[test]
    fn params() {
        assert_eq!(Precision::from_param(b""), Some(Precision::Ns));
        assert_eq!(Precision::from_param(b"s"), Some(Precision::S));
        for bad in [&b"n"[..], b"u", b"m", b"h", b"NS", b"ns ", b" ns", b"1ms"] {
            assert_eq!(Precision::from_param(bad), None);
        }
    }

    #[test]
    fn scale_and_truncate() {
        assert_eq!(Precision::S.scale(9223372036), Some(9223372036000000000));
        assert_eq!(Precision::S.scale(9223372037), None);
        assert_eq!(Precision::Ns.scale(i64::MAX), None);
        assert_eq!(Precision::Ns.scale(MAX_NANO_TIME), Some(MAX_NANO_TIME));
        assert_eq!(Precision::Ns.scale(i64::MIN + 1), None);
        let now = 1700000000123456789;
        assert_eq!(Precision::Ms.truncate(now), 1700000000123000000);
        assert_eq!(Precision::S.truncate(-1), -1_000_000_000);
    }
}
