//! linegate's export (streamed) and dead-letter endpoints, and their time bounds.

use super::*;

/// A time bound: integer nanoseconds or RFC 3339 (`2024-01-01T00:00:00Z`), read by core.
pub use linegate_core::time::parse_time_param as parse_time;

pub(super) async fn export(State(app): State<Arc<App>>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    let token = match authorize(&app, &parts).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let q = Query::parse(parts.uri.query().unwrap_or("").as_bytes());
    if q.get_or_empty("bucket").is_empty() {
        return reject(Rejection::bucket_not_found());
    }
    let bucket = match find_org_bucket(&app, &q) {
        Ok(b) => b,
        Err(r) => return r,
    };
    // Reading needs a read permission (or all access): a write-only token cannot read
    // back what others wrote.
    if !token.can_read(&bucket) {
        return reject(Rejection::forbidden_read());
    }
    let time = |k: &str| -> Result<Option<i64>, Response> {
        match q.get(k).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => std::str::from_utf8(v)
                .ok()
                .and_then(parse_time)
                .map(Some)
                .ok_or_else(|| invalid(format!("invalid {k}").as_bytes())),
        }
    };
    let filter = ExportFilter {
        start: match time("start") {
            Ok(t) => t,
            Err(r) => return r,
        },
        stop: match time("stop") {
            Ok(t) => t,
            Err(r) => return r,
        },
        measurement: q.get("measurement").map(<[u8]>::to_vec),
        raw: q.get("raw").is_some_and(|v| v == b"true" || v == b"1"),
    };
    // The answer streams: the export writes pieces into a short queue that the response
    // body drains, so memory stays a few pieces whatever the bucket holds. Errors before
    // the first piece still get their 500; later ones cut the stream short.
    let dir = app.store.dir.clone();
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, String>>(4);
    let (first_tx, first_rx) = oneshot::channel::<Result<(), String>>();
    let stall = app.guards.body_idle_timeout;
    let sink = store::ChunkSink::new(tx, first_tx, stall, tokio::runtime::Handle::current());
    let done = sink.done.clone();
    tokio::task::spawn_blocking(move || {
        let mut sink = sink;
        let res = store::open_read(&dir)
            .map_err(|e| e.to_string())
            .and_then(|conn| store::export(&conn, bucket.id, &filter, &mut sink));
        match res {
            Ok(_) => sink.finish(),
            Err(e) => sink.fail(e),
        }
    });
    match first_rx.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return error(500, "internal error", e.as_bytes()),
        Err(_) => return error(500, "internal error", b"the export stopped"),
    }
    app.metrics.request("export", 200);
    let stream = ChannelBody { rx, done };
    served_stream(
        Answer::ok(answers::TEXT_TYPE, Vec::new()),
        Body::new(stream),
    )
}

/// A response body fed by a channel of pieces.
pub(super) struct ChannelBody {
    rx: tokio::sync::mpsc::Receiver<Result<Bytes, String>>,
    done: Arc<std::sync::atomic::AtomicBool>,
}

impl http_body::Body for ChannelBody {
    type Data = Bytes;
    type Error = std::io::Error;
    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        let done = self.done.load(Ordering::SeqCst);
        self.rx.poll_recv(cx).map(|m| match m {
            Some(r) => Some(r.map(http_body::Frame::data).map_err(std::io::Error::other)),
            // The queue closed: the end, if the export said so; else it was cut short.
            None if done || self.done.load(Ordering::SeqCst) => None,
            None => Some(Err(std::io::Error::other("the export was cut short"))),
        })
    }
}

pub(super) async fn dead_letters(State(app): State<Arc<App>>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    let token = match authorize(&app, &parts).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    // Dead letters hold points: a token sees those of the buckets it may read.
    let readable: Option<std::collections::HashSet<u64>> =
        if token.all_access && token.org_id.is_none() {
            None
        } else {
            let reg = app.store.registry();
            Some(
                reg.buckets
                    .values()
                    .filter(|b| token.can_read(b))
                    .map(|b| b.id)
                    .collect(),
            )
        };
    if readable.as_ref().is_some_and(|r| r.is_empty()) {
        return reject(Rejection::forbidden_read());
    }
    let dir = app.store.dir.clone();
    let res = tokio::task::spawn_blocking(move || {
        let conn = store::open_read(&dir).map_err(|e| e.to_string())?;
        store::dead_letters(&conn)
    })
    .await;
    match res {
        Ok(Ok(mut list)) => {
            if let Some(r) = &readable {
                list.retain(|d| {
                    u64::from_str_radix(&d.bucket_id, 16).is_ok_and(|id| r.contains(&id))
                });
            }
            json_response(200, &serde_json::json!({"deadLetters": list}))
        }
        Ok(Err(e)) => error(500, "internal error", e.as_bytes()),
        Err(e) => error(500, "internal error", e.to_string().as_bytes()),
    }
}
