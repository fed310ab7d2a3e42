//! Property tests: the fast path agrees with InfluxDB's algorithm (the reference parser) on
//! every input; points written as line protocol read back the same; mutated batches never
//! panic and always get a verdict.

use linegate_core::{
    check_batch, check_batch_portable, check_request, read_batch, read_batch_split_at, BatchReport,
    FieldValue, Item, Limits, ParseOptions, Parser, Point, Precision, Request, Verdict,
};
use proptest::prelude::*;

/// A point or an error, in a form where floats compare by their bits.
#[derive(Debug, PartialEq)]
enum Seen {
    Point {
        measurement: Vec<u8>,
        tags: Vec<(Vec<u8>, Vec<u8>)>,
        fields: Vec<(Vec<u8>, String)>,
        time: i64,
        line: u64,
    },
    Error(linegate_core::LineError),
}

fn value_repr(v: FieldValue<'_>) -> String {
    match v {
        FieldValue::Float(f) => format!("float:{:016x}", f.to_bits()),
        FieldValue::Integer(i) => format!("int:{i}"),
        FieldValue::Unsigned(u) => format!("uint:{u}"),
        FieldValue::Boolean(b) => format!("bool:{b}"),
        FieldValue::String(s) => format!("str:{:?}", s.raw()),
    }
}

fn seen_point(p: &Point<'_>) -> Seen {
    Seen::Point {
        measurement: p.raw_measurement().to_vec(),
        tags: p
            .tags()
            .iter()
            .map(|t| (t.raw_key().to_vec(), t.raw_value().to_vec()))
            .collect(),
        fields: p
            .fields()
            .iter()
            .map(|f| (f.raw_key().to_vec(), value_repr(f.value())))
            .collect(),
        time: p.time(),
        line: p.line(),
    }
}

fn items(mut p: Parser<'_>) -> (Vec<Seen>, u64) {
    let mut out = Vec::new();
    while let Some(item) = p.next_item() {
        out.push(match item {
            Item::Point(p) => seen_point(p),
            Item::Error(e) => Seen::Error(e),
        });
    }
    (out, p.physical_lines())
}

fn agree(body: &[u8], precision: Precision) {
    let opts = ParseOptions::new(precision, 1_700_000_000_123_456_789);
    let fast = items(Parser::new(body, &opts));
    let reference = items(Parser::reference_only(body, &opts));
    assert_eq!(fast, reference, "body {:?}", String::from_utf8_lossy(body));
    // `read_batch` and `check_batch` run the parser loop compiled for x86-64-v3 where the CPU
    // has it (`Parser::next_item` is the portable build): the same points and reports.
    let mut points = Vec::new();
    let report = read_batch(body, &opts, 1 << 12, |p| points.push(seen_point(p)));
    let want: Vec<&Seen> = fast
        .0
        .iter()
        .filter(|s| matches!(s, Seen::Point { .. }))
        .collect();
    assert_eq!(points.iter().collect::<Vec<_>>(), want);
    let checked = check_batch(body, &opts, 1 << 12);
    assert!(same_report(&report, &checked));
    assert!(same_report(
        &checked,
        &check_batch_portable(body, &opts, 1 << 12)
    ));
}

/// Pieces that exercise every scanner rule: delimiters, escapes, quotes, numbers, booleans.
fn piece() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"m".to_vec()),
        Just(b"cpu".to_vec()),
        Just(b",".to_vec()),
        Just(b" ".to_vec()),
        Just(b"=".to_vec()),
        Just(b"\\".to_vec()),
        Just(b"\"".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\t".to_vec()),
        Just(b"\0".to_vec()),
        Just(b"#".to_vec()),
        Just(b"t=a".to_vec()),
        Just(b",host=x".to_vec()),
        Just(b" f=1".to_vec()),
        Just(b"f=1i".to_vec()),
        Just(b"u=18446744073709551615u".to_vec()),
        Just(b"g=-1.5e-3".to_vec()),
        Just(b"b=true".to_vec()),
        Just(b"s=\"a \\\" b\"".to_vec()),
        Just(b" 1700000000000000000".to_vec()),
        Just(b" -1".to_vec()),
        Just(b"9223372036854775807".to_vec()),
        Just(b"time".to_vec()),
        Just(b"_field".to_vec()),
        Just("é€".as_bytes().to_vec()),
        Just(vec![0xff, 0xe2, 0x82]),
        prop::collection::vec(any::<u8>(), 1..4),
    ]
}

fn line() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        // A valid-looking line with a few pieces spliced in.
        (prop::collection::vec(piece(), 0..4), 0usize..6).prop_map(|(extra, at)| {
            let mut base: Vec<Vec<u8>> = vec![
                b"m".to_vec(),
                b",t=a".to_vec(),
                b" f=1".to_vec(),
                b",g=\"x\"".to_vec(),
                b" 1000".to_vec(),
            ];
            let at = at.min(base.len());
            for (k, e) in extra.into_iter().enumerate() {
                base.insert((at + k).min(base.len()), e);
            }
            base.concat()
        }),
        prop::collection::vec(piece(), 1..12).prop_map(|v| v.concat()),
    ]
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(line(), 1..6).prop_map(|ls| ls.join(&b"\n"[..]))
}

fn precision() -> impl Strategy<Value = Precision> {
    prop_oneof![
        Just(Precision::Ns),
        Just(Precision::Us),
        Just(Precision::Ms),
        Just(Precision::S)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn fast_path_agrees_with_reference(body in body(), p in precision()) {
        agree(&body, p);
    }

    #[test]
    fn mutated_batches_get_a_verdict(
        body in body(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
    ) {
        let mut body = body;
        for (i, b) in flips {
            if !body.is_empty() {
                let k = i.index(body.len());
                body[k] = b;
            }
        }
        agree(&body, Precision::Ns);
        let req = Request {
            query: b"org=o&bucket=b",
            authorization: Some(b"Token t"),
            content_encoding: None,
            body: &body,
        };
        match check_request(&req, &Limits::default(), 0) {
            Verdict::Forward { .. } => {}
            Verdict::Reject(r) => {
                prop_assert_eq!(r.status, 400);
                let v: serde_json::Value = serde_json::from_slice(&r.body).expect("body is JSON");
                prop_assert!(v["line"].as_u64().unwrap() >= 1);
            }
        }
    }
}

// ---- a body read in two halves gives the report of one pass ----

fn in_turn(a: &mut (dyn FnMut() + Send), b: &mut (dyn FnMut() + Send)) {
    b();
    a();
}

fn on_two_threads(a: &mut (dyn FnMut() + Send), b: &mut (dyn FnMut() + Send)) {
    std::thread::scope(|s| {
        s.spawn(b);
        a();
    });
}

fn same_report(x: &BatchReport, y: &BatchReport) -> bool {
    x.points == y.points
        && x.lines == y.lines
        && x.rejected == y.rejected
        && x.first_error == y.first_error
        && x.errors == y.errors
        && x.message.escaped() == y.message.escaped()
        && x.error_body() == y.error_body()
}

/// Splits `body` after every LF in it and compares with one pass.
fn split_agrees(body: &[u8], max_message: usize) {
    let opts = ParseOptions::new(Precision::Ns, 1_700_000_000_123_456_789);
    let whole = read_batch(body, &opts, max_message, |_| {});
    for (i, _) in body.iter().enumerate().filter(|(_, &b)| b == b'\n') {
        let halves = read_batch_split_at(body, &opts, max_message, i + 1, &in_turn);
        assert!(
            same_report(&whole, &halves),
            "split at {} of {:?} (cap {max_message}):\n{whole:?}\n{halves:?}",
            i + 1,
            String::from_utf8_lossy(body)
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn split_reading_agrees(body in prop::collection::vec(line(), 1..10).prop_map(|ls| ls.join(&b"\n"[..])),
                            cap in prop_oneof![Just(1usize << 20), 0usize..200]) {
        split_agrees(&body, cap);
    }
}

#[test]
fn split_reading_on_two_threads() {
    let mut body = Vec::new();
    for i in 0..20_000 {
        body.extend_from_slice(format!("m,t=a f={i}i,s=\"x\" {i}\n").as_bytes());
        if i % 997 == 0 {
            body.extend_from_slice(b"bad line\n# comment\n\n");
        }
    }
    let opts = ParseOptions::new(Precision::Ns, 0);
    for cap in [1 << 20, 300] {
        let whole = read_batch(&body, &opts, cap, |_| {});
        let halves = linegate_core::read_batch_split(&body, &opts, cap, &on_two_threads);
        assert!(whole.rejected > 0 && whole.points == 20_000);
        assert!(same_report(&whole, &halves));
    }
    // An open quote across the middle: the first half reads on alone, same answer.
    let mid = body.len() / 2;
    body.insert(mid, b'"');
    let whole = read_batch(&body, &opts, 1 << 20, |_| {});
    let halves = linegate_core::read_batch_split(&body, &opts, 1 << 20, &on_two_threads);
    assert!(same_report(&whole, &halves));
}

// ---- round trip: a test-side writer renders points, the parser reads them back ----

#[derive(Clone, Debug)]
enum Val {
    Float(f64),
    Int(i64),
    Uint(u64),
    Str(String),
    Bool(bool),
}

#[derive(Clone, Debug)]
struct P {
    measurement: String,
    tags: Vec<(String, String)>,
    fields: Vec<(String, Val)>,
    time: Option<i64>,
}

fn escape(s: &str, chars: &[char]) -> String {
    let mut o = String::new();
    for c in s.chars() {
        if chars.contains(&c) {
            o.push('\\');
        }
        o.push(c);
    }
    o
}

fn render(p: &P) -> String {
    let mut s = escape(&p.measurement, &[',', ' ']);
    for (k, v) in &p.tags {
        s += &format!(
            ",{}={}",
            escape(k, &[',', ' ', '=']),
            escape(v, &[',', ' ', '='])
        );
    }
    s.push(' ');
    let fields: Vec<String> = p
        .fields
        .iter()
        .map(|(k, v)| {
            let v = match v {
                Val::Float(f) => format!("{f:?}"),
                Val::Int(i) => format!("{i}i"),
                Val::Uint(u) => format!("{u}u"),
                Val::Str(t) => format!("\"{}\"", t.replace('\\', "\\\\").replace('"', "\\\"")),
                Val::Bool(b) => b.to_string(),
            };
            format!("{}={v}", escape(k, &[',', ' ', '=']))
        })
        .collect();
    s += &fields.join(",");
    if let Some(t) = p.time {
        s += &format!(" {t}");
    }
    s
}

/// Names as people write them: no backslashes, nothing InfluxDB reserves.
fn name() -> impl Strategy<Value = String> {
    "[a-zA-Z_][a-zA-Z0-9_ ,=.é東-]{0,10}[a-zA-Z0-9]".prop_filter("not reserved", |s| {
        !matches!(s.as_str(), "time" | "_field" | "_measurement")
    })
}

fn val() -> impl Strategy<Value = Val> {
    prop_oneof![
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Val::Float),
        any::<i64>().prop_map(Val::Int),
        any::<u64>().prop_map(Val::Uint),
        "[ -~é\n\\\\\"]{0,20}".prop_map(Val::Str),
        any::<bool>().prop_map(Val::Bool),
    ]
}

fn point() -> impl Strategy<Value = P> {
    (
        name(),
        prop::collection::btree_map(name(), name(), 0..5),
        prop::collection::vec((name(), val()), 1..6),
        prop::option::of(-9_000_000_000_000_000_000i64..9_000_000_000_000_000_000),
    )
        .prop_map(|(measurement, tags, fields, time)| P {
            measurement,
            tags: tags.into_iter().collect(),
            fields,
            time,
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn written_points_read_back(points in prop::collection::vec(point(), 1..8)) {
        let body = points.iter().map(render).collect::<Vec<_>>().join("\n");
        let now = 1_700_000_000_123_456_789;
        let mut got = Vec::new();
        let report = read_batch(
            body.as_bytes(),
            &ParseOptions::new(Precision::Ns, now),
            1 << 20,
            |p| got.push(p.clone()),
        );
        prop_assert!(report.is_ok(), "rejected: {:?}\n{}", report.errors, body);
        prop_assert_eq!(got.len(), points.len());
        for (p, want) in got.iter().zip(&points) {
            prop_assert_eq!(&*p.measurement(), want.measurement.as_bytes());
            let tags: Vec<(Vec<u8>, Vec<u8>)> = p
                .tags()
                .iter()
                .map(|t| (t.key().into_owned(), t.value().into_owned()))
                .collect();
            // InfluxDB sorts tags by their escaped keys.
            let mut want_tags = want.tags.clone();
            want_tags.sort_by_key(|(k, _)| escape(k, &[',', ' ', '=']));
            let want_tags: Vec<(Vec<u8>, Vec<u8>)> = want_tags
                .into_iter()
                .map(|(k, v)| (k.into_bytes(), v.into_bytes()))
                .collect();
            prop_assert_eq!(tags, want_tags);
            prop_assert_eq!(p.fields().len(), want.fields.len());
            for (f, (k, v)) in p.fields().iter().zip(&want.fields) {
                prop_assert_eq!(&*f.key(), k.as_bytes());
                let ok = match (f.value(), v) {
                    (FieldValue::Float(a), Val::Float(b)) => a.to_bits() == b.to_bits(),
                    (FieldValue::Integer(a), Val::Int(b)) => a == *b,
                    (FieldValue::Unsigned(a), Val::Uint(b)) => a == *b,
                    (FieldValue::Boolean(a), Val::Bool(b)) => a == *b,
                    (FieldValue::String(a), Val::Str(b)) => &*a.unescape() == b.as_bytes(),
                    _ => false,
                };
                prop_assert!(ok, "field {}: {:?} vs {:?}", k, f.value(), v);
            }
            prop_assert_eq!(p.time(), want.time.unwrap_or(now));
        }
        agree(body.as_bytes(), Precision::Ns);
    }
}

/// Every corpus case file and the bench generator's datasets: the two parsers agree.
#[test]
fn agree_on_corpus_and_bench_data() {
    let shared = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared");
    let cases = shared.join("corpus/cases");
    if !cases.is_dir() {
        eprintln!("SKIPPED agree_on_corpus_and_bench_data: ../shared is absent");
        return;
    }
    let mut n = 0;
    for dir in std::fs::read_dir(&cases).unwrap() {
        for f in std::fs::read_dir(dir.unwrap().path()).unwrap() {
            let f = f.unwrap().path();
            if f.extension().is_some_and(|e| e == "lp") {
                let body = std::fs::read(&f).unwrap();
                for p in [Precision::Ns, Precision::Us, Precision::Ms, Precision::S] {
                    agree(&body, p);
                }
                n += 1;
            }
        }
    }
    for ds in ["cpu", "cpuf", "telegraf", "escape"] {
        let out = std::process::Command::new("python3")
            .arg(shared.join("bench/gen.py"))
            .args(["--stdout", ds, "--size-mb", "0.5"])
            .output()
            .expect("run gen.py");
        assert!(out.status.success());
        let report = read_batch(&out.stdout, &ParseOptions::default(), 1 << 20, |_| {});
        assert!(report.is_ok(), "{ds}: every generated line is valid");
        agree(&out.stdout, Precision::Ns);
        n += 1;
    }
    println!("fast path and reference agree on {n} bodies");
}

/// The fast parser's key cache (keys last seen with a measurement, taken again when the same
/// bytes and a `=` follow): lines whose keys repeat, almost repeat, or repeat in another role
/// read as InfluxDB reads them.
#[test]
fn key_cache_agrees_with_reference() {
    let lines: &[&[u8]] = &[
        b"m,b=1,a=2 f=1i,g=2 1",
        b"m,b=1,a=2 f=1i,g=2 2",
        b"m,b=11,a=22 f=11i,g=22 3",
        b"m,b=1,a=2,c=3 f=1i 4",
        b"m,b=1 f=1i 5",
        b"m,b=1,b=2 f=1i 6",
        b"m,b=1,a=2,a=3 f=1i 7",
        b"m,b=1,ab=2 f=1i,fg=2 8",
        b"m,b=1,a f=1i 9",
        b"m,b=1,a=2 f 10",
        b"m,b=1,a=2 f=1i,g 11",
        b"m,b=1,a=2 f=1i,g=2,g=3 12",
        b"m,b\\ x=1,a\\=y=2 f\\ z=1i,g\\,h=2 13",
        b"m,b\\ x=1,a\\=y=2 f\\ z=1i,g\\,h=2 14",
        b"m,b\\ x=1,a\\=y=2 f\\ z=1i,g\\,h=\"s\" 15",
        b"m,b\\\\=1 f=1 16",
        b"m,time=1 f=1 17",
        b"m,b=1,time=2 f=1 18",
        b"m,b=1,a=2 time=1 19",
        b"n,f=1,g=2 b=1,a=2 20",
        b"n,b=1,a=2 f=1,g=2 21",
        b"m,b=1,a=2 f=1i,g=2 22",
        b"m,b=1,a=2 b=1,a=2 23",
        b"m,f=1,g=2 f=1,g=2 24",
        b"m,b=1,a=2 f=1i,g=2",
        b"m,b=1,a=2 f=1i,g=2 ",
        b"m,b=1,a=\"2\" f=1i 25",
        b"m,a_long_tag_key_of_more_than_16=1,b=2 a_long_field_key_of_more_than_16=1 26",
        b"m,a_long_tag_key_of_more_than_16=1,b=2 a_long_field_key_of_more_than_16=1 27",
        b"m,a_long_tag_key_of_more_than_1X=1,b=2 a_long_field_key_of_more_than_1X=1 28",
        b"  m,b=1,a=2 f=1i,g=2 29",
        b"m,b=1,a=2  f=1i,g=2 30",
        b"m\\,x,b=1,a=2 f=1i 31",
        b"m\\,x,b=1,a=2 f=1i 32",
        b"m,b=1,a=2 f=1i,g=2 33\\",
        b"m,b=1,a=2 f=1i,g=2\\",
        b"m,b=1,a=2\\",
        b"m,b=1,a=",
        b"m,b=1,a",
        b"m,b=1,",
    ];
    for p in [Precision::Ns, Precision::S] {
        agree(&lines.join(&b"\n"[..]), p);
        // Every line after every other one, and each cut short at every byte (the cached
        // keys reaching the body's end).
        for a in lines {
            for b in lines {
                let body = [*a, *b].join(&b"\n"[..]);
                for cut in 0..=body.len() {
                    agree(&body[..cut], p);
                }
            }
        }
    }
}
