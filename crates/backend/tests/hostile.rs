//! Hostile clients against the real binary: unauthenticated bodies, trickling connections,
//! shutdown under load, token scopes, what the data directory gives away, and memory.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use support::{Server, BIN};

/// Resident memory of a process, in KiB (`VmRSS`, or `VmHWM` for the peak).
fn rss_kib(pid: u32, field: &str) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} not in /proc/{pid}/status"))
}

/// The peak RSS of a process from now on, in KiB: `VmHWM` after resetting it through
/// `clear_refs` where the kernel allows that, and in any case the highest `VmRSS` seen by a
/// thread sampling it every millisecond.
struct Peak {
    pid: u32,
    reset: bool,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    sampler: std::thread::JoinHandle<u64>,
}

impl Peak {
    fn start(pid: u32) -> Peak {
        let reset = std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let s2 = stop.clone();
        let sampler = std::thread::spawn(move || {
            let mut max = 0;
            while !s2.load(std::sync::atomic::Ordering::Relaxed) {
                max = max.max(rss_kib(pid, "VmRSS:"));
                std::thread::sleep(Duration::from_millis(1));
            }
            max
        });
        Peak {
            pid,
            reset,
            stop,
            sampler,
        }
    }

    fn finish(self) -> u64 {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let sampled = self.sampler.join().unwrap();
        if self.reset {
            sampled.max(rss_kib(self.pid, "VmHWM:"))
        } else {
            sampled
        }
    }
}

fn wait_exit(child: &mut std::process::Child, secs: f64) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    while Instant::now() < deadline {
        if let Some(st) = child.try_wait().unwrap() {
            return Some(st);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

fn sigterm(pid: u32) {
    let ok = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -TERM");
}

/// Sends a write head declaring `declared` body bytes, then streams zeros on another
/// thread while this one reads the answer. Gives (status, time to the answer, bytes the
/// client managed to send before the server closed).
fn huge_unauthorized_write(addr: &str, declared: usize) -> (u16, Duration, usize) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    let head = format!(
        "POST /api/v2/write?org=o&bucket=b HTTP/1.1\r\nHost: x\r\nAuthorization: Token wrong\r\nContent-Length: {declared}\r\n\r\n"
    );
    let t0 = Instant::now();
    s.write_all(head.as_bytes()).unwrap();
    let mut w = s.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        let chunk = vec![b'x'; 1 << 16];
        let mut sent = 0;
        while sent < declared {
            match w.write(&chunk[..chunk.len().min(declared - sent)]) {
                Ok(n) => sent += n,
                Err(_) => break,
            }
        }
        sent
    });
    let mut buf = Vec::new();
    let mut tmp = [0u8; 4096];
    let status;
    loop {
        let n = s.read(&mut tmp).expect("the 401 arrives before any reset");
        assert!(
            n > 0,
            "closed before an answer: {:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.extend_from_slice(&tmp[..n]);
        if let Ok(r) = support::parse_response(&buf) {
            if buf.windows(4).any(|w| w == b"\r\n\r\n") && !r.body.is_empty() {
                status = r.status;
                break;
            }
        }
    }
    let took = t0.elapsed();
    let sent = writer.join().unwrap();
    (status, took, sent)
}

#[test]
fn a_wrong_token_gets_401_without_the_body_being_read() {
    let dir = support::temp_dir("hostile-401");
    let s = Server::start(&dir.join("data"), &support::setup("o", "b", "good-token"));
    let pid = s.child.id();
    const DECLARED: usize = 200 << 20;
    // Warm up (the first request builds what every request shares).
    assert_eq!(
        s.write("good-token", "org=o&bucket=b", b"m f=1 1").status,
        204
    );
    let base = rss_kib(pid, "VmRSS:");
    let peak = Peak::start(pid);
    let (status, took, sent) = huge_unauthorized_write(&s.addr, DECLARED);
    eprintln!("401 after {took:?}, {sent} of {DECLARED} body bytes sent before the close");
    assert_eq!(status, 401);
    assert!(took < Duration::from_secs(1), "401 after {took:?}");
    assert!(sent < DECLARED, "the server read the whole 200 MiB body");
    // Four at once.
    let addr = s.addr.clone();
    let four: Vec<_> = (0..4)
        .map(|_| {
            let a = addr.clone();
            std::thread::spawn(move || huge_unauthorized_write(&a, DECLARED))
        })
        .collect();
    for h in four {
        let (status, took, sent) = h.join().unwrap();
        assert_eq!(status, 401);
        assert!(took < Duration::from_secs(1), "401 after {took:?}");
        assert!(sent < DECLARED);
    }
    let grew = peak.finish().saturating_sub(base);
    eprintln!("peak RSS growth over five unauthorized 200 MiB writes: {grew} KiB");
    assert!(grew < 16 << 10, "RSS grew by {grew} KiB");
    // The server still answers.
    assert_eq!(
        s.write("good-token", "org=o&bucket=b", b"m f=2 2").status,
        204
    );
}

/// One connection of the trickle test: it sends one more byte at every tick.
struct Trickler {
    s: TcpStream,
    pending: Vec<u8>,
    closed: Option<Instant>,
}

impl Trickler {
    fn tick(&mut self) {
        if self.closed.is_some() {
            return;
        }
        if !self.pending.is_empty() {
            match self.s.write(&self.pending[..1]) {
                Ok(_) => {
                    self.pending.remove(0);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => {
                    self.closed = Some(Instant::now());
                    return;
                }
            }
        }
        let mut buf = [0u8; 1024];
        loop {
            match self.s.read(&mut buf) {
                Ok(0) => {
                    self.closed = Some(Instant::now());
                    return;
                }
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(_) => {
                    self.closed = Some(Instant::now());
                    return;
                }
            }
        }
    }
}

#[test]
fn trickling_connections_are_cut_off_while_a_normal_client_is_served() {
    let (_, s) = support::serve(
        "hostile-trickle",
        &[
            "--header-timeout-ms",
            "1000",
            "--body-idle-timeout-ms",
            "1000",
            "--min-body-rate",
            "1000",
        ],
    );
    let t0 = Instant::now();
    let mut conns: Vec<Trickler> = (0..500)
        .map(|i| {
            let s2 = TcpStream::connect(&s.addr).unwrap();
            s2.set_nonblocking(true).unwrap();
            let pending = if i % 2 == 0 {
                // Headers, one byte a tick, never finished in time.
                b"POST /api/v2/write?org=o&bucket=b HTTP/1.1\r\nHost: x\r\nAuthorization: Token tok\r\nContent-Length: 5\r\n\r\nm f=1"
                    .to_vec()
            } else {
                // A complete head, then a body one byte a tick (the rate is far too low).
                let mut v = b"POST /api/v2/write?org=o&bucket=b HTTP/1.1\r\nHost: x\r\nAuthorization: Token tok\r\nContent-Length: 400\r\n\r\n".to_vec();
                let mut s2 = s2.try_clone().unwrap();
                s2.set_nonblocking(false).unwrap();
                s2.write_all(&v).unwrap();
                s2.set_nonblocking(true).unwrap();
                v.clear();
                v.extend(std::iter::repeat_n(b'x', 400));
                v
            };
            Trickler {
                s: s2,
                pending,
                closed: None,
            }
        })
        .collect();
    // A normal client, meanwhile, on its own thread.
    let addr = s.addr.clone();
    let normal = std::thread::spawn(move || {
        let mut lat = Vec::new();
        let end = Instant::now() + Duration::from_secs(3);
        let mut i = 0;
        while Instant::now() < end {
            i += 1;
            let body = format!("m f={i} {i}");
            let t = Instant::now();
            let r = support::request(
                &addr,
                "POST",
                "/api/v2/write?org=o&bucket=b",
                &[("Authorization", "Token tok")],
                body.as_bytes(),
            )
            .unwrap();
            lat.push(t.elapsed());
            assert_eq!(r.status, 204, "{}", r.text());
            std::thread::sleep(Duration::from_millis(5));
        }
        lat
    });
    let deadline = t0 + Duration::from_secs(8);
    while Instant::now() < deadline && conns.iter().any(|c| c.closed.is_none()) {
        for c in &mut conns {
            c.tick();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let open = conns.iter().filter(|c| c.closed.is_none()).count();
    let last = conns
        .iter()
        .filter_map(|c| c.closed)
        .max()
        .map(|t| t - t0)
        .unwrap_or_default();
    assert_eq!(open, 0, "{open} of 500 trickling connections still open");
    eprintln!("all 500 trickling connections closed after {last:?}");
    assert!(last < Duration::from_secs(5), "closed only after {last:?}");
    let mut lat = normal.join().unwrap();
    lat.sort();
    let p99 = lat[(lat.len() * 99 / 100).min(lat.len() - 1)];
    eprintln!("normal client: {} writes, p99 {p99:?}", lat.len());
    assert!(lat.len() >= 20, "only {} writes", lat.len());
    assert!(p99 < Duration::from_millis(100), "p99 {p99:?}");
}

#[test]
fn sigterm_finishes_within_its_deadline() {
    let (_, mut s) = support::serve(
        "hostile-term",
        &[
            "--shutdown-timeout-ms",
            "1000",
            "--body-idle-timeout-ms",
            "60000",
            "--min-body-rate",
            "0",
        ],
    );
    assert_eq!(s.write("tok", "org=o&bucket=b", b"m f=1 1").status, 204);
    let free = budget_free(&s);
    // An upload that would take minutes, and an idle keep-alive connection.
    let mut slow = TcpStream::connect(&s.addr).unwrap();
    slow.write_all(b"POST /api/v2/write?org=o&bucket=b HTTP/1.1\r\nHost: x\r\nAuthorization: Token tok\r\nContent-Length: 100000\r\n\r\nm f=2 2\n")
        .unwrap();
    let mut idle = TcpStream::connect(&s.addr).unwrap();
    idle.write_all(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut b = [0u8; 256];
    let _ = idle.read(&mut b).unwrap();
    // Until the slow upload's body is being read (it then holds some of the budget): a
    // request the server has not started is not one it must wait for.
    let t0 = Instant::now();
    while budget_free(&s) >= free {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "the slow upload never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let t0 = Instant::now();
    sigterm(s.child.id());
    let st = wait_exit(&mut s.child, 3.0).expect("still running 3 s after SIGTERM");
    let took = t0.elapsed();
    eprintln!("SIGTERM to exit: {took:?} (deadline 1 s)");
    assert!(st.success(), "{st:?}");
    assert!(took < Duration::from_millis(2000), "{took:?}");
    assert!(
        took >= Duration::from_millis(900),
        "the slow upload was not waited for"
    );
    // What was answered 204 is there.
    let out = support::export_cli(&s.data, "b", &[]);
    assert_eq!(out, "m f=1.0 1\n");
}

fn write_config(dir: &Path, body: &str) -> String {
    let p = dir.join("linegate.toml");
    std::fs::write(&p, body).unwrap();
    p.to_str().unwrap().to_string()
}

const SCOPED: &str = r#"
[[orgs]]
name = "o"
[[buckets]]
org = "o"
name = "b"
[[tokens]]
token = "all-access-secret-1"
all_access = true
[[tokens]]
token = "writer-secret-2"
org = "o"
write = ["b"]
[[tokens]]
token = "reader-secret-3"
org = "o"
read = ["b"]
"#;

#[test]
fn scopes_read_and_write_apart() {
    let dir = support::temp_dir("hostile-scopes");
    let cfg = write_config(&dir, SCOPED);
    let s = Server::start(&dir.join("data"), &["--config", &cfg]);
    assert_eq!(
        s.write("writer-secret-2", "org=o&bucket=b", b"m f=1 1")
            .status,
        204
    );
    let r = s.write("reader-secret-3", "org=o&bucket=b", b"m f=2 2");
    assert_eq!(r.status, 403, "{}", r.text());
    let export = |tok: &str| {
        s.request(
            "GET",
            "/api/v2/export?org=o&bucket=b",
            &[("Authorization", &format!("Token {tok}"))],
            b"",
        )
    };
    let r = export("writer-secret-2");
    assert_eq!(
        r.status,
        403,
        "a write-only token read the bucket: {}",
        r.text()
    );
    assert_eq!(export("all-access-secret-1").text(), "m f=1.0 1\n");
    assert_eq!(export("reader-secret-3").text(), "m f=1.0 1\n");
    assert_eq!(export("nope").status, 401);
    let dl = |tok: &str| {
        s.request(
            "GET",
            "/api/v2/dead-letters",
            &[("Authorization", &format!("Token {tok}"))],
            b"",
        )
        .status
    };
    assert_eq!(dl("writer-secret-2"), 403);
    assert_eq!(dl("reader-secret-3"), 200);
    assert_eq!(dl("all-access-secret-1"), 200);
}

/// Every file under `dir` (recursively) that contains `needle`.
fn files_containing(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut hits = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            hits.extend(files_containing(&p, needle));
        } else if let Ok(b) = std::fs::read(&p) {
            if b.windows(needle.len()).any(|w| w == needle) {
                hits.push(p.display().to_string());
            }
        }
    }
    hits
}

fn assert_private(data: &Path) {
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(data), 0o700, "{}", data.display());
    let mut files = 0;
    for e in std::fs::read_dir(data).unwrap() {
        let p = e.unwrap().path();
        assert_eq!(mode(&p), 0o600, "{}", p.display());
        files += 1;
    }
    assert!(files > 0);
}

#[test]
fn the_data_directory_holds_no_token_and_only_its_owner_reads_it() {
    let dir = support::temp_dir("hostile-tokens");
    let cfg = write_config(&dir, SCOPED);
    let data = dir.join("data");
    let mut s = Server::start(
        &data,
        &[
            &["--config", cfg.as_str()][..],
            &support::setup("o", "b", "setup-secret-4"),
        ]
        .concat(),
    );
    assert_eq!(
        s.write("setup-secret-4", "org=o&bucket=b", b"m f=1 1")
            .status,
        204
    );
    assert_eq!(
        s.write("writer-secret-2", "org=o&bucket=b", b"m f=2 2")
            .status,
        204
    );
    // While it runs: the database and its -wal and -shm files.
    let names: Vec<String> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().any(|n| n.ends_with("-wal")), "{names:?}");
    assert_private(&data);
    for t in [
        "all-access-secret-1",
        "writer-secret-2",
        "reader-secret-3",
        "setup-secret-4",
    ] {
        assert_eq!(
            files_containing(&data, t.as_bytes()),
            Vec::<String>::new(),
            "{t}"
        );
    }
    sigterm(s.child.id());
    assert!(wait_exit(&mut s.child, 5.0).is_some());
    assert_private(&data);
    for t in [
        "all-access-secret-1",
        "writer-secret-2",
        "reader-secret-3",
        "setup-secret-4",
    ] {
        assert_eq!(
            files_containing(&data, t.as_bytes()),
            Vec::<String>::new(),
            "{t}"
        );
    }
    // Restarted with the same file: the hashed config tokens still work.
    let s = Server::start(&data, &["--config", &cfg]);
    assert_eq!(
        s.write("writer-secret-2", "org=o&bucket=b", b"m f=3 3")
            .status,
        204
    );
    assert_eq!(
        s.write("setup-secret-4", "org=o&bucket=b", b"m f=4 4")
            .status,
        204
    );
    assert_eq!(s.write("wrong", "org=o&bucket=b", b"m f=5 5").status, 401);
}

#[test]
fn a_plain_text_token_table_is_hashed_away() {
    let dir = support::temp_dir("hostile-migrate");
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    {
        // A database as versions before hashing left it.
        let c = rusqlite::Connection::open(data.join("linegate.db")).unwrap();
        c.execute_batch(
            "PRAGMA journal_mode=WAL;
             CREATE TABLE orgs(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
             CREATE TABLE buckets(id INTEGER PRIMARY KEY, org_id INTEGER NOT NULL,
               name TEXT NOT NULL, retention_secs INTEGER NOT NULL DEFAULT 0, UNIQUE(org_id, name));
             CREATE TABLE tokens(token TEXT PRIMARY KEY, org_id INTEGER,
               all_access INTEGER NOT NULL, description TEXT NOT NULL DEFAULT '');
             CREATE TABLE token_buckets(token TEXT NOT NULL, bucket_id INTEGER NOT NULL,
               PRIMARY KEY(token, bucket_id)) WITHOUT ROWID;
             INSERT INTO orgs VALUES (1311768467463790320, 'o');
             INSERT INTO buckets VALUES (1311768467463790321, 1311768467463790320, 'b', 0);
             INSERT INTO tokens VALUES ('legacy-writer-secret', 1311768467463790320, 0, '');
             INSERT INTO token_buckets VALUES ('legacy-writer-secret', 1311768467463790321);
             INSERT INTO tokens VALUES ('legacy-admin-secret', NULL, 1, '');",
        )
        .unwrap();
    }
    std::fs::set_permissions(
        data.join("linegate.db"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let s = Server::start(&data, &[]);
    assert_eq!(
        s.write("legacy-writer-secret", "org=o&bucket=b", b"m f=1 1")
            .status,
        204
    );
    assert_eq!(
        s.write("legacy-admin-secret", "org=o&bucket=b", b"m f=2 2")
            .status,
        204
    );
    assert_private(&data);
    for t in ["legacy-writer-secret", "legacy-admin-secret"] {
        assert_eq!(
            files_containing(&data, t.as_bytes()),
            Vec::<String>::new(),
            "{t}"
        );
    }
}

/// A gzip body whose trailer claims 512 MiB: memory must follow the bytes that decode.
#[test]
fn a_lying_gzip_size_field_sets_no_allocation() {
    let dir = support::temp_dir("hostile-gzip");
    let s = Server::start(&dir.join("data"), &support::setup("o", "b", "tok"));
    let pid = s.child.id();
    // ~800 KB of line protocol in stored deflate blocks: large enough that a size field
    // of 512 MiB looks plausible (under 1032× the body), which is what the lie needs.
    let mut lp = Vec::new();
    for i in 0..40_000 {
        lp.extend_from_slice(format!("m,t=a f={i} {i}\n").as_bytes());
    }
    let mut gz = gzip_stored(&lp);
    let n = gz.len();
    gz[n - 4..].copy_from_slice(&(512u32 << 20).to_le_bytes());
    assert_eq!(s.write("tok", "org=o&bucket=b", b"m f=0 0").status, 204);
    let base = rss_kib(pid, "VmRSS:");
    let peak = Peak::start(pid);
    let auth = "Token tok";
    let r = s.request(
        "POST",
        "/api/v2/write?org=o&bucket=b",
        &[("Authorization", auth), ("Content-Encoding", "gzip")],
        &gz,
    );
    let grew = peak.finish().saturating_sub(base);
    eprintln!(
        "gzip body of {} bytes claiming 512 MiB: status {}, peak RSS growth {grew} KiB",
        gz.len(),
        r.status
    );
    // Fails until crates/core/src/gzip.rs stops sizing its first allocation from the
    // trailer's size field (issue 13, item 5: fixed in core's streaming gzip rewrite).
    assert!(
        grew < 32 << 10,
        "RSS grew by {grew} KiB: the gzip trailer's size field set an allocation"
    );
}

/// A gzip member of stored (uncompressed) deflate blocks, with a correct CRC and size.
fn gzip_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    let chunks: Vec<&[u8]> = data.chunks(65_535).collect();
    for (i, c) in chunks.iter().enumerate() {
        out.push(u8::from(i + 1 == chunks.len()));
        let len = c.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(c);
    }
    out.extend_from_slice(&crc32(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in data {
        c ^= b as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0xEDB8_8320
            } else {
                c >> 1
            };
        }
    }
    !c
}

#[test]
fn an_export_of_a_million_points_streams_in_bounded_memory() {
    let (_, s) = support::serve("hostile-export", &["--body-idle-timeout-ms", "1500"]);
    let pid = s.child.id();
    // 1,000 series × 1,000 times, in ten batches; every tenth point is written twice
    // (another field, same series and time) so the merge has work to do.
    let t0 = Instant::now();
    for batch in 0..10 {
        let mut body = Vec::with_capacity(4 << 20);
        for t in batch * 100..(batch + 1) * 100 {
            for series in 0..1000 {
                body.extend_from_slice(format!("cpu,host=h{series} v={t}.5 {t}\n").as_bytes());
            }
        }
        let r = s.write("tok", "org=o&bucket=b", &body);
        assert_eq!(r.status, 204, "{}", r.text());
    }
    let mut again = Vec::new();
    for t in (0..1000).step_by(10) {
        again.extend_from_slice(format!("cpu,host=h7 w=1i {t}\n").as_bytes());
    }
    assert_eq!(s.write("tok", "org=o&bucket=b", &again).status, 204);
    eprintln!("wrote 1M points in {:?}", t0.elapsed());
    let base = rss_kib(pid, "VmRSS:");
    let peak = Peak::start(pid);
    let t1 = Instant::now();
    let mut c = TcpStream::connect(&s.addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    c.write_all(b"GET /api/v2/export?org=o&bucket=b HTTP/1.1\r\nHost: x\r\nAuthorization: Token tok\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut all = Vec::new();
    c.read_to_end(&mut all).unwrap();
    let r = support::parse_response(&all).unwrap();
    let grew = peak.finish().saturating_sub(base);
    assert_eq!(r.status, 200);
    let text = r.text();
    let lines: Vec<&str> = text.lines().collect();
    eprintln!(
        "exported {} points ({} bytes) in {:?}; peak RSS growth {grew} KiB",
        lines.len(),
        r.body.len(),
        t1.elapsed()
    );
    assert_eq!(lines.len(), 1_000_000);
    // Sorted by series, then time; the merged point carries both fields.
    assert_eq!(lines[0], "cpu,host=h0 v=0.5 0");
    assert!(text.contains("\ncpu,host=h7 v=10.5,w=1i 10\n"));
    assert!(text.contains("\ncpu,host=h7 v=11.5 11\n"));
    assert_eq!(lines[999_999], "cpu,host=h999 v=999.5 999");
    assert!(grew < 64 << 10, "RSS grew by {grew} KiB");
    // A client that stops reading holds the export only for the idle timeout: then the
    // answer is cut off (no final chunk), not left hanging with a thread and a snapshot.
    let mut c = TcpStream::connect(&s.addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    c.write_all(b"GET /api/v2/export?org=o&bucket=b&raw=true HTTP/1.1\r\nHost: x\r\nAuthorization: Token tok\r\nConnection: close\r\n\r\n")
        .unwrap();
    std::thread::sleep(Duration::from_secs(4));
    let mut stalled = Vec::new();
    let _ = c.read_to_end(&mut stalled);
    eprintln!(
        "a stalled export gave {} of {} bytes",
        stalled.len(),
        all.len()
    );
    assert!(stalled.len() < all.len() / 2, "{} bytes", stalled.len());
    assert!(
        !stalled.ends_with(b"0\r\n\r\n"),
        "a cut-off export looked complete"
    );
    assert_eq!(s.request("GET", "/ping", &[], b"").status, 204);
}

#[test]
fn export_merges_alike_in_memory_and_on_disk() {
    // The two merge paths must give the same bytes (the disk one serves large exports).
    let dir = support::temp_dir("hostile-merge");
    let data = dir.join("data");
    let s = Server::start(&data, &support::setup("o", "b", "tok"));
    let bodies: [&[u8]; 3] = [
        b"m,b=2,a=1 f=1,g=\"x\" 5\nm,a=1,b=2 f=2 5\nm i=1i 7\nm,a=\\=x k=true 7\n",
        b"m,a=1,b=2 h=3u 5\nn f=1 1\nm i=2i,i=3i 7\nm,a==x k=false 7\nm,a=1,b=2 f=9 6\n",
        b"m,b=2,a=1 g=\"y\" 5\n",
    ];
    for b in bodies {
        assert_eq!(s.write("tok", "org=o&bucket=b", b).status, 204);
    }
    drop(s);
    let conn = rusqlite::Connection::open(data.join("linegate.db")).unwrap();
    let bucket: i64 = conn
        .query_row("SELECT id FROM buckets", [], |r| r.get(0))
        .unwrap();
    let f = linegate_backend::store::ExportFilter::default();
    let mut mem = Vec::new();
    let mut disk = Vec::new();
    linegate_backend::store::export_with(&conn, bucket as u64, &f, &mut mem, i64::MAX).unwrap();
    linegate_backend::store::export_with(&conn, bucket as u64, &f, &mut disk, 0).unwrap();
    assert!(!mem.is_empty());
    assert_eq!(
        String::from_utf8(disk).unwrap(),
        String::from_utf8(mem).unwrap()
    );
    let _ = BIN;
}

#[test]
fn an_address_that_keeps_failing_authentication_is_slowed() {
    let (_, s) = support::serve(
        "hostile-guess",
        &["--auth-fail-burst", "3", "--auth-fail-delay-ms", "300"],
    );
    let mut took = Vec::new();
    for i in 0..5 {
        let t = Instant::now();
        let r = s.write(&format!("guess-{i}"), "org=o&bucket=b", b"m f=1 1");
        took.push(t.elapsed());
        assert_eq!(r.status, 401);
    }
    eprintln!("401 times: {took:?}");
    assert!(
        took[..3].iter().all(|t| *t < Duration::from_millis(200)),
        "{took:?}"
    );
    assert!(took[3] >= Duration::from_millis(300), "{took:?}");
    assert!(took[4] >= Duration::from_millis(600), "{took:?}");
    // The right token is not held back.
    let t = Instant::now();
    assert_eq!(s.write("tok", "org=o&bucket=b", b"m f=1 1").status, 204);
    assert!(t.elapsed() < Duration::from_millis(200));
    let m = s.request("GET", "/metrics", &[], b"").text();
    assert!(m.contains("linegate_auth_delayed_total 2"), "{m}");
}

#[test]
fn connections_past_the_cap_are_closed_at_once() {
    let (_, s) = support::serve("hostile-cap", &["--max-connections", "8"]);
    // Eight idle connections hold every slot (the header timeout is 30 s by default).
    let idle: Vec<TcpStream> = (0..8)
        .map(|_| TcpStream::connect(&s.addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let r = support::request(&s.addr, "GET", "/ping", &[], b"");
    assert!(
        r.is_err() || r.as_ref().is_ok_and(|r| r.status == 0),
        "a ninth connection was served: {r:?}"
    );
    drop(idle);
    // Served again once the server has seen the eight close (polled: a busy machine is slow).
    let t0 = Instant::now();
    while support::request(&s.addr, "GET", "/ping", &[], b"").map_or(0, |r| r.status) != 204 {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "still refused after the idle ones closed"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let m = s.request("GET", "/metrics", &[], b"").text();
    assert!(!m.contains("linegate_connections_refused_total 0\n"), "{m}");
}

/// The in-flight body budget's free bytes, from `/metrics`.
fn budget_free(s: &Server) -> u64 {
    let m = s.request("GET", "/metrics", &[], b"").text();
    m.lines()
        .find_map(|l| l.strip_prefix("linegate_body_budget_free_bytes "))
        .and_then(|v| v.parse().ok())
        .expect("the budget gauge in /metrics")
}

#[test]
fn bodies_past_the_in_flight_budget_wait_then_get_503() {
    let (_, s) = support::serve(
        "hostile-budget",
        &[
            "--max-inflight-bytes",
            "100000",
            // Long beside the trickle's 100 ms, so a stalled test thread on a busy machine
            // cannot let the hog's upload time out and free the budget (seen: 204, not 503,
            // at 2000 ms too, in a CI run with the other tests of this file beside it). The
            // waiting write gets its 503 after this long.
            "--body-idle-timeout-ms",
            "5000",
            "--min-body-rate",
            "0",
        ],
    );
    // One upload holds 90 kB of the budget and stalls (under its idle timeout, renewed).
    let mut hog = TcpStream::connect(&s.addr).unwrap();
    hog.write_all(b"POST /api/v2/write?org=o&bucket=b HTTP/1.1\r\nHost: x\r\nAuthorization: Token tok\r\nContent-Length: 1000000\r\n\r\n")
        .unwrap();
    hog.write_all(&vec![b'#'; 90_000]).unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let trickle = {
        let stop = stop.clone();
        let mut hog = hog.try_clone().unwrap();
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if hog.write_all(b"#").is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    // Until the server holds the hog's bytes (a fixed sleep raced a busy machine).
    let t0 = Instant::now();
    while budget_free(&s) > 10_000 {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "the hog's body was never held"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // Another needs 20 kB: the budget stays full past its idle timeout.
    let mut body = b"m f=1 1\n".to_vec();
    body.resize(20_000, b'\n');
    let r = s.write("tok", "org=o&bucket=b", &body);
    assert_eq!(r.status, 503, "{}", r.text());
    assert_eq!(r.header("retry-after"), Some("1"));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    trickle.join().unwrap();
    drop(hog);
    std::thread::sleep(Duration::from_millis(700));
    // Released with the stalled upload: the same write now fits.
    assert_eq!(s.write("tok", "org=o&bucket=b", &body).status, 204);
}

#[test]
fn field_types_past_the_cache_are_still_checked() {
    let (_, s) = support::serve("hostile-fields", &["--field-cache", "100"]);
    // 5,000 distinct fields: most are evicted from a cache of 100.
    for batch in 0..5 {
        let mut body = Vec::new();
        for i in 0..1000 {
            body.extend_from_slice(format!("m f{}=1 1\n", batch * 1000 + i).as_bytes());
        }
        assert_eq!(s.write("tok", "org=o&bucket=b", &body).status, 204);
    }
    // The first field, long evicted, still conflicts; a type kept in the cache too.
    let r = s.write("tok", "org=o&bucket=b", b"m f0=1i 1");
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(
        r.text().contains("already exists as type float"),
        "{}",
        r.text()
    );
    let r = s.write("tok", "org=o&bucket=b", b"m f4999=\"s\" 1");
    assert_eq!(r.status, 422, "{}", r.text());
    assert_eq!(s.write("tok", "org=o&bucket=b", b"m f0=2 2").status, 204);
}
