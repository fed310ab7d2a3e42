//! Chaos (issue 25, "what must hold"): the relay with both sides SIGKILLed again and again
//! under load. 12 clients write to a relay (`linegate-backend --upstream`), whose upstream is
//! a second linegate-backend behind a TCP front at a fixed address (the upstream restarts on
//! a new port; the front follows it). Every write carries points that name it (client,
//! sequence number); a write that got no answer (the relay died under it) is not retried
//! under its name. Once both stay up (60 s at most): every write that got 204 is upstream, a
//! crash re-sent at most the one request in flight (a run of consecutive batches, in the
//! relay's commit order), and the relay holds nothing: queue empty, no dead letter.
//! Bounded in time: ~20 s of load, then the drain.

mod support;

use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::Server;

const CLIENTS: usize = 12;
const POINTS: u64 = 3;

/// A TCP front at a fixed address for a server that moves: each connection goes to
/// `target` as it is when the connection comes; none is accepted while it cannot connect.
struct Front {
    addr: String,
    target: Arc<Mutex<String>>,
    stop: Arc<AtomicBool>,
}

impl Drop for Front {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    let mut buf = [0u8; 65536];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
    let _ = from.shutdown(Shutdown::Read);
}

fn start_front(target: String) -> Front {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let target = Arc::new(Mutex::new(target));
    let stop = Arc::new(AtomicBool::new(false));
    let (t, s) = (target.clone(), stop.clone());
    std::thread::spawn(move || {
        while !s.load(Ordering::SeqCst) {
            let client = match listener.accept() {
                Ok((c, _)) => c,
                Err(_) => {
                    std::thread::sleep(Duration::from_millis(2));
                    continue;
                }
            };
            let to = t.lock().unwrap().clone();
            std::thread::spawn(move || {
                let _ = client.set_nonblocking(false);
                // The upstream is down: the connection is dropped (the relay sees no answer).
                let Ok(up) =
                    TcpStream::connect_timeout(&to.parse().unwrap(), Duration::from_secs(2))
                else {
                    return;
                };
                let _ = up.set_nodelay(true);
                let (c2, u2) = (client.try_clone().unwrap(), up.try_clone().unwrap());
                let back = std::thread::spawn(move || pipe(u2, c2));
                pipe(client, up);
                let _ = back.join();
            });
        }
    });
    Front { addr, target, stop }
}

fn upstream_start(dir: &std::path::Path) -> Server {
    Server::start(&dir.join("upstream"), &support::setup("uo", "ub", "ut"))
}

fn relay_start(dir: &std::path::Path, front: &str) -> Server {
    let url = format!("http://{front}");
    let args = [
        &support::setup("ro", "ub", "rt")[..],
        &[
            "--upstream",
            &url,
            "--upstream-token",
            "ut",
            "--upstream-org",
            "uo",
        ],
    ]
    .concat();
    Server::start(&dir.join("relay"), &args)
}

fn metric(s: &Server, name: &str) -> Option<i64> {
    let m = support::request(&s.addr, "GET", "/metrics", &[], b"")
        .ok()?
        .text();
    m.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// The points of client `c`'s write `n`: their identity is (c, n); each has its own time.
fn points(c: u64, n: u64) -> Vec<u8> {
    let mut s = String::new();
    for j in 0..POINTS {
        let t = 1_700_000_000_000_000_000u64 + (c * 1_000_000 + n) * POINTS + j;
        s.push_str(&format!("chaos,c={c} n={n}i,j={j}i {t}\n"));
    }
    s.into_bytes()
}

/// (client, write) of each point of a raw export, in its order.
fn ids(export: &str) -> Vec<(u64, u64, u64)> {
    export
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("chaos,c=")?;
            let (c, rest) = rest.split_once(" n=")?;
            let (n, rest) = rest.split_once("i,j=")?;
            let (j, _) = rest.split_once('i')?;
            Some((c.parse().ok()?, n.parse().ok()?, j.parse().ok()?))
        })
        .collect()
}

fn export(s: &Server, org: &str, bucket: &str, token: &str) -> String {
    let auth = format!("Token {token}");
    let r = s.request(
        "GET",
        &format!("/api/v2/export?org={org}&bucket={bucket}&raw=true"),
        &[("Authorization", &auth)],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    r.text()
}

#[test]
fn relay_loses_nothing_acknowledged_under_repeated_sigkill_of_both_sides() {
    let load = Duration::from_millis(
        std::env::var("LINEGATE_CHAOS_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(20_000),
    );
    let dir = support::temp_dir("relay-chaos");
    let mut upstream = upstream_start(&dir);
    let front = start_front(upstream.addr.clone());
    let mut relay = relay_start(&dir, &front.addr);
    let relay_addr = Arc::new(Mutex::new(relay.addr.clone()));
    let running = Arc::new(AtomicBool::new(true));
    let acked = Arc::new(Mutex::new(HashSet::new()));
    let unacked = Arc::new(Mutex::new(HashSet::new()));
    let clients: Vec<_> = (0..CLIENTS as u64)
        .map(|c| {
            let (addr, running) = (relay_addr.clone(), running.clone());
            let (acked, unacked) = (acked.clone(), unacked.clone());
            std::thread::spawn(move || {
                let mut n = 0u64;
                while running.load(Ordering::SeqCst) {
                    let a = addr.lock().unwrap().clone();
                    let r = support::request(
                        &a,
                        "POST",
                        "/api/v2/write?org=ro&bucket=ub&precision=ns",
                        &[("Authorization", "Token rt")],
                        &points(c, n),
                    );
                    if matches!(&r, Ok(r) if r.status == 204) {
                        acked.lock().unwrap().insert((c, n));
                    } else {
                        unacked.lock().unwrap().insert((c, n));
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    n += 1;
                }
            })
        })
        .collect();
    let (mut relay_kills, mut upstream_kills) = (0u32, 0u32);
    let t0 = Instant::now();
    let mut k = 0u32;
    let mut rnd = t0.elapsed().subsec_nanos() as u64 | 1;
    let mut jitter = |ms: u64| {
        rnd ^= rnd << 13;
        rnd ^= rnd >> 7;
        rnd ^= rnd << 17;
        Duration::from_millis(rnd % ms)
    };
    while t0.elapsed() < load {
        std::thread::sleep(Duration::from_millis(800) + jitter(1200));
        // The relay one time in two, the upstream the other (down 0.2-1.2 s), both at
        // once every fourth.
        if k % 2 == 0 || k % 4 == 3 {
            relay.kill();
            relay_kills += 1;
            relay = relay_start(&dir, &front.addr);
            *relay_addr.lock().unwrap() = relay.addr.clone();
        }
        if k % 2 == 1 {
            upstream.kill();
            upstream_kills += 1;
            std::thread::sleep(Duration::from_millis(200) + jitter(1000));
            upstream = upstream_start(&dir);
            *front.target.lock().unwrap() = upstream.addr.clone();
        }
        k += 1;
    }
    running.store(false, Ordering::SeqCst);
    for c in clients {
        c.join().unwrap();
    }
    // Both stay up now: the relay's queue drains (60 s at most).
    let drain = Instant::now();
    while metric(&relay, "linegate_relay_queue_depth") != Some(0)
        && drain.elapsed() < Duration::from_secs(60)
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    let drained = drain.elapsed();
    let depth = metric(&relay, "linegate_relay_queue_depth");
    let dead = relay.request(
        "GET",
        "/api/v2/dead-letters",
        &[("Authorization", "Token rt")],
        b"",
    );
    let dead: serde_json::Value = serde_json::from_slice(&dead.body).unwrap();
    let dead = dead["deadLetters"].as_array().unwrap().len();

    // Copies upstream of each point; the relay's own commit order of the writes.
    let mut copies: HashMap<(u64, u64, u64), u64> = HashMap::new();
    for id in ids(&export(&upstream, "uo", "ub", "ut")) {
        *copies.entry(id).or_default() += 1;
    }
    let mut order: Vec<(u64, u64)> = Vec::new();
    for (c, n, _) in ids(&export(&relay, "ro", "ub", "rt")) {
        if order.last() != Some(&(c, n)) {
            order.push((c, n));
        }
    }
    let arrived = |c: u64, n: u64| {
        (0..POINTS)
            .map(|j| copies.get(&(c, n, j)).copied().unwrap_or(0))
            .min()
            .unwrap()
    };
    let acked = acked.lock().unwrap().clone();
    let unacked = unacked.lock().unwrap().clone();
    let lost: Vec<_> = acked.iter().filter(|&&(c, n)| arrived(c, n) == 0).collect();
    let partial: Vec<_> = acked
        .iter()
        .chain(unacked.iter())
        .filter(|&&(c, n)| {
            let cs: Vec<u64> = (0..POINTS)
                .map(|j| copies.get(&(c, n, j)).copied().unwrap_or(0))
                .collect();
            cs.iter().min() != cs.iter().max()
        })
        .collect();
    // Duplicated writes, and the re-sent requests they came in: runs of consecutive
    // writes in commit order (a request carries consecutive batches).
    let dup_writes: u64 = order
        .iter()
        .map(|&(c, n)| arrived(c, n).saturating_sub(1))
        .sum();
    let mut dup_requests = 0u32;
    let mut prev = false;
    for &(c, n) in &order {
        let dup = arrived(c, n) > 1;
        if dup && !prev {
            dup_requests += 1;
        }
        prev = dup;
    }
    let kills = relay_kills + upstream_kills;
    let unacked_arrived = unacked.iter().filter(|&&(c, n)| arrived(c, n) > 0).count();
    println!(
        "relay chaos: {} writes acknowledged ({} points), {} not ({unacked_arrived} of them \
         arrived anyway); {relay_kills} relay and {upstream_kills} upstream SIGKILLs; lost {}, \
         {dup_writes} duplicate writes in {dup_requests} re-sent requests, queue depth {depth:?}, \
         {dead} dead letters; drained in {drained:?}",
        acked.len(),
        acked.len() as u64 * POINTS,
        unacked.len(),
        lost.len()
    );
    assert!(
        acked.len() > 100 && kills >= 6,
        "{} acked, {kills} kills",
        acked.len()
    );
    assert_eq!(depth, Some(0), "the relay still holds batches");
    assert_eq!(dead, 0, "dead letters");
    assert!(
        lost.is_empty(),
        "acknowledged writes missing upstream: {lost:?}"
    );
    assert!(partial.is_empty(), "writes arrived in part: {partial:?}");
    assert!(
        dup_requests <= kills,
        "{dup_requests} re-sent requests for {kills} crashes"
    );
    drop(relay);
    drop(upstream);
    drop(front);
    let _ = std::fs::remove_dir_all(dir);
}
