//! Memory is allocated as bytes are decoded, never from what the body claims: the peak heap
//! of the one-shot gzip read and of the incremental checker, measured by a counting
//! allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use linegate_core::pipeline::decode_body;
use linegate_core::{check_request, gzip, Checker, Limits, Request, ValidateOptions, Verdict};

struct Counting;

static NOW: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
/// The tests of this file measure one at a time.
static ONE: Mutex<()> = Mutex::new(());

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let n = NOW.fetch_add(l.size(), Ordering::SeqCst) + l.size();
        PEAK.fetch_max(n, Ordering::SeqCst);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        NOW.fetch_sub(l.size(), Ordering::SeqCst);
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static A: Counting = Counting;

/// Peak heap growth while `f` runs.
fn peak_of(f: impl FnOnce()) -> usize {
    let base = NOW.load(Ordering::SeqCst);
    PEAK.store(base, Ordering::SeqCst);
    f();
    PEAK.load(Ordering::SeqCst) - base
}

/// About `n` bytes of varied line protocol (it compresses about 10:1, like real batches).
fn lines(n: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(n + 100);
    let mut i = 0u64;
    while v.len() < n {
        v.extend_from_slice(
            format!(
                "cpu,host=h{},dc=d{} usage={}.{},n={}i {}\n",
                i % 97,
                i % 7,
                i % 100,
                i % 13,
                i,
                1_700_000_000 + i
            )
            .as_bytes(),
        );
        i += 1;
    }
    v
}

#[test]
fn a_lying_gzip_size_field_allocates_nothing_ahead() {
    let _one = ONE.lock().unwrap_or_else(|e| e.into_inner());
    // Issue 13 item 5: ~600 KB of gzip that claims 512 MiB in its trailer.
    let data = lines(4 << 20);
    let mut body = gzip::compress(&data);
    let n = body.len();
    body[n - 4..].copy_from_slice(&(512u32 << 20).to_le_bytes());
    assert!(body.len() < 1 << 20, "{}", body.len());
    let peak = peak_of(|| {
        let r = decode_body(&body, Some(10), &Limits::default());
        assert_eq!(r.unwrap_err().status, 400);
    });
    // Growth by doubling: at worst the old 4 MiB and the new 8 MiB while copying (it was
    // the claimed 512 MiB before a byte was decoded).
    assert!(peak < 16 << 20, "peak {peak} bytes");
}

#[test]
fn the_incremental_checker_holds_a_line_not_the_body() {
    let _one = ONE.lock().unwrap_or_else(|e| e.into_inner());
    let data = lines(32 << 20);
    for gz in [false, true] {
        let body = if gz {
            gzip::compress(&data)
        } else {
            data.clone()
        };
        let opts = ValidateOptions {
            content_encoding: gz.then_some(&b"gzip"[..]),
            ..ValidateOptions::default()
        };
        let mut v = None;
        let peak = peak_of(|| {
            let mut c = Checker::new(&opts);
            for ch in body.chunks(64 << 10) {
                c.push(ch);
            }
            v = Some(c.finish());
        });
        let v = v.unwrap();
        assert_eq!(v.status, 204);
        assert_eq!(v.lines, data.iter().filter(|&&b| b == b'\n').count() as u64);
        // The window, the inflate state, a line, parser buffers: well under 1 MiB.
        assert!(
            peak < 1 << 20,
            "gzip {gz}: peak {peak} bytes for {} MB",
            data.len() >> 20
        );
    }
}

#[test]
fn the_one_shot_request_check_holds_no_decoded_gzip_body() {
    let _one = ONE.lock().unwrap_or_else(|e| e.into_inner());
    let data = lines(32 << 20);
    let body = gzip::compress(&data);
    let req = Request {
        query: b"org=o&bucket=b",
        authorization: Some(b"Token t"),
        content_encoding: Some(b"gzip"),
        body: &body,
    };
    let lf = data.iter().filter(|&&b| b == b'\n').count() as u64;
    let mut v = None;
    let peak = peak_of(|| v = Some(check_request(&req, &Limits::default(), 0)));
    assert_eq!(
        v,
        Some(Verdict::Forward {
            points: lf,
            lines: lf
        })
    );
    // Parsed as it inflates: the window and a line, not the 32 MB decoded.
    assert!(peak < 1 << 20, "peak {peak} bytes");
    // A bomb stops at the limit on the decoded size, holding no more.
    let small = Limits {
        max_batch: 8 << 20,
        ..Limits::default()
    };
    let mut v = None;
    let peak = peak_of(|| v = Some(check_request(&req, &small, 0)));
    let Some(Verdict::Reject(r)) = v else {
        panic!("{v:?}")
    };
    assert_eq!(r.status, 413);
    assert!(peak < 1 << 20, "peak {peak} bytes");
}
