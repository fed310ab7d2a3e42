//! Idempotent delivery: a write that carries a batch id (core's `delivery::BATCH_ID_HEADER`,
//! which the Worker sends on its forward and on every spool delivery) is stored once per
//! bucket, however often it arrives — across a SIGKILL and restart too — and a repeat is
//! answered 204 and counted. The id is judged only for a credentialed, valid write, in its
//! own bucket.

mod support;

use linegate_core::delivery::BATCH_ID_HEADER;
use support::Server;

const ID: &str = "00112233445566778899aabbccddeeff";

fn write(s: &Server, token: &str, bucket: &str, id: Option<&str>, body: &str) -> u16 {
    let auth = format!("Token {token}");
    let mut h = vec![("Authorization", auth.as_str())];
    if let Some(id) = id {
        h.push((BATCH_ID_HEADER, id));
    }
    let p = format!("/api/v2/write?org=o&bucket={bucket}&precision=ns");
    s.request("POST", &p, &h, body.as_bytes()).status
}

fn copies(data: &std::path::Path, bucket: &str, line: &str) -> usize {
    support::export_cli(data, bucket, &["--raw"])
        .lines()
        .filter(|l| *l == line)
        .count()
}

fn duplicates(s: &Server) -> u64 {
    let m = s.request("GET", "/metrics", &[], b"").text();
    m.lines()
        .find_map(|l| l.strip_prefix("linegate_write_duplicates_total "))
        .and_then(|v| v.trim().parse().ok())
        .expect("linegate_write_duplicates_total in /metrics")
}

#[test]
fn a_batch_id_is_stored_once_per_bucket_even_across_sigkill() {
    let (dir, mut s) = support::serve("dedup", &[]);
    let data = dir.join("data");
    support::create_bucket(&s, "tok", "o", "b2");
    let line = "d,k=a v=1i 1700000000000000000";
    let body = format!("{line}\n");

    // Auth comes first: a write without valid credentials is refused and records nothing.
    assert_eq!(write(&s, "wrong", "b", Some(ID), &body), 401);
    // An invalid write with the id records nothing either.
    assert_eq!(write(&s, "tok", "b", Some(ID), "d v=\n"), 400);
    assert_eq!(write(&s, "tok", "b", Some(ID), &body), 204);
    assert_eq!(write(&s, "tok", "b", Some(ID), &body), 204);
    assert_eq!(duplicates(&s), 1);
    // The id is scoped to the bucket: another bucket's write of the same id is stored.
    assert_eq!(write(&s, "tok", "b2", Some(ID), &body), 204);
    // No id, or one the server does not take (too short): stored every time.
    assert_eq!(write(&s, "tok", "b", None, &body), 204);
    assert_eq!(write(&s, "tok", "b", Some("short"), &body), 204);

    // SIGKILL: the id was committed with its batch, so a delivery after the restart is a
    // repeat too.
    s.kill();
    let s = Server::start(&data, &[]);
    assert_eq!(write(&s, "tok", "b", Some(ID), &body), 204);
    assert_eq!(duplicates(&s), 1);
    let other = "00112233445566778899aabbccddee00";
    assert_eq!(write(&s, "tok", "b", Some(other), &body), 204);
    drop(s);

    // b: the id's batch once, the two without an id, and the other id's.
    assert_eq!(copies(&data, "b", line), 4);
    assert_eq!(copies(&data, "b2", line), 1);
}

#[test]
fn concurrent_deliveries_of_one_id_store_it_once() {
    let (dir, s) = support::serve("dedup-concurrent", &[]);
    let data = dir.join("data");
    let line = "c,k=a v=2i 1700000000000000001";
    let body = format!("{line}\n");
    let addr = s.addr.clone();
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (addr, body) = (addr.clone(), body.clone());
            std::thread::spawn(move || {
                support::request(
                    &addr,
                    "POST",
                    "/api/v2/write?org=o&bucket=b&precision=ns",
                    &[("Authorization", "Token tok"), (BATCH_ID_HEADER, ID)],
                    body.as_bytes(),
                )
                .unwrap()
                .status
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), 204);
    }
    assert_eq!(duplicates(&s), 7);
    drop(s);
    assert_eq!(copies(&data, "b", line), 1);
}
