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
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use linegate_core::{
    check_gzip_header, json, read_batch, read_body, Limits, ParseOptions, Precision, Query,
    Rejection,
};
use tokio::sync::oneshot;

use crate::metrics::Metrics;
use crate::rules::Scanner;
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
        // v1 compatibility: crate::v1, crate::dbrp.
        .route(
            "/write",
            post(crate::v1::write).fallback(crate::v1::method_not_allowed),
        )
        .route(
            "/api/v2/dbrps",
            get(crate::dbrp::list).post(crate::dbrp::create),
        )
        .route(
            "/api/v2/dbrps/{id}",
            axum::routing::delete(crate::dbrp::delete),
        )
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
    if !matches!(path.as_str(), "/api/v2/write" | "/write") || method != Method::POST {
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
    error(405, "method not allowed", b"method not allowed")
}

fn base(status: u16) -> axum::http::response::Builder {
    Response::builder()
        .status(status)
        .header("X-Influxdb-Build", "OSS")
        .header("X-Influxdb-Version", VERSION_HEADER)
}

fn reject(r: Rejection) -> Response {
    let mut b = base(r.status);
    for (k, v) in r.headers() {
        b = b.header(k, v);
    }
    b.body(Body::from(r.body)).unwrap_or_default()
}

fn error(status: u16, code: &'static str, message: &[u8]) -> Response {
    reject(Rejection {
        reason: linegate_core::answers::Reason::Invalid(message.to_vec()),
        status,
        code,
        body: json::error_body(code, message),
        line: None,
    })
}

fn json_response(status: u16, v: &serde_json::Value) -> Response {
    base(status)
        .header("Content-Type", "application/json; charset=utf-8")
        .body(Body::from(serde_json::to_vec(v).unwrap_or_default()))
        .unwrap_or_default()
}

async fn not_found() -> Response {
    error(404, "not found", b"path not found")
}

async fn ping() -> Response {
    base(204).body(Body::empty()).unwrap_or_default()
}

async fn health() -> Response {
    json_response(
        200,
        &serde_json::json!({
            "name": "influxdb", "message": "ready for queries and writes", "status": "pass",
            "checks": [], "version": VERSION_HEADER, "commit": "linegate"
        }),
    )
}

async fn ready(State(app): State<Arc<App>>) -> Response {
    let up = app.started.elapsed().unwrap_or_default();
    let started = crate::rules::rfc3339_nano(
        app.started
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as i64)
            .unwrap_or(0),
    );
    json_response(
        200,
        &serde_json::json!({"status": "ready", "started": started, "up": format!("{:.3}s", up.as_secs_f64())}),
    )
}

/// The token of an `Authorization: Token <t>` (or `Bearer <t>`) header.
fn token_of(headers: &HeaderMap) -> Option<&[u8]> {
    let v = headers.get("authorization")?.as_bytes();
    let t = v
        .strip_prefix(b"Token ")
        .or_else(|| v.strip_prefix(b"Bearer "))?;
    (!t.is_empty()).then_some(t)
}

fn authorize(app: &App, headers: &HeaderMap) -> Result<Token, Response> {
    let reg = app.store.registry();
    token_of(headers)
        .and_then(|t| std::str::from_utf8(t).ok())
        .and_then(|t| reg.tokens.get(t).cloned())
        .ok_or_else(|| reject(Rejection::unauthorized()))
}

/// Reads the whole body, stopping once it reaches `max` bytes (`true` = too large).
async fn collect(body: Body, hint: usize, max: usize) -> Result<(Bytes, bool), ()> {
    let mut body = body;
    let mut buf = BytesMut::with_capacity(hint.min(max).min(64 << 20));
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| ())?;
        if let Ok(data) = frame.into_data() {
            buf.extend_from_slice(&data);
            if buf.len() >= max {
                return Ok((buf.freeze(), true));
            }
        }
    }
    Ok((buf.freeze(), false))
}

/// Go's `platform.IDFromString`: 16 hex digits, not zero.
pub fn parse_id(s: &[u8]) -> Result<u64, &'static str> {
    if s.len() != 16 {
        return Err("id must have a length of 16 bytes");
    }
    let text = std::str::from_utf8(s).map_err(|_| "invalid ID")?;
    match u64::from_str_radix(text, 16) {
        Ok(0) | Err(_) => Err("invalid ID"),
        Ok(id) if text.bytes().all(|b| b.is_ascii_hexdigit()) => Ok(id),
        Ok(_) => Err("invalid ID"),
    }
}

/// Steps 5 and 6 of OSS's pipeline: the org from `org` (16 hex digits: an ID, else a name)
/// or `orgID`, then the bucket in it (16 hex digits: tried as an ID, then as a name).
pub fn find_org_bucket(reg: &Registry, q: &Query<'_>) -> Result<(Org, Bucket), Response> {
    let org_param = q.get_or_empty("org");
    let org_id_param = q.get_or_empty("orgID");
    let mut by_id = None;
    let mut by_name = None;
    if !org_param.is_empty() {
        match parse_id(org_param) {
            Ok(id) => by_id = Some(id),
            Err(_) => by_name = Some(org_param),
        }
    }
    if !org_id_param.is_empty() {
        by_id = Some(parse_id(org_id_param).map_err(|m| error(400, "invalid", m.as_bytes()))?);
    }
    let org = match (by_id, by_name) {
        (Some(id), _) => reg
            .orgs
            .get(&id)
            .ok_or_else(|| error(404, "not found", b"organization not found"))?,
        (None, Some(name)) => reg.org_by_name(name).ok_or_else(|| {
            let mut m = b"organization name \"".to_vec();
            m.extend_from_slice(name);
            m.extend_from_slice(b"\" not found");
            error(404, "not found", &m)
        })?,
        (None, None) => return Err(reject(Rejection::missing_org())),
    };
    let b = q.get_or_empty("bucket");
    let bucket = parse_id(b)
        .ok()
        .and_then(|id| reg.buckets.get(&id).filter(|x| x.org_id == org.id))
        .or_else(|| reg.bucket_by_name(org.id, b))
        .ok_or_else(|| {
            let mut m = b"bucket \"".to_vec();
            m.extend_from_slice(b);
            m.extend_from_slice(b"\" not found");
            error(404, "not found", &m)
        })?;
    Ok((org.clone(), bucket.clone()))
}

struct Outcome {
    response: Response,
    points: u64,
    bucket: Option<String>,
    /// Milliseconds spent parsing, and waiting for the commit.
    parse_ms: f64,
    store_ms: f64,
}

async fn write(State(app): State<Arc<App>>, req: Request) -> Response {
    let t0 = Instant::now();
    let (parts, body) = req.into_parts();
    let hint = parts
        .headers
        .get("content-length")
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
        .unwrap_or(0);
    let (raw, bytes_in) = match collect(body, hint, app.limits.max_body).await {
        Ok((raw, too_large)) => {
            let n = raw.len();
            (Ok((raw, too_large)), n)
        }
        Err(()) => (Err(()), 0),
    };
    let out = match raw {
        Ok((raw, too_large)) => {
            write_inner(&app, &parts.headers, parts.uri.query(), raw, too_large).await
        }
        Err(()) => Outcome {
            response: error(
                400,
                "invalid",
                b"unable to read data: request body could not be read",
            ),
            points: 0,
            bucket: None,
            parse_ms: 0.0,
            store_ms: 0.0,
        },
    };
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

async fn write_inner(
    app: &App,
    headers: &HeaderMap,
    query: Option<&str>,
    raw: Bytes,
    too_large: bool,
) -> Outcome {
    let done = |response: Response| Outcome {
        response,
        points: 0,
        bucket: None,
        parse_ms: 0.0,
        store_ms: 0.0,
    };
    // 1. A valid token.
    let token = match authorize(app, headers) {
        Ok(t) => t,
        Err(r) => return done(r),
    };
    let q = Query::parse(query.unwrap_or("").as_bytes());
    // 2. precision, 3. the bucket parameter, 4. the gzip header, 5. the org parameters.
    let Some(precision) = Precision::from_param(q.get_or_empty("precision")) else {
        return done(reject(Rejection::invalid_precision()));
    };
    if q.get_or_empty("bucket").is_empty() {
        return done(reject(Rejection::bucket_not_found()));
    }
    let ce = headers.get("content-encoding").map(HeaderValue::as_bytes);
    let header = match check_gzip_header(ce, &raw) {
        Ok(h) => h,
        Err(r) => return done(reject(r)),
    };
    if q.get_or_empty("org").is_empty() && q.get_or_empty("orgID").is_empty() {
        return done(reject(Rejection::missing_org()));
    }
    // 5–6. org and bucket lookups, 7. permission.
    let (_org, bucket) = {
        let reg = app.store.registry();
        match find_org_bucket(&reg, &q) {
            Ok(x) => x,
            Err(r) => return done(r),
        }
    };
    if !token.can_write(&bucket) {
        return done(error(
            403,
            "forbidden",
            b"insufficient permissions for write",
        ));
    }
    let mut out = Outcome {
        response: Response::default(),
        points: 0,
        bucket: Some(bucket.name.clone()),
        parse_ms: 0.0,
        store_ms: 0.0,
    };
    // 8. The body.
    if too_large {
        out.response = reject(Rejection::too_large());
        return out;
    }
    let decoded = match read_body(&raw, header, &app.limits) {
        Ok(Cow::Borrowed(_)) => raw.clone(),
        Ok(Cow::Owned(v)) => Bytes::from(v),
        Err(r) => {
            out.response = reject(r);
            return out;
        }
    };
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
    let report = read_batch(
        &decoded,
        &ParseOptions::new(precision, now),
        app.limits.max_message,
        |p| scanner.observe(p),
    );
    if let Some(r) = linegate_core::pipeline::parse_rejection(&report) {
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
        Ok(Ok(Some(msg))) => error(422, "unprocessable entity", &msg),
        Ok(Err(e)) => internal_write_error(&e),
        Err(_) => internal_write_error("the writer stopped"),
    };
    out
}

fn internal_write_error(e: &str) -> Response {
    let mut m = b"unexpected error writing points to database: ".to_vec();
    m.extend_from_slice(e.as_bytes());
    error(500, "internal error", &m)
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
    let token = match authorize(&app, req.headers()) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let q = Query::parse(req.uri().query().unwrap_or("").as_bytes());
    let reg = app.store.registry();
    let org_filter: Option<u64> = if let Some(id) = q.get("orgID").filter(|v| !v.is_empty()) {
        match parse_id(id) {
            Ok(id) => Some(id),
            Err(m) => return error(400, "invalid", m.as_bytes()),
        }
    } else if let Some(name) = q.get("org").filter(|v| !v.is_empty()) {
        match reg.org_by_name(name) {
            Some(o) => Some(o.id),
            None => {
                let mut m = b"organization name \"".to_vec();
                m.extend_from_slice(name);
                m.extend_from_slice(b"\" not found");
                return error(404, "not found", &m);
            }
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
        .filter(|b| token.can_admin(b.org_id) || token.buckets.contains(&b.id))
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
    let token = match authorize(&app, req.headers()) {
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
    let token = match authorize(&app, req.headers()) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let Ok((raw, _)) = collect(req.into_body(), 0, 1 << 20).await else {
        return error(400, "invalid", b"unable to read the request body");
    };
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
            (Some(id), _) => match parse_id(id.as_bytes()) {
                Ok(id) => reg.orgs.get(&id).cloned(),
                Err(m) => return error(400, "invalid", m.as_bytes()),
            },
            (None, Some(n)) => reg.org_by_name(n.as_bytes()).cloned(),
            (None, None) => return error(400, "invalid", b"orgID is required"),
        };
        let Some(org) = org else {
            return error(404, "not found", b"organization not found");
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
    let token = match authorize(&app, req.headers()) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let q = Query::parse(req.uri().query().unwrap_or("").as_bytes());
    let bucket = {
        let reg = app.store.registry();
        if q.get_or_empty("bucket").is_empty() {
            return reject(Rejection::bucket_not_found());
        }
        match find_org_bucket(&reg, &q) {
            Ok((_, b)) => b,
            Err(r) => return r,
        }
    };
    if !token.can_write(&bucket) {
        return error(403, "forbidden", b"insufficient permissions for read");
    }
    let time = |k: &str| -> Result<Option<i64>, Response> {
        match q.get(k).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => std::str::from_utf8(v)
                .ok()
                .and_then(parse_time)
                .map(Some)
                .ok_or_else(|| error(400, "invalid", format!("invalid {k}").as_bytes())),
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
    let dir = app.store.dir.clone();
    let res = tokio::task::spawn_blocking(move || {
        let conn = store::open_read(&dir).map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        store::export(&conn, bucket.id, &filter, &mut out)?;
        Ok::<_, String>(out)
    })
    .await;
    match res {
        Ok(Ok(out)) => {
            app.metrics.request("export", 200);
            base(200)
                .header("Content-Type", "text/plain; charset=utf-8")
                .body(Body::from(out))
                .unwrap_or_default()
        }
        Ok(Err(e)) => error(500, "internal error", e.as_bytes()),
        Err(e) => error(500, "internal error", e.to_string().as_bytes()),
    }
}

async fn dead_letters(State(app): State<Arc<App>>, req: Request) -> Response {
    let token = match authorize(&app, req.headers()) {
        Ok(t) => t,
        Err(r) => return r,
    };
    if !token.all_access {
        return error(403, "forbidden", b"an all-access token is needed");
    }
    let dir = app.store.dir.clone();
    let res = tokio::task::spawn_blocking(move || {
        let conn = store::open_read(&dir).map_err(|e| e.to_string())?;
        store::dead_letters(&conn)
    })
    .await;
    match res {
        Ok(Ok(list)) => json_response(200, &serde_json::json!({"deadLetters": list})),
        Ok(Err(e)) => error(500, "internal error", e.as_bytes()),
        Err(e) => error(500, "internal error", e.to_string().as_bytes()),
    }
}

async fn metrics(State(app): State<Arc<App>>, method: Method) -> Response {
    let depth = app
        .relay_cursor
        .as_ref()
        .map(|c| (app.store.last_seq.load(Ordering::SeqCst) - c.load(Ordering::SeqCst)).max(0));
    let text = app.metrics.render(depth);
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
