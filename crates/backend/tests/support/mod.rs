//! Helpers for the backend's tests: the real binary as a process on 127.0.0.1, a tiny
//! HTTP/1.1 client, temporary data directories.
#![allow(dead_code)]

pub mod points;
pub mod realdb;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_linegate-backend");

/// `<workspace>/../shared`, when present.
pub fn shared_dir() -> Option<PathBuf> {
    linegate_corpus::shared_dir()
}

/// The `serve` flags that make the org, bucket and all-access token of a new data dir.
pub fn setup<'a>(org: &'a str, bucket: &'a str, token: &'a str) -> [&'a str; 6] {
    [
        "--setup-org",
        org,
        "--setup-bucket",
        bucket,
        "--setup-token",
        token,
    ]
}

/// A fresh, empty directory under the system temp dir.
pub fn temp_dir(name: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let d = std::env::temp_dir().join(format!(
        "linegate-backend-test-{name}-{}-{nanos}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A fresh directory and a server on its `data` with org `o`, bucket `b`, all-access token
/// `tok` and the `extra` flags.
pub fn serve(name: &str, extra: &[&str]) -> (PathBuf, Server) {
    let dir = temp_dir(name);
    let s = Server::start(
        &dir.join("data"),
        &[&setup("o", "b", "tok")[..], extra].concat(),
    );
    (dir, s)
}

/// A running `linegate-backend serve`.
pub struct Server {
    pub child: Child,
    pub addr: String,
    pub data: PathBuf,
    /// Lines the server printed on stdout before it listened.
    pub banner: Vec<String>,
}

impl Server {
    /// Starts `serve --data DIR --bind 127.0.0.1:0 ARGS…` and waits until it listens.
    pub fn start(data: &Path, args: &[&str]) -> Server {
        Self::start_with(Command::new(BIN), data, args)
    }

    /// Same, through a prepared command (environment, a wrapper such as strace).
    pub fn start_with(mut cmd: Command, data: &Path, args: &[&str]) -> Server {
        if cmd.get_program() != BIN {
            cmd.arg(BIN);
        }
        cmd.arg("serve")
            .arg("--data")
            .arg(data)
            .arg("--bind")
            .arg("127.0.0.1:0")
            .args(args)
            .env("LINEGATE_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd.spawn().expect("start linegate-backend");
        let out = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                let _ = tx.send(line);
            }
        });
        let mut banner = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(a) = line.strip_prefix("linegate-backend: listening on http://") {
                        let addr = a.trim().to_string();
                        return Server {
                            child,
                            addr,
                            data: data.to_path_buf(),
                            banner,
                        };
                    }
                    banner.push(line);
                }
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("linegate-backend did not start; printed {banner:?}");
                }
            }
        }
    }

    /// SIGKILL, and reap.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
        request(&self.addr, method, path, headers, body).expect("request")
    }

    /// A write with `Authorization: Token <token>`.
    pub fn write(&self, token: &str, query: &str, body: &[u8]) -> Resp {
        let auth = format!("Token {token}");
        self.request(
            "POST",
            &format!("/api/v2/write?{query}"),
            &[("Authorization", &auth)],
            body,
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One request on a new connection (`Connection: close`), read to the end.
pub fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Resp> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    let mut all = req.into_bytes();
    all.extend_from_slice(body);
    s.write_all(&all)?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)?;
    parse_response(&buf)
}

pub fn parse_response(buf: &[u8]) -> std::io::Result<Resp> {
    let bad = || std::io::Error::new(std::io::ErrorKind::InvalidData, "bad response");
    let end = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(bad)?;
    let head = std::str::from_utf8(&buf[..end]).map_err(|_| bad())?;
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(bad)?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = buf[end + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        let mut out = Vec::new();
        let mut rest = &body[..];
        loop {
            let nl = rest.windows(2).position(|w| w == b"\r\n").ok_or_else(bad)?;
            let n = usize::from_str_radix(
                std::str::from_utf8(&rest[..nl]).map_err(|_| bad())?.trim(),
                16,
            )
            .map_err(|_| bad())?;
            rest = &rest[nl + 2..];
            if n == 0 {
                break;
            }
            out.extend_from_slice(&rest[..n]);
            rest = &rest[n + 2..];
        }
        body = out;
    }
    Ok(Resp {
        status,
        headers,
        body,
    })
}

/// Runs the binary with arguments; gives (status ok, stdout, stderr).
pub fn run(args: &[&str]) -> (bool, Vec<u8>, String) {
    let out = Command::new(BIN)
        .args(args)
        .output()
        .expect("run linegate-backend");
    (
        out.status.success(),
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `export --data DIR --bucket B [more]` through the CLI.
pub fn export_cli(data: &Path, bucket: &str, more: &[&str]) -> String {
    let d = data.to_str().unwrap();
    let mut args = vec!["export", "--data", d, "--bucket", bucket];
    args.extend_from_slice(more);
    let (ok, out, err) = run(&args);
    assert!(ok, "export failed: {err}");
    String::from_utf8(out).expect("export is UTF-8 here")
}

/// Creates a bucket through the API; gives its ID.
pub fn create_bucket(s: &Server, token: &str, org: &str, name: &str) -> String {
    let auth = format!("Token {token}");
    let body = format!(r#"{{"org":"{org}","name":"{name}"}}"#);
    let r = s.request(
        "POST",
        "/api/v2/buckets",
        &[("Authorization", &auth)],
        body.as_bytes(),
    );
    assert_eq!(r.status, 201, "create bucket {name}: {}", r.text());
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    v["id"].as_str().unwrap().to_string()
}

/// Waits until `f` holds, or panics after `secs`.
pub fn wait_for(secs: u64, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out waiting for {what}");
}
