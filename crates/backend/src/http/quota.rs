//! `GET /api/v2/quota`: the write quotas' usage (spec Part D.2) — each org's bytes in its
//! current window and each bucket's series — for the orgs the token administers.

use super::*;
use linegate_core::quota::{self as q, WINDOW_SECS};
use std::collections::HashMap;

pub(super) async fn usage(State(app): State<Arc<App>>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    let token = match authorize(&app, &parts).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    if !token.all_access {
        return reject(Rejection::forbidden_read());
    }
    let sees = move |org: u64| token.org_id.is_none_or(|o| o == org);
    let now_ms = app.quota_now_ms();
    let bucket_orgs: HashMap<u64, (u64, String)> = {
        let reg = app.store.registry();
        reg.buckets
            .values()
            .map(|b| (b.id, (b.org_id, b.name.clone())))
            .collect()
    };
    let dir = app.store.dir.clone();
    let counts = tokio::task::spawn_blocking(move || {
        let conn = store::open_read(&dir).map_err(|e| e.to_string())?;
        store::quota::series_counts(&conn).map_err(|e| e.to_string())
    })
    .await;
    let counts = match counts {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => return reject(Rejection::write_failed(e.as_bytes())),
        Err(_) => return reject(Rejection::internal()),
    };
    let tenants: Vec<serde_json::Value> = (app.store.usages.all().into_iter())
        .filter(|(org, _)| sees(*org))
        .map(|(org, u)| {
            serde_json::json!({
                "org": q::org_tenant(org),
                "window_start": u.window,
                "bytes": u.current(now_ms),
            })
        })
        .collect();
    let buckets: Vec<serde_json::Value> = counts
        .into_iter()
        .filter_map(|(id, n)| {
            let (org, name) = bucket_orgs.get(&id)?;
            sees(*org).then(|| {
                serde_json::json!({
                    "org": q::org_tenant(*org),
                    "bucket": q::org_tenant(id),
                    "name": name,
                    "series": n,
                })
            })
        })
        .collect();
    let g = &app.guards;
    json_response(
        200,
        &serde_json::json!({
            "window_secs": WINDOW_SECS,
            "window_start": q::window_start(now_ms),
            "quota_write_bytes": g.quota_write_bytes,
            "quota_series": g.quota_series,
            "tenants": tenants,
            "buckets": buckets,
            "throttled": app.metrics.quota_rate_429.load(Ordering::Relaxed),
            "series_refused": app.metrics.quota_series_429.load(Ordering::Relaxed),
        }),
    )
}
