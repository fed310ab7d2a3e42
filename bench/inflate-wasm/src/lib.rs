//! Raw exports (no bindings) for `bench/inflate-wasm.mjs`: the caller copies a body into
//! memory from `alloc`, then times each function over it. Each returns a value derived from
//! its work so none is optimised away.

use std::hint::black_box;

use linegate_core::{gzip, Checker, Limits, ValidateOptions};
use miniz_oxide::inflate::core::inflate_flags::TINFL_FLAG_HAS_MORE_INPUT;
use miniz_oxide::inflate::core::{decompress, DecompressorOxide};
use miniz_oxide::inflate::TINFLStatus;

/// A buffer of `len` bytes the caller fills; never freed (one per dataset).
#[no_mangle]
pub extern "C" fn alloc(len: usize) -> *mut u8 {
    Box::leak(vec![0u8; len].into_boxed_slice()).as_mut_ptr()
}

fn bytes<'a>(ptr: *const u8, len: usize) -> &'a [u8] {
    // SAFETY: the caller passes a buffer from `alloc` and its length.
    unsafe { std::slice::from_raw_parts(ptr, len) }
}

fn deflate_of(gz: &[u8]) -> &[u8] {
    let start = gzip::read_header(gz).unwrap_or(10);
    &gz[start..gz.len() - 8]
}

/// miniz_oxide alone, as linegate's decoder drives it (64 KiB wrapping window).
#[no_mangle]
pub extern "C" fn inflate_miniz(ptr: *const u8, len: usize) -> usize {
    let mut input = deflate_of(bytes(ptr, len));
    let mut st = Box::<DecompressorOxide>::default();
    let mut win = vec![0u8; 64 << 10];
    let (mut pos, mut total) = (0usize, 0usize);
    loop {
        let (s, used, out) = decompress(&mut st, input, &mut win, pos, TINFL_FLAG_HAS_MORE_INPUT);
        input = &input[used..];
        total += out;
        pos = (pos + out) & (win.len() - 1);
        match s {
            TINFLStatus::HasMoreOutput => {}
            TINFLStatus::NeedsMoreInput if !input.is_empty() => {}
            _ => return total,
        }
    }
}

/// zlib-rs alone: raw deflate into a 64 KiB buffer, reused.
#[no_mangle]
pub extern "C" fn inflate_zlibrs(ptr: *const u8, len: usize) -> usize {
    let mut input = deflate_of(bytes(ptr, len));
    let mut z = zlib_rs::Inflate::new(false, 15);
    let mut out = vec![0u8; 64 << 10];
    loop {
        let before = z.total_in();
        match z.decompress(input, &mut out, zlib_rs::InflateFlush::NoFlush) {
            Ok(zlib_rs::Status::StreamEnd) | Err(_) => return z.total_out() as usize,
            Ok(_) => {}
        }
        input = &input[(z.total_in() - before) as usize..];
        black_box(&out);
    }
}

#[no_mangle]
pub extern "C" fn crc_crc32fast(ptr: *const u8, len: usize) -> u32 {
    crc32fast::hash(bytes(ptr, len))
}

#[no_mangle]
pub extern "C" fn crc_zlibrs(ptr: *const u8, len: usize) -> u32 {
    zlib_rs::crc32::crc32(0, bytes(ptr, len))
}

/// linegate's stream CRC-32 (crc::Crc32, no table lookup per byte), fed 32 KiB at a time:
/// the copy into its buffer included, as the decoder's inflate writes there instead.
#[no_mangle]
pub extern "C" fn crc_linegate(ptr: *const u8, len: usize) -> u32 {
    linegate_core::crc::crc32_of(bytes(ptr, len))
}

/// linegate's gzip decoder (miniz_oxide + CRC-32 + Go's member rules), output discarded.
#[no_mangle]
pub extern "C" fn gunzip_linegate(ptr: *const u8, len: usize) -> usize {
    let gz = bytes(ptr, len);
    let start = gzip::read_header(gz).unwrap_or(10);
    let mut n = 0usize;
    let mut d = gzip::Decoder::new(usize::MAX);
    let _ = d.push(&gz[start..], &mut |x| n += x.len());
    let _ = d.finish(&mut |x| n += x.len());
    n
}

/// The whole incremental gzip check (inflate, CRC, parse, verdict), fed 64 KiB at a time
/// as a body arrives; returns the status.
#[no_mangle]
pub extern "C" fn check_gzip_stream(ptr: *const u8, len: usize) -> u32 {
    let opts = ValidateOptions {
        content_encoding: Some(b"gzip"),
        limits: Limits {
            max_body: usize::MAX,
            max_batch: usize::MAX,
            ..Limits::default()
        },
        ..ValidateOptions::default()
    };
    let mut c = Checker::new(&opts);
    for piece in bytes(ptr, len).chunks(64 << 10) {
        c.push(piece);
    }
    u32::from(c.finish().status)
}

/// The one-shot gzip check (decode the whole body, then parse), as the package does today.
#[no_mangle]
pub extern "C" fn check_gzip_whole(ptr: *const u8, len: usize) -> u32 {
    let opts = ValidateOptions {
        content_encoding: Some(b"gzip"),
        limits: Limits {
            max_body: usize::MAX,
            max_batch: usize::MAX,
            ..Limits::default()
        },
        ..ValidateOptions::default()
    };
    u32::from(linegate_core::validate(bytes(ptr, len), &opts, |_| {}).status)
}

/// The structural-byte pass alone (the bitmaps the tokenizer walks).
#[no_mangle]
pub extern "C" fn stage_scan(ptr: *const u8, len: usize) -> u64 {
    linegate_core::stages::scan(bytes(ptr, len))
}

/// Splitting into lines alone (memchr).
#[no_mangle]
pub extern "C" fn stage_lines(ptr: *const u8, len: usize) -> usize {
    linegate_core::stages::lines(bytes(ptr, len))
}

fn numeric_values(ptr: *const u8, len: usize, f: impl FnOnce(&[u8], &[u32]) -> u64) -> u64 {
    thread_local! {
        static SPANS: std::cell::RefCell<Vec<(usize, Vec<u32>)>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    SPANS.with(|s| {
        let mut s = s.borrow_mut();
        let k = match s.iter().position(|e| e.0 == ptr as usize) {
            Some(k) => k,
            None => {
                s.push((
                    ptr as usize,
                    linegate_core::stages::numeric_values(bytes(ptr, len)),
                ));
                s.len() - 1
            }
        };
        f(bytes(ptr, len), &s[k].1)
    })
}

/// The number reader alone over the numeric values of the body (found once, then cached).
#[no_mangle]
pub extern "C" fn stage_numbers(ptr: *const u8, len: usize) -> u64 {
    numeric_values(ptr, len, linegate_core::stages::numbers)
}

/// The same where only validity is asked (the check's reader).
#[no_mangle]
pub extern "C" fn stage_numbers_valid(ptr: *const u8, len: usize) -> u64 {
    numeric_values(ptr, len, linegate_core::stages::numbers_valid)
}

/// zlib-rs inflating the whole body into one buffer of `out_len` bytes.
#[no_mangle]
pub extern "C" fn inflate_zlibrs_whole(ptr: *const u8, len: usize, out_len: usize) -> usize {
    let mut z = zlib_rs::Inflate::new(false, 15);
    let mut out = vec![0u8; out_len];
    let _ = z.decompress(
        deflate_of(bytes(ptr, len)),
        &mut out,
        zlib_rs::InflateFlush::Finish,
    );
    black_box(&out);
    z.total_out() as usize
}

/// The plain one-shot check (`validate`).
#[no_mangle]
pub extern "C" fn check_plain(ptr: *const u8, len: usize) -> u32 {
    let opts = ValidateOptions {
        limits: Limits {
            max_body: usize::MAX,
            max_batch: usize::MAX,
            ..Limits::default()
        },
        ..ValidateOptions::default()
    };
    u32::from(linegate_core::validate(bytes(ptr, len), &opts, |_| {}).status)
}

/// The whole request check (`check_request`, as `checkWrite` runs it), plain or gzip.
#[no_mangle]
pub extern "C" fn check_request(ptr: *const u8, len: usize, gzip: u32) -> u32 {
    let req = linegate_core::Request {
        query: b"org=o&bucket=b&precision=ns",
        authorization: Some(b"Token t"),
        content_encoding: (gzip != 0).then_some(&b"gzip"[..]),
        body: bytes(ptr, len),
    };
    let limits = Limits {
        max_body: usize::MAX,
        max_batch: usize::MAX,
        ..Limits::default()
    };
    match linegate_core::check_request(&req, &limits, 1_700_000_000_123_456_789) {
        linegate_core::Verdict::Forward { .. } => 204,
        linegate_core::Verdict::Reject(r) => u32::from(r.status),
    }
}
