//! The name of a write's queue in an edge spool: the query parameters that name the bucket
//! a write goes to, so batches keep their order per bucket and one bucket's backlog holds up
//! no other. The Worker's spool names a Durable Object by it (and the admin endpoint shows
//! it), so the name is exactly the one the spool has always used: the parameters decoded as
//! the WHATWG URL standard decodes a query (`URLSearchParams`), not as Go does — that name
//! is the identity of objects that already hold batches.
//!
//! Where the two decodings differ, only the queue a write waits in changes, never what is
//! checked or sent: a malformed `%` escape is kept as written here (Go drops the pair), a
//! pair holding `;` is kept (Go drops it), and bytes that are not UTF-8 become U+FFFD here
//! (Go keeps them). A write whose naming parameter is dropped by Go can still pass the
//! edge's check (say `org=%zz` beside an `orgID`): its queue is named by the text as sent.

/// The queue of a write to `path` with the raw query string `query` (without `?`): the JSON
/// array `[path, db, rp]` for v1's `/write`, `[path, org, orgID, bucket]` for any other
/// path, each parameter's first value (empty when absent), as `JSON.stringify` writes it.
// Out of line here and in its helpers: measured 22 bytes smaller in the gzipped package.
#[inline(never)]
pub fn name(path: &str, query: &[u8]) -> String {
    let keys: &[&[u8]] = if path == "/write" {
        &[b"db", b"rp"]
    } else {
        &[b"org", b"orgID", b"bucket"]
    };
    let mut out = vec![b'['];
    json_string(&mut out, path.as_bytes());
    for key in keys {
        out.push(b',');
        json_string(
            &mut out,
            String::from_utf8_lossy(&form_value(query, key)).as_bytes(),
        );
    }
    out.push(b']');
    // Whole UTF-8 in, whole UTF-8 out: only ASCII was added.
    String::from_utf8(out).unwrap_or_default()
}

/// The first value of `key` in `query` as `URLSearchParams.get` gives it (empty when
/// absent): pairs split on `&`, name and value at the first `=`, `+` as a space, `%XX`
/// decoded where both digits are hex (kept as written otherwise), then UTF-8 with U+FFFD
/// for what is not.
#[inline(never)]
fn form_value(query: &[u8], key: &[u8]) -> Vec<u8> {
    for pair in query.split(|&b| b == b'&') {
        let (k, v) = match pair.iter().position(|&b| b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &pair[..0]),
        };
        // A name that is not UTF-8 cannot equal an ASCII key either way.
        if !pair.is_empty() && percent_decode(k) == key {
            return percent_decode(v);
        }
    }
    Vec::new()
}

#[inline(never)]
fn percent_decode(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let b = s[i];
        i += 1;
        let digit = |at: usize| s.get(at).copied().and_then(crate::query::hex);
        match (b, digit(i), digit(i + 1)) {
            (b'%', Some(hi), Some(lo)) => {
                out.push(hi << 4 | lo);
                i += 2;
            }
            (b'+', ..) => out.push(b' '),
            _ => out.push(b),
        }
    }
    out
}

/// `s` as `JSON.stringify` quotes it: `"` and `\` escaped, `\b \f \n \r \t`, any other
/// control character as `\u00xx` (lowercase hex), every other byte as it is.
#[inline(never)]
fn json_string(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &b in s {
        let short = match b {
            b'"' => b'"',
            b'\\' => b'\\',
            8 => b'b',
            12 => b'f',
            b'\n' => b'n',
            b'\r' => b'r',
            b'\t' => b't',
            0..=31 => 0,
            _ => {
                out.push(b);
                continue;
            }
        };
        out.push(b'\\');
        if short == 0 {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(&[
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 15)],
            ]);
        } else {
            out.push(short);
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_as_the_spool_always_did() {
        let v2 = "/api/v2/write";
        assert_eq!(
            name(v2, b"org=o&bucket=b&precision=s"),
            r#"["/api/v2/write","o","","b"]"#
        );
        assert_eq!(
            name(v2, b"orgID=0123&bucket=b&org=x&bucket=second"),
            r#"["/api/v2/write","x","0123","b"]"#
        );
        assert_eq!(name(v2, b""), r#"["/api/v2/write","","",""]"#);
        assert_eq!(
            name("/write", b"db=telegraf&rp=autogen&u=me&p=secret&bucket=b"),
            r#"["/write","telegraf","autogen"]"#
        );
        assert_eq!(name("/write", b"db=d"), r#"["/write","d",""]"#);
        // WHATWG's decoding: `+`, escaped names, malformed escapes kept, `;` kept, U+FFFD.
        assert_eq!(
            name(v2, b"org=my+org%2Fx&%62ucket=a%zz%4&orgID=1;2"),
            r#"["/api/v2/write","my org/x","1;2","a%zz%4"]"#
        );
        assert_eq!(
            name(v2, b"org=%FF%C3&bucket=%E2%82%AC&orgID"),
            "[\"/api/v2/write\",\"\u{fffd}\u{fffd}\",\"\",\"\u{20ac}\"]"
        );
        // JSON.stringify's escapes.
        assert_eq!(
            name(v2, b"org=%22%5C%08%0C%0A%0D%09%01%1F%7F&bucket=%E2%80%A8"),
            "[\"/api/v2/write\",\"\\\"\\\\\\b\\f\\n\\r\\t\\u0001\\u001f\u{7f}\",\"\",\"\u{2028}\"]"
        );
    }
}
