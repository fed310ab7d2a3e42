//! Crash safety: clients write batches concurrently while the backend is killed with
//! SIGKILL several times and restarted; afterwards every batch that got 204 is stored
//! exactly once, and no batch is stored in part.

mod support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::Server;

const LINES: usize = 20;

#[test]
fn acknowledged_batches_survive_sigkill() {
    let dir = support::temp_dir("crash");
    let data = dir.join("data");
    let setup = support::setup("o", "b", "t");
    let mut server = Server::start(&data, &setup);
    let addr = Arc::new(Mutex::new(server.addr.clone()));
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Vec::<u64>::new()));
    let clients: Vec<_> = (0..4u64)
        .map(|th| {
            let (addr, stop, acked) = (addr.clone(), stop.clone(), acked.clone());
            std::thread::spawn(move || {
                let mut i = 0u64;
                let mut tried = 0u64;
                while !stop.load(Ordering::SeqCst) {
                    i += 1;
                    let id = th * 1_000_000 + i;
                    let mut body = String::new();
                    for j in 0..LINES as u64 {
                        body.push_str(&format!(
                            "crash,batch={id},th={th} v={j}i {}\n",
                            id * 100 + j
                        ));
                    }
                    let a = addr.lock().unwrap().clone();
                    tried += 1;
                    match support::request(
                        &a,
                        "POST",
                        "/api/v2/write?org=o&bucket=b",
                        &[("Authorization", "Token t")],
                        body.as_bytes(),
                    ) {
                        Ok(r) if r.status == 204 => acked.lock().unwrap().push(id),
                        Ok(r) => panic!("unexpected answer {} {}", r.status, r.text()),
                        // Killed mid-request: the batch may or may not be stored.
                        Err(_) => std::thread::sleep(Duration::from_millis(10)),
                    }
                }
                tried
            })
        })
        .collect();
    let kills = 5;
    for k in 0..kills {
        std::thread::sleep(Duration::from_millis(400 + 150 * k));
        server.kill();
        server = Server::start(&data, &[]);
        *addr.lock().unwrap() = server.addr.clone();
    }
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::SeqCst);
    let tried: u64 = clients.into_iter().map(|c| c.join().unwrap()).sum();
    server.kill();
    let acked = acked.lock().unwrap().clone();
    let raw = support::export_cli(&data, "b", &["--raw"]);
    let mut count: HashMap<u64, usize> = HashMap::new();
    for l in raw.lines() {
        let id: u64 = l
            .split(',')
            .find_map(|kv| kv.strip_prefix("batch="))
            .and_then(|v| v.parse().ok())
            .expect("batch tag");
        *count.entry(id).or_default() += 1;
    }
    println!(
        "crash test: {kills} SIGKILLs, {tried} batches sent, {} acknowledged, {} stored",
        acked.len(),
        count.len()
    );
    assert!(
        acked.len() >= 40,
        "too few batches were acknowledged to mean anything"
    );
    for id in &acked {
        assert_eq!(
            count.get(id).copied(),
            Some(LINES),
            "acknowledged batch {id} is not stored exactly once"
        );
    }
    for (id, n) in &count {
        assert_eq!(*n, LINES, "batch {id} is stored in part or twice");
    }
    let _ = std::fs::remove_dir_all(dir);
}
