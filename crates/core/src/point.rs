//! Parsed points. Everything borrows from the request body; escapes are undone only when a
//! caller asks for the unescaped text (`Cow::Borrowed` when there is nothing to undo).

use std::borrow::Cow;

/// The type of a field value, named as InfluxDB names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FieldType {
    /// A 64-bit float.
    Float,
    /// A signed 64-bit integer.
    Integer,
    /// An unsigned 64-bit integer.
    Unsigned,
    /// A string.
    String,
    /// A boolean.
    Boolean,
}

impl FieldType {
    /// `float`, `integer`, `unsigned`, `string` or `boolean`.
    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::Float => "float",
            FieldType::Integer => "integer",
            FieldType::Unsigned => "unsigned",
            FieldType::String => "string",
            FieldType::Boolean => "boolean",
        }
    }
}

impl std::fmt::Display for FieldType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string field value as written between its quotes, escapes still in place.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EscapedStr<'a>(pub(crate) &'a [u8]);

impl<'a> EscapedStr<'a> {
    /// The bytes between the quotes, as written.
    pub fn raw(&self) -> &'a [u8] {
        self.0
    }

    /// The value InfluxDB stores: `\\` becomes `\` and `\"` becomes `"`; every other
    /// backslash stays (`"a\nb"` is a backslash and an `n`).
    pub fn unescape(&self) -> Cow<'a, [u8]> {
        unescape(self.0, b"\\\"")
    }
}

/// A typed field value, equal to what InfluxDB stores (floats bit for bit).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FieldValue<'a> {
    /// A 64-bit float.
    Float(f64),
    /// A signed 64-bit integer.
    Integer(i64),
    /// An unsigned 64-bit integer.
    Unsigned(u64),
    /// A string, still escaped as written.
    String(EscapedStr<'a>),
    /// A boolean.
    Boolean(bool),
}

impl FieldValue<'_> {
    /// The type of this value.
    pub fn field_type(&self) -> FieldType {
        match self {
            FieldValue::Float(_) => FieldType::Float,
            FieldValue::Integer(_) => FieldType::Integer,
            FieldValue::Unsigned(_) => FieldType::Unsigned,
            FieldValue::String(_) => FieldType::String,
            FieldValue::Boolean(_) => FieldType::Boolean,
        }
    }
}

/// One tag, as written (escaped).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Tag<'a> {
    pub(crate) key: &'a [u8],
    pub(crate) value: &'a [u8],
}

impl<'a> Tag<'a> {
    /// The key as written; tags are sorted bytewise by this.
    pub fn raw_key(&self) -> &'a [u8] {
        self.key
    }
    /// The value's bytes as written (escaped).
    pub fn raw_value(&self) -> &'a [u8] {
        self.value
    }
    /// The key with `\,`, `\ ` and `\=` undone (InfluxDB keeps `\"` and `\\` in tags).
    pub fn key(&self) -> Cow<'a, [u8]> {
        unescape(self.key, b", =")
    }
    /// The value with `\,`, `\ ` and `\=` undone.
    pub fn value(&self) -> Cow<'a, [u8]> {
        unescape(self.value, b", =")
    }
}

/// One field, as written, with its typed value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Field<'a> {
    pub(crate) key: &'a [u8],
    pub(crate) value: FieldValue<'a>,
    /// The value's bytes as written (`.5`, `1i`, `"a\"b"` with its quotes).
    pub(crate) raw_value: &'a [u8],
}

impl<'a> Field<'a> {
    /// The key's bytes as written (escaped).
    pub fn raw_key(&self) -> &'a [u8] {
        self.key
    }
    /// The key with `\,`, `\"`, `\ ` and `\=` undone.
    pub fn key(&self) -> Cow<'a, [u8]> {
        unescape(self.key, b",\" =")
    }
    /// The field's value.
    pub fn value(&self) -> FieldValue<'a> {
        self.value
    }
    /// The value's bytes as written (a string with its quotes).
    pub fn raw_value(&self) -> &'a [u8] {
        self.raw_value
    }
}

/// A parsed point. Tags are sorted by raw key; fields keep input order (duplicate keys are
/// kept, as InfluxDB's parser keeps them).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Point<'a> {
    pub(crate) measurement: &'a [u8],
    /// The series section as written: the measurement and the tags in the line's order.
    pub(crate) series: &'a [u8],
    pub(crate) tags: Vec<Tag<'a>>,
    pub(crate) fields: Vec<Field<'a>>,
    pub(crate) time: i64,
    pub(crate) line: u64,
}

impl<'a> Point<'a> {
    /// The measurement as written.
    pub fn raw_measurement(&self) -> &'a [u8] {
        self.measurement
    }
    /// The measurement with `\,`, `\"`, `\ ` and `\=` undone (other backslashes stay).
    pub fn measurement(&self) -> Cow<'a, [u8]> {
        unescape(self.measurement, b",\" =")
    }
    /// The series section of the line as written, from the measurement's first byte to the
    /// end of its last tag (`cpu,b=2,a=1` for `cpu,b=2,a=1 v=1`): the tags in the line's
    /// order, escapes and all. The same bytes always make the same [`Point::series_key`].
    pub fn raw_series(&self) -> &'a [u8] {
        self.series
    }
    /// Tags, sorted bytewise by raw key.
    pub fn tags(&self) -> &[Tag<'a>] {
        &self.tags
    }
    /// Fields in input order.
    pub fn fields(&self) -> &[Field<'a>] {
        &self.fields
    }
    /// Time in nanoseconds since the Unix epoch (the given timestamp scaled by the precision,
    /// or the server's "now" truncated to the precision).
    pub fn time(&self) -> i64 {
        self.time
    }
    /// The 1-based physical line where the point's line starts.
    pub fn line(&self) -> u64 {
        self.line
    }
    /// InfluxDB's series key: the raw measurement and the sorted raw tags.
    pub fn series_key(&self) -> Vec<u8> {
        let mut k = Vec::new();
        self.write_series_key(&mut k);
        k
    }

    /// Appends [`Point::series_key`] to `out` (a door reusing one buffer per batch).
    pub fn write_series_key(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.measurement);
        for t in &self.tags {
            out.push(b',');
            out.extend_from_slice(t.key);
            out.push(b'=');
            out.extend_from_slice(t.value);
        }
    }

    pub(crate) fn clear(&mut self) {
        self.tags.clear();
        self.fields.clear();
    }
}

/// Undoes `\c` for each `c` in `set`, left to right (a backslash not followed by one of them
/// is kept, and the byte after it is looked at on its own).
pub(crate) fn unescape<'a>(raw: &'a [u8], set: &[u8]) -> Cow<'a, [u8]> {
    let Some(first) = memchr::memchr(b'\\', raw) else {
        return Cow::Borrowed(raw);
    };
    let mut out = Vec::with_capacity(raw.len());
    out.extend_from_slice(&raw[..first]);
    let mut i = first;
    while i < raw.len() {
        let b = raw[i];
        if b == b'\\' && i + 1 < raw.len() && set.contains(&raw[i + 1]) {
            out.push(raw[i + 1]);
            i += 2;
        } else {
            out.push(b);
            i += 1;
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescaping_follows_influxdb() {
        let m = |s: &[u8]| unescape(s, b",\" =").into_owned();
        assert_eq!(m(br"c\pu"), br"c\pu");
        assert_eq!(m(br"c\\pu"), br"c\\pu");
        assert_eq!(m(br"c\\ pu"), br"c\ pu");
        assert_eq!(m(br#"a\,b\ c\=d\"e"#), br#"a,b c=d"e"#);
        let t = |s: &[u8]| unescape(s, b", =").into_owned();
        assert_eq!(t(br#"a\"b\\c"#), br#"a\"b\\c"#);
        assert_eq!(t(br"\_field"), br"\_field");
        let s = EscapedStr(br#"a\\b\"c\nd\"#);
        assert_eq!(s.unescape().into_owned(), br#"a\b"c\nd\"#);
    }
}
