//! The check without points (`check_batch`: floats validated, not converted where their
//! value cannot change the answer) against the same read with every float converted
//! (`check_batch_with_values`, i.e. `read_batch`), on arbitrary bodies: the same report —
//! points, lines, rejections, the first error and the whole message; and the incremental
//! `Checker` without points (and with points read for their keys only,
//! `Checker::without_values`) against `validate`, byte for byte; and `check_batch` through
//! the portable parser loop (`check_batch_portable`) against the one compiled for
//! x86-64-v3.
#![no_main]

use libfuzzer_sys::fuzz_target;
use linegate_core::{
    check_batch, check_batch_portable, check_batch_with_values, validate, BatchReport, Checker,
    ParseOptions, Precision, ValidateOptions,
};

fn key(r: &BatchReport) -> String {
    format!(
        "{} {} {} {:?} {:?} {:?}",
        r.points,
        r.lines,
        r.rejected,
        r.first_error,
        r.errors,
        r.message.escaped()
    )
}

fuzz_target!(|data: &[u8]| {
    let precision = match data.first().map(|b| b & 3) {
        Some(1) => Precision::Us,
        Some(2) => Precision::Ms,
        Some(3) => Precision::S,
        _ => Precision::Ns,
    };
    let opts = ParseOptions::new(precision, 1_700_000_000_123_456_789);
    let checked = key(&check_batch(data, &opts, 1 << 12));
    assert_eq!(checked, key(&check_batch_with_values(data, &opts, 1 << 12)));
    // The loop compiled for x86-64-v3 (taken above where the CPU has it) and the portable one.
    assert_eq!(checked, key(&check_batch_portable(data, &opts, 1 << 12)));
    let vopts = ValidateOptions::default();
    let mut want_seen = Vec::new();
    let want = validate(data, &vopts, |p| {
        want_seen.push((p.line(), p.fields().len()))
    });
    let piece = 1 + data.first().map_or(0, |&b| b as usize) * 3;
    // Without a callback, and with one that reads keys only (the package's Checker).
    for keys in [false, true] {
        let mut seen = Vec::new();
        let mut c = Checker::new(&vopts);
        if keys {
            c = c.without_values();
        }
        for chunk in data.chunks(piece) {
            if keys {
                c.push_with(chunk, &mut |p| seen.push((p.line(), p.fields().len())));
            } else {
                c.push(chunk);
            }
        }
        let got = c.finish_with(&mut |p| seen.push((p.line(), p.fields().len())));
        assert_eq!(
            (got.status, got.points, got.line, &got.body),
            (want.status, want.points, want.line, &want.body)
        );
        if keys {
            assert_eq!(seen, want_seen);
        }
    }
});
