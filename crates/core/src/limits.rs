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
