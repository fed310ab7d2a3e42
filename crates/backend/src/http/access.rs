//! Who may ask: a request's token judged from its head, the client's address, the delay of
//! an address that keeps failing authentication, and a v1 password judged before the write
//! pipeline asks for it.

use std::net::IpAddr;
use std::sync::atomic::Ordering;

use axum::http::request::Parts;
use axum::http::{Extensions, HeaderMap};
use axum::response::Response;
use linegate_core::pipeline::{self, Credentials, Endpoint, Head};
use linegate_core::{Query, Rejection};

use super::reply::reject;
use super::{first_value, App};
use crate::lookup::StoreLookup;
use crate::server::Peer;
use crate::store::{self, Token};

/// The request's token, judged from its head alone (as the write pipeline's step 1). A
/// bad or missing one gets its 401 (late, for an address that keeps failing) without a
/// byte of the body being read: hyper then closes the connection rather than drain what
/// the client still sends.
pub(super) async fn authorize(app: &App, parts: &Parts) -> Result<Token, Response> {
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
pub(super) fn client_ip(app: &App, ext: &Extensions, headers: &HeaderMap) -> Option<IpAddr> {
    let Peer(addr) = ext.get::<Peer>()?;
    let named = first_value(headers, pipeline::CLIENT_ADDRESS_HEADER);
    Some(crate::auth::client_address(
        addr.ip(),
        &app.access.trusted_proxies,
        named,
    ))
}

/// Holds back the 401 of an address that keeps failing authentication.
pub(super) async fn throttle(app: &App, ext: &Extensions, headers: &HeaderMap) {
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
pub(super) async fn password_first(
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
