//! The fast parser against InfluxDB's algorithm (the reference parser) on arbitrary bodies:
//! the same points (floats by their bits), the same errors at the same places.
#![no_main]

use libfuzzer_sys::fuzz_target;
use linegate_core::{FieldValue, Item, ParseOptions, Parser, Precision};

fn seen(mut p: Parser<'_>) -> (Vec<String>, u64) {
    let mut out = Vec::new();
    while let Some(item) = p.next_item() {
        out.push(match item {
            Item::Point(p) => {
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
            Item::Error(e) => format!("{e:?}"),
        });
    }
    (out, p.physical_lines())
}

fuzz_target!(|data: &[u8]| {
    let precision = match data.first().map(|b| b & 3) {
        Some(1) => Precision::Us,
        Some(2) => Precision::Ms,
        Some(3) => Precision::S,
        _ => Precision::Ns,
    };
    let opts = ParseOptions::new(precision, 1_700_000_000_123_456_789);
    assert_eq!(
        seen(Parser::new(data, &opts)),
        seen(Parser::reference_only(data, &opts))
    );
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
