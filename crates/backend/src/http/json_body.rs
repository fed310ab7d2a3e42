//! The JSON request bodies of linegate's own APIs (buckets, DBRPs).

use axum::body::Body;
use axum::response::Response;
use bytes::BytesMut;

use super::reply::{body_error, error};
use super::App;
use crate::body;

/// A JSON request body of linegate's own APIs (buckets, DBRPs), at most 1 MiB, read under
/// the server's guards (idle timeout, minimum rate, the in-flight budget).
pub(super) async fn json_body<T: serde::de::DeserializeOwned>(
    app: &App,
    body: Body,
) -> Result<T, Response> {
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
