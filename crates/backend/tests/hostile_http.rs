//! A property test of the backend's HTTP handling: seeded random hostile requests (broken
//! framing, conflicting lengths, bad chunking, junk headers, lying or broken gzip, truncated
//! requests, bad tokens) sent as raw bytes to the real binary. Whatever arrives, the server
//! answers well-formed HTTP or closes, never 204s without the token, never grows without
//! bound, and keeps serving normal clients. `LINEGATE_HOSTILE_CASES` and
//! `LINEGATE_HOSTILE_SEED` change how many cases run and from which seed.

mod support;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use support::Server;

const TOKEN: &str = "hostile-good-token";
const MAX_BODY: usize = 1_000_000;

/// xorshift64*: small, seedable, reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// One generated request: its bytes, and whether it carries the good token.
struct Case {
    bytes: Vec<u8>,
    authorized: bool,
    /// Stop writing after this many bytes (a client that goes quiet or away).
    cut: Option<usize>,
    /// After the bytes: close the write side (else leave the connection open and quiet).
    half_close: bool,
    /// A well-framed authorized write to the existing bucket: (query, first
    /// Content-Encoding, body), whose answer must be the one linegate-core gives.
    clean: Option<(String, Option<&'static str>, Vec<u8>)>,
}

fn line_protocol(r: &mut Rng) -> Vec<u8> {
    let mut out = Vec::new();
    for _ in 0..r.below(20) {
        let line: &[u8] = r.pick::<&[u8]>(&[
            b"m,t=a f=1 1".as_slice(),
            b"m f=1i,g=\"x\" 2",
            b"m f=",
            b"m,t= f=1",
            b"m f=1 99999999999999999999",
            b"\xff\xfe f=1",
            b"# comment",
            b"m f=1e400",
            b"m f=t,f=1",
            b"",
            b"m,time=1 f=1",
        ]);
        out.extend_from_slice(line);
        out.push(if r.chance(90) { b'\n' } else { b'\r' });
    }
    if r.chance(10) {
        let n = r.below(3000);
        out.extend(r.bytes(n));
    }
    out
}

/// A gzip member around `data`, stored blocks; broken in one way or another now and then.
fn gzip(r: &mut Rng, data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    match r.below(6) {
        0 => out[2] = 7,    // unknown method
        1 => out[3] = 0x04, // FEXTRA with no extra field following
        2 => out[3] = 0x08, // FNAME with no terminator in sight
        3 => out.truncate(r.below(10)),
        _ => {}
    }
    let chunks: Vec<&[u8]> = data.chunks(65_535).collect();
    for (i, c) in chunks.iter().enumerate() {
        out.push(u8::from(i + 1 == chunks.len()));
        let len = c.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(c);
    }
    if data.is_empty() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    // CRC left wrong on purpose most of the time; the size field sometimes lies wildly.
    out.extend_from_slice(&(r.next() as u32).to_le_bytes());
    let size = if r.chance(50) {
        data.len() as u32
    } else {
        r.next() as u32
    };
    out.extend_from_slice(&size.to_le_bytes());
    out
}

fn chunked(r: &mut Rng, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let n = (1 + r.below(500)).min(rest.len());
        match r.below(12) {
            0 => out.extend_from_slice(b"ffffffffffffffffff\r\n"),
            1 => out.extend_from_slice(b"zz\r\n"),
            2 => out.extend_from_slice(format!("{:x};ext=1\r\n", n).as_bytes()),
            3 => out.extend_from_slice(format!("{:x}\n", n + 7).as_bytes()),
            _ => out.extend_from_slice(format!("{:x}\r\n", n).as_bytes()),
        }
        out.extend_from_slice(&rest[..n]);
        out.extend_from_slice(b"\r\n");
        rest = &rest[n..];
    }
    if r.chance(80) {
        out.extend_from_slice(b"0\r\n\r\n");
    }
    out
}

fn generate(r: &mut Rng) -> Case {
    // A third of the cases are well-framed authorized writes (their bodies still hostile),
    // so that enough of them reach the pipeline's later steps and are compared with core.
    let tame = r.chance(33);
    let method = if tame || r.chance(70) {
        "POST"
    } else {
        *r.pick(&["GET", "PUT", "HEAD", "DELETE", "P\0ST", "OPTIONS", "BREW"])
    };
    let path: String = match if tame {
        if r.chance(10) {
            3
        } else {
            7
        }
    } else {
        r.below(10)
    } {
        0 => "/ping".into(),
        1 => "/api/v2/export?org=o&bucket=b&start=%zz".into(),
        2 => format!("/api/v2/write?{}", "a=b&".repeat(r.below(5000))),
        3 => "/api/v2/write?org=o&bucket=b&precision=%00%ff".into(),
        4 => "*".into(),
        5 => "/api/v2/buckets".into(),
        6 => "/api/v2/write?orgID=00000000000000000&bucket=b".into(),
        _ => "/api/v2/write?org=o&bucket=b".into(),
    };
    let version = if tame || r.chance(90) {
        "HTTP/1.1"
    } else {
        *r.pick(&["HTTP/1.0", "HTTP/2.0", "HTTP/1.1 junk"])
    };
    let mut head = format!("{method} {path} {version}\r\nHost: x\r\n").into_bytes();
    let authorized = tame || r.chance(50);
    if authorized {
        head.extend_from_slice(format!("Authorization: Token {TOKEN}\r\n").as_bytes());
    } else {
        let bad: &[u8] = r.pick::<&[u8]>(&[
            b"Authorization: Token wrong\r\n".as_slice(),
            b"Authorization: Token \r\n",
            b"Authorization: \xff\xfe\r\n",
            b"Authorization: Bearer hostile-good-toke\r\n",
            b"Authorization: Basic aG9zdGlsZS1nb29kLXRva2Vu\r\n",
            b"",
        ]);
        head.extend_from_slice(bad);
    }
    let mut body = line_protocol(r);
    let mut ce = None;
    if r.chance(30) {
        body = gzip(r, &body);
        let (header, first) = *r.pick::<(&[u8], &'static str)>(&[
            (b"Content-Encoding: gzip\r\n".as_slice(), "gzip"),
            (
                b"Content-Encoding: gzip\r\nContent-Encoding: gzip\r\n",
                "gzip",
            ),
            (b"Content-Encoding: x-gzip\r\n", "x-gzip"),
            (b"Content-Encoding: GZIP\r\n", "GZIP"),
        ]);
        head.extend_from_slice(header);
        ce = Some(first);
    }
    let plain_body = body.clone();
    let mut framed = false;
    let is_chunked = !tame && r.chance(25);
    if is_chunked {
        head.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
        body = chunked(r, &body);
        if r.chance(20) {
            head.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
        }
    } else {
        let len = body.len();
        let cl = match if tame { 9 } else { r.below(10) } {
            0 => format!("Content-Length: {}\r\n", len + 1 + r.below(100_000_000)),
            1 => format!("Content-Length: {}\r\n", len.saturating_sub(1 + r.below(5))),
            2 => "Content-Length: -1\r\n".into(),
            3 => "Content-Length: 99999999999999999999999\r\n".into(),
            4 => format!("Content-Length: {len}\r\nContent-Length: {}\r\n", len + 3),
            5 => format!("Content-Length: {len}, {len}\r\n"),
            6 => String::new(),
            _ => {
                framed = true;
                format!("Content-Length: {len}\r\n")
            }
        };
        head.extend_from_slice(cl.as_bytes());
    }
    // Junk that hyper itself refuses, now and then (most cases should reach the handlers).
    let junk_headers = usize::from(!tame && r.chance(25)) * (1 + r.below(2));
    for _ in 0..junk_headers {
        let junk: Vec<u8> = match r.below(5) {
            0 => b"X-Junk\r\n".to_vec(),
            1 => [
                b"X-Long: ".as_slice(),
                &vec![b'a'; 20_000 + r.below(80_000)],
                b"\r\n",
            ]
            .concat(),
            2 => [b"X-Bin: ".as_slice(), &r.bytes(30), b"\r\n"].concat(),
            3 => b" folded: continuation\r\n".to_vec(),
            _ => b"X-Many: 1\r\n".repeat(r.below(300)),
        };
        head.extend_from_slice(&junk);
    }
    head.extend_from_slice(b"\r\n");
    head.extend_from_slice(&body);
    let cut = (!tame && r.chance(15)).then(|| r.below(head.len() + 1));
    let clean = (method == "POST"
        && version == "HTTP/1.1"
        && path.starts_with("/api/v2/write?org=o&bucket=b")
        && authorized
        && framed
        && junk_headers == 0
        && cut.is_none())
    .then(|| (path["/api/v2/write?".len()..].to_string(), ce, plain_body));
    Case {
        bytes: head,
        authorized,
        cut,
        half_close: r.chance(60),
        clean,
    }
}

/// Sends a case; gives the raw answer (possibly empty: closed without one).
fn send(addr: &str, c: &Case) -> Vec<u8> {
    let Ok(mut s) = TcpStream::connect(addr) else {
        panic!("the server stopped accepting connections");
    };
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
    let end = c.cut.unwrap_or(c.bytes.len());
    let _ = s.write_all(&c.bytes[..end]);
    if c.half_close {
        let _ = s.shutdown(Shutdown::Write);
    }
    let mut out = Vec::new();
    let t0 = Instant::now();
    let mut buf = [0u8; 8192];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(_) => break,
        }
        // Keep-alive answers leave the connection open: one answer is all we read.
        if answer_complete(&out) || t0.elapsed() > Duration::from_secs(5) {
            break;
        }
    }
    out
}

/// Whether `out` holds a whole answer: its head and as many body bytes as it declares (or
/// a chunked body's last chunk).
fn answer_complete(out: &[u8]) -> bool {
    let Some(end) = out.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&out[..end]).to_ascii_lowercase();
    let body = &out[end + 4..];
    if head.contains("transfer-encoding: chunked") {
        return body.ends_with(b"0\r\n\r\n");
    }
    let cl = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok());
    // (A HEAD answer declares a length it does not send: those wait for the close.)
    cl.is_none_or(|n| body.len() >= n)
}

fn rss_kib(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn hostile_requests_get_well_formed_answers_and_the_server_keeps_serving() {
    let cases: usize = std::env::var("LINEGATE_HOSTILE_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let seed: u64 = std::env::var("LINEGATE_HOSTILE_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5eed_1ce5);
    let dir = support::temp_dir("hostile-http");
    let mut s = Server::start(
        &dir.join("data"),
        &[
            &support::setup("o", "b", TOKEN)[..],
            &[
                "--header-timeout-ms",
                "500",
                "--body-idle-timeout-ms",
                "500",
                "--auth-fail-delay-ms",
                "0",
                "--max-body",
                &MAX_BODY.to_string(),
            ],
        ]
        .concat(),
    );
    assert_eq!(s.write(TOKEN, "org=o&bucket=b", b"m f=1 1").status, 204);
    let base = rss_kib(s.child.id());
    let threads = 8;
    let per = cases.div_ceil(threads);
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let addr = s.addr.clone();
            std::thread::spawn(move || {
                let mut r = Rng(seed ^ (t as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
                let mut statuses = Vec::new();
                let mut clean_checked = 0;
                for i in 0..per {
                    let c = generate(&mut r);
                    let out = send(&addr, &c);
                    let what = || {
                        format!(
                            "thread {t} case {i} (seed {seed}): sent {:?}, got {:?}",
                            String::from_utf8_lossy(&c.bytes[..c.bytes.len().min(400)]),
                            String::from_utf8_lossy(&out[..out.len().min(400)])
                        )
                    };
                    if out.is_empty() {
                        assert!(c.clean.is_none(), "no answer: {}", what());
                        statuses.push(0);
                        continue;
                    }
                    let mut resp = support::parse_response(&out)
                        .ok()
                        .filter(|_| out.starts_with(b"HTTP/1."))
                        .unwrap_or_else(|| panic!("not an HTTP answer: {}", what()));
                    // Bytes past a short Content-Length are read as a next request, whose
                    // answer follows the first: judge the first alone. HEAD has no body.
                    let cl = resp
                        .header("content-length")
                        .and_then(|v| v.parse::<usize>().ok());
                    if c.bytes.starts_with(b"HEAD ") {
                        resp.body.clear();
                    } else if let Some(n) = cl {
                        resp.body.truncate(n);
                    }
                    assert!((200..600).contains(&resp.status), "{}", what());
                    let ping = c.bytes.windows(6).take(20).any(|w| w == b"/ping ");
                    if !c.authorized && !ping {
                        assert_ne!(resp.status, 204, "no token, yet 204: {}", what());
                    }
                    if resp.header("x-platform-error-code").is_some() && !resp.body.is_empty() {
                        let v: serde_json::Value = serde_json::from_slice(&resp.body)
                            .unwrap_or_else(|e| panic!("error body not JSON ({e}): {}", what()));
                        assert!(
                            v["code"].is_string() && v["message"].is_string(),
                            "{}",
                            what()
                        );
                    }
                    if let Some((query, ce, body)) = &c.clean {
                        let auth = format!("Token {TOKEN}");
                        let req = linegate_core::Request {
                            query: query.as_bytes(),
                            authorization: Some(auth.as_bytes()),
                            content_encoding: ce.map(str::as_bytes),
                            body,
                        };
                        let limits = linegate_core::Limits {
                            max_body: MAX_BODY,
                            ..Default::default()
                        };
                        match linegate_core::check_request(&req, &limits, 0) {
                            linegate_core::Verdict::Reject(want) => {
                                assert_eq!(resp.status, want.status, "{}", what());
                                assert_eq!(
                                    resp.text(),
                                    String::from_utf8_lossy(&want.body),
                                    "{}",
                                    what()
                                );
                            }
                            linegate_core::Verdict::Forward { .. } => {
                                assert!(matches!(resp.status, 204 | 422), "{}", what());
                            }
                        }
                        clean_checked += 1;
                    }
                    statuses.push(resp.status);
                }
                (statuses, clean_checked)
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut clean = 0;
    for w in workers {
        let (st, n) = w.join().unwrap();
        all.extend(st);
        clean += n;
    }
    eprintln!("{clean} well-framed writes answered exactly as linegate-core decides");
    assert!(clean >= 20, "only {clean} cases checked against core");
    assert!(s.child.try_wait().unwrap().is_none(), "the server exited");
    let mut tally = std::collections::BTreeMap::new();
    for st in &all {
        *tally.entry(*st).or_insert(0) += 1;
    }
    eprintln!(
        "{} hostile requests, answers by status (0: closed without one): {tally:?}",
        all.len()
    );
    // Several kinds of answer came back: the generator reached past the first checks.
    assert!(tally.len() >= 5, "{tally:?}");
    // Still serving, promptly, and holding no more than a little memory for it.
    let t = Instant::now();
    assert_eq!(s.write(TOKEN, "org=o&bucket=b", b"m f=2 2").status, 204);
    assert!(t.elapsed() < Duration::from_secs(1));
    let grew = rss_kib(s.child.id()).saturating_sub(base);
    eprintln!("RSS growth over the run: {grew} KiB");
    assert!(grew < 64 << 10, "RSS grew by {grew} KiB");
    s.kill();
}
