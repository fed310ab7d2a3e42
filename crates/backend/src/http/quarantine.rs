//! The quarantine's admin endpoint (spec Part D.1.5): `GET /api/v2/quarantine` lists the
//! rejected lines of partial writes as JSON (`format=lp`: the lines alone, as line protocol,
//! to be fixed and sent again); `DELETE` drops them. `bucket` (with `org`/`orgID`) narrows to
//! one bucket. Auth as the dead letters: a token sees the lines of the buckets it may read.

use super::*;

/// The buckets whose lines the request may see, or its error answer.
async fn scope(app: &App, parts: &Parts) -> Result<store::BucketSet, Response> {
    let token = authorize(app, parts).await?;
    let q = Query::parse(parts.uri.query().unwrap_or("").as_bytes());
    let one = if q.get_or_empty("bucket").is_empty() {
        None
    } else {
        Some(find_org_bucket(app, &q)?)
    };
    let set: store::BucketSet = match one {
        Some(b) if token.can_read(&b) => Some([b.id].into()),
        Some(_) => return Err(reject(Rejection::forbidden_read())),
        None if token.all_access && token.org_id.is_none() => None,
        None => {
            let reg = app.store.registry();
            Some(
                reg.buckets
                    .values()
                    .filter(|b| token.can_read(b))
                    .map(|b| b.id)
                    .collect(),
            )
        }
    };
    if set.as_ref().is_some_and(|s| s.is_empty()) {
        return Err(reject(Rejection::forbidden_read()));
    }
    Ok(set)
}

pub(super) async fn list(State(app): State<Arc<App>>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    let set = match scope(&app, &parts).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let q = Query::parse(parts.uri.query().unwrap_or("").as_bytes());
    let lp = q.get("format") == Some(b"lp".as_slice());
    let dir = app.store.dir.clone();
    let res = tokio::task::spawn_blocking(move || {
        let conn = store::open_read(&dir).map_err(|e| e.to_string())?;
        if lp {
            let mut out = Vec::new();
            store::quarantine_lp(&conn, &set, &mut out)?;
            Ok(Body::from(out))
        } else {
            // The list is for people and tools: bounded; the LP download has every line.
            let list = store::quarantine_list(&conn, &set, 10_000)?;
            serde_json::to_vec(&serde_json::json!({ "rejected": list }))
                .map(Body::from)
                .map_err(|e| e.to_string())
        }
    })
    .await;
    app.metrics.request("quarantine", 200);
    match res {
        Ok(Ok(body)) => {
            let content_type = if lp {
                answers::TEXT_TYPE
            } else {
                answers::JSON_TYPE
            };
            served_stream(Answer::ok(content_type, Vec::new()), body)
        }
        Ok(Err(e)) => error(500, "internal error", e.as_bytes()),
        Err(e) => error(500, "internal error", e.to_string().as_bytes()),
    }
}

pub(super) async fn drop(State(app): State<Arc<App>>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    let set = match scope(&app, &parts).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let dropped = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let n = dropped.clone();
    let res = app
        .store
        .exec(move |tx| {
            n.store(store::quarantine_drop(tx, &set)?, Ordering::SeqCst);
            Ok(())
        })
        .await;
    match res {
        Ok(()) => json_response(
            200,
            &serde_json::json!({ "dropped": dropped.load(Ordering::SeqCst) }),
        ),
        Err(e) => error(500, "internal error", e.as_bytes()),
    }
}
