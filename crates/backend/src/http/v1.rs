//! `/write`'s other methods: InfluxDB judges the credentials first (spec Part C step 1),
//! then answers 405. The write itself goes through the same door as `/api/v2/write`
//! (`write.rs`); v1 authorizations and DBRP mappings are kept by `crate::store::v1`.

use http_body_util::BodyExt;
use linegate_core::pipeline::Lookup;

use super::*;

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h [u8]> {
    headers.get(name).map(|v| v.as_bytes())
}

/// Reads the body, stopping once it reaches `max` bytes (`true` = too large).
pub(crate) async fn collect(body: Body, hint: usize, max: usize) -> Result<(Bytes, bool), ()> {
    let mut body = body;
    let mut buf = BytesMut::with_capacity(hint.min(max).min(1 << 20));
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

/// Any other method on `/write`: the credentials are judged first (step 1), then 405.
pub async fn method_not_allowed(State(app): State<Arc<App>>, req: Request) -> Response {
    let head = Head {
        endpoint: Endpoint::V1,
        query: req.uri().query().unwrap_or("").as_bytes(),
        authorization: header(req.headers(), "authorization"),
        content_encoding: None,
    };
    let q = linegate_core::Query::parse(head.query);
    let mut l = StoreLookup {
        store: app.store.clone(),
    };
    let known = pipeline::credentials(&head, &q).is_some_and(|c| match c {
        pipeline::Credentials::Token(t) => l.token(t).is_some(),
        pipeline::Credentials::Password { user, password } => match l.v1_user(&user, &password) {
            Some(found) => found.is_some(),
            None => l.token(&password).is_some(),
        },
    });
    if !known {
        return reject(Rejection::unauthorized());
    }
    let mut res = reject(Rejection::method_not_allowed("POST"));
    res.headers_mut()
        .insert("Allow", axum::http::HeaderValue::from_static("POST"));
    res
}
