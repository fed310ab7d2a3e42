//! The fast parser against InfluxDB's algorithm (the reference parser) on arbitrary bodies:
//! the same points (floats by their bits), the same errors at the same places; and the
//! points of `read_batch` (the parser loop compiled for x86-64-v3 where the CPU has it) are
//! those of `Parser::next_item` (the portable build).
#![no_main]

use libfuzzer_sys::fuzz_target;
use linegate_core::{read_batch, FieldValue, Item, ParseOptions, Parser, Point, Precision};

fn point(p: &Point<'_>) -> String {
    let fields: Vec<String> = p
        .fields()
        .iter()
        .map(|f| match f.value() {
            FieldValue::Float(v) => format!("{:?}={:x}", f.raw_key(), v.to_bits()),
            v => format!("{:?}={:?}", f.raw_key(), v),
        })
        .collect();
    format!(
        "{:?} {:?} {:?} {} {}",
        p.raw_measurement(),
        p.tags(),
        fields,
        p.time(),
        p.line()
    )
}

fn seen(mut p: Parser<'_>) -> (Vec<String>, u64) {
    let mut out = Vec::new();
    while let Some(item) = p.next_item() {
        out.push(match item {
            Item::Point(p) => point(p),
            Item::Error(e) => format!("{e:?}"),
        });
    }
    (out, p.physical_lines())
}

/// The points `read_batch` hands out: its loop is the copy compiled for x86-64-v3 where the
/// CPU has it, `Parser::next_item` the portable one.
fn batch_points(body: &[u8], opts: &ParseOptions) -> Vec<String> {
    let mut out = Vec::new();
    read_batch(body, opts, 1 << 12, |p| out.push(point(p)));
    out
}

fuzz_target!(|data: &[u8]| {
    let precision = match data.first().map(|b| b & 3) {
        Some(1) => Precision::Us,
        Some(2) => Precision::Ms,
        Some(3) => Precision::S,
        _ => Precision::Ns,
    };
    let opts = ParseOptions::new(precision, 1_700_000_000_123_456_789);
    let fast = seen(Parser::new(data, &opts));
    assert_eq!(fast, seen(Parser::reference_only(data, &opts)));
    let points: Vec<&String> = fast
        .0
        .iter()
        .filter(|s| !s.starts_with("LineError"))
        .collect();
    assert_eq!(points, batch_points(data, &opts).iter().collect::<Vec<_>>());
    // The body twice: the second copy's lines find their keys in the fast parser's key
    // cache (the bytes of the first copy's keys), the path the cpu and Telegraf bodies take.
    let mut twice = data.to_vec();
    twice.push(b'\n');
    twice.extend_from_slice(data);
    assert_eq!(
        seen(Parser::new(&twice, &opts)),
        seen(Parser::reference_only(&twice, &opts))
    );
});
