//! Store-and-forward as one policy: what becomes of an acknowledged batch after the
//! upstream's answer to it. The doors that hold batches and send them on (the backend's
//! relay, the Worker's spool through the package) loop on [`classify`] and act on its
//! [`Decision`]; they never read a status, a `Retry-After` or a line boundary themselves.
//!
//! ## The table
//!
//! | answer                                   | decision                                   | strike |
//! |------------------------------------------|--------------------------------------------|--------|
//! | 2xx                                      | [`Decision::Delivered`]                    |        |
//! | 413, two logical lines or more           | [`Decision::Split`] nearest the middle     |        |
//! | 413, one logical line (or bad gzip)      | dead letter                                |        |
//! | 400, 401, 403, 404, 422, every other 4xx | dead letter: resending the bytes cannot help |      |
//! | 401, 403 with [`Policy::own_credentials`] | retry, waiting at least [`Policy::auth_retry_ms`] | no |
//! | 408, 500, 501, 505–599, 1xx, 3xx         | retry with backoff                         | yes    |
//! | 429, 502, 503, 504                       | retry with backoff                         | no     |
//! | no connection, no answer in time         | retry with backoff                         | no     |
//!
//! A retry waits the longer of [`backoff_ms`] and the answer's `Retry-After`
//! ([`retry_after_ms`], capped at [`RETRY_AFTER_CAP_MS`]).
//!
//! **Strikes** are failures that may be the batch's own fault: the upstream answered it and
//! failed. Once a batch has [`Policy::max_strikes`] strikes and its first strike is at least
//! [`Policy::max_strike_age_ms`] old, the next strike makes it a dead letter
//! ([`DeadReason::GaveUp`]), so one poison batch (always 500) cannot hold the batches behind
//! it for ever. An upstream that is away or busy (no connection, timeouts, 429, 502–504)
//! says nothing about the batch: those retry without a cap, so an outage of any length
//! neither loses nor reorders anything.
//!
//! **401 and 403** depend on whose credentials went with the batch. A door that forwards
//! each client's own (the spool) gets the answer to that batch's credentials: a dead letter
//! with the upstream's answer, as any 4xx. A door that sends its own token with every batch
//! (the relay, [`Policy::own_credentials`]) learns that its token was rotated or revoked:
//! nothing is wrong with the batch and every batch behind it would get the same, so it
//! waits (at most one try per [`Policy::auth_retry_ms`], no strike) until an operator fixes
//! the token, and no batch is parked or reordered meanwhile. Either way nothing is dropped
//! by this policy; dead letters are kept for an operator to replay or drop.

use crate::gzip;
use crate::limits::DEFAULT_LIMITS;
use crate::pipeline::is_gzip;
use crate::reference::{scan_line, skip_ws};
use crate::time::{civil_from_days, days_from_civil};

/// The longest wait a `Retry-After` can ask for: 5 minutes. Retrying earlier than an
/// upstream asked costs one more answer; waiting longer than it needed delays every batch
/// behind, so the cap bounds how long delivery lags once the upstream is back.
pub const RETRY_AFTER_CAP_MS: u64 = 300_000;

/// What the upstream did with one delivery attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer<'a> {
    /// It answered with a status; `retry_after` is its `Retry-After` header, if any.
    Status {
        /// The HTTP status.
        status: u16,
        /// The `Retry-After` header's value as received.
        retry_after: Option<&'a [u8]>,
    },
    /// No connection, or it failed before a status arrived.
    Unreachable,
    /// No status within the door's time bound.
    Timeout,
}

/// The batch as stored, consulted only on a 413 (to find where to cut it).
#[derive(Clone, Copy, Debug)]
pub struct Batch<'a> {
    /// The body as it was accepted (compressed, if it is).
    pub body: &'a [u8],
    /// Its `Content-Encoding`, as forwarded.
    pub content_encoding: Option<&'a [u8]>,
}

/// What a door remembers of a batch's earlier attempts (see [`History::record`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct History {
    /// Failed attempts so far (the backoff's exponent).
    pub attempts: u32,
    /// Strikes so far (failures that may be the batch's fault).
    pub strikes: u32,
    /// When the first strike came, in ms since the epoch.
    pub first_strike_ms: Option<u64>,
}

impl History {
    /// The history after `decision`, made at `now_ms`.
    pub fn record(&mut self, decision: &Decision, now_ms: u64) {
        if let Decision::Retry { strike, .. } = decision {
            self.attempts = self.attempts.saturating_add(1);
            if *strike {
                self.strikes = self.strikes.saturating_add(1);
                self.first_strike_ms.get_or_insert(now_ms);
            }
        }
    }
}

/// The knobs of the policy; [`Policy::default`] holds the documented defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// First backoff step (default 1 s); doubles with each failed attempt.
    pub backoff_base_ms: u64,
    /// Longest backoff step (default 300 s).
    pub backoff_cap_ms: u64,
    /// Whether the door sends its own credentials with every batch (the relay: `true`) rather
    /// than each client's (the spool: `false`, the default); decides 401 and 403.
    pub own_credentials: bool,
    /// Shortest wait after a 401 or 403 with [`Policy::own_credentials`] (default 60 s):
    /// credentials are fixed by a person, not by retrying.
    pub auth_retry_ms: u64,
    /// Strikes before a batch may become a dead letter (default 10).
    pub max_strikes: u32,
    /// Age of the first strike before a batch may become a dead letter (default 10 min):
    /// long enough to ride out a restart or a deploy, short enough that batches behind a
    /// poison one wait minutes, not for ever.
    pub max_strike_age_ms: u64,
    /// Largest decompressed gzip body taken apart on a 413 (default: the decompressed batch
    /// limit, 512 MiB; a door with less memory passes its own).
    pub split_limit: usize,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            backoff_base_ms: 1_000,
            backoff_cap_ms: 300_000,
            own_credentials: false,
            auth_retry_ms: 60_000,
            max_strikes: 10,
            max_strike_age_ms: 600_000,
            split_limit: DEFAULT_LIMITS.max_batch,
        }
    }
}

/// Why a batch became a dead letter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeadReason {
    /// A 4xx that sending the same bytes again cannot change.
    Refused,
    /// 413 for a batch of one logical line: it cannot be split.
    TooLarge,
    /// 413 for a gzip body that does not decode (within [`Policy::split_limit`]).
    Undecodable,
    /// The strike cap was reached ([`Policy::max_strikes`] and [`Policy::max_strike_age_ms`]).
    GaveUp,
}

impl DeadReason {
    /// Its name in logs, the admin views and the package: `refused`, `too-large`,
    /// `undecodable`, `gave-up`.
    pub fn as_str(self) -> &'static str {
        match self {
            DeadReason::Refused => "refused",
            DeadReason::TooLarge => "too-large",
            DeadReason::Undecodable => "undecodable",
            DeadReason::GaveUp => "gave-up",
        }
    }
}

/// What to do with the batch after an answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Delivered: remove it.
    Delivered,
    /// Send it again in `after_ms`; a `strike` counts towards the cap ([`History::record`]).
    Retry {
        /// How long to wait.
        after_ms: u64,
        /// Whether this failure counts towards [`Policy::max_strikes`].
        strike: bool,
    },
    /// Replace it, in place, by two batches: `body[..at]` and `body[at..]`, where `body` is
    /// `plain` when set (a gzip batch, decoded: its halves go without `Content-Encoding`)
    /// and the stored body otherwise.
    Split {
        /// The cut: the start of a logical line.
        at: usize,
        /// The decoded body of a gzip batch.
        plain: Option<Vec<u8>>,
    },
    /// Keep it aside with the upstream's answer, for an operator to replay or drop.
    DeadLetter {
        /// Why.
        reason: DeadReason,
    },
}

/// The decision for one attempt's `answer`. `random01` (in `[0, 1)`) jitters the backoff.
pub fn classify(
    answer: &Answer<'_>,
    batch: &Batch<'_>,
    history: &History,
    now_ms: u64,
    random01: f64,
    policy: &Policy,
) -> Decision {
    let backoff = backoff_ms(
        history.attempts,
        policy.backoff_base_ms,
        policy.backoff_cap_ms,
        random01,
    );
    let (status, retry_after) = match *answer {
        Answer::Unreachable | Answer::Timeout => {
            return Decision::Retry {
                after_ms: backoff,
                strike: false,
            }
        }
        Answer::Status {
            status,
            retry_after,
        } => (status, retry_after),
    };
    let (strike, floor) = match status {
        200..=299 => return Decision::Delivered,
        413 => return split(batch, policy),
        401 | 403 if policy.own_credentials => (false, policy.auth_retry_ms),
        429 | 502..=504 => (false, 0),
        408 => (true, 0),
        400..=499 => return dead(DeadReason::Refused),
        _ => (true, 0),
    };
    if strike && gave_up(history, now_ms, policy) {
        return dead(DeadReason::GaveUp);
    }
    let asked = retry_after
        .and_then(|v| retry_after_ms(v, now_ms))
        .unwrap_or(0);
    Decision::Retry {
        after_ms: backoff.max(floor).max(asked),
        strike,
    }
}

/// `SPOOL=fallback`'s rule for a live write's answer: whether the door keeps the batch to
/// deliver later instead of passing the answer to the client. Only an upstream that is
/// busy or failing (429, 5xx) is; its other answers (2xx, 4xx, and 1xx/3xx as they come)
/// go back as they are, so the client still sees the backend's verdict. (No answer at all
/// is held too; that the door knows without asking.)
pub fn fallback_holds(status: u16) -> bool {
    status == 429 || status >= 500
}

/// Whether [`classify`] reads the batch for `answer` (only a 413's split does), so a door
/// that must copy the body to call it can leave it where it is otherwise.
pub fn needs_batch(answer: &Answer<'_>) -> bool {
    matches!(answer, Answer::Status { status: 413, .. })
}

fn dead(reason: DeadReason) -> Decision {
    Decision::DeadLetter { reason }
}

/// Whether one more strike reaches the cap.
fn gave_up(history: &History, now_ms: u64, policy: &Policy) -> bool {
    let age = history
        .first_strike_ms
        .map_or(0, |t| now_ms.saturating_sub(t));
    history.strikes.saturating_add(1) >= policy.max_strikes && age >= policy.max_strike_age_ms
}

fn split(batch: &Batch<'_>, policy: &Policy) -> Decision {
    if !is_gzip(batch.content_encoding) {
        return match split_point(batch.body) {
            Some(at) => Decision::Split { at, plain: None },
            None => dead(DeadReason::TooLarge),
        };
    }
    let Ok(plain) = gzip::decompress(batch.body, policy.split_limit) else {
        return dead(DeadReason::Undecodable);
    };
    match split_point(&plain) {
        Some(at) => Decision::Split {
            at,
            plain: Some(plain),
        },
        None => dead(DeadReason::TooLarge),
    }
}

/// Where to cut `body` in two batches of whole logical lines: the start of the line with
/// points nearest the middle, so neither half is without points. Lines are the parser's
/// own ([`scan_line`]): a LF inside a quoted string field or after a backslash does not end
/// one. `None` when the body holds fewer than two such lines.
pub fn split_point(body: &[u8]) -> Option<usize> {
    let mid = body.len() / 2;
    let mut best: Option<usize> = None;
    let mut seen_first = false;
    let mut start = 0;
    while start < body.len() {
        let end = scan_line(body, start);
        let lead = skip_ws(body, start);
        // Blank lines and comments carry no point: a half of only those would be refused.
        let has_point = lead < end && body[lead] != b'#';
        if has_point {
            if seen_first && best.is_none_or(|b| start.abs_diff(mid) < b.abs_diff(mid)) {
                best = Some(start);
            }
            seen_first = true;
        }
        start = end + 1;
    }
    best
}

/// Exponential backoff with "equal jitter": between half and all of
/// `min(cap, base × 2^attempt)`, placed by `random01` (in `[0, 1)`), so retries of many
/// batches spread out yet never come sooner than half the step.
pub fn backoff_ms(attempt: u32, base_ms: u64, cap_ms: u64, random01: f64) -> u64 {
    let step = base_ms.saturating_mul(1u64 << attempt.min(30)).min(cap_ms);
    let r = if random01.is_finite() {
        random01.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let half = step / 2;
    half + ((step - half) as f64 * r) as u64
}

/// A `Retry-After` value as a wait in ms from `now_ms`: delay-seconds (`120`) or an HTTP
/// date in IMF-fixdate form (`Wed, 21 Oct 2015 07:28:00 GMT`), capped at
/// [`RETRY_AFTER_CAP_MS`]; a date in the past is 0. `None` for anything else.
pub fn retry_after_ms(value: &[u8], now_ms: u64) -> Option<u64> {
    let v = value.trim_ascii();
    if !v.is_empty() && v.iter().all(u8::is_ascii_digit) {
        // Digits beyond u64 are only a longer wait: saturate, then cap.
        let secs = v.iter().fold(0u64, |n, d| {
            n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
        });
        return Some(secs.saturating_mul(1000).min(RETRY_AFTER_CAP_MS));
    }
    let at = imf_fixdate_ms(v)?;
    Some(at.saturating_sub(now_ms).min(RETRY_AFTER_CAP_MS))
}

/// RFC 9110's IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`, as ms since the epoch.
fn imf_fixdate_ms(v: &[u8]) -> Option<u64> {
    const DAYS: [&[u8]; 7] = [b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat", b"Sun"];
    const MONTHS: [&[u8]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    if v.len() != 29 || &v[3..5] != b", " || &v[25..] != b" GMT" {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let d = &v[r];
        d.iter()
            .all(u8::is_ascii_digit)
            .then(|| d.iter().fold(0i64, |n, c| n * 10 + i64::from(c - b'0')))
    };
    let sep = |i: usize, c: u8| v[i] == c;
    if !(sep(7, b' ') && sep(11, b' ') && sep(16, b' ') && sep(19, b':') && sep(22, b':')) {
        return None;
    }
    let weekday = DAYS.iter().position(|d| *d == &v[..3])?;
    let month = MONTHS.iter().position(|m| *m == &v[8..11])? as i64 + 1;
    let (day, year) = (num(5..7)?, num(12..16)?);
    let (h, m, s) = (num(17..19)?, num(20..22)?, num(23..25)?);
    let days = days_from_civil(year, month, day);
    // No 31 February, no wrong weekday (1970-01-01 was a Thursday), no 25 o'clock.
    let valid = civil_from_days(days) == (year, month, day)
        && (days + 3).rem_euclid(7) as usize == weekday
        && h < 24
        && m < 60
        && s < 61;
    let secs = days * 86_400 + h * 3600 + m * 60 + s;
    (valid && secs >= 0).then(|| secs as u64 * 1000)
}

/// The header that names one accepted batch on every attempt to deliver it: an edge that
/// forwards or holds a write gives it a random id (128 bits, hex) and sends the same id
/// each time; a server that keeps the ids of the batches it stored answers a repeated one
/// 204 without storing it again, so a delivery whose answer was lost (the server died
/// after its commit) is not stored twice. InfluxDB and VictoriaMetrics ignore it.
pub const BATCH_ID_HEADER: &str = "X-Linegate-Batch";

/// How long a server keeps the id of a batch it stored: longer than any edge holds a
/// batch before delivering it again (a batch older than this may be stored twice).
pub const BATCH_IDS_KEPT_NS: i64 = 24 * 3600 * 1_000_000_000;

/// Most batch ids a server keeps, whatever their age (the oldest go first).
pub const BATCH_IDS_MAX: i64 = 2_000_000;

/// A batch id as a server takes it: 16 to 64 bytes of `[0-9A-Za-z_-]` (a random id long
/// enough that nobody guesses another's). Anything else is no id: the write is stored as
/// any other (never refused for it).
pub fn batch_id(value: Option<&[u8]>) -> Option<&[u8]> {
    let v = value?;
    let ok = (16..=64).contains(&v.len())
        && v.iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_');
    ok.then_some(v)
}

// After the code, as answers.rs's tables: no line the wasm refers to moved.
impl DeadReason {
    /// Every reason (the package's TypeScript `DeadLetterReason` lists their names).
    pub const ALL: [DeadReason; 4] = [
        DeadReason::Refused,
        DeadReason::TooLarge,
        DeadReason::Undecodable,
        DeadReason::GaveUp,
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_lists_every_dead_reason_once() {
        for (i, r) in DeadReason::ALL.into_iter().enumerate() {
            // A new variant stops this compiling until ALL (and this) lists it.
            let at = match r {
                DeadReason::Refused => 0,
                DeadReason::TooLarge => 1,
                DeadReason::Undecodable => 2,
                DeadReason::GaveUp => 3,
            };
            assert_eq!(at, i);
        }
    }

    const NOW: u64 = 1_445_412_480_000; // Wed, 21 Oct 2015 07:28:00 GMT

    fn status(s: u16) -> Answer<'static> {
        Answer::Status {
            status: s,
            retry_after: None,
        }
    }

    fn decide(answer: Answer<'_>, body: &[u8]) -> Decision {
        let batch = Batch {
            body,
            content_encoding: None,
        };
        // random01 = 0: the backoff is half its step (500 ms at attempt 0).
        classify(
            &answer,
            &batch,
            &History::default(),
            NOW,
            0.0,
            &Policy::default(),
        )
    }

    fn retry(after_ms: u64, strike: bool) -> Decision {
        Decision::Retry { after_ms, strike }
    }

    const MULTI: &[u8] = b"a v=1 1\nb v=2 2\nc v=3 3\nd v=4 4\n";
    // Two points; the first's string field spans three physical lines (a stack trace).
    const STRING: &[u8] = b"log msg=\"panic:\nat main.go:1\nat x.go:2\" 1\nlog msg=\"ok\" 2\n";
    const ONE_STRING: &[u8] = b"log msg=\"a\nb\nc\nd\" 1\n";

    /// Issue 20's table: one answer per row and the decision every door must take.
    #[test]
    fn the_table() {
        let ra = |v: &'static [u8]| Answer::Status {
            status: 429,
            retry_after: Some(v),
        };
        let rows: Vec<(&str, Answer<'_>, &[u8], Decision)> = vec![
            ("200", status(200), MULTI, Decision::Delivered),
            ("204", status(204), MULTI, Decision::Delivered),
            ("400", status(400), MULTI, dead(DeadReason::Refused)),
            ("401", status(401), MULTI, dead(DeadReason::Refused)),
            ("403", status(403), MULTI, dead(DeadReason::Refused)),
            ("404", status(404), MULTI, dead(DeadReason::Refused)),
            ("408", status(408), MULTI, retry(500, true)),
            (
                "413 single",
                status(413),
                b"a v=1 1\n",
                dead(DeadReason::TooLarge),
            ),
            (
                "413 single, string",
                status(413),
                ONE_STRING,
                dead(DeadReason::TooLarge),
            ),
            (
                "413 multi",
                status(413),
                MULTI,
                Decision::Split {
                    at: 16,
                    plain: None,
                },
            ),
            (
                "413 multi-line string field",
                status(413),
                STRING,
                Decision::Split {
                    at: 42,
                    plain: None,
                },
            ),
            ("422", status(422), MULTI, dead(DeadReason::Refused)),
            ("429", status(429), MULTI, retry(500, false)),
            ("429 seconds", ra(b"120"), MULTI, retry(120_000, false)),
            ("429 padded", ra(b" 7 "), MULTI, retry(7_000, false)),
            (
                "429 HTTP date",
                ra(b"Wed, 21 Oct 2015 07:29:30 GMT"),
                MULTI,
                retry(90_000, false),
            ),
            (
                "429 past date",
                ra(b"Wed, 21 Oct 2015 07:00:00 GMT"),
                MULTI,
                retry(500, false),
            ),
            ("429 garbage", ra(b"soon"), MULTI, retry(500, false)),
            ("429 negative", ra(b"-5"), MULTI, retry(500, false)),
            (
                "429 huge",
                ra(b"99999999999999999999999"),
                MULTI,
                retry(300_000, false),
            ),
            ("500", status(500), MULTI, retry(500, true)),
            ("502", status(502), MULTI, retry(500, false)),
            ("503", status(503), MULTI, retry(500, false)),
            ("504", status(504), MULTI, retry(500, false)),
            ("507", status(507), MULTI, retry(500, true)),
            ("302", status(302), MULTI, retry(500, true)),
            ("405", status(405), MULTI, dead(DeadReason::Refused)),
            (
                "connection error",
                Answer::Unreachable,
                MULTI,
                retry(500, false),
            ),
            ("timeout", Answer::Timeout, MULTI, retry(500, false)),
        ];
        for (name, answer, body, want) in rows {
            assert_eq!(decide(answer, body), want, "{name}");
        }
    }

    #[test]
    fn fallback_holds_busy_and_failing_answers_only() {
        let held: Vec<u16> = (100..600).filter(|&s| fallback_holds(s)).collect();
        assert_eq!(held, [429].into_iter().chain(500..600).collect::<Vec<_>>());
    }

    #[test]
    fn split_halves_are_whole_logical_lines() {
        let Decision::Split { at, .. } = decide(status(413), STRING) else {
            panic!()
        };
        let (a, b) = STRING.split_at(at);
        assert_eq!(a, b"log msg=\"panic:\nat main.go:1\nat x.go:2\" 1\n");
        assert_eq!(b, b"log msg=\"ok\" 2\n");
        // An escaped newline joins two physical lines into one logical line.
        assert_eq!(split_point(b"a v=1 1\\\nb v=2\n"), None);
        // Blank lines and comments are not a half of their own.
        assert_eq!(split_point(b"a v=1\n\n\n\n\n\n# note\n\n"), None);
        assert_eq!(split_point(b"# c\na v=1\n   \nb v=2"), Some(14));
        assert_eq!(split_point(b""), None);
        // Nearest the middle, not the first.
        assert_eq!(
            split_point(b"a v=1\nb v=2\nc v=3\nd v=4\ne v=5\n"),
            Some(12)
        );
    }

    #[test]
    fn gzip_413_is_split_on_the_decoded_body() {
        let mut body = gzip::compress(b"a v=1 1\nb v=2 2\n");
        body.extend(gzip::compress(b"c v=3 3\nd v=4 4\n"));
        let batch = |ce: &'static [u8], body| Batch {
            body,
            content_encoding: Some(ce),
        };
        let p = Policy::default();
        let h = History::default();
        let d = classify(&status(413), &batch(b"gzip", &body), &h, NOW, 0.0, &p);
        assert_eq!(
            d,
            Decision::Split {
                at: 16,
                plain: Some(MULTI.to_vec())
            }
        );
        let bad = &body[..body.len() - 3];
        let d = classify(&status(413), &batch(b"gzip", bad), &h, NOW, 0.0, &p);
        assert_eq!(d, dead(DeadReason::Undecodable));
        // Past the split limit: not decoded, kept whole.
        let small = Policy {
            split_limit: 8,
            ..p
        };
        let d = classify(&status(413), &batch(b"gzip", &body), &h, NOW, 0.0, &small);
        assert_eq!(d, dead(DeadReason::Undecodable));
        // Not gzip to InfluxDB (`GZIP` is not `gzip`): plain text, split as it is.
        let d = classify(&status(413), &batch(b"GZIP", MULTI), &h, NOW, 0.0, &p);
        assert_eq!(
            d,
            Decision::Split {
                at: 16,
                plain: None
            }
        );
    }

    #[test]
    fn a_poison_batch_becomes_a_dead_letter_after_the_cap() {
        let p = Policy::default();
        let batch = Batch {
            body: MULTI,
            content_encoding: None,
        };
        let mut h = History::default();
        let mut now = NOW;
        let mut n = 0;
        loop {
            let d = classify(&status(500), &batch, &h, now, 0.5, &p);
            if d == dead(DeadReason::GaveUp) {
                break;
            }
            let Decision::Retry { after_ms, strike } = d else {
                panic!("{d:?}")
            };
            assert!(strike);
            h.record(&d, now);
            now += after_ms;
            n += 1;
            assert!(n < 100, "never gave up");
        }
        assert!(h.strikes + 1 >= p.max_strikes);
        assert!(now - NOW >= p.max_strike_age_ms);
        // An outage (no connection, 503) never strikes, so it never gives up.
        let mut h = History::default();
        for i in 0..1000u64 {
            for a in [
                Answer::Unreachable,
                Answer::Timeout,
                status(503),
                status(429),
            ] {
                let d = classify(&a, &batch, &h, NOW + i * 300_000, 0.5, &p);
                assert!(matches!(d, Decision::Retry { strike: false, .. }));
                h.record(&d, NOW);
            }
        }
        assert_eq!(h.strikes, 0);
    }

    #[test]
    fn a_rotated_token_of_the_door_holds_batches_without_parking_them() {
        let relay = Policy {
            own_credentials: true,
            ..Policy::default()
        };
        let batch = Batch {
            body: MULTI,
            content_encoding: None,
        };
        let mut h = History::default();
        let mut now = NOW;
        for _ in 0..500 {
            for s in [401, 403] {
                let d = classify(&status(s), &batch, &h, now, 0.0, &relay);
                let Decision::Retry { after_ms, strike } = d else {
                    panic!("{d:?}")
                };
                assert!(after_ms >= 60_000 && !strike);
                h.record(&d, now);
                now += after_ms;
            }
        }
        // A Retry-After longer than the floor is honoured too.
        let ra = Answer::Status {
            status: 401,
            retry_after: Some(b"120"),
        };
        let d = classify(&ra, &batch, &History::default(), NOW, 0.0, &relay);
        assert_eq!(d, retry(120_000, false));
    }

    #[test]
    fn backoff_doubles_with_jitter_up_to_the_cap() {
        assert_eq!(backoff_ms(0, 1000, 300_000, 0.0), 500);
        assert_eq!(backoff_ms(0, 1000, 300_000, 0.999_999), 999);
        assert_eq!(backoff_ms(3, 1000, 300_000, 0.0), 4000);
        assert_eq!(backoff_ms(40, 1000, 300_000, 0.0), 150_000);
        assert_eq!(backoff_ms(u32::MAX, u64::MAX, u64::MAX, 1.0), u64::MAX);
        assert_eq!(backoff_ms(2, 1000, 300_000, f64::NAN), 2000);
        assert_eq!(backoff_ms(2, 1000, 300_000, -3.0), 2000);
        for i in 0..100 {
            let w = backoff_ms(5, 100, 300_000, f64::from(i) / 100.0);
            assert!((1600..=3200).contains(&w), "{w}");
        }
    }

    #[test]
    fn retry_after_values() {
        let ra = |v: &[u8]| retry_after_ms(v, NOW);
        assert_eq!(ra(b"0"), Some(0));
        assert_eq!(ra(b"300"), Some(300_000));
        assert_eq!(ra(b"301"), Some(300_000));
        assert_eq!(ra(b"Wed, 21 Oct 2015 07:28:01 GMT"), Some(1000));
        assert_eq!(ra(b"Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(ra(b"Sun, 06 Nov 1994 08:49:37 GMT"), Some(0));
        for bad in [
            &b""[..],
            b" ",
            b"1.5",
            b"+3",
            b"0x10",
            b"Tue, 21 Oct 2015 07:29:00 GMT", // wrong weekday
            b"Sat, 31 Feb 2015 07:29:00 GMT", // no such day
            b"Wed, 21 Oct 2015 25:29:00 GMT",
            b"Wed, 21 Oct 2015 07:29:00 UTC",
            b"Wednesday, 21-Oct-15 07:29:00 GMT",
            b"Wed Oct 21 07:29:00 2015",
            b"Wed, 21 Oct 2015 07:29:00 GMT trailing",
        ] {
            assert_eq!(ra(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn batch_ids() {
        assert_eq!(batch_id(None), None);
        assert_eq!(batch_id(Some(b"short")), None);
        let id = b"0123456789abcdef0123456789ABCDEF";
        assert_eq!(batch_id(Some(id)), Some(&id[..]));
        assert_eq!(batch_id(Some(b"0123456789abcdef.1")), None);
        assert_eq!(batch_id(Some(&[b'a'; 65])), None);
        assert_eq!(batch_id(Some(&[b'a'; 64])), Some(&[b'a'; 64][..]));
    }
}
