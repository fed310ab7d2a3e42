//! The answers every handler sends: core's answers as they are or with this server's build
//! headers, linegate's own error texts in InfluxDB's shape, JSON, and the answers of the
//! router's fallbacks.

use axum::body::Body;
use axum::response::Response;
use linegate_core::answers::Answer;
use linegate_core::Rejection;

use super::VERSION_HEADER;
use crate::body::Cut;

pub(super) async fn method_not_allowed() -> Response {
    reject(Rejection::method_not_allowed("POST"))
}

/// Sends one of core's answers as it is: status, headers, body.
pub(super) fn answer(a: Answer) -> Response {
    answer_with(a.status, a.headers, Body::from(a.body))
}

pub(super) fn answer_with(
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Body,
) -> Response {
    let mut b = Response::builder().status(status);
    for (k, v) in headers {
        b = b.header(k, v);
    }
    b.body(body).unwrap_or_default()
}

/// Sends one of core's answers as this server does: with the build headers (`Answer::built`).
pub(super) fn served(a: Answer) -> Response {
    answer(a.built(VERSION_HEADER))
}

/// [`served`], with a body that streams.
pub(super) fn served_stream(a: Answer, body: Body) -> Response {
    let a = a.built(VERSION_HEADER);
    answer_with(a.status, a.headers, body)
}

pub(super) fn reject(r: Rejection) -> Response {
    served(r.into())
}

/// An answer of linegate's bucket API in InfluxDB's error shape, with its own text (the
/// write path's answers all come from `linegate_core::answers`).
pub(super) fn error(status: u16, code: &'static str, message: impl AsRef<[u8]>) -> Response {
    reject(Rejection::other(status, code, message.as_ref()))
}

/// A 400 with linegate's own text (its bucket and export APIs).
pub(super) fn invalid(message: &[u8]) -> Response {
    reject(Rejection::invalid(message))
}

pub(super) fn json_response(status: u16, v: &serde_json::Value) -> Response {
    served(Answer::json(
        status,
        serde_json::to_vec(v).unwrap_or_default(),
    ))
}

pub(super) async fn not_found() -> Response {
    reject(Rejection::not_found())
}

/// A body that could not be read: step 8's read error (the client's stream broke, or it
/// was too slow), or 503 with `Retry-After` when the in-flight budget stayed full.
pub(super) fn body_error(cut: Cut) -> Response {
    match cut {
        Cut::Busy => reject(Rejection::unavailable().with_retry_after(1)),
        Cut::Broken | Cut::TooSlow => reject(Rejection::read_data(
            400,
            "request body could not be read".into(),
        )),
    }
}
