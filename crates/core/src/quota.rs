//! Write quotas (spec Part D.2), as pure decisions over the counts and sets a door keeps:
//! who the tenant is, the fixed 300 s window and its `Retry-After`, the rate check made
//! before a body is read, and which new series a bucket admits (the series of a batch and
//! their hashes: [`crate::series`], re-exported here).
//! The doors (backend, Worker, a user's Worker through the package) keep the counters and
//! series sets in their own durable stores and make the check and the count atomic there.

use crate::answers::Rejection;
use crate::partial::{RejectedLine, Split};
use crate::pipeline::{self, Edge, Endpoint, Head};
use crate::query::{encode_value, Query};

pub use crate::series::{
    point_series_hash, series_hash, series_hash_of, series_hash_v1, series_hash_v2, BatchSeries,
    SeriesMemo, SERIES_HASH_VERSION,
};

/// Length of a rate window in seconds; windows are aligned to multiples of it in Unix time.
pub const WINDOW_SECS: u64 = 300;

/// InfluxDB Cloud's text for the series-cardinality 429 (an answer text: kept in `answers`).
pub use crate::answers::SERIES_MESSAGE;

/// Start (seconds of Unix time) of the window holding `now_ms` (milliseconds of Unix time).
pub fn window_start(now_ms: u64) -> u64 {
    now_ms / 1000 / WINDOW_SECS * WINDOW_SECS
}

/// Whole seconds from `now_ms` to the end of its window, rounded up, at least 1.
pub fn retry_after(now_ms: u64) -> u64 {
    let end_ms = (window_start(now_ms) + WINDOW_SECS) * 1000;
    end_ms.saturating_sub(now_ms).div_ceil(1000).max(1)
}

/// A tenant's count as a store keeps it: the window it belongs to and the bytes in it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// Start of the counted window (seconds of Unix time).
    pub window: u64,
    /// Decoded bytes forwarded or stored for the tenant in that window.
    pub bytes: u64,
}

impl Usage {
    /// Bytes counted in the window holding `now_ms` (a count of an older window is spent).
    pub fn current(self, now_ms: u64) -> u64 {
        if self.window == window_start(now_ms) {
            self.bytes
        } else {
            0
        }
    }

    /// The usage after `bytes` more were forwarded or stored at `now_ms`.
    pub fn add(self, now_ms: u64, bytes: u64) -> Usage {
        Usage {
            window: window_start(now_ms),
            bytes: self.current(now_ms).saturating_add(bytes),
        }
    }
}

/// The rate decision, made before the body is read: a tenant whose count is already at or
/// above `quota` gets the 429 with `Retry-After` to the window's end; otherwise the write
/// goes on (the write that takes the count over the quota is still accepted).
pub fn check_rate(tenant: &[u8], usage: Usage, quota: u64, now_ms: u64) -> Result<(), Rejection> {
    if usage.current(now_ms) >= quota {
        Err(Rejection::rate_quota(tenant, retry_after(now_ms)))
    } else {
        Ok(())
    }
}

/// The backend's tenant: the org of the token, as the 16 hex digits of its ID (how Cloud
/// prints it in the 429).
pub fn org_tenant(org_id: u64) -> String {
    format!("{org_id:016x}")
}

/// The Worker's tenant, which cannot know the token's org: the org as the request names it
/// (`orgID`, else `org`; on `/write`, `db`).
pub fn edge_tenant(endpoint: Endpoint, query: &[u8]) -> Vec<u8> {
    names(endpoint, &Query::parse(query)).0
}

/// The Worker's name for a destination bucket of the series quota: org and bucket as the
/// request names them (on `/write`, `db` and `rp`), each query-encoded so that the name is
/// text and no two destinations share it.
pub fn edge_bucket(endpoint: Endpoint, query: &[u8]) -> String {
    names(endpoint, &Query::parse(query)).1
}

/// The tenant and the bucket's name, from the query parsed once.
fn names(endpoint: Endpoint, q: &Query<'_>) -> (Vec<u8>, String) {
    let (tenant, head, key, value) = match endpoint {
        Endpoint::V2 => {
            let id = q.get_or_empty("orgID");
            let t = if id.is_empty() {
                q.get_or_empty("org")
            } else {
                id
            };
            (t, "v2 org=", "&bucket=", "bucket")
        }
        Endpoint::V1 => (q.get_or_empty("db"), "v1 db=", "&rp=", "rp"),
    };
    let mut bucket = String::from(head);
    bucket.push_str(&encode_value(tenant));
    bucket.push_str(key);
    bucket.push_str(&encode_value(q.get_or_empty(value)));
    (tenant.to_vec(), bucket)
}

/// What the Worker's quotas need from a request's head: its tenant and its bucket, or
/// `None` when the head itself is answered first (credentials missing, precision, `bucket`
/// or `db`, org: steps that come before the rate quota, spec D.0.3), so that a request
/// InfluxDB rejects from its head is not throttled.
pub fn edge_names(head: &Head<'_>) -> Option<(Vec<u8>, String)> {
    let resolved = pipeline::admit(head, &mut Edge).ok()?;
    let found = names(head.endpoint, &resolved.query);
    resolved.resolve_with(None, &mut Edge).ok()?;
    Some(found)
}

/// What becomes of one distinct series of a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    /// In the bucket's set already: always passes.
    Known,
    /// New, and it fits: admitted (added to the set once the write goes on).
    New,
    /// New, and the bucket is at its quota: its lines do not pass.
    Refused,
}

/// The admission of a batch's distinct series against a bucket's set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Admission {
    /// One fate per distinct series, in input order.
    pub fates: Vec<Fate>,
    /// How many are new and admitted.
    pub new: u64,
    /// How many are new and refused.
    pub refused: u64,
}

impl Admission {
    /// The indices of the series to add to the set: the admitted new ones, or none at all
    /// when the write is not partial and some series was refused (the whole batch is then
    /// answered 429 and nothing is forwarded).
    pub fn to_add(&self, partial: bool) -> Vec<u32> {
        if self.refused > 0 && !partial {
            return Vec::new();
        }
        (self.fates.iter().enumerate())
            .filter(|(_, f)| **f == Fate::New)
            .map(|(i, _)| i as u32)
            .collect()
    }

    /// The indices of the new series that did not fit, in order (the ones whose lines a
    /// partial write rejects, spec D.2 with D.1).
    pub fn refused_at(&self) -> Vec<u32> {
        (self.fates.iter().enumerate())
            .filter(|(_, f)| **f == Fate::Refused)
            .map(|(i, _)| i as u32)
            .collect()
    }

    /// The answer for a write that is not partial: the series 429 when a series was refused.
    pub fn check(&self) -> Result<(), Rejection> {
        if self.refused > 0 {
            Err(Rejection::series_quota())
        } else {
            Ok(())
        }
    }
}

/// Admits new series in input order while the bucket's `count` is below `quota`;
/// `known` says, for each series in turn, whether it is in the bucket's set (known series always pass).
pub fn admit(known: impl IntoIterator<Item = bool>, count: u64, quota: u64) -> Admission {
    let mut count = count;
    let mut new = 0;
    let mut refused = 0;
    let fates = known
        .into_iter()
        .map(|k| {
            if k {
                Fate::Known
            } else if count < quota {
                count += 1;
                new += 1;
                Fate::New
            } else {
                refused += 1;
                Fate::Refused
            }
        })
        .collect();
    Admission {
        fates,
        new,
        refused,
    }
}

impl Admission {
    /// One flag per distinct series: whether it was refused (for [`refuse_series`]).
    pub fn refused_mask(&self) -> Vec<bool> {
        self.fates.iter().map(|f| *f == Fate::Refused).collect()
    }
}

/// Spec D.2 with D.1: in a partial write, the accepted lines of the series that `refused`
/// marks (one flag per distinct series of `series`, as [`Admission::refused_mask`] gives
/// them) become rejected lines, with [`SERIES_MESSAGE`] as their reason, kept with the
/// split's others in line order within `keep` bytes ([`RejectedLine::cost`]); the split's
/// counts, `series` and `series_line` follow, and so does its
/// [`decision`](Split::decision). `series` must be the points of the accepted lines, one per
/// line in input order (as noted while the split was made), and the split's body whole (no
/// part taken); `series` keeps those of the lines left. Returns how many lines moved, or
/// `None` when the lines and points do not match (nothing changed: the door then refuses
/// the batch whole).
pub fn refuse_series(
    split: &mut Split,
    series: &mut BatchSeries,
    refused: &[bool],
    keep: usize,
) -> Option<u64> {
    // Each accepted line's text, by its length, matched to its noted point.
    if split.lens.len() != series.points.len()
        || split.lens.iter().map(|n| n + 1).sum::<usize>() != split.body.len()
    {
        return None;
    }
    let body = &split.body;
    let mut left = Vec::with_capacity(body.len());
    let mut lens = Vec::with_capacity(split.lens.len());
    let mut moved = Vec::new();
    let mut points = BatchSeries::new();
    let mut at = 0;
    for (&n, &(line, i)) in split.lens.iter().zip(&series.points) {
        let text = &body[at..at + n];
        at += n + 1;
        if refused.get(i as usize).copied().unwrap_or(false) {
            moved.push(RejectedLine {
                line,
                text: text.to_vec(),
                reason: SERIES_MESSAGE.as_bytes().to_vec(),
            });
        } else {
            left.extend_from_slice(text);
            left.push(b'\n');
            lens.push(n);
            points.push_hash(line, series.hashes[i as usize]);
        }
    }
    let n = moved.len() as u64;
    if n == 0 {
        return Some(0);
    }
    split.body = left;
    split.lens = lens;
    split.accepted -= n;
    split.rejected += n;
    split.series += n;
    let first = moved[0].line;
    split.series_line = Some(split.series_line.map_or(first, |l| l.min(first)));
    // The kept lines, merged in line order, within the bound.
    let mut spent: usize = split.kept.iter().map(RejectedLine::cost).sum();
    let old = std::mem::take(&mut split.kept);
    let mut old = old.into_iter().peekable();
    for m in moved {
        while let Some(o) = old.next_if(|o| o.line < m.line) {
            split.kept.push(o);
        }
        if spent + m.cost() <= keep {
            spent += m.cost();
            split.kept.push(m);
        }
    }
    split.kept.extend(old);
    *series = points;
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ParseOptions, Precision};

    #[test]
    fn windows_are_aligned_and_retry_after_runs_to_their_end() {
        assert_eq!(window_start(0), 0);
        assert_eq!(window_start(299_999), 0);
        assert_eq!(window_start(300_000), 300);
        assert_eq!(window_start(1_700_000_123_456), 1_700_000_100);
        assert_eq!(retry_after(300_000), 300);
        assert_eq!(retry_after(300_001), 300);
        assert_eq!(retry_after(599_000), 1);
        assert_eq!(retry_after(599_999), 1);
        assert_eq!(retry_after(1_700_000_123_456), 277);
    }

    #[test]
    fn the_rate_is_checked_against_the_current_window_only() {
        let now = 1_000_000;
        let u = Usage::default().add(now, 99);
        assert_eq!(check_rate(b"acme", u, 100, now), Ok(()));
        // The write that crosses the quota was accepted; the next one is answered.
        let u = u.add(now, 50);
        assert_eq!(u.bytes, 149);
        let r = check_rate(b"acme", u, 100, now).unwrap_err();
        assert_eq!(r.status, 429);
        assert_eq!(r.retry_after, Some(200));
        assert_eq!(
            r.body,
            br#"{"code":"too many requests","message":"org acme has exceeded limited_write plan limit"}"#
        );
        assert_eq!(
            r.headers(),
            [
                (
                    "Content-Type",
                    "application/json; charset=utf-8".to_string()
                ),
                ("X-Platform-Error-Code", "too many requests".into()),
                ("Retry-After", "200".into())
            ]
        );
        // The next window starts from zero.
        let later = (window_start(now) + WINDOW_SECS) * 1000;
        assert_eq!(check_rate(b"acme", u, 100, later), Ok(()));
        assert_eq!(u.add(later, 7).bytes, 7);
        // A quota of 0 throttles every write.
        assert!(check_rate(b"acme", Usage::default(), 0, now).is_err());
    }

    #[test]
    fn the_series_answer_has_no_retry_after() {
        let r = Rejection::series_quota();
        assert_eq!(r.status, 429);
        assert_eq!(r.retry_after, None);
        assert_eq!(
            r.body,
            br#"{"code":"too many requests","message":"Series cardinality exceeds your plan's service quota"}"#
        );
    }

    #[test]
    fn tenants_per_door() {
        assert_eq!(org_tenant(0x0a1b), "0000000000000a1b");
        assert_eq!(edge_tenant(Endpoint::V2, b"org=acme&bucket=b"), b"acme");
        assert_eq!(
            edge_tenant(Endpoint::V2, b"org=acme&orgID=0123456789abcdef"),
            b"0123456789abcdef"
        );
        assert_eq!(edge_tenant(Endpoint::V2, b"orgID=&org=a%20b"), b"a b");
        assert_eq!(edge_tenant(Endpoint::V1, b"db=telegraf&org=x"), b"telegraf");
        assert_eq!(
            edge_bucket(Endpoint::V2, b"org=a%26b&bucket=c"),
            "v2 org=a%26b&bucket=c"
        );
        assert_eq!(edge_bucket(Endpoint::V1, b"db=d&rp=r&u=x"), "v1 db=d&rp=r");
        assert_ne!(
            edge_bucket(Endpoint::V2, b"org=a&bucket=b%26bucket%3Dc"),
            edge_bucket(Endpoint::V2, b"org=a%26bucket%3Db&bucket=c")
        );
    }

    #[test]
    fn edge_names_only_for_heads_that_pass() {
        let head = |query: &'static [u8], auth: Option<&'static [u8]>| Head {
            endpoint: Endpoint::V2,
            query,
            authorization: auth,
            content_encoding: None,
        };
        let t = Some(&b"Token x"[..]);
        assert_eq!(
            edge_names(&head(b"org=a&bucket=b", t)),
            Some((b"a".to_vec(), "v2 org=a&bucket=b".into()))
        );
        assert_eq!(edge_names(&head(b"org=a&bucket=b", None)), None);
        assert_eq!(edge_names(&head(b"org=a&bucket=b&precision=h", t)), None);
        assert_eq!(edge_names(&head(b"org=a", t)), None);
        assert_eq!(edge_names(&head(b"bucket=b", t)), None);
    }

    #[test]
    fn new_series_are_admitted_in_input_order() {
        let a = admit([false, true, false, false, true], 8, 10);
        assert_eq!(
            a.fates,
            [
                Fate::New,
                Fate::Known,
                Fate::New,
                Fate::Refused,
                Fate::Known
            ]
        );
        assert_eq!((a.new, a.refused), (2, 1));
        assert_eq!(a.check(), Err(Rejection::series_quota()));
        assert_eq!(a.to_add(false), Vec::<u32>::new());
        assert_eq!(a.to_add(true), [0, 2]);
        assert_eq!(a.refused_at(), [3]);
        // Known series pass even past the quota.
        let a = admit([true, true], 50, 10);
        assert_eq!((a.new, a.refused, a.check()), (0, 0, Ok(())));
        assert!(a.refused_at().is_empty());
    }

    /// A partial split of `body` with its accepted lines' series noted.
    fn split_noting(body: &[u8]) -> (Split, BatchSeries) {
        let mut s = BatchSeries::new();
        let opts = ParseOptions::new(Precision::S, 0);
        let (_, split) = crate::partial::split_batch(body, &opts, 1 << 20, 1 << 20, |p| s.push(p));
        (split, s)
    }

    fn message(r: &Rejection) -> String {
        String::from_utf8(r.body.clone()).unwrap()
    }

    #[test]
    fn partial_writes_reject_exactly_the_lines_of_refused_series() {
        use crate::partial::Decision;
        // Series in order: cpu,h=a (known) · cpu,h=b (new, fits) · cpu,h=c (new, refused).
        let body = b"cpu,h=a v=1 1\n  cpu,h=b v=1 2\ncpu,h=c v=1 3\ncpu,h=c v=2 4\ncpu,h=a v=2 5\n";
        let (mut split, mut s) = split_noting(body);
        assert_eq!(split.decision(), Decision::Forward);
        let a = admit([true, false, false], 9, 10);
        assert_eq!(a.fates, [Fate::Known, Fate::New, Fate::Refused]);
        assert_eq!(a.to_add(true), [1]);
        assert_eq!(
            refuse_series(&mut split, &mut s, &a.refused_mask(), 1 << 20),
            Some(2)
        );
        assert_eq!(split.body, b"cpu,h=a v=1 1\ncpu,h=b v=1 2\ncpu,h=a v=2 5\n");
        assert_eq!((split.accepted, split.rejected, split.series), (3, 2, 2));
        assert_eq!(s.hashes, [series_hash(b"cpu,h=a"), series_hash(b"cpu,h=b")]);
        assert_eq!(s.points, [(1, 0), (2, 1), (5, 0)]);
        let kept: Vec<_> = split
            .kept
            .iter()
            .map(|l| (l.line, l.text.clone()))
            .collect();
        assert_eq!(
            kept,
            [
                (3, b"cpu,h=c v=1 3".to_vec()),
                (4, b"cpu,h=c v=2 4".to_vec())
            ]
        );
        assert_eq!(split.kept[0].reason, SERIES_MESSAGE.as_bytes());
        let Decision::Partial(r) = split.decision() else {
            panic!()
        };
        assert_eq!(
            message(&r),
            r#"{"code":"invalid","message":"partial write error (3 accepted): 2 out of 5 lines rejected\n2 lines of new series rejected: Series cardinality exceeds your plan's service quota","line":3}"#
        );
        assert_eq!((r.status, r.line), (400, Some(3)));
    }

    #[test]
    fn partial_writes_with_parse_errors_and_refused_series() {
        use crate::partial::Decision;
        let body = b"cpu,h=a v=1 1\ncpu,h=c v=1 2\nbad\ncpu,h=a v=2 3\n";
        let (mut split, mut s) = split_noting(body);
        let whole = split.whole.clone().unwrap();
        assert_eq!(
            refuse_series(&mut split, &mut s, &[false, true], 1 << 20),
            Some(1)
        );
        let lines: Vec<_> = split.kept.iter().map(|l| l.line).collect();
        assert_eq!(lines, [2, 3]);
        let Decision::Partial(r) = split.decision() else {
            panic!()
        };
        assert_eq!(
            message(&r),
            r#"{"code":"invalid","message":"partial write error (2 accepted): 2 out of 4 lines rejected\nunable to parse 'bad': missing fields\n1 lines of new series rejected: Series cardinality exceeds your plan's service quota","line":2}"#
        );
        // Removing the first and last lines of the message gives OSS's whole-batch message.
        assert!(message(&whole)
            .contains(r#""message":"unable to parse 'bad': missing fields","line":3}"#));
        // A = 0: the parser's 400 when it rejected a line, else the series 429.
        let (mut split, mut s) = split_noting(b"bad\ncpu,h=c v=1 2\n");
        refuse_series(&mut split, &mut s, &[true], 1 << 20);
        assert_eq!(
            split.decision(),
            Decision::Reject(split.whole.clone().unwrap())
        );
        let (mut split, mut s) = split_noting(b"cpu,h=c v=1 2\ncpu,h=d v=1 2\n");
        assert_eq!(
            refuse_series(&mut split, &mut s, &[true, true], 1 << 20),
            Some(2)
        );
        assert_eq!(
            split.decision(),
            Decision::Reject(Rejection::series_quota())
        );
        // Nothing refused: nothing changes.
        let (mut split, mut s) = split_noting(b"cpu,h=c v=1 2\n");
        assert_eq!(
            refuse_series(&mut split, &mut s, &[false], 1 << 20),
            Some(0)
        );
        assert_eq!(split.decision(), Decision::Forward);
        // The bound: lines past it are counted, not kept.
        let (mut split, mut s) = split_noting(b"cpu,h=c v=1 2\ncpu,h=c v=1 3\ncpu v=1\n");
        let one = 13 + SERIES_MESSAGE.len() + 32;
        refuse_series(&mut split, &mut s, &[true, false], one);
        assert_eq!(
            (split.rejected, split.kept.len(), split.dropped()),
            (2, 1, 1)
        );
    }
}
