//! The relay in front of real databases (issue 24): InfluxDB 1.x and VictoriaMetrics from
//! Debian's packages, started here on free ports with temporary data. Every point the
//! backend acknowledged is read back from the database, exactly once, with its values —
//! across a SIGKILL of the database and of the backend; 1.x's permanent answers become dead
//! letters at once; `replay` sends again what VictoriaMetrics lost after acknowledging it.
//! Skipped, saying so, when the binaries are absent.

mod support;

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;
use support::realdb::{Db, RealDb};
use support::{temp_dir, wait_for, Server};

/// The backend's flags: org `o`, bucket `b`, token `tok`, relaying to each (URL, kind) of
/// `upstreams` with `token`, then `extra`.
fn relay_flags(upstreams: &[(&str, &str)], token: &str, extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = support::setup("o", "b", "tok").map(String::from).to_vec();
    for (url, kind) in upstreams {
        v.extend(["--upstream", url, "--upstream-kind", kind].map(String::from));
    }
    v.extend(["--upstream-token", token].map(String::from));
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

fn argv(flags: &[String]) -> Vec<&str> {
    flags.iter().map(String::as_str).collect()
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn skip(what: &str) {
    eprintln!("SKIPPED: {what} is not installed (scripts/setup.sh installs it)");
}

/// Batch `i` of `n` points in ms precision: float, integer and boolean fields (and a string
/// where the database keeps strings), timestamps from `t0` apart.
fn batch(i: usize, n: usize, t0: i64, strings: bool) -> Vec<u8> {
    let mut b = String::new();
    for j in 0..n {
        let k = i * n + j;
        b.push_str(&format!(
            "m,host=h{j} f={k}.25,i={k}i,ok={}",
            if k % 2 == 0 { "true" } else { "false" }
        ));
        if strings {
            b.push_str(&format!(",s=\"v {k}\\\"q\\\\\""));
        }
        b.push_str(&format!(" {}\n", t0 + k as i64));
    }
    b.into_bytes()
}

/// The 400 the Worker answers for a point the upstream would refuse or lose (core's
/// `upstream::refuse_point`): `invalid`, its message starting with `why`.
fn assert_refused(r: &support::Resp, why: &str) {
    assert_eq!(r.status, 400, "{}", r.text());
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["code"], "invalid", "{v}");
    assert!(v["message"].as_str().unwrap().starts_with(why), "{v}");
}

fn dead_letters(data: &std::path::Path) -> Vec<Value> {
    let (ok, out, err) = support::run(&["dead-letters", "--data", data.to_str().unwrap()]);
    assert!(ok, "{err}");
    String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn metric(s: &Server, name: &str) -> f64 {
    let m = s.request("GET", "/metrics", &[], b"").text();
    m.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

/// InfluxDB 1.6: v2 batches reach `/write?db=&rp=` with Basic credentials and `u`/`ms`
/// precision; values read back exactly; a SIGKILL of influxd mid-relay loses nothing; an
/// unknown retention policy (500) and an unsigned value (400) are dead letters at once while
/// later batches flow.
#[test]
fn relay_to_influxdb1() {
    let dir = temp_dir("realdb-influx1");
    let Some(mut db) = RealDb::new(Db::Influx1, &dir.join("influx"), &[]) else {
        return skip("influxd");
    };
    db.influxql("", "CREATE DATABASE d");
    let url = format!("http://{}", db.addr);
    let flags = relay_flags(
        &[(&url, "influxdb1")],
        "someone:secret",
        &[
            "--upstream-bucket",
            "b=o/d/autogen",
            "--upstream-bucket",
            "lost=o/d/nope",
        ],
    );
    let s = Server::start(&dir.join("data"), &argv(&flags));
    support::create_bucket(&s, "tok", "o", "lost");
    let t0 = now_ms() - 3_600_000;
    let (batches, per) = (40, 25);
    for i in 0..batches {
        if i == 10 {
            // A permanent refusal: parked, not retried.
            let r = s.write("tok", "org=o&bucket=lost&precision=ms", b"m f=1 1\n");
            assert_eq!(r.status, 204);
            // An unsigned value 1.x cannot store: the Worker's 400 at the write, nothing
            // stored nor relayed (no dead letter for it below).
            let r = s.write(
                "tok",
                "org=o&bucket=b&precision=ms",
                b"u,host=u x=1 1\nu,host=u x=1u 2\n",
            );
            assert_refused(
                &r,
                r#"line 2: field "x" is an unsigned integer, which InfluxDB 1.x cannot store"#,
            );
        }
        if i == 20 {
            db.kill();
        }
        if i == 30 {
            db.start();
        }
        let r = s.write(
            "tok",
            "org=o&bucket=b&precision=ms",
            &batch(i, per, t0, true),
        );
        assert_eq!(r.status, 204, "{}", r.text());
    }
    let want = batches * per;
    let count = || {
        let v = db.influxql("d", "SELECT count(f) FROM m");
        v["results"][0]["series"][0]["values"][0][1]
            .as_u64()
            .unwrap_or(0) as usize
    };
    let mut last = 0;
    wait_for(60, "every point in InfluxDB", || {
        last = count();
        last == want
    });
    let _ = last;
    let v = db.influxql("d", "SELECT * FROM m GROUP BY host");
    let mut seen = 0;
    for series in v["results"][0]["series"].as_array().unwrap() {
        let host = series["tags"]["host"].as_str().unwrap();
        let cols: Vec<&str> = series["columns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        assert_eq!(cols, ["time", "f", "i", "ok", "s"]);
        for row in series["values"].as_array().unwrap() {
            let k = ((row[0].as_i64().unwrap() / 1_000_000) - t0) as usize;
            assert_eq!(host, format!("h{}", k % per));
            assert_eq!(row[1].as_f64().unwrap(), k as f64 + 0.25);
            assert_eq!(row[2].as_i64().unwrap(), k as i64);
            assert_eq!(row[3].as_bool().unwrap(), k % 2 == 0);
            assert_eq!(row[4].as_str().unwrap(), format!("v {k}\"q\\"));
            seen += 1;
        }
    }
    assert_eq!(seen, want);
    let v = db.influxql("d", "SELECT count(x) FROM u");
    assert!(
        v["results"][0]["series"].is_null(),
        "nothing of the refused write: {v}"
    );
    let dl = dead_letters(&s.data);
    assert_eq!(dl.len(), 1, "{dl:?}");
    assert!(
        dl[0].to_string().contains("retention policy not found"),
        "{dl:?}"
    );
    // The 500 was not retried: one request for it, not a retry loop.
    assert!(metric(&s, "linegate_dead_letters_total") >= 1.0);

    // After the fix (the retention policy exists now), that dead letter is replayed into
    // it while the server runs.
    db.influxql(
        "",
        "CREATE RETENTION POLICY nope ON d DURATION 0s REPLICATION 1",
    );
    let rp = dl
        .iter()
        .find(|d| d.to_string().contains("retention policy"))
        .unwrap();
    let id = rp["id"].to_string();
    let data = s.data.to_str().unwrap();
    let (ok, _, err) = support::run(&["dead-letters", "--data", data, "replay", "--id", &id]);
    assert!(ok, "{err}");
    wait_for(30, "the replayed dead letter in d.nope", || {
        let v = db.influxql("d", "SELECT f FROM d.nope.m");
        v["results"][0]["series"][0]["values"][0][1].as_f64() == Some(1.0)
    });
    wait_for(10, "the replayed one gone", || {
        dead_letters(&s.data).is_empty()
    });
    let (ok, _, err) = support::run(&["dead-letters", "--data", data, "drop"]);
    assert!(ok, "{err}");
    assert!(dead_letters(&s.data).is_empty());
}

/// VictoriaMetrics: the bucket arrives as the `db` label; a SIGKILL of the backend while it
/// drains a backlog re-sends at most one request; after VictoriaMetrics itself is killed
/// and loses what it had acknowledged, `replay --since` sends it again (deduplicated by
/// VictoriaMetrics' `-dedup.minScrapeInterval`, as the README says to run it).
#[test]
fn relay_to_victoriametrics() {
    let dir = temp_dir("realdb-vm");
    let Some(mut vm) = RealDb::new(Db::Victoria, &dir.join("vm"), &[]) else {
        return skip("victoria-metrics");
    };
    // The backlog: the relay cannot reach VictoriaMetrics while the batches arrive.
    vm.kill();
    let url = format!("http://{}", vm.addr);
    let flags = relay_flags(&[(&url, "victoriametrics")], "t", &[]);
    let args = argv(&flags);
    let mut s = Server::start(&dir.join("data"), &args);
    let t0 = now_ms() - 600_000;
    let (batches, per) = (200, 10);
    for i in 0..batches {
        let r = s.write(
            "tok",
            "org=o&bucket=b&precision=ms",
            &batch(i, per, t0, false),
        );
        assert_eq!(r.status, 204);
        if i == 100 {
            // What VictoriaMetrics would lose or change behind a 204: the Worker's 400 at
            // the write, nothing stored (so nothing relayed nor parked).
            let ms = now_ms();
            for (body, why) in [
                (
                    format!("z x=1 {ms}\nz x=.5 {ms}\n"),
                    r#"line 2: field "x" has a number with a leading or trailing dot"#,
                ),
                (
                    format!("z s=\"a\nb\" {ms}\n"),
                    r#"line 1: field "s" holds a line feed"#,
                ),
                ("z x=1 0\n".into(), "line 1: time is before 1970-01-01"),
                (
                    format!("z x=1 {}\n", ms + 3 * 86_400_000),
                    "line 1: time is more than 2 days ahead",
                ),
            ] {
                let r = s.write("tok", "org=o&bucket=b&precision=ms", body.as_bytes());
                assert_refused(&r, why);
            }
        }
    }
    vm.start();
    let delivered = |s: &Server| metric(s, "linegate_upstream_points_total");
    wait_for(60, "part of the backlog delivered", || delivered(&s) > 0.0);
    s.kill();
    let s = Server::start(&dir.join("data"), &args);
    let want = batches * per;
    let samples = || vm.export(r#"{__name__="m_f"}"#);
    wait_for(60, "every sample in VictoriaMetrics", || {
        samples().len() >= want
    });
    let got = samples();
    // At most the request in flight at the kill was sent twice (16 batches at most).
    assert!(
        got.len() <= want + 16 * per,
        "{} samples for {want} points",
        got.len()
    );
    let mut keys: Vec<i64> = got.iter().map(|(_, _, t)| *t).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), want, "every point arrived");
    for (labels, v, t) in &got {
        assert_eq!(labels["db"], "b", "the bucket is the db label");
        let k = t - t0;
        assert_eq!(*v, k as f64 + 0.25);
        assert_eq!(labels["host"], format!("h{}", k as usize % per));
    }
    // The refused writes were never stored: nothing parked, nothing of them upstream.
    let dl = dead_letters(&s.data);
    assert!(dl.is_empty(), "{dl:?}");
    assert!(vm.export(r#"{__name__=~"z_.*"}"#).is_empty());
    drop(s);

    // VictoriaMetrics loses its last seconds on SIGKILL: acknowledged, then gone. The batches
    // were committed while it was down (a backlog), so only the delivery log knows they
    // were acknowledged after `since`: commit times alone would replay nothing.
    let dir2 = temp_dir("realdb-vm-replay");
    let Some(mut vm) = RealDb::new(
        Db::Victoria,
        &dir2.join("vm"),
        &["-dedup.minScrapeInterval=1ms"],
    ) else {
        return;
    };
    vm.kill();
    let url = format!("http://{}", vm.addr);
    let flags = relay_flags(
        &[(&url, "victoriametrics")],
        "t",
        &["--upstream-replay-window", "10m"],
    );
    let args = argv(&flags);
    let s = Server::start(&dir2.join("data"), &args);
    let t0 = now_ms() - 600_000;
    let write = |i| {
        let r = s.write(
            "tok",
            "org=o&bucket=b&precision=ms",
            &batch(i, per, t0, false),
        );
        assert_eq!(r.status, 204);
    };
    (0..10).for_each(write);
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos()
        .to_string();
    vm.start();
    wait_for(30, "the backlog relayed", || {
        delivered(&s) as u64 == 10 * per as u64
    });
    // The first half reaches VictoriaMetrics' disk (a clean stop saves it; 1.79.5 kept
    // nothing across a SIGKILL even 3 s after /internal/force_flush); the second stays in
    // its memory.
    vm.stop();
    vm.start();
    (10..20).for_each(write);
    let want = 20 * per as u64;
    wait_for(30, "relayed", || delivered(&s) as u64 == want);
    vm.kill();
    vm.start();
    let samples = || vm.export(r#"{__name__="m_f"}"#);
    let kept = samples().len() as u64;
    eprintln!(
        "VictoriaMetrics lost {} of {want} acknowledged samples on SIGKILL",
        want - kept
    );
    assert!(kept >= want / 2, "the first half was saved: {kept}");
    let (ok, out, err) = support::run(&[
        "replay",
        "--data",
        s.data.to_str().unwrap(),
        "--since",
        &since,
    ]);
    assert!(ok, "{err}");
    let out = String::from_utf8(out).unwrap();
    assert!(
        out.contains("acknowledged batches after seq 0 since then"),
        "{out}"
    );
    wait_for(30, "replayed", || delivered(&s) as u64 == 2 * want);
    // Every acknowledged point exactly once, as VictoriaMetrics keeps it with dedup on:
    // raw samples, not counted after the test's own dedup.
    let mut got = Vec::new();
    wait_for(30, "every acknowledged sample back", || {
        got = samples();
        got.len() as u64 >= want
    });
    let mut ts: Vec<i64> = got.iter().map(|x| x.2).collect();
    ts.sort();
    ts.dedup();
    assert_eq!(ts.len() as u64, want);
    assert_eq!(got.len() as u64, want, "each point once");
    for (_, v, t) in &got {
        assert_eq!(*v, (t - t0) as f64 + 0.25);
    }
}

/// A rotated credential (1.x with auth on answers the relay 401): nothing is parked while
/// it waits; restarted with the right one, every batch arrives, in order, once.
#[test]
fn relay_waits_out_a_rejected_token() {
    let dir = temp_dir("realdb-auth");
    let Some(db) = RealDb::new_env(
        Db::Influx1,
        &dir.join("influx"),
        &[],
        &[("INFLUXDB_HTTP_AUTH_ENABLED", "true")],
    ) else {
        return skip("influxd");
    };
    db.influxql(
        "",
        "CREATE USER admin WITH PASSWORD 'pw' WITH ALL PRIVILEGES",
    );
    db.influxql_as("admin", "pw", "", "CREATE DATABASE d");
    let url = format!("http://{}", db.addr);
    let flags = |token: &str| {
        relay_flags(
            &[(&url, "influxdb1")],
            token,
            &["--upstream-bucket", "b=o/d"],
        )
    };
    let mut s = Server::start(&dir.join("data"), &argv(&flags("admin:rotated")));
    let t0 = now_ms() - 60_000;
    for i in 0..10 {
        let r = s.write("tok", "org=o&bucket=b&precision=ms", &batch(i, 5, t0, true));
        assert_eq!(r.status, 204);
    }
    wait_for(30, "a 401 from the upstream", || {
        s.request("GET", "/metrics", &[], b"")
            .text()
            .contains("linegate_upstream_requests_total{status=\"401\"}")
    });
    assert!(dead_letters(&s.data).is_empty(), "nothing parked on a 401");
    s.kill();
    let s = Server::start(&dir.join("data"), &argv(&flags("admin:pw")));
    let count = || {
        let v = db.influxql_as("admin", "pw", "d", "SELECT count(f) FROM m");
        v["results"][0]["series"][0]["values"][0][1]
            .as_u64()
            .unwrap_or(0)
    };
    wait_for(30, "every point after the fix", || count() == 50);
    assert!(dead_letters(&s.data).is_empty());
}

/// `--upstream` twice: InfluxDB 1.x and VictoriaMetrics each get every batch, with their
/// own cursor and metrics; one that is down holds nothing back at the other.
#[test]
fn relay_to_two_upstreams() {
    let dir = temp_dir("realdb-two");
    let (Some(db), Some(mut vm)) = (
        RealDb::new(Db::Influx1, &dir.join("influx"), &[]),
        RealDb::new(Db::Victoria, &dir.join("vm"), &[]),
    ) else {
        return skip("influxd or victoria-metrics");
    };
    vm.kill();
    db.influxql("", "CREATE DATABASE b");
    let (iurl, vurl) = (format!("http://{}", db.addr), format!("http://{}", vm.addr));
    let flags = relay_flags(
        &[(&iurl, "influxdb1"), (&vurl, "victoriametrics")],
        "t",
        &["--partial-writes", "request"],
    );
    let s = Server::start(&dir.join("data"), &argv(&flags));
    let t0 = now_ms() - 60_000;
    let (batches, per) = (30, 10);
    for i in 0..batches {
        let r = s.write(
            "tok",
            "org=o&bucket=b&precision=ms",
            &batch(i, per, t0, false),
        );
        assert_eq!(r.status, 204);
    }
    // A point either upstream would refuse or lose refuses the write, partial or not: the
    // whole batch (as the Worker's Checker), nothing stored.
    for (q, body, why) in [
        (
            "",
            format!("q x=1 {t0}\nq x=1u {t0}\n"),
            r#"line 2: field "x" is an unsigned integer"#,
        ),
        (
            "&accept_partial=true",
            format!("q x=1 {t0}\nq x=.5 {t0}\n"),
            r#"line 2: field "x" has a number with a leading or trailing dot"#,
        ),
        (
            "&accept_partial=true",
            format!("q x=1 {t0}\nq x=1u {t0}\n"),
            r#"line 2: field "x" is an unsigned integer"#,
        ),
    ] {
        let r = s.write(
            "tok",
            &format!("org=o&bucket=b&precision=ms{q}"),
            body.as_bytes(),
        );
        assert_refused(&r, why);
    }
    // v1's `/write` too.
    let body = format!("q x=-.5 {t0}\n");
    let auth = [("Authorization", "Token tok")];
    let r = s.request("POST", "/write?db=b&precision=ms", &auth, body.as_bytes());
    assert_refused(
        &r,
        r#"line 1: field "x" has a number with a leading or trailing dot"#,
    );
    let body = format!("m f=0.25,i=0i,ok=true {}\n", t0 - 1);
    let r = s.request("POST", "/write?db=b&precision=ms", &auth, body.as_bytes());
    assert_eq!(r.status, 204, "{}", r.text());
    let want = (batches * per) as u64 + 1;
    let count = || {
        let v = db.influxql("b", "SELECT count(f) FROM m");
        v["results"][0]["series"][0]["values"][0][1]
            .as_u64()
            .unwrap_or(0)
    };
    // VictoriaMetrics is down: InfluxDB gets everything anyway.
    wait_for(
        30,
        "every point in InfluxDB while VictoriaMetrics is down",
        || count() == want,
    );
    // InfluxDB holds the points a moment before the relay has its answer and moves the
    // cursor: wait for the cursor too.
    let delivered = format!("linegate_relay_upstream_queue_depth{{upstream=\"{iurl}\"}} 0");
    wait_for(30, "InfluxDB's cursor at the end", || {
        s.request("GET", "/metrics", &[], b"")
            .text()
            .contains(&delivered)
    });
    let m = s.request("GET", "/metrics", &[], b"").text();
    assert!(
        m.contains(&format!(
            "linegate_relay_upstream_points_total{{upstream=\"{iurl}\"}} {want}"
        )),
        "{m}"
    );
    assert!(m.contains(&format!(
        "linegate_relay_upstream_points_total{{upstream=\"{vurl}\"}} 0"
    )));
    vm.start();
    wait_for(60, "every sample in VictoriaMetrics", || {
        vm.export(r#"{__name__="m_f"}"#).len() as u64 == want
    });
    assert_eq!(count(), want);
    assert!(vm.export(r#"{__name__="q_x"}"#).is_empty());
    let v = db.influxql("b", "SELECT count(x) FROM q");
    assert!(v["results"][0]["series"].is_null(), "{v}");
}
