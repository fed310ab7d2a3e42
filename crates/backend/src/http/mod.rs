//! The HTTP API: the routes, the answers every handler shares, authentication, `/ping`,
//! `/health`, `/ready` and `/metrics`. The write endpoint (`write`), the bucket and org API
//! (`buckets`) and linegate's export and dead letters (`export`) have their own files.

// A ready answer is the natural error of each step of a handler; these are built once per
// request, so boxing them would buy nothing.
#![allow(clippy::result_large_err)]

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{Extensions, HeaderMap, HeaderValue, Method};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use bytes::{Bytes, BytesMut};
use linegate_core::answers::{self, Answer, Reason};
use linegate_core::pipeline::{self, Credentials, Endpoint, Head, Prefix};
use linegate_core::{read_batch, Limits, Query, Rejection};
use tokio::sync::oneshot;

use crate::auth::Throttle;
use crate::body::{self, Budget, Cut};
use crate::clock::now_ns;
use crate::config::Guards;
use crate::lookup::StoreLookup;
use crate::metrics::Metrics;
use crate::server::{ConnStats, Peer};
use crate::store::{self, Bucket, ExportFilter, Org, Registry, Store, Token, WriteJob};
use linegate_core::storage::Scanner;

mod buckets;
mod dbrp;
mod export;
mod quarantine;
mod quota;
mod v1;
mod write;

use buckets::*;
pub use export::parse_time;
use export::*;
use write::*;

pub const VERSION_HEADER: &str = concat!(
    linegate_core::influx_version!(),
    "-linegate-",
    env!("CARGO_PKG_VERSION")
);

pub struct App {
    pub store: Arc<Store>,
    pub limits: Limits,
    /// A fixed clock for tests (lines without a timestamp get it).
    pub now_override: Option<i64>,
    /// Added to the quota clock (tests move it across a window boundary).
    pub quota_clock_offset_ms: i64,
    pub metrics: Arc<Metrics>,
    pub started: SystemTime,
    /// How bodies are stored.
    pub compression: store::Compression,
    /// Compressions running beside a parse.
    pub compressing: Arc<std::sync::atomic::AtomicUsize>,
    /// Whether batches are relayed upstream (for the queue-depth gauge).
    pub relay_cursor: Option<Arc<std::sync::atomic::AtomicI64>>,
    /// Each upstream's relay (labelled series, one per `--upstream`).
    pub relays: Vec<Arc<crate::metrics::UpstreamStats>>,
    /// The kinds of the relay's upstreams that refuse or lose some valid points (core's
    /// `upstream::refuse_point`): a write holding one is refused before it is stored, as
    /// the Worker's edge refuses it. Empty (no screening at all) without such an upstream.
    pub refuse_kinds: Vec<linegate_core::upstream::Kind>,
    pub guards: Guards,
    /// Request-body bytes all requests may hold together.
    pub budget: Budget,
    /// Delays for addresses that keep failing authentication.
    pub throttle: Throttle,
    pub conns: Arc<ConnStats>,
    pub access: crate::config::Access,
    /// Partial writes (spec Part D.1) and the quarantine of their rejected lines.
    pub partial: linegate_core::partial::PartialWrites,
    pub quarantine: store::QuarantineBounds,
    pub quarantine_stats: Arc<store::QuarantineStats>,
}

impl App {
    pub fn now(&self) -> i64 {
        self.now_override.unwrap_or_else(now_ns)
    }

    /// The clock of the write quotas' windows, in ms of Unix time.
    pub fn quota_now_ms(&self) -> u64 {
        (now_ns() / 1_000_000)
            .saturating_add(self.quota_clock_offset_ms)
            .max(0) as u64
    }
}

/// Bodies at least this large are compressed while they are parsed.
const EARLY_COMPRESS: usize = 256 << 10;

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/api/v2/write", post(write).fallback(method_not_allowed))
        // v1 compatibility: the same write door (its endpoint from the path); the DBRP API in dbrp.rs.
        .route("/write", post(write).fallback(v1::method_not_allowed))
        .route("/api/v2/dbrps", get(dbrp::list).post(dbrp::create))
        .route(
            "/api/v2/dbrps/{id}",
            get(dbrp::get_one).patch(dbrp::update).delete(dbrp::delete),
        )
        .route("/ping", get(ping).head(ping))
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/api/v2/buckets", get(list_buckets).post(create_bucket))
        .route("/api/v2/orgs", get(list_orgs))
        .route("/api/v2/export", get(export))
        .route("/api/v2/dead-letters", get(dead_letters))
        .route("/api/v2/quota", get(quota::usage))
        .route(
            "/api/v2/quarantine",
            get(quarantine::list).delete(quarantine::drop),
        )
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
    reject(Rejection::method_not_allowed("POST"))
}

/// Sends one of core's answers as it is: status, headers, body.
fn answer(a: Answer) -> Response {
    answer_with(a.status, a.headers, Body::from(a.body))
}

fn answer_with(status: u16, headers: Vec<(&'static str, String)>, body: Body) -> Response {
    let mut b = Response::builder().status(status);
    for (k, v) in headers {
        b = b.header(k, v);
    }
    b.body(body).unwrap_or_default()
}

/// Sends one of core's answers as this server does: with the build headers (`Answer::built`).
fn served(a: Answer) -> Response {
    answer(a.built(VERSION_HEADER))
}

/// [`served`], with a body that streams.
fn served_stream(a: Answer, body: Body) -> Response {
    let a = a.built(VERSION_HEADER);
    answer_with(a.status, a.headers, body)
}

fn reject(r: Rejection) -> Response {
    served(r.into())
}

/// An answer of linegate's bucket API in InfluxDB's error shape, with its own text (the
/// write path's answers all come from `linegate_core::answers`).
fn error(status: u16, code: &'static str, message: impl AsRef<[u8]>) -> Response {
    reject(Rejection::other(status, code, message.as_ref()))
}

/// A 400 with linegate's own text (its bucket and export APIs).
fn invalid(message: &[u8]) -> Response {
    reject(Rejection::invalid(message))
}

fn json_response(status: u16, v: &serde_json::Value) -> Response {
    served(Answer::json(
        status,
        serde_json::to_vec(v).unwrap_or_default(),
    ))
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
    throttle(app, &parts.extensions, &parts.headers).await;
    Err(reject(Rejection::unauthorized()))
}

/// The client's address: the peer's, or the one a proxy the operator trusts names
/// (`crate::auth::client_address`).
fn client_ip(app: &App, ext: &Extensions, headers: &HeaderMap) -> Option<IpAddr> {
    let Peer(addr) = ext.get::<Peer>()?;
    let named = first_value(headers, pipeline::CLIENT_ADDRESS_HEADER);
    Some(crate::auth::client_address(
        addr.ip(),
        &app.access.trusted_proxies,
        named,
    ))
}

/// Holds back the 401 of an address that keeps failing authentication.
async fn throttle(app: &App, ext: &Extensions, headers: &HeaderMap) {
    if let Some(ip) = client_ip(app, ext, headers) {
        let wait = app.throttle.failed(ip);
        if !wait.is_zero() {
            app.metrics.auth_delayed.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(wait).await;
        }
    }
}

/// A request's v1 password, judged before the pipeline asks: an address past its burst of
/// failures waits first (what its next failure would cost), so guessing costs the guesser
/// time before it costs the server CPU; then the hash is awaited on the hashing pool (a
/// password that verified recently is neither delayed nor hashed). The lookup it returns
/// gives the pipeline that answer; `Err` is the 503 (with `Retry-After`) of a password the
/// hashing pool had no place for (its queue is bounded): answered unhashed.
async fn password_first(
    app: &App,
    ext: &Extensions,
    headers: &HeaderMap,
    head: &Head<'_>,
) -> Result<StoreLookup, Response> {
    let mut lookup = StoreLookup::new(app.store.clone());
    let q = Query::parse(head.query);
    let Some(Credentials::Password { user, password }) = pipeline::credentials(head, &q) else {
        return Ok(lookup);
    };
    if !store::v1::recently_verified(&app.store, &user, &password) {
        if let Some(ip) = client_ip(app, ext, headers) {
            let wait = app.throttle.owed(ip);
            if !wait.is_zero() {
                app.metrics.auth_delayed.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(wait).await;
            }
        }
    }
    let found = match store::v1::v1_user_async(&app.store, &user, &password).await {
        Ok(found) => found,
        Err(_) => {
            app.metrics.auth_shed.fetch_add(1, Ordering::Relaxed);
            return Err(reject(Rejection::password_checks_busy()));
        }
    };
    lookup.judged = Some(crate::lookup::Judged {
        user,
        password,
        found,
    });
    Ok(lookup)
}

/// A body that could not be read: step 8's read error (the client's stream broke, or it
/// was too slow), or 503 with `Retry-After` when the in-flight budget stayed full.
fn body_error(cut: Cut) -> Response {
    match cut {
        Cut::Busy => reject(Rejection::unavailable().with_retry_after(1)),
        Cut::Broken | Cut::TooSlow => reject(Rejection::read_data(
            400,
            "request body could not be read".into(),
        )),
    }
}

/// A JSON request body of linegate's own APIs (buckets, DBRPs), at most 1 MiB, read under
/// the server's guards (idle timeout, minimum rate, the in-flight budget).
async fn json_body<T: serde::de::DeserializeOwned>(app: &App, body: Body) -> Result<T, Response> {
    let mut reader = body::Reader::new(body, &app.guards, &app.budget);
    let mut raw = BytesMut::new();
    match reader.collect_into(&mut raw, 1 << 20, None).await {
        Ok(false) => {}
        Ok(true) => {
            return Err(error(
                413,
                "request too large",
                "the request body is too large",
            ))
        }
        Err(c) => return Err(body_error(c)),
    }
    serde_json::from_slice(&raw).map_err(|e| error(400, "invalid", format!("invalid json: {e}")))
}

/// Steps 5 and 6 (org, then bucket) as the pipeline takes them, for the other endpoints
/// that name a bucket the same way (export).
pub fn find_org_bucket(app: &App, q: &Query<'_>) -> Result<Bucket, Response> {
    let mut lookup = StoreLookup::new(app.store.clone());
    pipeline::find_bucket_v2(&mut lookup, q).map_err(reject)
}

async fn metrics(State(app): State<Arc<App>>, method: Method) -> Response {
    let depth = app
        .relay_cursor
        .as_ref()
        .map(|c| (app.store.last_seq.load(Ordering::SeqCst) - c.load(Ordering::SeqCst)).max(0));
    let (c, q) = (&app.conns, &app.quarantine_stats);
    let others = crate::metrics::Others {
        connections_open: c.open.load(Ordering::Relaxed) as u64,
        connections_refused: c.refused.load(Ordering::Relaxed) as u64,
        budget_free: app.budget.available(),
        quarantine_stored: q.stored.load(Ordering::Relaxed),
        quarantine_dropped: q.dropped.load(Ordering::Relaxed),
    };
    let mut text = app.metrics.render(depth, &others);
    crate::metrics::render_relays(
        &app.relays,
        app.store.last_seq.load(Ordering::SeqCst),
        &mut text,
    );
    let _ = method;
    served(Answer::ok(crate::metrics::CONTENT_TYPE, text.into_bytes()))
}
