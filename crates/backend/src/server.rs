//! The accept loop: HTTP/1.1 connections under a cap, with a header-read timeout (which
//! also ends idle keep-alive connections), and a graceful shutdown with a deadline.
//!
//! `axum::serve` has no header timer, no connection cap and no shutdown deadline, so the
//! router is served through hyper's connection builder directly.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower_service::Service;

use crate::config::Guards;

/// The client's address, put in every request's extensions (for the failed-auth delay).
#[derive(Clone, Copy, Debug)]
pub struct Peer(pub SocketAddr);

/// Counts the server keeps about its connections (exported by `/metrics`).
#[derive(Debug, Default)]
pub struct ConnStats {
    pub open: AtomicUsize,
    /// Connections closed on arrival because `max_connections` were open.
    pub refused: AtomicUsize,
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets running requests
/// finish for at most `guards.shutdown_timeout`.
pub async fn run(
    listener: TcpListener,
    router: Router,
    guards: Guards,
    stats: Arc<ConnStats>,
    shutdown: impl Future<Output = ()>,
) {
    let slots = Arc::new(Semaphore::new(guards.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(guards.header_timeout)
        // A client that shuts its side down after the request still gets the answer (as
        // from Go's server); the handler's own bounds still apply.
        .half_close(true)
        .keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // Out of file descriptors, most likely: back off instead of spinning.
                    tracing::warn!(error = %e, "accept");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            // At the cap, a new connection is closed at once: it costs a descriptor for a
            // moment, not for as long as its client likes.
            stats.refused.fetch_add(1, Ordering::Relaxed);
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let svc = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(Peer(peer));
            // A Router is always ready, so `call` needs no `poll_ready` first.
            let fut = router.clone().call(req);
            async move { Ok::<_, Infallible>(fut.await.unwrap_or_else(|e| match e {})) }
        });
        let conn = builder.serve_connection(TokioIo::new(stream), svc);
        let conn = graceful.watch(conn);
        let stats = stats.clone();
        stats.open.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection");
            }
            stats.open.fetch_sub(1, Ordering::Relaxed);
            drop(slot);
        });
    }
    drop(listener);
    tracing::info!("shutting down");
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(guards.shutdown_timeout) => {
            tracing::warn!(
                open = stats.open.load(Ordering::Relaxed),
                "shutdown deadline passed: closing the remaining connections"
            );
        }
    }
}
