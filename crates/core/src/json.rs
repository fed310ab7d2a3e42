//! JSON string escaping exactly as Go's `encoding/json` does it (HTML-safe mode, Go ≥ 1.22).
//!
//! InfluxDB puts raw line text into its error messages, so the escaping of every byte is part
//! of the answer: `<`, `>`, `&`, U+2028 and U+2029 become `\u....`, control bytes use the short
//! forms where Go has one (`\b` and `\f` included), and each byte that does not start a valid
//! UTF-8 sequence becomes its own `\ufffd` (not one per maximal invalid run, as Rust's lossy
//! conversion would give).

/// What to do with an ASCII byte: 0 = copy, 1 = short escape, 2 = `\u00XX`.
const ASCII_CLASS: [u8; 128] = {
    let mut t = [0u8; 128];
    let mut i = 0;
    while i < 0x20 {
        t[i] = 2;
        i += 1;
    }
    t[b'\x08' as usize] = 1;
    t[b'\x0c' as usize] = 1;
    t[b'\n' as usize] = 1;
    t[b'\r' as usize] = 1;
    t[b'\t' as usize] = 1;
    t[b'"' as usize] = 1;
    t[b'\\' as usize] = 1;
    t[b'<' as usize] = 2;
    t[b'>' as usize] = 2;
    t[b'&' as usize] = 2;
    t
};

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Length of the valid UTF-8 sequence starting at `s[0]` (a byte ≥ 0x80), or 0 when the byte
/// does not start one. Same acceptance as Go's `utf8.DecodeRune` and Rust's `str`.
#[inline]
fn utf8_seq_len(s: &[u8]) -> usize {
    let cont = |i: usize, lo: u8, hi: u8| s.get(i).is_some_and(|&b| (lo..=hi).contains(&b));
    match s[0] {
        0xC2..=0xDF if cont(1, 0x80, 0xBF) => 2,
        0xE0 if cont(1, 0xA0, 0xBF) && cont(2, 0x80, 0xBF) => 3,
        0xE1..=0xEC | 0xEE..=0xEF if cont(1, 0x80, 0xBF) && cont(2, 0x80, 0xBF) => 3,
        0xED if cont(1, 0x80, 0x9F) && cont(2, 0x80, 0xBF) => 3,
        0xF0 if cont(1, 0x90, 0xBF) && cont(2, 0x80, 0xBF) && cont(3, 0x80, 0xBF) => 4,
        0xF1..=0xF3 if cont(1, 0x80, 0xBF) && cont(2, 0x80, 0xBF) && cont(3, 0x80, 0xBF) => 4,
        0xF4 if cont(1, 0x80, 0x8F) && cont(2, 0x80, 0xBF) && cont(3, 0x80, 0xBF) => 4,
        _ => 0,
    }
}

/// Walks `s` and reports each piece of the escaped output: `Ok(run)` for bytes copied as they
/// are, `Err(escape)` for an escape sequence. One walker keeps `escape_into` and
/// `escaped_len` in agreement.
#[inline]
fn walk(s: &[u8], mut emit: impl FnMut(Result<&[u8], &[u8]>)) {
    let mut i = 0;
    let mut run = 0;
    while i < s.len() {
        let b = s[i];
        if b < 0x80 {
            match ASCII_CLASS[b as usize] {
                0 => {
                    i += 1;
                    continue;
                }
                1 => {
                    emit(Ok(&s[run..i]));
                    let short: &[u8] = match b {
                        b'\x08' => b"\\b",
                        b'\x0c' => b"\\f",
                        b'\n' => b"\\n",
                        b'\r' => b"\\r",
                        b'\t' => b"\\t",
                        b'"' => b"\\\"",
                        _ => b"\\\\",
                    };
                    emit(Err(short));
                }
                _ => {
                    emit(Ok(&s[run..i]));
                    let u = [
                        b'\\',
                        b'u',
                        b'0',
                        b'0',
                        HEX[(b >> 4) as usize],
                        HEX[(b & 15) as usize],
                    ];
                    emit(Err(&u));
                }
            }
            i += 1;
            run = i;
            continue;
        }
        let n = utf8_seq_len(&s[i..]);
        if n == 0 {
            emit(Ok(&s[run..i]));
            emit(Err(b"\\ufffd"));
            i += 1;
            run = i;
        } else if n == 3 && s[i] == 0xE2 && s[i + 1] == 0x80 && (s[i + 2] & 0xFE) == 0xA8 {
            emit(Ok(&s[run..i]));
            emit(Err(if s[i + 2] == 0xA8 {
                b"\\u2028"
            } else {
                b"\\u2029"
            }));
            i += 3;
            run = i;
        } else {
            i += n;
        }
    }
    emit(Ok(&s[run..]));
}

/// Appends `s`, escaped as the inside of a Go JSON string, to `out`.
pub fn escape_into(out: &mut Vec<u8>, s: &[u8]) {
    walk(s, |piece| match piece {
        Ok(run) | Err(run) => out.extend_from_slice(run),
    });
}

/// Length `escape_into` would append, without building it.
pub fn escaped_len(s: &[u8]) -> usize {
    let mut n = 0;
    walk(s, |piece| match piece {
        Ok(run) | Err(run) => n += run.len(),
    });
    n
}

/// `s` escaped and quoted, as a JSON string value.
pub fn quote(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() + 2);
    out.push(b'"');
    escape_into(&mut out, s);
    out.push(b'"');
    out
}

/// The two-field error body every InfluxDB write error has: `{"code":…,"message":…}`.
/// `message` is raw text; it is escaped here.
pub fn error_body(code: &str, message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + code.len() + 24);
    out.extend_from_slice(b"{\"code\":\"");
    escape_into(&mut out, code.as_bytes());
    out.extend_from_slice(b"\",\"message\":\"");
    escape_into(&mut out, message);
    out.extend_from_slice(b"\"}");
    out
}

/// Appends `s` as a JSON value in the corpus convention: a string when it is valid UTF-8,
/// else `{"hex":"<lowercase hex>"}`.
pub fn write_text(out: &mut Vec<u8>, s: &[u8]) {
    if std::str::from_utf8(s).is_ok() {
        out.push(b'"');
        escape_into(out, s);
        out.push(b'"');
    } else {
        out.extend_from_slice(b"{\"hex\":\"");
        for &b in s {
            out.push(HEX[(b >> 4) as usize]);
            out.push(HEX[(b & 15) as usize]);
        }
        out.extend_from_slice(b"\"}");
    }
}

/// Shortest decimal that reads back as `v`, for people (the bits are what is compared).
fn float_text(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 || (1e-5..1e21).contains(&a) {
        format!("{v}")
    } else {
        format!("{v:e}")
    }
}

/// Appends a point as a JSON object in the corpus format: `measurement`, `tags` as
/// `[[key, value], …]` sorted by raw key, `fields` as `{key, type, value}` in input order
/// (floats also with `f64_bits`), `time` in ns, plus `series_key` and `line`.
pub fn write_point(out: &mut Vec<u8>, p: &crate::Point<'_>) {
    use crate::FieldValue;
    out.extend_from_slice(b"{\"measurement\":");
    write_text(out, &p.measurement());
    out.extend_from_slice(b",\"tags\":[");
    for (i, t) in p.tags().iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'[');
        write_text(out, &t.key());
        out.push(b',');
        write_text(out, &t.value());
        out.push(b']');
    }
    out.extend_from_slice(b"],\"fields\":[");
    for (i, f) in p.fields().iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"key\":");
        write_text(out, &f.key());
        out.extend_from_slice(b",\"type\":\"");
        out.extend_from_slice(f.value().field_type().as_str().as_bytes());
        out.extend_from_slice(b"\",\"value\":");
        match f.value() {
            FieldValue::Float(v) => {
                out.push(b'"');
                out.extend_from_slice(float_text(v).as_bytes());
                out.extend_from_slice(
                    format!("\",\"f64_bits\":\"{:016x}\"", v.to_bits()).as_bytes(),
                );
            }
            FieldValue::Integer(v) => out.extend_from_slice(v.to_string().as_bytes()),
            FieldValue::Unsigned(v) => out.extend_from_slice(v.to_string().as_bytes()),
            FieldValue::Boolean(v) => out.extend_from_slice(if v { b"true" } else { b"false" }),
            FieldValue::String(s) => write_text(out, &s.unescape()),
        }
        out.push(b'}');
    }
    out.extend_from_slice(b"],\"time\":");
    out.extend_from_slice(p.time().to_string().as_bytes());
    out.extend_from_slice(b",\"series_key\":");
    write_text(out, &p.series_key());
    out.extend_from_slice(b",\"line\":");
    out.extend_from_slice(p.line().to_string().as_bytes());
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn esc(s: &[u8]) -> String {
        let mut v = Vec::new();
        escape_into(&mut v, s);
        assert_eq!(v.len(), escaped_len(s));
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn go_escapes() {
        assert_eq!(esc(b"a\"b\\c"), r#"a\"b\\c"#);
        assert_eq!(esc(b"\n\r\t\x08\x0c"), r"\n\r\t\b\f");
        assert_eq!(esc(b"\x00\x1f\x7f"), "\\u0000\\u001f\x7f");
        assert_eq!(esc(b"<>&'"), r"\u003c\u003e\u0026'");
        assert_eq!(
            esc("\u{2028}\u{2029}\u{2027}".as_bytes()),
            "\\u2028\\u2029\u{2027}"
        );
        assert_eq!(esc("é\u{fffd}\u{85}".as_bytes()), "é\u{fffd}\u{85}");
    }

    #[test]
    fn invalid_utf8_is_one_replacement_per_byte() {
        assert_eq!(esc(b"\xe2\x82"), r"\ufffd\ufffd");
        assert_eq!(esc(b"a\xffb"), r"a\ufffdb");
        assert_eq!(esc(b"\xed\xa0\x80"), r"\ufffd\ufffd\ufffd");
        assert_eq!(esc(b"\xf0\x9f\x98"), r"\ufffd\ufffd\ufffd");
        assert_eq!(esc(b"\xc0\x80"), r"\ufffd\ufffd");
        assert_eq!(esc("𝄞".as_bytes()), "𝄞");
    }

    #[test]
    fn body_shape() {
        assert_eq!(
            error_body("invalid", b"x<y"),
            br#"{"code":"invalid","message":"x\u003cy"}"#.to_vec()
        );
    }
}
