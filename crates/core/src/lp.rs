//! Line protocol out: points rendered so that the parser reads them back to the same points,
//! the escaping of each part, and the identities InfluxDB gives series and fields.

use crate::point::{FieldValue, Point};

/// Appends one point as a line (with LF), skipping fields `keep` refuses. Measurement, tag
/// and field keys are copied as written (escapes kept), which the parser accepted once and
/// reads the same way again; string values are re-escaped from their stored value, because
/// a quirk like `f="a"b` is stored as `a"` and must not be copied verbatim. The time is
/// always written, in nanoseconds.
pub fn write_line(out: &mut Vec<u8>, p: &Point<'_>, keep: impl Fn(&[u8]) -> bool) {
    p.write_series_key(out);
    let mut first = true;
    for f in p.fields() {
        if !keep(f.raw_key()) {
            continue;
        }
        out.push(if first { b' ' } else { b',' });
        first = false;
        out.extend_from_slice(f.raw_key());
        out.push(b'=');
        write_value(out, &OwnedValue::from(f.value()));
    }
    out.push(b' ');
    out.extend_from_slice(p.time().to_string().as_bytes());
    out.push(b'\n');
}

/// A field value that outlives the body it was parsed from.
#[derive(Clone, Debug, PartialEq)]
pub enum OwnedValue {
    /// A float, written shortest-exact.
    Float(f64),
    /// A signed integer (`i` suffix).
    Integer(i64),
    /// An unsigned integer (`u` suffix).
    Unsigned(u64),
    /// The stored (unescaped) string.
    String(Vec<u8>),
    /// A boolean (`true`/`false`).
    Boolean(bool),
}

impl From<FieldValue<'_>> for OwnedValue {
    fn from(v: FieldValue<'_>) -> Self {
        match v {
            FieldValue::Float(x) => OwnedValue::Float(x),
            FieldValue::Integer(x) => OwnedValue::Integer(x),
            FieldValue::Unsigned(x) => OwnedValue::Unsigned(x),
            FieldValue::String(s) => OwnedValue::String(s.unescape().into_owned()),
            FieldValue::Boolean(x) => OwnedValue::Boolean(x),
        }
    }
}

/// Appends `v` as line protocol writes a field value.
pub fn write_value(out: &mut Vec<u8>, v: &OwnedValue) {
    match v {
        // `{:?}` is the shortest text that reads back to the same bits (`1e300`, `0.1`, `-0.0`).
        OwnedValue::Float(x) => out.extend_from_slice(format!("{x:?}").as_bytes()),
        OwnedValue::Integer(x) => {
            out.extend_from_slice(x.to_string().as_bytes());
            out.push(b'i');
        }
        OwnedValue::Unsigned(x) => {
            out.extend_from_slice(x.to_string().as_bytes());
            out.push(b'u');
        }
        OwnedValue::Boolean(x) => out.extend_from_slice(if *x { b"true" } else { b"false" }),
        OwnedValue::String(s) => {
            out.push(b'"');
            for &b in s {
                if b == b'\\' || b == b'"' {
                    out.push(b'\\');
                }
                out.push(b);
            }
            out.push(b'"');
        }
    }
}

/// A stored point, owned.
#[derive(Clone, Debug, PartialEq)]
pub struct OwnedPoint {
    /// Measurement and tags as written (`raw_measurement,k=v,…`), sorted by raw key.
    pub key: Vec<u8>,
    /// Raw field key and value, in order.
    pub fields: Vec<(Vec<u8>, OwnedValue)>,
    /// Timestamp in nanoseconds.
    pub time: i64,
}

impl OwnedPoint {
    /// A copy of `p` that outlives its body.
    pub fn from_point(p: &Point<'_>) -> OwnedPoint {
        OwnedPoint {
            key: p.series_key(),
            fields: p
                .fields()
                .iter()
                .map(|f| (f.raw_key().to_vec(), OwnedValue::from(f.value())))
                .collect(),
            time: p.time(),
        }
    }

    /// Appends the point as one line of line protocol with an explicit ns timestamp.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.key);
        for (i, (k, v)) in self.fields.iter().enumerate() {
            out.push(if i == 0 { b' ' } else { b',' });
            out.extend_from_slice(k);
            out.push(b'=');
            write_value(out, v);
        }
        out.push(b' ');
        out.extend_from_slice(self.time.to_string().as_bytes());
        out.push(b'\n');
    }
}

/// Identity of a series as InfluxDB sees it: measurement and tags unescaped (so `t=\=v` and
/// `t==v` are one series), length-prefixed so no two series share an identity.
pub fn series_identity(p: &Point<'_>) -> Vec<u8> {
    let mut id = Vec::with_capacity(p.raw_measurement().len() + 16 * p.tags().len());
    let mut push = |s: &[u8]| {
        id.extend_from_slice(&(s.len() as u32).to_le_bytes());
        id.extend_from_slice(s);
    };
    push(&p.measurement());
    for t in p.tags() {
        push(&t.key());
        push(&t.value());
    }
    id
}

/// Field identity: the unescaped key.
pub fn field_identity(raw_key: &[u8]) -> Vec<u8> {
    // Field keys unescape `\,`, `\"`, `\ ` and `\=`, as linegate-core's `Field::key` does.
    let mut out = Vec::with_capacity(raw_key.len());
    let mut i = 0;
    while i < raw_key.len() {
        let b = raw_key[i];
        if b == b'\\' && i + 1 < raw_key.len() && b",\" =".contains(&raw_key[i + 1]) {
            out.push(raw_key[i + 1]);
            i += 2;
        } else {
            out.push(b);
            i += 1;
        }
    }
    out
}

/// Whether another body may follow this one in a request, joined by a line feed: not when
/// it holds no line, nor when its last line ends in a backslash, which would swallow the
/// line feed between them (and join the next body's first line to it).
pub fn joinable(body: &[u8]) -> bool {
    let mut end = body.len();
    while end > 0 && body[end - 1] == b'\n' {
        end -= 1;
    }
    end > 0 && body[end - 1] != b'\\'
}

#[cfg(test)]
mod tests {
    #[test]
    fn joinable_bodies() {
        assert!(super::joinable(b"m f=1 1"));
        assert!(super::joinable(b"m f=1 1\n\n"));
        assert!(!super::joinable(b"m f=1 1\\\n"));
        assert!(!super::joinable(b"m f=\"a\\"));
        assert!(!super::joinable(b"\n\n"));
        assert!(!super::joinable(b""));
    }

    use super::*;
    use crate::{read_batch, ParseOptions, Precision};

    fn reparse(body: &[u8]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let r = read_batch(body, &ParseOptions::new(Precision::Ns, 7), 1 << 20, |p| {
            let mut j = Vec::new();
            crate::json::write_point(&mut j, p);
            out.push(j);
        });
        assert!(r.is_ok(), "{:?}", String::from_utf8_lossy(body));
        out
    }

    #[test]
    fn lines_read_back_the_same() {
        let body: &[u8] = b"c\\ pu,t\\=k=a\\,b,a==v f=\"a\"b,g=1e300,h=-0.0,i=-3i,u=7u,b=T,s=\"x\\\\y\\\"z\\n\" 5\nm f=\"q\\\\\" 1\n";
        let mut lp = Vec::new();
        read_batch(body, &ParseOptions::new(Precision::Ns, 7), 1 << 20, |p| {
            write_line(&mut lp, p, |_| true);
        });
        // `line` differs (one line per point now); everything else must match.
        let strip = |v: Vec<Vec<u8>>| {
            v.into_iter()
                .map(|j| {
                    let s = String::from_utf8(j).unwrap();
                    s[..s.rfind(",\"line\"").unwrap()].to_string()
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(strip(reparse(body)), strip(reparse(&lp)));
    }
}
