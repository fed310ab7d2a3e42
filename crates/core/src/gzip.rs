//! Gzip bodies as InfluxDB reads them: Go's `compress/gzip` in multistream mode, with its
//! exact errors, inflated by zlib-rs (2.5× miniz_oxide natively, see BENCHMARKS.md) and
//! stopped as soon as the decompressed size reaches a limit (spec Part A §2 and §4, Part B
//! §1 steps 4 and 8). Member headers, trailers, CRC-32 and Go's error mapping are ours; the
//! inflater only turns raw deflate data into bytes.

// The members' CRC-32 is `crc::Crc32` (no table lookup per byte but for its last 2.6 KB);
// zlib-rs's table CRC-32 for the header's CRC-16 and the rest.
use crate::crc::Crc32;
use crate::limits::MAX_GZIP_HEADER;
use zlib_rs::crc32::crc32;
use zlib_rs::{Inflate, InflateFlush, Status};

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
        if want != crc32(0, &buf[..p]) as u16 {
            return Err(HeaderError::Invalid);
        }
        p += 2;
    }
    Ok(p)
}

/// Go's flate window: its reader hands decoded bytes over when the window fills, and the
/// rest of a member together with the member's end or error.
const WINDOW: usize = 32 << 10;

/// The decoder's output buffer: decoded bytes are handed to the caller from it as they come
/// (the inflater keeps its own 32 KiB window), between 32 and 64 KiB at a time.
const OUT: usize = 64 << 10;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// Inside a member's deflate data.
    Deflate,
    /// Gathering the 8-byte trailer.
    Trailer,
    /// Gathering the next member's header (or the end of the body).
    Header,
}

/// Go's `compress/gzip` reader in multistream mode, fed in pieces: push the body after its
/// first member header (read it with [`read_header`]) in chunks of any size, then
/// [`finish`](Decoder::finish). Decoded bytes reach `sink` as they are produced, and the
/// outcome equals [`decompress_members`] on the whole body, whatever the chunks. Memory is
/// fixed (the 64 KiB output buffer and the CRC's 2.6 KB before it, the inflate state and its
/// window, at most one member header); nothing is sized from the body's own size fields.
pub struct Decoder {
    inflater: Box<Inflate>,
    /// The output buffer, inside the CRC (which overwrites what it has taken in).
    crc: Crc32,
    limit: usize,
    /// Decoded bytes of all members so far.
    total: usize,
    /// Decoded bytes of this member.
    member_len: usize,
    /// Deflate bytes of this member consumed so far.
    deflate_in: u64,
    stage: Stage,
    /// Trailer or header bytes gathered across pushes.
    tail: Vec<u8>,
    /// Set once decided: the stream ended or failed.
    failed: Option<ReadError>,
}

impl Decoder {
    /// A decoder positioned after the first member header, stopping with `TooLarge` once the
    /// output reaches `limit` bytes.
    pub fn new(limit: usize) -> Decoder {
        Decoder {
            // Raw deflate (no zlib header), Go's 32 KiB window.
            inflater: Box::new(Inflate::new(false, 15)),
            crc: Crc32::new(OUT),
            limit,
            total: 0,
            member_len: 0,
            deflate_in: 0,
            stage: Stage::Deflate,
            tail: Vec::new(),
            failed: None,
        }
    }

    /// Decoded bytes so far.
    pub fn decoded(&self) -> usize {
        self.total
    }

    /// An error met with exactly `limit` bytes out: Go has handed all of them over, and the
    /// error reaches InfluxDB only if it came with the member's last bytes, i.e. unless the
    /// window was flushed right before it (then the reader is never called again: 413).
    fn stop(&self, e: ReadError) -> ReadError {
        if self.total >= self.limit && self.member_len % WINDOW == 0 {
            ReadError::TooLarge
        } else {
            e
        }
    }

    fn fail(&mut self, e: ReadError) -> Result<(), ReadError> {
        self.failed = Some(e);
        self.tail = Vec::new();
        Err(e)
    }

    /// Feeds the next bytes of the body. An error is final: later pushes return it again.
    pub fn push(&mut self, input: &[u8], sink: &mut dyn FnMut(&[u8])) -> Result<(), ReadError> {
        self.run(input, false, sink)
    }

    /// Ends the body: `Ok` when it ended cleanly after a whole member.
    pub fn finish(&mut self, sink: &mut dyn FnMut(&[u8])) -> Result<(), ReadError> {
        self.run(&[], true, sink)
    }

    fn run(
        &mut self,
        mut input: &[u8],
        eof: bool,
        sink: &mut dyn FnMut(&[u8]),
    ) -> Result<(), ReadError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        loop {
            match self.stage {
                Stage::Deflate => {
                    input = self.inflate(input, eof, sink)?;
                    if self.stage == Stage::Deflate {
                        return Ok(());
                    }
                }
                Stage::Trailer => {
                    let take = (8 - self.tail.len()).min(input.len());
                    self.tail.extend_from_slice(&input[..take]);
                    input = &input[take..];
                    if self.tail.len() < 8 {
                        if eof {
                            let e = self.stop(ReadError::UnexpectedEof);
                            return self.fail(e);
                        }
                        return Ok(());
                    }
                    let t = &self.tail;
                    let crc = u32::from_le_bytes([t[0], t[1], t[2], t[3]]);
                    let size = u32::from_le_bytes([t[4], t[5], t[6], t[7]]);
                    let want = self.crc.finish();
                    if crc != want || size != self.member_len as u32 {
                        let e = self.stop(ReadError::Checksum);
                        return self.fail(e);
                    }
                    self.tail.clear();
                    self.stage = Stage::Header;
                }
                Stage::Header => {
                    // Gather no more than a header can take: past that it is decided.
                    let take = (MAX_GZIP_HEADER - self.tail.len()).min(input.len());
                    self.tail.extend_from_slice(&input[..take]);
                    input = &input[take..];
                    let at_limit = self.total >= self.limit;
                    let err = match read_header(&self.tail) {
                        // A good next header or the end of the body: no error, so the
                        // limit decides.
                        Ok(_) if at_limit => return self.fail(ReadError::TooLarge),
                        Err(HeaderError::Empty) if eof && at_limit => {
                            return self.fail(ReadError::TooLarge)
                        }
                        Err(HeaderError::Empty) if eof => return Ok(()),
                        Err(HeaderError::Empty | HeaderError::Truncated) if !eof => return Ok(()),
                        Ok(n) => {
                            let tail = std::mem::take(&mut self.tail);
                            self.inflater.reset(false);
                            self.member_len = 0;
                            self.deflate_in = 0;
                            self.stage = Stage::Deflate;
                            let rest = self.inflate(&tail[n..], false, sink)?.to_vec();
                            self.tail = tail;
                            self.tail.clear();
                            if !rest.is_empty() {
                                // The member ended within its header's leftovers: rare
                                // enough to copy them in front of the input.
                                let mut joined = rest;
                                joined.extend_from_slice(input);
                                return self.run(&joined, eof, sink);
                            }
                            continue;
                        }
                        Err(HeaderError::Empty | HeaderError::Truncated) => {
                            ReadError::UnexpectedEof
                        }
                        Err(HeaderError::Invalid) => ReadError::InvalidHeader,
                    };
                    let e = self.stop(err);
                    return self.fail(e);
                }
            }
        }
    }

    /// Inflates `input` into the window, handing decoded bytes to `sink`; returns the input
    /// left when the member's deflate data ended (the stage is then `Trailer`).
    fn inflate<'i>(
        &mut self,
        mut input: &'i [u8],
        eof: bool,
        sink: &mut dyn FnMut(&[u8]),
    ) -> Result<&'i [u8], ReadError> {
        let flush = if eof {
            InflateFlush::Finish
        } else {
            InflateFlush::NoFlush
        };
        loop {
            let (in0, out0) = (self.inflater.total_in(), self.inflater.total_out());
            let out = self.crc.space();
            let room = out.len();
            let status = self.inflater.decompress(input, out, flush);
            let consumed = (self.inflater.total_in() - in0) as usize;
            let produced = (self.inflater.total_out() - out0) as usize;
            input = &input[consumed..];
            self.deflate_in += consumed as u64;
            if produced > 0 {
                self.total += produced;
                self.member_len += produced;
                if self.total > self.limit {
                    self.fail(ReadError::TooLarge)?;
                }
                sink(self.crc.written(produced));
                self.crc.commit(produced);
            }
            let err = match status {
                Ok(Status::StreamEnd) => {
                    self.stage = Stage::Trailer;
                    return Ok(input);
                }
                // A full buffer: more output may be waiting.
                Ok(_) if produced == room => continue,
                Ok(Status::Ok) if consumed > 0 || produced > 0 => {
                    if input.is_empty() && !eof {
                        return Ok(input);
                    }
                    continue;
                }
                // No progress: the data so far is used up.
                Ok(_) if !eof && input.is_empty() => return Ok(input),
                Ok(_) => ReadError::UnexpectedEof,
                Err(_) => ReadError::Corrupt(self.deflate_in),
            };
            let e = self.stop(err);
            self.fail(e)?;
        }
    }
}

/// Decompresses every member of `body` (whose first header, of length `data_start`, was
/// already read), stopping with `TooLarge` once the output reaches `limit` bytes.
/// Errors come in stream order, as InfluxDB reads through Go's `io.LimitedReader`: output
/// past the limit is cut off before any later error, but an error that arrives in the same
/// read as the limit's last byte still wins (spec Part B §1 step 8 and §5).
///
/// The output grows with what has been decoded, never ahead of it: the last trailer's size
/// field only caps a growth step (so an honest body ends in one exact allocation), it never
/// sizes one.
pub fn decompress_members(
    body: &[u8],
    data_start: usize,
    limit: usize,
) -> Result<Vec<u8>, ReadError> {
    let claimed = body
        .len()
        .checked_sub(4)
        .filter(|&i| i >= data_start)
        .map_or(0, |i| {
            u32::from_le_bytes([body[i], body[i + 1], body[i + 2], body[i + 3]]) as usize
        });
    let mut out: Vec<u8> = Vec::new();
    let mut sink = |data: &[u8]| {
        let need = out.len() + data.len();
        if need > out.capacity() {
            let mut cap = need.max(out.capacity() * 2).max(OUT);
            // + 1 so a stream that ends exactly at the claim needs no last growth step.
            if claimed >= need && claimed < cap {
                cap = claimed + 1;
            }
            out.reserve_exact(cap - out.len());
        }
        out.extend_from_slice(data);
    };
    let mut d = Decoder::new(limit);
    d.push(body.get(data_start..).unwrap_or_default(), &mut sink)?;
    d.finish(&mut sink)?;
    Ok(out)
}

/// A whole gzip body from its first byte, decoded ([`read_header`], then
/// [`decompress_members`]): the spool's 413 split and the page's viewer read gzip exactly as
/// the check does. A body with no header or a short one is `UnexpectedEof`.
pub fn decompress(body: &[u8], limit: usize) -> Result<Vec<u8>, ReadError> {
    let start = read_header(body).map_err(header_error)?;
    decompress_members(body, start, limit)
}

fn header_error(e: HeaderError) -> ReadError {
    match e {
        HeaderError::Invalid => ReadError::InvalidHeader,
        HeaderError::Empty | HeaderError::Truncated => ReadError::UnexpectedEof,
    }
}

/// [`decompress`] fed in pieces from the body's first byte (the first member header is
/// gathered first, at most [`MAX_HEADER`] bytes of it): for a reader that should not hold
/// the whole body, as the page's viewer of a large file.
pub struct Gunzip {
    head: Vec<u8>,
    decoder: Option<Box<Decoder>>,
    limit: usize,
}

impl Gunzip {
    /// Stops with `TooLarge` once the output reaches `limit` bytes.
    pub fn new(limit: usize) -> Gunzip {
        Gunzip {
            head: Vec::new(),
            decoder: None,
            limit,
        }
    }

    /// Feeds the next bytes; decoded bytes reach `sink`. An error is final.
    pub fn push(&mut self, input: &[u8], sink: &mut dyn FnMut(&[u8])) -> Result<(), ReadError> {
        if let Some(d) = self.decoder.as_mut() {
            return d.push(input, sink);
        }
        // The header may span pieces: gathered until it is whole (or known bad).
        let gathered;
        let head: &[u8] = if self.head.is_empty() {
            input
        } else {
            self.head.extend_from_slice(input);
            gathered = std::mem::take(&mut self.head);
            &gathered
        };
        match read_header(head) {
            Ok(n) => {
                let mut d = Box::new(Decoder::new(self.limit));
                let r = d.push(&head[n..], sink);
                self.decoder = Some(d);
                r
            }
            Err(HeaderError::Invalid) => Err(ReadError::InvalidHeader),
            Err(HeaderError::Empty | HeaderError::Truncated) => {
                self.head = head.to_vec();
                Ok(())
            }
        }
    }

    /// Ends the body: `Ok` when it ended cleanly after a whole member.
    pub fn finish(&mut self, sink: &mut dyn FnMut(&[u8])) -> Result<(), ReadError> {
        match self.decoder.as_mut() {
            Some(d) => d.finish(sink),
            None => {
                Err(read_header(&self.head).map_or_else(header_error, |_| ReadError::UnexpectedEof))
            }
        }
    }
}

/// Gzip-compresses `data` as one member (level 6, mtime 0); for tests and tools.
pub fn compress(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    out.extend_from_slice(&miniz_oxide::deflate::compress_to_vec(data, 6));
    out.extend_from_slice(&crc32(0, data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gunzip_in_pieces_equals_decompress() {
        let mut body = compress(b"a v=1 1\n");
        body.extend(compress(b"b v=2 2\n"));
        assert_eq!(decompress(&body, 1 << 20).unwrap(), b"a v=1 1\nb v=2 2\n");
        for piece in [1, 3, 10, 11, body.len()] {
            let mut g = Gunzip::new(1 << 20);
            let mut out = Vec::new();
            for c in body.chunks(piece) {
                g.push(c, &mut |d| out.extend_from_slice(d)).unwrap();
            }
            g.finish(&mut |d| out.extend_from_slice(d)).unwrap();
            assert_eq!(out, b"a v=1 1\nb v=2 2\n", "pieces of {piece}");
        }
        let mut g = Gunzip::new(1 << 20);
        g.push(&body[..5], &mut |_| {}).unwrap();
        assert_eq!(g.finish(&mut |_| {}), Err(ReadError::UnexpectedEof));
        assert_eq!(decompress(b"", 10), Err(ReadError::UnexpectedEof));
        assert_eq!(
            decompress(b"plain text body", 10),
            Err(ReadError::InvalidHeader)
        );
        assert_eq!(decompress(&body, 4), Err(ReadError::TooLarge));
    }

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

    #[test]
    fn the_size_field_only_caps_a_growth_step() {
        let data = b"m f=1 1\n".repeat(20_000);
        // Honest: one exact buffer, nothing copied while growing past it.
        let out = gunzip(&compress(&data), 1 << 30).unwrap();
        assert_eq!(out, data);
        assert_eq!(out.capacity(), data.len() + 1);
        // A wrong claim changes nothing but the growth steps (issue 13 item 5: a claim of
        // 512 MiB no longer sizes the first allocation; tests/alloc.rs measures the peak).
        let mut lie = compress(&data);
        let n = lie.len();
        lie[n - 4..].copy_from_slice(&(512u32 << 20).to_le_bytes());
        assert_eq!(gunzip(&lie, 1 << 30), Err(ReadError::Checksum));
    }

    #[test]
    fn any_chunks_give_the_same_answer() {
        let a = compress(&b"m,t=x f=1 1\n".repeat(5000));
        let mut body = a.clone();
        body.extend_from_slice(&compress(b"m f=2 2\n"));
        let whole = gunzip(&body, 1 << 20).unwrap();
        for size in [1, 7, 4096, 1 << 16] {
            let mut d = Decoder::new(1 << 20);
            let mut out = Vec::new();
            for ch in body[10..].chunks(size) {
                d.push(ch, &mut |b| out.extend_from_slice(b)).unwrap();
            }
            d.finish(&mut |b| out.extend_from_slice(b)).unwrap();
            assert_eq!(out, whole, "chunks of {size}");
        }
    }
}
