//! The bucket and org APIs.

use super::*;

pub(super) fn bucket_json(b: &Bucket, reg: &Registry) -> serde_json::Value {
    let rules = if b.retention_secs > 0 {
        serde_json::json!([{"type": "expire", "everySeconds": b.retention_secs, "shardGroupDurationSeconds": b.rules().shard_duration() / 1_000_000_000}])
    } else {
        serde_json::json!([])
    };
    serde_json::json!({
        "id": format!("{:016x}", b.id),
        "orgID": format!("{:016x}", b.org_id),
        "org": reg.orgs.get(&b.org_id).map(|o| o.name.clone()),
        "type": "user",
        "name": b.name,
        "retentionRules": rules,
        "links": {"self": format!("/api/v2/buckets/{:016x}", b.id), "write": format!("/api/v2/write?orgID={:016x}&bucket={:016x}", b.org_id, b.id)},
    })
}

pub(super) async fn list_buckets(State(app): State<Arc<App>>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    let token = match authorize(&app, &parts).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let q = Query::parse(parts.uri.query().unwrap_or("").as_bytes());
    let reg = app.store.registry();
    let org_filter: Option<u64> = if let Some(id) = q.get("orgID").filter(|v| !v.is_empty()) {
        match pipeline::parse_id(id) {
            Ok(id) => Some(id),
            Err(m) => return reject(Rejection::invalid_id(m)),
        }
    } else if let Some(name) = q.get("org").filter(|v| !v.is_empty()) {
        match reg.org_by_name(name) {
            Some(o) => Some(o.id),
            None => return reject(Rejection::org_name_not_found(name)),
        }
    } else {
        None
    };
    let name = q.get("name");
    let mut list: Vec<&Bucket> = reg
        .buckets
        .values()
        .filter(|b| org_filter.is_none_or(|o| o == b.org_id))
        .filter(|b| name.is_none_or(|n| n == b.name.as_bytes()))
        .filter(|b| token.sees(b))
        .collect();
    list.sort_by(|a, b| (&a.name, a.id).cmp(&(&b.name, b.id)));
    let buckets: Vec<_> = list.iter().map(|b| bucket_json(b, &reg)).collect();
    app.metrics.request("buckets", 200);
    json_response(
        200,
        &serde_json::json!({"links": {"self": "/api/v2/buckets"}, "buckets": buckets}),
    )
}

pub(super) async fn list_orgs(State(app): State<Arc<App>>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    let token = match authorize(&app, &parts).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let reg = app.store.registry();
    let mut orgs: Vec<&Org> = reg
        .orgs
        .values()
        .filter(|o| token.can_admin(o.id))
        .collect();
    orgs.sort_by(|a, b| a.name.cmp(&b.name));
    let list: Vec<_> = orgs
        .iter()
        .map(|o| serde_json::json!({"id": format!("{:016x}", o.id), "name": o.name}))
        .collect();
    json_response(200, &serde_json::json!({"orgs": list}))
}

#[derive(serde::Deserialize)]
pub(super) struct RetentionRule {
    #[serde(rename = "everySeconds", default)]
    every_seconds: i64,
}

#[derive(serde::Deserialize)]
pub(super) struct NewBucket {
    #[serde(rename = "orgID")]
    org_id: Option<String>,
    org: Option<String>,
    name: Option<String>,
    #[serde(rename = "retentionRules", default)]
    retention_rules: Vec<RetentionRule>,
}

pub(super) async fn create_bucket(State(app): State<Arc<App>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let token = match authorize(&app, &parts).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let nb: NewBucket = match json_body(&app, body).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(name) = nb.name.filter(|n| !n.is_empty()) else {
        return error(400, "invalid", b"bucket name is required");
    };
    if name.starts_with('_') {
        return error(
            400,
            "invalid",
            format!("bucket name {name} is invalid. Buckets may not start with underscore")
                .as_bytes(),
        );
    }
    let retention = nb.retention_rules.first().map_or(0, |r| r.every_seconds);
    if retention < 0 || (retention > 0 && retention < 3600) {
        return error(
            400,
            "unprocessable entity",
            b"expiration seconds must be greater than or equal to one hour",
        );
    }
    let org = {
        let reg = app.store.registry();
        let org = match (&nb.org_id, &nb.org) {
            (Some(id), _) => match pipeline::parse_id(id.as_bytes()) {
                Ok(id) => reg.orgs.get(&id).cloned(),
                Err(m) => return reject(Rejection::invalid_id(m)),
            },
            (None, Some(n)) => reg.org_by_name(n.as_bytes()).cloned(),
            (None, None) => return error(400, "invalid", b"orgID is required"),
        };
        let Some(org) = org else {
            return reject(Rejection::org_id_not_found());
        };
        if !token.can_admin(org.id) {
            return error(
                403,
                "forbidden",
                format!("write:orgs/{:016x}/buckets is unauthorized", org.id).as_bytes(),
            );
        }
        if reg.bucket_by_name(org.id, name.as_bytes()).is_some() {
            return error(
                422,
                "conflict",
                format!("bucket with name {name} already exists").as_bytes(),
            );
        }
        org
    };
    let b = Bucket {
        id: store::new_id(),
        org_id: org.id,
        name,
        retention_secs: retention,
    };
    let b2 = b.clone();
    if let Err(e) = app
        .store
        .exec(move |tx| store::insert_bucket(tx, &b2))
        .await
    {
        return error(422, "conflict", e.as_bytes());
    }
    if let Err(e) = app.store.reload_registry() {
        return error(500, "internal error", e.as_bytes());
    }
    app.metrics.request("buckets", 201);
    let reg = app.store.registry();
    json_response(201, &bucket_json(&b, &reg))
}
