//! Durability: under `strace -f`, every batch's WAL sync (fsync or fdatasync of
//! `linegate.db-wal`) completes after its request was read and before its 204 is written.

mod support;

use std::collections::HashMap;
use std::process::Command;

use support::Server;

const STRACE: &str = "/usr/bin/strace";

#[test]
fn the_sync_completes_before_the_204() {
    if !std::path::Path::new(STRACE).is_file() {
        eprintln!("SKIPPED the_sync_completes_before_the_204: {STRACE} is not installed (apt-get install strace)");
        return;
    }
    let dir = support::temp_dir("strace");
    let log = dir.join("strace.log");
    let mut cmd = Command::new(STRACE);
    cmd.args(["-f", "-y", "-s", "96", "-o"]).arg(&log).args([
        "-e",
        "trace=read,recvfrom,write,writev,sendto,sendmsg,pwrite64,fsync,fdatasync",
    ]);
    let mut s = Server::start_with(cmd, &dir.join("data"), &support::setup("o", "b", "t"));
    const N: usize = 8;
    for i in 0..N {
        let body = format!("dur,marker=m{i:04}x v={i}i {}\n", 1000 + i);
        let r = s.write(
            "t",
            &format!("org=o&bucket=b&precision=ns&marker=m{i:04}x"),
            body.as_bytes(),
        );
        assert_eq!(r.status, 204, "{}", r.text());
    }
    // The tracee is strace's child: kill it, then strace ends.
    let server_pid = children(s.child.id());
    for p in server_pid {
        let _ = Command::new("kill").args(["-9", &p.to_string()]).status();
    }
    s.kill();
    let text = std::fs::read_to_string(&log).expect("strace log");
    let lines: Vec<&str> = text.lines().collect();
    // For each request: where it was read, where the next 204 went out.
    for i in 0..N {
        let marker = format!("marker=m{i:04}x");
        let read_at = lines
            .iter()
            // Only the server's reads are traced (the test client is not), and a read can be
            // printed as `<... recvfrom resumed>` with the data: any line with the marker.
            .position(|l| l.contains(&marker))
            .unwrap_or_else(|| panic!("request {i} not seen in the trace"));
        let sent_at = (read_at..lines.len())
            .find(|&k| {
                let l = lines[k];
                (l.contains("write") || l.contains("send")) && l.contains("HTTP/1.1 204")
            })
            .unwrap_or_else(|| panic!("no 204 after request {i}"));
        // A WAL write and a completed WAL sync between the two.
        let mut pending: HashMap<&str, bool> = HashMap::new();
        let mut wal_written = false;
        let mut synced = false;
        for l in &lines[read_at..sent_at] {
            let pid = l.split_whitespace().next().unwrap_or("");
            let wal = l.contains("linegate.db-wal>");
            if l.contains("pwrite64(") && wal {
                wal_written = true;
            }
            let is_sync = l.contains("fdatasync(") || l.contains("fsync(");
            if is_sync && wal {
                if l.contains("<unfinished ...>") {
                    pending.insert(pid, true);
                } else if l.trim_end().ends_with("= 0") {
                    synced = true;
                }
            }
            if (l.contains("<... fdatasync resumed>") || l.contains("<... fsync resumed>"))
                && pending.remove(pid).is_some()
                && l.trim_end().ends_with("= 0")
            {
                synced = true;
            }
        }
        assert!(wal_written, "request {i}: no WAL write before its 204");
        assert!(
            synced,
            "request {i}: no completed fsync/fdatasync of the WAL between reading it (line {read_at}) and its 204 (line {sent_at})"
        );
    }
    println!("strace: {N} batches, each synced before its 204");
    // And the batches are there.
    let out = support::export_cli(&dir.join("data"), "b", &[]);
    assert_eq!(out.lines().count(), N);
    let _ = std::fs::remove_dir_all(dir);
}

/// Child PIDs of a process (strace's tracee).
fn children(pid: u32) -> Vec<u32> {
    let path = format!("/proc/{pid}/task/{pid}/children");
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}
