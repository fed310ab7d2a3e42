//! `/write`'s other methods: InfluxDB judges the credentials first (spec Part C step 1),
//! then answers 405. The write itself goes through the same door as `/api/v2/write`
//! (`write.rs`); v1 authorizations and DBRP mappings are kept by `crate::store::v1`.

use super::*;

/// Any other method on `/write`: the credentials are judged first (step 1), then 405.
pub async fn method_not_allowed(State(app): State<Arc<App>>, req: Request) -> Response {
    let head = Head {
        endpoint: Endpoint::V1,
        query: req.uri().query().unwrap_or("").as_bytes(),
        authorization: first_value(req.headers(), "authorization"),
        content_encoding: None,
    };
    let q = linegate_core::Query::parse(head.query);
    let mut l = match password_first(&app, req.extensions(), req.headers(), &head).await {
        Ok(l) => l,
        Err(busy) => return busy,
    };
    let known = pipeline::credentials(&head, &q)
        .is_some_and(|c| pipeline::authenticate(&mut l, &c).is_some());
    if !known {
        throttle(&app, req.extensions(), req.headers()).await;
        return reject(Rejection::unauthorized());
    }
    reject(Rejection::method_not_allowed("POST"))
}
