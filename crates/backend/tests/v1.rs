//! v1's `POST /write` on the real server (spec Part C): the v1 corpus over HTTP with the
//! points read back, the order of checks and their texts, v1 authorizations made by the
//! `v1-auth` command (passwords stored hashed), and the `/api/v2/dbrps` API.

mod support;

use linegate_core::encode_query_value;
use linegate_corpus::{load_v1, same_points, NOW};
use serde_json::Value;
use support::points::{merge, read_export, storage_rejects};
use support::{Resp, Server};

const TOKEN: &str = "v1-token";

fn start(dir: &std::path::Path) -> Server {
    let now = NOW.to_string();
    let mut args = support::setup("o", "b", TOKEN).to_vec();
    args.extend_from_slice(&["--now-ns", &now, "--max-body", "100000"]);
    Server::start(dir, &args)
}

fn auth() -> String {
    format!("Token {TOKEN}")
}

fn get(s: &Server, path: &str) -> Resp {
    s.request("GET", path, &[("Authorization", &auth())], b"")
}

fn export(s: &Server, bucket: &str) -> String {
    let r = get(s, &format!("/api/v2/export?org=o&bucket={bucket}"));
    assert_eq!(r.status, 200, "{}", r.text());
    r.text()
}

fn v1_write(s: &Server, query: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
    s.request("POST", &format!("/write?{query}"), headers, body)
}

fn assert_answer(r: &Resp, status: u16, body: &str) {
    assert_eq!((r.status, r.text().as_str()), (status, body));
    if status >= 400 {
        let code: Value = serde_json::from_str(body).unwrap();
        assert_eq!(r.header("X-Platform-Error-Code"), code["code"].as_str());
        assert_eq!(
            r.header("Content-Type"),
            Some("application/json; charset=utf-8")
        );
    }
}

#[test]
fn v1_corpus_over_http() {
    let Some(shared) = support::shared_dir() else {
        eprintln!("SKIPPED v1_corpus_over_http: ../shared/corpus is absent (it sits beside the project root in CI)");
        return;
    };
    let cases = load_v1(&shared.join("corpus"));
    assert!(
        cases.len() > 5000,
        "the v1 corpus should hold over 5000 cases"
    );
    let dir = support::temp_dir("v1-corpus");
    let now = NOW.to_string();
    let mut args = support::setup("o", "b", TOKEN).to_vec();
    args.extend_from_slice(&["--now-ns", &now]);
    let server = Server::start(&dir, &args);
    let (mut failures, mut read_back, mut storage_422) = (Vec::new(), 0usize, 0usize);
    for (i, c) in cases.iter().enumerate() {
        // Each case in its own bucket, found through its virtual DBRP mapping.
        let bucket = format!("case{i}");
        support::create_bucket(&server, TOKEN, "o", &bucket);
        let mut q = format!("db={bucket}");
        if let Some(p) = &c.precision {
            q.push_str("&precision=");
            q.push_str(&encode_query_value(p.as_bytes()));
        }
        // Every other case authenticates as v1 clients often do: any user, the token as
        // password.
        let r = if i % 2 == 0 {
            v1_write(&server, &q, &[("Authorization", &auth())], &c.body)
        } else {
            v1_write(&server, &format!("{q}&u=anyone&p={TOKEN}"), &[], &c.body)
        };
        let points = c.points();
        let res = if c.status == 204 && storage_rejects(&points) {
            storage_422 += 1;
            if r.status == 422 {
                Ok(())
            } else {
                Err(format!("status {}, want storage's 422", r.status))
            }
        } else {
            c.check_answer(r.status, &r.text()).and_then(|()| {
                if c.status != 204 {
                    return Ok(());
                }
                read_back += points.len();
                let e = get(&server, &format!("/api/v2/export?org=o&bucket={bucket}"));
                same_points(&read_export(&e.body), &merge(&points), false)
            })
        };
        if let Err(e) = res {
            failures.push(format!("[{}] {}: {e}", c.run, c.file));
        }
    }
    println!(
        "v1 corpus over HTTP: {} cases, {read_back} points read back, {storage_422} storage 422s, {} failed",
        cases.len(),
        failures.len()
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures
            .iter()
            .take(30)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(read_back > 2000);
}

fn v1_auth(data: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let d = data.to_str().unwrap();
    let mut all = vec!["v1-auth", args[0], "--data", d];
    all.extend_from_slice(&args[1..]);
    let (ok, out, err) = support::run(&all);
    (ok, String::from_utf8(out).unwrap(), err)
}

fn basic(user: &str, pass: &str) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let raw = format!("{user}:{pass}").into_bytes();
    let mut out = String::new();
    for c in raw.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for k in 0..4 {
            if k <= c.len() {
                out.push(A[(n >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    format!("Basic {out}")
}

const UNAUTHORIZED: &str = r#"{"code":"unauthorized","message":"unauthorized access"}"#;
const NO_DBRP: &str = r#"{"code":"not found","message":"no dbrp mapping found"}"#;
const FORBIDDEN: &str = r#"{"code":"forbidden","message":"insufficient permissions for write"}"#;

#[test]
fn v1_write_order_auth_and_time() {
    let dir = support::temp_dir("v1-api");
    let mut server = start(&dir);
    support::create_bucket(&server, TOKEN, "o", "other");
    support::create_bucket(&server, TOKEN, "o", "tele/week");
    // A v1 user for bucket `b` only, made while the server runs.
    let (ok, id, err) = v1_auth(
        &dir,
        &[
            "create",
            "--username",
            "alice",
            "--password",
            "s3cret pass",
            "--org",
            "o",
            "--write-bucket",
            "b",
        ],
    );
    assert!(ok, "v1-auth create: {err}");
    assert_eq!(id.trim().len(), 16);
    // The password is stored hashed (salted PBKDF2), never as it was given.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let db = std::fs::read(dir.join("linegate.db")).unwrap();
    let wal = std::fs::read(dir.join("linegate.db-wal")).unwrap_or_default();
    for f in [&db, &wal] {
        assert!(!f.windows(10).any(|w| w == b"s3cret pas"));
    }
    let (ok, list, _) = v1_auth(&dir, &["list"]);
    assert!(ok && list.contains("\"username\":\"alice\"") && !list.contains("s3cret"));

    // 1. Credentials, in OSS's order of sources.
    let body = b"m f=1 1700000000\n";
    assert_answer(&v1_write(&server, "db=b", &[], body), 401, UNAUTHORIZED);
    assert_answer(
        &v1_write(&server, "db=b&u=alice&p=wrong", &[], body),
        401,
        UNAUTHORIZED,
    );
    assert_answer(
        &v1_write(
            &server,
            "db=b&u=alice&p=s3cret%20pass&precision=s",
            &[],
            body,
        ),
        204,
        "",
    );
    let b = basic("alice", "s3cret pass");
    assert_answer(
        &v1_write(
            &server,
            "db=b&precision=s",
            &[("Authorization", &b)],
            b"m g=2 1700000000\n",
        ),
        204,
        "",
    );
    // Basic with the wrong password, and `u` alone (without `p`) falls through to the header.
    let bad = basic("alice", "nope");
    assert_answer(
        &v1_write(&server, "db=b", &[("Authorization", &bad)], body),
        401,
        UNAUTHORIZED,
    );
    assert_answer(
        &v1_write(
            &server,
            "db=b&u=alice&precision=s",
            &[("Authorization", &b)],
            body,
        ),
        204,
        "",
    );
    // Token user:secret, and a v2 token as the password of an unknown user.
    let tok = format!("Token whoever:{TOKEN}");
    assert_answer(
        &v1_write(
            &server,
            "db=other&precision=ms",
            &[("Authorization", &tok)],
            b"m f=3 1700000000000\n",
        ),
        204,
        "",
    );
    assert_answer(
        &v1_write(
            &server,
            &format!("db=other&u=bob&p={TOKEN}"),
            &[],
            b"m f=4 5\n",
        ),
        204,
        "",
    );
    assert_answer(
        &v1_write(
            &server,
            "db=other",
            &[("Authorization", "Token  x y")],
            body,
        ),
        401,
        UNAUTHORIZED,
    );
    // 3. db required (after credentials); 5. the mapping; 6. the permission.
    assert_answer(
        &v1_write(&server, "precision=s&u=alice&p=s3cret%20pass", &[], body),
        400,
        r#"{"code":"invalid","message":"missing db"}"#,
    );
    assert_answer(
        &v1_write(&server, "db=nope", &[("Authorization", &auth())], body),
        404,
        NO_DBRP,
    );
    assert_answer(
        &v1_write(
            &server,
            "db=b&rp=weekly",
            &[("Authorization", &auth())],
            body,
        ),
        404,
        NO_DBRP,
    );
    assert_answer(
        &v1_write(&server, "db=other&u=alice&p=s3cret%20pass", &[], body),
        403,
        FORBIDDEN,
    );
    // A bucket named db/rp is found with both, and only with both.
    assert_answer(
        &v1_write(
            &server,
            "db=tele&rp=week&precision=h",
            &[("Authorization", &auth())],
            b"m f=5 3\n",
        ),
        204,
        "",
    );
    assert_answer(
        &v1_write(&server, "db=tele", &[("Authorization", &auth())], body),
        404,
        NO_DBRP,
    );
    // 7. The size limit (after the permission); 8. parse errors with `line`.
    let big = vec![b'#'; 100_001];
    assert_answer(
        &v1_write(&server, "db=other&u=alice&p=s3cret%20pass", &[], &big),
        403,
        FORBIDDEN,
    );
    assert_answer(
        &v1_write(&server, "db=b", &[("Authorization", &auth())], &big),
        413,
        r#"{"code":"request too large","message":"unable to read data: points batch is too large"}"#,
    );
    let r = v1_write(
        &server,
        "db=b&precision=bogus",
        &[("Authorization", &auth())],
        b"m f=1\nm f=\n",
    );
    assert_eq!(r.status, 400);
    assert!(r.text().ends_with(r#","line":2}"#), "{}", r.text());
    // A method other than POST: credentials first, then 405 with Allow.
    let r = server.request("GET", "/write?db=b", &[], b"");
    assert_answer(&r, 401, UNAUTHORIZED);
    let r = server.request("GET", "/write?db=b", &[("Authorization", &auth())], b"");
    assert_eq!(r.status, 405);
    assert_eq!(r.header("Allow"), Some("POST"));

    // What was stored: `s` and `ms` scale given timestamps; `h` reads them as nanoseconds;
    // a line without one gets "now" truncated to the unit.
    assert_eq!(export(&server, "b"), "m f=1.0,g=2.0 1700000000000000000\n");
    assert_eq!(
        export(&server, "other"),
        "m f=4.0 5\nm f=3.0 1700000000000000000\n"
    );
    assert_eq!(export(&server, "tele/week"), "m f=5.0 3\n");
    assert_answer(
        &v1_write(
            &server,
            "db=b&precision=h",
            &[("Authorization", &auth())],
            b"n f=1.0\n",
        ),
        204,
        "",
    );
    let hour = 3_600_000_000_000i64;
    assert!(export(&server, "b").contains(&format!("n f=1.0 {}\n", NOW - NOW.rem_euclid(hour))));

    // Deleting the user locks it out (picked up within a second).
    let (ok, _, err) = v1_auth(&dir, &["delete", "--username", "alice"]);
    assert!(ok, "{err}");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert_answer(
        &v1_write(&server, "db=b&u=alice&p=s3cret%20pass", &[], body),
        401,
        UNAUTHORIZED,
    );
    // A restart keeps v1 users (made again here) and reads them from the database.
    let (ok, _, _) = v1_auth(
        &dir,
        &[
            "create",
            "--username",
            "carol",
            "--password",
            "pw",
            "--org",
            "o",
        ],
    );
    assert!(ok);
    server.kill();
    let server = start(&dir);
    assert_answer(
        &v1_write(&server, "db=other&u=carol&p=pw", &[], b"m f=9.0 9\n"),
        204,
        "",
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

fn post_json(s: &Server, path: &str, body: &str) -> Resp {
    s.request(
        "POST",
        path,
        &[
            ("Authorization", &auth()),
            ("Content-Type", "application/json"),
        ],
        body.as_bytes(),
    )
}

#[test]
fn dbrp_api() {
    let dir = support::temp_dir("v1-dbrp");
    let server = start(&dir);
    let org_list = get(&server, "/api/v2/orgs");
    let orgs: Value = serde_json::from_slice(&org_list.body).unwrap();
    let org = orgs["orgs"][0]["id"].as_str().unwrap().to_string();
    let target = support::create_bucket(&server, TOKEN, "o", "target");
    let r = get(&server, "/api/v2/buckets?name=b");
    let r: Value = serde_json::from_slice(&r.body).unwrap();
    let b = r["buckets"][0]["id"].as_str().unwrap().to_string();

    // Without org: 400; list shows the virtual mappings of both buckets.
    assert_eq!(get(&server, "/api/v2/dbrps").status, 400);
    let r = get(&server, &format!("/api/v2/dbrps?orgID={org}"));
    assert_eq!(r.status, 200);
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    let content = v["content"].as_array().unwrap();
    assert_eq!(content.len(), 2);
    assert!(content
        .iter()
        .all(|m| m["virtual"] == true && m["retention_policy"] == "autogen"));

    // Create mydb/one → target: the first for its db, so the default.
    let r = post_json(
        &server,
        "/api/v2/dbrps",
        &format!(
            r#"{{"orgID":"{org}","bucketID":"{target}","database":"mydb","retention_policy":"one"}}"#
        ),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let one: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(one["database"], "mydb");
    assert_eq!(one["retention_policy"], "one");
    assert_eq!(one["default"], true);
    assert_eq!(one["virtual"], false);
    assert_eq!(one["orgID"], org.as_str());
    assert_eq!(one["bucketID"], target.as_str());
    let one_id = one["id"].as_str().unwrap().to_string();
    // The same (db, rp) again conflicts; a second rp for the db, marked default, takes it.
    let again = format!(
        r#"{{"org":"o","bucketID":"{target}","database":"mydb","retention_policy":"one"}}"#
    );
    assert_eq!(post_json(&server, "/api/v2/dbrps", &again).status, 409);
    let r = post_json(
        &server,
        "/api/v2/dbrps",
        &format!(
            r#"{{"org":"o","bucketID":"{b}","database":"mydb","retention_policy":"two","default":true}}"#
        ),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let two: Value = serde_json::from_slice(&r.body).unwrap();
    let two_id = two["id"].as_str().unwrap().to_string();

    // Writes follow the mappings: rp chooses, no rp means the default.
    let w = |q: &str, body: &[u8]| v1_write(&server, q, &[("Authorization", &auth())], body);
    assert_answer(&w("db=mydb&rp=one", b"m f=1.0 1\n"), 204, "");
    assert_answer(&w("db=mydb", b"m f=2.0 2\n"), 204, "");
    assert_answer(&w("db=mydb&rp=three", b"m f=3.0 3\n"), 404, NO_DBRP);
    assert_eq!(export(&server, "target"), "m f=1.0 1\n");
    assert_eq!(export(&server, "b"), "m f=2.0 2\n");

    // Filters.
    let list = |q: &str| -> Vec<Value> {
        let r = get(&server, &format!("/api/v2/dbrps?orgID={org}{q}"));
        assert_eq!(r.status, 200, "{}", r.text());
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        v["content"].as_array().unwrap().clone()
    };
    assert_eq!(list("").len(), 4);
    assert_eq!(list("&db=mydb").len(), 2);
    let d = list("&db=mydb&default=true");
    assert_eq!((d.len(), d[0]["id"].as_str()), (1, Some(two_id.as_str())));
    assert_eq!(list("&rp=one")[0]["id"], one_id.as_str());
    assert_eq!(list(&format!("&bucketID={target}")).len(), 2);
    assert_eq!(list(&format!("&id={one_id}")).len(), 1);
    assert_eq!(list("&db=b")[0]["virtual"], true);

    // Delete the default: the other mapping of the db becomes the default.
    let del = |id: &str| {
        server.request(
            "DELETE",
            &format!("/api/v2/dbrps/{id}?orgID={org}"),
            &[("Authorization", &auth())],
            b"",
        )
    };
    assert_eq!(del(&two_id).status, 204);
    assert_eq!(del(&two_id).status, 404);
    assert_eq!(list("&db=mydb&default=true")[0]["id"], one_id.as_str());
    assert_answer(&w("db=mydb", b"m f=4.0 4\n"), 204, "");
    assert_eq!(export(&server, "target"), "m f=1.0 1\nm f=4.0 4\n");
    assert_eq!(del(&one_id).status, 204);
    assert_answer(&w("db=mydb", b"m f=5.0 5\n"), 404, NO_DBRP);
    // No token: 401 on every DBRP call.
    assert_eq!(
        server
            .request("GET", &format!("/api/v2/dbrps?orgID={org}"), &[], b"")
            .status,
        401
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

fn patch_json(s: &Server, path: &str, body: &str) -> Resp {
    s.request(
        "PATCH",
        path,
        &[
            ("Authorization", &auth()),
            ("Content-Type", "application/json"),
        ],
        body.as_bytes(),
    )
}

fn content(r: &Resp) -> Value {
    assert_eq!(r.status, 200, "{}", r.text());
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    v["content"].clone()
}

#[test]
fn dbrp_get_and_patch() {
    let dir = support::temp_dir("v1-dbrp-patch");
    let server = start(&dir);
    let orgs: Value = serde_json::from_slice(&get(&server, "/api/v2/orgs").body).unwrap();
    let org = orgs["orgs"][0]["id"].as_str().unwrap().to_string();
    let target = support::create_bucket(&server, TOKEN, "o", "target");
    let other = support::create_bucket(&server, TOKEN, "o", "other");
    let create = |bucket: &str, rp: &str| -> String {
        let r = post_json(
            &server,
            "/api/v2/dbrps",
            &format!(
                r#"{{"orgID":"{org}","bucketID":"{bucket}","database":"mydb","retention_policy":"{rp}"}}"#
            ),
        );
        assert_eq!(r.status, 201, "{}", r.text());
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        v["id"].as_str().unwrap().to_string()
    };
    let one = create(&target, "one");
    let two = create(&other, "two");

    // GET by id: the mapping under "content", the org required (by ID or name) as OSS does.
    let c = content(&get(&server, &format!("/api/v2/dbrps/{one}?orgID={org}")));
    assert_eq!(
        (
            &c["id"],
            &c["database"],
            &c["retention_policy"],
            &c["default"]
        ),
        (
            &Value::from(one.as_str()),
            &Value::from("mydb"),
            &Value::from("one"),
            &Value::from(true)
        )
    );
    assert_eq!(c["bucketID"], target.as_str());
    assert_eq!(c["orgID"], org.as_str());
    assert_eq!(c["virtual"], false);
    let c = content(&get(&server, &format!("/api/v2/dbrps/{two}?org=o")));
    assert_eq!(
        (c["id"].as_str(), &c["default"]),
        (Some(two.as_str()), &Value::from(false))
    );
    // The same mapping as the list shows it.
    let listed: Value =
        serde_json::from_slice(&get(&server, &format!("/api/v2/dbrps?orgID={org}&id={two}")).body)
            .unwrap();
    assert_eq!(listed["content"][0], c);
    // A bucket's virtual mapping is found by the bucket's ID.
    let v = content(&get(
        &server,
        &format!("/api/v2/dbrps/{target}?orgID={org}"),
    ));
    assert_eq!(
        (&v["database"], &v["virtual"]),
        (&Value::from("target"), &Value::from(true))
    );
    assert_eq!(get(&server, &format!("/api/v2/dbrps/{one}")).status, 400);
    assert_eq!(
        get(&server, &format!("/api/v2/dbrps/{one}?org=nope")).status,
        404
    );
    assert_eq!(
        get(&server, &format!("/api/v2/dbrps/zz?orgID={org}")).status,
        400
    );
    assert_eq!(
        get(
            &server,
            &format!("/api/v2/dbrps/0000000000000001?orgID={org}")
        )
        .status,
        404
    );
    assert_eq!(
        server
            .request("GET", &format!("/api/v2/dbrps/{one}?orgID={org}"), &[], b"")
            .status,
        401
    );

    // PATCH default: the new default unsets the old one of the same db.
    let w = |q: &str, body: &[u8]| v1_write(&server, q, &[("Authorization", &auth())], body);
    let by_id = |id: &str| content(&get(&server, &format!("/api/v2/dbrps/{id}?orgID={org}")));
    let c = content(&patch_json(
        &server,
        &format!("/api/v2/dbrps/{two}?orgID={org}"),
        r#"{"default":true}"#,
    ));
    assert_eq!(
        (c["id"].as_str(), &c["default"]),
        (Some(two.as_str()), &Value::from(true))
    );
    assert_eq!(c["retention_policy"], "two");
    assert_eq!(by_id(&one)["default"], false);
    assert_answer(&w("db=mydb", b"m f=1.0 1\n"), 204, "");
    assert_eq!(export(&server, "other"), "m f=1.0 1\n");

    // PATCH retention_policy (with org by name): writes follow the new rp, the old one is gone.
    let c = content(&patch_json(
        &server,
        &format!("/api/v2/dbrps/{one}?org=o"),
        r#"{"retention_policy":"uno"}"#,
    ));
    assert_eq!(
        (&c["retention_policy"], &c["default"]),
        (&Value::from("uno"), &Value::from(false))
    );
    assert_answer(&w("db=mydb&rp=uno", b"m f=2.0 2\n"), 204, "");
    assert_answer(&w("db=mydb&rp=one", b"m f=3.0 3\n"), 404, NO_DBRP);
    assert_eq!(export(&server, "target"), "m f=2.0 2\n");
    // Both at once.
    let c = content(&patch_json(
        &server,
        &format!("/api/v2/dbrps/{one}?orgID={org}"),
        r#"{"retention_policy":"one","default":true}"#,
    ));
    assert_eq!(
        (&c["retention_policy"], &c["default"]),
        (&Value::from("one"), &Value::from(true))
    );
    assert_eq!(by_id(&two)["default"], false);
    let defaults: Value = serde_json::from_slice(
        &get(
            &server,
            &format!("/api/v2/dbrps?orgID={org}&db=mydb&default=true"),
        )
        .body,
    )
    .unwrap();
    assert_eq!(defaults["content"].as_array().unwrap().len(), 1);

    // Unmarking the default hands it to the db's other mapping.
    let c = content(&patch_json(
        &server,
        &format!("/api/v2/dbrps/{one}?orgID={org}"),
        r#"{"default":false}"#,
    ));
    assert_eq!(c["default"], false);
    assert_eq!(by_id(&two)["default"], true);
    assert_answer(&w("db=mydb", b"m f=4.0 4\n"), 204, "");
    assert_eq!(export(&server, "other"), "m f=1.0 1\nm f=4.0 4\n");

    // Refusals: a taken rp (409), an empty rp, bad JSON, a virtual mapping (400), an unknown
    // id (404), no org (400), no token (401); none changes anything.
    let patch = |id: &str, q: &str, body: &str| {
        patch_json(&server, &format!("/api/v2/dbrps/{id}{q}"), body).status
    };
    let oq = format!("?orgID={org}");
    assert_eq!(patch(&one, &oq, r#"{"retention_policy":"two"}"#), 409);
    assert_eq!(patch(&one, &oq, r#"{"retention_policy":""}"#), 400);
    assert_eq!(patch(&one, &oq, r#"{"default":"yes"}"#), 400);
    assert_eq!(patch(&one, &oq, "{"), 400);
    assert_eq!(patch(&target, &oq, r#"{"default":true}"#), 400);
    assert_eq!(patch("0000000000000001", &oq, r#"{"default":true}"#), 404);
    assert_eq!(patch(&one, "", r#"{"default":true}"#), 400);
    assert_eq!(
        server
            .request(
                "PATCH",
                &format!("/api/v2/dbrps/{one}{oq}"),
                &[("Content-Type", "application/json")],
                br#"{"default":true}"#,
            )
            .status,
        401
    );
    let c = by_id(&one);
    assert_eq!(
        (&c["retention_policy"], &c["default"]),
        (&Value::from("one"), &Value::from(false))
    );

    // The only mapping of a db stays its default.
    let r = post_json(
        &server,
        "/api/v2/dbrps",
        &format!(
            r#"{{"orgID":"{org}","bucketID":"{target}","database":"solo","retention_policy":"r"}}"#
        ),
    );
    let solo: Value = serde_json::from_slice(&r.body).unwrap();
    let solo = solo["id"].as_str().unwrap().to_string();
    let c = content(&patch_json(
        &server,
        &format!("/api/v2/dbrps/{solo}?orgID={org}"),
        r#"{"default":false}"#,
    ));
    assert_eq!(c["default"], true);
    drop(server);

    // A restart reads the updated mappings back from storage.
    let server = start(&dir);
    let by_id = |id: &str| content(&get(&server, &format!("/api/v2/dbrps/{id}?orgID={org}")));
    assert_eq!(by_id(&two)["default"], true);
    assert_eq!(by_id(&one)["retention_policy"], "one");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 25 item 9: a token that may write bucket `b` only maps `secret/autogen → b`; an
/// all-access client's `/write?db=secret` would then land in `b`. OSS's DBRP service checks
/// only the mapping's own bucket (`dbrp/middleware_auth.go`), so it allows this; linegate
/// refuses it unless `--dbrp-oss-permissions` asks for OSS's rule.
#[test]
fn dbrp_cannot_shadow_a_bucket_the_token_cannot_write() {
    const CONFIG: &str = r#"
[[orgs]]
name = "o"
[[buckets]]
org = "o"
name = "b"
[[buckets]]
org = "o"
name = "secret"
[[tokens]]
token = "all-access"
all_access = true
[[tokens]]
token = "writes-b"
org = "o"
write = ["b"]
read = ["b"]
"#;
    for oss in [false, true] {
        let dir = support::temp_dir("v1-dbrp-shadow");
        let cfg = dir.join("linegate.toml");
        std::fs::write(&cfg, CONFIG).unwrap();
        let mut args = vec!["--config", cfg.to_str().unwrap()];
        if oss {
            args.push("--dbrp-oss-permissions");
        }
        let server = Server::start(&dir.join("data"), &args);
        let as_token = |tok: &str, method: &str, path: &str, body: &str| {
            let auth = format!("Token {tok}");
            server.request(
                method,
                path,
                &[
                    ("Authorization", &auth),
                    ("Content-Type", "application/json"),
                ],
                body.as_bytes(),
            )
        };
        let r = as_token("all-access", "GET", "/api/v2/buckets?name=b", "");
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        let b = v["buckets"][0]["id"].as_str().unwrap().to_string();
        let map = |db: &str, rp: &str| {
            as_token(
                "writes-b",
                "POST",
                "/api/v2/dbrps",
                &format!(
                    r#"{{"org":"o","bucketID":"{b}","database":"{db}","retention_policy":"{rp}"}}"#
                ),
            )
        };
        // A database no other bucket's virtual mapping names: allowed either way.
        assert_eq!(map("mine", "autogen").status, 201);
        // `secret`'s own (db, rp), and another rp of its database (the first mapping of a
        // database is its default, so it would take `db=secret` without rp too).
        for rp in ["autogen", "other"] {
            let r = map("secret", rp);
            let want = if oss { 201 } else { 403 };
            assert_eq!(r.status, want, "secret/{rp} oss={oss}: {}", r.text());
        }
        let w = as_token("all-access", "POST", "/write?db=secret", "m f=1 1\n");
        assert_eq!(w.status, 204, "{}", w.text());
        let exported = |bucket: &str| {
            let r = as_token(
                "all-access",
                "GET",
                &format!("/api/v2/export?org=o&bucket={bucket}"),
                "",
            );
            assert_eq!(r.status, 200, "{}", r.text());
            r.text()
        };
        let (into_b, into_secret) = (exported("b"), exported("secret"));
        if oss {
            // OSS's behaviour, asked for: the write went where the mapping points.
            assert_eq!((into_b.as_str(), into_secret.as_str()), ("m f=1.0 1\n", ""));
        } else {
            assert_eq!((into_b.as_str(), into_secret.as_str()), ("", "m f=1.0 1\n"));
        }
        drop(server);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
