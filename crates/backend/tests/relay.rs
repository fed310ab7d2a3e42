//! Store-and-forward: a second linegate-backend plays the upstream InfluxDB, behind a test
//! proxy that refuses connections, answers 429 with `Retry-After`, 503, 413 (bodies over a
//! size) and 400 (poisoned batches) on command. Afterwards the upstream holds every accepted
//! batch, in order, none twice, and the dead-letter table holds the refused ones with the
//! upstream's reason.

mod support;

use std::collections::{HashMap, VecDeque};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::Server;

#[derive(Default)]
struct ProxyState {
    /// Connections are refused (the listener is closed) while set.
    refuse: bool,
    /// Answers for the next requests, in order: (status, Retry-After seconds).
    script: VecDeque<(u16, Option<u64>)>,
    /// Bodies of at least this many bytes get 413.
    max_body: usize,
    /// Bodies containing this get 400.
    poison: String,
    /// (when, status answered, body length).
    log: Vec<(Instant, u16, usize)>,
}

struct Proxy {
    addr: String,
    state: Arc<Mutex<ProxyState>>,
    stop: Arc<AtomicBool>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn read_request(s: &mut TcpStream) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 65536];
    let head_end = loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
        let n = s.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    while buf.len() < head_end + len {
        let n = s.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Some((
        buf[..head_end].to_vec(),
        buf[head_end..head_end + len].to_vec(),
    ))
}

fn answer(s: &mut TcpStream, status: u16, retry_after: Option<u64>, body: &str) {
    let mut r = format!(
        "HTTP/1.1 {status} Proxy\r\nContent-Type: application/json; charset=utf-8\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(s) = retry_after {
        r.push_str(&format!("Retry-After: {s}\r\n"));
    }
    r.push_str("\r\n");
    r.push_str(body);
    let _ = s.write_all(r.as_bytes());
}

fn forward(client: &mut TcpStream, upstream: &str, head: &[u8], body: &[u8]) -> u16 {
    let head = String::from_utf8_lossy(head);
    let mut req = String::new();
    for l in head.split("\r\n").filter(|l| !l.is_empty()) {
        if !l.to_ascii_lowercase().starts_with("connection:") {
            req.push_str(l);
            req.push_str("\r\n");
        }
    }
    req.push_str("Connection: close\r\n\r\n");
    let mut all = req.into_bytes();
    all.extend_from_slice(body);
    let Ok(mut up) = TcpStream::connect(upstream) else {
        answer(client, 502, None, "{}");
        return 502;
    };
    let _ = up.write_all(&all);
    let mut resp = Vec::new();
    let _ = up.read_to_end(&mut resp);
    let r = support::parse_response(&resp).expect("upstream answer");
    // Tell the relay's client not to reuse this connection.
    let mut out = format!("HTTP/1.1 {} Fwd\r\nConnection: close\r\n", r.status);
    for (k, v) in &r.headers {
        if !k.eq_ignore_ascii_case("connection") && !k.eq_ignore_ascii_case("transfer-encoding") {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    if r.header("content-length").is_none() {
        out.push_str(&format!("Content-Length: {}\r\n", r.body.len()));
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(&r.body);
    let _ = client.write_all(&bytes);
    r.status
}

/// An upstream backend (org "uo", bucket "ub", token "ut") behind the fault proxy, and the
/// proxy's URL.
fn upstream_behind_proxy(dir: &std::path::Path, state: ProxyState) -> (Server, Proxy, String) {
    let upstream = Server::start(&dir.join("upstream"), &support::setup("uo", "ub", "ut"));
    let proxy = start_proxy(upstream.addr.clone(), state);
    let url = format!("http://{}", proxy.addr);
    (upstream, proxy, url)
}

/// The flags of a relay (org "ro", token "rt", the given bucket) delivering to `url` as
/// the upstream's org "uo" with its token "ut".
fn relay_flags<'a>(url: &'a str, bucket: &'a str, more: &[&'a str]) -> Vec<&'a str> {
    let to = [
        "--upstream",
        url,
        "--upstream-token",
        "ut",
        "--upstream-org",
        "uo",
    ];
    [&support::setup("ro", bucket, "rt")[..], &to, more].concat()
}

fn start_proxy(upstream: String, state: ProxyState) -> Proxy {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let state = Arc::new(Mutex::new(state));
    let stop = Arc::new(AtomicBool::new(false));
    let (st, stp, a) = (state.clone(), stop.clone(), addr.clone());
    std::thread::spawn(move || {
        let mut listener = Some(listener);
        while !stp.load(Ordering::SeqCst) {
            if st.lock().unwrap().refuse {
                listener = None;
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
            let l = match &listener {
                Some(l) => l,
                None => match TcpListener::bind(&a) {
                    Ok(l) => {
                        l.set_nonblocking(true).unwrap();
                        listener.insert(l)
                    }
                    Err(_) => {
                        std::thread::sleep(Duration::from_millis(10));
                        continue;
                    }
                },
            };
            l.set_nonblocking(true).unwrap();
            let mut conn = match l.accept() {
                Ok((c, _)) => c,
                Err(_) => {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                }
            };
            conn.set_nonblocking(false).unwrap();
            conn.set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let Some((head, body)) = read_request(&mut conn) else {
                continue;
            };
            let (scripted, max_body, poison) = {
                let mut s = st.lock().unwrap();
                (s.script.pop_front(), s.max_body, s.poison.clone())
            };
            let status = if let Some((status, retry)) = scripted {
                answer(
                    &mut conn,
                    status,
                    retry,
                    r#"{"code":"unavailable","message":"proxy says wait"}"#,
                );
                status
            } else if body.len() >= max_body {
                answer(
                    &mut conn,
                    413,
                    None,
                    r#"{"code":"request too large","message":"proxy: body too large"}"#,
                );
                413
            } else if body.windows(poison.len()).any(|w| w == poison.as_bytes()) {
                answer(
                    &mut conn,
                    400,
                    None,
                    r#"{"code":"invalid","message":"proxy: poisoned batch"}"#,
                );
                400
            } else {
                forward(&mut conn, &upstream, &head, &body)
            };
            st.lock()
                .unwrap()
                .log
                .push((Instant::now(), status, body.len()));
        }
    });
    Proxy { addr, state, stop }
}

fn queue_depth(s: &Server) -> Option<i64> {
    let m = s.request("GET", "/metrics", &[], b"").text();
    m.lines()
        .find_map(|l| l.strip_prefix("linegate_relay_queue_depth "))
        .and_then(|v| v.trim().parse().ok())
}

#[test]
fn relay_delivers_in_order_once_and_parks_rejects() {
    let dir = support::temp_dir("relay");
    let (upstream, proxy, url) = upstream_behind_proxy(
        &dir,
        ProxyState {
            refuse: true,
            max_body: 5000,
            poison: "poison=yes".into(),
            ..ProxyState::default()
        },
    );
    let relay_args = relay_flags(&url, "rb", &["--upstream-bucket", "rb=ub"]);
    let relay = Server::start(&dir.join("relay"), &relay_args);
    const BATCHES: u64 = 30;
    let poisoned = [7u64, 19];
    let large = 12u64;
    let lines_of = |i: u64| if i == large { 200 } else { 10 };
    let t0 = Instant::now();
    for i in 0..BATCHES {
        let mut body = String::new();
        for j in 0..lines_of(i) {
            body.push_str(&format!("relay,batch={i:03} v={j}i {}\n", i * 1000 + j));
        }
        if poisoned.contains(&i) {
            body.push_str(&format!(
                "relay,batch={i:03},poison=yes v=0i {}\n",
                i * 1000 + 999
            ));
        }
        // Accepted while the upstream is unreachable.
        let r = relay.write("rt", "org=ro&bucket=rb", body.as_bytes());
        assert_eq!(r.status, 204, "{}", r.text());
        if i == 10 {
            std::thread::sleep(Duration::from_millis(600));
            assert!(
                queue_depth(&relay).unwrap() > 0,
                "nothing could be delivered yet"
            );
            let mut s = proxy.state.lock().unwrap();
            s.script
                .extend([(429, Some(1)), (503, None), (503, None), (429, Some(1))]);
            s.refuse = false;
        }
    }
    support::wait_for(90, "the relay queue to drain", || {
        queue_depth(&relay) == Some(0)
    });
    let elapsed = t0.elapsed();
    // The upstream holds every accepted batch, in order, none twice.
    let e = upstream.request(
        "GET",
        "/api/v2/export?org=uo&bucket=ub&raw=true",
        &[("Authorization", "Token ut")],
        b"",
    );
    assert_eq!(e.status, 200);
    let text = e.text();
    let mut order: Vec<u64> = Vec::new();
    let mut count: HashMap<u64, u64> = HashMap::new();
    for l in text.lines() {
        let id: u64 = l[l.find("batch=").unwrap() + 6..][..3].parse().unwrap();
        if order.last() != Some(&id) {
            order.push(id);
        }
        *count.entry(id).or_default() += 1;
    }
    let want: Vec<u64> = (0..BATCHES).filter(|i| !poisoned.contains(i)).collect();
    assert_eq!(order, want, "batches upstream, in the order they arrived");
    for i in &want {
        assert_eq!(count[i], lines_of(*i), "batch {i} upstream");
    }
    // The refused ones are parked with the upstream's reason (CLI and HTTP).
    let (ok, out, err) = support::run(&[
        "dead-letters",
        "--data",
        dir.join("relay").to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let dl: Vec<serde_json::Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(dl.len(), 2, "{dl:?}");
    for (d, i) in dl.iter().zip(poisoned) {
        assert_eq!(d["status"], 400);
        assert!(d["reason"]
            .as_str()
            .unwrap()
            .contains("proxy: poisoned batch"));
        assert!(d["points_text"]
            .as_str()
            .unwrap()
            .contains(&format!("batch={i:03}")));
    }
    let r = relay.request(
        "GET",
        "/api/v2/dead-letters",
        &[("Authorization", "Token rt")],
        b"",
    );
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["deadLetters"].as_array().unwrap().len(), 2);
    // Retry-After was honoured, 413 split the large batch, 5xx were retried.
    let log = proxy.state.lock().unwrap().log.clone();
    let statuses: Vec<u16> = log.iter().map(|l| l.1).collect();
    for w in log.windows(2) {
        if w[0].1 == 429 {
            assert!(
                w[1].0 - w[0].0 >= Duration::from_millis(950),
                "Retry-After: 1 not honoured"
            );
        }
    }
    // Batches waiting together go as one request; a refused request is retried batch by
    // batch, so the large batch meets 413 at least once alone and is then split.
    assert!(statuses.contains(&413), "{statuses:?}");
    assert_eq!(statuses.iter().filter(|&&s| s == 503).count(), 2);
    assert!(statuses.iter().filter(|&&s| s == 400).count() >= 2);
    // After each 413 the next request is smaller: the group one batch at a time, or the
    // batch in halves.
    for w in log.windows(2).filter(|w| w[0].1 == 413) {
        assert!(
            w[1].2 < w[0].2,
            "{} bytes after a 413 of {}",
            w[1].2,
            w[0].2
        );
    }
    // The large batch reached the upstream in parts small enough to pass.
    assert!(log.iter().any(|l| l.1 == 204 && l.2 < 5000 && l.2 > 1000));
    let m = relay.request("GET", "/metrics", &[], b"").text();
    assert!(
        m.contains("linegate_upstream_requests_total{status=\"429\"} 2"),
        "{m}"
    );
    assert!(m.contains("linegate_dead_letters_total 2"));
    println!(
        "relay: {} batches through refusals, 429, 503, 413 and 400 in {elapsed:?}; upstream answers {statuses:?}",
        BATCHES
    );
    drop(relay);
    drop(upstream);
    drop(proxy);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn nothing_is_lost_when_the_relay_is_killed_during_an_outage() {
    let dir = support::temp_dir("relay-kill");
    let (upstream, proxy, url) = upstream_behind_proxy(
        &dir,
        ProxyState {
            refuse: true,
            max_body: usize::MAX,
            poison: "never-sent".into(),
            ..ProxyState::default()
        },
    );
    let relay_args = relay_flags(&url, "ub", &[]);
    let mut relay = Server::start(&dir.join("relay"), &relay_args);
    for i in 0..10u64 {
        let mut body = String::new();
        for j in 0..10u64 {
            body.push_str(&format!("k,batch={i:03} v={j}i {}\n", i * 100 + j));
        }
        assert_eq!(
            relay
                .write("rt", "org=ro&bucket=ub", body.as_bytes())
                .status,
            204
        );
        if i == 5 {
            // Upstream down, half the batches accepted: kill -9, start again.
            relay.kill();
            relay = Server::start(&dir.join("relay"), &relay_args);
        }
    }
    relay.kill();
    let relay = Server::start(&dir.join("relay"), &relay_args);
    proxy.state.lock().unwrap().refuse = false;
    support::wait_for(60, "the relay queue to drain", || {
        queue_depth(&relay) == Some(0)
    });
    let e = upstream.request(
        "GET",
        "/api/v2/export?org=uo&bucket=ub",
        &[("Authorization", "Token ut")],
        b"",
    );
    let lines: Vec<&str> = e
        .body
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| std::str::from_utf8(l).unwrap())
        .collect();
    assert_eq!(
        lines.len(),
        100,
        "every accepted point upstream after two SIGKILLs"
    );
    for i in 0..10u64 {
        assert_eq!(
            lines
                .iter()
                .filter(|l| l.contains(&format!("batch={i:03} ")))
                .count(),
            10
        );
    }
    drop(relay);
    drop(upstream);
    drop(proxy);
    let _ = std::fs::remove_dir_all(dir);
}
