//! Standard input of any size in bounded memory: the `linegate` binary checks a stream
//! generated on the fly, many times larger than the memory it may use, and its peak RSS
//! (`VmHWM`) stays under 64 MiB. The plain stream is 10 GiB (about 13 s on this project's
//! 2-core machine kind); `LINEGATE_STREAM_TEST_GB` sets another size.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// 1 MiB of valid, varied line protocol (each block ends with a LF).
fn block(seed: u64) -> Vec<u8> {
    let mut v = Vec::with_capacity((1 << 20) + 200);
    let mut i = seed;
    while v.len() < 1 << 20 {
        v.extend_from_slice(
            format!(
                "cpu,host=h{},dc=d{} usage_user={}i,usage_idle={}.5,ok=true,s=\"x y\" {}\n",
                i % 1000,
                i % 7,
                i % 100,
                i % 97,
                1_700_000_000_000_000_000 + i
            )
            .as_bytes(),
        );
        i += 1;
    }
    v
}

fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Runs `linegate check [extra] -` on `total` bytes made of `blocks` in turn, written as
/// fast as the binary reads them; returns (stdout, peak RSS in KiB, seconds).
fn run(extra: &[&str], blocks: &[Vec<u8>], total: u64) -> (String, u64, f64) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_linegate"))
        .arg("check")
        .args(extra)
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut stdin = child.stdin.take().unwrap();
    let started = Instant::now();
    let mut written = 0u64;
    let mut peak = 0u64;
    let mut k = 0usize;
    let mut last_sample = Instant::now();
    while written < total {
        let b = &blocks[k % blocks.len()];
        k += 1;
        stdin.write_all(b).expect("the checker keeps reading");
        written += b.len() as u64;
        if last_sample.elapsed() > Duration::from_millis(50) {
            peak = peak.max(vm_hwm_kib(pid).unwrap_or(0));
            last_sample = Instant::now();
        }
    }
    // The high-water mark once all but the pipe's last bytes are read, before exit.
    peak = peak.max(vm_hwm_kib(pid).unwrap_or(0));
    drop(stdin);
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(child.wait().unwrap().code().is_some());
    (out, peak, started.elapsed().as_secs_f64())
}

#[test]
fn a_stream_much_larger_than_memory_is_checked_in_64_mib() {
    let gb: u64 = std::env::var("LINEGATE_STREAM_TEST_GB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let blocks: Vec<Vec<u8>> = (0..4).map(|k| block(k * 50_000)).collect();
    let total = gb << 30;
    // Past the default 512 MiB limits: nothing but memory bounds the body.
    let big = "1000000000000000";
    let (out, peak_kib, secs) = run(&["--max-body", big, "--max-batch", big], &blocks, total);
    eprintln!(
        "plain stream: {gb} GiB in {secs:.1} s ({:.0} MB/s), peak RSS {} KiB",
        total as f64 / 1e6 / secs,
        peak_kib
    );
    assert_eq!(out, "{\"file\":\"-\",\"status\":204,\"body\":\"\"}\n");
    assert!(peak_kib > 0, "VmHWM was read");
    assert!(peak_kib < 64 << 10, "peak RSS {peak_kib} KiB");
}

#[test]
fn a_gzip_stream_of_many_members_and_a_bad_line_at_the_end() {
    // 256 MiB decoded from gzip members (the first decodes to 1 MiB each), then one bad
    // line: the verdict names its line, with memory bounded all along.
    let plain = block(7);
    let member = linegate_core::gzip::compress(&plain);
    let lines_per_block = plain.iter().filter(|&&b| b == b'\n').count() as u64;
    let n = 256u64;
    let bad = linegate_core::gzip::compress(b"cpu usage=oops 1\n");
    let mut blocks = vec![member; n as usize];
    blocks.push(bad);
    let total: u64 = blocks.iter().map(|b| b.len() as u64).sum();
    let (out, peak_kib, _) = run(&["--content-encoding", "gzip"], &blocks, total);
    let want_line = n * lines_per_block + 1;
    assert!(out.contains("\"status\":400"), "{out}");
    assert!(
        out.contains(&format!("invalid boolean\\\",\\\"line\\\":{want_line}}}")),
        "{out}"
    );
    assert!(peak_kib < 64 << 10, "peak RSS {peak_kib} KiB");
}
