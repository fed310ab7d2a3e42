//! Query strings decoded the way Go's `url.ParseQuery` decodes them (what InfluxDB reads its
//! `org`, `orgID`, `bucket` and `precision` parameters with).

use std::borrow::Cow;

/// A decoded query string: pairs in order, the first value of a key wins on lookup.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query<'a> {
    pairs: Vec<Pair<'a>>,
}

/// A decoded key and value.
type Pair<'a> = (Cow<'a, [u8]>, Cow<'a, [u8]>);

impl<'a> Query<'a> {
    /// Parses a raw query string (without the leading `?`). As in Go 1.17 and later, pairs
    /// are separated by `&` only; a pair containing `;` is dropped, and so is a pair whose
    /// `%XX` escapes are malformed. `+` decodes to a space.
    pub fn parse(raw: &'a [u8]) -> Query<'a> {
        let mut pairs = Vec::new();
        for seg in raw.split(|&b| b == b'&') {
            if seg.is_empty() || seg.contains(&b';') {
                continue;
            }
            let (k, v) = match seg.iter().position(|&b| b == b'=') {
                Some(i) => (&seg[..i], &seg[i + 1..]),
                None => (seg, &seg[..0]),
            };
            if let (Some(k), Some(v)) = (unescape(k), unescape(v)) {
                pairs.push((k, v));
            }
        }
        Query { pairs }
    }

    /// The first value of `key`, decoded.
    pub fn get(&self, key: &str) -> Option<&[u8]> {
        self.pairs
            .iter()
            .find(|(k, _)| k.as_ref() == key.as_bytes())
            .map(|(_, v)| v.as_ref())
    }

    /// The first value of `key`, or empty when absent (Go's `Values.Get`).
    pub fn get_or_empty(&self, key: &str) -> &[u8] {
        self.get(key).unwrap_or_default()
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Go's `url.QueryUnescape`.
fn unescape(s: &[u8]) -> Option<Cow<'_, [u8]>> {
    if !s.iter().any(|&b| b == b'%' || b == b'+') {
        return Some(Cow::Borrowed(s));
    }
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'%' => {
                let hi = hex(*s.get(i + 1)?)?;
                let lo = hex(*s.get(i + 2)?)?;
                out.push(hi << 4 | lo);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Some(Cow::Owned(out))
}

/// Percent-encodes a query value, every byte but `A-Z a-z 0-9 - _ . ~`, so that
/// [`Query::parse`] (like Go's `url.ParseQuery`) decodes it back unchanged.
pub fn encode_value(value: &[u8]) -> String {
    let mut out = String::with_capacity(value.len());
    for &b in value {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_values_decode_back() {
        let v = b"my org/b&c=d+e %\xff";
        let q = format!("bucket={}", encode_value(v));
        assert_eq!(q, "bucket=my%20org%2Fb%26c%3Dd%2Be%20%25%FF");
        assert_eq!(Query::parse(q.as_bytes()).get("bucket"), Some(&v[..]));
    }

    #[test]
    fn like_go() {
        let q = Query::parse(b"org=my+org&bucket=b%2F1&precision=ns&bucket=other&x=%zz&y");
        assert_eq!(q.get("org"), Some(&b"my org"[..]));
        assert_eq!(q.get("bucket"), Some(&b"b/1"[..]));
        assert_eq!(q.get("x"), None);
        assert_eq!(q.get("y"), Some(&b""[..]));
        let q = Query::parse(b"org=o;bucket=b&precision=s");
        assert_eq!(q.get("org"), None);
        assert_eq!(q.get("bucket"), None);
        assert_eq!(q.get("precision"), Some(&b"s"[..]));
    }
}
