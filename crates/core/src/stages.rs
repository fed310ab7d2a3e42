//! The stages of the check, one at a time, for the per-stage profile (`benches/speed.rs`,
//! `bench/inflate-wasm`): not an API. Each returns a value derived from all its work so
//! none of it is optimised away.

use crate::number::{self, Num};

/// The structural-byte pass alone (`,` ` ` `=` `\` `"` LF found 64 bytes at a time, the
/// bitmaps the tokenizer walks): the number of structural bytes in `buf`.
pub fn scan(buf: &[u8]) -> u64 {
    let mut n = 0u64;
    let mut base = 0;
    while base < buf.len() {
        n += u64::from(crate::find::block_mask(buf, base).count_ones());
        base += 64;
    }
    n
}

/// Splitting into lines alone (memchr for LF): the number of lines.
pub fn lines(buf: &[u8]) -> usize {
    memchr::memchr_iter(b'\n', buf).count() + 1
}

/// Where the numeric field values start, in lines without quotes or backslashes (enough
/// for `cpu`, `cpuf` and most of `telegraf`); the input of `numbers`.
pub fn numeric_values(buf: &[u8]) -> Vec<u32> {
    let mut out = Vec::new();
    let mut at = 0;
    for line in buf.split(|&b| b == b'\n') {
        let start = at;
        at += line.len() + 1;
        if line.is_empty() || line.iter().any(|&b| b == b'"' || b == b'\\') {
            continue;
        }
        let mut parts = line.splitn(3, |&b| b == b' ');
        let (Some(key), Some(fields)) = (parts.next(), parts.next()) else {
            continue;
        };
        let mut off = start + key.len() + 1;
        for f in fields.split(|&b| b == b',') {
            if let Some(eq) = f.iter().position(|&b| b == b'=') {
                let v = &f[eq + 1..];
                if v.first().is_some_and(|b| b.is_ascii_digit() || *b == b'-') {
                    out.push((off + eq + 1) as u32);
                }
            }
            off += f.len() + 1;
        }
    }
    out
}

/// The number reader alone (what the fast parser runs on each numeric value) over the
/// values `numeric_values` found: a checksum of the values read.
pub fn numbers(buf: &[u8], starts: &[u32]) -> u64 {
    let mut acc = 0u64;
    for &s in starts {
        acc = acc.wrapping_add(match number::scan_fast(buf, s as usize) {
            Some((Num::Float(f), e)) => f.to_bits() ^ e as u64,
            Some((Num::Integer(i), e)) => i as u64 ^ e as u64,
            Some((Num::Unsigned(u), e)) => u ^ e as u64,
            None => 1,
        });
    }
    acc
}

/// [`numbers`] where only validity is asked (the check's float reader).
pub fn numbers_valid(buf: &[u8], starts: &[u32]) -> u64 {
    let mut acc = 0u64;
    for &s in starts {
        acc = acc.wrapping_add(match number::scan_valid(buf, s as usize) {
            Some((Num::Float(f), e)) => f.to_bits() ^ e as u64,
            Some((Num::Integer(i), e)) => i as u64 ^ e as u64,
            Some((Num::Unsigned(u), e)) => u ^ e as u64,
            None => 1,
        });
    }
    acc
}
