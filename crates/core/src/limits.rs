//! Every limit linegate applies, with its default, under one name each: the request's size
//! limits ([`Limits`], which callers may change), and the fixed bounds InfluxDB OSS itself
//! applies or that keep linegate's memory bounded.

/// Default of [`Limits::max_body`]: 512 MiB.
pub const DEFAULT_MAX_BODY: usize = 512 << 20;

/// Default of [`Limits::max_batch`]: 512 MiB.
pub const DEFAULT_MAX_BATCH: usize = 512 << 20;

/// Default of [`Limits::max_message`]: 16 MiB (spec Part A §1).
pub const DEFAULT_MAX_MESSAGE: usize = 16 << 20;

/// Size limits of a write (spec Part A §4). A size equal to or above a limit is rejected
/// with 413.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of the body as received (compressed, if it is).
    pub max_body: usize,
    /// Bytes of the body after decompression (OSS's `MaxBatchSizeBytes`).
    pub max_batch: usize,
    /// Escaped bytes of the joined parse-error message before it is cut short.
    pub max_message: usize,
}

/// The library's, the CLI's and the backend's default limits.
pub const DEFAULT_LIMITS: Limits = Limits {
    max_body: DEFAULT_MAX_BODY,
    max_batch: DEFAULT_MAX_BATCH,
    max_message: DEFAULT_MAX_MESSAGE,
};

impl Default for Limits {
    fn default() -> Self {
        DEFAULT_LIMITS
    }
}

/// Longest gzip member header Go reads before it decides: 10 fixed bytes, an extra field of
/// up to 65,535 bytes with its 2-byte length, a name and a comment of up to 512 bytes each,
/// a 2-byte header CRC.
pub const MAX_GZIP_HEADER: usize = 10 + 2 + 65_535 + 512 + 512 + 2;

/// Longest series key (or series key + 4 + field key) the parser accepts, in bytes.
pub const MAX_KEY_LENGTH: usize = 65_535;

/// Longest string field value storage accepts, in bytes (spec Part B §6).
pub const MAX_STRING_LEN: usize = 1 << 20;

/// Longest excerpt of a line a diagnostic shows, in bytes.
pub const EXCERPT_MAX: usize = 400;

/// Distinct series a summary counts exactly; past it the count is a lower bound.
pub const MAX_SERIES_TRACKED: usize = 1 << 20;

/// Timestamps a summary keeps for its percentiles.
pub const MAX_TIMES_KEPT: usize = 1 << 22;

/// How much of a request body a door reads and holds, decided from its declared length
/// (`Content-Length`) before the first byte arrives. A body declared at or above
/// `max_body` is answered 413 ([`crate::answers::Rejection::too_large`]) — but only after
/// the checks that come before the size check in InfluxDB's order, and those need at most
/// the body's gzip header ([`MAX_GZIP_HEADER`]), so only that much of it is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BodyRead {
    /// The declared length, when `Content-Length` is decimal digits (a value past `u64`
    /// saturates: it is too large either way); `None` when absent or anything else.
    pub declared: Option<u64>,
    /// The declared length is already at or above `max_body`.
    pub too_large: bool,
    /// The most bytes read of the body, and the `max_body` its check runs under: `max_body`,
    /// or `min(max_body, MAX_GZIP_HEADER)` when it is already too large (so the prefix checks
    /// as exactly too large, after the checks that come first).
    pub cap: usize,
    /// The most bytes the body can occupy while it is held: the declared length when it is
    /// below `max_body`, else `cap`.
    pub hold: usize,
}

impl BodyRead {
    /// The read of a body whose `Content-Length` value (as the platform gives it, already
    /// trimmed) is `content_length`, under `max_body`.
    pub fn of(content_length: Option<&[u8]>, max_body: usize) -> BodyRead {
        let declared = content_length.and_then(decimal);
        let too_large = declared.is_some_and(|n| n >= max_body as u64);
        let cap = if too_large {
            max_body.min(MAX_GZIP_HEADER)
        } else {
            max_body
        };
        let hold = match declared {
            Some(n) if !too_large => n as usize,
            _ => cap,
        };
        BodyRead {
            declared,
            too_large,
            cap,
            hold,
        }
    }
}

/// Decimal digits as a number, saturating at `u64::MAX`; `None` for anything else (empty,
/// a sign, spaces, a list).
fn decimal(v: &[u8]) -> Option<u64> {
    if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(v.iter().fold(0u64, |n, d| {
        n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_read_follows_its_declared_length() {
        let max = 1000;
        let read = |v: Option<&str>| BodyRead::of(v.map(str::as_bytes), max);
        let at = |declared, too_large, cap, hold| BodyRead {
            declared,
            too_large,
            cap,
            hold,
        };
        // None declared (chunked): up to max_body, held as max_body.
        assert_eq!(read(None), at(None, false, max, max));
        // Below the limit: what it declares is held; the check still runs under max_body.
        assert_eq!(read(Some("0")), at(Some(0), false, max, 0));
        assert_eq!(read(Some("999")), at(Some(999), false, max, 999));
        assert_eq!(read(Some("0999")), at(Some(999), false, max, 999));
        // At or above it: too large, and only the gzip header's bound is read (here
        // max_body is smaller still).
        assert_eq!(read(Some("1000")), at(Some(1000), true, max, max));
        assert_eq!(
            read(Some("99999999999999999999999")),
            at(Some(u64::MAX), true, max, max)
        );
        // Not a number: as if none were declared.
        for v in ["", " 5", "5 ", "+5", "-1", "5, 5", "0x10", "1e3", "٣"] {
            assert_eq!(read(Some(v)), at(None, false, max, max), "{v:?}");
        }
        // A large max_body: a body declared too large is read up to the gzip header bound.
        let big = 512 << 20;
        let r = BodyRead::of(Some(b"536870912"), big);
        assert_eq!(
            r,
            at(Some(big as u64), true, MAX_GZIP_HEADER, MAX_GZIP_HEADER)
        );
        let r = BodyRead::of(Some(b"536870911"), big);
        assert_eq!(r, at(Some(big as u64 - 1), false, big, big - 1));
    }
}
