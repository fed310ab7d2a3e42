//! Gzip bodies as InfluxDB reads them: Go's `compress/gzip` in multistream mode, with its
//! exact errors, decoded by miniz_oxide and stopped as soon as the decompressed size reaches
//! a limit (spec Part A §2 and §4, Part B §1 steps 4 and 8).

use miniz_oxide::inflate::core::inflate_flags::TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF;
use miniz_oxide::inflate::core::{decompress, DecompressorOxide};
use miniz_oxide::inflate::TINFLStatus;

const FHCRC: u8 = 2;
const FEXTRA: u8 = 4;
const FNAME: u8 = 8;
const FCOMMENT: u8 = 16;

/// Why a gzip header could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderError {
    /// No bytes at all (Go: `io.EOF`).
    Empty,
    /// The header is cut short (Go: `unexpected EOF`).
    Truncated,
    /// Not a gzip header, or a bad header checksum (Go: `gzip: invalid header`).
    Invalid,
}

/// Why reading the decompressed stream failed, named by Go's error text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadError {
    /// `unexpected EOF`: a stream, trailer or following header cut short.
    UnexpectedEof,
    /// `gzip: invalid checksum`: CRC-32 or size in a trailer does not match.
    Checksum,
    /// `gzip: invalid header`: at least 10 bytes follow a member but are not a gzip header.
    InvalidHeader,
    /// `flate: corrupt input before offset N`, N counted in the member's deflate data.
    Corrupt(u64),
    /// The decompressed size reached the limit.
    TooLarge,
}

impl ReadError {
    /// Go's error text (what follows `unable to read data: `).
    pub fn go_text(&self) -> String {
        match self {
            ReadError::UnexpectedEof => "unexpected EOF".into(),
            ReadError::Checksum => "gzip: invalid checksum".into(),
            ReadError::InvalidHeader => "gzip: invalid header".into(),
            ReadError::Corrupt(n) => format!("flate: corrupt input before offset {n}"),
            ReadError::TooLarge => "points batch is too large".into(),
        }
    }
}

/// Reads one member header (RFC 1952) at the start of `buf` the way Go's
/// `gzip.Reader.readHeader` does; returns its length.
pub fn read_header(buf: &[u8]) -> Result<usize, HeaderError> {
    if buf.is_empty() {
        return Err(HeaderError::Empty);
    }
    if buf.len() < 10 {
        return Err(HeaderError::Truncated);
    }
    if buf[0] != 0x1f || buf[1] != 0x8b || buf[2] != 8 {
        return Err(HeaderError::Invalid);
    }
    let flags = buf[3];
    let mut p = 10;
    if flags & FEXTRA != 0 {
        let len = buf.get(p..p + 2).ok_or(HeaderError::Truncated)?;
        let xlen = u16::from_le_bytes([len[0], len[1]]) as usize;
        p += 2;
        if buf.len() < p + xlen {
            return Err(HeaderError::Truncated);
        }
        p += xlen;
    }
    for flag in [FNAME, FCOMMENT] {
        if flags & flag != 0 {
            // Go reads at most 512 bytes, the NUL included, into a fixed buffer.
            let mut i = 0;
            loop {
                if i >= 512 {
                    return Err(HeaderError::Invalid);
                }
                match buf.get(p + i) {
                    None => return Err(HeaderError::Truncated),
                    Some(0) => break,
                    Some(_) => i += 1,
                }
            }
            p += i + 1;
        }
    }
    if flags & FHCRC != 0 {
        let c = buf.get(p..p + 2).ok_or(HeaderError::Truncated)?;
        let want = u16::from_le_bytes([c[0], c[1]]);
        if want != crc32fast::hash(&buf[..p]) as u16 {
            return Err(HeaderError::Invalid);
        }
        p += 2;
    }
    Ok(p)
}

/// Go's flate window: its reader hands decoded bytes over when the window fills, and the
/// rest of a member together with the member's end or error.
const WINDOW: usize = 32 << 10;

/// Decompresses every member of `body` (whose first header, of length `data_start`, was
/// already read), stopping with `TooLarge` once the output reaches `limit` bytes.
/// Errors come in stream order, as InfluxDB reads through Go's `io.LimitedReader`: output
/// past the limit is cut off before any later error, but an error that arrives in the same
/// read as the limit's last byte still wins (spec Part B §1 step 8 and §5).
pub fn decompress_members(
    body: &[u8],
    data_start: usize,
    limit: usize,
) -> Result<Vec<u8>, ReadError> {
    // One byte past the limit tells "more output follows" from "the stream ends here".
    let cap = limit.saturating_add(1);
    // An error met with exactly `limit` bytes out: Go has handed all of them over, and the
    // error reaches InfluxDB only if it came with the member's last bytes, i.e. unless the
    // window was flushed right before it (then the reader is never called again: 413).
    let stop = |e: ReadError, total: usize, member_len: usize| {
        if total >= limit && member_len % WINDOW == 0 {
            ReadError::TooLarge
        } else {
            e
        }
    };
    let mut out: Vec<u8> = Vec::new();
    let mut inflater = Box::<DecompressorOxide>::default();
    let mut pos = data_start;
    // The last member's trailer holds its size mod 2^32: for the usual single member that is
    // the whole output, so one allocation fits it and nothing is copied while growing (the
    // peak stays at the decoded size). A wrong hint only costs growth later.
    let isize_hint = body
        .len()
        .checked_sub(4)
        .filter(|&i| i >= data_start)
        .map_or(0, |i| {
            u32::from_le_bytes([body[i], body[i + 1], body[i + 2], body[i + 3]]) as usize
        });
    let initial = if isize_hint > 0 && isize_hint <= body.len().saturating_mul(1032) {
        // + 1 so a stream that ends exactly at the hint needs no growth step to finish.
        isize_hint.saturating_add(1).min(cap)
    } else {
        body.len()
            .saturating_mul(4)
            .clamp(64 * 1024, 64 * 1024 * 1024)
    };
    let mut first = true;
    loop {
        let member_start = out.len();
        inflater.init();
        let mut member_len = 0usize;
        let deflate_start = pos;
        loop {
            if out.len() - member_start == member_len {
                // Output buffer full: grow it, or stop at the limit.
                if out.len() >= cap {
                    return Err(ReadError::TooLarge);
                }
                let grow = if first {
                    initial
                } else {
                    out.len().max(64 * 1024)
                };
                first = false;
                let new_len = out.len().saturating_add(grow).min(cap);
                out.resize(new_len, 0);
            }
            let (status, consumed, produced) = decompress(
                &mut inflater,
                &body[pos..],
                &mut out[member_start..],
                member_len,
                TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF,
            );
            pos += consumed;
            member_len += produced;
            let total = member_start + member_len;
            if total > limit {
                return Err(ReadError::TooLarge);
            }
            let err = match status {
                TINFLStatus::Done => break,
                TINFLStatus::HasMoreOutput => continue,
                TINFLStatus::FailedCannotMakeProgress | TINFLStatus::NeedsMoreInput => {
                    ReadError::UnexpectedEof
                }
                _ => ReadError::Corrupt((pos - deflate_start) as u64),
            };
            return Err(stop(err, total, member_len));
        }
        out.truncate(member_start + member_len);
        let total = out.len();
        let Some(trailer) = body.get(pos..pos + 8) else {
            return Err(stop(ReadError::UnexpectedEof, total, member_len));
        };
        let crc = u32::from_le_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]);
        let size = u32::from_le_bytes([trailer[4], trailer[5], trailer[6], trailer[7]]);
        let data = &out[member_start..];
        if crc != crc32fast::hash(data) || size != data.len() as u32 {
            return Err(stop(ReadError::Checksum, total, member_len));
        }
        pos += 8;
        let err = match read_header(&body[pos..]) {
            // A good next header or the end of the body: no error, so the limit decides.
            Ok(_) | Err(HeaderError::Empty) if total >= limit => return Err(ReadError::TooLarge),
            Ok(n) => {
                pos += n;
                continue;
            }
            Err(HeaderError::Empty) => return Ok(out),
            Err(HeaderError::Truncated) => ReadError::UnexpectedEof,
            Err(HeaderError::Invalid) => ReadError::InvalidHeader,
        };
        return Err(stop(err, total, member_len));
    }
}

/// Gzip-compresses `data` as one member (level 6, mtime 0); for tests and tools.
pub fn compress(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    out.extend_from_slice(&miniz_oxide::deflate::compress_to_vec(data, 6));
    out.extend_from_slice(&crc32fast::hash(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gunzip(b: &[u8], limit: usize) -> Result<Vec<u8>, ReadError> {
        let n = read_header(b).map_err(|_| ReadError::InvalidHeader)?;
        decompress_members(b, n, limit)
    }

    #[test]
    fn round_trip_and_members() {
        let a = compress(b"m f=1 1\n");
        assert_eq!(gunzip(&a, 1 << 20).unwrap(), b"m f=1 1\n");
        let mut two = a.clone();
        two.extend_from_slice(&compress(b"m f=2 2\n"));
        assert_eq!(gunzip(&two, 1 << 20).unwrap(), b"m f=1 1\nm f=2 2\n");
        assert_eq!(gunzip(&compress(b""), 10).unwrap(), b"");
    }

    #[test]
    fn go_errors() {
        let a = compress(b"m f=1 1\n");
        assert_eq!(
            gunzip(&a[..a.len() - 3], 1 << 20),
            Err(ReadError::UnexpectedEof)
        );
        assert_eq!(gunzip(&a[..12], 1 << 20), Err(ReadError::UnexpectedEof));
        let mut bad = a.clone();
        let k = bad.len() - 8;
        bad[k] ^= 1;
        assert_eq!(gunzip(&bad, 1 << 20), Err(ReadError::Checksum));
        let mut junk = a.clone();
        junk.extend_from_slice(&[0; 9]);
        assert_eq!(gunzip(&junk, 1 << 20), Err(ReadError::UnexpectedEof));
        junk.push(0);
        assert_eq!(gunzip(&junk, 1 << 20), Err(ReadError::InvalidHeader));
        assert_eq!(read_header(b""), Err(HeaderError::Empty));
        assert_eq!(read_header(b"\x1f\x8b\x08"), Err(HeaderError::Truncated));
        assert_eq!(read_header(b"m f=1 1 plain"), Err(HeaderError::Invalid));
    }

    #[test]
    fn limit_is_reached_at_equal_size() {
        let a = compress(b"0123456789");
        assert_eq!(gunzip(&a, 10), Err(ReadError::TooLarge));
        assert_eq!(gunzip(&a, 11).unwrap(), b"0123456789");
        let bomb = compress(&vec![b'a'; 10 << 20]);
        assert_eq!(gunzip(&bomb, 1 << 20), Err(ReadError::TooLarge));
    }

    #[test]
    fn an_error_with_the_limits_last_byte_wins() {
        // Spec Part B §1 step 8 and §5: InfluxDB reads through io.LimitedReader and reports
        // the limit only when the read ended without error. The member's last bytes come in
        // the same read as its trailer check, so at exactly `limit` bytes a bad trailer wins;
        // past the limit the reader is cut off first.
        let a = compress(b"0123456789");
        let mut bad = a.clone();
        let k = bad.len() - 8;
        bad[k] ^= 1;
        assert_eq!(gunzip(&bad, 10), Err(ReadError::Checksum));
        assert_eq!(gunzip(&bad, 9), Err(ReadError::TooLarge));
        assert_eq!(gunzip(&a[..a.len() - 3], 10), Err(ReadError::UnexpectedEof));
        let mut junk = a.clone();
        junk.extend_from_slice(&[0; 10]);
        assert_eq!(gunzip(&junk, 10), Err(ReadError::InvalidHeader));
        junk.truncate(a.len() + 5);
        assert_eq!(gunzip(&junk, 10), Err(ReadError::UnexpectedEof));
        // A good next member, or none: no error, so the limit decides.
        let mut two = a.clone();
        two.extend_from_slice(&compress(b""));
        assert_eq!(gunzip(&two, 10), Err(ReadError::TooLarge));
        // A member ending on a full 32 KiB window was handed over before its end was seen.
        let w = compress(&[b'x'; WINDOW]);
        let mut bad = w.clone();
        let k = bad.len() - 8;
        bad[k] ^= 1;
        assert_eq!(gunzip(&bad, WINDOW), Err(ReadError::TooLarge));
        assert_eq!(gunzip(&bad, WINDOW + 1), Err(ReadError::Checksum));
    }
}
