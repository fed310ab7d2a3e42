//! The policies that cut a body, on arbitrary input. A partial write's split (spec D.1) must
//! agree with the whole-batch check (points, rejections, the 400) and its forwarded lines,
//! sent again, must be accepted whole; the incremental checker must split as the one-shot
//! split does; a 413 split (core's delivery policy) must cut on a logical line boundary, so
//! the two halves read as the whole did. The series quota's memo (a line's series section
//! as written → its series hash) must give every point the hash of its series key, with a
//! memo kept across inputs and one of two entries (churned by every input).
#![no_main]

use std::cell::RefCell;

use libfuzzer_sys::fuzz_target;
use linegate_core::delivery::split_point;
use linegate_core::known::{self, KnownSet};
use linegate_core::partial::{split_batch, Decision, DEFAULT_KEEP};
use linegate_core::quota::{point_series_hash, series_hash, BatchSeries, SeriesMemo};
use linegate_core::{read_batch, ParseOptions, Precision};

const NOW: i64 = 1_700_000_000_123_456_789;
const CAP: usize = 1 << 20;

thread_local! {
    static MEMO: RefCell<SeriesMemo> = RefCell::new(SeriesMemo::with_capacity(1 << 12));
    // Two trace positions and 128 bytes of arena, kept across inputs: the trace's
    // compaction and refusals, and replays of the input before.
    static TINY: RefCell<SeriesMemo> = RefCell::new(SeriesMemo::with_capacity(2));
    // Known series kept across inputs: its answers without lookups (a batch replaying one
    // found known) against the lookups themselves.
    static KNOWN: RefCell<KnownSet> = RefCell::new(KnownSet::new(1 << 10));
}

fuzz_target!(|body: &[u8]| {
    let opts = ParseOptions::new(Precision::Ns, NOW);
    let (mut tiny, mut plain, mut via, mut via_tiny) = (
        SeriesMemo::with_capacity(2),
        BatchSeries::new(),
        BatchSeries::new(),
        BatchSeries::new(),
    );
    let whole = MEMO.with_borrow_mut(|memo| {
        TINY.with_borrow_mut(|small| {
            read_batch(body, &opts, CAP, |p| {
                let want = series_hash(&p.series_key());
                assert_eq!(point_series_hash(p), want);
                assert_eq!(memo.series_hash(p), want);
                assert_eq!(tiny.series_hash(p), want);
                plain.push(p);
                via.push_memo(p, memo);
                via_tiny.push_memo(p, small);
            })
        })
    });
    for v in [&via, &via_tiny] {
        assert_eq!((&v.hashes, &v.points), (&plain.hashes, &plain.points));
    }
    KNOWN.with_borrow_mut(|known| {
        let scope = known::scope(&body[..body.len().min(1)]);
        let want: Vec<u32> = known
            .unknown_in(scope, &via.hashes)
            .map(|i| i as u32)
            .collect();
        assert_eq!(known.unknown_of(scope, &via), want);
        // Half the inputs are admitted (then known to the next ones).
        if body.first().is_some_and(|b| b & 1 == 0) {
            known.remember_of(scope, &via);
            assert!(known.unknown_of(scope, &via).is_empty() || via.hashes.len() > 1 << 10);
        }
    });
    let (report, split) = split_batch(body, &opts, CAP, DEFAULT_KEEP, |_| {});
    assert_eq!(
        (report.points, report.rejected),
        (whole.points, whole.rejected)
    );
    assert_eq!(report.error_body(), whole.error_body());
    assert_eq!(
        (split.accepted, split.rejected),
        (whole.points, whole.rejected)
    );
    assert_eq!(
        split.kept.len() as u64,
        split.rejected,
        "nothing past the bound here"
    );

    // The accepted lines are accepted whole when sent again, each one a point. Spec D.1.1
    // forwards a line from its first byte that is not whitespace; where a line began with
    // whitespace, InfluxDB's line scanner had counted that space as the field section's start
    // (a quote after it opens a string that may hold a LF), so without it the same bytes can
    // end sooner. Such bodies keep the spec's bytes and skip this check.
    let indented = body
        .split(|&b| b == b'\n')
        .any(|l| matches!(l.first(), Some(b' ' | b'\t' | 0)));
    if !indented {
        let again = read_batch(&split.body, &opts, CAP, |_| {});
        assert!(
            again.is_ok(),
            "forwarded lines rejected: {:?}",
            again.error_body()
        );
        assert_eq!(again.points, split.accepted);
    }

    match split.decision() {
        Decision::Forward => assert!(whole.is_ok()),
        Decision::Reject(r) => {
            assert_eq!(split.accepted, 0);
            assert_eq!(Some(r.body), whole.error_body());
        }
        Decision::Partial(r) => {
            assert!(split.accepted > 0 && split.rejected > 0);
            assert_eq!(r.status, 400);
            assert_eq!(r.line, whole.first_error_line());
        }
    }

    if let Some(at) = split_point(body) {
        assert!(
            at > 0 && at < body.len() && body[at - 1] == b'\n',
            "cut at {at}"
        );
        let a = read_batch(&body[..at], &opts, CAP, |_| {});
        let b = read_batch(&body[at..], &opts, CAP, |_| {});
        assert_eq!(
            a.points + b.points,
            whole.points,
            "a cut inside a logical line"
        );
        assert_eq!(a.rejected + b.rejected, whole.rejected);
        assert!(
            a.points + a.rejected > 0 && b.points + b.rejected > 0,
            "an empty half"
        );
    }
});
