//! The write API's checks in OSS's order, tokens and permissions from a config file, the
//! bucket API, storage's 422s, the replace rule, export filters, `/ping`, `/health`,
//! `/ready`, `/metrics`.

mod support;

use support::Server;

const CONFIG: &str = r#"
[[orgs]]
name = "acme"

[[orgs]]
name = "other"

[[buckets]]
org = "acme"
name = "metrics"

[[buckets]]
org = "acme"
name = "secret"

[[buckets]]
org = "acme"
name = "short"
retention = "1h"

[[tokens]]
token = "all-acme"
org = "acme"
all_access = true

[[tokens]]
token = "writer"
org = "acme"
write = ["metrics"]
"#;

fn start(more: &[&str]) -> (Server, std::path::PathBuf) {
    let dir = support::temp_dir("api");
    let cfg = dir.join("linegate.toml");
    std::fs::write(&cfg, CONFIG).unwrap();
    let mut args = vec!["--config", cfg.to_str().unwrap()];
    args.extend_from_slice(more);
    let s = Server::start(&dir.join("data"), &args);
    (s, dir)
}

fn ids(s: &Server) -> (String, String) {
    let r = s.request(
        "GET",
        "/api/v2/buckets?org=acme&name=metrics",
        &[("Authorization", "Token all-acme")],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    let b = &v["buckets"][0];
    (
        b["orgID"].as_str().unwrap().to_string(),
        b["id"].as_str().unwrap().to_string(),
    )
}

#[test]
fn auth_lookups_and_the_order_of_checks() {
    let (s, dir) = start(&["--max-body", "100000"]);
    // A config was given: no setup banner, no generated token.
    assert!(s.banner.is_empty(), "{:?}", s.banner);
    let ok = |r: &support::Resp| assert_eq!(r.status, 204, "{}", r.text());
    let is = |r: support::Resp, status: u16, body: &str| {
        assert_eq!((r.status, r.text().as_str()), (status, body));
        if status >= 400 {
            assert_eq!(
                r.header("content-type"),
                Some("application/json; charset=utf-8")
            );
        }
    };
    ok(&s.write("all-acme", "org=acme&bucket=metrics", b"m f=1 1\n"));
    ok(&s.write(
        "writer",
        "org=acme&bucket=metrics&precision=s",
        b"m f=1 1\n",
    ));
    let unauthorized = r#"{"code":"unauthorized","message":"unauthorized access"}"#;
    // 401 before everything: wrong token, no header, unknown scheme.
    is(
        s.write("nope", "org=acme&bucket=metrics", b"m f=1 1"),
        401,
        unauthorized,
    );
    is(
        s.request(
            "POST",
            "/api/v2/write?org=acme&bucket=metrics",
            &[],
            b"m f=1",
        ),
        401,
        unauthorized,
    );
    is(
        s.request(
            "POST",
            "/api/v2/write?org=acme&bucket=metrics",
            &[("Authorization", "Basic all-acme")],
            b"m f=1",
        ),
        401,
        unauthorized,
    );
    is(s.write("nope", "precision=h", b"bad"), 401, unauthorized);
    // 403: a valid token without permission on that bucket.
    is(
        s.write("writer", "org=acme&bucket=secret", b"m f=1 1"),
        403,
        r#"{"code":"forbidden","message":"insufficient permissions for write"}"#,
    );
    // The permission check comes before the body is read or parsed.
    is(
        s.write("writer", "org=acme&bucket=secret", b"not line protocol"),
        403,
        r#"{"code":"forbidden","message":"insufficient permissions for write"}"#,
    );
    // A token of one org has no say in another.
    is(
        s.write("all-acme", "org=other&bucket=metrics", b"m f=1 1"),
        404,
        r#"{"code":"not found","message":"bucket \"metrics\" not found"}"#,
    );
    // 404s: org by name, org by ID, bucket.
    is(
        s.write("all-acme", "org=nope&bucket=metrics", b"bad"),
        404,
        r#"{"code":"not found","message":"organization name \"nope\" not found"}"#,
    );
    is(
        s.write("all-acme", "orgID=00000000000000aa&bucket=metrics", b"bad"),
        404,
        r#"{"code":"not found","message":"organization not found"}"#,
    );
    is(
        s.write("all-acme", "org=acme&bucket=nope", b"bad"),
        404,
        r#"{"code":"not found","message":"bucket \"nope\" not found"}"#,
    );
    is(
        s.write("all-acme", "orgID=xyz&bucket=metrics", b"bad"),
        400,
        r#"{"code":"invalid","message":"id must have a length of 16 bytes"}"#,
    );
    // By ID: orgID, org as 16 hex digits, bucket as 16 hex digits.
    let (org_id, bucket_id) = ids(&s);
    ok(&s.write(
        "writer",
        &format!("orgID={org_id}&bucket={bucket_id}"),
        b"m f=2 2\n",
    ));
    ok(&s.write(
        "writer",
        &format!("org={org_id}&bucket=metrics"),
        b"m f=3 3\n",
    ));
    // The request-level checks in OSS's order.
    is(
        s.write("all-acme", "precision=h", b"bad"),
        400,
        r#"{"code":"invalid","message":"invalid precision; valid precision units are ns, us, ms, and s"}"#,
    );
    is(
        s.write("all-acme", "org=nope&precision=s", b"bad"),
        404,
        r#"{"code":"not found","message":"bucket not found"}"#,
    );
    let auth = [
        ("Authorization", "Token all-acme"),
        ("Content-Encoding", "gzip"),
    ];
    is(
        s.request("POST", "/api/v2/write?bucket=nope", &auth, b"bad"),
        500,
        r#"{"code":"internal error","message":"An internal error has occurred - check server logs"}"#,
    );
    is(
        s.write("all-acme", "bucket=nope", b"bad"),
        400,
        r#"{"code":"invalid","message":"Please provide either orgID or org"}"#,
    );
    // Gzip bodies, a bad trailer, the body limit, parse errors with `line`.
    let gz = linegate_core::gzip::compress(b"m f=4 4\n");
    ok(&s.request("POST", "/api/v2/write?org=acme&bucket=metrics", &auth, &gz));
    let mut bad = gz.clone();
    let n = bad.len() - 8;
    bad[n] ^= 1;
    is(
        s.request("POST", "/api/v2/write?org=acme&bucket=metrics", &auth, &bad),
        400,
        r#"{"code":"invalid","message":"unable to read data: gzip: invalid checksum"}"#,
    );
    is(
        s.write("all-acme", "org=acme&bucket=metrics", &vec![b'#'; 100_000]),
        413,
        r#"{"code":"request too large","message":"unable to read data: points batch is too large"}"#,
    );
    // Too large, but the bucket is unknown: the lookup answers first.
    assert_eq!(
        s.write("all-acme", "org=acme&bucket=zz", &vec![b'#'; 200_000])
            .status,
        404
    );
    is(
        s.write(
            "all-acme",
            "org=acme&bucket=metrics",
            b"m f=1 1\n\nm,t=a f=oops 1\n",
        ),
        400,
        r#"{"code":"invalid","message":"unable to parse 'm,t=a f=oops 1': invalid boolean","line":3}"#,
    );
    // Empty and comment-only bodies are accepted.
    ok(&s.write("all-acme", "org=acme&bucket=metrics", b""));
    ok(&s.write("all-acme", "org=acme&bucket=metrics", b"# nothing\n\n"));
    drop(s);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn storage_rules_replace_and_export() {
    let (s, dir) = start(&[]);
    let w = |q: &str, body: &str| s.write("all-acme", q, body.as_bytes());
    let q = "org=acme&bucket=metrics";
    assert_eq!(w(q, "cpu,host=a v=1,s=\"x\" 1000\n").status, 204);
    // Against stored data: the conflicting point is dropped, the others are written.
    let r = w(q, "cpu,host=a v=2i 2000\ncpu,host=b v=5 2000\n");
    assert_eq!(
        (r.status, r.text().as_str()),
        (
            422,
            r#"{"code":"unprocessable entity","message":"failure writing points to database: partial write: field type conflict: input field \"v\" on measurement \"cpu\" is type integer, already exists as type float dropped=1"}"#
        )
    );
    assert_eq!(
        r.header("x-platform-error-code"),
        Some("unprocessable entity")
    );
    // Within one batch, a field named `time`, a string over 1 MiB.
    let r = w(q, "new f=1 1\nnew f=true 2\n");
    assert_eq!(r.status, 422);
    assert!(r.text().contains("input field \\\"f\\\" on measurement \\\"new\\\" is type boolean, already exists as type float dropped=1"));
    let r = w(q, "tm time=1 1\n");
    assert!(r.text().contains("invalid field name: input field \\\"time\\\" on measurement \\\"tm\\\" is invalid dropped=1"), "{}", r.text());
    let big = format!("big s=\"{}\" 1\n", "x".repeat((1 << 20) + 1));
    let r = w(q, &big);
    assert!(
        r.text()
            .contains(r"is too long, 1048577 \u003e 1048576 dropped=1"),
        "{}",
        r.text()
    );
    // A later write of the same series and time replaces the field it names.
    assert_eq!(w(q, "cpu,host=a v=3 1000\n").status, 204);
    let out = support::export_cli(&s.data, "metrics", &["--measurement", "cpu"]);
    assert_eq!(
        out,
        "cpu,host=a v=3.0,s=\"x\" 1000\ncpu,host=b v=5.0 2000\n"
    );
    let raw = support::export_cli(&s.data, "metrics", &["--measurement", "cpu", "--raw"]);
    assert_eq!(raw.lines().count(), 3, "{raw}");
    let out = support::export_cli(
        &s.data,
        "metrics",
        &["--start", "1500", "--stop", "1970-01-01T00:00:00.000003Z"],
    );
    assert_eq!(
        out,
        "cpu,host=b v=5.0 2000\nnew f=1.0 1\n"
            .lines()
            .filter(|l| l.starts_with("cpu"))
            .map(|l| format!("{l}\n"))
            .collect::<String>()
    );
    let r = s.request(
        "GET",
        "/api/v2/export?org=acme&bucket=metrics&measurement=new",
        &[("Authorization", "Token all-acme")],
        b"",
    );
    assert_eq!((r.status, r.text().as_str()), (200, "new f=1.0 1\n"));
    // Retention: points older than the bucket's hour are dropped with OSS's message.
    let r = w("org=acme&bucket=short", "old f=1 5\n");
    assert_eq!(r.status, 422);
    assert!(r.text().contains("dropped 1 points outside retention policy of duration 1h0m0s - oldest point old at 1970-01-01T00:00:00.000000005Z"), "{}", r.text());
    assert!(r.text().ends_with("for retention policy: autogen\"}"));
    // Recent points are kept in that bucket.
    assert_eq!(
        w("org=acme&bucket=short&precision=s", "new f=1\n").status,
        204
    );
    drop(s);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn setup_buckets_and_service_endpoints() {
    let dir = support::temp_dir("setup");
    let data = dir.join("data");
    let s = Server::start(&data, &[]);
    // First start without configuration: an org, a bucket and a token, printed.
    let text = s.banner.join("\n");
    let token = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("token:"))
        .and_then(|t| t.split_whitespace().next())
        .expect("a token is printed")
        .to_string();
    assert!(token.len() >= 32, "{text}");
    assert!(
        text.contains("org:    linegate") && text.contains("bucket: default"),
        "{text}"
    );
    assert_eq!(
        s.write(&token, "org=linegate&bucket=default", b"m f=1 1")
            .status,
        204
    );
    // Bucket API.
    let auth = format!("Token {token}");
    let r = s.request(
        "POST",
        "/api/v2/buckets",
        &[("Authorization", &auth)],
        br#"{"org":"linegate","name":"b2","retentionRules":[{"type":"expire","everySeconds":86400}]}"#,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["retentionRules"][0]["everySeconds"], 86400);
    assert_eq!(v["id"].as_str().unwrap().len(), 16);
    let r = s.request(
        "POST",
        "/api/v2/buckets",
        &[("Authorization", &auth)],
        br#"{"org":"linegate","name":"b2"}"#,
    );
    assert_eq!(r.status, 422);
    // linegate's own JSON APIs read at most 1 MiB of body: past it, 413 (not a truncated
    // body's JSON error).
    let mut big = br#"{"org":"linegate","name":"b3","description":""#.to_vec();
    big.resize(2 << 20, b'x');
    big.extend_from_slice(br#""}"#);
    for path in ["/api/v2/buckets", "/api/v2/dbrps"] {
        let r = s.request("POST", path, &[("Authorization", &auth)], &big);
        assert_eq!(r.status, 413, "{path}: {}", r.text());
        assert_eq!(
            r.text(),
            r#"{"code":"request too large","message":"the request body is too large"}"#
        );
    }
    let r = s.request(
        "GET",
        "/api/v2/buckets?org=linegate",
        &[("Authorization", &auth)],
        b"",
    );
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    let names: Vec<&str> = v["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["b2", "default"]);
    assert_eq!(
        s.request(
            "GET",
            "/api/v2/buckets",
            &[("Authorization", "Token x")],
            b""
        )
        .status,
        401
    );
    assert_eq!(
        s.write(&token, "org=linegate&bucket=b2", b"m f=1").status,
        204
    );
    // Service endpoints.
    let r = s.request("GET", "/ping", &[], b"");
    assert_eq!(r.status, 204);
    assert_eq!(r.header("x-influxdb-build"), Some("OSS"));
    assert_eq!(s.request("HEAD", "/ping", &[], b"").status, 204);
    let r = s.request("GET", "/health", &[], b"");
    assert_eq!(r.status, 200);
    assert!(r.text().contains(r#""status":"pass""#));
    let r = s.request("GET", "/ready", &[], b"");
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["status"], "ready", "{}", r.text());
    let r = s.request("GET", "/metrics", &[], b"");
    let m = r.text();
    assert!(
        m.contains("linegate_http_requests_total{endpoint=\"write\",status=\"204\"} 2"),
        "{m}"
    );
    assert!(m.contains("linegate_points_written_total 2"), "{m}");
    assert!(m.contains("linegate_write_duration_seconds_count"), "{m}");
    assert_eq!(s.request("GET", "/nope", &[], b"").status, 404);
    let r = s.request("GET", "/api/v2/write", &[], b"");
    assert_eq!(
        (r.status, r.header("x-platform-error-code")),
        (405, Some("method not allowed"))
    );
    drop(s);
    // A restart keeps everything; setup flags do nothing on an existing directory.
    let s = Server::start(&data, &["--setup-token", "ignored"]);
    assert!(s.banner.is_empty());
    assert_eq!(
        s.write("ignored", "org=linegate&bucket=b2", b"m f=1")
            .status,
        401
    );
    assert_eq!(
        s.write(&token, "org=linegate&bucket=default", b"m f=2 2")
            .status,
        204
    );
    assert_eq!(
        support::export_cli(&data, "default", &[]),
        "m f=1.0 1\nm f=2.0 2\n"
    );
    drop(s);
    // Environment variables override the config file.
    let cfg = dir.join("c.toml");
    std::fs::write(&cfg, "max_body = 10\n").unwrap();
    let mut cmd = std::process::Command::new(support::BIN);
    cmd.env("LINEGATE_MAX_BODY", "1000");
    let s = Server::start_with(cmd, &data, &["--config", cfg.to_str().unwrap()]);
    assert_eq!(
        s.write(
            &token,
            "org=linegate&bucket=b2",
            b"m f=3 3 plus more than ten bytes"
        )
        .status,
        400
    );
    assert_eq!(
        s.write(&token, "org=linegate&bucket=b2", &vec![b'#'; 1000])
            .status,
        413
    );
    drop(s);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn bodies_stored_raw_lz4_or_zstd_read_back_alike() {
    let dir = support::temp_dir("encoding");
    let data = dir.join("data");
    let args = [
        &support::setup("o", "b", "t")[..],
        &["--compression", "none"],
    ]
    .concat();
    let s = Server::start(&data, &args);
    assert_eq!(
        s.write("t", "org=o&bucket=b&precision=s", b"m,k=a f=1i 1\n")
            .status,
        204
    );
    // Slow path (no timestamp: stored re-rendered) without compression too.
    assert_eq!(s.write("t", "org=o&bucket=b", b"m,k=b f=2i\n").status, 204);
    drop(s);
    let s = Server::start(&data, &["--compression", "lz4"]);
    let w = |q: &str, body: &[u8]| s.write("t", q, body).status;
    assert_eq!(w("org=o&bucket=b&precision=ms", b"m,k=c f=3i 3\n"), 204);
    drop(s);
    // zstd, the default.
    let s = Server::start(&data, &[]);
    let w = |q: &str, body: &[u8]| s.write("t", q, body).status;
    assert_eq!(w("org=o&bucket=b&precision=us", b"m,k=d f=4i 4\n"), 204);
    assert_eq!(w("org=o&bucket=b", b"m,k=e f=5i\n"), 204);
    let out = support::export_cli(&data, "b", &["--raw"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 5, "{out}");
    assert_eq!(lines[0], "m,k=a f=1i 1000000000");
    assert!(lines[1].starts_with("m,k=b f=2i "));
    assert_eq!(lines[2], "m,k=c f=3i 3000000");
    assert_eq!(lines[3], "m,k=d f=4i 4000");
    assert!(lines[4].starts_with("m,k=e f=5i "));
    drop(s);
    let _ = std::fs::remove_dir_all(dir);
}
