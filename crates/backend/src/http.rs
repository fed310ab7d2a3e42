//! The HTTP API: InfluxDB v2's write endpoint with every check in OSS's order, `/ping`,
//! `/health`, `/ready`, a bucket API, and linegate's export, dead-letter and metrics
//! endpoints.

// A ready answer is the natural error of each step of a handler; these are built once per
// request, so boxing them would buy nothing.
#![allow(clippy::result_large_err)]

use std::borrow::Cow;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use bytes::{Bytes, BytesMut};
use linegate_core::answers::{self, Reason};
use linegate_core::pipeline::{self, Credentials, Endpoint, Head, Prefix};
use linegate_core::{json, read_batch, Limits, Query, Rejection};
use tokio::sync::oneshot;

use crate::auth::Throttle;
use crate::body::{self, Budget, Cut};
use crate::config::Guards;
use crate::lookup::StoreLookup;
use crate::metrics::Metrics;
use crate::rules::Scanner;
use crate::server::{ConnStats, Peer};
use crate::store::{self, Bucket, ExportFilter, Org, Registry, Store, Token, WriteJob};

pub const VERSION_HEADER: &str = concat!("v2.9.1-linegate-", env!("CARGO_PKG_VERSION"));

pub struct App {
    pub store: Arc<Store>,
    pub limits: Limits,
    /// A fixed clock for tests (lines without a timestamp get it).
    pub now_override: Option<i64>,
    pub metrics: Arc<Metrics>,
    pub started: SystemTime,
    /// How bodies are stored.
    pub compression: store::Compression,
    /// Compressions running beside a parse.
    pub compressing: Arc<std::sync::atomic::AtomicUsize>,
    /// Whether batches are relayed upstream (for the queue-depth gauge).
    pub relay_cursor: Option<Arc<std::sync::atomic::AtomicI64>>,
    pub guards: Guards,
    /// Request-body bytes all requests may hold together.
    pub budget: Budget,
    /// Delays for addresses that keep failing authentication.
    pub throttle: Throttle,
    pub conns: Arc<ConnStats>,
}

impl App {
    pub fn now(&self) -> i64 {
        self.now_override.unwrap_or_else(now_ns)
    }
}

/// Bodies at least this large are compressed while they are parsed.
const EARLY_COMPRESS: usize = 256 << 10;

pub fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/api/v2/write", post(write).fallback(method_not_allowed))
        .route("/ping", get(ping).head(ping))
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/api/v2/buckets", get(list_buckets).post(create_bucket))
        .route("/api/v2/orgs", get(list_orgs))
        .route("/api/v2/export", get(export))
        .route("/api/v2/dead-letters", get(dead_letters))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .layer(axum::middleware::from_fn(log_request))
        .with_state(app)
}

/// One log line per request for every endpoint but writes (which log their own, with
/// points and bytes). Never the query string or headers: they may carry tokens.
async fn log_request(req: Request, next: axum::middleware::Next) -> Response {
    let t0 = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let res = next.run(req).await;
    if path != "/api/v2/write" || method != Method::POST {
        tracing::info!(
            method = %method,
            path = %path,
            status = res.status().as_u16(),
            ms = format_args!("{:.2}", t0.elapsed().as_secs_f64() * 1000.0),
            "request"
        );
    }
    res
}

async fn method_not_allowed() -> Response {
    let r = Rejection::method_not_allowed("POST");
    let mut res = reject(r);
    res.headers_mut()
        .insert("Allow", HeaderValue::from_static("POST"));
    res
}

fn base(status: u16) -> axum::http::response::Builder {
    let mut b = Response::builder().status(status);
    for (k, v) in answers::build_headers(VERSION_HEADER) {
        b = b.header(k, v);
    }
    b
}

fn reject(r: Rejection) -> Response {
    let mut b = base(r.status);
    for (k, v) in r.headers() {
        b = b.header(k, v);
    }
    b.body(Body::from(r.body)).unwrap_or_default()
}

fn answer(a: answers::Answer) -> Response {
    let mut b = Response::builder().status(a.status);
    for (k, v) in a.headers {
        b = b.header(k, v);
    }
    b.body(Body::from(a.body)).unwrap_or_default()
}

/// An answer of linegate's bucket API in InfluxDB's error shape, with its own text (the
/// write path's answers all come from `linegate_core::answers`).
fn error(status: u16, code: &'static str, message: &[u8]) -> Response {
    reject(Rejection {
        reason: Reason::Invalid(message.to_vec()),
        status,
        code,
        body: json::error_body(code, message),
        line: None,
    })
}

/// A 400 with linegate's own text (its bucket and export APIs).
fn invalid(message: &[u8]) -> Response {
    reject(Rejection::invalid(message))
}

fn json_response(status: u16, v: &serde_json::Value) -> Response {
    base(status)
        .header("Content-Type", answers::JSON_TYPE)
        .body(Body::from(serde_json::to_vec(v).unwrap_or_default()))
        .unwrap_or_default()
}

async fn not_found() -> Response {
    reject(Rejection::not_found())
}

async fn ping() -> Response {
    answer(answers::ping(VERSION_HEADER))
}

async fn health() -> Response {
    answer(answers::health(VERSION_HEADER, "linegate"))
}

async fn ready(State(app): State<Arc<App>>) -> Response {
    let up = app.started.elapsed().unwrap_or_default();
    let started = app
        .started
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0);
    answer(answers::ready(
        VERSION_HEADER,
        started,
        up.as_nanos() as i64,
    ))
}

/// The request's token, judged from its head alone (as the write pipeline's step 1). A
/// bad or missing one gets its 401 (late, for an address that keeps failing) without a
/// byte of the body being read: hyper then closes the connection rather than drain what
/// the client still sends.
async fn authorize(app: &App, parts: &Parts) -> Result<Token, Response> {
    let head = Head {
        endpoint: Endpoint::V2,
        query: b"",
        authorization: first_value(&parts.headers, "authorization"),
        content_encoding: None,
    };
    let found = match pipeline::credentials(&head, &Query::parse(b"")) {
        Some(Credentials::Token(t)) => app.store.registry().token(t).cloned(),
        _ => None,
    };
    if let Some(t) = found {
        return Ok(t);
    }
    throttle(app, parts).await;
    Err(reject(Rejection::unauthorized()))
}

/// Holds back the 401 of an address that keeps failing authentication.
async fn throttle(app: &App, parts: &Parts) {
    if let Some(Peer(addr)) = parts.extensions.get::<Peer>() {
        let wait = app.throttle.failed(addr.ip());
        if !wait.is_zero() {
            app.metrics.auth_delayed.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(wait).await;
        }
    }
}

/// A body that could not be read: step 8's read error (the client's stream broke, or it
/// was too slow), or 503 with `Retry-After` when the in-flight budget stayed full.
fn body_error(cut: Cut) -> Response {
    match cut {
        Cut::Busy => {
            let mut r = reject(Rejection::unavailable());
            r.headers_mut()
                .insert("Retry-After", HeaderValue::from_static("1"));
            r
        }
        Cut::Broken | Cut::TooSlow => reject(Rejection::read_data(
            400,
            "request body could not be read".into(),
        )),
    }
}

/// Steps 5 and 6 (org, then bucket) as the pipeline takes them, for the other endpoints
/// that name a bucket the same way (export).
pub fn find_org_bucket(app: &App, q: &Query<'_>) -> Result<Bucket, Response> {
    let mut lookup = StoreLookup {
        store: app.store.clone(),
    };
    pipeline::find_bucket_v2(&mut lookup, q).map_err(reject)
}

struct Outcome {
    response: Response,
    points: u64,
    bucket: Option<String>,
    /// Milliseconds spent parsing, and waiting for the commit.
    parse_ms: f64,
    store_ms: f64,
}

impl Outcome {
    fn of(response: Response) -> Outcome {
        Outcome {
            response,
            points: 0,
            bucket: None,
            parse_ms: 0.0,
            store_ms: 0.0,
        }
    }
}

async fn write(State(app): State<Arc<App>>, req: Request) -> Response {
    let t0 = Instant::now();
    let (parts, body) = req.into_parts();
    let mut reader = body::Reader::new(body, &app.guards, &app.budget);
    let out = write_inner(&app, &parts, &mut reader).await;
    let bytes_in = reader.received();
    let status = out.response.status().as_u16();
    let m = &app.metrics;
    m.request("write", status);
    m.bytes_received
        .fetch_add(bytes_in as u64, Ordering::Relaxed);
    let secs = t0.elapsed().as_secs_f64();
    m.write_latency.observe(secs);
    tracing::info!(
        method = "POST",
        path = "/api/v2/write",
        status,
        bytes = bytes_in,
        points = out.points,
        bucket = out.bucket.as_deref().unwrap_or(""),
        ms = format_args!("{:.2}", secs * 1000.0),
        parse_ms = format_args!("{:.2}", out.parse_ms),
        store_ms = format_args!("{:.2}", out.store_ms),
        "request"
    );
    out.response
}

/// OSS's steps in order (spec Part B §1), through the core pipeline, each judged from as
/// little of the request as it needs: steps 1–3 from the head, step 4 from the gzip
/// header's bytes only, 5–7 from the registry, and only then the body is read.
async fn write_inner(app: &App, parts: &Parts, reader: &mut body::Reader) -> Outcome {
    let head = Head {
        endpoint: Endpoint::V2,
        query: parts.uri.query().unwrap_or("").as_bytes(),
        authorization: first_value(&parts.headers, "authorization"),
        content_encoding: first_value(&parts.headers, "content-encoding"),
    };
    let mut lookup = StoreLookup {
        store: app.store.clone(),
    };
    // 1–3. The head.
    let admitted = match pipeline::admit(&head, &mut lookup) {
        Ok(a) => a,
        Err(r) => {
            if r.reason == Reason::Unauthorized {
                throttle(app, parts).await;
            }
            return Outcome::of(reject(r));
        }
    };
    let declared = parts
        .headers
        .get("content-length")
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    let max_body = app.limits.max_body;
    let mut raw = BytesMut::new();
    // 4. The gzip header: only its bytes are read now.
    let gzip_start = loop {
        match admitted.gzip_header(&raw, reader.ended()) {
            Ok(Prefix::Ready(n)) => break n,
            Ok(Prefix::NeedMore) => {
                let upto = raw.len() + 1;
                if let Err(c) = reader.collect_into(&mut raw, upto, declared).await {
                    return Outcome::of(body_error(c));
                }
            }
            Err(r) => return Outcome::of(reject(r)),
        }
    };
    // 5–7. Org, bucket, permission.
    let resolved = match admitted.resolve_with(gzip_start, &mut lookup) {
        Ok(r) => r,
        Err(r) => return Outcome::of(reject(r)),
    };
    let Some(bucket) = resolved.bucket.clone() else {
        return Outcome::of(reject(Rejection::internal()));
    };
    let mut out = Outcome::of(Response::default());
    out.bucket = Some(bucket.name.clone());
    // 8. The body, up to the size limit (one byte past it is enough to know).
    if let Err(c) = reader.collect_into(&mut raw, max_body, declared).await {
        out.response = body_error(c);
        return out;
    }
    let raw = raw.freeze();
    let decoded = match resolved.decode(&raw, &app.limits) {
        Ok(Cow::Borrowed(_)) => raw.clone(),
        Ok(Cow::Owned(v)) => Bytes::from(v),
        Err(r) => {
            out.response = reject(r);
            return out;
        }
    };
    drop(raw);
    store_batch(app, out, bucket, resolved.time, decoded).await
}

/// The first value of a header, as Go's `Header.Get` gives it.
fn first_value<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h [u8]> {
    headers.get(name).map(HeaderValue::as_bytes)
}

/// Steps 9 and 10: parse, then store; answered once the commit holding the batch returned.
async fn store_batch(
    app: &App,
    mut out: Outcome,
    bucket: Bucket,
    time: pipeline::TimeRule,
    decoded: Bytes,
) -> Outcome {
    let precision = time.precision;
    app.metrics
        .bytes_decoded
        .fetch_add(decoded.len() as u64, Ordering::Relaxed);
    // Large bodies are compressed on another thread while this one parses: a lone client
    // then waits for the longer of the two, not their sum. At most two at a time, so a
    // busy server does not trade its cores for context switches.
    let compress = app.compression != store::Compression::None;
    let early = (compress
        && decoded.len() >= EARLY_COMPRESS
        && app.compressing.fetch_add(1, Ordering::AcqRel) < 2)
        .then(|| {
            let d = decoded.clone();
            let gauge = app.compressing.clone();
            let how = app.compression;
            tokio::task::spawn_blocking(move || {
                let c = how.encode(&d);
                gauge.fetch_sub(1, Ordering::AcqRel);
                c
            })
        });
    if early.is_none() && compress && decoded.len() >= EARLY_COMPRESS {
        app.compressing.fetch_sub(1, Ordering::AcqRel);
    }
    // 9. Parse, noting what storage will need to look at.
    let t_parse = Instant::now();
    let now = app.now();
    let mut scanner = Scanner::new(bucket.rules(), precision, now);
    let report = read_batch(&decoded, &time.options(now), app.limits.max_message, |p| {
        scanner.observe(p)
    });
    if let Some(r) = pipeline::parse_rejection(&report) {
        out.response = reject(r);
        return out;
    }
    let scan = scanner.finish();
    out.parse_ms = t_parse.elapsed().as_secs_f64() * 1000.0;
    if scan.points == 0 {
        out.response = base(204).body(Body::empty()).unwrap_or_default();
        return out;
    }
    // 10. Storage; answered only once the commit holding the batch has returned.
    let compressed = match early {
        Some(task) if !scan.slow => task.await.ok(),
        _ => (compress && !scan.slow).then(|| app.compression.encode(&decoded)),
    };
    let points = scan.points;
    let (tx, rx) = oneshot::channel();
    let job = WriteJob {
        bucket: bucket.rules(),
        body: decoded,
        precision,
        now,
        scan,
        compressed,
        compression: app.compression,
        reply: tx,
    };
    if let Err(e) = app.store.submit(job) {
        out.response = internal_write_error(&e);
        return out;
    }
    let t_store = Instant::now();
    let answer = rx.await;
    out.store_ms = t_store.elapsed().as_secs_f64() * 1000.0;
    out.response = match answer {
        Ok(Ok(None)) => {
            out.points = points;
            app.metrics
                .points_written
                .fetch_add(points, Ordering::Relaxed);
            app.metrics.batches_written.fetch_add(1, Ordering::Relaxed);
            base(204).body(Body::empty()).unwrap_or_default()
        }
        Ok(Ok(Some(msg))) => reject(partial_write(&msg)),
        Ok(Err(e)) => internal_write_error(&e),
        Err(_) => internal_write_error("the writer stopped"),
    };
    out
}

fn internal_write_error(e: &str) -> Response {
    reject(Rejection::write_failed(e.as_bytes()))
}

/// Storage's 422 from the full message `storage::apply` gives (it starts with the prefix
/// `Rejection::partial_write` adds, which is taken from core rather than spelled here).
fn partial_write(full: &[u8]) -> Rejection {
    let empty = Rejection::partial_write(b"");
    let prefix = empty.message_escaped();
    Rejection::partial_write(full.strip_prefix(prefix).unwrap_or(full))
}

fn bucket_json(b: &Bucket, reg: &Registry) -> serde_json::Value {
    let rules = if b.retention_secs > 0 {
        serde_json::json!([{"type": "expire", "everySeconds": b.retention_secs, "shardGroupDurationSeconds": b.rules().shard_duration() / 1_000_000_000}])
    } else {
        serde_json::json!([])
    };
    serde_json::json!({
        "id": format!("{:016x}", b.id),
        "orgID": format!("{:016x}", b.org_id),
        "org": reg.orgs.get(&b.org_id).map(|o| o.name.clone()),
        "type": "user",
        "name": b.name,
        "retentionRules": rules,
        "links": {"self": format!("/api/v2/buckets/{:016x}", b.id), "write": format!("/api/v2/write?orgID={:016x}&bucket={:016x}", b.org_id, b.id)},
    })
}

async fn list_buckets(State(app): State<Arc<App>>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    let token = match authorize(&app, &parts).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let q = Query::parse(parts.uri.query().unwrap_or("").as_bytes());
    let reg = app.store.registry();
    let org_filter: Option<u64> = if let Some(id) = q.get("orgID").filter(|v| !v.is_empty()) {
        match pipeline::parse_id(id) {
            Ok(id) => Some(id),
            Err(m) => return reject(Rejection::invalid_id(m)),
        }
    } else if let Some(name) = q.get("org").filter(|v| !v.is_empty()) {
        match reg.org_by_name(name) {
            Some(o) => Some(o.id),
            None => return reject(Rejection::org_name_not_found(name)),
        }
    } else {
        None
    };
    let name = q.get("name");
    let mut list: Vec<&Bucket> = reg
        .buckets
        .values()
        .filter(|b| org_filter.is_none_or(|o| o == b.org_id))
        .filter(|b| name.is_none_or(|n| n == b.name.as_bytes()))
        .filter(|b| token.sees(b))
        .collect();
    list.sort_by(|a, b| (&a.name, a.id).cmp(&(&b.name, b.id)));
    let buckets: Vec<_> = list.iter().map(|b| bucket_json(b, &reg)).collect();
    app.metrics.request("buckets", 200);
    json_response(
        200,
        &serde_json::json!({"links": {"self": "/api/v2/buckets"}, "buckets": buckets}),
    )
}

async fn list_orgs(State(app): State<Arc<App>>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    let token = match authorize(&app, &parts).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let reg = app.store.registry();
    let mut orgs: Vec<&Org> = reg
        .orgs
        .values()
        .filter(|o| token.can_admin(o.id))
        .collect();
    orgs.sort_by(|a, b| a.name.cmp(&b.name));
    let list: Vec<_> = orgs
        .iter()
        .map(|o| serde_json::json!({"id": format!("{:016x}", o.id), "name": o.name}))
        .collect();
    json_response(200, &serde_json::json!({"orgs": list}))
}

#[derive(serde::Deserialize)]
struct RetentionRule {
    #[serde(rename = "everySeconds", default)]
    every_seconds: i64,
}

#[derive(serde::Deserialize)]
struct NewBucket {
    #[serde(rename = "orgID")]
    org_id: Option<String>,
    org: Option<String>,
    name: Option<String>,
    #[serde(rename = "retentionRules", default)]
    retention_rules: Vec<RetentionRule>,
}

async fn create_bucket(State(app): State<Arc<App>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let token = match authorize(&app, &parts).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let mut reader = body::Reader::new(body, &app.guards, &app.budget);
    let mut raw = BytesMut::new();
    if let Err(c) = reader.collect_into(&mut raw, 1 << 20, None).await {
        return body_error(c);
    }
    let nb: NewBucket = match serde_json::from_slice(&raw) {
        Ok(b) => b,
        Err(e) => return error(400, "invalid", format!("invalid json: {e}").as_bytes()),
    };
    let Some(name) = nb.name.filter(|n| !n.is_empty()) else {
        return error(400, "invalid", b"bucket name is required");
    };
    if name.starts_with('_') {
        return error(
            400,
            "invalid",
            format!("bucket name {name} is invalid. Buckets may not start with underscore")
                .as_bytes(),
        );
    }
    let retention = nb.retention_rules.first().map_or(0, |r| r.every_seconds);
    if retention < 0 || (retention > 0 && retention < 3600) {
        return error(
            400,
            "unprocessable entity",
            b"expiration seconds must be greater than or equal to one hour",
        );
    }
    let org = {
        let reg = app.store.registry();
        let org = match (&nb.org_id, &nb.org) {
            (Some(id), _) => match pipeline::parse_id(id.as_bytes()) {
                Ok(id) => reg.orgs.get(&id).cloned(),
                Err(m) => return reject(Rejection::invalid_id(m)),
            },
            (None, Some(n)) => reg.org_by_name(n.as_bytes()).cloned(),
            (None, None) => return error(400, "invalid", b"orgID is required"),
        };
        let Some(org) = org else {
            return reject(Rejection::org_id_not_found());
        };
        if !token.can_admin(org.id) {
            return error(
                403,
                "forbidden",
                format!("write:orgs/{:016x}/buckets is unauthorized", org.id).as_bytes(),
            );
        }
        if reg.bucket_by_name(org.id, name.as_bytes()).is_some() {
            return error(
                422,
                "conflict",
                format!("bucket with name {name} already exists").as_bytes(),
            );
        }
        org
    };
    let b = Bucket {
        id: store::new_id(),
        org_id: org.id,
        name,
        retention_secs: retention,
    };
    let b2 = b.clone();
    if let Err(e) = app
        .store
        .exec(move |tx| store::insert_bucket(tx, &b2))
        .await
    {
        return error(422, "conflict", e.as_bytes());
    }
    if let Err(e) = app.store.reload_registry() {
        return error(500, "internal error", e.as_bytes());
    }
    app.metrics.request("buckets", 201);
    let reg = app.store.registry();
    json_response(201, &bucket_json(&b, &reg))
}

/// Parses a time bound: integer nanoseconds or RFC 3339 (`2024-01-01T00:00:00Z`).
pub fn parse_time(s: &str) -> Option<i64> {
    if let Ok(n) = s.parse::<i64>() {
        return Some(n);
    }
    crate::config::parse_rfc3339(s)
}

async fn export(State(app): State<Arc<App>>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    let token = match authorize(&app, &parts).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let q = Query::parse(parts.uri.query().unwrap_or("").as_bytes());
    if q.get_or_empty("bucket").is_empty() {
        return reject(Rejection::bucket_not_found());
    }
    let bucket = match find_org_bucket(&app, &q) {
        Ok(b) => b,
        Err(r) => return r,
    };
    // Reading needs a read permission (or all access): a write-only token cannot read
    // back what others wrote.
    if !token.can_read(&bucket) {
        return reject(Rejection::forbidden_read());
    }
    let time = |k: &str| -> Result<Option<i64>, Response> {
        match q.get(k).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => std::str::from_utf8(v)
                .ok()
                .and_then(parse_time)
                .map(Some)
                .ok_or_else(|| invalid(format!("invalid {k}").as_bytes())),
        }
    };
    let filter = ExportFilter {
        start: match time("start") {
            Ok(t) => t,
            Err(r) => return r,
        },
        stop: match time("stop") {
            Ok(t) => t,
            Err(r) => return r,
        },
        measurement: q.get("measurement").map(<[u8]>::to_vec),
        raw: q.get("raw").is_some_and(|v| v == b"true" || v == b"1"),
    };
    // The answer streams: the export writes pieces into a short queue that the response
    // body drains, so memory stays a few pieces whatever the bucket holds. Errors before
    // the first piece still get their 500; later ones cut the stream short.
    let dir = app.store.dir.clone();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Bytes, String>>(4);
    let (first_tx, first_rx) = oneshot::channel::<Result<(), String>>();
    tokio::task::spawn_blocking(move || {
        let mut sink = store::ChunkSink::new(tx.clone(), first_tx);
        let res = store::open_read(&dir)
            .map_err(|e| e.to_string())
            .and_then(|conn| store::export(&conn, bucket.id, &filter, &mut sink));
        match res {
            Ok(_) => sink.finish(),
            Err(e) => sink.fail(e),
        }
    });
    match first_rx.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return error(500, "internal error", e.as_bytes()),
        Err(_) => return error(500, "internal error", b"the export stopped"),
    }
    app.metrics.request("export", 200);
    let stream = ChannelBody {
        rx: std::mem::replace(&mut rx, tokio::sync::mpsc::channel(1).1),
    };
    base(200)
        .header("Content-Type", "text/plain; charset=utf-8")
        .body(Body::new(stream))
        .unwrap_or_default()
}

/// A response body fed by a channel of pieces.
struct ChannelBody {
    rx: tokio::sync::mpsc::Receiver<Result<Bytes, String>>,
}

impl http_body::Body for ChannelBody {
    type Data = Bytes;
    type Error = std::io::Error;
    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        self.rx
            .poll_recv(cx)
            .map(|m| m.map(|r| r.map(http_body::Frame::data).map_err(std::io::Error::other)))
    }
}

async fn dead_letters(State(app): State<Arc<App>>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    let token = match authorize(&app, &parts).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    // Dead letters hold points: a token sees those of the buckets it may read.
    let readable: Option<std::collections::HashSet<u64>> =
        if token.all_access && token.org_id.is_none() {
            None
        } else {
            let reg = app.store.registry();
            Some(
                reg.buckets
                    .values()
                    .filter(|b| token.can_read(b))
                    .map(|b| b.id)
                    .collect(),
            )
        };
    if readable.as_ref().is_some_and(|r| r.is_empty()) {
        return reject(Rejection::forbidden_read());
    }
    let dir = app.store.dir.clone();
    let res = tokio::task::spawn_blocking(move || {
        let conn = store::open_read(&dir).map_err(|e| e.to_string())?;
        store::dead_letters(&conn)
    })
    .await;
    match res {
        Ok(Ok(mut list)) => {
            if let Some(r) = &readable {
                list.retain(|d| {
                    u64::from_str_radix(&d.bucket_id, 16).is_ok_and(|id| r.contains(&id))
                });
            }
            json_response(200, &serde_json::json!({"deadLetters": list}))
        }
        Ok(Err(e)) => error(500, "internal error", e.as_bytes()),
        Err(e) => error(500, "internal error", e.to_string().as_bytes()),
    }
}

async fn metrics(State(app): State<Arc<App>>, method: Method) -> Response {
    let depth = app
        .relay_cursor
        .as_ref()
        .map(|c| (app.store.last_seq.load(Ordering::SeqCst) - c.load(Ordering::SeqCst)).max(0));
    let mut text = app.metrics.render(depth);
    let c = &app.conns;
    let _ = std::fmt::Write::write_fmt(
        &mut text,
        format_args!(
            "# HELP linegate_connections_open Open client connections.\n# TYPE linegate_connections_open gauge\nlinegate_connections_open {}\n# HELP linegate_connections_refused_total Connections closed on arrival at the connection cap.\n# TYPE linegate_connections_refused_total counter\nlinegate_connections_refused_total {}\n",
            c.open.load(Ordering::Relaxed),
            c.refused.load(Ordering::Relaxed)
        ),
    );
    let _ = method;
    base(200)
        .header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        .body(Body::from(text))
        .unwrap_or_default()
}

#[allow(dead_code)]
fn status(s: u16) -> StatusCode {
    StatusCode::from_u16(s).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}
