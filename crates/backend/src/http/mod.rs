//! The HTTP API: the server's state every handler shares ([`App`]) and the routes. Each
//! handler, and what handlers share, has a file of its own: the answers (`reply`), who may
//! ask (`access`: tokens, the delay of failing addresses, v1 passwords), JSON request bodies
//! (`json_body`), the server's own state (`status`: `/ping`, `/health`, `/ready`,
//! `/metrics`), the write endpoint (`write`), the bucket and org API (`buckets`), the DBRP
//! API (`dbrp`), and linegate's export and dead letters (`export`).

// A ready answer is the natural error of each step of a handler; these are built once per
// request, so boxing them would buy nothing.
#![allow(clippy::result_large_err)]

use std::borrow::Cow;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use bytes::{Bytes, BytesMut};
use linegate_core::answers::{self, Answer, Reason};
use linegate_core::pipeline::{self, Endpoint, Head, Prefix};
use linegate_core::{read_batch, Limits, Query, Rejection};
use tokio::sync::oneshot;

use crate::auth::Throttle;
use crate::body::{self, Budget};
use crate::clock::now_ns;
use crate::config::Guards;
use crate::lookup::StoreLookup;
use crate::metrics::Metrics;
use crate::server::ConnStats;
use crate::store::{self, Bucket, ExportFilter, Org, Registry, Store, WriteJob};
use linegate_core::storage::Scanner;

mod access;
mod buckets;
mod dbrp;
mod export;
mod json_body;
mod quarantine;
mod quota;
mod reply;
mod status;
mod v1;
mod write;

use access::*;
use buckets::*;
pub use export::parse_time;
use export::*;
use json_body::*;
use reply::*;
use status::{health, metrics, ping, ready};
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
    /// The series quota's memos, lent to parses.
    pub series_memos: SeriesMemos,
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

/// Steps 5 and 6 (org, then bucket) as the pipeline takes them, for the other endpoints
/// that name a bucket the same way (export).
pub fn find_org_bucket(app: &App, q: &Query<'_>) -> Result<Bucket, Response> {
    let mut lookup = StoreLookup::new(app.store.clone());
    pipeline::find_bucket_v2(&mut lookup, q).map_err(reject)
}
