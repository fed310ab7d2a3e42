//! The binding layer, run as wasm in Node and in headless Chromium (wasm-bindgen-test):
//! the JS objects it builds carry exactly what linegate-core answers, options are read
//! from JS values as documented, and integers cross as BigInt.
#![cfg(target_arch = "wasm32")]

use js_sys::{Array, BigInt, Function, Object, Reflect, Uint8Array};
use linegate::core::{check_request, Limits, Request, Verdict};
use linegate::{answer, check_write, parse, validate, BodyBuffer, FieldCode};
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

const NOW: i64 = 1_700_000_000_123_456_789;

fn get(v: &JsValue, k: &str) -> JsValue {
    Reflect::get(v, &JsValue::from_str(k)).unwrap()
}

fn s(v: &JsValue, k: &str) -> String {
    get(v, k)
        .as_string()
        .unwrap_or_else(|| panic!("{k} is not a string"))
}

fn n(v: &JsValue, k: &str) -> f64 {
    get(v, k)
        .as_f64()
        .unwrap_or_else(|| panic!("{k} is not a number"))
}

fn obj(pairs: &[(&str, JsValue)]) -> JsValue {
    let o = Object::new();
    for (k, v) in pairs {
        Reflect::set(&o, &JsValue::from_str(k), v).unwrap();
    }
    o.into()
}

fn keys(v: &JsValue) -> Vec<String> {
    Object::keys(v.unchecked_ref::<Object>())
        .iter()
        .map(|k| k.as_string().unwrap())
        .collect()
}

fn check_opts(query: &str, ce: Option<&str>) -> JsValue {
    let mut p = vec![
        ("query", JsValue::from_str(query)),
        ("authorization", JsValue::from_str("Token t")),
        ("now", BigInt::from(NOW).into()),
    ];
    if let Some(ce) = ce {
        p.push(("contentEncoding", JsValue::from_str(ce)));
    }
    obj(&p)
}

#[wasm_bindgen_test]
fn check_write_answers_what_the_core_answers() {
    let bodies: [&[u8]; 7] = [
        b"",
        b"cpu,host=a usage=0.5 1700000000000000000\n",
        b"m f=1\nbad\nm f=\"x<y>&\" 1\nn f=1i 2 3\n",
        b"m f=1i\r\nm f=2i\r\n",
        b"m f=\"abc\nm f=1 1000\nbad\n",
        b"m,t=\xff f=1 1\nm \xe2\x82 f\n",
        b"m f=9223372036854775808i 1",
    ];
    for (i, body) in bodies.iter().enumerate() {
        for query in [
            "org=o&bucket=b",
            "org=o&bucket=b&precision=s",
            "bucket=b",
            "org=o",
        ] {
            let req = Request {
                query: query.as_bytes(),
                authorization: Some(b"Token t"),
                content_encoding: None,
                body,
            };
            let want = check_request(&req, &Limits::default(), NOW);
            let buf = BodyBuffer::from_bytes(body.to_vec());
            let got = check_write(&buf, check_opts(query, None)).unwrap();
            match want {
                Verdict::Forward { points, lines } => {
                    assert_eq!(keys(&got), ["action", "points", "lines"], "case {i}");
                    assert_eq!(s(&got, "action"), "forward");
                    assert_eq!(n(&got, "points"), points as f64);
                    assert_eq!(n(&got, "lines"), lines as f64);
                }
                Verdict::Reject(r) => {
                    assert_eq!(
                        keys(&got),
                        ["action", "status", "code", "line", "headers", "body"]
                    );
                    assert_eq!(s(&got, "action"), "reject");
                    assert_eq!(s(&got, "code"), r.code, "case {i} {query}");
                    match r.line {
                        Some(l) => assert_eq!(n(&got, "line"), l as f64),
                        None => assert!(get(&got, "line").is_null()),
                    }
                    assert_eq!(n(&got, "status"), r.status as f64, "case {i} {query}");
                    assert_eq!(s(&got, "body").into_bytes(), r.body, "case {i} {query}");
                    let h = get(&got, "headers");
                    assert_eq!(s(&h, "Content-Type"), "application/json; charset=utf-8");
                    assert_eq!(s(&h, "X-Platform-Error-Code"), r.code);
                }
            }
        }
    }
}

#[wasm_bindgen_test]
fn options_are_read_from_js_values() {
    let body = BodyBuffer::from_string("m f=1i 1\n".into());
    // No options at all: no Authorization, so 401.
    let v = check_write(&body, JsValue::UNDEFINED).unwrap();
    assert_eq!(n(&v, "status"), 401.0);
    let v = check_write(&body, JsValue::NULL).unwrap();
    assert_eq!(n(&v, "status"), 401.0);
    // Limits: a size equal to the limit is rejected; Infinity means none.
    let with_limits = |l: JsValue| {
        let o = check_opts("org=o&bucket=b", None);
        Reflect::set(&o, &"limits".into(), &l).unwrap();
        check_write(&body, o).unwrap()
    };
    let v = with_limits(obj(&[("maxBatch", 9.0.into())]));
    assert_eq!(n(&v, "status"), 413.0);
    let v = with_limits(obj(&[
        ("maxBatch", 10.0.into()),
        ("maxBody", f64::INFINITY.into()),
    ]));
    assert_eq!(s(&v, "action"), "forward");
    let v = with_limits(JsValue::UNDEFINED);
    assert_eq!(s(&v, "action"), "forward");
    // Wrong types are TypeErrors naming the option, not guesses.
    let type_error = |e: JsValue| {
        assert!(e.is_instance_of::<js_sys::TypeError>(), "{e:?}");
        e.unchecked_into::<js_sys::Error>()
            .message()
            .as_string()
            .unwrap()
    };
    let bad = obj(&[("query", 5.0.into())]);
    assert!(type_error(check_write(&body, bad).unwrap_err()).contains("query"));
    let bad = obj(&[("now", JsValue::from_str("soon"))]);
    assert!(type_error(check_write(&body, bad).unwrap_err()).contains("now"));
    let bad = obj(&[("limits", obj(&[("maxBody", (-1.0).into())]))]);
    assert!(type_error(check_write(&body, bad).unwrap_err()).contains("limits.maxBody"));
    let bad = obj(&[("summary", "yes".into())]);
    assert!(type_error(validate(&body, bad).unwrap_err()).contains("summary"));
}

#[wasm_bindgen_test]
fn gzip_bodies_are_decoded_in_wasm() {
    let plain = b"m f=1i 1\nm f=2i 2\n".repeat(1000);
    let gz = linegate::core::gzip::compress(&plain);
    let buf = BodyBuffer::from_bytes(gz);
    let v = check_write(&buf, check_opts("org=o&bucket=b", Some("gzip"))).unwrap();
    assert_eq!(s(&v, "action"), "forward");
    assert_eq!(n(&v, "points"), 2000.0);
    let v = check_write(&buf, check_opts("org=o&bucket=b", Some("GZIP"))).unwrap();
    assert_eq!(
        n(&v, "status"),
        400.0,
        "GZIP is not gzip: the bytes are parsed as text"
    );
}

#[wasm_bindgen_test]
fn parse_lays_points_out_in_columns() {
    use js_sys::{BigInt64Array, Float64Array, Uint32Array};
    let buf = BodyBuffer::from_bytes(
        b"m\xff,t=v i=-9223372036854775808i,u=18446744073709551615u,f=0.1,b=f,s=\"a\\\"b\",c=T -1\nm\xff,t=v f=2 3\n"
            .to_vec(),
    );
    let r = parse(&buf, obj(&[("now", BigInt::from(NOW).into())])).unwrap();
    let c = get(&r, "points");
    assert_eq!(n(&c, "count"), 2.0);
    let shape = Uint32Array::from(get(&c, "shape")).to_vec();
    // [tags, fields, line] then a type per field: integer, unsigned, float, false, string, true.
    assert_eq!(shape, [1, 6, 1, 1, 2, 0, 4, 3, 5, 1, 1, 2, 0]);
    // Names are sent once and then referred to: the second point reuses m\xff, t, v and f.
    let refs = Uint32Array::from(get(&c, "refs")).to_vec();
    assert_eq!(refs, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 5]);
    let lens = Uint32Array::from(get(&c, "lens")).to_vec();
    // m\xff is bytes (2 of them, odd code); the rest are UTF-16 lengths.
    assert_eq!(
        lens,
        [
            2 << 1 | 1,
            1 << 1,
            1 << 1,
            1 << 1,
            1 << 1,
            1 << 1,
            1 << 1,
            1 << 1,
            3 << 1,
            1 << 1
        ]
    );
    assert_eq!(Uint8Array::from(get(&c, "raw")).to_vec(), b"m\xff");
    assert_eq!(Uint8Array::from(get(&c, "text")).to_vec(), b"tviufbsa\"bc");
    assert_eq!(Float64Array::from(get(&c, "floats")).to_vec(), [0.1, 2.0]);
    let ints = BigInt64Array::from(get(&c, "ints")).to_vec();
    assert_eq!(ints, [i64::MIN, -1, -1, 3]);
    assert_eq!(
        ints[1] as u64,
        u64::MAX,
        "unsigned values travel as their bits"
    );
    // A rejected batch: no points, the validation says why.
    let bad = BodyBuffer::from_string("m f=1\nm f=x\n".into());
    let r = parse(&bad, JsValue::UNDEFINED).unwrap();
    assert!(get(&r, "points").is_null());
    assert_eq!(n(&get(&r, "validation"), "line"), 2.0);
}

#[wasm_bindgen_test]
fn validate_explains_and_summarises() {
    let buf = BodyBuffer::from_string("m f=1,time=1 10\nm f=2i 20\nm\tf=1\n".into());
    let opts = obj(&[("summary", 2.0.into()), ("precision", "ns".into())]);
    let v = validate(&buf, opts).unwrap();
    assert_eq!(s(&v, "action"), "reject");
    assert_eq!(s(&v, "code"), "invalid");
    assert_eq!(n(&v, "rejected"), 1.0);
    let d = Array::from(&get(&v, "diagnostics")).get(0);
    assert_eq!(
        (n(&d, "line"), s(&d, "reason")),
        (3.0, "missing fields".to_string())
    );
    assert!(!s(&d, "hint").is_empty());
    assert_eq!(Array::from(&get(&v, "warnings")).length(), 2);
    let sum = get(&v, "summary");
    assert_eq!(get(&sum, "minTime"), JsValue::from(BigInt::from(10)));
    assert_eq!(get(&sum, "maxTime"), JsValue::from(BigInt::from(20)));
    assert_eq!(n(&get(&sum, "fieldTypes"), "integer"), 1.0);
    let ok = validate(&BodyBuffer::from_string("m f=1".into()), JsValue::UNDEFINED).unwrap();
    assert!(get(&ok, "headers").is_null() && get(&ok, "summary").is_null());
    assert_eq!(n(&ok, "status"), 204.0);
}

#[wasm_bindgen_test]
fn progress_reaches_js_and_false_cancels() {
    let body = b"cpu,host=a usage=1.5 1\n".repeat(200_000); // 4.6 MB
    let buf = BodyBuffer::from_bytes(body.clone());
    let seen = Array::new();
    let log = Function::new_with_args("done, total", "this.push([done, total]);").bind0(&seen);
    let v = validate(&buf, obj(&[("onProgress", log.into())])).unwrap();
    assert_eq!(n(&v, "points"), 200_000.0);
    assert!(seen.length() >= 4, "{} calls", seen.length());
    let last = Array::from(&seen.get(seen.length() - 1));
    assert_eq!(last.get(0).as_f64(), Some(body.len() as f64));
    assert_eq!(last.get(1).as_f64(), Some(body.len() as f64));
    // Cancelling is its own signal: an AbortError (onProgress → false), or the reason of an
    // aborted AbortSignal-like object, thrown as it is.
    let stop = obj(&[(
        "onProgress",
        Function::new_with_args("done", "return done < 1000000;").into(),
    )]);
    let name = |e: JsValue| s(&e, "name");
    assert_eq!(
        name(validate(&buf, stop.clone()).unwrap_err()),
        "AbortError"
    );
    assert_eq!(name(parse(&buf, stop).unwrap_err()), "AbortError");
    let reason = JsValue::from_str("stop");
    let signal = obj(&[("aborted", true.into()), ("reason", reason.clone())]);
    let e = validate(&buf, obj(&[("signal", signal)])).unwrap_err();
    assert_eq!(e, reason);
}

#[wasm_bindgen_test]
fn body_buffer_fills_by_chunks() {
    let mut b = BodyBuffer::new(Some(16));
    b.push(b"m f=1");
    b.push(b"i 1\n");
    assert_eq!(b.length(), 9);
    assert_eq!(b.bytes(), b"m f=1i 1\n");
    let v = check_write(&b, check_opts("org=o&bucket=b", None)).unwrap();
    assert_eq!(n(&v, "points"), 1.0);
    // grow/truncate: the room the JS side encodes strings into, then cuts to what it wrote.
    let at = b.grow(4);
    assert_eq!(at, b.bytes()[9..].as_ptr() as usize);
    assert_eq!(&b.bytes()[9..], [0, 0, 0, 0]);
    b.truncate(11);
    assert_eq!(b.bytes(), b"m f=1i 1\n\0\0");
    b.clear();
    assert_eq!(b.length(), 0);
    assert_eq!(linegate::version(), env!("CARGO_PKG_VERSION"));
}

#[wasm_bindgen_test]
fn field_codes_and_answers_cross_as_data() {
    // The codes parse()'s columns use, as the glue exports them to npm/api.js.
    assert_eq!(
        [
            FieldCode::Float,
            FieldCode::Integer,
            FieldCode::Unsigned,
            FieldCode::String
        ]
        .map(|c| c as u32),
        [0, 1, 2, 3]
    );
    assert_eq!((FieldCode::False as u32, FieldCode::True as u32), (4, 5));
    let core = linegate::core::answers::Rejection::unauthorized();
    let a = answer("unauthorized", JsValue::UNDEFINED).unwrap();
    assert_eq!(n(&a, "status"), 401.0);
    assert_eq!(s(&a, "body").into_bytes(), core.body);
    assert_eq!(
        s(&get(&a, "headers"), "X-Platform-Error-Code"),
        "unauthorized"
    );
    let a = answer("unavailable", obj(&[("retryAfter", 7.0.into())])).unwrap();
    assert_eq!(
        (n(&a, "status"), s(&get(&a, "headers"), "Retry-After")),
        (503.0, "7".into())
    );
    let a = answer("method-not-allowed", obj(&[("allow", "POST".into())])).unwrap();
    assert_eq!(s(&get(&a, "headers"), "Allow"), "POST");
    let a = answer("ping", obj(&[("version", "v2".into())])).unwrap();
    assert!(get(&a, "body").is_null());
    assert_eq!(s(&get(&a, "headers"), "X-Influxdb-Version"), "v2");
    let a = answer(
        "health",
        obj(&[("version", "v2".into()), ("commit", "c".into())]),
    )
    .unwrap();
    let want = linegate::core::answers::health("v2", "c");
    assert_eq!(s(&a, "body").into_bytes(), want.body);
    let a = answer("spool-full", obj(&[("retryAfter", 3.0.into())])).unwrap();
    assert_eq!(
        (n(&a, "status"), s(&a, "body").into_bytes()),
        (503.0, linegate::core::answers::Rejection::spool_full().body)
    );
    assert_eq!(s(&get(&a, "headers"), "Retry-After"), "3");
    let a = answer("spool-unavailable", obj(&[("retryAfter", 1.0.into())])).unwrap();
    assert_eq!(
        s(&a, "body").into_bytes(),
        linegate::core::answers::Rejection::spool_unavailable().body
    );
    assert!(answer("nope", JsValue::UNDEFINED).is_err());
    // No version: core's own InfluxDB version (one string, in core); a wrong type is an error.
    let a = answer("ping", JsValue::UNDEFINED).unwrap();
    assert_eq!(
        s(&get(&a, "headers"), "X-Influxdb-Version"),
        linegate::core::answers::INFLUX_VERSION
    );
    assert!(
        answer("ping", obj(&[("version", 2.0.into())])).is_err(),
        "a version that is not a string"
    );
}
