//! The server's own state: `/ping`, `/health`, `/ready` (InfluxDB's answers, with this
//! server's version) and `/metrics` (Prometheus text).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use axum::extract::State;
use axum::http::Method;
use axum::response::Response;
use linegate_core::answers::{self, Answer};

use super::reply::{answer, served};
use super::{App, VERSION_HEADER};

pub(super) async fn ping() -> Response {
    answer(answers::ping(VERSION_HEADER))
}

pub(super) async fn health() -> Response {
    answer(answers::health(VERSION_HEADER, "linegate"))
}

pub(super) async fn ready(State(app): State<Arc<App>>) -> Response {
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

pub(super) async fn metrics(State(app): State<Arc<App>>, method: Method) -> Response {
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
